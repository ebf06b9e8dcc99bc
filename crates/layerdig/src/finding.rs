//! Findings: what was found, how sure we are, and every place it was found.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a leaked secret of this kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational or weak credentials.
    Low,
    /// Credentials with a narrow blast radius.
    Medium,
    /// Credentials that grant real access.
    High,
    /// Credentials that grant broad access (cloud root keys, private keys, payment keys).
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

    /// The lowercase name used in rule files, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?} (expected critical, high, medium or low)")),
        }
    }
}

/// How sure the detector is that a match is a real secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A weak signal: a generic pattern, or a format check that failed.
    Low,
    /// A provider-specific pattern with no offline check available.
    Medium,
    /// A provider-specific pattern whose offline format check (checksum, structure) passed.
    High,
}

impl Confidence {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// The fingerprint of a secret found by a rule: SHA-256 over the rule id, a NUL byte and the
/// secret, as lowercase hex. The same secret found by the same rule anywhere has the same
/// fingerprint, so baselines and allow lists survive rebuilds.
pub fn fingerprint(rule_id: &str, secret: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(secret);
    hex(&hasher.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Whether a finding is something a person must act on, or known noise kept for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A real-looking secret in a real place: rotate it.
    Actionable,
    /// Found under a test, fixture, example or documentation path, or in a library's self-test.
    TestFixture,
    /// A value the provider publishes in its own documentation (e.g. `AKIAIOSFODNN7EXAMPLE`).
    DocumentedExample,
}

impl Disposition {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Actionable => "actionable",
            Disposition::TestFixture => "test_fixture",
            Disposition::DocumentedExample => "documented_example",
        }
    }
}

/// Where a location's secret was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A file in a layer.
    File,
    /// The image configuration (`Env`, `Labels`, `Cmd`, `Entrypoint`).
    Config,
    /// A build history entry's `created_by`.
    History,
}

impl Source {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Config => "config",
            Source::History => "history",
        }
    }
}

/// A half-open byte range `[start, end)` within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// One place a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The image path as given.
    pub image: String,
    /// The platform of the image, for multi-platform inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// File, config or history.
    pub source: Source,
    /// The config field (`Env[2]`, `Labels.x`, `history[9].created_by`) for config and history.
    #[serde(default)]
    pub config_key: Option<String>,
    /// The layer, base 0 (files, and history entries that made a layer).
    #[serde(default)]
    pub layer_index: Option<usize>,
    /// The layer's digest.
    #[serde(default)]
    pub layer_digest: Option<String>,
    /// The instruction that made the layer (secrets in it redacted).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Path inside the layer, no leading slash.
    #[serde(default)]
    pub path: Option<String>,
    /// 1-based line.
    #[serde(default)]
    pub line: Option<u64>,
    /// 1-based column, in bytes.
    #[serde(default)]
    pub column: Option<u64>,
    /// Byte span of the secret within the file or config string.
    #[serde(default)]
    pub span: Option<Span>,
    /// Present, deleted or overwritten (files only).
    #[serde(default)]
    pub status: Option<crate::resolve::Status>,
    /// The layer that deleted or overwrote the file.
    #[serde(default)]
    pub removed_in_layer: Option<usize>,
    /// How it was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<crate::resolve::RemovedBy>,
    /// Whether this place needs action.
    pub disposition: Disposition,
}

/// A secret and every place it was found. The same secret found by the same rule in many places
/// is one finding.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// How bad a leak of this kind is.
    pub severity: Severity,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// Which detector found it.
    pub detector: crate::detect::MatchKind,
    /// SHA-256 over rule id and secret, hex; stable across images and rebuilds.
    pub fingerprint: String,
    /// The secret's redacted form.
    pub redacted: String,
    /// The secret itself, only when the scan was asked to show secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A remark from validation, e.g. that a private key is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every place it was found.
    pub locations: Vec<Location>,
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("rule_id", &self.rule_id)
            .field("severity", &self.severity)
            .field("confidence", &self.confidence)
            .field("redacted", &self.redacted)
            .field("fingerprint", &self.fingerprint)
            .field("locations", &self.locations)
            .finish_non_exhaustive()
    }
}

impl Finding {
    /// The most favourable status among its file locations: present beats overwritten beats
    /// deleted; `None` when it was found only in the config.
    pub fn best_status(&self) -> Option<crate::resolve::Status> {
        use crate::resolve::Status;
        let rank = |s: Status| match s {
            Status::Present => 0,
            Status::Overwritten => 1,
            Status::Deleted => 2,
        };
        self.locations.iter().filter_map(|l| l.status).min_by_key(|&s| rank(s))
    }

    /// The order reports list findings in: most severe first, then by rule id, then by
    /// fingerprint (so output is stable from run to run).
    pub fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    }

    /// Whether any location needs action.
    pub fn is_actionable(&self) -> bool {
        self.locations.iter().any(|l| l.disposition == Disposition::Actionable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB";

    fn finding(secret: Option<&str>) -> Finding {
        Finding {
            rule_id: "stripe.secret-key".into(),
            rule_name: "Stripe secret key".into(),
            severity: Severity::Critical,
            confidence: Confidence::High,
            detector: crate::detect::MatchKind::Rule,
            fingerprint: fingerprint("stripe.secret-key", SECRET.as_bytes()),
            redacted: redact(SECRET.as_bytes()),
            secret: secret.map(str::to_string),
            note: None,
            locations: vec![Location {
                image: "app.tar".into(),
                platform: None,
                source: Source::File,
                config_key: None,
                layer_index: Some(1),
                layer_digest: None,
                created_by: Some("/bin/sh -c #(nop) COPY file:abc in /app/.env".into()),
                path: Some("app/.env".into()),
                line: Some(1),
                column: Some(8),
                span: Some(Span { start: 7, end: 47 }),
                status: Some(crate::resolve::Status::Deleted),
                removed_in_layer: Some(2),
                removed_by: None,
                disposition: Disposition::Actionable,
            }],
        }
    }

    /// Issue 7: a `{:?}` of a finding (in a log line, a panic message, a test failure) shows the
    /// redacted form only, even when the scan was asked to keep the secret.
    #[test]
    fn debug_of_findings_and_reports_never_shows_the_secret() {
        let shown = finding(Some(SECRET));
        let report = crate::Report { findings: vec![shown.clone(), finding(None)], ..Default::default() };
        for text in [format!("{shown:?}"), format!("{shown:#?}"), format!("{report:?}"), format!("{report:#?}")] {
            assert!(!text.contains(SECRET) && !text.contains("beILuFYHgGOm"), "{text}");
            assert!(text.contains("sk_l… (40 chars)"), "{text}");
        }
        // The secret is still there for those who asked for it.
        assert_eq!(shown.secret.as_deref(), Some(SECRET));
    }

    #[test]
    fn redaction_shows_four_characters_and_the_length() {
        assert_eq!(redact(SECRET.as_bytes()), "sk_l… (40 chars)");
        assert_eq!(redact(b"hunter22"), "… (8 chars)");
        assert_eq!(redact(b"\x1b[31mabcdefgh"), "?[31… (13 chars)");
        assert_eq!(format!("{:?}", Redacted(SECRET)), "\"sk_l… (40 chars)\"");
    }

    #[test]
    fn quoted_parts_of_messages_are_redacted() {
        for (message, want) in [
            (
                format!("invalid type: string \"{SECRET}\", expected a sequence at line 1 column 60"),
                "invalid type: string \"sk_l… (40 chars)\", expected a sequence at line 1 column 60".to_string(),
            ),
            ("missing field `layers` at line 3 column 1".into(), "missing field `layers` at line 3 column 1".into()),
            (r#"a "q\"uote" and "b""#.into(), r#"a "… (7 chars)" and "… (1 chars)""#.into()),
            (format!("unterminated \"{SECRET}"), "unterminated \"sk_l… (40 chars)".into()),
            ("\"\"".into(), "\"… (0 chars)\"".into()),
        ] {
            assert_eq!(redact_quoted(&message), want, "{message}");
        }
    }
}
