//! `Finding`: a secret and every place it was found.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use super::{Data, Location, Suppression, json_text, parse, r, to_value, value_to_py};

/// A secret and every place it was found. Two findings are equal when their fingerprints are:
/// the same secret found by the same rule. `repr()` never shows the secret; `secret` is None
/// unless the scan was asked to show secrets.
#[pyclass(frozen, module = "layerdig")]
pub struct Finding {
    pub inner: layerdig::Finding,
}

impl Finding {
    pub fn new(inner: layerdig::Finding) -> Finding {
        Finding { inner }
    }
}

simple_data!(Finding, layerdig::Finding, "finding");

// Not `data_class!`: a finding is equal to another, and hashes, by its fingerprint alone.
methods!(Finding.inner {
    getters {
        /// The rule's id, e.g. `aws.access-key-id`.
        rule_id: &str = as_str,
        /// The rule's name.
        rule_name: &str = as_str,
        /// `critical`, `high`, `medium` or `low`.
        severity: &'static str = as_str,
        /// `high`, `medium` or `low`: how sure the detector is.
        confidence: &'static str = as_str,
        /// Which detector found it: `rule`, `entropy` or `credential_file`.
        detector: &'static str = as_str,
        /// SHA-256 over rule id and secret, hex: stable across images and rebuilds.
        fingerprint: &str = as_str,
        /// The secret's redacted form, e.g. `AKIA… (20 chars)`.
        redacted: &str = as_str,
        /// The secret itself, only when the scan was asked to show secrets.
        secret: Option<&str> = as_deref,
        /// A remark from validation, e.g. that a private key is encrypted.
        note: Option<&str> = as_deref,
        /// Every place it was found.
        locations: Vec<Location> => |f| f.locations.iter().map(|l| Location { inner: l.clone() }).collect(),
        /// When the policy (scans with a `config`) suppresses every location: the allow entry that
        /// suppresses the first; else None. Locations say which entry suppresses each.
        suppressed: Option<Suppression> => |f| f.suppressed.clone().map(|inner| Suppression { inner }),
        /// Whether it fails the gate (the policy's or the call's `fail_on`); None when not judged.
        fails_gate: Option<bool>,
        /// Whether the baseline knows it (such findings are reported only when the policy sets
        /// fix-by deadlines).
        baselined: bool,
        /// The most visible status among its file locations (`present` before `overwritten` before
        /// `deleted`); None when it was found only in the image configuration.
        best_status: Option<&'static str> => |f| f.best_status().map(|s| s.as_str()),
        /// Whether any location needs action (is not a test fixture or a documented example).
        actionable: bool => |f| f.is_actionable(),
    }

    /// Where it stands against the policy's fix-by deadline (`[sla]`): a dict with
    /// `first_seen`, `due` (RFC 3339) and `state` (`due` or `overdue`); None without one.
    #[getter]
    fn sla<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.sla.as_ref().map(|s| value_to_py(py, &to_value(s)?)).transpose()
    }

    /// The JSON form as Python objects: dicts, lists, str, int, bool and None.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &Data::value(self, py)?)
    }

    /// The JSON form as text, the same the CLI writes.
    #[pyo3(signature = (pretty=false))]
    fn to_json(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
        json_text(&Data::value(self, py)?, pretty)
    }

    /// Read back the text `to_json()` gave.
    ///
    /// Raises ValueError when the text is not JSON of this shape.
    #[classmethod]
    fn from_json(cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
        <Self as Data>::from_value(cls.py(), parse(text)?)
    }

    fn __eq__(&self, other: PyRef<'_, Self>) -> bool {
        self.inner.fingerprint == other.inner.fingerprint
    }

    fn __hash__(&self) -> isize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.fingerprint.hash(&mut h);
        h.finish() as isize
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let text = json_text(&Data::value(slf.get(), py)?, false)?;
        Ok((slf.get_type().getattr("from_json")?, PyTuple::new(py, [text])?))
    }

    fn __repr__(&self) -> String {
        let f = &self.inner;
        let mut out = format!(
            "Finding(rule_id={}, severity={}, redacted={}",
            r(&f.rule_id),
            r(f.severity.as_str()),
            r(&f.redacted)
        );
        if let Some(status) = f.best_status() {
            out.push_str(&format!(", best_status={}", r(status.as_str())));
        }
        if let Some(s) = &f.suppressed {
            out.push_str(&format!(", suppressed_by_entry={}", s.entry));
        }
        out.push_str(&format!(
            ", locations={}, fingerprint={})",
            f.locations.len(),
            r(&f.fingerprint[..f.fingerprint.len().min(12)])
        ));
        out
    }
});
