//! Redaction: the one place that decides how a secret is shown when it is not to be shown — its
//! first four characters and its length — in findings, in free text that may quote it (build
//! instructions, parser messages) and in `Debug` output.

use std::fmt;

/// The redacted form of a secret: its first four characters and its length, e.g.
/// `AKIA… (20 chars)`. Secrets of eight characters or fewer show no characters at all.
pub fn redact(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let chars = text.chars().count();
    if chars <= 8 {
        return format!("… ({chars} chars)");
    }
    let head: String = text.chars().take(4).map(|c| if c.is_control() { '?' } else { c }).collect();
    format!("{head}… ({chars} chars)")
}

/// A string that `Debug` shows in its redacted form ([`redact`]): for fields of types that hold
/// image content (config values, build instructions), so that a `{:?}` in a log line or a panic
/// message cannot print a secret.
pub(crate) struct Redacted<'a>(pub(crate) &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact(self.0.as_bytes()), f)
    }
}

/// `text` with every double-quoted part replaced by its redacted form: for messages of parsers
/// that quote the offending value (`invalid type: string "AKIA…", expected a sequence`), when the
/// value comes from an image and may be a secret.
pub(crate) fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let inner = &rest[open + 1..];
        // The closing quote is the first one not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let quoted = &inner[..end.unwrap_or(inner.len())];
        out.push_str(&redact(quoted.as_bytes()));
        match end {
            Some(i) => {
                out.push('"');
                rest = &inner[i + 1..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Replaces known secrets inside free text (such as `created_by`) with their redacted form.
pub(crate) struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub(crate) fn new(mut secrets: Vec<Vec<u8>>) -> Redactor {
        secrets.sort();
        secrets.dedup();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let secrets = secrets
            .into_iter()
            .filter(|s| s.len() >= 4)
            .map(|s| (String::from_utf8_lossy(&s).into_owned(), format!("[REDACTED {}]", redact(&s))))
            .collect();
        Redactor { secrets }
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (secret, replacement) in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), replacement);
            }
        }
        out
    }
}
