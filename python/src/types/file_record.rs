//! `FileRecord`: a file in one layer, with its fate in the final image.

use pyo3::prelude::*;
use serde_json::Value;

use super::{Data, enum_str, from_value, n_opt, r, take_platform, with_platform};

/// A file (regular file, hard or symbolic link) in one layer, with its fate in the final image.
#[pyclass(frozen, module = "layerdig")]
pub struct FileRecord {
    pub inner: layerdig::FileRecord,
    pub platform: Option<String>,
}

impl Data for FileRecord {
    fn value(&self, _py: Python<'_>) -> PyResult<Value> {
        with_platform(&self.inner, self.platform.as_deref())
    }
    fn from_value(_py: Python<'_>, mut value: Value) -> PyResult<Self> {
        let platform = take_platform(&mut value);
        Ok(FileRecord { inner: from_value("file record", value)?, platform })
    }
}

data_class!(FileRecord.inner {
    getters {
        /// The path inside the layer, no leading slash.
        path: &str = as_str,
        /// The layer that holds it.
        layer_index: usize,
        /// `file`, `hardlink` or `symlink`.
        kind: &str = as_str,
        /// Content size in bytes.
        size: u64,
        /// `present`, `deleted` or `overwritten`.
        status: &'static str = as_str,
        /// The layer that deleted or replaced it.
        removed_in_layer: Option<usize>,
        /// How it was removed: `whiteout`, `opaque_dir`, `parent_replaced` or `rewritten`.
        removed_by: Option<String> => |f| f.removed_by.as_ref().map(enum_str),
    }

    /// `os/arch[/variant]` of the image, when known.
    #[getter]
    fn platform(&self) -> Option<&str> {
        self.platform.as_deref()
    }

    fn __repr__(&self) -> String {
        let f = &self.inner;
        format!(
            "FileRecord(path={}, layer_index={}, kind={}, status={}, removed_in_layer={})",
            r(&f.path),
            f.layer_index,
            r(&f.kind),
            r(f.status.as_str()),
            n_opt(f.removed_in_layer)
        )
    }
});
