//! The baseline file: [`BaselinePrinter`] writes it (`layerdig baseline`: the fingerprint of
//! every finding, with when each was first seen; never the secret, only the redacted form and
//! where it was found, for a person reviewing the file), and [`Baseline`] reads it back for a
//! later scan's `--baseline` (it also reads a JSON report or a list of fingerprints).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{End, Printer, Sink};
use crate::error::SinkError;
use crate::finding::{Finding, Location, Severity};
use crate::time::Timestamp;

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

/// Known findings: the fingerprints of a baseline file, with when each was first seen when the
/// file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The file it was read from (`None`: parsed from text).
    pub source: Option<std::path::PathBuf>,
    entries: HashMap<String, Option<Timestamp>>,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    #[error("reading baseline {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error("baseline {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Baseline {
    /// Read a baseline: a `layerdig baseline` file, a `-f json` report (or any object with a
    /// `findings` array of objects with a `fingerprint`), or an array of fingerprints. An entry's
    /// `first_seen` (or a report finding's `sla.first_seen`) is kept.
    ///
    /// # Errors
    /// When the file cannot be read or is not one of those.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BaselineError::Read { path: path.to_path_buf(), source })?;
        let mut baseline =
            Baseline::parse(&text).map_err(|message| BaselineError::Invalid { path: path.to_path_buf(), message })?;
        baseline.source = Some(path.to_path_buf());
        Ok(baseline)
    }

    /// [`Baseline::load`] from text; the error says what is wrong.
    ///
    /// # Errors
    /// When the text is not a baseline.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let items = match &v {
            Value::Object(map) => map.get("findings").and_then(Value::as_array),
            Value::Array(items) => Some(items),
            _ => None,
        };
        let Some(items) = items else {
            return Err("expected a `layerdig baseline` file, a JSON report, or an array of fingerprints".into());
        };
        let mut entries = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let (fp, first_seen) = match item {
                Value::String(s) => (Some(s.as_str()), None),
                Value::Object(o) => {
                    let seen = o
                        .get("first_seen")
                        .or_else(|| o.get("sla").and_then(|s| s.get("first_seen")))
                        .and_then(Value::as_str)
                        .and_then(Timestamp::parse);
                    (o.get("fingerprint").and_then(Value::as_str), seen)
                }
                _ => (None, None),
            };
            let Some(fp) = fp else {
                return Err(format!("entry {} has no fingerprint", i + 1));
            };
            let slot = entries.entry(fp.to_ascii_lowercase()).or_insert(first_seen);
            if let Some(seen) = first_seen {
                *slot = Some(slot.map_or(seen, |s: Timestamp| s.min(seen)));
            }
        }
        Ok(Baseline { source: None, entries })
    }

    /// Whether `fingerprint` is known.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.entries.contains_key(fingerprint)
    }

    /// When `fingerprint` was first seen, if the baseline says.
    pub fn first_seen(&self, fingerprint: &str) -> Option<Timestamp> {
        self.entries.get(fingerprint).copied().flatten()
    }

    /// How many fingerprints it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_keep_first_seen() {
        let b = Baseline::parse(
            r#"{"layerdig_baseline": 1, "findings": [
                {"fingerprint": "AB", "first_seen": "2026-11-01T00:00:00Z"},
                {"fingerprint": "cd"},
                {"fingerprint": "ef", "sla": {"first_seen": "2026-10-01T00:00:00Z"}}]}"#,
        )
        .unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.first_seen("ab"), Timestamp::parse("2026-11-01"));
        assert_eq!(b.first_seen("cd"), None);
        assert!(b.contains("cd"));
        assert_eq!(b.first_seen("ef"), Timestamp::parse("2026-10-01"));
        assert!(Baseline::parse("[\"x\", 3]").unwrap_err().contains("entry 2"));
        assert!(Baseline::parse("7").is_err());
    }
}
