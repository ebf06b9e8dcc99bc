//! `Layer`: one layer of an image.

use pyo3::prelude::*;
use serde_json::Value;

use super::{Data, enum_str, from_value, r_opt, take_platform, to_value, value_to_py, with_platform};

/// One layer of an image: digests, media type, sizes, the instruction that made it, and what it
/// holds (files it adds, whiteouts it carries).
#[pyclass(frozen, module = "layerdig")]
pub struct Layer {
    pub inner: layerdig::LayerReport,
    pub platform: Option<String>,
}

impl Data for Layer {
    fn value(&self, _py: Python<'_>) -> PyResult<Value> {
        with_platform(&self.inner, self.platform.as_deref())
    }
    fn from_value(_py: Python<'_>, mut value: Value) -> PyResult<Self> {
        let platform = take_platform(&mut value);
        Ok(Layer { inner: from_value("layer", value)?, platform })
    }
}

data_class!(Layer.inner {
    getters {
        /// Position in the image, base layer 0.
        index: usize,
        /// The blob digest (`sha256:…`), from the manifest or computed from the bytes.
        digest: Option<&str> = as_deref,
        /// The uncompressed digest, from the configuration or computed from the bytes.
        diff_id: Option<&str> = as_deref,
        /// The media type the manifest declares.
        media_type: Option<&str> = as_deref,
        /// `none`, `gzip` or `zstd`, detected from the bytes.
        compression: Option<String> => |l| l.compression.as_ref().map(enum_str),
        /// Stored (compressed) size in bytes.
        size: u64,
        /// Uncompressed size in bytes.
        uncompressed_size: u64,
        /// The build instruction that made it.
        created_by: Option<&str> = as_deref,
        /// Regular files in the layer.
        files: u64,
        /// Paths the layer adds or writes.
        added: u64,
        /// Whiteouts and opaque markers in the layer.
        deleted: u64,
    }

    /// `os/arch[/variant]` of the image the layer belongs to, when known.
    #[getter]
    fn platform(&self) -> Option<&str> {
        self.platform.as_deref()
    }

    /// Where every byte of the layer went: a dict of `content`, `metadata`, `padding`,
    /// `hidden` and `unread` (which add up to `uncompressed_size`), and for a compressed blob
    /// `compressed` and `framing_hidden` (which add up to `size`).
    #[getter]
    fn account<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &to_value(&self.inner.account)?)
    }

    fn __repr__(&self) -> String {
        let l = &self.inner;
        format!(
            "Layer(index={}, digest={}, size={}, created_by={})",
            l.index,
            r_opt(l.digest.as_ref().or(l.diff_id.as_ref())),
            l.size,
            r_opt(l.created_by.as_ref().map(|c| short(c, 60)))
        )
    }
});

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}
