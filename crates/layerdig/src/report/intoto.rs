//! `-f in-toto`: the report as an in-toto Statement (v1) about the scanned image(s), so a signing
//! tool can attach the scan to the image as an attestation: `subject` names each image by its
//! digest, `predicate` is the JSON report (secrets redacted, as in every report).

use std::io::Write;

use serde_json::{Value, json};

use super::{Document, Report};
use crate::error::SinkError;

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

/// The printer: collects the scan, writes the Statement at the end.
pub fn printer<W: Write>(out: W) -> Document<W, impl Fn(&Report) -> Result<String, SinkError> + Send> {
    Document::new(out, |report: &Report| Ok(serde_json::to_string_pretty(&statement(report)?)?))
}
