//! `Report`: a scan's results.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;

use layerdig::detect::Rules as CoreRules;

use super::{Data, ErrorReport, Finding, Image, Stats, from_value, to_value, value_to_py};

/// A scan's results: the images read, the findings (most severe first), the problems met, and
/// totals. `len()` and iteration go over the findings.
#[pyclass(frozen, module = "layerdig")]
pub struct Report {
    /// Everything but the findings.
    rest: layerdig::Report,
    findings: Vec<Py<Finding>>,
    /// The rules the scan used (for SARIF rule names, help and references).
    rules: CoreRules,
}

impl Report {
    /// The report of a scan.
    pub fn new(py: Python<'_>, mut report: layerdig::Report, rules: CoreRules) -> PyResult<Report> {
        let findings = std::mem::take(&mut report.findings)
            .into_iter()
            .map(|f| Py::new(py, Finding::new(f)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Report { rest: report, findings, rules })
    }

    /// The library's report, findings included.
    fn core(&self) -> layerdig::Report {
        let mut report = self.rest.clone();
        report.findings = self.findings.iter().map(|f| f.get().inner.clone()).collect();
        report
    }
}

impl Data for Report {
    fn value(&self, _py: Python<'_>) -> PyResult<Value> {
        to_value(&self.core())
    }
    fn from_value(py: Python<'_>, value: Value) -> PyResult<Self> {
        let report: layerdig::Report = from_value("report", value)?;
        Report::new(py, report, CoreRules::builtin())
    }
    /// The library's own JSON writer: the same bytes as `layerdig scan -f json`.
    fn json(&self, _py: Python<'_>, pretty: bool) -> PyResult<String> {
        self.core().to_json(pretty).map_err(|e| PyRuntimeError::new_err(format!("serialising: {e}")))
    }
}

data_class!(Report.rest {
    getters {
        /// Every image read.
        images: Vec<Image> => |r| r.images.iter().map(|i| Image { inner: i.clone() }).collect(),
        /// Every problem that did not stop the scan.
        errors: Vec<ErrorReport> => |r| r.errors.iter().map(|e| ErrorReport { inner: e.clone() }).collect(),
        /// Totals.
        stats: Stats => |r| Stats { inner: r.stats.clone() },
    }

    /// Every finding, most severe first.
    #[getter]
    fn findings(&self, py: Python<'_>) -> Vec<Py<Finding>> {
        self.findings.iter().map(|f| f.clone_ref(py)).collect()
    }

    /// The gate and its outcome: a dict with `fail_on`, `include_test_fixtures`, `policy`,
    /// `baseline`, `result` (`pass`, `fail` or `incomplete`), `exit_code` and `failing`, as the
    /// CLI's JSON report has it.
    #[getter]
    fn gate<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.rest.gate.as_ref().map(|g| value_to_py(py, &to_value(g)?)).transpose()
    }

    /// SARIF 2.1.0 (as GitHub code scanning accepts it), as text: the same bytes as
    /// `layerdig scan -f sarif` (locations the policy allows are left out).
    fn to_sarif(&self) -> PyResult<String> {
        layerdig::report::sarif::to_string(&self.core(), &self.rules)
            .map_err(|e| PyRuntimeError::new_err(format!("serialising: {e}")))
    }

    fn __len__(&self) -> usize {
        self.findings.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let list = PyList::new(py, self.findings.iter().map(|f| f.clone_ref(py)))?;
        Ok(list.try_iter()?.into_any())
    }

    fn __repr__(&self) -> String {
        format!("Report(images={}, findings={}, errors={})", self.rest.images.len(), self.findings.len(), self.rest.errors.len())
    }
});
