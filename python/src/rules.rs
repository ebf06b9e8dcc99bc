//! `Rules`: a compiled, immutable rule set, shared by any number of scans and threads.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::Error;

/// A compiled rule set. Build it once and pass it to every scan (`rules=`); it is immutable and
/// safe to share between threads. `len()` is the number of rules; `in` tests a rule id.
#[pyclass(frozen, module = "layerdig")]
pub struct Rules {
    pub inner: layerdig::Rules,
}

#[pymethods]
impl Rules {
    /// The built-in rules (compiled once per process; later calls are cheap).
    #[staticmethod]
    fn builtin(py: Python<'_>) -> Rules {
        Rules { inner: py.detach(layerdig::Rules::builtin) }
    }

    /// The rules of one YAML rule file (the format of the built-in files: `provider`, then
    /// `rules` with `id`, `name`, `severity`, `keywords`, `pattern`, ...).
    ///
    /// Raises FileNotFoundError / OSError when the file cannot be read, RuleError when it does
    /// not parse or a pattern does not compile.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Rules> {
        let inner = py.detach(|| layerdig::Rules::from_file(&path)).map_err(Error::from)?;
        Ok(Rules { inner })
    }

    /// The rules of YAML text; `origin` names it in errors.
    ///
    /// Raises RuleError when the text does not parse or a pattern does not compile.
    #[staticmethod]
    #[pyo3(signature = (text, origin="<string>"))]
    fn from_yaml(py: Python<'_>, text: &str, origin: &str) -> PyResult<Rules> {
        let inner = py.detach(|| layerdig::Rules::from_yaml_str(text, origin)).map_err(Error::from)?;
        Ok(Rules { inner })
    }

    /// These rules plus `other`'s, as a new rule set.
    ///
    /// Raises RuleError when both have a rule with the same id.
    fn extend(&self, py: Python<'_>, other: PyRef<'_, Rules>) -> PyResult<Rules> {
        let other = other.inner.clone();
        let inner = py.detach(|| self.inner.extend(&other)).map_err(Error::from)?;
        Ok(Rules { inner })
    }

    /// These rules plus those of a YAML rule file, as a new rule set.
    ///
    /// Raises FileNotFoundError / OSError when the file cannot be read, RuleError when it does
    /// not parse, a pattern does not compile, or an id is already taken.
    fn extend_from_file(&self, py: Python<'_>, path: PathBuf) -> PyResult<Rules> {
        let inner = py
            .detach(|| layerdig::Rules::from_file(&path).and_then(|more| self.inner.extend(&more)))
            .map_err(Error::from)?;
        Ok(Rules { inner })
    }

    /// Every rule id, in file order.
    fn ids(&self) -> Vec<String> {
        self.inner.rules().iter().map(|r| r.id.clone()).collect()
    }

    fn __len__(&self) -> usize {
        self.inner.rules().len()
    }

    fn __contains__(&self, id: &str) -> bool {
        self.inner.get(id).is_some()
    }

    fn __repr__(&self) -> String {
        format!("<Rules: {} rules>", self.inner.rules().len())
    }
}
