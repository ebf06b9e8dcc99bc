//! The library's error type. Every variant names what it is about: the image, and where it
//! applies the layer (index and digest) and the path inside the layer.

use std::fmt;
use std::path::PathBuf;

use crate::detect::RuleError;
use crate::image::Digest;

/// Everything that can go wrong reading an image or scanning it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not an image layerdig understands, or its manifests are malformed.
    #[error("{}: {message}", image.display())]
    ImageFormat {
        /// The image.
        image: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A problem in one layer. The other layers are unaffected.
    #[error("{}: layer {layer}{}{}: {kind}", image.display(), DigestSuffix(digest.as_ref()), PathSuffix(path.as_deref()))]
    Layer {
        /// The image.
        image: PathBuf,
        /// The layer's index, base layer 0.
        layer: usize,
        /// The layer's digest, when known.
        digest: Option<Digest>,
        /// The path inside the layer the problem is at, when it is at one.
        path: Option<String>,
        /// What went wrong.
        kind: LayerErrorKind,
    },
    /// A rule file is invalid.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A sink gave up.
    #[error("output: {0}")]
    Sink(String),
}

/// What went wrong in a layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerErrorKind {
    /// The manifest names a blob the image does not contain.
    #[error("blob missing from the image: {0}")]
    MissingBlob(String),
    /// The blob or its uncompressed stream does not hash to the digest the manifest or config
    /// gives. This is evidence of corruption or tampering; the layer is still scanned.
    #[error("{what} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// `blob` (the compressed blob against the manifest) or `diff_id` (the uncompressed
        /// stream against the config's rootfs.diff_ids).
        what: &'static str,
        /// The digest the image claims.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// The compressed stream is corrupt or truncated.
    #[error("{format} stream is corrupt or truncated: {message}")]
    Decompress {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The tar stream is corrupt or truncated.
    #[error("tar stream is corrupt or truncated: {0}")]
    Tar(String),
    /// The layer's uncompressed size passed the per-layer cap (a decompression bomb or a
    /// legitimately huge layer: raise the cap to read on).
    #[error("uncompressed output passed the per-layer cap of {cap} bytes; the rest of the layer was not read")]
    OutputCap {
        /// The cap in bytes.
        cap: u64,
    },
    /// An I/O error while reading the layer.
    #[error("read error: {0}")]
    Read(String),
    /// The configuration does not describe this layer consistently.
    #[error("{0}")]
    Inconsistent(String),
}

struct DigestSuffix<'a>(Option<&'a Digest>);
impl fmt::Display for DigestSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(
                f,
                " ({}:{})",
                match d.algorithm() {
                    crate::image::Algorithm::Sha256 => "sha256",
                    _ => "digest",
                },
                d.short()
            ),
            None => Ok(()),
        }
    }
}

struct PathSuffix<'a>(Option<&'a str>);
impl fmt::Display for PathSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, ", path /{p}"),
            None => Ok(()),
        }
    }
}

impl Error {
    /// The layer this error is about, if it is about one.
    pub fn layer(&self) -> Option<usize> {
        match self {
            Error::Layer { layer, .. } => Some(*layer),
            _ => None,
        }
    }

    /// Whether this error means results are incomplete (everything but a digest mismatch,
    /// after which the layer was still read in full).
    pub fn is_incomplete(&self) -> bool {
        !matches!(
            self,
            Error::Layer { kind: LayerErrorKind::DigestMismatch { .. } | LayerErrorKind::Inconsistent(_), .. }
        )
    }
}
