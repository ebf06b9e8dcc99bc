//! Images where they live: a client of the OCI distribution API (registries such as Docker
//! Hub, GHCR, Harbor, a `docker-registry` of your own), read as the scanner reads any other
//! input.
//!
//! A registry image is read like an OCI image layout whose blobs are fetched on demand:
//! manifests and configs into memory (at most [`MAX_DOCUMENT`] bytes each, verified against
//! their digests), layers streamed straight into the layer walker, several at once on the
//! scanner's threads. Nothing is written to disk.
//!
//! - [`Client`]: one registry. `GET /v2/` first (which scheme, which authentication), then
//!   [`Client::manifest`], [`Client::blob_bytes`], [`Client::blob_reader`], [`Client::catalog`],
//!   [`Client::tags`].
//! - Authentication: anonymous, Basic, or the Bearer token flow (tokens cached per scope until
//!   they expire); credentials from [`CredentialSource`] (`--creds`, `--authfile`, the auth
//!   files skopeo reads, credential helpers).
//! - TLS: the system's roots plus `--cert-dir` (`*.crt` CAs, a `*.cert`/`*.key` client
//!   certificate); `tls_verify: false` turns verification off and allows plain HTTP.
//! - Errors: [`RegistryErrorKind`], carried by [`crate::Error::Registry`]. 429 and 5xx are
//!   retried with backoff (`Retry-After` honoured) a few times first.
//!
//! The HTTP client is `ureq`: blocking (the scanner's parallelism is threads; an async runtime
//! would be a second scheduler for nothing), small, and on rustls, so no system OpenSSL is
//! linked.

mod api;
mod auth;
mod client;
mod credentials;
mod error;
mod store;
mod sweep;
mod tls;

use std::path::PathBuf;

pub use api::{FetchedManifest, MANIFEST_ACCEPT, MAX_DOCUMENT};
pub use client::Client;
pub use credentials::{CredentialSource, Credentials, Secret};
pub use error::RegistryErrorKind;
pub use store::RegistryStore;
pub use sweep::{TagSelection, under_prefix};

/// How to reach registries: credentials and TLS.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// A directory of `*.crt` CAs to trust (and a `*.cert`/`*.key` client certificate), as
    /// skopeo's `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// Verify certificates (the default). `false` also allows plain HTTP when the registry does
    /// not speak TLS.
    pub tls_verify: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions { credentials: CredentialSource::default(), cert_dir: None, tls_verify: true }
    }
}

/// The clients of one scanner, one per registry host, made when first needed and shared by
/// every image scanned: connections, credentials and tokens are reused across a sweep.
#[derive(Debug, Default)]
pub struct Clients {
    options: RegistryOptions,
    clients: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Client>>>,
}

impl Clients {
    /// Clients made with `options`.
    pub fn new(options: RegistryOptions) -> Clients {
        Clients { options, clients: Default::default() }
    }

    /// The client of `host`.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn get(&self, host: &str) -> Result<std::sync::Arc<Client>, RegistryErrorKind> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(host) {
            return Ok(c.clone());
        }
        let client = std::sync::Arc::new(Client::new(host, &self.options)?);
        clients.insert(host.to_string(), client.clone());
        Ok(client)
    }

    /// Open a registry image: its manifest (or index) fetched, then read as an OCI layout whose
    /// blobs come from the registry. Layers are fetched when scanned.
    ///
    /// # Errors
    /// [`crate::Error::Registry`] when the manifest cannot be had; the opener's errors after.
    pub fn open(
        &self,
        reference: &crate::RegistryRef,
        options: &crate::OpenOptions,
    ) -> Result<crate::ImageSource, crate::Error> {
        // Named as the input is (`docker://HOST/REPO:TAG`), in reports and errors alike.
        let name = format!("docker://{reference}");
        let client =
            self.get(&reference.registry).map_err(|kind| crate::Error::Registry { image: name.clone(), kind })?;
        let store = store::RegistryStore::open(
            client,
            name.clone(),
            &reference.repository,
            reference.tag.as_deref(),
            reference.digest.as_ref(),
        )?;
        // A tag picks the image in a layout; here the store serves that one image only.
        let options = crate::OpenOptions { reference: None, ..options.clone() };
        crate::ImageSource::open_store(&name, crate::ImageFormat::Registry, std::sync::Arc::new(store), &options)
    }
}
