//! JSON Schemas of what layerdig writes: the JSON report, each JSON line, the baseline file.
//!
//! Written by hand, not derived, over the library's report model (`layerdig::Report`: findings
//! with the gate's verdict on them, and the gate's outcome), so the library stays free of schema
//! machinery. The CLI's tests validate every output form against these schemas, with unknown
//! properties rejected, so a field added to a type without its schema fails the tests.

use serde_json::{Value, json};

const REPORT: &str = include_str!("schema/report.schema.json");
const BASELINE: &str = include_str!("schema/baseline.schema.json");

/// The schema of the `-f json` report.
pub fn report() -> Value {
    serde_json::from_str(REPORT).expect("the embedded report schema is valid JSON (a unit test checks)")
}

/// The schema of the baseline file.
pub fn baseline() -> Value {
    serde_json::from_str(BASELINE).expect("the embedded baseline schema is valid JSON (a unit test checks)")
}

/// The schema of one line of `-f jsonl` (and `sweep`) output: one of the report's definitions
/// plus a `type` field.
pub fn jsonl() -> Value {
    let report = report();
    let line = |def: &str, kind: &str| {
        json!({
            "$ref": format!("#/$defs/{def}"),
            "properties": {"type": {"const": kind}},
            "required": ["type"],
            "unevaluatedProperties": false
        })
    };
    let stats = json!({
        "$ref": "#/$defs/stats",
        "description": "The last line.",
        "properties": {
            "type": {"const": "stats"},
            "gate": {"$ref": "#/$defs/gate", "unevaluatedProperties": false}
        },
        "required": ["type", "gate"],
        "unevaluatedProperties": false
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/layerdig/layerdig/schema/jsonl.schema.json",
        "title": "layerdig JSON lines",
        "description": "One line of `layerdig scan -f jsonl` or `layerdig sweep` output. Lines come as results are ready: an `image` line, then that image's `finding` lines (not merged across images), `error` lines as problems happen, and one closing `stats` line with the gate.",
        "oneOf": [line("image", "image"), line("finding", "finding"), line("error", "error"), stats],
        "$defs": report["$defs"].clone()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_schemas_parse() {
        assert!(super::report().is_object());
        assert!(super::baseline().is_object());
        assert!(super::jsonl()["$defs"]["finding"].is_object());
    }
}
