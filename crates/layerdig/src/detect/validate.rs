//! Offline validation: format checks that confirm a match without contacting anyone.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

/// An offline format check that confirms a match (raising its confidence to high) or rejects it
/// (the match is then weak evidence: low confidence, disposition `documented_example`, and a note
/// saying why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validation {
    /// GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm (`npm_`) tokens: the last six
    /// characters are the base62 CRC32 of the 30 characters after the prefix.
    GithubChecksum,
    /// A PEM private key whose body is well-formed base64 (and, for OpenSSH keys, starts with the
    /// `openssh-key-v1` magic). Encrypted keys pass with the note `encrypted`.
    PemPrivateKey,
    /// A JSON Web Token whose header decodes to a JSON object with an `alg` member.
    Jwt,
    /// An AWS access key id: 20 characters, a known four-letter prefix, base32 after it.
    AwsAccessKeyId,
}

impl Validation {
    /// The kebab-case name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Validation::GithubChecksum => "github-checksum",
            Validation::PemPrivateKey => "pem-private-key",
            Validation::Jwt => "jwt",
            Validation::AwsAccessKeyId => "aws-access-key-id",
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The note of a match that fails `validation`: why it is only weak evidence (reported with low
/// confidence and the disposition `documented_example`, see [`super::disposition`]).
pub(crate) fn failure_note(validation: Validation) -> &'static str {
    match validation {
        Validation::GithubChecksum => "checksum does not match: not a live token, or altered",
        Validation::PemPrivateKey => "not a well-formed private key: damaged, cut off or made up",
        Validation::Jwt => "header is not a JSON object with an alg: not a token, or altered",
        Validation::AwsAccessKeyId => "not a well-formed access key id: made up, or altered",
    }
}

/// The note recorded for a private key that is encrypted with a passphrase.
pub(crate) const ENCRYPTED: &str = "encrypted";

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
/// Standard base64, padding optional.
pub(crate) const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// URL-safe base64, padding optional.
pub(crate) const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Run `validation` on a match. `secret` is capture group 1, `whole` the whole regex match
/// (a PEM rule may capture only the body). `None` means the match fails (it is then weak
/// evidence, with [`failure_note`]); `Some(note)` means it passes (confidence high), with an
/// optional note.
pub(crate) fn validate(validation: Validation, secret: &[u8], whole: &[u8]) -> Option<Option<&'static str>> {
    match validation {
        Validation::GithubChecksum => github_checksum(secret).then_some(None),
        Validation::PemPrivateKey => {
            let text = if find(secret, b"-----BEGIN").is_some() { secret } else { whole };
            pem_private_key(text).map(|key| key.encrypted.then_some(ENCRYPTED))
        }
        Validation::Jwt => jwt(secret).then_some(None),
        Validation::AwsAccessKeyId => aws_access_key_id(secret).then_some(None),
    }
}

/// `prefix_` + 30 characters + 6 characters of base62 CRC32 of those 30, left-padded with `0`.
pub(crate) fn github_checksum(token: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 6] = [b"ghp", b"gho", b"ghu", b"ghs", b"ghr", b"npm"];
    let Some(us) = token.iter().position(|&b| b == b'_') else {
        return false;
    };
    let (prefix, rest) = (&token[..us], &token[us + 1..]);
    if !PREFIXES.contains(&prefix) || rest.len() != 36 || !rest.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, check) = rest.split_at(30);
    base62_6(crc32fast::hash(body)) == check
}

/// A CRC32 in base62 (`0-9A-Za-z`), six digits, left-padded with `0` (62^6 > 2^32).
pub(crate) fn base62_6(mut n: u32) -> [u8; 6] {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// `AKIA…`: 20 characters, a known prefix, then 16 base32 characters (`A-Z2-7`).
pub(crate) fn aws_access_key_id(id: &[u8]) -> bool {
    const PREFIXES: [&[u8; 4]; 11] =
        [b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA", b"APKA"];
    id.len() == 20
        && PREFIXES.iter().any(|p| id.starts_with(*p))
        && id[4..].iter().all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

/// The header (first segment) base64url-decodes to a JSON object with an `alg` member.
pub(crate) fn jwt(token: &[u8]) -> bool {
    let Some(dot) = token.iter().position(|&b| b == b'.') else {
        return false;
    };
    let Ok(header) = URL_SAFE.decode(&token[..dot]) else {
        return false;
    };
    matches!(serde_json::from_slice::<serde_json::Value>(&header), Ok(serde_json::Value::Object(map)) if map.contains_key("alg"))
}

/// What a well-formed PEM private key told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PemKey {
    /// Byte range of the whole block (`-----BEGIN` to the end of the `-----END …-----` line).
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Protected by a passphrase.
    pub(crate) encrypted: bool,
}

/// Find the first PEM private key block in `text` and check it: the label names a private key,
/// an END line follows, header lines (`Proc-Type:`, `DEK-Info:`, …) are skipped, and the body
/// is base64 that decodes. DER keys must start with a SEQUENCE; OpenSSH keys with their magic.
/// Escaped newlines (`\n` inside a JSON string) are accepted.
pub(crate) fn pem_private_key(text: &[u8]) -> Option<PemKey> {
    let mut from = 0;
    // Skip blocks that are not private keys (a certificate before the key, say).
    loop {
        let begin = from + find(&text[from..], b"-----BEGIN ")?;
        let label_start = begin + b"-----BEGIN ".len();
        let label_len = find(&text[label_start..], b"-----")?;
        let label = &text[label_start..label_start + label_len];
        if label.len() > 64 || label.contains(&b'\n') || find(label, b"PRIVATE KEY").is_none() {
            from = label_start;
            continue;
        }
        let body_start = label_start + label_len + 5;
        let end_rel = find(&text[body_start..], b"-----END ")?;
        let body = &text[body_start..body_start + end_rel];
        let after_end = body_start + end_rel + b"-----END ".len();
        let end = match find(&text[after_end..], b"-----") {
            Some(i) if i <= 64 => after_end + i + 5,
            _ => return None,
        };
        let encrypted = check_body(label, body)?;
        return Some(PemKey { start: begin, end, encrypted });
    }
}

/// Decode a PEM body; `Some(encrypted)` when it is well formed.
fn check_body(label: &[u8], body: &[u8]) -> Option<bool> {
    // Escaped newlines: PEM inside a JSON or YAML double-quoted string.
    let mut lines: Vec<&[u8]> = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        for part in split_escaped_newlines(line) {
            lines.push(part);
        }
    }
    let mut encrypted = label == b"ENCRYPTED PRIVATE KEY";
    let mut b64: Vec<u8> = Vec::with_capacity(body.len());
    let mut in_headers = true;
    for line in lines {
        let line = trim(line);
        if in_headers {
            if line.is_empty() {
                continue;
            }
            if line.contains(&b':') {
                if starts_with_ci(line, b"Proc-Type:") && find(line, b"ENCRYPTED").is_some() {
                    encrypted = true;
                }
                continue;
            }
            in_headers = false;
        }
        // The OpenPGP armour checksum line (`=abcd`) ends the body.
        if line.first() == Some(&b'=') && line.len() == 5 {
            break;
        }
        b64.extend(line.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    }
    if b64.is_empty() || !b64.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    let decoded = STANDARD.decode(&b64).ok()?;
    if decoded.is_empty() {
        return None;
    }
    if label == b"OPENSSH PRIVATE KEY" {
        return openssh_encrypted(&decoded);
    }
    let der_label = matches!(
        label,
        b"PRIVATE KEY" | b"RSA PRIVATE KEY" | b"EC PRIVATE KEY" | b"DSA PRIVATE KEY" | b"ENCRYPTED PRIVATE KEY"
    );
    // A DER key is a SEQUENCE; legacy OpenSSL encryption (Proc-Type) hides it.
    if der_label && !encrypted && decoded[0] != 0x30 {
        return None;
    }
    Some(encrypted)
}

/// `openssh-key-v1\0`, then the cipher name as an SSH string: encrypted unless it is `none`.
fn openssh_encrypted(decoded: &[u8]) -> Option<bool> {
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let rest = decoded.strip_prefix(MAGIC)?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let cipher = rest.get(4..4 + len)?;
    Some(cipher != b"none")
}

fn split_escaped_newlines(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut i = 0;
        while i + 1 < current.len() {
            if current[i] == b'\\' && matches!(current[i + 1], b'n' | b'r') {
                rest = Some(&current[i + 2..]);
                return Some(&current[..i]);
            }
            i += 1;
        }
        rest = None;
        Some(current)
    })
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s
        && first.is_ascii_whitespace()
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && last.is_ascii_whitespace()
    {
        s = rest;
    }
    s
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The first position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::testdata;
    use super::*;

    fn github_token(prefix: &str, body: &str) -> String {
        let check = base62_6(crc32fast::hash(body.as_bytes()));
        format!("{prefix}_{body}{}", std::str::from_utf8(&check).unwrap())
    }

    #[test]
    fn base62_pads_and_encodes() {
        assert_eq!(&base62_6(0), b"000000");
        assert_eq!(&base62_6(61), b"00000z");
        assert_eq!(&base62_6(62), b"000010");
        assert_eq!(&base62_6(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn github_checksum_cases() {
        // Checksum computed independently with Python: zlib.crc32 + base62.
        let cases: &[(&str, bool)] = &[
            ("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", true),
            ("ghp_FDy8b3EHoZZyiSQ0wSBCrv46w0qjHi3ZMvwZ", false),
            ("ghp_GDy8b3EHoZZyiSQ0wSBCrv46w0qjHi3ZMvwY", false),
            ("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", true),
            ("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", true),
            ("ghx_FDy8b3EHoZZyiSQ0wSBCrv46w0qjHi3ZMvwY", false),
            ("ghp_FDy8b3EHoZZyiSQ0wSBCrv46w0qjHi3ZMvw", false),
            ("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1", false),
            ("ghp-FDy8b3EHoZZyiSQ0wSBCrv46w0qjHi3ZMvwY", false),
            ("", false),
        ];
        for (token, ok) in cases {
            assert_eq!(github_checksum(token.as_bytes()), *ok, "{token}");
        }
        let made = github_token("ghs", "abcdefghijklmnopqrstuvwxyz0123");
        assert!(github_checksum(made.as_bytes()));
    }

    #[test]
    fn aws_access_key_id_cases() {
        let cases: &[(&str, bool)] = &[
            ("AKIAIOSFODNN7EXAMPLE", true),
            ("ASIABNC2R2QVGLCFOXVM", true),
            ("APKAABCDEFGHIJ234567", true),
            ("AKIAIOSFODNN7EXAMPL", false),
            ("AKIAIOSFODNN7EXAMPLE1", false),
            ("AKIAIOSFODNN1EXAMPLE", false), // '1' is not base32
            ("AKIAiosfodnn7example", false),
            ("AXYZIOSFODNN7EXAMPLE", false),
        ];
        for (id, ok) in cases {
            assert_eq!(aws_access_key_id(id.as_bytes()), *ok, "{id}");
        }
    }

    #[test]
    fn jwt_cases() {
        let good = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let cases: &[(&str, bool)] = &[
            (good, true),
            // {"typ":"JWT"}: an object without alg.
            ("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln", false),
            // ["alg"]: not an object.
            ("WyJhbGciXQ.eyJzdWIiOiIxIn0.c2ln", false),
            // Not base64url JSON.
            ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.eyJzdWIiOiIxIn0.c2ln", false),
            ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", false),
            ("not.a.jwt", false),
        ];
        for (token, ok) in cases {
            assert_eq!(jwt(token.as_bytes()), *ok, "{token}");
        }
    }

    #[test]
    fn pem_private_keys() {
        use testdata::*;
        // (pem text, valid, encrypted)
        let mut legacy_corrupt = pem("RSA PRIVATE KEY", RSA_LEGACY_ENCRYPTED);
        legacy_corrupt = legacy_corrupt.replacen("Vv1zDe8H", "Vv1z%e8H", 1);
        let truncated = pem("PRIVATE KEY", EC_SEC1).replace("-----END PRIVATE KEY-----\n", "");
        let json_escaped =
            format!("{{\"private_key\": \"{}\"}}", pem("PRIVATE KEY", ED25519_PKCS8).replace('\n', "\\n"));
        let mut ssh_bad_magic = OPENSSH.to_vec();
        ssh_bad_magic[0] = "c3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
        let cases: Vec<(String, bool, bool)> = vec![
            (pem("PRIVATE KEY", ED25519_PKCS8), true, false),
            (pem("EC PRIVATE KEY", EC_SEC1), true, false),
            (pem("ENCRYPTED PRIVATE KEY", ENCRYPTED_PKCS8), true, true),
            (pem("RSA PRIVATE KEY", RSA_LEGACY_ENCRYPTED), true, true),
            (pem("OPENSSH PRIVATE KEY", OPENSSH), true, false),
            (pem("OPENSSH PRIVATE KEY", OPENSSH_ENCRYPTED), true, true),
            (
                format!(
                    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{}",
                    pem("PRIVATE KEY", ED25519_PKCS8)
                ),
                true,
                false,
            ),
            (json_escaped, true, false),
            (legacy_corrupt, false, false),
            (truncated, false, false),
            (pem("OPENSSH PRIVATE KEY", &ssh_bad_magic), false, false),
            // A body that is base64 but not DER.
            (pem("RSA PRIVATE KEY", &["aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSBrZXk="]), false, false),
            (pem("RSA PRIVATE KEY", &["..."]), false, false),
            (pem("RSA PRIVATE KEY", &[]), false, false),
            (pem("PUBLIC KEY", ED25519_PKCS8), false, false),
        ];
        for (text, valid, encrypted) in cases {
            let got = pem_private_key(text.as_bytes());
            assert_eq!(got.is_some(), valid, "{text}");
            if let Some(key) = got {
                assert_eq!(key.encrypted, encrypted, "{text}");
                assert!(text[key.start..key.end].starts_with("-----BEGIN"), "{text}");
                assert!(text[key.start..key.end].ends_with("PRIVATE KEY-----"), "{text}");
                let via = validate(Validation::PemPrivateKey, text.as_bytes(), text.as_bytes());
                assert_eq!(via, Some(encrypted.then_some(ENCRYPTED)));
            }
        }
    }

    #[test]
    fn validate_dispatches_on_kind() {
        let good = testdata::github_token();
        let bad = testdata::github_token_bad();
        assert_eq!(validate(Validation::GithubChecksum, good.as_bytes(), good.as_bytes()), Some(None));
        assert_eq!(validate(Validation::GithubChecksum, bad.as_bytes(), bad.as_bytes()), None);
        let npm = testdata::npm_token();
        assert_eq!(validate(Validation::GithubChecksum, npm.as_bytes(), npm.as_bytes()), Some(None));
        assert_eq!(validate(Validation::AwsAccessKeyId, b"AKIAIOSFODNN7EXAMPLE", b""), Some(None));
        assert_eq!(validate(Validation::AwsAccessKeyId, b"AKIAIOSFODNN1EXAMPLE", b""), None);
        // A PEM rule may capture only the body: the whole match is then checked.
        let key = testdata::pem("PRIVATE KEY", testdata::ED25519_PKCS8);
        let body = testdata::ED25519_PKCS8[0];
        assert_eq!(validate(Validation::PemPrivateKey, body.as_bytes(), key.as_bytes()), Some(None));
    }
}
