//! `-f json`: the whole [`Report`](super::Report) as one JSON document, written when the scan
//! is over. Python's `Report.to_json()` writes the same bytes: both are [`Report::to_json`].

use std::io::Write;

use super::{Collect, End, ErrorReport, ImageReport, Printer, Sink};
use crate::error::SinkError;
use crate::finding::Finding;

/// Collects the scan and writes it as one indented JSON document (and a newline) at the end.
#[derive(Debug)]
pub struct JsonPrinter<W: Write> {
    out: W,
    collect: Collect,
}

impl<W: Write> JsonPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        JsonPrinter { out, collect: Collect::new() }
    }
}

impl<W: Write> Sink for JsonPrinter<W> {
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

impl<W: Write + Send> Printer for JsonPrinter<W> {
    fn finish(mut self: Box<Self>, end: &End) -> Result<(), SinkError> {
        let report = std::mem::take(&mut self.collect).finish(end);
        self.out.write_all(report.to_json(true)?.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(())
    }
}
