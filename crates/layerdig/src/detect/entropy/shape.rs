//! Shapes that secrets do not have: structure (URLs, e-mail addresses, `host:port`, dates,
//! code) and words. Entropy alone cannot tell these from secrets: `com.mysql.jdbc.Driver` has
//! 3.9 bits a character.

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
