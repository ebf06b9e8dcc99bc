//! The scanner: opens images, reads every layer in parallel through the detectors, resolves
//! what became of each file, and pushes deduplicated findings to a [`Sink`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::detect::{self, Detector, Match, Rules, Window};
use crate::error::Error;
use crate::finding::{self, Finding, Location, Source, Span};
use crate::image::{ConfigSource, Image, ImageSource, Layer, OpenOptions, Platform};
use crate::layer::{
    self, Content, Entry, EntryKind, Flow, LayerIndex, LayerStats, LayerVisitor, LayerWalk, WalkOptions,
};
use crate::resolve::{self, Status};

/// Bytes of a file handed to the detectors at once; larger files are scanned in overlapping
/// windows so memory does not grow with file size.
const DEFAULT_WINDOW: usize = 8 << 20;
/// The `config_key` of a secret found in a config that did not parse.
const UNPARSED_CONFIG_KEY: &str = "(config that did not parse)";
/// How far windows overlap: the longest secret that can straddle a window boundary.
const OVERLAP: usize = 64 << 10;
/// How much of a file's start credential-file checks look at.
const HEAD: usize = 64 << 10;

/// Receives a scan's results as they are ready. Every printer is a sink; [`Collect`] keeps them.
pub trait Sink {
    /// An image was read (once per image, before its findings). Return `false` to stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn image(&mut self, image: &ImageReport) -> Result<bool, Error> {
        let _ = image;
        Ok(true)
    }

    /// A finding. Return `false` to stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn finding(&mut self, finding: &Finding) -> Result<bool, Error>;

    /// A problem that did not stop the scan (a bad layer, a digest mismatch, an unreadable
    /// image). Return `false` to stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn error(&mut self, error: &ErrorReport) -> Result<bool, Error> {
        let _ = error;
        Ok(true)
    }
}

/// A layer, as reports describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Position, base 0.
    pub index: usize,
    /// Blob digest (from the manifest, or computed).
    pub digest: Option<String>,
    /// Uncompressed digest (from the config, or computed).
    pub diff_id: Option<String>,
    /// Declared media type.
    pub media_type: Option<String>,
    /// Compression detected from the bytes.
    pub compression: Option<layer::Compression>,
    /// Stored size in bytes.
    pub size: u64,
    /// Uncompressed size in bytes.
    pub uncompressed_size: u64,
    /// The instruction that made it, secrets redacted.
    pub created_by: Option<String>,
    /// Regular files in the layer.
    pub files: u64,
    /// Paths the layer adds or writes.
    pub added: u64,
    /// Whiteouts and opaque markers.
    pub deleted: u64,
}

/// An image, as reports describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReport {
    /// The path given.
    pub path: String,
    /// How it was recognised.
    pub format: String,
    /// The manifest digest, else the config digest (image id).
    pub digest: Option<String>,
    /// The platform.
    pub platform: Option<String>,
    /// Tags and reference names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The layers, base first.
    pub layers: Vec<LayerReport>,
}

/// A problem, as reports describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The image path.
    pub image: String,
    /// The layer, when it is about one.
    pub layer_index: Option<usize>,
    /// The layer digest, when known.
    pub layer_digest: Option<String>,
    /// The path inside the layer, when it is at one.
    pub path: Option<String>,
    /// Whether results are incomplete because of it.
    pub incomplete: bool,
    /// The message (never holds a secret).
    pub message: String,
}

impl ErrorReport {
    fn from_error(image: &Path, e: &Error) -> ErrorReport {
        let (layer_index, layer_digest, path) = match e {
            Error::Layer { layer, digest, path, .. } => {
                (Some(*layer), digest.as_ref().map(|d| d.to_string()), path.clone())
            }
            _ => (None, None, None),
        };
        ErrorReport {
            image: image.display().to_string(),
            layer_index,
            layer_digest,
            path,
            incomplete: e.is_incomplete(),
            message: e.to_string(),
        }
    }
}

/// Totals for a scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Images read.
    pub images: u64,
    /// Layers read.
    pub layers: u64,
    /// Stored (compressed) bytes read.
    pub bytes: u64,
    /// Uncompressed bytes read.
    pub uncompressed_bytes: u64,
    /// Files scanned.
    pub files: u64,
    /// Findings.
    pub findings: u64,
    /// Findings by severity.
    pub by_severity: HashMap<String, u64>,
    /// Findings by best status (`present`, `deleted`, `overwritten`, `config`).
    pub by_status: HashMap<String, u64>,
    /// Problems reported.
    pub errors: u64,
    /// Whether any problem left results incomplete.
    pub incomplete: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl Stats {
    fn count(&mut self, f: &Finding) {
        self.findings += 1;
        *self.by_severity.entry(f.severity.as_str().to_string()).or_default() += 1;
        let status = f.best_status().map(Status::as_str).unwrap_or("config");
        *self.by_status.entry(status.to_string()).or_default() += 1;
    }

    /// Add another scan's totals.
    pub fn merge(&mut self, other: &Stats) {
        self.images += other.images;
        self.layers += other.layers;
        self.bytes += other.bytes;
        self.uncompressed_bytes += other.uncompressed_bytes;
        self.files += other.files;
        self.findings += other.findings;
        for (k, v) in &other.by_severity {
            *self.by_severity.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.by_status {
            *self.by_status.entry(k.clone()).or_default() += v;
        }
        self.errors += other.errors;
        self.incomplete |= other.incomplete;
        self.duration_ms = self.duration_ms.max(other.duration_ms);
    }
}

/// A whole scan's results, kept in memory: what [`Collect`] builds and the JSON report holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every image read.
    pub images: Vec<ImageReport>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// Every problem.
    pub errors: Vec<ErrorReport>,
    /// Totals.
    pub stats: Stats,
}

impl Report {
    /// Whether any problem left results incomplete.
    pub fn is_incomplete(&self) -> bool {
        self.errors.iter().any(|e| e.incomplete)
    }

    /// Sort findings most severe first, then by rule and fingerprint, for stable output.
    pub fn sort(&mut self) {
        self.findings.sort_by(Finding::report_order);
    }
}

/// A sink that keeps everything, merging findings with the same fingerprint across images.
#[derive(Debug, Default)]
pub struct Collect {
    report: Report,
    by_fingerprint: HashMap<String, usize>,
}

impl Collect {
    /// An empty collector.
    pub fn new() -> Collect {
        Collect::default()
    }

    /// The report, findings sorted most severe first. Stats are those the scanner returned.
    pub fn into_report(mut self, stats: Stats) -> Report {
        // Findings merged across images are counted once each, not once per image.
        self.report.stats = Stats { findings: 0, by_severity: HashMap::new(), by_status: HashMap::new(), ..stats };
        for f in &self.report.findings {
            self.report.stats.count(f);
        }
        self.report.sort();
        self.report
    }
}

impl Sink for Collect {
    fn image(&mut self, image: &ImageReport) -> Result<bool, Error> {
        self.report.images.push(image.clone());
        Ok(true)
    }

    fn finding(&mut self, finding: &Finding) -> Result<bool, Error> {
        match self.by_fingerprint.get(&finding.fingerprint) {
            Some(&i) => self.report.findings[i].locations.extend(finding.locations.iter().cloned()),
            None => {
                self.by_fingerprint.insert(finding.fingerprint.clone(), self.report.findings.len());
                self.report.findings.push(finding.clone());
            }
        }
        Ok(true)
    }

    fn error(&mut self, error: &ErrorReport) -> Result<bool, Error> {
        self.report.errors.push(error.clone());
        Ok(true)
    }
}

/// Options for a [`Scanner`].
#[derive(Debug, Clone)]
struct Options {
    threads: Option<usize>,
    walk: WalkOptions,
    show_secrets: bool,
    platform: Option<Platform>,
    window: usize,
    scan_config: bool,
    progress: Option<ProgressHook>,
}

/// Receives progress while a scan runs, called from the threads doing the work (so it must be
/// cheap and thread-safe). For progress bars; results still go to the [`Sink`].
pub trait Progress: Send + Sync {
    /// An image source was opened: `layers` distinct layers holding `bytes` stored bytes are
    /// about to be read.
    fn image_opened(&self, image: &Path, layers: usize, bytes: u64) {
        let _ = (image, layers, bytes);
    }

    /// One layer was read (in full or, after a problem, in part).
    fn layer_done(&self, image: &Path, layer: usize, stats: &LayerStats);
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
                scan_config: true,
                progress: None,
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

    /// Build the scanner.
    ///
    /// # Errors
    /// When the thread pool cannot be created.
    pub fn build(&self, rules: &Rules) -> Result<Scanner, Error> {
        let pool = match self.options.threads {
            Some(n) => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::Sink(format!("thread pool: {e}")))?,
            )),
            None => None,
        };
        Ok(Scanner { rules: rules.clone(), options: self.options.clone(), pool })
    }
}

/// Scans images. Cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Scanner {
    rules: Rules,
    options: Options,
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// One file's detector hit inside a layer.
struct Hit {
    path: Vec<u8>,
    ordinal: u32,
    m: Match,
}

/// The result of scanning one layer.
struct LayerScan {
    walk: LayerWalk,
    hits: Vec<Hit>,
}

impl Scanner {
    /// A scanner with default options.
    pub fn new(rules: &Rules) -> Scanner {
        Scanner { rules: rules.clone(), options: ScannerBuilder::default().options, pool: None }
    }

    /// A builder for non-default options.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// The rules this scanner uses.
    pub fn rules(&self) -> &Rules {
        &self.rules
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
        let opened = ImageSource::open_with(path, &OpenOptions { platform: self.options.platform.clone() });
        match opened {
            Ok(source) => self.scan_source(&source, sink),
            Err(e) => {
                let report = ErrorReport::from_error(path, &e);
                sink.error(&report)?;
                Ok(Stats {
                    errors: 1,
                    incomplete: true,
                    duration_ms: started.elapsed().as_millis() as u64,
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
        let started = Instant::now();
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
        let scans: Vec<LayerScan> = self.install(|| {
            unique
                .par_iter()
                .map_init(
                    || Detector::new(&self.rules),
                    |det, layer| {
                        let scan = self.scan_layer(image_path, layer, det);
                        if let Some(progress) = &self.options.progress {
                            progress.0.layer_done(image_path, layer.index, &scan.walk.stats);
                        }
                        scan
                    },
                )
                .collect()
        });
        for scan in &scans {
            stats.layers += 1;
            stats.bytes += scan.walk.stats.compressed_bytes;
            stats.uncompressed_bytes += scan.walk.stats.uncompressed_bytes;
            stats.files += scan.walk.stats.files;
            for problem in &scan.walk.problems {
                stats.errors += 1;
                stats.incomplete |= problem.is_incomplete();
                if !sink.error(&ErrorReport::from_error(image_path, problem))? {
                    return Ok(stats);
                }
            }
        }
        let mut detector = Detector::new(&self.rules);
        for (i, image) in source.images().iter().enumerate() {
            stats.images += 1;
            let layer_scans: Vec<&LayerScan> = image.layers.iter().map(|l| &scans[key_of[&(i, l.index)]]).collect();
            let (findings, redactor) = self.assemble(source, image, &layer_scans, &mut detector);
            let report = image_report(source, image, &layer_scans, redactor.as_ref());
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
        stats.duration_ms = started.elapsed().as_millis() as u64;
        Ok(stats)
    }

    /// Run one buffer through the detectors, as if it were the file at `path` (for example
    /// `app/.env`) in a single-layer image. The findings have no image or layer.
    pub fn scan_slice(&self, path: &str, data: &[u8]) -> Vec<Finding> {
        let mut det = Detector::new(&self.rules);
        let mut hits = Vec::new();
        let mut scratch = Scratch::new(self.options.window);
        scratch.scan_content(&mut det, path.as_bytes(), Content::Slice(data), data.len() as u64, &mut hits, 0);
        let mut out: Vec<Finding> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for hit in hits {
            let location = Location {
                image: String::new(),
                platform: None,
                source: Source::File,
                config_key: None,
                layer_index: None,
                layer_digest: None,
                created_by: None,
                path: Some(path.to_string()),
                line: Some(hit.m.line),
                column: Some(hit.m.column),
                span: Some(Span { start: hit.m.start, end: hit.m.end }),
                status: None,
                removed_in_layer: None,
                removed_by: None,
                disposition: detect::disposition(Some(path.as_bytes()), &hit.m),
            };
            self.push_finding(&mut out, &mut index, &hit.m, location);
        }
        out
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    fn scan_layer(&self, image_path: &Path, layer: &Layer, det: &mut Detector) -> LayerScan {
        let mut visitor =
            ScanVisitor { det, scratch: Scratch::new(self.options.window), hits: Vec::new(), by_path: HashMap::new() };
        let walk = layer::walk(image_path, layer, &self.options.walk, &mut visitor);
        LayerScan { walk, hits: visitor.hits }
    }

    fn push_finding(&self, out: &mut Vec<Finding>, index: &mut HashMap<String, usize>, m: &Match, location: Location) {
        let fp = finding::fingerprint(&m.rule_id, &m.secret);
        match index.get(&fp) {
            Some(&i) => {
                let f: &mut Finding = &mut out[i];
                if !f.locations.contains(&location) {
                    f.locations.push(location);
                }
                f.confidence = f.confidence.max(m.confidence);
            }
            None => {
                index.insert(fp.clone(), out.len());
                out.push(Finding {
                    rule_id: m.rule_id.to_string(),
                    rule_name: m.rule_name.to_string(),
                    severity: m.severity,
                    confidence: m.confidence,
                    detector: m.kind,
                    fingerprint: fp,
                    redacted: finding::redact(&m.secret),
                    secret: self.options.show_secrets.then(|| String::from_utf8_lossy(&m.secret).into_owned()),
                    note: m.note.clone(),
                    locations: vec![location],
                });
            }
        }
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
        let mut out = Vec::new();
        let mut index = HashMap::new();
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        // Where a secret in the image's metadata (config, history) is: no layer file, no status.
        let metadata =
            |source, key: String, layer_index, layer_digest, line_column: Option<(u64, u64)>, m: &Match| Location {
                image: image_name.clone(),
                platform: platform.clone(),
                source,
                config_key: Some(key),
                layer_index,
                layer_digest,
                created_by: None,
                path: None,
                line: line_column.map(|(line, _)| line),
                column: line_column.map(|(_, column)| column),
                span: Some(Span { start: m.start, end: m.end }),
                status: None,
                removed_in_layer: None,
                removed_by: None,
                disposition: detect::disposition(None, m),
            };
        // Config and history first: the image's own metadata.
        if self.options.scan_config
            && let Some(config) = image.config.as_deref()
        {
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
                det.scan_config(&item.key, item.value, &mut matches);
                for m in matches {
                    let (src, layer_index) = match item.source {
                        ConfigSource::Config => (Source::Config, None),
                        ConfigSource::History => {
                            let idx = item
                                .key
                                .strip_prefix("history[")
                                .and_then(|k| k.split(']').next())
                                .and_then(|n| n.parse::<usize>().ok())
                                .and_then(|n| history_layer.get(n).copied().flatten());
                            (Source::History, idx)
                        }
                    };
                    let layer = layer_index.and_then(|i| image.layers.get(i));
                    secrets.push(m.secret.clone());
                    let digest = layer.and_then(|l| l.id()).map(|d| d.to_string());
                    let location = metadata(src, item.key.clone(), layer_index, digest, None, &m);
                    self.push_finding(&mut out, &mut index, &m, location);
                }
            }
        }
        // A config that is not valid JSON of the expected shape is still searched, as text.
        if self.options.scan_config
            && let Some(raw) = image.unparsed_config.as_deref()
        {
            let mut matches = Vec::new();
            det.scan(b"config.json", raw, Window::default(), &mut matches);
            for m in matches {
                secrets.push(m.secret.clone());
                let key = UNPARSED_CONFIG_KEY.to_string();
                let location = metadata(Source::Config, key, None, None, Some((m.line, m.column)), &m);
                self.push_finding(&mut out, &mut index, &m, location);
            }
        }
        for (layer, scan) in image.layers.iter().zip(layers) {
            let digest = layer.id().cloned().or_else(|| scan.walk.digest.clone()).map(|d| d.to_string());
            for hit in &scan.hits {
                let resolution = resolve::resolve(&indexes, layer.index, &hit.path, hit.ordinal);
                secrets.push(hit.m.secret.clone());
                let location = Location {
                    image: image_name.clone(),
                    platform: platform.clone(),
                    source: Source::File,
                    config_key: None,
                    layer_index: Some(layer.index),
                    layer_digest: digest.clone(),
                    created_by: layer.created_by.clone(),
                    path: Some(String::from_utf8_lossy(&hit.path).into_owned()),
                    line: Some(hit.m.line),
                    column: Some(hit.m.column),
                    span: Some(Span { start: hit.m.start, end: hit.m.end }),
                    status: Some(resolution.status),
                    removed_in_layer: resolution.removed_in_layer,
                    removed_by: resolution.removed_by,
                    disposition: detect::disposition(Some(&hit.path), &hit.m),
                };
                self.push_finding(&mut out, &mut index, &hit.m, location);
            }
        }
        // created_by strings carry build arguments: never print a secret through them.
        let redactor = (!self.options.show_secrets).then(|| Redactor::new(secrets));
        if let Some(redactor) = &redactor {
            for f in &mut out {
                for loc in &mut f.locations {
                    if let Some(cb) = &loc.created_by {
                        loc.created_by = Some(redactor.redact(cb));
                    }
                }
            }
        }
        out.sort_by(Finding::report_order);
        (out, redactor)
    }
}

/// Replaces known secrets inside free text (such as `created_by`) with their redacted form.
struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    fn new(mut secrets: Vec<Vec<u8>>) -> Redactor {
        secrets.sort();
        secrets.dedup();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let secrets = secrets
            .into_iter()
            .filter(|s| s.len() >= 4)
            .map(|s| (String::from_utf8_lossy(&s).into_owned(), format!("[REDACTED {}]", finding::redact(&s))))
            .collect();
        Redactor { secrets }
    }

    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (secret, replacement) in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), replacement);
            }
        }
        out
    }
}

/// Every layer's `created_by` goes through `redactor`, whether or not the layer had a finding:
/// a secret found anywhere in the image (a build argument in the history, say) must not be
/// printed through another layer's instruction.
fn image_report(source: &ImageSource, image: &Image, scans: &[&LayerScan], redactor: Option<&Redactor>) -> ImageReport {
    ImageReport {
        path: source.path().display().to_string(),
        format: source.format().as_str().to_string(),
        digest: image.manifest_digest.as_ref().or(image.config_digest.as_ref()).map(|d| d.to_string()),
        platform: image.platform.as_ref().map(|p| p.to_string()),
        tags: image.tags.clone(),
        layers: image
            .layers
            .iter()
            .zip(scans)
            .map(|(layer, scan)| LayerReport {
                index: layer.index,
                digest: layer.digest.as_ref().or(scan.walk.digest.as_ref()).map(|d| d.to_string()),
                diff_id: layer.diff_id.as_ref().or(scan.walk.diff_id.as_ref()).map(|d| d.to_string()),
                media_type: layer.media_type.as_ref().map(|m| m.to_string()),
                compression: scan.walk.compression,
                size: scan.walk.stats.compressed_bytes.max(layer.size),
                uncompressed_size: scan.walk.stats.uncompressed_bytes,
                created_by: layer.created_by.as_deref().map(|cb| match redactor {
                    Some(r) => r.redact(cb),
                    None => cb.to_string(),
                }),
                files: scan.walk.stats.files,
                added: scan.walk.stats.added,
                deleted: scan.walk.stats.deleted,
            })
            .collect(),
    }
}

/// The per-layer visitor: every file through the detectors.
struct ScanVisitor<'d> {
    det: &'d mut Detector,
    scratch: Scratch,
    hits: Vec<Hit>,
    /// Paths in this layer that had hits, for hard links to them.
    by_path: HashMap<Vec<u8>, Vec<usize>>,
}

impl LayerVisitor for ScanVisitor<'_> {
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error> {
        match entry.kind {
            EntryKind::File => {
                let before = self.hits.len();
                self.scratch.scan_content(self.det, entry.path, content, entry.size, &mut self.hits, entry.ordinal);
                if self.hits.len() > before {
                    self.by_path.insert(entry.path.to_vec(), (before..self.hits.len()).collect());
                }
            }
            EntryKind::Hardlink { target } => {
                if let Some(indices) = self.by_path.get(target).cloned() {
                    let start = self.hits.len();
                    for i in &indices {
                        let m = self.hits[*i].m.clone();
                        self.hits.push(Hit { path: entry.path.to_vec(), ordinal: entry.ordinal, m });
                    }
                    self.by_path.insert(entry.path.to_vec(), (start..self.hits.len()).collect());
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

/// Per-thread buffers for reading file content in windows.
struct Scratch {
    window: usize,
    buf: Vec<u8>,
    head: Vec<u8>,
    matches: Vec<Match>,
}

impl Scratch {
    fn new(window: usize) -> Scratch {
        Scratch { window, buf: Vec::new(), head: Vec::new(), matches: Vec::new() }
    }

    fn scan_content(
        &mut self,
        det: &mut Detector,
        path: &[u8],
        content: Content<'_>,
        size: u64,
        hits: &mut Vec<Hit>,
        ordinal: u32,
    ) {
        self.matches.clear();
        match content {
            Content::None => return,
            Content::Slice(data) => {
                self.head.clear();
                self.head.extend_from_slice(&data[..data.len().min(HEAD)]);
                let mut offset = 0usize;
                let mut line = 1u64;
                loop {
                    let end = (offset + self.window + OVERLAP).min(data.len());
                    let last = end == data.len();
                    let window = Window {
                        offset: offset as u64,
                        line,
                        report_before: if last { None } else { Some(self.window) },
                    };
                    det.scan(path, &data[offset..end], window, &mut self.matches);
                    if last {
                        break;
                    }
                    line += memchr_count(&data[offset..offset + self.window]);
                    offset += self.window;
                }
            }
            Content::Reader(reader) => {
                self.head.clear();
                let cap = self.window + OVERLAP;
                self.buf.clear();
                let mut offset = 0u64;
                let mut line = 1u64;
                let mut eof = false;
                loop {
                    // Fill the buffer up to a whole window plus overlap.
                    while !eof && self.buf.len() < cap {
                        let start = self.buf.len();
                        // No more than the file has left (plus a little, to see its end): a
                        // zero-filled 256 KiB per tiny file made a layer of many entries crawl,
                        // and 8 KiB for the read that finds the end was still a tenth of a
                        // tiny-file layer's time.
                        let left = size.saturating_sub(offset + start as u64).saturating_add(1).max(512);
                        let want = (cap - start).min(256 << 10).min(usize::try_from(left).unwrap_or(usize::MAX));
                        self.buf.resize(start + want, 0);
                        match reader.read(&mut self.buf[start..]) {
                            Ok(0) => {
                                self.buf.truncate(start);
                                eof = true;
                            }
                            Ok(n) => self.buf.truncate(start + n),
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(start),
                            Err(_) => {
                                // The layer walker reports the stream error when it reads on.
                                self.buf.truncate(start);
                                eof = true;
                            }
                        }
                    }
                    if offset == 0 {
                        self.head.extend_from_slice(&self.buf[..self.buf.len().min(HEAD)]);
                    }
                    let last = eof && self.buf.len() <= cap;
                    let report_before = if eof { None } else { Some(self.window) };
                    let window = Window { offset, line, report_before };
                    det.scan(path, &self.buf, window, &mut self.matches);
                    if last || self.buf.len() <= self.window {
                        break;
                    }
                    line += memchr_count(&self.buf[..self.window]);
                    self.buf.drain(..self.window);
                    offset += self.window as u64;
                }
            }
        }
        let had = !self.matches.is_empty();
        if let Some(m) = det.classify_file(path, &self.head, size, had) {
            self.matches.push(m);
        }
        for m in self.matches.drain(..) {
            hits.push(Hit { path: path.to_vec(), ordinal, m });
        }
    }
}

fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
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

/// A file listed with its fate in the final image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path inside the layer, no leading slash.
    pub path: String,
    /// The layer that holds it.
    pub layer_index: usize,
    /// `file`, `hardlink`, `symlink`.
    pub kind: String,
    /// Content size in bytes.
    pub size: u64,
    /// Present, deleted or overwritten.
    pub status: Status,
    /// The layer that removed or replaced it.
    pub removed_in_layer: Option<usize>,
    /// How it was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<resolve::RemovedBy>,
}

/// The resolved history of every file (regular files, hard and symbolic links) in every layer
/// of `image`, base layer first, with the problems met on the way.
pub fn file_history(
    source: &ImageSource,
    image: &Image,
    threads: Option<usize>,
) -> (Vec<FileRecord>, Vec<LayerStats>, Vec<Error>) {
    struct Lister {
        files: Vec<(Vec<u8>, u32, &'static str, u64)>,
    }
    impl LayerVisitor for Lister {
        fn visit(&mut self, entry: &Entry<'_>, _content: Content<'_>) -> Result<Flow, Error> {
            let kind = match entry.kind {
                EntryKind::File => "file",
                EntryKind::Hardlink { .. } => "hardlink",
                EntryKind::Symlink { .. } => "symlink",
                _ => return Ok(Flow::Continue),
            };
            self.files.push((entry.path.to_vec(), entry.ordinal, kind, entry.size));
            Ok(Flow::Continue)
        }
    }
    let options = WalkOptions::default();
    let run = || {
        image
            .layers
            .par_iter()
            .map(|layer| {
                let mut lister = Lister { files: Vec::new() };
                let walk = layer::walk(source.path(), layer, &options, &mut lister);
                (walk, lister.files)
            })
            .collect::<Vec<_>>()
    };
    let walked = match threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build() {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        },
        None => run(),
    };
    let indexes: Vec<Option<&LayerIndex>> = walked.iter().map(|(w, _)| Some(&w.index)).collect();
    let mut records = Vec::new();
    for (layer_index, (_, files)) in walked.iter().enumerate() {
        for (path, ordinal, kind, size) in files {
            let r = resolve::resolve(&indexes, layer_index, path, *ordinal);
            records.push(FileRecord {
                path: String::from_utf8_lossy(path).into_owned(),
                layer_index,
                kind: (*kind).to_string(),
                size: *size,
                status: r.status,
                removed_in_layer: r.removed_in_layer,
                removed_by: r.removed_by,
            });
        }
    }
    let stats = walked.iter().map(|(w, _)| w.stats).collect();
    let problems = walked.into_iter().flat_map(|(w, _)| w.problems).collect();
    (records, stats, problems)
}
