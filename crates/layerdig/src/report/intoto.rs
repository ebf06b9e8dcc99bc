//! `-f in-toto`: the report as an in-toto Statement (v1) about the scanned image(s), so a signing
//! tool can attach the scan to the image as an attestation: `subject` names each image by its
//! digest, `predicate` is the JSON report (secrets redacted, as in every report).

use std::io::Write;

use serde_json::{Value, json};

use super::{Collect, End, ErrorReport, ImageReport, Printer, Report, Sink};
use crate::error::SinkError;
use crate::finding::Finding;

/// The in-toto Statement type this printer writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The predicate type: a layerdig report.
pub const PREDICATE_TYPE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/report/v1");

/// The Statement for `report`. Each image is a subject, named by its first tag (else its path)
/// with its manifest (or config) digest; an input without an image digest (a lone layer
/// tarball) is named by its layers' digests.
///
/// # Errors
/// When no image or layer of the report has a digest to name (a plain directory): a Statement
/// must have a subject.
pub fn statement(report: &Report) -> Result<Value, SinkError> {
    let mut subjects: Vec<Value> = Vec::new();
    let mut push = |name: String, digest: &str| {
        let Some((algorithm, encoded)) = digest.split_once(':') else { return };
        let subject = json!({"name": name, "digest": {algorithm: encoded}});
        if !subjects.contains(&subject) {
            subjects.push(subject);
        }
    };
    for image in &report.images {
        let name = image.tags.first().cloned().unwrap_or_else(|| image.path.clone());
        match &image.digest {
            Some(digest) => push(name, digest),
            None => {
                for layer in &image.layers {
                    if let Some(digest) = &layer.digest {
                        push(format!("{name}#layer{}", layer.index), digest);
                    }
                }
            }
        }
    }
    if subjects.is_empty() {
        return Err(SinkError::Other(
            "in-toto: no image or layer digest to name as the statement's subject (a plain directory has none)".into(),
        ));
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": serde_json::to_value(report)?,
    }))
}

/// Collects the scan and writes the Statement at the end.
#[derive(Debug)]
pub struct InTotoPrinter<W: Write> {
    out: W,
    collect: Collect,
}

impl<W: Write> InTotoPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        InTotoPrinter { out, collect: Collect::new() }
    }
}

impl<W: Write> Sink for InTotoPrinter<W> {
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

impl<W: Write + Send> Printer for InTotoPrinter<W> {
    fn finish(mut self: Box<Self>, end: &End) -> Result<(), SinkError> {
        let report = std::mem::take(&mut self.collect).finish(end);
        serde_json::to_writer_pretty(&mut self.out, &statement(&report)?)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(())
    }
}
