//! The distribution API's reads: manifests (by tag or by digest, verified when by digest),
//! blobs (small ones into memory, verified; layers as a stream), the repository catalog and
//! tag lists (paginated by `Link`).

use std::io::Read;

use serde::Deserialize;

use super::client::{Client, What};
use super::error::RegistryErrorKind;
use crate::image::digest::{Algorithm, Digest};

/// The manifest media types asked for, in the order they are preferred.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest or config read into memory.
pub const MAX_DOCUMENT: u64 = 16 << 20;

/// How many entries a catalog or tag-list page asks for.
const PAGE: usize = 1000;
/// How many pages are followed at most (a registry whose `Link`s loop is stopped).
const MAX_PAGES: usize = 100_000;

/// A manifest or index as the registry served it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// Its bytes, exactly as served (its digest is theirs).
    pub bytes: Vec<u8>,
    /// Its media type: the `Content-Type`, else the document's `mediaType`.
    pub media_type: String,
    /// The SHA-256 of its bytes.
    pub digest: Digest,
}

#[derive(Deserialize)]
struct MediaTypeField {
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
}

impl Client {
    /// `GET /v2/REPO/manifests/REFERENCE`. A manifest asked for by digest must hash to it.
    ///
    /// # Errors
    /// [`RegistryErrorKind::ManifestUnknown`] on 404; [`RegistryErrorKind::Protocol`] for a
    /// schema 1 manifest, one over [`MAX_DOCUMENT`], or a digest mismatch; the others as
    /// [`Client::get`] gives them.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest, RegistryErrorKind> {
        let what = What::Manifest { repository, reference };
        let response = self.get(&format!("/v2/{repository}/manifests/{reference}"), Some(MANIFEST_ACCEPT), &what)?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .filter(|v| !v.is_empty());
        let bytes = self.read_bounded(response, MAX_DOCUMENT, &what)?;
        let digest = Digest::sha256_of(&bytes);
        if let Ok(asked) = reference.parse::<Digest>() {
            verify(&asked, &digest, &bytes, || format!("manifest {repository}@{reference}"))?;
        }
        let field: Option<MediaTypeField> = serde_json::from_slice(&bytes).ok();
        let media_type = match content_type {
            Some(t) if t != "application/json" && t != "text/plain" && t != "application/octet-stream" => t,
            _ => match field {
                Some(MediaTypeField { media_type: Some(t), .. }) => t,
                Some(MediaTypeField { manifests: Some(_), .. }) => "application/vnd.oci.image.index.v1+json".into(),
                _ => "application/vnd.oci.image.manifest.v1+json".into(),
            },
        };
        if media_type.starts_with("application/vnd.docker.distribution.manifest.v1") {
            return Err(RegistryErrorKind::Protocol(format!(
                "manifest {repository}{}{reference} is a Docker schema 1 manifest, which layerdig does not read",
                if reference.contains(':') { "@" } else { ":" }
            )));
        }
        Ok(FetchedManifest { bytes, media_type, digest })
    }

    /// A small blob (a config) read into memory, at most `limit` bytes, verified.
    ///
    /// # Errors
    /// [`RegistryErrorKind::BlobUnknown`] on 404, [`RegistryErrorKind::Protocol`] when it is
    /// too large or does not hash to its digest.
    pub fn blob_bytes(&self, repository: &str, digest: &Digest, limit: u64) -> Result<Vec<u8>, RegistryErrorKind> {
        let text = digest.to_string();
        let what = What::Blob { repository, digest: &text };
        let response = self.get(&format!("/v2/{repository}/blobs/{digest}"), None, &what)?;
        let bytes = self.read_bounded(response, limit, &what)?;
        verify(digest, &Digest::sha256_of(&bytes), &bytes, || format!("blob {repository}@{digest}"))?;
        Ok(bytes)
    }

    /// A blob as a stream (redirects followed). Its digest is checked by whoever reads it.
    ///
    /// # Errors
    /// As [`Client::blob_bytes`], before the first byte.
    pub fn blob_reader(&self, repository: &str, digest: &Digest) -> Result<Box<dyn Read + Send>, RegistryErrorKind> {
        let text = digest.to_string();
        let what = What::Blob { repository, digest: &text };
        let response = self.get(&format!("/v2/{repository}/blobs/{digest}"), None, &what)?;
        Ok(Client::reader(response))
    }

    /// Every repository, from `/v2/_catalog`, page by page.
    ///
    /// # Errors
    /// As [`Client::get`] gives them; [`RegistryErrorKind::Protocol`] for an answer that is not
    /// the catalog's JSON.
    pub fn catalog(&self) -> Result<Vec<String>, RegistryErrorKind> {
        #[derive(Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        self.paginate(&format!("/v2/_catalog?n={PAGE}"), &What::Catalog, |bytes| {
            serde_json::from_slice::<Catalog>(bytes).ok().map(|c| c.repositories.unwrap_or_default())
        })
    }

    /// A repository's tags, from `/v2/REPO/tags/list`, in the order the registry lists them.
    ///
    /// # Errors
    /// As [`Client::catalog`].
    pub fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryErrorKind> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        self.paginate(&format!("/v2/{repository}/tags/list?n={PAGE}"), &What::Tags { repository }, |bytes| {
            serde_json::from_slice::<Tags>(bytes).ok().map(|t| t.tags.unwrap_or_default())
        })
    }

    fn paginate(
        &self,
        first: &str,
        what: &What,
        parse: impl Fn(&[u8]) -> Option<Vec<String>>,
    ) -> Result<Vec<String>, RegistryErrorKind> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RegistryErrorKind::Protocol(format!(
                    "{}: {} has more than {MAX_PAGES} pages",
                    self.host(),
                    what.describe()
                )));
            }
            let response = self.get(&path, Some("application/json"), what)?;
            next = response.headers().get("link").and_then(|l| l.to_str().ok()).and_then(next_link);
            let bytes = self.read_bounded(response, 64 << 20, what)?;
            let page = parse(&bytes).ok_or_else(|| {
                RegistryErrorKind::Protocol(format!("{}: the answer is not the distribution API's JSON", self.host()))
            })?;
            if page.is_empty() {
                break;
            }
            out.extend(page);
        }
        Ok(out)
    }
}

/// The target of `<…>; rel="next"` in a `Link` header (relative to the registry).
fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        if params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        }) {
            return Some(target.to_string());
        }
    }
    None
}

fn verify(asked: &Digest, got: &Digest, bytes: &[u8], what: impl Fn() -> String) -> Result<(), RegistryErrorKind> {
    let matches = match asked.algorithm() {
        Algorithm::Sha256 => asked == got,
        _ => {
            use sha2::Digest as _;
            match asked.algorithm() {
                Algorithm::Sha512 => {
                    let hex: String = sha2::Sha512::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
                    hex == asked.encoded()
                }
                _ => {
                    return Err(RegistryErrorKind::Protocol(format!(
                        "{}: its digest's algorithm cannot be verified",
                        what()
                    )));
                }
            }
        }
    };
    if matches {
        Ok(())
    } else {
        Err(RegistryErrorKind::Protocol(format!("{} does not hash to its digest: the registry served {got}", what())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(r#"<https://h/x>; rel="prev", </y>; rel=next"#).as_deref(), Some("/y"));
        assert_eq!(next_link("garbage"), None);
    }
}
