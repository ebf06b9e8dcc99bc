//! What can go wrong talking to a registry, as a kind the command line, the Python package and
//! reports can tell apart. No variant carries a password, a token or an `Authorization` header:
//! the messages are built from status codes, the registry's own error codes, host names,
//! repositories, tags and digests only.

use std::fmt;

/// What went wrong talking to a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryErrorKind {
    /// The registry refused the credentials (HTTP 401 or 403), or wanted some and had none.
    #[error("unauthorized for {repository}: check --creds or --authfile")]
    Unauthorized {
        /// The repository (or `catalog` for the repository list).
        repository: String,
    },
    /// No manifest has that tag or digest (HTTP 404, `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`).
    #[error("manifest unknown: {repository}:{reference} is not in the registry")]
    ManifestUnknown {
        /// The repository.
        repository: String,
        /// The tag or digest asked for.
        reference: String,
    },
    /// No blob has that digest (HTTP 404, `BLOB_UNKNOWN`).
    #[error("blob unknown: {repository}@{digest} is not in the registry")]
    BlobUnknown {
        /// The repository.
        repository: String,
        /// The digest asked for.
        digest: String,
    },
    /// The TLS handshake failed: the certificate's problem, as the verifier named it.
    #[error("TLS with {host} failed: {problem}{}", TlsHint(problem))]
    Tls {
        /// The registry's host and port.
        host: String,
        /// The verifier's or the handshake's message (`invalid peer certificate: UnknownIssuer`).
        problem: String,
    },
    /// The connection could not be made or was lost (refused, reset, timed out, no such host).
    #[error("cannot reach {host}: {problem}")]
    Connect {
        /// The registry's host and port.
        host: String,
        /// What happened.
        problem: String,
    },
    /// The registry answered with an error status layerdig does not retry, or kept answering with
    /// one it retries (429, 5xx) after the last attempt.
    #[error("{what}: HTTP {status}{}{}", Attempts(*attempts), Message(message))]
    Status {
        /// What was asked for (`manifest REPO:TAG`, `blob REPO@DIGEST`, `tag list of REPO`).
        what: String,
        /// The last status code.
        status: u16,
        /// How many attempts were made.
        attempts: u32,
        /// The registry's error codes and messages, when it sent the JSON error body.
        message: String,
    },
    /// The registry's answer is not what the distribution API says it is (a manifest of an
    /// unknown media type, a manifest larger than the limit, JSON that does not parse, a manifest
    /// whose bytes do not hash to the digest it was asked by).
    #[error("{0}")]
    Protocol(String),
    /// The credentials could not be read (an auth file that does not parse, a credential helper
    /// that failed, `--creds` without a colon).
    #[error("credentials: {0}")]
    Credentials(String),
}

impl RegistryErrorKind {
    /// Whether a person can fix it by giving other credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, RegistryErrorKind::Unauthorized { .. })
    }

    /// Whether it says that what was asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryErrorKind::ManifestUnknown { .. } | RegistryErrorKind::BlobUnknown { .. })
    }
}

struct TlsHint<'a>(&'a str);
impl fmt::Display for TlsHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains("certificate") {
            f.write_str(" (trust the registry's CA with --cert-dir DIR holding it as a *.crt file)")
        } else {
            Ok(())
        }
    }
}

struct Attempts(u32);
impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 1 { write!(f, " after {} attempts", self.0) } else { Ok(()) }
    }
}

struct Message<'a>(&'a str);
impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { Ok(()) } else { write!(f, " ({})", self.0) }
    }
}
