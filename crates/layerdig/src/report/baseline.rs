//! `layerdig baseline`: the fingerprints of every finding, with when each was first seen, for a
//! later scan's `--baseline` (see [`crate::gate::Baseline`]). Never the secret: the redacted
//! form and where it was found, for a person reviewing the file.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{End, Printer};
use crate::error::SinkError;
use crate::finding::{Finding, Location, Severity};
use crate::gate::{Baseline, Timestamp};
use crate::scan::Sink;

/// One baselined finding.
#[derive(Serialize, Debug)]
struct Entry {
    fingerprint: String,
    rule_id: String,
    severity: Severity,
    redacted: String,
    first_seen: String,
    #[serde(rename = "where")]
    places: Vec<String>,
}

/// The baseline document; its schema is `layerdig schema baseline`.
#[derive(Serialize)]
struct Doc<'a> {
    layerdig_baseline: u32,
    findings: Vec<&'a Entry>,
}

/// Collects fingerprints and writes the baseline at the end.
#[derive(Debug)]
pub struct BaselinePrinter<W: Write> {
    out: W,
    entries: BTreeMap<String, Entry>,
    previous: Option<Baseline>,
    now: Timestamp,
}

impl<W: Write> BaselinePrinter<W> {
    /// A printer writing to `out`. A fingerprint `previous` knows keeps the `first_seen` it
    /// records there (so deadlines keep running across new baselines); others are first seen
    /// `now`.
    pub fn new(out: W, previous: Option<Baseline>, now: Timestamp) -> Self {
        BaselinePrinter { out, entries: BTreeMap::new(), previous, now }
    }
}

/// Where a location is, in one line: `image: layer 1 /app/.env (deleted in layer 2)`.
fn place(l: &Location) -> String {
    let what = match (&l.path, &l.config_key) {
        (Some(p), _) => format!("/{p}"),
        (None, Some(k)) => k.to_string(),
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

impl<W: Write> Sink for BaselinePrinter<W> {
    fn finding(&mut self, f: &Finding) -> Result<bool, SinkError> {
        let first_seen = self.previous.as_ref().and_then(|b| b.first_seen(&f.fingerprint)).unwrap_or(self.now);
        let entry = self.entries.entry(f.fingerprint.clone()).or_insert_with(|| Entry {
            fingerprint: f.fingerprint.clone(),
            rule_id: f.rule_id.clone(),
            severity: f.severity,
            redacted: f.redacted.clone(),
            first_seen: first_seen.to_string(),
            places: Vec::new(),
        });
        for l in &f.locations {
            let p = place(l);
            if !entry.places.contains(&p) {
                entry.places.push(p);
            }
        }
        Ok(true)
    }
}

impl<W: Write + Send> Printer for BaselinePrinter<W> {
    fn finish(mut self: Box<Self>, _end: &End) -> Result<(), SinkError> {
        for e in self.entries.values_mut() {
            e.places.sort();
        }
        let doc = Doc { layerdig_baseline: 1, findings: self.entries.values().collect() };
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(())
    }
}
