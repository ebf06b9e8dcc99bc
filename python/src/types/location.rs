//! `Location`: one place a secret was found.

use pyo3::prelude::*;

use super::{Suppression, enum_str, n_opt, r, to_value, value_to_py};

/// One place a secret was found: the image, the layer (index, digest, the instruction that made
/// it), the path and line inside the layer, and what became of the file in the final image.
#[pyclass(frozen, module = "layerdig")]
pub struct Location {
    pub inner: layerdig::Location,
}
simple_data!(Location, layerdig::Location, "location");

data_class!(Location.inner {
    getters {
        /// The image path as given to the scan.
        image: &str = as_str,
        /// `os/arch[/variant]` of the image, for multi-platform inputs.
        platform: Option<&str> = as_deref,
        /// Where the secret was read: `file`, `config`, `history`, or `hidden` (bytes of a layer
        /// that are no file's content, see `structure`).
        source: &'static str = as_str,
        /// The config field (`Env[2]`, `history[9].created_by`) for config and history locations.
        config_key: Option<String> => |l| l.config_key.as_ref().map(|k| k.to_string()),
        /// The layer, base layer 0.
        layer_index: Option<usize>,
        /// The layer's digest (`sha256:…`).
        layer_digest: Option<&str> = as_deref,
        /// The build instruction that made the layer (secrets in it redacted unless shown).
        created_by: Option<&str> = as_deref,
        /// The path inside the layer, no leading slash; inside an archive each path inside
        /// follows after a `!` (`opt/app/app.war!WEB-INF/lib/inner.jar!application.properties`).
        path: Option<&str> = as_deref,
        /// Inside an archive, the path's parts: the file's path in the layer, then the path
        /// inside each archive going in (split by these, not by `!`, which may be in a name);
        /// else None.
        path_segments: Option<Vec<String>> => |l| l.path_segments.clone(),
        /// 1-based line.
        line: Option<u64>,
        /// 1-based column, in bytes.
        column: Option<u64>,
        /// The secret's half-open byte range `(start, end)` in the file or config string.
        span: Option<(u64, u64)> => |l| l.span.map(|s| (s.start, s.end)),
        /// `present`, `deleted` or `overwritten` (files only).
        status: Option<&'static str> => |l| l.status.map(|s| s.as_str()),
        /// `inherited` (in a layer of the base image) or `introduced`, when the image's base is
        /// known (`base=`, or its manifest's annotations); else None.
        origin: Option<&'static str> => |l| l.origin.map(|o| o.as_str()),
        /// The layer that deleted or overwrote the file.
        removed_in_layer: Option<usize>,
        /// How the file was removed: `whiteout`, `opaque_dir`, `parent_replaced` or `rewritten`.
        removed_by: Option<String> => |l| l.removed_by.as_ref().map(enum_str),
        /// The decoder the secret was read through (`base64`, `percent`, `utf16le`, `utf16be`,
        /// `unicode_escape`), else None; line, column and span then point at the encoded bytes.
        encoding: Option<&'static str> => |l| l.encoding.map(|e| e.as_str()),
        /// `actionable`, `test_fixture` or `documented_example`.
        disposition: &'static str = as_str,
        /// The policy's allow entry that suppresses this location (scans with a `config`), else None.
        suppressed: Option<Suppression> => |l| l.suppressed.clone().map(|inner| Suppression { inner }),
    }

    /// For hidden data (`source == "hidden"`), where in the layer's bytes: a dict with `kind`
    /// (`entry_data`: the data of a whiteout, marker, directory or link entry, with `entry`
    /// saying which; `trailing_data`: bytes after the tar's end; `gzip_header`: an optional
    /// field of the gzip blob's header, `field` `extra`, `name` or `comment`, its offset in the
    /// compressed blob), `offset` in the uncompressed tar and `bytes`; else None.
    #[getter]
    fn structure<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.structure.as_ref().map(|s| value_to_py(py, &to_value(s)?)).transpose()
    }

    /// For `source == "metadata"`, which JSON document of the input the secret is in: a dict
    /// with `kind` (`index`, `manifest`, `attestation`, `unreferenced`, `archive_manifest`),
    /// `digest` (of its blob), `name` (the layout file's name, for `index.json`,
    /// `manifest.json`, `repositories`, `<id>/json`, `oci-layout`) and `field` (the JSON path
    /// of the string, or the path inside a blob searched as bytes); else None.
    #[getter]
    fn document<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.document.as_ref().map(|d| value_to_py(py, &to_value(d)?)).transpose()
    }

    /// For a file a package installed: a dict with `ecosystem` (`dpkg`, `apk`, `python`,
    /// `npm`, …), `package`, `version`, `verdict` (`verified`, `modified`, `unverified`,
    /// `unverifiable`) and, for a modified file, `expected` and `actual` digests; else None.
    #[getter]
    fn owner<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.owner.as_ref().map(|o| value_to_py(py, &to_value(o)?)).transpose()
    }

    fn __repr__(&self) -> String {
        let l = &self.inner;
        let mut out = format!("Location(source={}", r(l.source.as_str()));
        if let Some(i) = l.layer_index {
            out.push_str(&format!(", layer_index={i}"));
        }
        if let Some(p) = &l.path {
            out.push_str(&format!(", path={}, line={}", r(p), n_opt(l.line)));
        }
        if let Some(k) = &l.config_key {
            out.push_str(&format!(", config_key={}", r(&k.to_string())));
        }
        if let Some(s) = l.status {
            out.push_str(&format!(", status={}", r(s.as_str())));
        }
        if let Some(m) = l.removed_in_layer {
            out.push_str(&format!(", removed_in_layer={m}"));
        }
        if let Some(s) = &self.inner.suppressed {
            out.push_str(&format!(", suppressed_by_entry={}", s.entry));
        }
        out.push(')');
        out
    }
});
