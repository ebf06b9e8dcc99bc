//! `Suppression`: the policy's allow entry that suppresses a finding or location.

use std::hash::{Hash, Hasher};

use pyo3::prelude::*;

use layerdig::policy::Suppression as CoreSuppression;

use super::{r, r_opt, to_value, value_to_py};

/// Why a finding or location is suppressed: the policy file's `[[allow]]` entry that matched it.
#[pyclass(frozen, module = "layerdig")]
pub struct Suppression {
    pub inner: CoreSuppression,
}

methods!(Suppression.inner {
    getters {
        /// The entry's position among the policy file's `[[allow]]` entries, from 1.
        entry: usize,
        /// The entry's reason.
        reason: &str = as_str,
        /// The entry's expiry date (`YYYY-MM-DD`), if it has one.
        expires: Option<&str> = as_deref,
    }

    /// The JSON form as Python objects (the `suppressed` object of the CLI's JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &to_value(&self.inner)?)
    }

    fn __eq__(&self, other: PyRef<'_, Self>) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> isize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.hash(&mut h);
        h.finish() as isize
    }

    fn __repr__(&self) -> String {
        format!(
            "Suppression(entry={}, reason={}, expires={})",
            self.inner.entry,
            r(&self.inner.reason),
            r_opt(self.inner.expires.as_deref())
        )
    }
});
