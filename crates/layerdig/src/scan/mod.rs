//! The scanner: opens images, reads every layer in parallel through the detectors, resolves
//! what became of each file, and pushes findings to a [`Sink`], image by image.
//!
//! - `mod.rs`: options, the builder, and the orchestration (layers in parallel, then per image
//!   the config, history and resolved file hits into findings);
//! - `progress.rs`: the [`Progress`] hook for progress bars ([`Sink`] is the report's);
//! - `visitor.rs`: the per-layer visitor that runs every file through the detectors;
//! - `window.rs`: one file's content in overlapping windows;
//! - `nested/`: archives and compressed files inside a layer's files, opened by their bytes;
//! - `files.rs`: every file with its fate (`layerdig ls`).

mod cache;
mod files;
mod nested;
mod owners;
mod progress;
mod stream;
mod visitor;
mod window;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

pub use self::cache::{CacheAdmin, CacheInfo, LayerResult, LayerResultError, Prune, cache_file};
pub use self::files::{FileRecord, Listing, list};
pub use self::nested::ArchiveLimits;
pub use self::progress::Progress;
use self::visitor::ScanVisitor;
use self::window::{OVERLAP, Scratch};
use crate::detect::{self, Detector, Match, Rules, Window};
use crate::error::Error;
use crate::finding::{self, Disposition, Finding, FindingSet, Location, Source, Span};
use crate::image::{
    BaseImage, Image, ImageFormat, ImageSource, InputAccount, Layer, LayerSource, OpenOptions, Platform,
};
use crate::input::Input;
use crate::layer::{self, Content, LayerIndex, LayerWalk, WalkOptions};
use crate::ownership::FileDigests;
use crate::redact::Redactor;
pub use crate::report::Sink;
use crate::report::{Collect, ErrorReport, ImageReport, Report, Stats};
use crate::resolve;
use crate::time::Clock;
use crate::vocab::{ConfigField, Structure};

/// Bytes of a file handed to the detectors at once; larger files are scanned in overlapping
/// windows so memory does not grow with file size.
const DEFAULT_WINDOW: usize = 8 << 20;

/// One file's detector hit inside a layer.
#[derive(serde::Serialize, serde::Deserialize)]
struct Hit {
    path: Vec<u8>,
    ordinal: u32,
    m: Match,
    /// Where in the layer's bytes, when the hit is in hidden data rather than a file.
    structure: Option<Structure>,
    /// The paths inside the archives `path` is, outermost first, when the hit is inside one.
    inner: Option<Arc<[String]>>,
    /// The digests of the layer file's bytes (of the whole archive, for a hit inside one), taken
    /// because it had a finding, when the whole file was in memory at once.
    digests: Option<Arc<FileDigests>>,
}

impl Hit {
    /// The path in every report: the layer path, then each path inside an archive after a `!`.
    fn joined_path(&self) -> String {
        join_path(&String::from_utf8_lossy(&self.path), self.inner.iter().flat_map(|inner| inner.iter()))
    }

    /// The path's parts when the hit is inside an archive: the layer path, then each inside.
    fn path_segments(&self) -> Option<Vec<String>> {
        let inner = self.inner.as_ref()?;
        Some(std::iter::once(String::from_utf8_lossy(&self.path).into_owned()).chain(inner.iter().cloned()).collect())
    }
}

/// `outer!inner!inner`: a path inside archives, as every report writes it.
fn join_path<S: AsRef<str>>(outer: &str, inner: impl IntoIterator<Item = S>) -> String {
    let mut out = outer.to_string();
    for segment in inner {
        out.push('!');
        out.push_str(segment.as_ref());
    }
    out
}

/// Options for a [`Scanner`].
#[derive(Debug, Clone)]
struct Options {
    threads: Option<usize>,
    walk: WalkOptions,
    show_secrets: bool,
    platform: Option<Platform>,
    window: usize,
    progress: Option<ProgressHook>,
    clock: Clock,
    archives: ArchiveLimits,
    base: Option<Arc<BaseImage>>,
    daemon_host: Option<String>,
    registry: crate::registry::RegistryOptions,
    cache: Option<std::path::PathBuf>,
}

/// A shared [`Progress`] in the scanner's options.
#[derive(Clone)]
struct ProgressHook(Arc<dyn Progress>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// Builds a [`Scanner`] with non-default options.
#[derive(Debug, Clone)]
pub struct ScannerBuilder {
    options: Options,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        ScannerBuilder {
            options: Options {
                threads: None,
                walk: WalkOptions::default(),
                show_secrets: false,
                platform: None,
                window: DEFAULT_WINDOW,
                progress: None,
                clock: Clock::System,
                archives: ArchiveLimits::default(),
                base: None,
                daemon_host: None,
                registry: crate::registry::RegistryOptions::default(),
                cache: None,
            },
        }
    }
}

impl ScannerBuilder {
    /// Worker threads for reading layers (default: all cores).
    pub fn threads(&mut self, threads: usize) -> &mut Self {
        self.options.threads = Some(threads.max(1));
        self
    }

    /// The most uncompressed bytes read from one layer (default 64 GiB): a guard against
    /// decompression bombs. A layer cut short is reported.
    pub fn max_layer_bytes(&mut self, bytes: u64) -> &mut Self {
        self.options.walk.max_layer_bytes = bytes;
        self
    }

    /// Put the secrets themselves in findings (default: only the redacted form).
    pub fn show_secrets(&mut self, yes: bool) -> &mut Self {
        self.options.show_secrets = yes;
        self
    }

    /// Scan only the image of this platform from multi-platform inputs.
    pub fn platform(&mut self, platform: Option<Platform>) -> &mut Self {
        self.options.platform = platform;
        self
    }

    /// Verify blob and diff_id digests (default: yes).
    pub fn verify_digests(&mut self, yes: bool) -> &mut Self {
        self.options.walk.verify_digests = yes;
        self
    }

    /// Bytes handed to the detectors at once (default 8 MiB; at least 1 MiB).
    pub fn window(&mut self, bytes: usize) -> &mut Self {
        self.options.window = bytes.max(OVERLAP * 2);
        self
    }

    /// Report progress (images opened, layers read) to `progress` while scanning.
    pub fn progress(&mut self, progress: Arc<dyn Progress>) -> &mut Self {
        self.options.progress = Some(ProgressHook(progress));
        self
    }

    /// The image the scanned images were built on (`--base`): findings in the layers they share
    /// with it are `inherited`, the others `introduced`. Without it, an image whose manifest
    /// names its base (`org.opencontainers.image.base.digest`) is judged against that base when
    /// the same input holds it.
    pub fn base(&mut self, base: Option<BaseImage>) -> &mut Self {
        self.options.base = base.map(Arc::new);
        self
    }

    /// The container engine `docker-daemon:` inputs are read from (`--daemon-host`):
    /// `unix:///path` or `tcp://host:port`. Without it, `DOCKER_HOST`, else
    /// `unix:///var/run/docker.sock` (see [`crate::engine::Endpoint::resolve`]).
    pub fn daemon_host(&mut self, host: Option<String>) -> &mut Self {
        self.options.daemon_host = host;
        self
    }

    /// How registries are reached (`docker://` inputs): credentials, certificates, TLS
    /// verification (default: the auth files skopeo reads, the system's roots, verification on).
    pub fn registry(&mut self, options: crate::registry::RegistryOptions) -> &mut Self {
        self.options.registry = options;
        self
    }

    /// The clock durations are measured with (default: the system's; a fixed clock makes
    /// reports reproducible: durations read 0).
    pub fn clock(&mut self, clock: Clock) -> &mut Self {
        self.options.clock = clock;
        self
    }

    /// How archives and compressed files inside the layers' files are read (default:
    /// [`ArchiveLimits::default`]; a depth of 0 reads them as the bytes they are).
    pub fn archives(&mut self, limits: ArchiveLimits) -> &mut Self {
        self.options.archives = limits;
        self
    }

    /// Keep layer results in a persistent cache in `dir` (`--cache DIR`): a layer already
    /// scanned with the same build, rules and options is not read again. Safe with several
    /// processes using the same directory at once.
    pub fn cache(&mut self, dir: Option<std::path::PathBuf>) -> &mut Self {
        self.options.cache = dir;
        self
    }

    /// Build the scanner.
    ///
    /// # Errors
    /// When the thread pool cannot be created, or the cache directory cannot be made or read.
    pub fn build(&self, rules: &Rules) -> Result<Scanner, Error> {
        let pool = match self.options.threads {
            Some(n) => Some(Arc::new(
                rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(|e| Error::ThreadPool(e.to_string()))?,
            )),
            None => None,
        };
        let store = match &self.options.cache {
            Some(dir) => Some(
                cache::Store::open(dir)
                    .map_err(|e| Error::Io { path: dir.clone(), source: std::io::Error::other(e) })?,
            ),
            None => None,
        };
        Ok(Scanner {
            rules: rules.clone(),
            fingerprint: cache::fingerprint(rules, &self.options).into(),
            options: self.options.clone(),
            pool,
            cache: Arc::new(cache::LayerCache::new(store)),
            registries: Arc::new(crate::registry::Clients::new(self.options.registry.clone())),
        })
    }
}

/// Scans images. Cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Scanner {
    rules: Rules,
    options: Options,
    pool: Option<Arc<rayon::ThreadPool>>,
    /// One registry client per host, shared by every image this scanner reads.
    registries: Arc<crate::registry::Clients>,
    /// Layer results: this scanner's, and the persistent cache's when there is one.
    cache: Arc<cache::LayerCache>,
    /// What layer results depend on besides the layer's bytes (build, rules, options).
    fingerprint: Arc<str>,
}

/// The result of scanning one layer.
struct LayerScan {
    walk: LayerWalk,
    hits: Vec<Hit>,
    packages: owners::LayerPackages,
}

impl Scanner {
    /// A scanner with default options.
    pub fn new(rules: &Rules) -> Scanner {
        let options = ScannerBuilder::default().options;
        Scanner {
            rules: rules.clone(),
            fingerprint: cache::fingerprint(rules, &options).into(),
            options,
            pool: None,
            cache: Arc::new(cache::LayerCache::new(None)),
            registries: Arc::new(crate::registry::Clients::default()),
        }
    }

    /// A builder for non-default options.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// The rules this scanner uses.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The administration of the cache in `dir` (`layerdig cache info|prune`), judged for this
    /// scanner's build, rules and options.
    ///
    /// # Errors
    /// When the directory cannot be made or read.
    pub fn cache_admin(&self, dir: &Path) -> Result<CacheAdmin, Error> {
        let store = cache::Store::open(dir)
            .map_err(|e| Error::Io { path: dir.to_path_buf(), source: std::io::Error::other(e) })?;
        Ok(CacheAdmin::new(store, self.fingerprint.to_string()))
    }

    /// Open the image at `path` and scan it, pushing results to `sink`.
    ///
    /// An image that cannot be opened is reported to the sink as an error (and counted in the
    /// returned stats as incomplete), not returned as one.
    ///
    /// # Errors
    /// Only a sink's error.
    pub fn scan_path(&self, path: impl AsRef<Path>, sink: &mut dyn Sink) -> Result<Stats, Error> {
        let started = Instant::now();
        let path = path.as_ref();
        let opened = ImageSource::open_with(path, &self.open_options(None));
        self.scan_opened(path, opened, started, sink)
    }

    /// Scan `input`: a path, a local form (`oci:DIR[:REF]`, `oci-archive:FILE`,
    /// `docker-archive:FILE`), an archive on standard input (`-`), an image in a registry
    /// (`docker://…`) or in a container engine (`docker-daemon:…`).
    ///
    /// An input that cannot be opened or reached is reported to the sink as an error (and
    /// counted in the returned stats as incomplete), not returned as one.
    ///
    /// # Errors
    /// Only a sink's error.
    pub fn scan_input(&self, input: &Input, sink: &mut dyn Sink) -> Result<Stats, Error> {
        let started = Instant::now();
        match input {
            Input::Stdin => self.scan_reader("-", &mut std::io::stdin().lock(), sink),
            Input::Daemon(name) => self.scan_daemon(name, sink),
            _ => {
                let name = match input {
                    Input::Path(p)
                    | Input::OciLayout { dir: p, .. }
                    | Input::OciArchive(p)
                    | Input::DockerArchive(p) => p.clone(),
                    other => other.name().into(),
                };
                self.scan_opened(&name, self.open_input(input), started, sink)
            }
        }
    }

    /// Open an image in a registry with this scanner's registry options and platform: its
    /// manifests and config are fetched, its layers when scanned.
    ///
    /// # Errors
    /// [`Error::Registry`] when the registry cannot be reached or refuses, or the manifest is
    /// unknown; the opener's errors after that.
    pub fn open_registry(&self, reference: &crate::RegistryRef) -> Result<ImageSource, Error> {
        self.registries.open(reference, &self.open_options(None))
    }

    /// The registry client of `host`, shared with this scanner's scans (for listing a
    /// registry's repositories and tags before scanning them).
    ///
    /// # Errors
    /// As [`crate::registry::Client::new`].
    pub fn registry_client(
        &self,
        host: &str,
    ) -> Result<Arc<crate::registry::Client>, crate::registry::RegistryErrorKind> {
        self.registries.get(host)
    }

    /// Open `input` without reading its layers (only its documents: manifests, configs,
    /// indexes), as the scanner would. A stream (`-`, `docker-daemon:`) cannot be opened apart
    /// from scanning it.
    ///
    /// # Errors
    /// As [`ImageSource::open_with`]; [`Error::ImageFormat`] when the input is a stream, or an
    /// explicit form (`oci-archive:`…) names a file of another format.
    pub fn open_input(&self, input: &Input) -> Result<ImageSource, Error> {
        let format_of = |formats: &[ImageFormat], path: &Path, reference: Option<String>| {
            ImageSource::open_with(path, &self.open_options(reference)).and_then(|s| expect_format(s, input, formats))
        };
        match input {
            Input::Path(path) => ImageSource::open_with(path, &self.open_options(None)),
            Input::OciLayout { dir, reference } => format_of(&[ImageFormat::OciLayout], dir, reference.clone()),
            Input::OciArchive(path) => format_of(&[ImageFormat::OciArchive, ImageFormat::DockerOciArchive], path, None),
            Input::DockerArchive(path) => {
                format_of(&[ImageFormat::DockerArchive, ImageFormat::DockerOciArchive], path, None)
            }
            Input::Stdin | Input::Daemon(_) => Err(Error::ImageFormat {
                image: input.name().into(),
                message: "a stream is read as it is scanned: it cannot be opened apart from scanning it".into(),
            }),
            Input::Registry(reference) => self.open_registry(reference),
        }
    }

    fn open_options(&self, reference: Option<String>) -> OpenOptions {
        OpenOptions { platform: self.options.platform.clone(), reference }
    }

    /// Scan what opening `name` gave: the source, or the error that stopped it.
    fn scan_opened(
        &self,
        name: &Path,
        opened: Result<ImageSource, Error>,
        started: Instant,
        sink: &mut dyn Sink,
    ) -> Result<Stats, Error> {
        match opened {
            Ok(source) => self.scan_source(&source, sink),
            Err(e) => {
                let report = ErrorReport::from_error(name, &e);
                sink.error(&report)?;
                Ok(Stats {
                    errors: 1,
                    incomplete: true,
                    duration_ms: self.options.clock.elapsed_ms(started),
                    ..Stats::default()
                })
            }
        }
    }

    /// Scan an opened image source.
    ///
    /// # Errors
    /// Only a sink's error.
    pub fn scan_source(&self, source: &ImageSource, sink: &mut dyn Sink) -> Result<Stats, Error> {
        self.scan_source_with(source, &mut HashMap::new(), &HashMap::new(), Instant::now(), sink)
    }

    /// Scan `source`, whose layers named in `scanned` were scanned already (as a stream passed).
    fn scan_source_with(
        &self,
        source: &ImageSource,
        scanned: &mut HashMap<String, LayerScan>,
        given: &HashMap<String, LayerResult>,
        started: Instant,
        sink: &mut dyn Sink,
    ) -> Result<Stats, Error> {
        let mut stats = Stats::default();
        let image_path = source.path();
        for problem in source.problems() {
            stats.errors += 1;
            stats.incomplete |= problem.is_incomplete();
            if !sink.error(&ErrorReport::from_error(image_path, problem))? {
                return Ok(stats);
            }
        }
        // Read every distinct layer once, all in parallel.
        let mut unique: Vec<&Layer> = Vec::new();
        let mut key_of: HashMap<(usize, usize), usize> = HashMap::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for (i, image) in source.images().iter().enumerate() {
            for layer in &image.layers {
                let slot = match layer.id() {
                    Some(id) => *by_id.entry(id.to_string()).or_insert_with(|| {
                        unique.push(layer);
                        unique.len() - 1
                    }),
                    None => {
                        unique.push(layer);
                        unique.len() - 1
                    }
                };
                key_of.insert((i, layer.index), slot);
            }
        }
        if let Some(progress) = &self.options.progress {
            progress.0.image_opened(image_path, unique.len(), unique.iter().map(|l| l.size).sum());
        }
        // Layers scanned as a stream passed are not read again: their results are checked
        // against what the manifest and config say of them now. Results given by the caller
        // (a distributed sweep's) are used when they are clean.
        let ready: Vec<Option<(LayerResult, cache::Got)>> = unique
            .iter()
            .map(|layer| match &layer.source {
                LayerSource::Scanned(name) => {
                    let scan = match scanned.remove(name) {
                        Some(scan) => stream::checked(scan, image_path, layer),
                        None => stream::not_read(image_path, layer, name),
                    };
                    Some((LayerResult(Arc::new(scan)), cache::Got::Scanned))
                }
                _ => layer
                    .id()
                    .and_then(|id| given.get(&id.to_string()))
                    .filter(|r| r.is_clean())
                    .map(|r| (r.clone(), cache::Got::Given)),
            })
            .collect();
        let scans: Vec<(LayerResult, cache::Got)> = self.install(|| {
            unique
                .par_iter()
                .zip(ready)
                .map_init(
                    || Detector::new(&self.rules),
                    |det, (layer, ready)| {
                        let (result, got) = match ready {
                            Some(ready) => ready,
                            None => self.layer_result(image_path, layer, det),
                        };
                        if let Some(progress) = &self.options.progress {
                            progress.0.layer_done(image_path, layer.index, &result.0.walk.stats);
                        }
                        (result, got)
                    },
                )
                .collect()
        });
        for (result, got) in &scans {
            let walk = &result.0.walk;
            stats.layers += 1;
            stats.files += walk.stats.files;
            if *got == cache::Got::Scanned {
                stats.bytes += walk.stats.compressed_bytes;
                stats.uncompressed_bytes += walk.stats.uncompressed_bytes;
            } else {
                stats.layers_from_cache += 1;
            }
            for problem in &walk.problems {
                stats.errors += 1;
                stats.incomplete |= problem.is_incomplete();
                if !sink.error(&ErrorReport::from_error(image_path, problem))? {
                    return Ok(stats);
                }
            }
        }
        for warning in self.cache.take_warnings() {
            if !sink.error(&ErrorReport::from_error(image_path, &Error::Cache(warning)))? {
                return Ok(stats);
            }
        }
        let scans: Vec<&LayerScan> = scans.iter().map(|(r, _)| &*r.0).collect();
        let mut detector = Detector::new(&self.rules);
        for (i, image) in source.images().iter().enumerate() {
            stats.images += 1;
            let layer_scans: Vec<&LayerScan> = image.layers.iter().map(|l| scans[key_of[&(i, l.index)]]).collect();
            let (mut findings, redactor) = self.assemble(source, image, &layer_scans, &mut detector);
            // The input's own documents (indexes, manifests, attestations, blobs nothing
            // references) belong to no one image: their findings join the first image's.
            if i == 0 && (!source.documents().is_empty() || !source.other_blobs().is_empty()) {
                let mut set = FindingSet::new();
                for f in findings
                    .into_iter()
                    .chain(self.document_findings(source, &mut detector))
                    .chain(self.other_blob_findings(source, &mut detector))
                {
                    set.add(f);
                }
                findings = set.into_sorted();
            }
            let walks: Vec<&LayerWalk> = layer_scans.iter().map(|s| &s.walk).collect();
            let mut report = ImageReport::new(source, image, &walks, redactor.as_ref());
            if i == 0 && *source.account() != InputAccount::default() {
                report.input = Some(source.account().clone());
            }
            report.base = self.base_of(image).map(|b| crate::report::BaseReport {
                name: b.name.clone(),
                digest: b.digest.as_ref().map(ToString::to_string),
                shared_layers: b.shared_layers(image),
            });
            if !sink.image(&report)? {
                return Ok(stats);
            }
            for f in &findings {
                stats.count(f);
                if !sink.finding(f)? {
                    return Ok(stats);
                }
            }
        }
        stats.duration_ms = self.options.clock.elapsed_ms(started);
        Ok(stats)
    }

    /// Run one buffer through the detectors, as if it were the file at `path` (for example
    /// `app/.env`) in a single-layer image. The findings have no image or layer.
    pub fn scan_slice(&self, path: &str, data: &[u8]) -> Vec<Finding> {
        let mut det = Detector::new(&self.rules);
        let mut hits = Vec::new();
        let mut scratch = Scratch::new(self.options.window);
        let mut nested = nested::Nested::new(self.options.archives);
        nested.scan_file(
            &mut det,
            &mut scratch,
            &mut hits,
            path.as_bytes(),
            0,
            Content::Slice(data),
            data.len() as u64,
        );
        let mut out = FindingSet::new();
        for hit in hits {
            let joined = hit.joined_path();
            let location = Location {
                image: String::new(),
                platform: None,
                source: Source::File,
                config_key: None,
                layer_index: None,
                layer_digest: None,
                created_by: None,
                path: Some(joined.clone()),
                path_segments: hit.path_segments(),
                line: Some(hit.m.line),
                column: Some(hit.m.column),
                span: Some(Span { start: hit.m.start, end: hit.m.end }),
                status: None,
                removed_in_layer: None,
                removed_by: None,
                encoding: hit.m.encoding,
                disposition: detect::disposition(Some(joined.as_bytes()), &hit.m),
                suppressed: None,
                structure: None,
                document: None,
                owner: None,
                origin: None,
            };
            out.add(self.finding(&hit.m, location));
        }
        out.into_sorted()
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Scan `source` using the layer results in `results` (by layer id: the digest string) for
    /// the layers they are given for, and scanning the others: how an image is resolved from
    /// layer results made elsewhere (another process, another machine). A result that is not
    /// clean is not used (the layer is read again, and its problems reported).
    ///
    /// # Errors
    /// Only a sink's error.
    pub fn resolve(
        &self,
        source: &ImageSource,
        results: &HashMap<String, LayerResult>,
        sink: &mut dyn Sink,
    ) -> Result<Stats, Error> {
        self.scan_source_with(source, &mut HashMap::new(), results, Instant::now(), sink)
    }

    /// The result of the layer of `source` whose id (digest string) is `layer_id`: from the
    /// cache, or scanned (and kept in the cache when it is clean).
    ///
    /// # Errors
    /// [`Error::ImageFormat`] when no image of `source` has the layer.
    pub fn layer_result_of(&self, source: &ImageSource, layer_id: &str) -> Result<LayerResult, Error> {
        let layer = source
            .images()
            .iter()
            .flat_map(|i| &i.layers)
            .find(|l| l.id().is_some_and(|id| id.to_string() == layer_id))
            .ok_or_else(|| Error::ImageFormat {
                image: source.path().to_path_buf(),
                message: format!("no layer {layer_id} in this input"),
            })?;
        let mut det = Detector::new(&self.rules);
        Ok(self.install(|| self.layer_result(source.path(), layer, &mut det)).0)
    }

    /// A layer's result: from the cache when its digest is known, else scanned.
    fn layer_result(&self, image_path: &Path, layer: &Layer, det: &mut Detector) -> (LayerResult, cache::Got) {
        let scan = |det: &mut Detector| LayerResult(Arc::new(self.scan_layer(image_path, layer, det)));
        let Some(key) = self.cache_key(layer) else { return (scan(det), cache::Got::Scanned) };
        let verify = self.options.walk.verify_digests;
        // Kept only when the bytes were checked against the digest the key names.
        let keep = |r: &LayerResult| verify && r.is_clean() && (r.digest().is_some() || r.diff_id().is_some());
        self.cache.get_or_scan(&key, || scan(det), keep)
    }

    /// A layer's key in the cache: its blob digest (else its diff_id, for a classic docker
    /// archive's uncompressed layers), when it is one that can be checked, and the fingerprint
    /// of the build, rules and options. Layers read from a directory have none.
    fn cache_key(&self, layer: &Layer) -> Option<String> {
        if !matches!(layer.source, LayerSource::Blob(_) | LayerSource::Stream(_)) {
            return None;
        }
        let id = layer.digest.as_ref().or(layer.diff_id.as_ref()).filter(|d| d.is_verifiable())?;
        Some(format!("{id}|{}", self.fingerprint))
    }

    fn scan_layer(&self, image_path: &Path, layer: &Layer, det: &mut Detector) -> LayerScan {
        let mut visitor = ScanVisitor::new(det, self.options.window, self.options.archives);
        let mut walk = layer::walk(image_path, layer, &self.options.walk, &mut visitor);
        walk.problems.extend(visitor.nested.problems.drain(..).map(|p| p.into_error(image_path, layer)));
        LayerScan { walk, hits: visitor.hits, packages: visitor.packages }
    }

    /// The finding of match `m` at `location`.
    fn finding(&self, m: &Match, location: Location) -> Finding {
        Finding {
            rule_id: m.rule_id.to_string(),
            rule_name: m.rule_name.to_string(),
            severity: m.severity,
            confidence: m.confidence,
            detector: m.kind,
            fingerprint: finding::fingerprint(&m.rule_id, &m.secret),
            redacted: finding::redact(&m.secret),
            secret: self.options.show_secrets.then(|| String::from_utf8_lossy(&m.secret).into_owned()),
            note: m.note.clone(),
            locations: vec![location],
            suppressed: None,
            baselined: false,
            sla: None,
            fails_gate: None,
        }
    }

    /// Every string of the input's indexes, manifests and attestations through the detectors,
    /// judged by the object key it is under (as a label by its name).
    fn document_findings(&self, source: &ImageSource, det: &mut Detector) -> Vec<Finding> {
        let image_name = source.path().display().to_string();
        let mut out = FindingSet::new();
        let mut matches = Vec::new();
        for doc in source.documents() {
            for item in doc.strings() {
                matches.clear();
                det.scan_config(&ConfigField::Label(item.key.to_string()), item.value, &mut matches);
                for m in &matches {
                    let location = Location {
                        document: Some(doc.place(item.field.clone())),
                        ..location_of(&image_name, Source::Metadata, m)
                    };
                    out.add(self.finding(m, location));
                }
            }
            // A descriptor's inline content: searched as the bytes it decodes to.
            for (field, bytes) in doc.embedded_data() {
                matches.clear();
                det.scan(b"data", &bytes, Window::default(), &mut matches);
                for m in &mut matches {
                    m.encoding = Some(crate::vocab::Encoding::Base64);
                    let location = Location {
                        document: Some(doc.place(field.clone())),
                        line: Some(m.line),
                        column: Some(m.column),
                        ..location_of(&image_name, Source::Metadata, m)
                    };
                    out.add(self.finding(m, location));
                }
            }
        }
        out.into_sorted()
    }

    /// The base `image` is judged against: the one given to the scanner, else the one its
    /// manifest names, when the input holds it.
    fn base_of<'i>(&'i self, image: &'i Image) -> Option<&'i BaseImage> {
        self.options.base.as_deref().or(image.base.as_ref())
    }

    /// The bytes of the blobs that are not JSON and not an image's layers (a layer tarball no
    /// manifest lists, an artifact's payload), searched as a file's are: archives and
    /// compression in them opened, a tar's files named `blobs/sha256/<hex>!etc/app.env`.
    fn other_blob_findings(&self, source: &ImageSource, det: &mut Detector) -> Vec<Finding> {
        let image_name = source.path().display().to_string();
        let mut out = FindingSet::new();
        let mut scratch = Scratch::new(self.options.window);
        for blob in source.other_blobs() {
            let mut hits = Vec::new();
            let mut nested = nested::Nested::new(self.options.archives);
            let bytes = blob.bytes();
            nested.scan_file(
                det,
                &mut scratch,
                &mut hits,
                blob.name.as_bytes(),
                0,
                Content::Slice(bytes),
                bytes.len() as u64,
            );
            for hit in hits {
                let joined = hit.joined_path();
                let field = hit.inner.as_deref().map(|inner| inner.join("!")).unwrap_or_default();
                let location = Location {
                    path: Some(joined),
                    path_segments: hit.path_segments(),
                    line: Some(hit.m.line),
                    column: Some(hit.m.column),
                    document: Some(blob.place(field)),
                    ..location_of(&image_name, Source::Metadata, &hit.m)
                };
                out.add(self.finding(&hit.m, location));
            }
        }
        out.into_sorted()
    }

    /// Resolve statuses and turn one image's hits (and its config's) into findings.
    /// Also returns the redactor for the image's free text (`None` when secrets are shown).
    fn assemble(
        &self,
        source: &ImageSource,
        image: &Image,
        layers: &[&LayerScan],
        det: &mut Detector,
    ) -> (Vec<Finding>, Option<Redactor>) {
        let image_name = source.path().display().to_string();
        let platform = image.platform.as_ref().map(|p| p.to_string());
        let indexes: Vec<Option<&LayerIndex>> = layers.iter().map(|s| Some(&s.walk.index)).collect();
        let mut out = FindingSet::new();
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        // Where a secret in the image's metadata (config, history) is: no layer file, no status.
        let metadata = |field: ConfigField, layer_index: Option<usize>, line_column: Option<(u64, u64)>, m: &Match| {
            let layer_digest =
                layer_index.and_then(|i| image.layers.get(i)).and_then(|l| l.id()).map(|d| d.to_string());
            Location {
                platform: platform.clone(),
                config_key: Some(field.clone()),
                layer_index,
                layer_digest,
                line: line_column.map(|(line, _)| line),
                column: line_column.map(|(_, column)| column),
                ..location_of(&image_name, field.source(), m)
            }
        };
        // Config and history first: the image's own metadata.
        if let Some(config) = image.config.as_deref() {
            // The layer each history entry made, if it made one.
            let history_layer: Vec<Option<usize>> = {
                let mut n = 0;
                config
                    .history
                    .iter()
                    .map(|h| {
                        if h.empty_layer {
                            None
                        } else {
                            n += 1;
                            Some(n - 1)
                        }
                    })
                    .collect()
            };
            for item in config.secret_candidates() {
                let mut matches = Vec::new();
                det.scan_config(&item.field, item.value, &mut matches);
                let layer_index = match item.field {
                    ConfigField::History { entry, .. } => history_layer.get(entry).copied().flatten(),
                    _ => None,
                };
                for m in matches {
                    secrets.push(m.secret.clone());
                    let location = metadata(item.field.clone(), layer_index, None, &m);
                    out.add(self.finding(&m, location));
                }
            }
        }
        // A config that is not valid JSON of the expected shape is still searched, as text.
        if let Some(raw) = image.unparsed_config.as_deref() {
            let mut matches = Vec::new();
            det.scan(b"config.json", raw, Window::default(), &mut matches);
            for m in matches {
                secrets.push(m.secret.clone());
                let location = metadata(ConfigField::Unparsed, None, Some((m.line, m.column)), &m);
                out.add(self.finding(&m, location));
            }
        }
        let mut owners = owners::Owners::new(layers.iter().map(|s| &s.packages).collect(), &indexes);
        // The layers shared with the base image, when its layers are known.
        let inherited = self.base_of(image).and_then(|b| b.shared_layers(image));
        let origin = |layer: usize| {
            inherited
                .map(|n| if layer < n { crate::vocab::Origin::Inherited } else { crate::vocab::Origin::Introduced })
        };
        for (layer, scan) in image.layers.iter().zip(layers) {
            let digest = layer.id().cloned().or_else(|| scan.walk.digest.clone()).map(|d| d.to_string());
            for hit in &scan.hits {
                // Hidden data is in no file: it has no fate in the final image, only a place in
                // the layer's bytes.
                let hidden = hit.structure.is_some();
                let (status, removed_in_layer, removed_by) = if hidden {
                    (None, None, None)
                } else {
                    let r = resolve::resolve(&indexes, layer.index, &hit.path, hit.ordinal);
                    (Some(r.status), r.removed_in_layer, r.removed_by)
                };
                secrets.push(hit.m.secret.clone());
                let joined = hit.joined_path();
                let owner = status.and_then(|status| owners.of(hit, layer.index, status));
                let mut disposition = detect::disposition(Some(joined.as_bytes()), &hit.m);
                if disposition == Disposition::Actionable && owner.as_ref().is_some_and(|o| o.verdict.is_third_party())
                {
                    disposition = Disposition::ThirdParty;
                }
                let location = Location {
                    image: image_name.clone(),
                    platform: platform.clone(),
                    source: if hidden { Source::Hidden } else { Source::File },
                    config_key: None,
                    layer_index: Some(layer.index),
                    layer_digest: digest.clone(),
                    created_by: layer.created_by.clone(),
                    path: (!hit.path.is_empty()).then(|| joined.clone()),
                    path_segments: hit.path_segments(),
                    line: Some(hit.m.line),
                    column: Some(hit.m.column),
                    span: Some(Span { start: hit.m.start, end: hit.m.end }),
                    status,
                    removed_in_layer,
                    removed_by,
                    encoding: hit.m.encoding,
                    disposition,
                    suppressed: None,
                    structure: hit.structure.clone(),
                    document: None,
                    owner,
                    origin: origin(layer.index),
                };
                out.add(self.finding(&hit.m, location));
            }
        }
        // created_by strings carry build arguments: never print a secret through them.
        let redactor = (!self.options.show_secrets).then(|| Redactor::new(secrets));
        let mut out = out.into_sorted();
        if let Some(redactor) = &redactor {
            for f in &mut out {
                for loc in &mut f.locations {
                    if let Some(cb) = &loc.created_by {
                        loc.created_by = Some(redactor.redact(cb));
                    }
                    // A PAX record's keyword is the writer's to choose: it may be the secret.
                    if let Some(Structure::PaxRecord { key, .. }) = &mut loc.structure {
                        *key = redactor.redact(key);
                    }
                }
            }
        }
        (out, redactor)
    }
}

/// A location outside the layers' files (config, history, the input's documents) for match
/// `m`: its span, encoding and disposition, nothing else yet.
fn location_of(image: &str, source: Source, m: &Match) -> Location {
    Location {
        image: image.to_string(),
        platform: None,
        source,
        config_key: None,
        layer_index: None,
        layer_digest: None,
        created_by: None,
        path: None,
        path_segments: None,
        line: None,
        column: None,
        span: Some(Span { start: m.start, end: m.end }),
        status: None,
        removed_in_layer: None,
        removed_by: None,
        encoding: m.encoding,
        disposition: detect::disposition(None, m),
        suppressed: None,
        structure: None,
        document: None,
        owner: None,
        origin: None,
    }
}

/// `source` when it is one of `formats`, else the error saying `input` is not what it claims.
fn expect_format(source: ImageSource, input: &Input, formats: &[ImageFormat]) -> Result<ImageSource, Error> {
    if formats.contains(&source.format()) {
        return Ok(source);
    }
    Err(Error::ImageFormat {
        image: source.path().to_path_buf(),
        message: format!("{input} names a {}, which this is not: it is a {}", formats[0], source.format()),
    })
}

/// Scan one image into a [`Report`]: the simple case.
///
/// # Errors
/// Never in practice (a [`Collect`] sink does not fail); problems are in the report's `errors`.
pub fn scan_path(path: impl AsRef<Path>, rules: &Rules) -> Result<Report, Error> {
    let scanner = Scanner::new(rules);
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink)?;
    Ok(sink.into_report(stats))
}
