//! Where results go: the JSON, JSON lines, SARIF and baseline writers (the human one is in
//! `human.rs`). Each receives judged findings as the scan produces them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use layerdig::report::{sarif, sarif_level, security_severity};
use layerdig::{Disposition, ErrorReport, Finding, ImageReport, Report, Rules, Severity, Stats};
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate::{Judged, Tally};

/// A destination for results. Calls come from the scanning threads, one at a time.
pub trait Emit: Send {
    /// An image was read; its findings follow.
    fn image(&mut self, image: &ImageReport) -> io::Result<()>;
    /// A reported finding.
    fn finding(&mut self, finding: Judged) -> io::Result<()>;
    /// A problem met while scanning.
    fn error(&mut self, error: &ErrorReport) -> io::Result<()>;
    /// The scan is over.
    fn finish(self: Box<Self>, end: &End) -> io::Result<()>;
}

/// What is known when the scan is over.
#[derive(Debug, Clone)]
pub struct End {
    /// The scanner's totals (images, layers, bytes, files, errors, time).
    pub stats: Stats,
    /// Findings left out because the baseline has them.
    pub baselined: u64,
    /// Findings left out by `--min-severity` or `--status`.
    pub filtered: u64,
    /// The gate's settings and outcome.
    pub gate: Gate,
}

/// The gate, as reports describe it.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// `--fail-on` (or the policy's `fail_on`).
    pub fail_on: Severity,
    /// `--include-test-fixtures`.
    pub include_test_fixtures: bool,
    /// The policy file used, if any.
    pub policy: Option<String>,
    /// The baseline file used, if any.
    pub baseline: Option<String>,
    /// `pass`, `fail` or `incomplete`.
    pub result: &'static str,
    /// The exit status: 0, 1 or 2.
    pub exit_code: u8,
}

impl Gate {
    fn with_failing(&self, failing: u64) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["failing"] = json!(failing);
        v
    }
}

/// The `stats` object: the scanner's totals with the counts of what was reported.
pub fn stats_value(end: &End, tally: &Tally) -> Value {
    let mut v = serde_json::to_value(&end.stats).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("findings".into(), json!(tally.findings));
        map.insert("by_severity".into(), json!(tally.by_severity));
        map.insert("by_status".into(), json!(tally.by_status));
        map.insert("by_disposition".into(), json!(tally.by_disposition));
        map.insert("suppressed".into(), json!(tally.suppressed));
        map.insert("failing".into(), json!(tally.failing));
        map.insert("baselined".into(), json!(end.baselined));
        map.insert("filtered".into(), json!(end.filtered));
    }
    v
}

/// Standard output, or a file (created mode 0600 when it will hold secrets).
pub fn open_output(path: Option<&Path>, secret: bool) -> Result<Box<dyn Write + Send>> {
    match path {
        None => Ok(Box::new(BufWriter::new(io::stdout()))),
        Some(p) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            if secret {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let file: File = options.open(p).with_context(|| format!("creating {}", p.display()))?;
            #[cfg(unix)]
            if secret {
                // The file may have existed with wider permissions: narrow them before writing.
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {} to mode 0600", p.display()))?;
            }
            #[cfg(not(unix))]
            let _ = secret;
            Ok(Box::new(BufWriter::new(file)))
        }
    }
}

/// Findings merged by fingerprint across images, as the JSON report and SARIF give them.
#[derive(Default)]
struct Merged {
    images: Vec<ImageReport>,
    findings: Vec<Judged>,
    index: HashMap<String, usize>,
    errors: Vec<ErrorReport>,
}

impl Merged {
    fn add(&mut self, j: Judged) {
        match self.index.get(&j.finding.fingerprint) {
            Some(&i) => self.findings[i].merge(j),
            None => {
                self.index.insert(j.finding.fingerprint.clone(), self.findings.len());
                self.findings.push(j);
            }
        }
    }

    /// Most severe first, then rule id and fingerprint; images by path.
    fn sort(&mut self) {
        self.findings.sort_by(|a, b| Finding::report_order(&a.finding, &b.finding));
        self.images.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.platform.cmp(&b.platform)));
        self.errors.sort_by(|a, b| a.image.cmp(&b.image).then_with(|| a.layer_index.cmp(&b.layer_index)));
        self.index.clear();
    }
}

/// `-f json`: one document when the scan is over.
pub struct JsonOut {
    out: Box<dyn Write + Send>,
    merged: Merged,
}

impl JsonOut {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonOut { out, merged: Merged::default() }
    }
}

/// The JSON report document; its schema is `layerdig schema`.
#[derive(Serialize)]
struct ReportDoc<'a> {
    images: &'a [ImageReport],
    findings: Vec<Value>,
    errors: &'a [ErrorReport],
    stats: Value,
    gate: Value,
}

impl Emit for JsonOut {
    fn image(&mut self, image: &ImageReport) -> io::Result<()> {
        self.merged.images.push(image.clone());
        Ok(())
    }
    fn finding(&mut self, finding: Judged) -> io::Result<()> {
        self.merged.add(finding);
        Ok(())
    }
    fn error(&mut self, error: &ErrorReport) -> io::Result<()> {
        self.merged.errors.push(error.clone());
        Ok(())
    }
    fn finish(mut self: Box<Self>, end: &End) -> io::Result<()> {
        self.merged.sort();
        let tally = Tally::of(&self.merged.findings);
        let doc = ReportDoc {
            images: &self.merged.images,
            findings: self.merged.findings.iter().map(Judged::to_value).collect(),
            errors: &self.merged.errors,
            stats: stats_value(end, &tally),
            gate: end.gate.with_failing(tally.failing),
        };
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// `-f jsonl` and `sweep`: one object per line, written as soon as it is known:
/// `{"type": "image"|"finding"|"error", ...}`, then `{"type": "stats", ..., "gate": {...}}`.
pub struct JsonlOut {
    out: Box<dyn Write + Send>,
    tally: Tally,
}

impl JsonlOut {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonlOut { out, tally: Tally::default() }
    }

    fn line(&mut self, kind: &str, mut v: Value) -> io::Result<()> {
        if let Value::Object(map) = &mut v {
            map.insert("type".into(), Value::String(kind.into()));
        }
        serde_json::to_writer(&mut self.out, &v)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

impl Emit for JsonlOut {
    fn image(&mut self, image: &ImageReport) -> io::Result<()> {
        self.line("image", serde_json::to_value(image)?)
    }
    fn finding(&mut self, finding: Judged) -> io::Result<()> {
        self.tally.add(&finding);
        self.line("finding", finding.to_value())
    }
    fn error(&mut self, error: &ErrorReport) -> io::Result<()> {
        self.line("error", serde_json::to_value(error)?)
    }
    fn finish(mut self: Box<Self>, end: &End) -> io::Result<()> {
        let mut v = stats_value(end, &self.tally);
        v["gate"] = end.gate.with_failing(self.tally.failing);
        self.line("stats", v)
    }
}

/// `-f sarif`: SARIF 2.1.0 when the scan is over. Suppressed locations are left out (GitHub code
/// scanning does not honour SARIF `suppressions` by default and would open alerts for them);
/// locations in test fixtures and documented examples are level `note` unless they fail the gate.
pub struct SarifOut {
    out: Box<dyn Write + Send>,
    merged: Merged,
    rules: Rules,
    overrides: BTreeMap<String, Severity>,
}

impl SarifOut {
    pub fn new(out: Box<dyn Write + Send>, rules: &Rules, overrides: BTreeMap<String, Severity>) -> Self {
        SarifOut { out, merged: Merged::default(), rules: rules.clone(), overrides }
    }
}

impl Emit for SarifOut {
    fn image(&mut self, image: &ImageReport) -> io::Result<()> {
        self.merged.images.push(image.clone());
        Ok(())
    }
    fn finding(&mut self, finding: Judged) -> io::Result<()> {
        self.merged.add(finding);
        Ok(())
    }
    fn error(&mut self, error: &ErrorReport) -> io::Result<()> {
        self.merged.errors.push(error.clone());
        Ok(())
    }
    fn finish(mut self: Box<Self>, end: &End) -> io::Result<()> {
        self.merged.sort();
        let mut findings: Vec<Finding> = Vec::new();
        // One entry per SARIF result, in the order `sarif` writes them: whether it is a note.
        let mut notes: Vec<bool> = Vec::new();
        for j in &self.merged.findings {
            let mut f = j.finding.clone();
            f.locations.clear();
            for (l, s) in j.finding.locations.iter().zip(&j.suppressed) {
                if s.is_none() {
                    notes.push(l.disposition != Disposition::Actionable && !end.gate.include_test_fixtures);
                    f.locations.push(l.clone());
                }
            }
            if !f.locations.is_empty() {
                findings.push(f);
            }
        }
        let report = Report {
            images: self.merged.images.clone(),
            findings,
            errors: self.merged.errors.clone(),
            stats: end.stats.clone(),
        };
        let mut doc = sarif(&report, &self.rules);
        if let Some(Value::Array(results)) = doc.pointer_mut("/runs/0/results") {
            for (r, note) in results.iter_mut().zip(notes) {
                if note {
                    r["level"] = json!("note");
                }
            }
        }
        if let Some(Value::Array(rules)) = doc.pointer_mut("/runs/0/tool/driver/rules") {
            for rule in rules {
                let Some(sev) = rule["id"].as_str().and_then(|id| self.overrides.get(id)).copied() else {
                    continue;
                };
                rule["defaultConfiguration"]["level"] = json!(sarif_level(sev));
                rule["properties"]["security-severity"] = json!(security_severity(sev));
                rule["properties"]["severity"] = json!(sev.as_str());
            }
        }
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// `layerdig baseline`: the fingerprints of every finding.
pub struct BaselineOut {
    out: Box<dyn Write + Send>,
    entries: BTreeMap<String, BaselineEntry>,
}

/// One baselined finding: enough for a person reviewing the file, never the secret.
#[derive(Serialize, Debug)]
struct BaselineEntry {
    fingerprint: String,
    rule_id: String,
    severity: Severity,
    redacted: String,
    #[serde(rename = "where")]
    places: Vec<String>,
}

/// The baseline document; its schema is `layerdig schema baseline`.
#[derive(Serialize)]
struct BaselineDoc<'a> {
    layerdig_baseline: u32,
    findings: Vec<&'a BaselineEntry>,
}

impl BaselineOut {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        BaselineOut { out, entries: BTreeMap::new() }
    }
}

fn place(l: &layerdig::Location) -> String {
    let what = match (&l.path, &l.config_key) {
        (Some(p), _) => format!("/{p}"),
        (None, Some(k)) => k.clone(),
        (None, None) => String::new(),
    };
    let layer = l.layer_index.map(|i| format!(" layer {i}")).unwrap_or_default();
    let status = match (l.status, l.removed_in_layer) {
        (Some(s), Some(m)) => format!(" ({s} in layer {m})"),
        (Some(s), None) => format!(" ({s})"),
        (None, _) => format!(" ({})", l.source.as_str()),
    };
    format!("{}:{layer} {what}{status}", l.image)
}

impl Emit for BaselineOut {
    fn image(&mut self, _image: &ImageReport) -> io::Result<()> {
        Ok(())
    }
    fn finding(&mut self, j: Judged) -> io::Result<()> {
        let f = j.finding;
        let entry = self.entries.entry(f.fingerprint.clone()).or_insert_with(|| BaselineEntry {
            fingerprint: f.fingerprint.clone(),
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            redacted: f.redacted.clone(),
            places: Vec::new(),
        });
        for l in &f.locations {
            let p = place(l);
            if !entry.places.contains(&p) {
                entry.places.push(p);
            }
        }
        Ok(())
    }
    fn error(&mut self, _error: &ErrorReport) -> io::Result<()> {
        Ok(())
    }
    fn finish(mut self: Box<Self>, _end: &End) -> io::Result<()> {
        for e in self.entries.values_mut() {
            e.places.sort();
        }
        let doc = BaselineDoc { layerdig_baseline: 1, findings: self.entries.values().collect() };
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// Read the fingerprints of a baseline: a `layerdig baseline` file, a `-f json` report (or any
/// object with a `findings` array of objects with a `fingerprint`), or an array of fingerprints.
pub fn load_baseline(path: &Path) -> Result<std::collections::HashSet<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading baseline {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("baseline {} is not JSON", path.display()))?;
    let items = match &v {
        Value::Object(map) => map.get("findings").and_then(Value::as_array),
        Value::Array(items) => Some(items),
        _ => None,
    };
    let Some(items) = items else {
        anyhow::bail!(
            "baseline {}: expected a `layerdig baseline` file, a JSON report, or an array of fingerprints",
            path.display()
        );
    };
    let mut out = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let fp = match item {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("fingerprint").and_then(Value::as_str),
            _ => None,
        };
        match fp {
            Some(fp) => {
                out.insert(fp.to_ascii_lowercase());
            }
            None => anyhow::bail!("baseline {}: entry {} has no fingerprint", path.display(), i + 1),
        }
    }
    Ok(out)
}
