//! `-f sarif`: SARIF 2.1.0, as GitHub code scanning accepts it, written when the scan is over.
//! Locations the policy allows are left out (code scanning does not honour SARIF
//! `suppressions` by default and would open alerts for them); locations in test fixtures and
//! documented examples are level `note` unless the gate counts them.

use std::io::Write;

use serde_json::{Value, json};

use super::{Document, Report};
use crate::detect::Rules;
use crate::error::SinkError;
use crate::finding::{Disposition, Finding, Severity, Source, Structure};

/// The printer: collects the scan, writes the document at the end; `rules` supplies rule
/// names, help and references.
pub fn printer<W: Write>(
    out: W,
    rules: &Rules,
) -> Document<W, impl Fn(&Report) -> Result<String, SinkError> + Send + use<W>> {
    let rules = rules.clone();
    Document::new(out, move |report: &Report| to_string(report, &rules))
}

/// The SARIF document for `report` as indented text: what `-f sarif` and Python's
/// `Report.to_sarif()` write.
///
/// # Errors
/// Only when serialisation fails, which it does not.
pub fn to_string(report: &Report, rules: &Rules) -> Result<String, SinkError> {
    Ok(serde_json::to_string_pretty(&sarif(report, rules))?)
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
    let include_test_fixtures = report.gate.as_ref().is_some_and(|g| g.include_test_fixtures);
    // Locations the policy allows are left out, and findings left with none.
    let shown: Vec<(&Finding, Vec<&crate::finding::Location>)> = report
        .findings
        .iter()
        .map(|f| (f, f.locations.iter().filter(|l| l.suppressed.is_none()).collect::<Vec<_>>()))
        .filter(|(_, locations)| !locations.is_empty())
        .collect();
    let mut rule_ids: Vec<&str> = shown.iter().map(|(f, _)| f.rule_id.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let sarif_rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let finding = shown.iter().map(|(f, _)| *f).find(|f| f.rule_id == *id);
            let rule = rules.get(id);
            let name = rule
                .map(|r| r.name.clone())
                .or_else(|| finding.map(|f| f.rule_name.clone()))
                .unwrap_or_else(|| id.to_string());
            // The findings' severity: the rule's, or the policy's override of it.
            let severity = finding.map(|f| f.severity).or_else(|| rule.map(|r| r.severity)).unwrap_or(Severity::Medium);
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
    for (f, locations) in &shown {
        let rule_index = rule_ids.iter().position(|r| *r == f.rule_id).unwrap_or(0);
        for loc in locations {
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
                Source::Hidden => {
                    let uri = match (&loc.path, loc.layer_index) {
                        (Some(p), _) => p.clone(),
                        (None, layer) => {
                            let place =
                                loc.structure.as_ref().map_or_else(|| "hidden-data".to_string(), Structure::slug);
                            match layer {
                                Some(i) => format!("{}#layer{i}/{place}", loc.image),
                                None => format!("{}#{place}", loc.image),
                            }
                        }
                    };
                    (uri, json!({}))
                }
                Source::Metadata => {
                    let (blob, field) = loc.document.as_ref().map_or((String::new(), String::new()), |d| {
                        let blob = d.digest.as_deref().map_or_else(
                            || d.name.clone().unwrap_or_else(|| "index.json".to_string()),
                            |d| d.replace(':', "/"),
                        );
                        (blob, d.field.clone())
                    });
                    (format!("{}#{blob}/{field}", loc.image), json!({}))
                }
                Source::Config | Source::History => {
                    let key = loc.config_key.as_ref().map(|k| k.to_string()).unwrap_or_default();
                    (format!("{}#{key}", loc.image), json!({}))
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
            let level = if loc.disposition != Disposition::Actionable && !include_test_fixtures {
                "note"
            } else {
                sarif_level(f.severity)
            };
            let mut result = json!({
                "ruleId": f.rule_id,
                "ruleIndex": rule_index,
                "level": level,
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
            });
            if let Some(structure) = &loc.structure {
                result["properties"]["structure"] = json!(structure);
            }
            if let Some(owner) = &loc.owner {
                result["properties"]["owner"] = json!(owner);
            }
            if let Some(encoding) = loc.encoding {
                result["properties"]["encoding"] = json!(encoding.as_str());
            }
            if let Some(fails) = f.fails_gate {
                result["properties"]["failsGate"] = json!(fails);
            }
            if let Some(sla) = &f.sla {
                result["properties"]["firstSeen"] = json!(sla.first_seen);
                result["properties"]["due"] = json!(sla.due);
                result["properties"]["slaState"] = json!(sla.state.as_str());
            }
            results.push(result);
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
