//! `Image`: an image that was read.

use pyo3::prelude::*;

use super::{Layer, r, r_opt, to_value, value_to_py};

/// An image that was read: its path, format, digest, platform, tags and layers.
#[pyclass(frozen, module = "layerdig")]
pub struct Image {
    pub inner: layerdig::ImageReport,
}
simple_data!(Image, layerdig::ImageReport, "image");

data_class!(Image.inner {
    getters {
        /// The path given.
        path: &str = as_str,
        /// How the input was recognised: `docker-archive`, `oci-archive`, `oci-layout`, …
        format: &str = as_str,
        /// The manifest digest, else the config digest (the image id).
        digest: Option<&str> = as_deref,
        /// `os/arch[/variant]`.
        platform: Option<&str> = as_deref,
        /// Tags and reference names the archive records.
        tags: Vec<String> = clone,
        /// The layers, base first.
        layers: Vec<Layer> => |i| i.layers.iter().map(|l| Layer { inner: l.clone(), platform: i.platform.clone() }).collect(),
    }

    /// On the first image of an input with a `blobs/` directory, its blobs accounted for: a dict
    /// of `referenced`, `referenced_bytes`, `unreferenced`, `unreferenced_bytes` and
    /// `unreferenced_digests` (blobs nothing references are read and searched too); else None.
    #[getter]
    fn input<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.input.as_ref().map(|a| value_to_py(py, &to_value(a)?)).transpose()
    }

    fn __repr__(&self) -> String {
        let i = &self.inner;
        format!("Image(path={}, format={}, digest={}, layers={})", r(&i.path), r(&i.format), r_opt(i.digest.as_ref()), i.layers.len())
    }
});
