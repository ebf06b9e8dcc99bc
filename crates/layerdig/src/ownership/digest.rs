//! The digest a package database records for a file ([`FileDigest`]) and the text forms the
//! databases write it in: hex (dpkg's MD5, Debian's RECORD files), standard base64 (apk's `Q1…`)
//! and URL-safe base64 without padding (wheel RECORD files).

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Serialize, Serializer};

/// The hash algorithm of a [`FileDigest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// MD5: dpkg's `.md5sums` and `Conffiles:`.
    Md5,
    /// SHA-1: apk's `Z:` checksums.
    Sha1,
    /// SHA-224: one of the file digest algorithms rpm allows.
    Sha224,
    /// SHA-256: wheel RECORD files, rpm's default file digest.
    Sha256,
    /// SHA-384: allowed in RECORD files.
    Sha384,
    /// SHA-512: allowed in RECORD files; some rpm distributions' file digest.
    Sha512,
}

impl DigestAlgorithm {
    /// The lowercase name, as RECORD files and reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "md5",
            DigestAlgorithm::Sha1 => "sha1",
            DigestAlgorithm::Sha224 => "sha224",
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The length of a digest of this algorithm, in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 16,
            DigestAlgorithm::Sha1 => 20,
            DigestAlgorithm::Sha224 => 28,
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    /// The algorithm a RECORD file names (`sha256`), if layerdig computes it.
    pub(crate) fn from_record_name(name: &[u8]) -> Option<DigestAlgorithm> {
        Some(match name {
            b"md5" => DigestAlgorithm::Md5,
            b"sha1" => DigestAlgorithm::Sha1,
            b"sha224" => DigestAlgorithm::Sha224,
            b"sha256" => DigestAlgorithm::Sha256,
            b"sha384" => DigestAlgorithm::Sha384,
            b"sha512" => DigestAlgorithm::Sha512,
            _ => return None,
        })
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file's digest as a package database records it, or as layerdig computed it.
///
/// Displayed as `algorithm:hex` (`md5:0c247591a720f534fe543401bd4844d6`), the way reports write
/// the expected and the actual digest of a modified file.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FileDigest {
    /// The hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// The raw digest, [`DigestAlgorithm::digest_len`] bytes.
    pub bytes: Vec<u8>,
}

impl FileDigest {
    /// The digest in lowercase hex, without the algorithm.
    pub fn hex(&self) -> String {
        crate::vocab::hex(&self.bytes)
    }

    /// A digest from its hex text (either case), if it is `algorithm`'s length.
    pub(crate) fn from_hex(algorithm: DigestAlgorithm, text: &[u8]) -> Option<FileDigest> {
        if text.len() != algorithm.digest_len() * 2 {
            return None;
        }
        let nibble = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        };
        let bytes =
            text.chunks_exact(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect::<Option<_>>()?;
        Some(FileDigest { algorithm, bytes })
    }

    /// A digest from base64 text, standard or URL-safe alphabet, padded or not, if it decodes to
    /// `algorithm`'s length.
    pub(crate) fn from_base64(algorithm: DigestAlgorithm, text: &[u8]) -> Option<FileDigest> {
        const CONFIG: GeneralPurposeConfig =
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
        const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
        let url_safe = text.iter().any(|&b| b == b'-' || b == b'_');
        let bytes = if url_safe { URL_SAFE.decode(text) } else { STANDARD.decode(text) }.ok()?;
        (bytes.len() == algorithm.digest_len()).then_some(FileDigest { algorithm, bytes })
    }

    /// A digest written either in hex or in base64, told apart by length.
    pub(crate) fn from_hex_or_base64(algorithm: DigestAlgorithm, text: &[u8]) -> Option<FileDigest> {
        FileDigest::from_hex(algorithm, text).or_else(|| FileDigest::from_base64(algorithm, text))
    }
}

impl fmt::Display for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex())
    }
}

impl fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileDigest({self})")
    }
}

impl Serialize for FileDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        // SHA-256 of jsonpointer.py (testdata/files), as pip and as Debian write it.
        let hex = "8fcd6596bee332f11d024e38845a988e787e2c0faec2e5fe791e156d165cc277";
        let b64 = "j81llr7jMvEdAk44hFqYjnh-LA-uwuX-eR4VbRZcwnc";
        let from_hex = FileDigest::from_hex_or_base64(DigestAlgorithm::Sha256, hex.as_bytes()).unwrap();
        let from_b64 = FileDigest::from_hex_or_base64(DigestAlgorithm::Sha256, b64.as_bytes()).unwrap();
        assert_eq!(from_hex, from_b64);
        assert_eq!(from_hex.to_string(), format!("sha256:{hex}"));
        let upper = FileDigest::from_hex(DigestAlgorithm::Sha256, hex.to_uppercase().as_bytes()).unwrap();
        assert_eq!(upper, from_hex);
        // Padded URL-safe and standard alphabets are accepted too.
        assert_eq!(FileDigest::from_base64(DigestAlgorithm::Sha256, format!("{b64}=").as_bytes()), Some(from_b64));
        let apk = FileDigest::from_base64(DigestAlgorithm::Sha1, b"BD6zJKZTRWyqGnPi4tSfd3krsMU=").unwrap();
        assert_eq!(apk.hex(), "043eb324a653456caa1a73e2e2d49f77792bb0c5");

        for (algorithm, bad) in [
            (DigestAlgorithm::Md5, &b"0c247591a720f534fe543401bd4844d"[..]),
            (DigestAlgorithm::Md5, b"0c247591a720f534fe543401bd4844dg"),
            (DigestAlgorithm::Sha256, b"j81llr7jMvEdAk44hFqYjnh-LA-uwuX-eR4VbRZcwn"),
            (DigestAlgorithm::Sha256, b"not base64 at all!"),
            (DigestAlgorithm::Sha1, b""),
        ] {
            assert_eq!(FileDigest::from_hex_or_base64(algorithm, bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
