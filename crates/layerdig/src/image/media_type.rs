//! Media types of the OCI image spec and Docker's image manifest v2.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A media type, with the ones layerdig acts on named and everything else kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaType {
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.config.v1+json`
    OciConfig,
    /// `application/vnd.oci.image.layer.v1.tar`
    OciLayer,
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    OciLayerGzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    OciLayerZstd,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.container.image.v1+json`
    DockerConfig,
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    DockerLayerGzip,
    /// `application/vnd.docker.image.rootfs.diff.tar`
    DockerLayer,
    /// `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`
    DockerForeignLayer,
    /// Anything else.
    Other(String),
}

const NAMED: &[(&str, MediaType)] = &[
    ("application/vnd.oci.image.index.v1+json", MediaType::OciIndex),
    ("application/vnd.oci.image.manifest.v1+json", MediaType::OciManifest),
    ("application/vnd.oci.image.config.v1+json", MediaType::OciConfig),
    ("application/vnd.oci.image.layer.v1.tar", MediaType::OciLayer),
    ("application/vnd.oci.image.layer.v1.tar+gzip", MediaType::OciLayerGzip),
    ("application/vnd.oci.image.layer.v1.tar+zstd", MediaType::OciLayerZstd),
    ("application/vnd.docker.distribution.manifest.list.v2+json", MediaType::DockerManifestList),
    ("application/vnd.docker.distribution.manifest.v2+json", MediaType::DockerManifest),
    ("application/vnd.docker.container.image.v1+json", MediaType::DockerConfig),
    ("application/vnd.docker.image.rootfs.diff.tar.gzip", MediaType::DockerLayerGzip),
    ("application/vnd.docker.image.rootfs.diff.tar", MediaType::DockerLayer),
    ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", MediaType::DockerForeignLayer),
];

impl MediaType {
    /// The media type's string.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Other(s) => s,
            named => NAMED.iter().find(|(_, m)| m == named).map(|(s, _)| *s).unwrap_or(""),
        }
    }

    /// Whether this names an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    /// Whether this names an image manifest.
    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> Self {
        NAMED
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| MediaType::Other(s.to_string()))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(MediaType::from(String::deserialize(deserializer)?.as_str()))
    }
}
