//! A registry image as a [`BlobStore`]: read like an OCI image layout whose blobs come from the
//! registry on demand.
//!
//! - `index.json` is synthesised: one descriptor, the reference's manifest (or index), with the
//!   tag as its `org.opencontainers.image.ref.name`.
//! - `blobs/sha256/HEX` is the top manifest (already fetched), a manifest an index served here
//!   listed (fetched by digest, verified), or else a config blob (fetched, verified). Each is at
//!   most [`MAX_DOCUMENT`] bytes.
//! - A layer is a [`BlobFetch`] that opens `GET /v2/REPO/blobs/DIGEST` when the layer walker
//!   gets to it, and streams it.
//!
//! Nothing is written to disk.

use std::collections::HashSet;
use std::io::Read;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::api::{FetchedManifest, MAX_DOCUMENT};
use super::client::Client;
use super::error::RegistryErrorKind;
use crate::error::Error;
use crate::image::digest::Digest;
use crate::image::{BlobFetch, BlobStore};

/// One registry image, read through its registry.
pub struct RegistryStore {
    client: Arc<Client>,
    /// The reference, for errors (`HOST/REPO:TAG`).
    image: String,
    repository: String,
    tag: Option<String>,
    top: FetchedManifest,
    /// Digests (hex) that indexes served here list: manifests, not blobs.
    manifests: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryStore").field("image", &self.image).field("digest", &self.top.digest).finish()
    }
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    manifests: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    digest: String,
}

impl RegistryStore {
    /// Fetch the reference's manifest (by `reference`, a tag or a digest).
    ///
    /// # Errors
    /// [`Error::Registry`] as [`Client::manifest`] fails.
    pub fn open(
        client: Arc<Client>,
        image: String,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<RegistryStore, Error> {
        let reference = match (digest, tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        let top =
            client.manifest(repository, &reference).map_err(|kind| Error::Registry { image: image.clone(), kind })?;
        let store = RegistryStore {
            client,
            image,
            repository: repository.to_string(),
            tag: tag.map(str::to_string).or_else(|| digest.is_none().then(|| "latest".to_string())),
            top,
            manifests: Mutex::new(HashSet::new()),
        };
        store.note_children(&store.top.bytes);
        Ok(store)
    }

    /// The manifest (or index) the reference names.
    pub fn manifest(&self) -> &FetchedManifest {
        &self.top
    }

    fn note_children(&self, bytes: &[u8]) {
        if let Ok(listing) = serde_json::from_slice::<Listing>(bytes) {
            let mut known = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
            for m in listing.manifests {
                if let Some(hex) = m.digest.strip_prefix("sha256:") {
                    known.insert(hex.to_string());
                }
            }
        }
    }

    fn error(&self, kind: RegistryErrorKind) -> Error {
        Error::Registry { image: self.image.clone(), kind }
    }

    fn index(&self) -> Vec<u8> {
        let mut descriptor = serde_json::json!({
            "mediaType": self.top.media_type,
            "digest": self.top.digest.to_string(),
            "size": self.top.bytes.len(),
        });
        if let Some(tag) = &self.tag {
            descriptor["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
        }
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [descriptor],
        }))
        .unwrap_or_default()
    }

    fn digest_of(&self, name: &str) -> Result<Digest, Error> {
        name.strip_prefix("blobs/sha256/")
            .and_then(|hex| format!("sha256:{hex}").parse::<Digest>().ok())
            .ok_or_else(|| self.error(RegistryErrorKind::Protocol(format!("no document {name:?} in a registry image"))))
    }
}

impl BlobStore for RegistryStore {
    fn document(&self, name: &str) -> Result<Vec<u8>, Error> {
        if name == "index.json" {
            return Ok(self.index());
        }
        let digest = self.digest_of(name)?;
        if digest == self.top.digest {
            return Ok(self.top.bytes.clone());
        }
        let is_manifest = self.manifests.lock().unwrap_or_else(|e| e.into_inner()).contains(digest.encoded());
        let bytes = if is_manifest {
            self.client.manifest(&self.repository, &digest.to_string()).map_err(|k| self.error(k))?.bytes
        } else {
            self.client.blob_bytes(&self.repository, &digest, MAX_DOCUMENT).map_err(|k| self.error(k))?
        };
        self.note_children(&bytes);
        Ok(bytes)
    }

    fn layer(&self, name: &str, _size: u64) -> Result<Arc<dyn BlobFetch>, Error> {
        let digest = self.digest_of(name)?;
        Ok(Arc::new(RegistryBlob {
            client: self.client.clone(),
            image: self.image.clone(),
            repository: self.repository.clone(),
            digest,
        }))
    }
}

/// A layer blob, fetched when opened.
struct RegistryBlob {
    client: Arc<Client>,
    image: String,
    repository: String,
    digest: Digest,
}

impl std::fmt::Debug for RegistryBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryBlob").field("image", &self.image).field("digest", &self.digest).finish()
    }
}

impl BlobFetch for RegistryBlob {
    fn open(&self) -> Result<Box<dyn Read + Send>, Error> {
        self.client
            .blob_reader(&self.repository, &self.digest)
            .map_err(|kind| Error::Registry { image: self.image.clone(), kind })
    }
}
