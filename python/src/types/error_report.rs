//! `ErrorReport`: a problem that did not stop the scan.

use pyo3::prelude::*;

use super::r;

/// A problem that did not stop the scan: a corrupt or missing layer, a digest mismatch, an
/// unreadable configuration. `str()` gives the message.
#[pyclass(frozen, module = "layerdig")]
pub struct ErrorReport {
    pub inner: layerdig::ErrorReport,
}
simple_data!(ErrorReport, layerdig::ErrorReport, "error report");

data_class!(ErrorReport.inner {
    getters {
        /// The image path.
        image: &str = as_str,
        /// The layer, when the problem is about one.
        layer_index: Option<usize>,
        /// The layer's digest, when known.
        layer_digest: Option<&str> = as_deref,
        /// The path inside the layer, when the problem is at one.
        path: Option<&str> = as_deref,
        /// Whether results are incomplete because of it.
        incomplete: bool,
        /// What kind of problem it is: `not_found`, `permission_denied`, `io`, `not_an_image`,
        /// `no_such_platform`, `missing_blob`, `digest_mismatch`, `corrupt`, `limit_reached`,
        /// `inconsistent`, `unreachable`, `no_such_image`, `rule`, `output` or `other`.
        kind: &'static str = as_str,
        /// What a person can do about it, if there is something to say (the hint the CLI prints).
        hint: Option<&'static str> => |e| e.hint(),
        /// The message (names the image, layer and path; never holds a secret).
        message: &str = as_str,
    }

    fn __str__(&self) -> &str {
        &self.inner.message
    }

    fn __repr__(&self) -> String {
        format!("ErrorReport(message={}, incomplete={})", r(&self.inner.message), if self.inner.incomplete { "True" } else { "False" })
    }
});
