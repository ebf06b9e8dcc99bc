//! Shapes that secrets do not have: structure (URLs, e-mail addresses, `host:port`, dates,
//! code), words, identifiers (`TPUEmbeddingConfiguration`, `X25519PrivateKey`), hashes of known
//! kinds (package integrity strings, digests, lockfile checksums, git references) and UUIDs.
//! Entropy alone cannot tell these from secrets: `TPUEmbeddingConfiguration` has 3.6 bits a
//! character, a `sha512-…` integrity string 5.9.

use crate::detect::validate::find;

/// Values with a structure that secrets do not have: URLs (their passwords are the URL
/// detector's), e-mail addresses, `host:port`, versions, dates and times, code (`getPassword()`,
/// `os.environ[`).
pub(crate) fn is_structured(value: &[u8]) -> bool {
    if find(value, b"://").is_some() {
        return true;
    }
    if value.contains(&b'(') || value.contains(&b'[') {
        return true;
    }
    if is_resource_name(value) {
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

/// A resource name: an Amazon Resource Name (`arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC123`,
/// in any partition: `aws`, `aws-cn`, `aws-us-gov`, …) or a URN (`urn:ietf:params:oauth:…`). It
/// names a thing, even a secret, and grants nothing; its last part often looks random (the
/// suffix Secrets Manager adds, a resource id).
fn is_resource_name(value: &[u8]) -> bool {
    let lower = |n: usize| value.get(..n).map(<[u8]>::to_ascii_lowercase);
    let rest = match lower(4).as_deref() {
        Some(b"arn:") => &value[4..],
        Some(b"urn:") => return value[4..].iter().position(|&b| b == b':').is_some_and(|p| p > 0),
        _ => return false,
    };
    let partition = rest.iter().position(|&b| b == b':').map(|p| &rest[..p]);
    partition.is_some_and(|p| p.starts_with(b"aws") && p.iter().all(|b| b.is_ascii_lowercase() || *b == b'-'))
}

/// Made of words: every part between `. _ - / :` is a lower-case, upper-case, Capitalized or
/// camelCase word without digits (`my-app-secret-key`, `com.mysql.jdbc.Driver`,
/// `process.env.DB_PASSWORD`, `notASecret`). Random values almost never are.
pub(crate) fn is_wordy(value: &[u8]) -> bool {
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
/// followed by a lower-case one. A one-letter word may start it (`IAmSensitive`, `AValue`).
pub(crate) fn is_word(part: &[u8]) -> bool {
    if let [b'A' | b'I', second, third, ..] = part
        && second.is_ascii_uppercase()
        && third.is_ascii_lowercase()
    {
        return camel_word(&part[1..]);
    }
    camel_word(part)
}

fn camel_word(part: &[u8]) -> bool {
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

/// A hash of a kind packages and lockfiles carry, never a credential:
///
/// - a Subresource Integrity string, `sha1-`, `sha256-`, `sha384-` or `sha512-` and the digest's
///   base64 (`package-lock.json`, `yarn.lock`, `<script integrity>`);
/// - a digest written `algorithm:hex`, `sha256:` and 64 hex digits (image digests, `pip
///   --hash=`), also `md5:`, `sha1:`, `sha224:`, `sha384:`, `sha512:`;
/// - a Go checksum, `h1:` and the base64 of 32 bytes (`go.sum`);
/// - a git object id after `#` or `@` that ends a repository reference
///   (`github:acme/auth-lib#<40 hex>`, `git+ssh://…#<40 hex>`).
///
/// A bare 40-hex value is not recognised here: a secret-named key holding one may hold a
/// classic GitHub token or any of the many 40-hex API keys (keys that name a commit or a digest,
/// `AUTH_COMMIT`, `TOKEN_SHA`, are not secret-named; see `lexicon`).
pub(crate) fn is_known_hash(value: &[u8]) -> bool {
    const SRI: [(&[u8], usize); 4] = [(b"sha1-", 28), (b"sha256-", 44), (b"sha384-", 64), (b"sha512-", 88)];
    const HEX: [(&[u8], usize); 6] =
        [(b"md5:", 32), (b"sha1:", 40), (b"sha224:", 56), (b"sha256:", 64), (b"sha384:", 96), (b"sha512:", 128)];
    let lower = value.to_ascii_lowercase();
    let base64 = |s: &[u8]| {
        let body = s.strip_suffix(b"==").or_else(|| s.strip_suffix(b"=")).unwrap_or(s);
        body.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
    };
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    if SRI.iter().any(|(p, n)| lower.starts_with(p) && value.len() == p.len() + n && base64(&value[p.len()..])) {
        return true;
    }
    if HEX.iter().any(|(p, n)| lower.starts_with(p) && value.len() == p.len() + n && hex(&value[p.len()..])) {
        return true;
    }
    if let Some(sum) = value.strip_prefix(b"h1:")
        && sum.len() == 44
        && sum.ends_with(b"=")
        && base64(sum)
    {
        return true;
    }
    // `…#<40 hex>` or `…@<40 hex>` after a repository path.
    value.len() > 41
        && matches!(value[value.len() - 41], b'#' | b'@')
        && hex(&value[value.len() - 40..])
        && value[..value.len() - 41].contains(&b'/')
}

/// `123e4567-e89b-12d3-a456-426614174000`: 8-4-4-4-12 hex digits.
pub(crate) fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value
            .iter()
            .enumerate()
            .all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) { *b == b'-' } else { b.is_ascii_hexdigit() })
}

/// A name from code: a type, a qualified name, an enum member, an algorithm
/// (`TPUEmbeddingConfiguration`, `X25519PrivateKey`, `x25519.X25519PrivateKey`,
/// `TPUEmbeddingConfiguration.Mode.ValueType`, `AWS::S3::DisableS3ExpressSessionAuth`,
/// `ColonToken$1`, a bundler's renamed binding). Only name characters and the joints of names
/// (`. _ - : $`); split there and at case changes, every part is
///
/// - a word: pronounceable, three letters or more in lower case or Capitalized (`Embedding`,
///   `key`), or four or more capitals standing alone between joints (`ORACLE_12`);
/// - a coded part: an acronym of 2 to 6 capitals (`TPU`, `HMAC`), 1 to 6 letters and then 2 to 6
///   digits (`x25519`, `Sha256`, `P384`), one or two capitals and one digit (`S3`, `V1`: these
///   only beside two words or more), or up to 4 digits standing alone between joints (`$1`).
///
/// It needs a word of five letters or more, words for at least half of its letters, and at
/// least one coded part (values of words alone are [`is_wordy`]'s). Fewer than one random
/// value in a thousand splits so (see the tests).
pub(crate) fn is_identifier(value: &[u8]) -> bool {
    let joint = |b: &u8| matches!(b, b'.' | b'_' | b'-' | b':' | b'$');
    if !value.iter().all(|b| b.is_ascii_alphanumeric() || joint(b)) {
        return false;
    }
    let joined = value.iter().any(joint);
    let (mut parts, mut words, mut word_letters, mut letters) = (0, 0, 0, 0);
    let (mut long_word, mut coded, mut short_coded) = (false, false, false);
    for chunk in value.split(joint) {
        if chunk.is_empty() {
            continue;
        }
        let split = camel_parts(chunk);
        let alone = joined && split.len() == 1;
        for part in split {
            parts += 1;
            letters += part.iter().filter(|b| b.is_ascii_alphabetic()).count();
            match identifier_part(part, alone) {
                Some(IdPart::Word) => {
                    words += 1;
                    long_word |= part.len() >= 5;
                    word_letters += part.len();
                }
                Some(IdPart::Coded) => coded = true,
                Some(IdPart::ShortCoded) => short_coded = true,
                None => return false,
            }
        }
    }
    parts >= 2 && long_word && (coded || short_coded) && word_letters * 2 >= letters && (!short_coded || words >= 2)
}

enum IdPart {
    /// `Embedding`, `key`, `ORACLE`.
    Word,
    /// `TPU`, `HMAC`, `x25519`, `SHA256`, `12`.
    Coded,
    /// `S3`, `V1`.
    ShortCoded,
}

/// What `part` is; `alone`: it stands alone between joints (`_V1`, `.ORACLE_`, `$1`).
fn identifier_part(part: &[u8], alone: bool) -> Option<IdPart> {
    let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let (alpha, digits) = part.split_at(letters);
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if alpha.is_empty() {
        return (alone && digits.len() <= 4).then_some(IdPart::Coded);
    }
    let upper = alpha.iter().all(u8::is_ascii_uppercase);
    let capitalized = alpha[1..].iter().all(u8::is_ascii_lowercase);
    if digits.is_empty() {
        let word = if upper { alone && alpha.len() >= 4 } else { capitalized && alpha.len() >= 3 };
        if word && pronounceable(alpha) {
            return Some(IdPart::Word);
        }
        return ((2..=6).contains(&alpha.len()) && upper).then_some(IdPart::Coded);
    }
    if digits.len() == 1 {
        return (upper && alpha.len() <= 2).then_some(IdPart::ShortCoded);
    }
    ((1..=6).contains(&alpha.len()) && (upper || capitalized) && digits.len() <= 6).then_some(IdPart::Coded)
}

/// A vowel (`y` counts) for every four letters, and no four consonants in a row: `Embedding`,
/// `Configuration`, `tensorflow`, not `Jwindl` or `umvplmn`.
fn pronounceable(word: &[u8]) -> bool {
    let vowel = |b: &u8| b"aeiouyAEIOUY".contains(b);
    word.iter().filter(|b| vowel(b)).count() * 4 >= word.len() && !word.windows(4).any(|w| !w.iter().any(vowel))
}

/// Split at case changes: before an upper-case letter that follows a lower-case letter or a
/// digit, and before the last capital of a run that a lower-case letter follows (`TPUEmbedding`
/// = `TPU` `Embedding`).
fn camel_parts(chunk: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chunk.len() {
        let (prev, cur) = (chunk[i - 1], chunk[i]);
        let next_lower = chunk.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        let boundary = cur.is_ascii_uppercase()
            && (prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower));
        if boundary {
            parts.push(&chunk[start..i]);
            start = i;
        }
    }
    parts.push(&chunk[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hashes() {
        let cases: &[(&str, bool)] = &[
            ("sha512-Vk3RZyKtIUP5YEMuxQNTAUDL6tHw6PZzgx5H+1Jsn8FmiJq+eK0lRZjrNmnmO+ybk0Ol4hkZPbpMVuLfaYCgPg==", true),
            ("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", true),
            ("sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC", true),
            ("sha1-2mEf5JSYo9i5EcoKqjj5X/4aGbY=", true),
            ("sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", true),
            ("h1:7cYmW1XlMY7h7ii7UhUyChSgS5wUJEnm9uZVTGqOWzg=", true),
            ("github:acme/auth-helpers#9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", true),
            // Not hashes: wrong length, a prefix alone, a bare hex value, a token.
            ("sha512-Vk3RZyKtIUP5YEMuxQNTAUDL6tHw6PZzgx5H", false),
            ("sha256:6c3c624b58dbbcd3c0dd82b4c53f0419", false),
            ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", false),
            ("h1:7cYmW1XlMY7h7ii7UhUyChSgS5wUJEnm9uZVTGqOW", false),
            ("l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm", false),
        ];
        for (value, want) in cases {
            assert_eq!(is_known_hash(value.as_bytes()), *want, "{value}");
        }
    }

    #[test]
    fn uuids() {
        assert!(is_uuid(b"14c950b1-43ec-4531-baeb-3c2e0d9a166e"));
        assert!(is_uuid(b"14C950B1-43EC-4531-BAEB-3C2E0D9A166E"));
        assert!(!is_uuid(b"14c950b1-43ec-4531-baeb-3c2e0d9a166"));
        assert!(!is_uuid(b"14c950b143ec4531baeb3c2e0d9a166e"));
    }

    #[test]
    fn identifiers() {
        let cases: &[(&str, bool)] = &[
            ("TPUEmbeddingConfiguration", true),
            ("X25519PrivateKey", true),
            ("x25519-sha256", false), // no word: an algorithm pair, too short to matter anyway
            ("curve25519-sha256-Kyber", false), // words are less than half of it
            ("HMACSHA256Signer", false), // ten capitals in a row are not an acronym
            ("HmacSha256Signer", true),
            ("EcdsaP384Verifier", true),
            ("tensorflow.TPUEmbedding", true),
            ("AES256Encryption", true),
            ("SSLContextFactory", true),
            // Qualified names, members, short codes between two words, a renamed binding.
            ("x25519.X25519PrivateKey", true),
            ("Ed448Signer.Mode.ValueType", true),
            ("AWS::S3::UseArnRegionAuthFlag", true),
            ("EnableS3AcceleratedTransfer", true),
            ("CommaToken$1", true),
            ("ORACLE_12_SOURCE", true),
            ("ReaderS3", false), // a short code beside one word only
            // Not identifiers: words alone (`is_wordy`'s), random values, passwords.
            ("CorrectHorseBattery", false),
            ("h3C6NsOAdgfDSSotrA", false),
            ("Zx81Kq0Lm2Np7Rt4Vw", false),
            ("l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm", false),
            ("Summer2024", false),
        ];
        for (value, want) in cases {
            assert_eq!(is_identifier(value.as_bytes()), *want, "{value}");
        }
    }

    /// A random value of the lengths the entropy detector reports, in base62 and base32 (12
    /// characters or more) or base64url (16 or more; its `-` and `_` are joints of names too),
    /// is almost never taken for a name.
    #[test]
    fn random_values_are_not_identifiers() {
        const ALPHABETS: [(&[u8], &[usize]); 3] = [
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", &[12, 16, 32]),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", &[16, 32]),
            (b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", &[12, 16, 32]),
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (alphabet, lengths) in ALPHABETS {
            for &len in lengths {
                let trials = 20_000;
                let taken = (0..trials)
                    .filter(|_| {
                        let value: Vec<u8> =
                            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                        is_identifier(&value) || is_known_hash(&value)
                    })
                    .count();
                assert!(
                    taken * 1000 <= trials,
                    "{len} characters of {}: {taken}/{trials} random values taken for names",
                    alphabet.len()
                );
            }
        }
    }

    /// Amazon Resource Names and URNs name things; they grant nothing.
    #[test]
    fn resource_names_are_structure() {
        for value in [
            "arn:aws:secretsmanager:eu-west-1:210987654321:secret:orders/db-Qz81Kw",
            "arn:aws-cn:kms:cn-north-1:210987654321:key/5d1f7c2e-8a3b-4c9d-b1e2-3f4a5b6c7d8e",
            "arn:aws:lambda:eu-west-1:210987654321:function:RotateOrdersSecret",
            "urn:ietf:params:oauth:token-type:jwt",
        ] {
            assert!(is_structured(value.as_bytes()), "{value}");
        }
        for value in ["arnold:Xk9mQ2vL7pA1", "arn:Xk9mQ2vL7pA1", "urn:Xk9mQ2vL7pA1"] {
            assert!(!is_structured(value.as_bytes()), "{value}");
        }
    }
}
