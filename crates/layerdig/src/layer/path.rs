//! Path normalisation for tar entry names.

/// Normalise a tar entry name into `out`: strip leading `./` and `/`, drop empty and `.`
/// components, resolve `..` (never above the root). Bytes are kept as they are, so names that
/// are not UTF-8 survive.
pub fn normalize(name: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut starts: Vec<usize> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start.saturating_sub(usize::from(start > 0)));
                }
            }
            p => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                starts.push(out.len());
                out.extend_from_slice(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"./app/.env", b"app/.env"),
            (b"/etc/passwd", b"etc/passwd"),
            (b"app//x/./y/", b"app/x/y"),
            (b"a/b/../c", b"a/c"),
            (b"../../etc/shadow", b"etc/shadow"),
            (b"a/../../b", b"b"),
            (b".", b""),
            (b"caf\xe9/\xff", b"caf\xe9/\xff"),
        ];
        let mut out = Vec::new();
        for (input, want) in cases {
            normalize(input, &mut out);
            assert_eq!(&out[..], *want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
