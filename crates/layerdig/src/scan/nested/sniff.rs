//! What a file is, from its first bytes: the containers the scanner opens.

/// How many bytes of a file's start [`sniff`] needs: a tar header.
pub(super) const HEAD: usize = 512;

/// A container format recognised by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A zip archive (jar, war, ear, aar, apk, whl, egg, nupkg, vsix, xpi, zip, …): a local file
    /// header at the start.
    Zip,
    /// A tar archive: the `ustar` magic of POSIX and GNU headers, with a valid header checksum.
    Tar,
    /// A gzip stream.
    Gzip,
    /// A bzip2 stream.
    Bzip2,
    /// An xz stream.
    Xz,
    /// A zstd frame.
    Zstd,
}

impl Kind {
    /// The format's name in reports.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
        }
    }

    /// The name a compressed file's content goes by inside it: `dump.sql.gz` holds `dump.sql`,
    /// `backup.tgz` a `backup.tar`. Used only when the content is not itself a tar (a tar's
    /// entries are named directly under the compressed file).
    pub(super) fn inner_name(self, outer: &[u8]) -> Vec<u8> {
        let base = outer.rsplit(|&b| b == b'/').next().unwrap_or(outer);
        let lower = base.to_ascii_lowercase();
        let suffixes: &[(&[u8], &[u8])] = match self {
            Kind::Gzip => &[(b".tgz", b".tar"), (b".gz", b""), (b".gzip", b""), (b".z", b"")],
            Kind::Bzip2 => &[(b".tbz2", b".tar"), (b".tbz", b".tar"), (b".bz2", b""), (b".bz", b"")],
            Kind::Xz => &[(b".txz", b".tar"), (b".xz", b"")],
            Kind::Zstd => &[(b".tzst", b".tar"), (b".zst", b""), (b".zstd", b"")],
            Kind::Zip | Kind::Tar => &[],
        };
        for (suffix, replacement) in suffixes {
            if lower.ends_with(suffix) && lower.len() > suffix.len() {
                let mut name = base[..base.len() - suffix.len()].to_vec();
                name.extend_from_slice(replacement);
                return name;
            }
        }
        let mut name = base.to_vec();
        name.extend_from_slice(b".out");
        name
    }
}

/// The container `head` (a file's first bytes, up to [`HEAD`]) starts, if any.
pub(super) fn sniff(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"PK\x03\x04") {
        return Some(Kind::Zip);
    }
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Some(Kind::Gzip);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Kind::Zstd);
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Some(Kind::Xz);
    }
    // "BZh", the block size '1'..'9', then a block's magic (pi) or the end-of-stream magic
    // (sqrt(pi)) of an empty stream.
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59] || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Some(Kind::Bzip2);
    }
    if is_tar_header(head) {
        return Some(Kind::Tar);
    }
    None
}

/// A POSIX or GNU tar header: `ustar` at offset 257 and a checksum that adds up.
fn is_tar_header(head: &[u8]) -> bool {
    if head.len() < HEAD || &head[257..262] != b"ustar" {
        return false;
    }
    // The checksum field (148..156) is octal, counted as if it were eight spaces.
    let field = &head[148..156];
    let digits: Vec<u8> =
        field.iter().copied().skip_while(|b| *b == b' ').take_while(|b| (b'0'..=b'7').contains(b)).collect();
    if digits.is_empty() {
        return false;
    }
    let Ok(text) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(stored) = u32::from_str_radix(text, 8) else {
        return false;
    };
    let sum: u32 = head[..HEAD]
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(b) })
        .sum();
    sum == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_their_bytes() {
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), Some(Kind::Zip));
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0, 0]), Some(Kind::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x04]), Some(Kind::Zstd));
        assert_eq!(sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00]), Some(Kind::Xz));
        assert_eq!(sniff(b"BZh91AY&SY\x00"), Some(Kind::Bzip2));
        // Text that merely starts like them is not.
        assert_eq!(sniff(b"PK is a file"), None);
        assert_eq!(sniff(b"BZh9 is not bzip2"), None);
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(&[]), None);
    }

    #[test]
    fn tar_needs_magic_and_checksum() {
        let mut header = tar::Header::new_ustar();
        header.set_path("etc/app.env").unwrap();
        header.set_size(3);
        header.set_cksum();
        let bytes = header.as_bytes().to_vec();
        assert_eq!(sniff(&bytes), Some(Kind::Tar));
        let mut gnu = tar::Header::new_gnu();
        gnu.set_path("a").unwrap();
        gnu.set_cksum();
        assert_eq!(sniff(gnu.as_bytes()), Some(Kind::Tar));
        let mut broken = bytes.clone();
        broken[0] ^= 1;
        assert_eq!(sniff(&broken), None, "checksum off by one");
        assert_eq!(sniff(&bytes[..300]), None, "too short to be a header");
    }

    #[test]
    fn inner_names() {
        assert_eq!(Kind::Gzip.inner_name(b"backup/dump.sql.gz"), b"dump.sql");
        assert_eq!(Kind::Gzip.inner_name(b"a/site.tgz"), b"site.tar");
        assert_eq!(Kind::Xz.inner_name(b"x.txz"), b"x.tar");
        assert_eq!(Kind::Zstd.inner_name(b"x.ZST"), b"x");
        assert_eq!(Kind::Bzip2.inner_name(b"blob"), b"blob.out");
        assert_eq!(Kind::Gzip.inner_name(b".gz"), b".gz.out");
    }
}
