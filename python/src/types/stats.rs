//! `Stats`: totals for a scan.

use std::collections::BTreeMap;

use pyo3::prelude::*;

/// Totals for a scan.
#[pyclass(frozen, module = "layerdig")]
pub struct Stats {
    pub inner: layerdig::Stats,
}
simple_data!(Stats, layerdig::Stats, "stats");

data_class!(Stats.inner {
    getters {
        /// Images read.
        images: u64,
        /// Layers read.
        layers: u64,
        /// Of those, layers whose results came from the cache rather than from their bytes.
        layers_from_cache: u64,
        /// Stored (compressed) bytes read.
        bytes: u64,
        /// Uncompressed bytes read.
        uncompressed_bytes: u64,
        /// Files scanned.
        files: u64,
        /// Findings.
        findings: u64,
        /// Findings by severity.
        by_severity: BTreeMap<String, u64> = clone,
        /// Findings by best status (`present`, `deleted`, `overwritten`, `config`).
        by_status: BTreeMap<String, u64> = clone,
        /// Findings by disposition (`actionable`, `test_fixture`, `documented_example`).
        by_disposition: BTreeMap<String, u64> = clone,
        /// Findings by origin (`introduced`, `inherited`), when the images' bases are known.
        by_origin: BTreeMap<String, u64> = clone,
        /// Findings every location of which the policy allows.
        suppressed: u64,
        /// Findings that fail the gate.
        failing: u64,
        /// Findings in the baseline (left out, unless the policy sets fix-by deadlines).
        baselined: u64,
        /// Findings left out by the minimum severity or the statuses asked for.
        filtered: u64,
        /// Findings past their fix-by deadline.
        overdue: u64,
        /// Problems reported.
        errors: u64,
        /// Whether any problem left results incomplete.
        incomplete: bool,
        /// Wall time in milliseconds.
        duration_ms: u64,
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "Stats(images={}, layers={}, files={}, findings={}, errors={}, duration_ms={})",
            s.images, s.layers, s.files, s.findings, s.errors, s.duration_ms
        )
    }
});
