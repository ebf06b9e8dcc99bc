//! Checking a file's bytes against the digest its package database recorded: a [`Verifier`]
//! hashes chunks as a layer's tar streams them by, [`verify`] hashes bytes already in memory.
//! The answer is a [`Verdict`]; a mismatch carries both digests for the report.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha224, Sha256, Sha384, Sha512};

use super::{DigestAlgorithm, FileDigest, OwnedFile};

/// Whether a file's bytes are the ones its package installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes hash to the recorded digest: the file is as the package installed it.
    Matches,
    /// The bytes hash to something else: the file was changed after installation.
    Modified {
        /// The digest the package database recorded.
        expected: FileDigest,
        /// The digest of the bytes read.
        actual: FileDigest,
    },
    /// No digest was recorded (a directory's package, a RECORD line without a hash): owned, but
    /// nothing to check against.
    Unverified,
}

/// Hashes a file chunk by chunk and compares the result with the recorded digest.
///
/// ```
/// use layerdig::ownership::{DigestAlgorithm, FileDigest, OwnedFile, Ownership, Verdict, Verifier};
/// # let mut table = Ownership::new();
/// # let kind = layerdig::ownership::DatabaseKind::DpkgMd5sums;
/// # table.add(kind, b"var/lib/dpkg/info/x.md5sums", b"5eb63bbbe01eeed093cb22bb8f5acdc3  usr/x\n")?;
/// # let owned = table.owner(b"usr/x").unwrap().file;
/// let mut verifier = Verifier::new(owned);
/// verifier.update(b"hello ");
/// verifier.update(b"world");
/// assert_eq!(verifier.finish(), Verdict::Matches);
/// # Ok::<(), layerdig::ownership::OwnershipError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    state: Option<(FileDigest, Hasher)>,
}

#[derive(Debug, Clone)]
enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Verifier {
    /// A verifier for `owned`'s recorded digest; one for a file without one answers
    /// [`Verdict::Unverified`] and hashes nothing.
    pub fn new(owned: &OwnedFile) -> Verifier {
        let state = owned.digest.as_ref().map(|expected| {
            let hasher = match expected.algorithm {
                DigestAlgorithm::Md5 => Hasher::Md5(Md5::new()),
                DigestAlgorithm::Sha1 => Hasher::Sha1(Sha1::new()),
                DigestAlgorithm::Sha224 => Hasher::Sha224(Sha224::new()),
                DigestAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
                DigestAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
                DigestAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
            };
            (expected.clone(), hasher)
        });
        Verifier { state }
    }

    /// Hashes the next chunk of the file.
    pub fn update(&mut self, chunk: &[u8]) {
        match &mut self.state {
            None => {}
            Some((_, Hasher::Md5(h))) => h.update(chunk),
            Some((_, Hasher::Sha1(h))) => h.update(chunk),
            Some((_, Hasher::Sha224(h))) => h.update(chunk),
            Some((_, Hasher::Sha256(h))) => h.update(chunk),
            Some((_, Hasher::Sha384(h))) => h.update(chunk),
            Some((_, Hasher::Sha512(h))) => h.update(chunk),
        }
    }

    /// Whether the bytes hashed so far are the file as its package installed it.
    pub fn finish(self) -> Verdict {
        let Some((expected, hasher)) = self.state else {
            return Verdict::Unverified;
        };
        let bytes = match hasher {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        if bytes == expected.bytes {
            Verdict::Matches
        } else {
            let actual = FileDigest { algorithm: expected.algorithm, bytes };
            Verdict::Modified { expected, actual }
        }
    }
}

/// Whether `bytes`, a whole file, are the file as its package installed it.
pub fn verify(owned: &OwnedFile, bytes: &[u8]) -> Verdict {
    let mut verifier = Verifier::new(owned);
    verifier.update(bytes);
    verifier.finish()
}

/// The digests package databases record (MD5, SHA-1, SHA-256) of one file's bytes, taken when
/// the file had a finding and its bytes were still in memory, so that its owner can be judged
/// once the image's package databases are all read (they may come after the file, or in a later
/// layer). Files without findings are never hashed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDigests {
    md5: [u8; 16],
    sha1: [u8; 20],
    sha256: [u8; 32],
}

impl FileDigests {
    /// The digests of `bytes`.
    pub fn of(bytes: &[u8]) -> FileDigests {
        FileDigests {
            md5: Md5::digest(bytes).into(),
            sha1: Sha1::digest(bytes).into(),
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// Whether the bytes are the ones `owned` records: `None` when it records a digest of
    /// another algorithm (SHA-224, SHA-384, SHA-512), which was not taken.
    pub fn judge(&self, owned: &OwnedFile) -> Option<Verdict> {
        let Some(expected) = &owned.digest else { return Some(Verdict::Unverified) };
        let actual: &[u8] = match expected.algorithm {
            DigestAlgorithm::Md5 => &self.md5,
            DigestAlgorithm::Sha1 => &self.sha1,
            DigestAlgorithm::Sha256 => &self.sha256,
            DigestAlgorithm::Sha224 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => return None,
        };
        Some(if actual == expected.bytes.as_slice() {
            Verdict::Matches
        } else {
            Verdict::Modified {
                expected: expected.clone(),
                actual: FileDigest { algorithm: expected.algorithm, bytes: actual.to_vec() },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PackageId;
    use super::*;

    #[test]
    fn digests_taken_once_judge_every_recorded_algorithm() {
        const COPYRIGHT: &[u8] = include_bytes!("testdata/files/netbase-copyright");
        let digests = FileDigests::of(COPYRIGHT);
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Sha1, DigestAlgorithm::Sha256] {
            let right = owned_with(Some(digest_of(algorithm, COPYRIGHT)));
            assert_eq!(digests.judge(&right), Some(Verdict::Matches), "{algorithm}");
            let wrong = owned_with(Some(digest_of(algorithm, b"other bytes")));
            assert!(matches!(digests.judge(&wrong), Some(Verdict::Modified { .. })), "{algorithm}");
        }
        assert_eq!(digests.judge(&owned_with(Some(digest_of(DigestAlgorithm::Sha512, COPYRIGHT)))), None);
        assert_eq!(digests.judge(&owned_with(None)), Some(Verdict::Unverified));
    }

    fn owned_with(digest: Option<FileDigest>) -> OwnedFile {
        OwnedFile { package: PackageId(0), digest, conffile: false }
    }

    /// The digest of `bytes` as a database would record it, by the streaming verifier's hasher.
    fn digest_of(algorithm: DigestAlgorithm, bytes: &[u8]) -> FileDigest {
        let raw = match algorithm {
            DigestAlgorithm::Md5 => Md5::digest(bytes).to_vec(),
            DigestAlgorithm::Sha1 => Sha1::digest(bytes).to_vec(),
            DigestAlgorithm::Sha256 => Sha256::digest(bytes).to_vec(),
            DigestAlgorithm::Sha224 => Sha224::digest(bytes).to_vec(),
            DigestAlgorithm::Sha384 => Sha384::digest(bytes).to_vec(),
            DigestAlgorithm::Sha512 => Sha512::digest(bytes).to_vec(),
        };
        FileDigest { algorithm, bytes: raw }
    }

    fn owned(algorithm: DigestAlgorithm, hex: &str) -> OwnedFile {
        let digest = FileDigest::from_hex(algorithm, hex.as_bytes()).unwrap();
        OwnedFile { package: PackageId(0), digest: Some(digest), conffile: false }
    }

    /// Every algorithm, over the bytes of netbase's real copyright file (testdata/files),
    /// whose digests `md5sum`, `sha1sum`, `sha224sum`, `sha256sum`, `sha384sum` and `sha512sum`
    /// gave.
    #[test]
    fn every_algorithm_streamed_or_at_once() {
        const COPYRIGHT: &[u8] = include_bytes!("testdata/files/netbase-copyright");
        let cases = [
            (DigestAlgorithm::Md5, "78dd2c7c6f487348e4a0092c17a19d42"),
            (DigestAlgorithm::Sha1, SHA1),
            (DigestAlgorithm::Sha224, SHA224),
            (DigestAlgorithm::Sha256, SHA256),
            (DigestAlgorithm::Sha384, SHA384),
            (DigestAlgorithm::Sha512, SHA512),
        ];
        for (algorithm, hex) in cases {
            let file = owned(algorithm, hex);
            assert_eq!(verify(&file, COPYRIGHT), Verdict::Matches, "{algorithm}");
            for chunk in [1, 7, 64, 1000] {
                let mut verifier = Verifier::new(&file);
                for piece in COPYRIGHT.chunks(chunk) {
                    verifier.update(piece);
                }
                assert_eq!(verifier.finish(), Verdict::Matches, "{algorithm} in chunks of {chunk}");
            }
            let Verdict::Modified { expected, actual } = verify(&file, &COPYRIGHT[1..]) else {
                panic!("{algorithm}: a shortened file matched");
            };
            assert_eq!(expected.hex(), hex);
            assert_eq!((actual.algorithm, actual.bytes.len()), (algorithm, algorithm.digest_len()));
            assert_ne!(actual.hex(), hex);
        }
        let unowned = OwnedFile { package: PackageId(0), digest: None, conffile: false };
        assert_eq!(verify(&unowned, COPYRIGHT), Verdict::Unverified);
    }

    const SHA1: &str = "ed888a1f31b753739cde9435ff17fbab81aef830";
    const SHA224: &str = "87d146f907c59272185ea5ebf91bd5e32c5bdf9740b3faff1617f526";
    const SHA256: &str = "795b66147ea5ad692991caa7008ece551fb0fa88b9c53656223bd1518dc58ab2";
    const SHA384: &str =
        "24999cc73eee4f72a2a77607f4329649a2702dc284b52c80941a195df1586c101a170568d7e6bf73c3ada9f0c90f7c58";
    const SHA512: &str = "648025b06409bb7babf225a338243f6952fe7430e56618b7b6da9f4805d0095a5d4caada6209a5a048eb339ed690939f9221dff59a600170c873e2703a0178f8";
}
