//! What a tar header and its PAX records hold besides structure: the bytes of a header block
//! that no field uses, and PAX records whose values describe nothing an extractor applies. Both
//! travel with the layer, unseen by a runtime, readable by anyone who pulls it.

use std::ops::Range;

/// The unused ranges of a 512-byte tar header block, by format: after the NUL ending each
/// string field, and the fields no reader looks at. POSIX ustar (magic `ustar\0`): name, link
/// name, user, group and prefix slack and the 12-byte tail; GNU (`ustar  \0`): name, link name,
/// user and group slack, the unused byte and long-names field, the sparse map of an entry that
/// is not sparse, and the 17-byte tail; the old V7 format: everything past the link name.
fn unused_ranges(block: &[u8; 512]) -> Vec<Range<usize>> {
    fn after_nul(block: &[u8; 512], field: Range<usize>) -> Option<Range<usize>> {
        let at = block[field.clone()].iter().position(|&b| b == 0)?;
        Some(field.start + at + 1..field.end)
    }
    let mut out: Vec<Range<usize>> = [0..100, 157..257].into_iter().filter_map(|f| after_nul(block, f)).collect();
    match &block[257..265] {
        b"ustar\x0000" | [b'u', b's', b't', b'a', b'r', 0, ..] => {
            out.extend([265..297, 297..329, 345..500].into_iter().filter_map(|f| after_nul(block, f)));
            out.push(500..512);
        }
        b"ustar  \0" => {
            out.extend([265..297, 297..329].into_iter().filter_map(|f| after_nul(block, f)));
            out.push(381..386);
            if block[156] != b'S' {
                out.push(386..495);
            }
            out.push(495..512);
        }
        _ => out.push(257..512),
    }
    out
}

/// The bytes of header `block` that no field uses and are not zero: each unused range from its
/// first to its last non-zero byte, joined by newlines (so a value in one does not run into the
/// next), and how many bytes that is. Empty when the header is clean, as every common tar writer
/// leaves it.
pub(super) fn header_slack(block: &[u8; 512]) -> (Vec<u8>, u64) {
    let mut text = Vec::new();
    let mut count = 0u64;
    for range in unused_ranges(block) {
        let bytes = &block[range];
        let Some(first) = bytes.iter().position(|&b| b != 0) else { continue };
        let last = bytes.iter().rposition(|&b| b != 0).unwrap_or(first);
        if !text.is_empty() {
            text.push(b'\n');
        }
        text.extend_from_slice(&bytes[first..=last]);
        count += (last - first) as u64 + 1;
    }
    (text, count)
}

/// One record of a PAX extended header: `LEN KEY=VALUE\n`, where it starts in the header's
/// data, and where its value is.
pub(super) struct PaxRecord<'a> {
    pub(super) key: &'a [u8],
    pub(super) value: &'a [u8],
    /// Offset of the value in the extended header's data.
    pub(super) value_at: usize,
}

/// The records of a PAX extended header's data, as far as they are well formed.
pub(super) fn pax_records(data: &[u8]) -> Vec<PaxRecord<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        let Some(space) = rest.iter().position(|&b| b == b' ') else { break };
        let Some(len) = std::str::from_utf8(&rest[..space]).ok().and_then(|s| s.parse::<usize>().ok()) else {
            break;
        };
        if len <= space + 1 || len > rest.len() {
            break;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let Some(eq) = record.iter().position(|&b| b == b'=') else { break };
        out.push(PaxRecord { key: &record[..eq], value: &record[eq + 1..], value_at: at + space + 1 + eq + 1 });
        at += len;
    }
    out
}

/// Whether a PAX record's value is structure: a keyword POSIX defines for what an extractor
/// applies (names, sizes, owners, times, character sets), GNU's sparse-file map, star's and
/// libarchive's file attributes, and extended attributes in the namespaces a runtime applies
/// and the kernel interprets (`security.`, `system.`, `trusted.`). Every other value — a
/// `comment`, a vendor or unknown keyword, a `user.` attribute — is data no file holds.
pub(super) fn pax_is_structure(key: &[u8]) -> bool {
    const POSIX: [&[u8]; 12] = [
        b"path",
        b"linkpath",
        b"size",
        b"uid",
        b"gid",
        b"uname",
        b"gname",
        b"mtime",
        b"atime",
        b"ctime",
        b"charset",
        b"hdrcharset",
    ];
    if POSIX.contains(&key) || key.starts_with(b"GNU.sparse.") {
        return true;
    }
    const ATTRIBUTES: [&[u8]; 6] = [
        b"SCHILY.dev",
        b"SCHILY.ino",
        b"SCHILY.nlink",
        b"SCHILY.fflags",
        b"SCHILY.filetype",
        b"LIBARCHIVE.creationtime",
    ];
    if ATTRIBUTES.contains(&key) {
        return true;
    }
    let xattr = key.strip_prefix(b"SCHILY.xattr.").or_else(|| key.strip_prefix(b"LIBARCHIVE.xattr."));
    xattr.is_some_and(|name| [&b"security."[..], b"system.", b"trusted."].iter().any(|ns| name.starts_with(ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ustar(name: &[u8]) -> [u8; 512] {
        let mut h = tar::Header::new_ustar();
        h.set_path(std::str::from_utf8(name).unwrap_or("x")).unwrap_or(());
        h.set_size(0);
        h.set_cksum();
        let mut block = [0u8; 512];
        block.copy_from_slice(h.as_bytes());
        block
    }

    #[test]
    fn clean_headers_have_no_slack_and_dirty_ones_do() {
        for mut block in [ustar(b"etc/passwd"), *tar::Header::new_gnu().as_bytes(), *tar::Header::new_old().as_bytes()]
        {
            assert_eq!(header_slack(&block).1, 0);
            // After the name's NUL.
            block[40..50].copy_from_slice(b"AKIA123456");
            let (text, count) = header_slack(&block);
            assert_eq!(count, 10);
            assert_eq!(text, b"AKIA123456");
        }
        let mut block = ustar(b"a");
        block[505..512].copy_from_slice(b"secret!");
        block[350] = b'x'; // in the (empty) prefix
        assert_eq!(header_slack(&block), (b"x\nsecret!".to_vec(), 1 + 7));
        // A field filled to its end has no slack.
        let full = ustar(&[b'n'; 100]);
        assert_eq!(header_slack(&full).1, 0);
    }

    #[test]
    fn pax_records_parse_with_offsets() {
        let data = b"30 mtime=1700000000.123456789\n19 comment=note me\n9 bad\n";
        let records = pax_records(data);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].key, b"comment");
        assert_eq!(records[1].value, b"note me");
        assert_eq!(&data[records[1].value_at..records[1].value_at + 7], b"note me");
        assert!(pax_is_structure(b"mtime"));
        assert!(pax_is_structure(b"SCHILY.xattr.security.capability"));
        assert!(!pax_is_structure(b"comment"));
        assert!(!pax_is_structure(b"SCHILY.xattr.user.note"));
        assert!(!pax_is_structure(b"VENDOR.token"));
        // A length past the end, or none, stops the parse without a panic.
        assert!(pax_records(b"999 path=x\n").is_empty());
        assert!(pax_records(b"path=x").is_empty());
        assert!(pax_records(b"3 \n").is_empty());
    }
}
