//! Opening images: `docker save` archives (classic and Docker ≥ 25), OCI layouts (directory or
//! `oci-archive` tar), single layer tarballs and plain directories, recognised from what is on
//! disk. Opening reads manifests and configs only; layers are read by [`crate::layer`].

mod config;
mod descriptor;
pub(crate) mod digest;
mod document;
mod media_type;
pub(crate) mod store;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize as _, Serialize};

pub use config::{ConfigString, History, ImageConfig, RootFs, RuntimeConfig};
pub use descriptor::{Descriptor, DockerArchiveEntry, ImageIndex, ImageManifest, Platform};
pub use digest::{Algorithm, Digest, DigestParseError};
pub use document::{DocumentString, SourceDocument};
pub use media_type::MediaType;

use crate::error::{Error, LayerErrorKind};
use crate::vocab::DocumentKind;
pub(crate) use store::{Blob, RELEASE_EVERY, ReleasingReader, Streamed, normalize_name, sha256_releasing};
use store::{Mapped, Store, TarIndex};

/// How an input was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ImageFormat {
    /// A classic `docker save` / `podman save --format docker-archive` tar: `manifest.json`
    /// listing config and layer tarballs.
    DockerArchive,
    /// A Docker ≥ 25 `docker save` tar: an OCI layout with a `manifest.json` beside it.
    DockerOciArchive,
    /// An `oci-archive` tar: an OCI image layout inside a tar.
    OciArchive,
    /// An OCI image layout directory.
    OciLayout,
    /// A directory holding an unpacked `docker save` archive.
    DockerDirectory,
    /// A single layer tarball (plain, gzip or zstd).
    LayerTar,
    /// A plain directory: an unpacked root filesystem or any folder of files.
    Directory,
    /// An image in a registry, read through the OCI distribution API.
    Registry,
    /// An image a container engine's API exported (`docker-daemon:`), read as it arrived.
    DockerDaemon,
    /// A `docker save`, `podman save` or oci-archive tar read from a stream as it arrived.
    ArchiveStream,
}

impl ImageFormat {
    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::DockerArchive => "docker-archive",
            ImageFormat::DockerOciArchive => "docker-oci-archive",
            ImageFormat::OciArchive => "oci-archive",
            ImageFormat::OciLayout => "oci-layout",
            ImageFormat::DockerDirectory => "docker-directory",
            ImageFormat::LayerTar => "layer-tar",
            ImageFormat::Directory => "directory",
            ImageFormat::Registry => "registry",
            ImageFormat::DockerDaemon => "docker-daemon",
            ImageFormat::ArchiveStream => "archive-stream",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options for opening an image.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Keep only images of this platform from a multi-platform index.
    pub platform: Option<Platform>,
    /// Keep only the image of this reference name (`oci:DIR:REF`): its
    /// `org.opencontainers.image.ref.name`, or a tag the archive records for it.
    pub reference: Option<String>,
}

/// Where an image's documents and layers come from when they are not a local file or directory
/// (a registry): read as an OCI image layout is, `index.json` first, then `blobs/<alg>/<hex>` for
/// each index, manifest and config it references, and each layer when the scanner gets to it.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// The bytes of a document: `index.json`, or a manifest, index or config by its blob name.
    ///
    /// # Errors
    /// What went wrong fetching it, naming it.
    fn document(&self, name: &str) -> Result<Vec<u8>, Error>;

    /// Layer `name` (`blobs/<alg>/<hex>`, of `size` bytes as its descriptor says), to be read
    /// later as a stream.
    ///
    /// # Errors
    /// When the layer cannot be had at all.
    fn layer(&self, name: &str, size: u64) -> Result<Arc<dyn BlobFetch>, Error>;
}

/// A layer's bytes from elsewhere, opened as a stream when the scanner reads the layer. The
/// layer walker verifies its size and digest as it reads.
pub trait BlobFetch: Send + Sync + fmt::Debug {
    /// Open the bytes from their start. A failure part-way is the stream's read error.
    ///
    /// # Errors
    /// When the bytes cannot be opened.
    fn open(&self) -> Result<Box<dyn std::io::Read + Send>, Error>;
}

/// An opened input: one file or directory holding one or more images.
#[derive(Debug)]
pub struct ImageSource {
    path: PathBuf,
    format: ImageFormat,
    images: Vec<Image>,
    problems: Vec<Error>,
    documents: Vec<SourceDocument>,
    other_blobs: Vec<OtherBlob>,
    account: InputAccount,
}

/// A blob of the input that is neither an image's layer or config nor a JSON document (those
/// are [`SourceDocument`]s): a layer tarball no manifest lists, the payload of a signature or an
/// artifact that a manifest lists. The scanner reads its bytes as it reads a file's, opening the
/// archives and compression in it.
#[derive(Debug, Clone)]
pub struct OtherBlob {
    /// Its name in the layout (`blobs/sha256/<hex>`).
    pub name: String,
    /// Its digest, from its name.
    pub digest: Option<Digest>,
    /// What refers to it: [`DocumentKind::Unreferenced`] when nothing does, else the kind of
    /// document that names its digest (an artifact's manifest, an attestation).
    pub kind: DocumentKind,
    /// Its bytes.
    pub(crate) blob: Blob,
}

impl OtherBlob {
    /// Where in this blob a secret at `field` (the path inside it, or empty) is, as a location
    /// says it.
    pub fn place(&self, field: String) -> crate::vocab::Document {
        crate::vocab::Document {
            kind: self.kind,
            digest: self.digest.as_ref().map(ToString::to_string),
            name: None,
            field,
        }
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        self.blob.bytes()
    }
}

/// The blobs of an input (an OCI layout, an oci-archive, a Docker ≥ 25 archive), accounted
/// for: those a manifest, index, config or attestation references, and those nothing does
/// (read and searched all the same).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputAccount {
    /// Blobs referenced.
    pub referenced: u64,
    /// Their bytes.
    pub referenced_bytes: u64,
    /// Blobs nothing references.
    pub unreferenced: u64,
    /// Their bytes.
    pub unreferenced_bytes: u64,
    /// The digests of the blobs nothing references.
    pub unreferenced_digests: Vec<String>,
}

/// One image: a manifest's config and layers. A multi-platform index yields one per platform.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's digest, when the image came from an index.
    pub manifest_digest: Option<Digest>,
    /// The config blob's digest (the image id).
    pub config_digest: Option<Digest>,
    /// The platform, from the index or the config.
    pub platform: Option<Platform>,
    /// Tags or reference names the archive records.
    pub tags: Vec<String>,
    /// The parsed configuration, when the image has one.
    pub config: Option<Arc<ImageConfig>>,
    /// The config's bytes (up to 16 MiB) when they are not a valid image config: a damaged or
    /// hostile config is still searched for secrets, as text.
    pub unparsed_config: Option<Arc<[u8]>>,
    /// The layers, base first.
    pub layers: Vec<Layer>,
    /// The image it was built on, as its manifest's annotations name it
    /// (`org.opencontainers.image.base.name`, `.base.digest`).
    pub base: Option<BaseImage>,
}

/// The image another was built on: what is inherited rather than introduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// Its name, as an annotation or the user gives it.
    pub name: Option<String>,
    /// Its manifest's digest, when an annotation gives it.
    pub digest: Option<Digest>,
    /// Its layers' uncompressed digests (diff_ids), base first, when known: its manifest and
    /// config are in the same input, or the user gave the base image itself.
    pub diff_ids: Option<Vec<Digest>>,
}

impl BaseImage {
    /// The base an image in `source` is: the first image of a base image's input (or the one of
    /// `platform`, when given), named `name`.
    pub fn of(source: &ImageSource, platform: Option<&Platform>, name: &str) -> Option<BaseImage> {
        let image = source
            .images()
            .iter()
            .find(|i| platform.is_none_or(|p| i.platform.as_ref().is_none_or(|ip| ip.matches(p))))?;
        let diff_ids: Vec<Digest> = image.layers.iter().filter_map(|l| l.diff_id.clone()).collect();
        Some(BaseImage {
            name: Some(name.to_string()),
            digest: image.manifest_digest.clone(),
            diff_ids: (diff_ids.len() == image.layers.len()).then_some(diff_ids),
        })
    }

    /// How many of `image`'s bottom layers are the base's: the layers whose diff_ids are the
    /// base's, in order. `None` when the base's layers are not known.
    pub fn shared_layers(&self, image: &Image) -> Option<usize> {
        let base = self.diff_ids.as_ref()?;
        Some(image.layers.iter().zip(base).take_while(|(layer, base)| layer.diff_id.as_ref() == Some(*base)).count())
    }
}

/// One layer of an image. `Debug` shows `created_by` redacted.
#[derive(Clone)]
pub struct Layer {
    /// Position in the image, base layer 0.
    pub index: usize,
    /// The blob's digest from the manifest (absent in classic `docker save` archives, whose
    /// layers are named by their uncompressed digest).
    pub digest: Option<Digest>,
    /// The uncompressed digest from the config's `rootfs.diff_ids`.
    pub diff_id: Option<Digest>,
    /// The media type the manifest declares. Compression is detected from the bytes, not this.
    pub media_type: Option<MediaType>,
    /// The blob's size in bytes (compressed, as stored).
    pub size: u64,
    /// The build instruction that made the layer, from the config's history.
    pub created_by: Option<String>,
    pub(crate) source: LayerSource,
}

#[derive(Debug, Clone)]
pub(crate) enum LayerSource {
    Blob(Blob),
    Dir(PathBuf),
    /// Read once as a stream (a registry's blob).
    Stream(Arc<dyn BlobFetch>),
    /// Scanned already, as it passed in a stream: the name it had in the archive.
    Scanned(String),
    Missing(String),
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("index", &self.index)
            .field("digest", &self.digest)
            .field("diff_id", &self.diff_id)
            .field("media_type", &self.media_type)
            .field("size", &self.size)
            .field("created_by", &self.created_by.as_deref().map(crate::finding::Redacted))
            .field("source", &self.source)
            .finish()
    }
}

/// A JSON document's parse error as text that quotes nothing from the document: serde's
/// messages quote the offending value (`invalid type: string "…", expected a sequence`), and in
/// an image config that value can be a secret.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    crate::finding::redact_quoted(&e.to_string())
}

impl Layer {
    /// The digest that best names this layer: the blob digest, else the diff_id.
    pub fn id(&self) -> Option<&Digest> {
        self.digest.as_ref().or(self.diff_id.as_ref())
    }

    /// Whether the layer's bytes are present in the image.
    pub fn is_available(&self) -> bool {
        !matches!(self.source, LayerSource::Missing(_))
    }
}

impl ImageSource {
    /// Open `path` with default options.
    ///
    /// # Errors
    /// [`Error::Io`] when the path cannot be read, [`Error::ImageFormat`] when it is not an image,
    /// a layer tarball or a directory, or its manifests cannot be parsed.
    pub fn open(path: impl AsRef<Path>) -> Result<ImageSource, Error> {
        ImageSource::open_with(path, &OpenOptions::default())
    }

    /// Open `path`.
    ///
    /// # Errors
    /// As [`ImageSource::open`]; also [`Error::ImageFormat`] when a platform was asked for and no
    /// image has it.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<ImageSource, Error> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io { path: path.clone(), source };
        let meta = std::fs::metadata(&path).map_err(io)?;
        let mut opener = Opener::new(path.clone(), options);
        let format = if meta.is_dir() {
            opener.open_dir()?
        } else {
            let map = Arc::new(Mapped::open(&path).map_err(io)?);
            opener.open_file(map)?
        };
        opener.finish(format)
    }

    /// Open an image whose documents and layers come from `store` (a registry), named `name` in
    /// reports. Only documents are read now; layers are streamed when scanned.
    ///
    /// # Errors
    /// The store's error when `index.json` cannot be had (unauthorized, unknown, unreachable);
    /// otherwise as [`ImageSource::open_with`] for an OCI layout.
    pub fn open_store(
        name: &str,
        format: ImageFormat,
        store: Arc<dyn BlobStore>,
        options: &OpenOptions,
    ) -> Result<ImageSource, Error> {
        // The first document's failure is the input's: say it as the store said it.
        store.document("index.json")?;
        let mut opener = Opener::new(PathBuf::from(name), options);
        let store = Store::Provided(store);
        opener.open_oci(&store)?;
        opener.finish(format)
    }

    /// Open what an archive read as a stream left (`streamed`): its images, whose layers were
    /// scanned as they passed.
    pub(crate) fn open_streamed(
        name: &str,
        format: ImageFormat,
        streamed: store::Streamed,
        options: &OpenOptions,
    ) -> Result<ImageSource, Error> {
        let mut opener = Opener::new(PathBuf::from(name), options);
        let store = Store::Streamed(streamed);
        if store.exists("index.json") {
            opener.open_oci(&store)?;
            opener.archive_documents(&store);
        } else if store.exists("manifest.json") {
            opener.open_docker(&store)?;
        } else {
            return Err(opener
                .format_err("not a container image archive: the stream holds neither manifest.json nor index.json"));
        }
        opener.finish(format)
    }

    /// The path this source was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the input was recognised.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// The images it holds (one per platform for a multi-platform index).
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The input's JSON documents other than image configs (indexes, manifests, attestations),
    /// whose strings the scanner searches too.
    pub fn documents(&self) -> &[SourceDocument] {
        &self.documents
    }

    /// The blobs that are neither the images' layers and configs nor JSON documents (those
    /// nothing references, and an artifact's payloads): searched as bytes.
    pub fn other_blobs(&self) -> &[OtherBlob] {
        &self.other_blobs
    }

    /// The input's blobs, referenced and not (empty for inputs without a `blobs/` directory).
    pub fn account(&self) -> &InputAccount {
        &self.account
    }

    /// Problems found while opening that do not stop the scan: missing blobs, unreadable
    /// configs, configs that disagree with manifests.
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }
}

struct Opener<'o> {
    path: PathBuf,
    options: &'o OpenOptions,
    problems: Vec<Error>,
    images: Vec<Image>,
    documents: Vec<SourceDocument>,
    other_blobs: Vec<OtherBlob>,
    account: InputAccount,
    /// Blobs of the images of other platforms than the one asked for.
    other_platforms: HashSet<String>,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Whether `bytes` start like a tar archive (a `ustar` magic, or a v7 header whose checksum holds).
pub(crate) fn looks_like_tar(bytes: &[u8]) -> bool {
    if bytes.len() < 512 {
        return false;
    }
    if &bytes[257..262] == b"ustar" {
        return true;
    }
    let header = &bytes[..512];
    let field = &header[148..156];
    let text: String = field.iter().take_while(|&&b| b != 0 && b != b' ').map(|&b| b as char).collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else { return false };
    let sum: u32 =
        header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) }).sum();
    sum == stored && header[0] != 0
}

impl<'o> Opener<'o> {
    fn new(path: PathBuf, options: &'o OpenOptions) -> Opener<'o> {
        Opener {
            path,
            options,
            problems: Vec::new(),
            images: Vec::new(),
            documents: Vec::new(),
            other_blobs: Vec::new(),
            account: InputAccount::default(),
            other_platforms: HashSet::new(),
        }
    }

    /// The source, once its images are read: only the platform and reference asked for kept.
    fn finish(mut self, format: ImageFormat) -> Result<ImageSource, Error> {
        if let Some(wanted) = &self.options.platform {
            let before = self.images.len();
            self.images.retain(|img| img.platform.as_ref().is_some_and(|p| p.matches(wanted)));
            if self.images.is_empty() && before > 0 {
                return Err(Error::NoPlatform { image: self.path, wanted: wanted.to_string() });
            }
        }
        if let Some(reference) = &self.options.reference {
            let names = |img: &Image| {
                img.tags.iter().any(|t| t == reference || t.rsplit_once(':').is_some_and(|(_, tag)| tag == reference))
            };
            self.images.retain(names);
            if self.images.is_empty() {
                return Err(
                    self.format_err(format!("no image is named {reference:?} (its org.opencontainers.image.ref.name)"))
                );
            }
        }
        Ok(ImageSource {
            path: self.path,
            format,
            images: self.images,
            problems: self.problems,
            documents: self.documents,
            other_blobs: self.other_blobs,
            account: self.account,
        })
    }

    fn format_err(&self, message: impl Into<String>) -> Error {
        Error::ImageFormat { image: self.path.clone(), message: message.into() }
    }

    fn open_file(&mut self, map: Arc<Mapped>) -> Result<ImageFormat, Error> {
        let bytes = map.bytes();
        if bytes.starts_with(GZIP_MAGIC) || bytes.starts_with(ZSTD_MAGIC) {
            self.single_layer(LayerSource::Blob(Blob::whole(Arc::clone(&map))), bytes.len() as u64);
            return Ok(ImageFormat::LayerTar);
        }
        if !looks_like_tar(bytes) {
            return Err(self.format_err(
                "not a container image: expected a docker-archive or oci-archive tar, a layer tarball (plain, gzip or zstd), an OCI layout directory or a directory",
            ));
        }
        let (index, broken) = TarIndex::build(Arc::clone(&map));
        if !Store::archive_is_image(&index) {
            // A layer tarball, perhaps cut short: the layer walker reads what there is and
            // reports where it breaks off.
            self.single_layer(LayerSource::Blob(Blob::whole(Arc::clone(&map))), bytes.len() as u64);
            return Ok(ImageFormat::LayerTar);
        }
        if let Some(e) = broken {
            self.problems.push(self.format_err(format!(
                "the archive is corrupt or truncated ({e}); what comes after that point is missing"
            )));
        }
        let store = Store::Archive(index);
        if store.exists("index.json") {
            self.open_oci(&store)?;
            self.archive_documents(&store);
            Ok(if store.exists("manifest.json") { ImageFormat::DockerOciArchive } else { ImageFormat::OciArchive })
        } else {
            self.open_docker(&store)?;
            Ok(ImageFormat::DockerArchive)
        }
    }

    fn open_dir(&mut self) -> Result<ImageFormat, Error> {
        let store = Store::Dir(self.path.clone());
        if self.path.join("index.json").is_file()
            && (self.path.join("oci-layout").is_file() || self.path.join("blobs").is_dir())
        {
            self.open_oci(&store)?;
            self.archive_documents(&store);
            Ok(if self.path.join("manifest.json").is_file() {
                ImageFormat::DockerOciArchive
            } else {
                ImageFormat::OciLayout
            })
        } else if self.path.join("manifest.json").is_file() && self.path.join("repositories").is_file()
            || self.path.join("manifest.json").is_file()
                && store.json::<Vec<DockerArchiveEntry>>("manifest.json").is_ok()
        {
            self.open_docker(&store)?;
            Ok(ImageFormat::DockerDirectory)
        } else {
            self.single_layer(LayerSource::Dir(self.path.clone()), 0);
            Ok(ImageFormat::Directory)
        }
    }

    fn single_layer(&mut self, source: LayerSource, size: u64) {
        self.images.push(Image {
            manifest_digest: None,
            config_digest: None,
            platform: None,
            tags: Vec::new(),
            config: None,
            unparsed_config: None,
            layers: vec![Layer {
                index: 0,
                digest: None,
                diff_id: None,
                media_type: None,
                size,
                created_by: None,
                source,
            }],
            base: None,
        });
    }

    /// The layout's own files kept as documents: a `docker save` archive's `manifest.json`,
    /// `repositories` and legacy `<id>/json` layer descriptions (which repeat the config's
    /// `Env` and `Cmd` as the layer's `container_config`), and an OCI layout's `oci-layout`.
    fn archive_documents(&mut self, store: &Store) {
        let fixed = ["manifest.json", "repositories", "oci-layout"].map(str::to_string);
        for name in fixed.into_iter().chain(store.legacy_layer_json().into_iter().take(4096)) {
            let Ok(blob) = store.get(&name) else { continue };
            if blob.bytes().len() > 16 << 20 {
                continue;
            }
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(blob.bytes()) {
                self.documents.push(SourceDocument {
                    kind: DocumentKind::ArchiveManifest,
                    digest: None,
                    name: Some(name.clone()),
                    value: Arc::new(value),
                });
            }
        }
    }

    fn open_docker(&mut self, store: &Store) -> Result<(), Error> {
        self.archive_documents(store);
        let entries: Vec<DockerArchiveEntry> =
            store.json("manifest.json").map_err(|e| self.format_err(format!("docker archive: {e}")))?;
        if entries.is_empty() {
            return Err(self.format_err("docker archive: manifest.json lists no images"));
        }
        for entry in entries {
            let (config, config_digest, unparsed) = match store.get(&entry.config) {
                Ok(blob) => {
                    let digest = Digest::sha256_of(blob.bytes());
                    match serde_json::from_slice::<ImageConfig>(blob.bytes()) {
                        Ok(config) => (Some(Arc::new(config)), Some(digest), None),
                        Err(e) => {
                            self.problems.push(self.format_err(format!(
                                "config {}: not a valid image config: {}",
                                entry.config,
                                json_error(&e)
                            )));
                            (None, Some(digest), Some(unparsed(blob.bytes())))
                        }
                    }
                }
                Err(e) => {
                    self.problems.push(self.format_err(format!("config: {e}")));
                    (None, None, None)
                }
            };
            let layers = entry
                .layers
                .iter()
                .map(|name| {
                    let source = store.layer(name, 0);
                    let size = match &source {
                        LayerSource::Blob(b) => b.bytes().len() as u64,
                        _ => 0,
                    };
                    (None, None, size, source)
                })
                .collect();
            let mut image =
                self.assemble(None, config_digest, None, entry.repo_tags.unwrap_or_default(), config, layers);
            image.unparsed_config = unparsed;
            self.images.push(image);
        }
        Ok(())
    }

    fn open_oci(&mut self, store: &Store) -> Result<(), Error> {
        // Read once: as the document its strings are searched in, and as the index.
        let value: serde_json::Value =
            store.json("index.json").map_err(|e| self.format_err(format!("OCI layout: {e}")))?;
        let index = ImageIndex::deserialize(&value).map_err(|e| {
            self.format_err(format!("OCI layout: index.json: not valid JSON for this document: {}", json_error(&e)))
        })?;
        self.documents.push(SourceDocument {
            kind: DocumentKind::Index,
            digest: None,
            name: Some("index.json".into()),
            value: Arc::new(value),
        });
        let mut seen = HashSet::new();
        self.walk_index(store, &index, 0, &mut seen)?;
        self.unreferenced(store);
        if self.images.is_empty() {
            return Err(match &self.options.platform {
                Some(wanted) => Error::NoPlatform { image: self.path.clone(), wanted: wanted.to_string() },
                None if self.problems.is_empty() => self.format_err("OCI layout: index.json lists no image manifests"),
                None => {
                    // Why there is none: the problems met on the way, or they would be lost.
                    let why: Vec<String> = self
                        .problems
                        .iter()
                        .map(|p| match p {
                            Error::ImageFormat { message, .. } => message.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    self.format_err(format!("OCI layout: no readable image manifest: {}", why.join("; ")))
                }
            });
        }
        Ok(())
    }

    fn walk_index(
        &mut self,
        store: &Store,
        index: &ImageIndex,
        depth: usize,
        seen: &mut HashSet<Digest>,
    ) -> Result<(), Error> {
        if depth > 8 {
            self.problems.push(self.format_err("image index nesting deeper than 8 levels; the rest was not read"));
            return Ok(());
        }
        for desc in &index.manifests {
            if !seen.insert(desc.digest.clone()) {
                continue; // listed twice, or an index cycle
            }
            if is_attestation(desc) {
                self.attestation(store, &desc.digest);
                continue;
            }
            let name = blob_path(&desc.digest);
            let blob = match store.get(&name) {
                Ok(blob) => blob,
                Err(e) => {
                    self.problems.push(self.format_err(format!("manifest {}: {e}", desc.digest)));
                    continue;
                }
            };
            let value: serde_json::Value = match serde_json::from_slice(blob.bytes()) {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(self.format_err(format!(
                        "manifest {}: not JSON: {}",
                        desc.digest,
                        json_error(&e)
                    )));
                    continue;
                }
            };
            let nested =
                desc.media_type.is_index() || (value.get("manifests").is_some() && value.get("layers").is_none());
            let value = Arc::new(value);
            self.documents.push(SourceDocument {
                kind: if nested { DocumentKind::Index } else { DocumentKind::Manifest },
                digest: Some(desc.digest.clone()),
                name: None,
                value: Arc::clone(&value),
            });
            if nested {
                match ImageIndex::deserialize(&*value) {
                    Ok(inner) => self.walk_index(store, &inner, depth + 1, seen)?,
                    Err(e) => self.problems.push(self.format_err(format!("index {}: {}", desc.digest, json_error(&e)))),
                }
                continue;
            }
            let manifest = match ImageManifest::deserialize(&*value) {
                Ok(m) => m,
                Err(e) => {
                    self.problems.push(self.format_err(format!(
                        "manifest {}: not an image manifest: {}",
                        desc.digest,
                        json_error(&e)
                    )));
                    continue;
                }
            };
            if manifest.artifact_type.is_some() || !is_image_config(&manifest.config.media_type) {
                continue; // an artifact (signature, SBOM, attestation), not an image
            }
            if let Some(wanted) = &self.options.platform
                && let Some(p) = &desc.platform
                && !p.matches(wanted)
            {
                // Another platform's image: not scanned, and neither are its manifest and blobs
                // (they are referenced, not left behind).
                self.documents.pop();
                for d in std::iter::once(&desc.digest)
                    .chain(std::iter::once(&manifest.config.digest))
                    .chain(manifest.layers.iter().map(|l| &l.digest))
                {
                    self.other_platforms.insert(blob_path(d));
                }
                continue;
            }
            let (config, unparsed) = match store.get(&blob_path(&manifest.config.digest)) {
                Ok(blob) => match serde_json::from_slice::<ImageConfig>(blob.bytes()) {
                    Ok(config) => (Some(Arc::new(config)), None),
                    Err(e) => {
                        self.problems.push(self.format_err(format!(
                            "config {}: not a valid image config: {}",
                            manifest.config.digest,
                            json_error(&e)
                        )));
                        (None, Some(unparsed(blob.bytes())))
                    }
                },
                Err(e) => {
                    self.problems.push(self.format_err(format!("config {}: {e}", manifest.config.digest)));
                    (None, None)
                }
            };
            let layers = manifest
                .layers
                .iter()
                .map(|layer| {
                    let source = store.layer(&blob_path(&layer.digest), layer.size);
                    (Some(layer.digest.clone()), Some(layer.media_type.clone()), layer.size, source)
                })
                .collect();
            let mut tags = Vec::new();
            if let Some(name) = desc.annotations.get("org.opencontainers.image.ref.name") {
                tags.push(name.clone());
            }
            if let Some(name) = desc.annotations.get("io.containerd.image.name") {
                tags.push(name.clone());
            }
            let platform = desc.platform.clone();
            let mut image = self.assemble(
                Some(desc.digest.clone()),
                Some(manifest.config.digest.clone()),
                platform,
                tags,
                config,
                layers,
            );
            image.unparsed_config = unparsed;
            image.base = base_of(store, &manifest.annotations);
            self.images.push(image);
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn assemble(
        &mut self,
        manifest_digest: Option<Digest>,
        config_digest: Option<Digest>,
        platform: Option<Platform>,
        tags: Vec<String>,
        config: Option<Arc<ImageConfig>>,
        layers: Vec<(Option<Digest>, Option<MediaType>, u64, LayerSource)>,
    ) -> Image {
        let platform = platform.or_else(|| {
            let c = config.as_deref()?;
            Some(Platform { os: c.os.clone()?, architecture: c.architecture.clone()?, variant: c.variant.clone() })
        });
        let (diff_ids, history): (Vec<Digest>, Vec<Option<String>>) = match config.as_deref() {
            Some(c) => {
                (c.rootfs.diff_ids.clone(), c.layer_history().into_iter().map(|h| h.map(str::to_string)).collect())
            }
            None => (Vec::new(), Vec::new()),
        };
        if config.is_some() && diff_ids.len() != layers.len() {
            self.problems.push(Error::Layer {
                image: self.path.clone(),
                layer: diff_ids.len().min(layers.len()),
                digest: None,
                path: None,
                kind: LayerErrorKind::Inconsistent(format!(
                    "the config lists {} diff_ids for {} layers; layers without a diff_id are not verified",
                    diff_ids.len(),
                    layers.len()
                )),
            });
        }
        let layers = layers
            .into_iter()
            .enumerate()
            .map(|(index, (digest, media_type, size, source))| {
                if let LayerSource::Missing(why) = &source {
                    self.problems.push(Error::Layer {
                        image: self.path.clone(),
                        layer: index,
                        digest: digest.clone().or_else(|| diff_ids.get(index).cloned()),
                        path: None,
                        kind: LayerErrorKind::MissingBlob(why.clone()),
                    });
                }
                Layer {
                    index,
                    digest,
                    diff_id: diff_ids.get(index).cloned(),
                    media_type,
                    size,
                    created_by: history.get(index).cloned().flatten(),
                    source,
                }
            })
            .collect();
        Image { manifest_digest, config_digest, platform, tags, config, unparsed_config: None, layers, base: None }
    }
}

/// The base image a manifest's annotations name (OCI image spec, pre-defined annotation keys),
/// with its layers when its manifest and config are in `store`.
fn base_of(store: &Store, annotations: &std::collections::BTreeMap<String, String>) -> Option<BaseImage> {
    let name = annotations.get("org.opencontainers.image.base.name").cloned();
    let digest = annotations.get("org.opencontainers.image.base.digest").and_then(|d| d.parse::<Digest>().ok());
    if name.is_none() && digest.is_none() {
        return None;
    }
    let diff_ids = digest.as_ref().and_then(|d| {
        let manifest: ImageManifest = serde_json::from_slice(store.get(&blob_path(d)).ok()?.bytes()).ok()?;
        let config: ImageConfig =
            serde_json::from_slice(store.get(&blob_path(&manifest.config.digest)).ok()?.bytes()).ok()?;
        Some(config.rootfs.diff_ids)
    });
    Some(BaseImage { name, digest, diff_ids })
}

fn blob_path(digest: &Digest) -> String {
    let algorithm = match digest.algorithm() {
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
        Algorithm::Other(name) => name.as_str(),
    };
    format!("blobs/{algorithm}/{}", digest.encoded())
}

impl Opener<'_> {
    /// The layout's blobs that were not read as an image's layer, config or manifest, counted in
    /// the input's account: those a document read so far names by digest (an artifact's or a
    /// signature's payload, an attestation's config) are referenced, the others are not. JSON
    /// objects (up to 16 MiB) are kept as documents, as a config or manifest left behind by a
    /// rebuild still holds what it held; the others are kept to be searched as bytes.
    fn unreferenced(&mut self, store: &Store) {
        let mut referenced: HashSet<String> = HashSet::new();
        for doc in &self.documents {
            if let Some(d) = &doc.digest {
                referenced.insert(blob_path(d));
            }
        }
        for image in &self.images {
            for d in image.config_digest.iter().chain(image.manifest_digest.iter()) {
                referenced.insert(blob_path(d));
            }
            for layer in &image.layers {
                if let Some(d) = &layer.digest {
                    referenced.insert(blob_path(d));
                }
            }
        }
        // Blobs a document names that were not read: what names them says what they are.
        let mut named: std::collections::HashMap<String, DocumentKind> = std::collections::HashMap::new();
        for doc in &self.documents {
            let kind = match doc.kind {
                DocumentKind::Attestation => DocumentKind::Attestation,
                _ => DocumentKind::Manifest,
            };
            document::each_string("", &doc.value, 32, &mut |_, key, value| {
                if key == "digest"
                    && let Ok(d) = value.parse::<Digest>()
                {
                    named.entry(blob_path(&d)).or_insert(kind);
                }
            });
        }
        for name in store.blob_names() {
            let Ok(blob) = store.get(&name) else { continue };
            let bytes = blob.bytes();
            if referenced.contains(&name) || self.other_platforms.contains(&name) {
                self.account.referenced += 1;
                self.account.referenced_bytes += bytes.len() as u64;
                continue;
            }
            let digest = name.strip_prefix("blobs/").and_then(|rest| rest.replacen('/', ":", 1).parse::<Digest>().ok());
            let kind = named.get(&name).copied().unwrap_or(DocumentKind::Unreferenced);
            if kind == DocumentKind::Unreferenced {
                self.account.unreferenced += 1;
                self.account.unreferenced_bytes += bytes.len() as u64;
                self.account
                    .unreferenced_digests
                    .push(digest.as_ref().map_or_else(|| name.clone(), ToString::to_string));
            } else {
                self.account.referenced += 1;
                self.account.referenced_bytes += bytes.len() as u64;
            }
            let value = (bytes.len() <= 16 << 20 && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
                .then(|| serde_json::from_slice::<serde_json::Value>(bytes).ok())
                .flatten();
            match value {
                Some(value) => self.documents.push(SourceDocument { kind, digest, name: None, value: Arc::new(value) }),
                None => self.other_blobs.push(OtherBlob { name, digest, kind, blob }),
            }
        }
    }

    /// An attestation manifest and the in-toto statements it lists, kept as documents (each
    /// at most 16 MiB; what is not JSON is left alone).
    fn attestation(&mut self, store: &Store, digest: &Digest) {
        let read = |digest: &Digest| -> Option<serde_json::Value> {
            let blob = store.get(&blob_path(digest)).ok()?;
            let bytes = blob.bytes();
            if bytes.len() > 16 << 20 {
                return None;
            }
            serde_json::from_slice(bytes).ok()
        };
        let Some(manifest) = read(digest) else { return };
        let layers: Vec<Digest> = manifest
            .get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
            .filter_map(|l| l.get("digest")?.as_str()?.parse().ok())
            .collect();
        self.documents.push(SourceDocument {
            kind: DocumentKind::Attestation,
            digest: Some(digest.clone()),
            name: None,
            value: Arc::new(manifest),
        });
        for layer in layers.iter().take(64) {
            if let Some(statement) = read(layer) {
                self.documents.push(SourceDocument {
                    kind: DocumentKind::Attestation,
                    digest: Some(layer.clone()),
                    name: None,
                    value: Arc::new(statement),
                });
            }
        }
    }
}

fn is_attestation(desc: &Descriptor) -> bool {
    desc.annotations.get("vnd.docker.reference.type").is_some_and(|t| t == "attestation-manifest")
        || desc.platform.as_ref().is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

fn is_image_config(media_type: &MediaType) -> bool {
    matches!(media_type, MediaType::OciConfig | MediaType::DockerConfig)
}

/// The bytes of a config that did not parse, kept (up to 16 MiB) to be searched as text.
fn unparsed(bytes: &[u8]) -> Arc<[u8]> {
    Arc::from(&bytes[..bytes.len().min(16 << 20)])
}
