//! Printers: JSON (one document), JSONL (one finding a line, as found) and SARIF 2.1.0. Each is
//! a [`Sink`]; call `finish` once the scan is done.

use std::io::Write;

use serde_json::{Value, json};

use crate::detect::Rules;
use crate::error::Error;
use crate::finding::{Finding, Severity, Source};
use crate::scan::{Collect, ErrorReport, ImageReport, Report, Sink, Stats};

fn write_err(e: std::io::Error) -> Error {
    Error::Sink(e.to_string())
}

/// Writes the whole report as one JSON document when finished.
#[derive(Debug)]
pub struct JsonPrinter<W: Write> {
    out: W,
    collect: Collect,
    pretty: bool,
}

impl<W: Write> JsonPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, pretty: bool) -> Self {
        JsonPrinter { out, collect: Collect::new(), pretty }
    }

    /// Write the document.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(self, stats: Stats) -> Result<W, Error> {
        let report = self.collect.into_report(stats);
        write_json_report(self.out, &report, self.pretty)
    }
}

/// Write `report` as one JSON document.
///
/// # Errors
/// When writing fails.
pub fn write_json_report<W: Write>(mut out: W, report: &Report, pretty: bool) -> Result<W, Error> {
    if pretty {
        serde_json::to_writer_pretty(&mut out, report).map_err(|e| Error::Sink(e.to_string()))?;
    } else {
        serde_json::to_writer(&mut out, report).map_err(|e| Error::Sink(e.to_string()))?;
    }
    out.write_all(b"\n").map_err(write_err)?;
    Ok(out)
}

impl<W: Write> Sink for JsonPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, Error> {
        self.collect.image(image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, Error> {
        self.collect.finding(finding)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, Error> {
        self.collect.error(error)
    }
}

/// Writes one JSON object per line as results arrive: `{"type": "finding", ...}`,
/// `{"type": "image", ...}`, `{"type": "error", ...}`, and a closing `{"type": "stats", ...}`.
#[derive(Debug)]
pub struct JsonlPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonlPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        JsonlPrinter { out }
    }

    fn line(&mut self, kind: &str, value: impl serde::Serialize) -> Result<bool, Error> {
        let mut v = serde_json::to_value(value).map_err(|e| Error::Sink(e.to_string()))?;
        if let Value::Object(map) = &mut v {
            map.insert("type".into(), Value::String(kind.into()));
        }
        serde_json::to_writer(&mut self.out, &v).map_err(|e| Error::Sink(e.to_string()))?;
        self.out.write_all(b"\n").map_err(write_err)?;
        self.out.flush().map_err(write_err)?;
        Ok(true)
    }

    /// Write the closing stats line.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(mut self, stats: &Stats) -> Result<W, Error> {
        self.line("stats", stats)?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for JsonlPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, Error> {
        self.line("image", image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, Error> {
        self.line("finding", finding)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, Error> {
        self.line("error", error)
    }
}

/// Writes SARIF 2.1.0, as GitHub code scanning accepts it, when finished.
#[derive(Debug)]
pub struct SarifPrinter<W: Write> {
    out: W,
    collect: Collect,
    rules: Rules,
}

impl<W: Write> SarifPrinter<W> {
    /// A printer writing to `out`; `rules` supplies rule names, help and references.
    pub fn new(out: W, rules: &Rules) -> Self {
        SarifPrinter { out, collect: Collect::new(), rules: rules.clone() }
    }

    /// Write the document.
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(mut self, stats: Stats) -> Result<W, Error> {
        let report = self.collect.into_report(stats);
        let doc = sarif(&report, &self.rules);
        serde_json::to_writer_pretty(&mut self.out, &doc).map_err(|e| Error::Sink(e.to_string()))?;
        self.out.write_all(b"\n").map_err(write_err)?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for SarifPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, Error> {
        self.collect.image(image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, Error> {
        self.collect.finding(finding)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, Error> {
        self.collect.error(error)
    }
}

/// The SARIF `level` of a finding of this severity: `error`, `warning` or `note`.
pub fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity`: a CVSS-like score that sorts alerts.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// The SARIF 2.1.0 document for a report.
pub fn sarif(report: &Report, rules: &Rules) -> Value {
    let mut rule_ids: Vec<&str> = report.findings.iter().map(|f| f.rule_id.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let sarif_rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let finding = report.findings.iter().find(|f| f.rule_id == *id);
            let rule = rules.get(id);
            let name = rule.map(|r| r.name.clone()).or_else(|| finding.map(|f| f.rule_name.clone())).unwrap_or_else(|| id.to_string());
            let severity = rule.map(|r| r.severity).or_else(|| finding.map(|f| f.severity)).unwrap_or(Severity::Medium);
            let references = rule.map(|r| r.references.clone()).unwrap_or_default();
            let mut help = format!(
                "{name} found in a container image layer. Revoke and rotate the credential: deleting the file in a later layer does not remove it from the image, which anyone who can pull the image can read. Rebuild without the secret (use build secrets, not COPY, ENV or ARG)."
            );
            let mut markdown = format!(
                "**{name}** found in a container image layer.\n\n1. Revoke and rotate the credential now.\n2. Rebuild the image without it: use build secrets (`RUN --mount=type=secret`), never `COPY`, `ENV` or `ARG`.\n3. Deleting the file in a later layer does not help: the lower layer still holds it.\n"
            );
            if !references.is_empty() {
                help.push_str(" References: ");
                help.push_str(&references.join(", "));
                markdown.push_str("\nReferences:\n");
                for r in &references {
                    markdown.push_str(&format!("- <{r}>\n"));
                }
            }
            let mut entry = json!({
                "id": id,
                "name": pascal(id),
                "shortDescription": {"text": name},
                "fullDescription": {"text": format!("{name} ({id})")},
                "help": {"text": help, "markdown": markdown},
                "defaultConfiguration": {"level": sarif_level(severity)},
                "properties": {
                    "security-severity": security_severity(severity),
                    "severity": severity.as_str(),
                    "tags": ["security", "secret", "container"],
                    "precision": "high"
                }
            });
            if let Some(first) = references.first() {
                entry["helpUri"] = json!(first);
            }
            entry
        })
        .collect();
    let mut results = Vec::new();
    for f in &report.findings {
        let rule_index = rule_ids.iter().position(|r| *r == f.rule_id).unwrap_or(0);
        for loc in &f.locations {
            let (uri, region) = match loc.source {
                Source::File => {
                    let mut region = json!({});
                    if let Some(line) = loc.line {
                        region["startLine"] = json!(line.max(1));
                    }
                    if let Some(col) = loc.column {
                        region["startColumn"] = json!(col.max(1));
                    }
                    (loc.path.clone().unwrap_or_default(), region)
                }
                Source::Config | Source::History => {
                    (format!("{}#{}", loc.image, loc.config_key.clone().unwrap_or_default()), json!({}))
                }
            };
            let status = match (loc.status, loc.removed_in_layer) {
                (Some(s), Some(m)) => format!("{s} in layer {m}"),
                (Some(s), None) => s.to_string(),
                (None, _) => loc.source.as_str().to_string(),
            };
            let where_ = match loc.layer_index {
                Some(l) => format!("layer {l} of {}", loc.image),
                None => loc.image.clone(),
            };
            let mut physical = json!({"artifactLocation": {"uri": uri}});
            if region.as_object().is_some_and(|r| !r.is_empty()) {
                physical["region"] = region;
            }
            results.push(json!({
                "ruleId": f.rule_id,
                "ruleIndex": rule_index,
                "level": sarif_level(f.severity),
                "message": {"text": format!("{} {} ({}) in {}", f.rule_name, f.redacted, status, where_)},
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{"name": loc.layer_digest.clone().unwrap_or_else(|| loc.image.clone()), "kind": "module"}]
                }],
                "partialFingerprints": {"secretFingerprint/v1": f.fingerprint},
                "properties": {
                    "image": loc.image,
                    "platform": loc.platform,
                    "source": loc.source.as_str(),
                    "configKey": loc.config_key,
                    "layerIndex": loc.layer_index,
                    "layerDigest": loc.layer_digest,
                    "createdBy": loc.created_by,
                    "status": loc.status.map(|s| s.as_str()),
                    "removedInLayer": loc.removed_in_layer,
                    "disposition": loc.disposition.as_str(),
                    "severity": f.severity.as_str(),
                    "confidence": f.confidence.as_str(),
                    "redacted": f.redacted,
                }
            }));
        }
    }
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| json!({"level": if e.incomplete { "error" } else { "warning" }, "message": {"text": e.message}}))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "layerdig",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": sarif_rules
            }},
            "invocations": [{
                "executionSuccessful": !report.is_incomplete(),
                "toolExecutionNotifications": notifications
            }],
            "results": results
        }]
    })
}

fn pascal(id: &str) -> String {
    id.split(['.', '-', '_'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}
