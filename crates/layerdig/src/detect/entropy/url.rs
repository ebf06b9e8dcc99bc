//! The URL parser: the password in the userinfo of `scheme://user:pass@host`.

/// Marks a URL; the userinfo detector looks for `user:pass@` after it.
pub(crate) const URL_MARKER: &str = "://";

/// The password of `scheme://user:pass@host` around the `://` at `marker`: `(user, pass)` spans.
pub(crate) fn parse_url_password(data: &[u8], marker: usize) -> Option<((usize, usize), (usize, usize))> {
    let mut s = marker;
    while s > 0 && marker - s < 32 && (data[s - 1].is_ascii_alphanumeric() || matches!(data[s - 1], b'+' | b'.' | b'-'))
    {
        s -= 1;
    }
    if marker - s < 2 || !data[s].is_ascii_alphabetic() {
        return None;
    }
    let start = marker + URL_MARKER.len();
    let mut j = start;
    while j < data.len()
        && j - start < 512
        && !data[j].is_ascii_whitespace()
        && !matches!(data[j], b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
    {
        j += 1;
    }
    let at = start + data[start..j].iter().rposition(|&b| b == b'@')?;
    if at + 1 >= j {
        return None; // no host
    }
    let colon = start + data[start..at].iter().position(|&b| b == b':')?;
    (colon + 1 < at).then_some(((start, colon), (colon + 1, at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords() {
        let cases: &[(&str, Option<&str>)] = &[
            ("postgres://app:h3C6NsOAdgfDSSotrA@db:5432/app", Some("h3C6NsOAdgfDSSotrA")),
            ("redis://:s3cret@cache", Some("s3cret")),
            ("https://u:p@ss@host/x", Some("p@ss")),
            ("https://example.com/a:b@c", None),
            ("https://user@host", None),
            ("https://user:@host", None),
            ("https://user:pw@", None),
            ("x://a:b@c", None),
        ];
        for (text, want) in cases {
            let marker = text.find("://").unwrap();
            let got = parse_url_password(text.as_bytes(), marker).map(|(_, p)| &text[p.0..p.1]);
            assert_eq!(got, *want, "{text}");
        }
    }
}
