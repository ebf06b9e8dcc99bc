//! `-f jsonl` (and `sweep`): one JSON object a line, written as soon as it is known:
//! `{"type": "image"|"finding"|"error", ...}`, then one closing `{"type": "stats", ..., "gate":
//! {...}}`. Findings are the scanner's, one image at a time: not merged across images.

use std::io::Write;

use serde_json::Value;

use super::{End, ErrorReport, GateReport, ImageReport, Printer, Sink, Stats};
use crate::error::SinkError;
use crate::finding::Finding;

/// Writes a line per result, flushed, as results arrive.
#[derive(Debug)]
pub struct JsonlPrinter<W: Write> {
    out: W,
    /// Counts over the findings written.
    tally: Stats,
}

impl<W: Write> JsonlPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        JsonlPrinter { out, tally: Stats::default() }
    }

    fn line(&mut self, kind: &str, value: impl serde::Serialize) -> Result<bool, SinkError> {
        let mut v = serde_json::to_value(value)?;
        if let Value::Object(map) = &mut v {
            map.insert("type".into(), Value::String(kind.into()));
        }
        serde_json::to_writer(&mut self.out, &v)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(true)
    }
}

impl<W: Write> Sink for JsonlPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        self.line("image", image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError> {
        self.tally.count(finding);
        self.line("finding", finding)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        self.line("error", error)
    }
}

impl<W: Write + Send> Printer for JsonlPrinter<W> {
    fn finish(mut self: Box<Self>, end: &End) -> Result<(), SinkError> {
        let stats = end.stats.with_counts(&self.tally);
        let mut v = serde_json::to_value(&stats)?;
        if let (Value::Object(map), Some(gate)) = (&mut v, &end.gate) {
            let gate = GateReport { failing: stats.failing, ..gate.clone() };
            map.insert("gate".into(), serde_json::to_value(gate)?);
        }
        self.line("stats", v)?;
        Ok(())
    }
}
