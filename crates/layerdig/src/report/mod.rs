//! The report model: images, layers, findings, problems and totals, as every printer and the
//! Python package see them; [`Collect`] builds a [`Report`] from a scan. The printers are sinks
//! over this model: [`json`], [`jsonl`], [`sarif`], [`human`], [`intoto`] and [`baseline`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use self::sink::Sink;
use crate::error::{Error, ErrorKind, SinkError};
use crate::finding::{Finding, FindingSet};
use crate::image::{Image, ImageSource};
use crate::layer;
use crate::redact::Redactor;
use crate::vocab::{FailOn, GateResult, Integrity};

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
    /// Stored size in bytes: of the blob as read, else as its descriptor gives it.
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
    /// Where every byte of the layer went: content, metadata, padding, hidden, unread.
    #[serde(default)]
    pub account: layer::ByteAccount,
}

impl LayerReport {
    /// The report of `layer` as `walk` read it. Its `created_by` goes through `redactor` (when
    /// secrets are not to be shown): the one way every report prints a build instruction.
    pub(crate) fn new(
        layer: &crate::image::Layer,
        walk: &layer::LayerWalk,
        redactor: Option<&Redactor>,
    ) -> LayerReport {
        LayerReport {
            index: layer.index,
            digest: layer.digest.as_ref().or(walk.digest.as_ref()).map(|d| d.to_string()),
            diff_id: layer.diff_id.as_ref().or(walk.diff_id.as_ref()).map(|d| d.to_string()),
            media_type: layer.media_type.as_ref().map(|m| m.to_string()),
            compression: walk.compression,
            // The bytes read, when the blob was read (a size that is not the descriptor's is
            // reported as a mismatch, with both); else the size the descriptor gives.
            size: if walk.stats.compressed_bytes > 0 { walk.stats.compressed_bytes } else { layer.size },
            uncompressed_size: walk.stats.uncompressed_bytes,
            created_by: layer.created_by.as_deref().map(|cb| match redactor {
                Some(r) => r.redact(cb),
                None => cb.to_string(),
            }),
            files: walk.stats.files,
            added: walk.stats.added,
            deleted: walk.stats.deleted,
            account: walk.stats.account,
        }
    }
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
    /// The input's blobs, referenced and not: on the first image of an input that has a
    /// `blobs/` directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<crate::image::InputAccount>,
    /// The image it was built on, when known (`--base`, or its manifest's annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseReport>,
}

/// The base image an image was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseReport {
    /// Its name: the path given to `--base`, or the `org.opencontainers.image.base.name`
    /// annotation.
    pub name: Option<String>,
    /// Its manifest digest, when known.
    pub digest: Option<String>,
    /// How many of the image's bottom layers are the base's (`inherited`); `None` when the
    /// base's layers are not known (an annotation names a base the input does not hold).
    pub shared_layers: Option<usize>,
}

impl ImageReport {
    /// The report of `image` from `source`, its layers as `walks` read them (in layer order).
    /// Every layer's `created_by` goes through `redactor`, whether or not the layer had a
    /// finding: a secret found anywhere in the image (a build argument in the history, say)
    /// must not be printed through another layer's instruction.
    pub(crate) fn new(
        source: &ImageSource,
        image: &Image,
        walks: &[&layer::LayerWalk],
        redactor: Option<&Redactor>,
    ) -> ImageReport {
        ImageReport {
            path: source.path().display().to_string(),
            format: source.format().as_str().to_string(),
            digest: image.manifest_digest.as_ref().or(image.config_digest.as_ref()).map(|d| d.to_string()),
            platform: image.platform.as_ref().map(|p| p.to_string()),
            tags: image.tags.clone(),
            layers: image
                .layers
                .iter()
                .zip(walks)
                .map(|(layer, walk)| LayerReport::new(layer, walk, redactor))
                .collect(),
            input: None,
            base: None,
        }
    }
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
    /// What kind of problem it is.
    #[serde(default = "other_kind")]
    pub kind: ErrorKind,
    /// The message (never holds a secret).
    pub message: String,
}

fn other_kind() -> ErrorKind {
    ErrorKind::Other
}

impl ErrorReport {
    /// The report of `e`, met reading `image`.
    pub fn from_error(image: &Path, e: &Error) -> ErrorReport {
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
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// Whether it is an error rather than a warning: it leaves results incomplete, or it is a
    /// digest or size mismatch and mismatches are not allowed (the policy's `[integrity]`).
    pub fn is_error(&self, mismatch_allowed: bool) -> bool {
        self.incomplete || (self.kind.is_integrity() && !mismatch_allowed)
    }

    /// What a person can do about it, if there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        self.kind.hint()
    }
}

/// Totals for a scan: what was read (from the scanner) and what was reported (counted over the
/// findings a report holds, see [`Stats::count`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Images read.
    pub images: u64,
    /// Layers read.
    pub layers: u64,
    /// Of those, layers whose results came from the cache (`--cache`, or another image of the
    /// same run) rather than from their bytes.
    #[serde(default)]
    pub layers_from_cache: u64,
    /// Stored (compressed) bytes read.
    pub bytes: u64,
    /// Uncompressed bytes read.
    pub uncompressed_bytes: u64,
    /// Files scanned.
    pub files: u64,
    /// Findings.
    pub findings: u64,
    /// Findings by severity.
    pub by_severity: BTreeMap<String, u64>,
    /// Findings by best status (`present`, `deleted`, `overwritten`; `config` for those found
    /// only in the config and history, `hidden` for those only in hidden data).
    pub by_status: BTreeMap<String, u64>,
    /// Findings by disposition (`actionable`, `test_fixture`, `documented_example`,
    /// `third_party`).
    #[serde(default)]
    pub by_disposition: BTreeMap<String, u64>,
    /// Findings by origin, when the images' bases are known: `introduced` (in a layer the image
    /// added, or also there) or `inherited` (only in the base image's layers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_origin: BTreeMap<String, u64>,
    /// Findings every location of which the policy allows.
    #[serde(default)]
    pub suppressed: u64,
    /// Findings that fail the gate.
    #[serde(default)]
    pub failing: u64,
    /// Findings in the baseline (left out, unless the policy sets deadlines).
    #[serde(default)]
    pub baselined: u64,
    /// Findings left out by the minimum severity or the statuses asked for.
    #[serde(default)]
    pub filtered: u64,
    /// Findings past their fix-by deadline.
    #[serde(default)]
    pub overdue: u64,
    /// Problems reported.
    pub errors: u64,
    /// Whether any problem left results incomplete.
    pub incomplete: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl Stats {
    /// Count one reported finding.
    pub fn count(&mut self, f: &Finding) {
        self.findings += 1;
        *self.by_severity.entry(f.severity.as_str().to_string()).or_default() += 1;
        // Findings with no file location are in the config and history, or in hidden data.
        let only = |source| f.locations.iter().any(|l| l.source == source);
        let status = f.best_status().map(|s| s.as_str()).unwrap_or_else(|| {
            if only(crate::finding::Source::Hidden) {
                "hidden"
            } else if only(crate::finding::Source::Config) || only(crate::finding::Source::History) {
                "config"
            } else if only(crate::finding::Source::Metadata) {
                "metadata"
            } else {
                "config"
            }
        });
        *self.by_status.entry(status.to_string()).or_default() += 1;
        *self.by_disposition.entry(f.disposition().as_str().to_string()).or_default() += 1;
        if let Some(origin) = f.origin() {
            *self.by_origin.entry(origin.as_str().to_string()).or_default() += 1;
        }
        self.suppressed += u64::from(f.is_suppressed());
        self.failing += u64::from(f.fails_gate == Some(true));
        self.overdue += u64::from(f.sla.as_ref().is_some_and(|s| s.state == crate::vocab::SlaState::Overdue));
    }

    /// These totals with the finding counts taken from `findings` instead.
    #[must_use]
    pub fn counted<'a>(&self, findings: impl IntoIterator<Item = &'a Finding>) -> Stats {
        let mut tally = Stats::default();
        for f in findings {
            tally.count(f);
        }
        self.with_counts(&tally)
    }

    /// These totals with the finding counts ([`Stats::count`]'s) of `tally` instead.
    #[must_use]
    pub fn with_counts(&self, tally: &Stats) -> Stats {
        Stats {
            findings: tally.findings,
            by_severity: tally.by_severity.clone(),
            by_status: tally.by_status.clone(),
            by_disposition: tally.by_disposition.clone(),
            by_origin: tally.by_origin.clone(),
            suppressed: tally.suppressed,
            failing: tally.failing,
            overdue: tally.overdue,
            ..self.clone()
        }
    }

    /// Add another scan's totals.
    pub fn merge(&mut self, other: &Stats) {
        self.images += other.images;
        self.layers += other.layers;
        self.layers_from_cache += other.layers_from_cache;
        self.bytes += other.bytes;
        self.uncompressed_bytes += other.uncompressed_bytes;
        self.files += other.files;
        self.findings += other.findings;
        for (mine, theirs) in [
            (&mut self.by_severity, &other.by_severity),
            (&mut self.by_status, &other.by_status),
            (&mut self.by_disposition, &other.by_disposition),
            (&mut self.by_origin, &other.by_origin),
        ] {
            for (k, v) in theirs {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
        self.suppressed += other.suppressed;
        self.failing += other.failing;
        self.baselined += other.baselined;
        self.filtered += other.filtered;
        self.overdue += other.overdue;
        self.errors += other.errors;
        self.incomplete |= other.incomplete;
        self.duration_ms = self.duration_ms.max(other.duration_ms);
    }
}

/// The gate's settings, as reports describe them (with its outcome once known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// What fails: a severity, or `overdue`.
    pub fail_on: FailOn,
    /// Whether test fixtures and documented examples fail too.
    pub include_test_fixtures: bool,
    /// The policy file used, if any.
    pub policy: Option<String>,
    /// The baseline file used, if any.
    pub baseline: Option<String>,
    /// `pass`, `fail` or `incomplete`.
    pub result: GateResult,
    /// The exit status: 0, 1 or 2.
    pub exit_code: u8,
    /// Reported findings that fail the gate.
    #[serde(default)]
    pub failing: u64,
    /// Whether the bytes read are the bytes the manifests vouch for: `ok`, `mismatch` (the
    /// gate fails with exit 2) or `allowed` (by the policy's `[integrity]` table).
    #[serde(default)]
    pub integrity: Integrity,
}

/// A whole scan's results, kept in memory: what [`Collect`] builds, what `-f json` writes and
/// what the Python package's `Report` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every image read, by path and platform.
    pub images: Vec<ImageReport>,
    /// Every finding, merged across images, most severe first.
    pub findings: Vec<Finding>,
    /// Every problem, by image and layer.
    pub errors: Vec<ErrorReport>,
    /// Totals.
    pub stats: Stats,
    /// The gate and its outcome, when findings were judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateReport>,
}

impl Report {
    /// Whether any problem left results incomplete.
    pub fn is_incomplete(&self) -> bool {
        self.errors.iter().any(|e| e.incomplete)
    }

    /// The JSON document (`-f json`): compact, or indented with two spaces.
    ///
    /// # Errors
    /// Only when serialisation fails, which the report's types do not.
    pub fn to_json(&self, pretty: bool) -> Result<String, SinkError> {
        Ok(if pretty { serde_json::to_string_pretty(self)? } else { serde_json::to_string(self)? })
    }
}

/// What is known once a scan is over, for the printers that write at the end.
#[derive(Debug, Clone, Default)]
pub struct End {
    /// The scanner's totals (images, layers, bytes, files, errors, time) and what the gate left
    /// out; finding counts are taken from what the printer received.
    pub stats: Stats,
    /// The gate and its outcome (`failing` is recounted by the printer).
    pub gate: Option<GateReport>,
}

/// A printer: a sink that writes once the scan is over.
pub trait Printer: Sink + Send {
    /// The scan is over: write what is left.
    ///
    /// # Errors
    /// When writing fails.
    fn finish(self: Box<Self>, end: &End) -> Result<(), SinkError>;
}

/// A printer that collects the whole scan and writes one document at the end: the JSON report,
/// SARIF and the in-toto Statement are each this, with their own `render`.
pub struct Document<W: Write, F> {
    out: W,
    collect: Collect,
    render: F,
}

impl<W: Write, F: Fn(&Report) -> Result<String, SinkError>> Document<W, F> {
    /// A printer writing `render` of the report (and a newline) to `out` at the end.
    pub fn new(out: W, render: F) -> Self {
        Document { out, collect: Collect::new(), render }
    }
}

impl<W: Write, F> Sink for Document<W, F> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        self.collect.image(image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError> {
        self.collect.finding(finding)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        self.collect.error(error)
    }
}

impl<W: Write + Send, F: Fn(&Report) -> Result<String, SinkError> + Send> Printer for Document<W, F> {
    fn finish(mut self: Box<Self>, end: &End) -> Result<(), SinkError> {
        let report = std::mem::take(&mut self.collect).finish(end);
        let text = (self.render)(&report)?;
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(())
    }
}

/// A sink that keeps everything, merging findings with the same fingerprint across images.
#[derive(Debug, Default)]
pub struct Collect {
    images: Vec<ImageReport>,
    findings: FindingSet,
    errors: Vec<ErrorReport>,
}

impl Collect {
    /// An empty collector.
    pub fn new() -> Collect {
        Collect::default()
    }

    /// The report: findings merged and sorted most severe first, images by path and platform,
    /// errors by image and layer; finding counts recounted over the merged findings (a finding
    /// found in two images counts once), `stats` otherwise as given.
    pub fn into_report(self, stats: Stats) -> Report {
        self.finish(&End { stats, gate: None })
    }

    /// [`Collect::into_report`] with the gate's outcome.
    pub fn finish(self, end: &End) -> Report {
        let findings = self.findings.into_sorted();
        let stats = end.stats.counted(&findings);
        let gate = end.gate.clone().map(|g| GateReport { failing: stats.failing, ..g });
        let mut images = self.images;
        images.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.platform.cmp(&b.platform)));
        let mut errors = self.errors;
        errors.sort_by(|a, b| a.image.cmp(&b.image).then_with(|| a.layer_index.cmp(&b.layer_index)));
        Report { images, findings, errors, stats, gate }
    }
}

impl Sink for Collect {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        self.images.push(image.clone());
        Ok(true)
    }

    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError> {
        self.findings.add(finding.clone());
        Ok(true)
    }

    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        self.errors.push(error.clone());
        Ok(true)
    }
}

pub mod baseline;
pub mod human;
pub mod intoto;
pub mod json;
pub mod jsonl;
pub mod sarif;
mod sink;
