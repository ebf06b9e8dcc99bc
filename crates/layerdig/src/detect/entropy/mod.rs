//! The generic detector: values assigned to secret-named keys, and passwords in URLs, judged by
//! their shape and Shannon entropy.
//!
//! The prefilter reports where a key word (`pass`, `token`, `secret`, …) or `://` occurs; from
//! each such spot [`parse_assignment`] reads the surrounding `key <sep> value` in any of the
//! common syntaxes (`.env`, `export K=V`, Dockerfile `ENV K=V` / `ENV K V`, ini / properties /
//! toml, YAML, JSON, XML attributes and elements, PHP `define('K', 'v')` and `'k' => 'v'`, CLI
//! flags `--password=v`), and [`parse_url_password`] reads `scheme://user:pass@host`.
//! [`judge`] then decides whether the value looks like a real secret.
//!
//! Where each part lives: `lexicon.rs` holds the key words and which key names mean a secret
//! ([`key_kind`]), `assignment.rs` the `key <sep> value` parser, `url.rs` the URL userinfo
//! parser, and this file the rule ids and the judging of values (character classes, entropy
//! thresholds, placeholders, structure).

mod assignment;
mod lexicon;
mod url;

use crate::finding::Confidence;

pub(crate) use assignment::parse_assignment;
pub(crate) use lexicon::{KEY_WORDS, KeyKind, key_kind};
pub(crate) use url::{URL_MARKER, parse_url_password};

/// Rule id of secret-named assignments.
pub(crate) const SECRET_ASSIGNMENT: &str = "generic.secret-assignment";
/// Rule id of passwords in URL userinfo.
pub(crate) const URL_PASSWORD: &str = "generic.url-password";

/// Longest value considered: secrets this long are PEM blocks and the like, which rules handle.
const MAX_VALUE: usize = 1024;
/// Shortest value ever reported: below 8 characters a value cannot carry enough entropy to be
/// told from a word.
const MIN_VALUE: usize = 8;

/// Shortest quoted value reported in source code. Code is full of short example credentials
/// (doctests, docstrings: `passwd='geheim$parole'` in Python's `urllib`), while the secrets
/// people hard-code (API keys, Django's `SECRET_KEY`) are long.
pub(crate) const CODE_MIN_VALUE: usize = 16;

/// The character class of a value, which decides its entropy threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CharClass {
    /// `0-9a-fA-F` only.
    Hex,
    /// Letters and digits only.
    Alphanumeric,
    /// Letters, digits and at least one of `+/=-_`.
    Base64,
    /// Anything else printable.
    Printable,
}

pub(crate) fn char_class(value: &[u8]) -> CharClass {
    if value.iter().all(u8::is_ascii_hexdigit) {
        CharClass::Hex
    } else if value.iter().all(u8::is_ascii_alphanumeric) {
        CharClass::Alphanumeric
    } else if value.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')) {
        CharClass::Base64
    } else {
        CharClass::Printable
    }
}

/// Minimum length and Shannon entropy (bits per byte) per class.
///
/// Each entropy bar sits at about the 1st percentile of the empirical entropy of uniformly
/// random strings of that class at the minimum length (100 000 samples each; the test
/// `thresholds_pass_random_values` re-checks it), so a truly random secret of the minimum
/// length clears it about 99 % of the time and longer ones nearly always, while words,
/// identifiers, dates and repeated patterns fall below. At these lengths entropy is coarse (12
/// characters: 3.58 all distinct, 3.42 / 3.25 / 3.08 / 2.92 with one to four repeated pairs),
/// so the bars sit between those steps:
///
/// | class | min len | min H | random at min len: p1 / median / share below the bar | non-secret |
/// |---|---|---|---|---|
/// | hex | 20 | 2.9 | 2.90 / 3.38 / 0.9 % | `deadbeefdeadbeef` 2.2 |
/// | base64 | 16 | 3.3 | 3.38 / 3.75 / 0.4 % | `ab-ab-ab-ab-cd-cd-c1` 2.4 |
/// | alphanumeric | 12 | 3.0 | 3.02 / 3.42 / 0.8 % | `aaax1111xxxa` 1.6 |
/// | printable | 12 | 3.0 | 3.09 / 3.42 / 0.2 % | `2024-01-01T00:00:00Z` 2.5 |
///
/// Hex needs 20 characters (80 bits) because shorter hex is mostly ids, hashes prefixes and
/// colours. Every class also needs two character kinds (lower, upper, digit, symbol): a random
/// value of the minimum length misses that with probability < 1e-4, a word nearly always.
/// Structure (paths, URLs, e-mail addresses, dotted names, words) is rejected before entropy
/// is looked at, since entropy alone cannot tell `com.mysql.jdbc.Driver` (3.9) from a secret.
pub(crate) const THRESHOLDS: [(CharClass, usize, f32); 4] = [
    (CharClass::Hex, 20, 2.9),
    (CharClass::Base64, 16, 3.3),
    (CharClass::Alphanumeric, 12, 3.0),
    (CharClass::Printable, 12, 3.0),
];

/// The lower bar for password-named keys: people choose passwords, so 8 characters of two
/// kinds with 2.5 bits (`s3cr3tP@ss` 2.6, `Tr0ub4dor&3` 3.3) count, while `changeme` (one kind)
/// and `aaaa1111` (2.0) do not.
pub(crate) const PASSWORD_THRESHOLD: (usize, f32) = (8, 2.5);

/// Entropy at or above which a specific key's value is reported with medium confidence.
pub(crate) const MEDIUM_CONFIDENCE_ENTROPY: f32 = 3.5;

/// Decide whether `value`, assigned to a key of kind `kind`, is a secret: `Some(confidence)`.
pub(crate) fn judge(kind: KeyKind, key: &[u8], value: &[u8]) -> Option<Confidence> {
    if value.len() < MIN_VALUE || value.len() > MAX_VALUE || !value.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    if is_placeholder(value, key) || is_structured(value) {
        return None;
    }
    // Words are identifiers, class names and prose; only a password may be a passphrase, and
    // then lower-case words joined by `-` or `_` (`correct-horse-battery-staple`).
    if is_wordy(value)
        && (kind != KeyKind::Password
            || value.iter().any(|b| !(b.is_ascii_lowercase() || matches!(b, b'-' | b'_')))
            || !value.iter().any(|b| matches!(b, b'-' | b'_')))
    {
        return None;
    }
    let class = char_class(value);
    let h = entropy::shannon_entropy(value);
    let kinds = char_kinds(value);
    let (_, min_len, min_h) = THRESHOLDS.iter().copied().find(|(c, _, _)| *c == class)?;
    let clears_class = value.len() >= min_len && h >= min_h && kinds >= 2;
    let clears_password =
        kind == KeyKind::Password && value.len() >= PASSWORD_THRESHOLD.0 && h >= PASSWORD_THRESHOLD.1 && kinds >= 2;
    if !(clears_class || clears_password) {
        return None;
    }
    Some(if kind >= KeyKind::Specific && h >= MEDIUM_CONFIDENCE_ENTROPY { Confidence::Medium } else { Confidence::Low })
}

/// How many of lower case, upper case, digit and symbol occur.
pub(crate) fn char_kinds(value: &[u8]) -> usize {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    let symbol = value.iter().any(|b| !b.is_ascii_alphanumeric());
    usize::from(lower) + usize::from(upper) + usize::from(digit) + usize::from(symbol)
}

/// Example values from specifications, which every copy of a library that quotes them carries
/// (RFC 6749 and RFC 5849 examples in `oauthlib`, say). Reported as documented examples.
pub(crate) const WELL_KNOWN_EXAMPLES: &[&[u8]] = &[
    b"2YotnFZFEjr1zCsicMWpAA",
    b"tGzv3JOkF0XG5Qx2TlKWIA",
    b"SplxlOBeZQQYbYS6WxSbIA",
    b"ad180jjd733klru7",
    b"0685bd9184jfhq22",
    b"nnch734d00sl2jdk",
    b"kd94hf93k423kf44",
    b"pfkkdhi9sl3r4s00",
    b"dh893hdasih9",
];

/// Values that are exactly one of these (case-insensitive) are placeholders.
const PLACEHOLDER_WORDS: &[&str] = &[
    "test",
    "testing",
    "password",
    "passwd",
    "secret",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "string",
    "default",
    "value",
    "empty",
    "todo",
    "tbd",
    "token",
    "redacted",
    "placeholder",
    "example",
    "sample",
    "dummy",
    "changeme",
    "change_me",
    "hidden",
    "masked",
    "unset",
    "notset",
    "not_set",
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
    "redacted",
    "xxxx",
    "****",
    "....",
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

/// Whether a value is a placeholder rather than a secret: a variable or template reference
/// (`${VAR}`, `$VAR`, `$(cmd)`, `%VAR%`, `{{ tmpl }}`, `<your-key>`, `%s`), a well-known filler
/// word (`changeme`, `example`, `dummy`, `none`, `your_*`, …), repeated characters or a
/// repeated unit, a sequence (`123456`, `abcdef`), a file path, or the key's own name.
pub(crate) fn is_placeholder(value: &[u8], key: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    let contains = |needle: &str| super::validate::find(&lower, needle.as_bytes()).is_some();
    // Variable, command and template references.
    if ["${", "$(", "{{", "}}", "{%", "<%", "#{", "%s", "%d", "%("].iter().any(|m| contains(m)) {
        return true;
    }
    // Interpolation inside the value: `anonymous:$FROM_EMAIL`, `pre-$HOME`.
    if value.windows(4).any(|w| w[0] == b'$' && w[1..].iter().all(|b| b.is_ascii_uppercase() || *b == b'_')) {
        return true;
    }
    // `$VAR`, `$dir/private/key.pem`, `$insta::secret` (but not a crypt hash like `$2b$…`).
    if let [b'$', first, ..] = value
        && (first.is_ascii_alphabetic() || matches!(first, b'_' | b'{' | b'('))
    {
        return true;
    }
    let wrapped = |open: u8, close: u8| value.first() == Some(&open) && value.last() == Some(&close);
    if wrapped(b'<', b'>') || wrapped(b'[', b']') || wrapped(b'{', b'}') || wrapped(b'%', b'%') || wrapped(b'@', b'@') {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower == w.as_bytes()) || PLACEHOLDER_PARTS.iter().any(|p| contains(p)) {
        return true;
    }
    if lower.starts_with(b"your") || lower.starts_with(b"my_") || lower.starts_with(b"my-") {
        return true;
    }
    // File paths: /run/secrets/db, ./key, ~/.token, C:\secrets
    if is_absolute_path(value)
        || value.starts_with(b"./")
        || value.starts_with(b"../")
        || value.starts_with(b"~/")
        || lower.starts_with(b"file:")
        || (value.len() > 2 && value[0].is_ascii_alphabetic() && value[1] == b':' && matches!(value[2], b'\\' | b'/'))
    {
        return true;
    }
    if is_repetition(value) || is_sequence(value) {
        return true;
    }
    // The key's own name as its value (`password: PASSWORD`, `DB_PASSWORD=db_password`).
    let squash =
        |s: &[u8]| -> Vec<u8> { s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect() };
    let v = squash(value);
    !v.is_empty() && v == squash(key)
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

/// The value is one unit repeated (`aaaaaaaa`, `abcabcabc`, `deadbeefdeadbeef`) or uses at most
/// two distinct characters.
fn is_repetition(value: &[u8]) -> bool {
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
fn is_sequence(value: &[u8]) -> bool {
    if value.len() < 2 {
        return false;
    }
    let steps = value.len() - 1;
    let up = value.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
    let down = value.windows(2).filter(|w| w[0] == w[1].wrapping_add(1)).count();
    up * 5 >= steps * 4 || down * 5 >= steps * 4
}

/// Values with a structure that secrets do not have: URLs (their passwords are the URL
/// detector's), e-mail addresses, `host:port`, versions, dates and times, code (`getPassword()`,
/// `os.environ[`).
fn is_structured(value: &[u8]) -> bool {
    if super::validate::find(value, b"://").is_some() {
        return true;
    }
    if value.contains(&b'(') || value.contains(&b'[') {
        return true;
    }
    // e-mail: local@domain.tld
    if let Some(at) = value.iter().position(|&b| b == b'@') {
        let domain = &value[at + 1..];
        if at > 0
            && domain.contains(&b'.')
            && domain.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && domain.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 2
        {
            return true;
        }
    }
    // Documented alternatives: `true|false`, `md5|scram-sha-256`.
    if value.contains(&b'|')
        && value.split(|&b| b == b'|').all(|alt| alt.is_empty() || is_wordy(alt) || is_structured(alt))
    {
        return true;
    }
    // Versions, dates, times, addresses: digits and separators only.
    if value.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b':' | b'/' | b'T' | b'Z' | b'+' | b'_')) {
        return true;
    }
    // host:port
    if let Some(colon) = value.iter().rposition(|&b| b == b':') {
        let (host, port) = (&value[..colon], &value[colon + 1..]);
        if !port.is_empty()
            && port.len() <= 5
            && port.iter().all(u8::is_ascii_digit)
            && host.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        {
            return true;
        }
    }
    false
}

/// Made of words: every part between `. _ - / :` is a lower-case, upper-case, Capitalized or
/// camelCase word without digits (`my-app-secret-key`, `com.mysql.jdbc.Driver`,
/// `process.env.DB_PASSWORD`, `notASecret`). Random values almost never are.
fn is_wordy(value: &[u8]) -> bool {
    let mut any = false;
    for part in value.split(|b| matches!(b, b'.' | b'_' | b'-' | b'/' | b':')) {
        if part.is_empty() {
            continue;
        }
        any = true;
        if !is_word(part) {
            return false;
        }
    }
    any
}

/// `word`, `WORD`, `Word`, `camelCaseWord`, `CamelCase`: letters only, no two upper-case letters
/// in a row unless the whole part is upper case, and each upper-case letter (after the first)
/// followed by a lower-case one.
fn is_word(part: &[u8]) -> bool {
    if !part.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    if part.iter().all(u8::is_ascii_uppercase) {
        return true;
    }
    part.iter().enumerate().all(|(i, b)| {
        !b.is_ascii_uppercase() || (i == 0 && part.len() > 1) || part.get(i + 1).is_some_and(u8::is_ascii_lowercase)
    }) && !part.windows(2).any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
        && part.iter().filter(|b| b.is_ascii_uppercase()).count() * 3 <= part.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_form() {
        let placeholders = [
            "${DB_PASSWORD}",
            "prefix-${VAR}-x",
            "$DB_PASSWORD",
            "$(cat /run/secrets/db)",
            "{{ .Values.password }}",
            "{{password}}",
            "<your-api-key>",
            "%s",
            "%(password)s",
            "%DB_PASSWORD%",
            "changeme",
            "CHANGEME",
            "change_me",
            "xxxxxxxxxxxx",
            "xxxx-xxxx-xxxx",
            "************",
            "example",
            "my-example-key",
            "sample_token",
            "dummy",
            "dummy-secret-123",
            "test",
            "password",
            "secret",
            "null",
            "None",
            "nil",
            "true",
            "false",
            "undefined",
            "redacted",
            "[REDACTED]",
            "placeholder",
            "your_api_key",
            "YourSecretHere",
            "aaaaaaaa",
            "abababab",
            "123456",
            "1234567890",
            "abcdef",
            "abcdefghij",
            "987654321",
            "/run/secrets/x",
            "./secrets/key",
            "~/.token",
            "C:\\secrets\\key",
            "file:///etc/key",
            "Sup3rPassword!",
            "anonymous:$FROM_EMAIL",
        ];
        for p in placeholders {
            assert!(is_placeholder(p.as_bytes(), b"db_password"), "{p} should be a placeholder");
        }
        assert!(is_placeholder(b"DB-Password", b"DB_PASSWORD"), "the key's own name");
        for real in
            ["h3C6NsOAdgfDSSotrA", "l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm", "Tr0ub4dor&3", "$2b$10$abcdefghij"]
        {
            assert!(!is_placeholder(real.as_bytes(), b"db_password"), "{real} is not a placeholder");
        }
    }

    #[test]
    fn thresholds_per_class() {
        use CharClass::*;
        // (value, class, key kind, reported)
        let cases: &[(&str, CharClass, KeyKind, bool)] = &[
            // hex: >= 20 chars and H >= 2.9
            ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", Hex, KeyKind::Generic, true),
            ("4e1f0c2b9d8a7e63b5a1", Hex, KeyKind::Generic, true), // 20 chars, H 3.9
            ("4e1f0c2b9d8a7e63b5", Hex, KeyKind::Generic, false),  // 18 chars
            ("a1a1a1a1b2b2b2b2c3c3", Hex, KeyKind::Generic, false), // 20 chars, H 2.6
            // base64: >= 16 chars and H >= 3.3
            ("q2H+v9/Lk3xZ0pWm", Base64, KeyKind::Generic, true), // 16 chars, H 4.0
            ("q2H+v9/Lk3xZ0pW", Base64, KeyKind::Generic, false), // 15 chars
            ("ab-ab-ab-ab-cd-cd-c1", Base64, KeyKind::Generic, false), // H 2.3
            // alphanumeric: >= 12 chars, H >= 3.0, two kinds
            ("h3C6NsOAdgfD", Alphanumeric, KeyKind::Generic, true), // 12 chars, H 3.6
            ("h3C6NsOAdgf", Alphanumeric, KeyKind::Generic, false), // 11 chars
            ("aaax1111xxxa", Alphanumeric, KeyKind::Generic, false), // H 1.6
            ("qwxzvbnmkjhgfdsa", Alphanumeric, KeyKind::Generic, false), // one kind
            // printable: >= 12 chars, H >= 3.0
            ("k9#Lm2!pQ7&z", Printable, KeyKind::Generic, true), // 12 chars, H 3.6
            ("k9#Lm2!pQ7&", Printable, KeyKind::Generic, false), // 11 chars
            ("a!a!a!a!b#b#b#c", Printable, KeyKind::Generic, false), // H 2.2
            // password keys: >= 8 chars, H >= 2.5, two kinds
            ("s3cr3tP@ss", Printable, KeyKind::Password, true), // 10 chars, H 2.6
            ("s3cr3tP@ss", Printable, KeyKind::Generic, false),
            ("hunter22", Alphanumeric, KeyKind::Password, true), // H 2.75
            ("hunter2", Alphanumeric, KeyKind::Password, false), // 7 chars
            ("aax1aax1", Alphanumeric, KeyKind::Password, false), // repeated
            ("postgres", Alphanumeric, KeyKind::Password, false), // one kind
        ];
        for (value, class, kind, reported) in cases {
            let v = value.as_bytes();
            assert_eq!(char_class(v), *class, "{value} class");
            assert_eq!(judge(*kind, b"key", v).is_some(), *reported, "{value} (H {})", entropy::shannon_entropy(v));
        }
    }

    #[test]
    fn structure_is_not_a_secret() {
        for value in [
            "com.mysql.jdbc.Driver",
            "process.env.DB_PASSWORD",
            "kubernetes.io/service-account-token",
            "admin@company.com",
            "localhost:5432",
            "db.internal.local:6379",
            "2024-01-01T00:00:00Z",
            "10.0.0.1:8080",
            "getPassword()",
            "os.environ[",
            "https://vault.internal/v1/secret",
            "my-app-secret-key",
            "notAnActualValue",
        ] {
            assert_eq!(judge(KeyKind::Specific, b"key", value.as_bytes()), None, "{value}");
        }
    }

    #[test]
    fn confidence_medium_only_for_specific_keys_with_high_entropy() {
        let strong = b"l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm";
        assert_eq!(judge(KeyKind::Specific, b"client_secret", strong), Some(Confidence::Medium));
        assert_eq!(judge(KeyKind::Password, b"db_password", strong), Some(Confidence::Medium));
        assert_eq!(judge(KeyKind::Generic, b"token", strong), Some(Confidence::Low));
        assert_eq!(judge(KeyKind::Password, b"db_password", b"hunter22"), Some(Confidence::Low));
    }

    /// The thresholds' justification: a random value of each class at the minimum length clears
    /// its bar at least 98 % of the time (the bars sit at about the 1st percentile).
    #[test]
    fn thresholds_pass_random_values() {
        let alphabets: [(CharClass, &[u8]); 4] = [
            (CharClass::Hex, b"0123456789abcdef"),
            (CharClass::Base64, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
            (CharClass::Alphanumeric, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            (CharClass::Printable, b"!#%&*+-0123456789;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_abcdefghijklmnopqrstuvwxyz~"),
        ];
        // xorshift: deterministic, no dependency.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (class, alphabet) in alphabets {
            let (_, len, _) = THRESHOLDS.iter().copied().find(|(c, _, _)| *c == class).unwrap();
            let trials = 2000;
            let mut passed = 0;
            let mut tried = 0;
            while tried < trials {
                let value: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                // Sample the class itself: a draw from the printable alphabet without a symbol
                // is a base64 or alphanumeric value, judged by that class's bar.
                if char_class(&value) != class {
                    continue;
                }
                tried += 1;
                if judge(KeyKind::Generic, b"token", &value).is_some() {
                    passed += 1;
                }
            }
            assert!(passed * 100 >= trials * 98, "{class:?}: {passed}/{trials} random values pass");
        }
    }
}
