//! `-f json`: the whole [`Report`] as one indented JSON document, written when the scan is over.
//! Python's `Report.to_json(pretty=True)` writes the same bytes: both are [`Report::to_json`].

use std::io::Write;

use super::{Document, Report};
use crate::error::SinkError;

/// The printer: collects the scan, writes the document at the end.
pub fn printer<W: Write>(out: W) -> Document<W, impl Fn(&Report) -> Result<String, SinkError> + Send> {
    Document::new(out, |report: &Report| report.to_json(true))
}
