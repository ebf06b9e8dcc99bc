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
//! parser, `filler.rs` the placeholders (reported as weak evidence) and references (dropped),
//! `shape.rs` the shapes secrets do not have (structure, words, identifiers, known hashes,
//! UUIDs), and this file the rule ids and the judging of values (character classes, entropy
//! thresholds).

mod assignment;
mod filler;
mod lexicon;
mod shape;
mod url;

use crate::finding::Confidence;

pub(crate) use assignment::{is_code_type, parse_assignment};
pub(crate) use filler::{Filler, filler};
pub(crate) use lexicon::{KEY_WORDS, KeyKind, key_kind};
use shape::{is_identifier, is_known_hash, is_structured, is_uuid, is_word, is_wordy};
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

/// What [`judge`] makes of a value in a credential position that it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It looks like a real secret: reported with this confidence.
    Secret(Confidence),
    /// A placeholder ([`Filler::Placeholder`]): weak evidence, reported with low confidence and
    /// the disposition `documented_example`.
    Placeholder,
}

/// The note of a placeholder's match.
pub(crate) const PLACEHOLDER_NOTE: &str = "placeholder value: not a secret, unless a default was left in place";

/// Decide whether `value`, assigned to a key of kind `kind`, is reported: as a secret, or as a
/// placeholder; `None` for values that are not secrets (see the `filler` and `shape` modules,
/// and the thresholds above).
pub(crate) fn judge(kind: KeyKind, key: &[u8], value: &[u8]) -> Option<Verdict> {
    if value.is_empty() || value.len() > MAX_VALUE || !value.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    // Code and structure first: `getPassword()` mentions a password and is none.
    match filler(value, key) {
        Some(Filler::NoSecret) => return None,
        _ if is_structured(value) => return None,
        Some(Filler::Placeholder) => return Some(Verdict::Placeholder),
        None => {}
    }
    if value.len() < MIN_VALUE || is_known_hash(value) {
        return None;
    }
    // Type and algorithm names; people choose passwords, and `MySQL2024Pass` is one.
    if kind != KeyKind::Password && is_identifier(value) {
        return None;
    }
    // A UUID is an identifier unless the key's own last word names the secret: `API_KEY`,
    // `_authToken` and `password` hold UUID tokens, `AUTH_TENANT` and `tokenClient` ids.
    if is_uuid(value) && !lexicon::names_secret_last(key) {
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
    let medium = kind >= KeyKind::Specific && h >= MEDIUM_CONFIDENCE_ENTROPY;
    Some(Verdict::Secret(if medium { Confidence::Medium } else { Confidence::Low }))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `judge` reports `value` as a secret (not as a placeholder, not dropped).
    fn secret(kind: KeyKind, key: &[u8], value: &[u8]) -> bool {
        matches!(judge(kind, key, value), Some(Verdict::Secret(_)))
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
            assert_eq!(secret(*kind, b"key", v), *reported, "{value} (H {})", entropy::shannon_entropy(v));
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
            "notAnActualValue",
        ] {
            assert_eq!(judge(KeyKind::Specific, b"key", value.as_bytes()), None, "{value}");
        }
        // Made-up names are placeholders now (weak evidence), not dropped as words.
        assert_eq!(judge(KeyKind::Specific, b"key", b"my-app-secret-key"), Some(Verdict::Placeholder));
    }

    #[test]
    fn confidence_medium_only_for_specific_keys_with_high_entropy() {
        let strong = b"l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm";
        assert_eq!(judge(KeyKind::Specific, b"client_secret", strong), Some(Verdict::Secret(Confidence::Medium)));
        assert_eq!(judge(KeyKind::Password, b"db_password", strong), Some(Verdict::Secret(Confidence::Medium)));
        assert_eq!(judge(KeyKind::Generic, b"token", strong), Some(Verdict::Secret(Confidence::Low)));
        assert_eq!(judge(KeyKind::Password, b"db_password", b"hunter22"), Some(Verdict::Secret(Confidence::Low)));
    }

    /// Values under secret-named keys that look random but are not secrets: identifiers,
    /// hashes of known kinds, UUIDs under keys whose last word is not the secret's, variable
    /// references, repeated and sequential characters. `(key, value)`.
    #[test]
    fn non_secrets_that_look_like_secrets() {
        let cases: &[(&str, &str)] = &[
            // Identifiers.
            ("secret", "TPUEmbeddingConfiguration"),
            ("auth", "X25519PrivateKey"),
            ("token", "x25519"),
            ("credentials", "tensorflow.TPUEmbedding"),
            ("client_secret", "SSLContextFactory"),
            ("api_key", "HmacSha256Signer"),
            // Hashes of known kinds.
            (
                "token",
                "sha512-Vk3RZyKtIUP5YEMuxQNTAUDL6tHw6PZzgx5H+1Jsn8FmiJq+eK0lRZjrNmnmO+ybk0Ol4hkZPbpMVuLfaYCgPg==",
            ),
            ("secret", "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            ("auth", "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"),
            ("token", "h1:7cYmW1XlMY7h7ii7UhUyChSgS5wUJEnm9uZVTGqOWzg="),
            ("auth-helpers", "github:acme/auth-helpers#9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
            // UUIDs under keys whose last word is not the secret.
            ("AUTH_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("authTenant", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("tokenClient", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            // Variable and template references.
            ("DB_PASSWORD", "$DB_PASSWORD"),
            ("DB_PASSWORD", "${DB_PASSWORD}"),
            ("DB_PASSWORD", "%DB_PASSWORD%"),
            ("password", "<%= ENV['DB_PASSWORD'] %>"),
            ("password", "{{ .Values.db.password }}"),
            ("password", "#{db.password}"),
            // Repeated and sequential characters.
            ("password", "aaaaaaaa"),
            ("password", "12345678"),
            ("password", "abcdefgh"),
            ("api_secret", "abcdefghijklmnopqrstuvwxyz012345"),
            ("api_secret", "0123456789012345678901234567890123"),
        ];
        for (key, value) in cases {
            let kind = key_kind(key.as_bytes()).unwrap_or(KeyKind::Generic);
            assert_eq!(judge(kind, key.as_bytes(), value.as_bytes()), None, "{key} = {value}");
        }
        // Still secrets: random values, UUID tokens under keys that name them, a 40-hex token,
        // passwords people choose.
        let secrets: &[(&str, &str)] = &[
            ("api_secret", "q8Zr2LmX7vNc4Tp1Kw9Ys3Bd6Hf0Ja5G"),
            ("api_secret", "9f86d081884c7d659a2feaa0c55ad015"),
            ("_authToken", "14c950b1-43ec-4531-baeb-3c2e0d9a166e"),
            ("HEROKU_API_KEY", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("GITHUB_TOKEN", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
            ("db_password", "MySQL2024Pass"),
            ("db_password", "Summer2024!"),
        ];
        for (key, value) in secrets {
            let kind = key_kind(key.as_bytes()).unwrap();
            assert!(secret(kind, key.as_bytes(), value.as_bytes()), "{key} = {value}");
        }
    }

    /// Placeholders in a credential position are reported, as placeholders, whatever their
    /// length or entropy.
    #[test]
    fn placeholders_are_reported_as_placeholders() {
        for (key, value) in [
            ("password", "changeme"),
            ("DB_PASSWORD", "password"),
            ("client_secret", "secret"),
            ("API_TOKEN", "xxxxxxxxxxxxxxxxxxxxxxxx"),
            ("api_key", "a1b2c3d4e5f6g7h8"),
            ("api_key", "<your-api-key>"),
            ("token", "example"),
            ("password", "test"),
        ] {
            let kind = key_kind(key.as_bytes()).unwrap();
            assert_eq!(judge(kind, key.as_bytes(), value.as_bytes()), Some(Verdict::Placeholder), "{key} = {value}");
        }
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
                if secret(KeyKind::Generic, b"token", &value) {
                    passed += 1;
                }
            }
            assert!(passed * 100 >= trials * 98, "{class:?}: {passed}/{trials} random values pass");
        }
    }
}
