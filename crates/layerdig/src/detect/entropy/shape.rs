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
/// followed by a lower-case one.
pub(crate) fn is_word(part: &[u8]) -> bool {
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

/// A type or algorithm name: parts between `. _ - :` and at case changes
/// (`TPUEmbeddingConfiguration` = `TPU` `Embedding` `Configuration`, `X25519PrivateKey` =
/// `X25519` `Private` `Key`) that are all words (three letters or more, pronounceable),
/// acronyms (2 to 6 capitals) or algorithm names (1 to 6 letters, then 2 to 6 digits: `x25519`,
/// `Sha256`, `P384`), with at least one word of five letters or more, words for at least half
/// the value, and at least one acronym or algorithm name (values of words alone are
/// [`is_wordy`]'s). Fewer than one random value of 12 characters in a thousand splits so.
pub(crate) fn is_identifier(value: &[u8]) -> bool {
    let mut parts = 0;
    let mut long_word = false;
    let mut word_letters = 0;
    let mut coded = false;
    for chunk in value.split(|b| matches!(b, b'.' | b'_' | b'-' | b':')) {
        if chunk.is_empty() {
            continue;
        }
        for part in camel_parts(chunk) {
            parts += 1;
            match identifier_part(part) {
                Some(IdPart::Word) => {
                    long_word |= part.len() >= 5;
                    word_letters += part.len();
                }
                Some(IdPart::Coded) => coded = true,
                None => return false,
            }
        }
    }
    parts >= 2 && long_word && coded && word_letters * 2 >= value.len()
}

enum IdPart {
    /// `Embedding`, `key`: three letters or more, capitalized or lower case, with a vowel.
    Word,
    /// An acronym (`TPU`, `HMAC`) or an algorithm name (`x25519`, `SHA256`).
    Coded,
}

fn identifier_part(part: &[u8]) -> Option<IdPart> {
    let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let (alpha, digits) = part.split_at(letters);
    let upper = !alpha.is_empty() && alpha.iter().all(u8::is_ascii_uppercase);
    let capitalized = !alpha.is_empty() && alpha[1..].iter().all(u8::is_ascii_lowercase);
    if digits.is_empty() {
        if (2..=6).contains(&alpha.len()) && upper {
            return Some(IdPart::Coded);
        }
        return (alpha.len() >= 3 && capitalized && pronounceable(alpha)).then_some(IdPart::Word);
    }
    let coded = (1..=6).contains(&alpha.len())
        && (upper || capitalized)
        && (2..=6).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit);
    coded.then_some(IdPart::Coded)
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

    /// A random base62 value of 12 or 32 characters is almost never taken for an identifier.
    #[test]
    fn random_values_are_not_identifiers() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [12, 16, 32] {
            let trials = 20_000;
            let taken = (0..trials)
                .filter(|_| {
                    let value: Vec<u8> = (0..len).map(|_| ALPHABET[(next() % 62) as usize]).collect();
                    is_identifier(&value) || is_known_hash(&value)
                })
                .count();
            assert!(taken * 1000 <= trials, "{len} characters: {taken}/{trials} random values taken for names");
        }
    }
}
