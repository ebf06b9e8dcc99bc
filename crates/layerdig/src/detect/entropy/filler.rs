//! Fillers: what stands in a credential position when no secret does, in two kinds.
//!
//! - A **placeholder** is what a person writes where the secret goes: `changeme`, `password`,
//!   `secret`, `xxxx…`, `<your-api-key>`, `a1b2c3d4…`, `your_token`, the key's own name. It is
//!   reported as weak evidence (low confidence, disposition `documented_example`): never
//!   actionable by default, but a default left in place is still a credential someone can guess.
//! - A value that **holds no secret** is dropped: a variable, command or template reference
//!   (`$VAR`, `${VAR}`, `$(cmd)`, `%VAR%`, `<%= … %>`, `{{ … }}`, `#{…}`, `@VAR@`), a word for no
//!   value (`null`, `none`, `true`, `undefined`), a masked value (`****`, `[REDACTED]`), a file
//!   path, a dotted name that mentions a secret (`process.env.DB_PASSWORD`), or one repeated
//!   unit or a run (`aaaaaaaa`, `abcabc`, `12345678`, `abcdefgh`).

use super::{is_word, is_wordy};
use crate::detect::validate::find;

/// What a filler value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filler {
    /// Written in place of a secret: reported as weak evidence.
    Placeholder,
    /// Holds no secret at all: dropped.
    NoSecret,
}

/// Markers of variable, command and template references anywhere in a value.
const REFERENCE_MARKERS: &[&str] = &["${", "$(", "{{", "}}", "{%", "<%", "#{", "%s", "%d", "%("];

/// Values that are exactly one of these (case-insensitive) say there is no value.
const NO_VALUE_WORDS: &[&str] = &[
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "empty",
    "unset",
    "notset",
    "not_set",
    "n/a",
    "hidden",
    "masked",
    "redacted",
];

/// Values that contain one of these (case-insensitive) are masked: the secret was taken out.
const MASK_PARTS: &[&str] = &["****", "....", "redacted", "<hidden>", "<masked>"];

/// Values that are exactly one of these (case-insensitive) are placeholders.
const PLACEHOLDER_WORDS: &[&str] = &[
    "test",
    "testing",
    "password",
    "passwd",
    "pass",
    "secret",
    "string",
    "default",
    "value",
    "todo",
    "tbd",
    "fixme",
    "token",
    "placeholder",
    "example",
    "sample",
    "dummy",
    "changeme",
    "change_me",
];

/// Values that contain one of these (case-insensitive) are placeholders.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "sample",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "xxxx",
    "fake",
    "notreal",
    "not_real",
    "not-a-real",
    "replace",
    "insert",
    "qwerty",
    "password",
    "passwd",
    "secret_here",
    "here>",
];

/// Whether `value`, assigned to `key`, is a filler, and which kind (see the module docs).
pub(crate) fn filler(value: &[u8], key: &[u8]) -> Option<Filler> {
    let lower = value.to_ascii_lowercase();
    let contains = |needle: &str| find(&lower, needle.as_bytes()).is_some();
    if is_reference(value) || REFERENCE_MARKERS.iter().any(|m| contains(m)) {
        return Some(Filler::NoSecret);
    }
    if NO_VALUE_WORDS.iter().any(|w| lower == w.as_bytes()) || MASK_PARTS.iter().any(|p| contains(p)) {
        return Some(Filler::NoSecret);
    }
    if is_path(value, &lower) || is_elided(value) || is_format_template(value) {
        return Some(Filler::NoSecret);
    }
    let wrapped = |open: u8, close: u8| value.len() >= 2 && value[0] == open && value[value.len() - 1] == close;
    if wrapped(b'<', b'>')
        || PLACEHOLDER_WORDS.iter().any(|w| lower == w.as_bytes())
        || PLACEHOLDER_PARTS.iter().any(|p| contains(p))
        || lower.starts_with(b"your")
        || lower.starts_with(b"my_")
        || lower.starts_with(b"my-")
        || is_interleaved_run(&lower)
        || is_own_key(value, key)
    {
        // A dotted name that mentions a secret (`process.env.DB_PASSWORD`,
        // `settings.SECRET_KEY`) is where the value is read from.
        let dotted = value.contains(&b'.') && is_wordy(value);
        return Some(if dotted { Filler::NoSecret } else { Filler::Placeholder });
    }
    if is_repetition(value) || is_sequence(value) {
        return Some(Filler::NoSecret);
    }
    None
}

/// `$VAR`, `$dir/private/key.pem`, `$insta::secret`, `pre-$HOME`, `anonymous:$FROM_EMAIL`
/// (but not a crypt hash like `$2b$…`); `%VAR%`, `@VAR@`, `{VAR}`, `[VAR]`: a reference in the
/// syntax of shells, Windows, autoconf, or a template.
fn is_reference(value: &[u8]) -> bool {
    if let [b'$', first, ..] = value
        && (first.is_ascii_alphabetic() || matches!(first, b'_' | b'{' | b'('))
    {
        return true;
    }
    // Interpolation inside the value: a `$` and then at least three upper-case letters or `_`.
    if value.windows(4).any(|w| w[0] == b'$' && w[1..].iter().all(|b| b.is_ascii_uppercase() || *b == b'_')) {
        return true;
    }
    let wrapped = |open: u8, close: u8| value.len() >= 2 && value[0] == open && value[value.len() - 1] == close;
    wrapped(b'%', b'%') || wrapped(b'@', b'@') || wrapped(b'{', b'}') || wrapped(b'[', b']')
}

/// Cut short for the reader, `eyJ2IjoiMSIs...`, `...x7Qa`: documentation shows the start or the
/// end of a value; the secret is not there.
fn is_elided(value: &[u8]) -> bool {
    value.starts_with(b"...") || value.ends_with(b"...")
}

/// A format string, `{}:{}`, `Bearer {token}`, `{0}-{1}`, `{name!r}`: a field in braces that
/// holds a name, an index or nothing. (`%s` and `%(name)s` are [`REFERENCE_MARKERS`].)
fn is_format_template(value: &[u8]) -> bool {
    value.iter().enumerate().any(|(i, &b)| {
        b == b'{'
            && value[i + 1..].iter().position(|&c| c == b'}').is_some_and(|len| {
                let field = &value[i + 1..i + 1 + len];
                let name = field.split(|&c| matches!(c, b'!' | b':')).next().unwrap_or(field);
                field.len() <= 32 && name.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
            })
    })
}

/// File paths: `/run/secrets/db`, `./key`, `../key`, `~/.token`, `file:///etc/key`,
/// `C:\secrets`.
fn is_path(value: &[u8], lower: &[u8]) -> bool {
    is_absolute_path(value)
        || value.starts_with(b"./")
        || value.starts_with(b"../")
        || value.starts_with(b"~/")
        || lower.starts_with(b"file:")
        || (value.len() > 2 && value[0].is_ascii_alphabetic() && value[1] == b':' && matches!(value[2], b'\\' | b'/'))
}

/// `/run/secrets/db`, `/etc/ssl/private/key.pem`: starts with `/`, no base64-only characters,
/// and at least half of its parts (extensions aside) are words. A base64 secret can start with
/// `/` too (one in 64 does), but its parts are not words.
fn is_absolute_path(value: &[u8]) -> bool {
    if value.first() != Some(&b'/') || value.iter().any(|b| matches!(b, b'+' | b'=')) {
        return false;
    }
    let parts: Vec<&[u8]> = value.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let words = parts
        .iter()
        .filter(|p| {
            let stem = p.split(|&b| b == b'.').find(|s| !s.is_empty()).unwrap_or(p);
            stem.split(|&b| b == b'-' || b == b'_').all(|w| w.is_empty() || (is_word(w) && w.len() >= 2))
        })
        .count();
    !parts.is_empty() && words * 2 >= parts.len()
}

/// The key's own name as its value (`password: PASSWORD`, `DB_PASSWORD=db_password`).
fn is_own_key(value: &[u8], key: &[u8]) -> bool {
    let squash =
        |s: &[u8]| -> Vec<u8> { s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect() };
    let v = squash(value);
    !v.is_empty() && v == squash(key)
}

/// The value is one unit repeated (`aaaaaaaa`, `abcabcabc`, `deadbeefdeadbeef`) or uses at most
/// two distinct characters.
pub(crate) fn is_repetition(value: &[u8]) -> bool {
    let mut distinct = [false; 256];
    let mut count = 0;
    for &b in value {
        if !distinct[b as usize] {
            distinct[b as usize] = true;
            count += 1;
        }
    }
    if count <= 2 {
        return true;
    }
    let n = value.len();
    (1..=n / 2).any(|unit| n % unit == 0 && value.chunks(unit).all(|c| c == &value[..unit]))
}

/// At least 80 % of neighbouring characters step by +1 (or all by -1): `123456`, `abcdef`,
/// `1234567890`, `987654321`.
pub(crate) fn is_sequence(value: &[u8]) -> bool {
    if value.len() < 2 {
        return false;
    }
    let steps = value.len() - 1;
    let up = value.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
    let down = value.windows(2).filter(|w| w[0] == w[1].wrapping_add(1)).count();
    up * 5 >= steps * 4 || down * 5 >= steps * 4
}

/// Two runs woven together, the made-up value of documentation: `a1b2c3d4e5f6`, `1a2b3c4d`,
/// `1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d` (at least six characters once `-` and `_` are taken
/// out; every other character steps by one, in both halves, a run starting over at its
/// beginning: `9` to `0`, or any letter back to `a`).
fn is_interleaved_run(lower: &[u8]) -> bool {
    let chars: Vec<u8> = lower.iter().copied().filter(|b| !matches!(b, b'-' | b'_')).collect();
    if chars.len() < 6 {
        return false;
    }
    let step =
        |a: u8, b: u8| b == a.wrapping_add(1) || (a == b'9' && b == b'0') || (a.is_ascii_lowercase() && b == b'a');
    let steps = |start: usize| {
        let half: Vec<u8> = chars.iter().skip(start).step_by(2).copied().collect();
        half.windows(2).all(|w| step(w[0], w[1]))
    };
    let kinds_differ = chars[0].is_ascii_digit() != chars[1].is_ascii_digit();
    kinds_differ && steps(0) && steps(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filler_form() {
        use Filler::*;
        let cases: &[(&str, Filler)] = &[
            // References: no secret here.
            ("${DB_PASSWORD}", NoSecret),
            ("prefix-${VAR}-x", NoSecret),
            ("$DB_PASSWORD", NoSecret),
            ("$(cat /run/secrets/db)", NoSecret),
            ("{{ .Values.password }}", NoSecret),
            ("{{password}}", NoSecret),
            ("<%= ENV['DB_PASSWORD'] %>", NoSecret),
            ("#{db_password}", NoSecret),
            ("%s", NoSecret),
            ("%(password)s", NoSecret),
            ("%DB_PASSWORD%", NoSecret),
            ("@DB_PASSWORD@", NoSecret),
            ("anonymous:$FROM_EMAIL", NoSecret),
            // Words for no value, and masks.
            ("null", NoSecret),
            ("None", NoSecret),
            ("nil", NoSecret),
            ("true", NoSecret),
            ("false", NoSecret),
            ("undefined", NoSecret),
            ("redacted", NoSecret),
            ("[REDACTED]", NoSecret),
            ("************", NoSecret),
            // Paths.
            ("/run/secrets/x", NoSecret),
            ("./secrets/key", NoSecret),
            ("~/.token", NoSecret),
            ("C:\\secrets\\key", NoSecret),
            ("file:///etc/key", NoSecret),
            ("process.env.DB_PASSWORD", NoSecret),
            ("settings.DB_PASSWORD", NoSecret),
            // Repetitions and runs.
            ("aaaaaaaa", NoSecret),
            ("abababab", NoSecret),
            ("123456", NoSecret),
            ("12345678", NoSecret),
            ("1234567890", NoSecret),
            ("abcdef", NoSecret),
            ("abcdefgh", NoSecret),
            ("987654321", NoSecret),
            // Placeholders: weak evidence.
            ("<your-api-key>", Placeholder),
            ("<token>", Placeholder),
            ("changeme", Placeholder),
            ("CHANGEME", Placeholder),
            ("change_me", Placeholder),
            ("xxxxxxxxxxxx", Placeholder),
            ("XXXX-XXXX-XXXX", Placeholder),
            ("example", Placeholder),
            ("my-example-key", Placeholder),
            ("sample_token", Placeholder),
            ("dummy", Placeholder),
            ("dummy-secret-123", Placeholder),
            ("test", Placeholder),
            ("password", Placeholder),
            ("secret", Placeholder),
            ("placeholder", Placeholder),
            ("your_api_key", Placeholder),
            ("YourSecretHere", Placeholder),
            ("Sup3rPassword!", Placeholder),
            ("a1b2c3d4e5f6", Placeholder),
            ("1a2b3c4d5e6f", Placeholder),
            ("a1b2c3", Placeholder),
            ("1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", Placeholder), // woven runs that start over
            ("a1b2-c3d4-e5f6", Placeholder),
            // Elided values and format strings hold no secret.
            ("eyJ2IjoiMSIsInMiOjEsImMiOi...", NoSecret),
            ("...Q2vL7pA1", NoSecret),
            ("Bearer {token}", NoSecret),
            ("{}:{}@{}", NoSecret),
            ("{0}-{1}", NoSecret),
            ("{user!r}:{secret}", NoSecret),
        ];
        for (value, kind) in cases {
            assert_eq!(filler(value.as_bytes(), b"db_password"), Some(*kind), "{value}");
        }
        assert_eq!(filler(b"DB-Password", b"DB_PASSWORD"), Some(Placeholder), "the key's own name");
        for real in [
            "h3C6NsOAdgfDSSotrA",
            "l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm",
            "Tr0ub4dor&3",
            "$2b$10$abcdefghij",
            "a1b2x9",
            "Xk9mQ2vL7pA1",
            "h]6EszR}vJ*m{x",
            "Q2vL7...pA1",
            "1a2b3c4d-9e8f",
        ] {
            assert_eq!(filler(real.as_bytes(), b"db_password"), None, "{real} is not a filler");
        }
    }
}
