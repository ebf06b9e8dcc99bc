//! The library's error type. Every variant names what it is about: the image, and where it
//! applies the layer (index and digest) and the path inside the layer.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::detect::RuleError;
use crate::image::digest::{Algorithm, Digest};
use crate::registry::RegistryErrorKind;

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
    /// No image of the input has the platform asked for.
    #[error("{}: no image for platform {wanted}", image.display())]
    NoPlatform {
        /// The image.
        image: PathBuf,
        /// The platform asked for.
        wanted: String,
    },
    /// The container engine (Docker's daemon, podman's service) did not give the image: it is
    /// not listening, has no such image, or answered with an error.
    #[error("{image}: {kind}")]
    Daemon {
        /// The image as it was named (`docker-daemon:NAME:TAG`).
        image: String,
        /// What went wrong.
        kind: DaemonErrorKind,
    },
    /// The worker threads could not be started.
    #[error("thread pool: {0}")]
    ThreadPool(String),
    /// A registry could not be read: the reference names the image, the kind says why.
    #[error("{image}: {kind}")]
    Registry {
        /// The image reference (`HOST/REPO:TAG`, `HOST/REPO@DIGEST`, or `HOST` for a sweep's
        /// repository list).
        image: String,
        /// What went wrong.
        kind: RegistryErrorKind,
    },
    /// The layer cache met a problem it recovered from (a corrupt entry dropped and the layer
    /// scanned again, a database file set aside and rebuilt, a result it could not keep). The
    /// scan is complete all the same.
    #[error("{0}")]
    Cache(String),
    /// A sink gave up (writing the report failed, or its reader went away).
    #[error("output: {0}")]
    Sink(#[from] SinkError),
}

/// Why a [`crate::Sink`] stopped a scan: its output failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing failed (a closed pipe, a full disk).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Anything else, said in words.
    #[error("{0}")]
    Other(String),
}

impl SinkError {
    /// Whether the reader went away (`layerdig … | head`): the scan should stop quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, SinkError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<serde_json::Error> for SinkError {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(kind) => SinkError::Io(std::io::Error::new(kind, e.to_string())),
            None => SinkError::Other(e.to_string()),
        }
    }
}

/// What kind of problem an error is: what the command line's hints and the Python package's
/// exception classes are chosen from, and what reports carry as `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or directory does not exist.
    NotFound,
    /// A file could not be read for lack of permission.
    PermissionDenied,
    /// Another I/O error.
    Io,
    /// The input is not an image layerdig understands, or its manifests are malformed.
    NotAnImage,
    /// No image of the input has the platform asked for.
    NoSuchPlatform,
    /// The manifest names a blob the image does not contain.
    MissingBlob,
    /// A blob or layer does not hash to its digest.
    DigestMismatch,
    /// A blob is not the size its descriptor gives.
    SizeMismatch,
    /// A compressed or tar stream is corrupt or cut short.
    Corrupt,
    /// A limit was reached (the per-layer cap); the part before it was read.
    LimitReached,
    /// The configuration does not describe a layer consistently.
    Inconsistent,
    /// The container engine could not be reached (not running, no socket, no permission).
    Unreachable,
    /// The container engine has no image of that name.
    NoSuchImage,
    /// A rule file is invalid.
    Rule,
    /// A registry refused the credentials, or wanted some.
    Unauthorized,
    /// A registry could not be reached, its TLS failed, or it kept answering with errors.
    Network,
    /// The output failed.
    Output,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Io => "io",
            ErrorKind::NotAnImage => "not_an_image",
            ErrorKind::NoSuchPlatform => "no_such_platform",
            ErrorKind::MissingBlob => "missing_blob",
            ErrorKind::DigestMismatch => "digest_mismatch",
            ErrorKind::SizeMismatch => "size_mismatch",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::LimitReached => "limit_reached",
            ErrorKind::Inconsistent => "inconsistent",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::NoSuchImage => "no_such_image",
            ErrorKind::Rule => "rule",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Network => "network",
            ErrorKind::Output => "output",
            ErrorKind::Other => "other",
        }
    }

    /// Whether it means the bytes read are not the bytes the image's manifest vouches for (a
    /// digest or size mismatch): the gate fails on it unless the policy allows it.
    pub fn is_integrity(self) -> bool {
        matches!(self, ErrorKind::DigestMismatch | ErrorKind::SizeMismatch)
    }

    /// What a person can do about a problem of this kind, if there is something to say.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            ErrorKind::DigestMismatch | ErrorKind::SizeMismatch => {
                "the image was corrupted or altered after it was built: export or pull it again and compare digests \
                 (a policy's [integrity] table can allow it, with a reason)"
            }
            ErrorKind::MissingBlob => {
                "the archive lacks a layer (a partial pull or export?): export the image again with all its layers"
            }
            ErrorKind::Corrupt => {
                "the file is damaged or was cut short: copy or export it again; the other layers were scanned"
            }
            ErrorKind::LimitReached => "the layer is huge or a decompression bomb; the part before the cap was scanned",
            ErrorKind::NotFound => "check the path, or the registry reference's repository, tag or digest",
            ErrorKind::Unauthorized => {
                "give credentials with --creds USER:PASSWORD or --authfile FILE (or log in with podman, skopeo or docker)"
            }
            ErrorKind::Network => {
                "check the registry's address; --cert-dir DIR trusts a private CA; --tls-verify=false turns verification off"
            }
            ErrorKind::PermissionDenied => "layerdig needs read access to the image files",
            ErrorKind::NoSuchPlatform => "list the image's platforms with `layerdig layers`, or drop --platform",
            ErrorKind::Unreachable => {
                "start the engine (Docker, or `podman system service`) or point DOCKER_HOST / --daemon-host at its socket"
            }
            ErrorKind::NoSuchImage => "list the engine's images with `docker images` or `podman images`",
            ErrorKind::NotAnImage => {
                "layerdig reads docker save archives, OCI layouts and oci-archives, layer tarballs and directories"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// The blob's size is not the one its descriptor gives: the bytes are not the ones the
    /// manifest vouches for. The layer is still scanned.
    #[error("blob size mismatch: the manifest says {expected} bytes, the blob has {actual}")]
    SizeMismatch {
        /// The size the descriptor gives.
        expected: u64,
        /// The blob's size.
        actual: u64,
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
    /// An archive or compressed file inside one of the layer's files (the error's path) could
    /// not be read to its end. What was read of it was scanned, and the layer goes on.
    #[error("{format} inside the file: {problem}")]
    Archive {
        /// `zip`, `tar`, `gzip`, `bzip2`, `xz` or `zstd`.
        format: &'static str,
        /// What stopped it.
        problem: ArchiveProblem,
    },
}

/// What went wrong asking a container engine for an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonErrorKind {
    /// The endpoint (`--daemon-host`, `DOCKER_HOST`) is not one the client can use.
    #[error("cannot use the daemon address {endpoint:?}: {reason}")]
    BadEndpoint {
        /// The address as given.
        endpoint: String,
        /// Why not.
        reason: String,
    },
    /// Nothing answers at the endpoint (no socket, connection refused, no answer).
    #[error("cannot reach the Docker daemon at {endpoint}: is it running? set DOCKER_HOST ({reason})")]
    Unreachable {
        /// The endpoint, `unix:///var/run/docker.sock` or `tcp://host:port`.
        endpoint: String,
        /// The operating system's or the exchange's words.
        reason: String,
    },
    /// The socket exists but this user may not open it.
    #[error(
        "permission denied opening the Docker daemon's socket at {endpoint} (run as a user who may, e.g. in the docker group, or point DOCKER_HOST at your own podman service)"
    )]
    PermissionDenied {
        /// The endpoint.
        endpoint: String,
    },
    /// The engine has no image of that name, digest or id.
    #[error("no such image {name} in the daemon at {endpoint}")]
    NoSuchImage {
        /// The name as asked for.
        name: String,
        /// The endpoint.
        endpoint: String,
    },
    /// The name cannot be an image name, tag, digest or id.
    #[error("{0:?} is not an image name (NAME[:TAG], NAME@sha256:…, or an image id)")]
    BadName(String),
    /// The engine answered a request with an error status.
    #[error("the daemon at {endpoint} answered {request} with {status}: {message}")]
    Status {
        /// The endpoint.
        endpoint: String,
        /// The request, `GET /images/…/json`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The engine's message, shortened.
        message: String,
    },
    /// The answer is not the Engine API's (not HTTP, malformed JSON, broken framing).
    #[error("the daemon at {endpoint} answered {request} with something that is not the Docker Engine API: {message}")]
    Protocol {
        /// The endpoint.
        endpoint: String,
        /// The request.
        request: String,
        /// What is wrong with it.
        message: String,
    },
    /// The image's export stream broke off or could not be read.
    #[error("reading the image from the daemon at {endpoint} failed: {message}")]
    Stream {
        /// The endpoint.
        endpoint: String,
        /// What happened.
        message: String,
    },
}

/// Why an archive inside a layer's file was not read to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// It is corrupt or cut short (or one of its entries is, or uses a method not supported).
    #[error("corrupt or cut short: {0}")]
    Corrupt(String),
    /// A limit stopped it (see `ArchiveLimits`): a decompression bomb, or an archive larger
    /// than the limits allow. The rest of it was not read.
    #[error("stopped at the limit on {limit} ({value}); the rest of it was not read")]
    Limit {
        /// Which limit.
        limit: &'static str,
        /// Its value.
        value: u64,
    },
    /// Its entries overlap: the mark of a zip bomb. It was not expanded.
    #[error("entries overlap or run past its end (a zip bomb?); it was not expanded")]
    OverlappingEntries,
}

struct DigestSuffix<'a>(Option<&'a Digest>);
impl fmt::Display for DigestSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(
                f,
                " ({}:{})",
                match d.algorithm() {
                    Algorithm::Sha256 => "sha256",
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
    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Io,
            },
            Error::ImageFormat { .. } => ErrorKind::NotAnImage,
            Error::NoPlatform { .. } => ErrorKind::NoSuchPlatform,
            Error::Layer { kind, .. } => match kind {
                LayerErrorKind::MissingBlob(_) => ErrorKind::MissingBlob,
                LayerErrorKind::DigestMismatch { .. } => ErrorKind::DigestMismatch,
                LayerErrorKind::SizeMismatch { .. } => ErrorKind::SizeMismatch,
                LayerErrorKind::Decompress { .. } | LayerErrorKind::Tar(_) => ErrorKind::Corrupt,
                LayerErrorKind::OutputCap { .. } => ErrorKind::LimitReached,
                LayerErrorKind::Read(_) => ErrorKind::Io,
                LayerErrorKind::Inconsistent(_) => ErrorKind::Inconsistent,
                LayerErrorKind::Archive { problem: ArchiveProblem::Corrupt(_), .. } => ErrorKind::Corrupt,
                LayerErrorKind::Archive { .. } => ErrorKind::LimitReached,
            },
            Error::Daemon { kind, .. } => match kind {
                DaemonErrorKind::BadEndpoint { .. }
                | DaemonErrorKind::Unreachable { .. }
                | DaemonErrorKind::PermissionDenied { .. } => ErrorKind::Unreachable,
                DaemonErrorKind::NoSuchImage { .. } | DaemonErrorKind::BadName(_) => ErrorKind::NoSuchImage,
                DaemonErrorKind::Stream { .. } => ErrorKind::Io,
                DaemonErrorKind::Status { .. } | DaemonErrorKind::Protocol { .. } => ErrorKind::Other,
            },
            Error::Rule(_) => ErrorKind::Rule,
            Error::Registry { kind, .. } => match kind {
                RegistryErrorKind::Unauthorized { .. } => ErrorKind::Unauthorized,
                RegistryErrorKind::ManifestUnknown { .. } | RegistryErrorKind::BlobUnknown { .. } => {
                    ErrorKind::NotFound
                }
                RegistryErrorKind::Tls { .. }
                | RegistryErrorKind::Connect { .. }
                | RegistryErrorKind::Status { .. } => ErrorKind::Network,
                RegistryErrorKind::Protocol(_) => ErrorKind::NotAnImage,
                RegistryErrorKind::Credentials(_) => ErrorKind::Unauthorized,
            },
            Error::Sink(_) => ErrorKind::Output,
            Error::ThreadPool(_) | Error::Cache(_) => ErrorKind::Other,
        }
    }

    /// Whether this error means results are incomplete: everything but a digest or size
    /// mismatch or an inconsistent config, after which the layer was still read in full (a
    /// mismatch fails the gate on its own, see [`ErrorKind::is_integrity`]), and a corrupt
    /// archive inside a file, of which everything there was to read was read. An archive
    /// stopped at a limit is incomplete: its bytes are there, unread.
    pub fn is_incomplete(&self) -> bool {
        !matches!(
            self,
            Error::Cache(_)
                | Error::Layer {
                    kind: LayerErrorKind::DigestMismatch { .. }
                        | LayerErrorKind::SizeMismatch { .. }
                        | LayerErrorKind::Inconsistent(_)
                        | LayerErrorKind::Archive { problem: ArchiveProblem::Corrupt(_), .. },
                    ..
                }
        )
    }
}
