//! The Python classes over the library's result types. Every one is frozen (immutable, safe to
//! share between threads), has `to_dict()` / `to_json()` giving the JSON form the CLI writes,
//! `from_json()` reading it back, compares equal by value, hashes, and pickles through its JSON
//! form (`__reduce__`), so results cross process pools.

use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use layerdig::detect::Rules as CoreRules;
use layerdig::policy::Suppression as CoreSuppression;

/// A result type with a JSON form.
pub trait Data: Sized {
    /// The JSON form.
    fn value(&self, py: Python<'_>) -> PyResult<Value>;
    /// Rebuild from the JSON form.
    fn from_value(py: Python<'_>, value: Value) -> PyResult<Self>;
    /// The JSON form as text.
    fn json(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
        json_text(&self.value(py)?, pretty)
    }
}

pub fn to_value<T: Serialize>(t: &T) -> PyResult<Value> {
    serde_json::to_value(t).map_err(|e| PyRuntimeError::new_err(format!("serialising: {e}")))
}

fn from_value<T: DeserializeOwned>(what: &str, value: Value) -> PyResult<T> {
    serde_json::from_value(value).map_err(|e| PyValueError::new_err(format!("not a layerdig {what}: {e}")))
}

fn parse(text: &str) -> PyResult<Value> {
    serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("not JSON: {e}")))
}

fn json_text(value: &Value, pretty: bool) -> PyResult<String> {
    let text = if pretty { serde_json::to_string_pretty(value) } else { serde_json::to_string(value) };
    text.map_err(|e| PyRuntimeError::new_err(format!("serialising: {e}")))
}

/// The snake_case / lowercase name serde gives a unit enum variant.
pub fn enum_str<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A JSON value as Python objects.
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

fn hash_value(value: &Value) -> isize {
    // `Value` maps are sorted, so equal values give equal text.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut h);
    h.finish() as isize
}

/// Python's `repr()` of a str: single quotes unless the text has one and no double quote.
fn r(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr()` of an optional str, or of an optional number.
fn r_opt<T: AsRef<str>>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_string(), |s| r(s.as_ref()))
}

fn n_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_string(), |n| n.to_string())
}

/// The methods every result class shares, added to its own `#[pymethods]` block.
macro_rules! data_class {
    ($ty:ident { $($body:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($body)*

            /// The JSON form as Python objects: dicts, lists, str, int, bool and None.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                value_to_py(py, &Data::value(self, py)?)
            }

            /// The JSON form as text, the same the CLI writes.
            #[pyo3(signature = (pretty=false))]
            fn to_json(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
                Data::json(self, py, pretty)
            }

            /// Read back the text `to_json()` gave.
            ///
            /// Raises ValueError when the text is not JSON of this shape.
            #[classmethod]
            fn from_json(cls: &Bound<'_, PyType>, text: &str) -> PyResult<Self> {
                <Self as Data>::from_value(cls.py(), parse(text)?)
            }

            fn __eq__(&self, py: Python<'_>, other: PyRef<'_, Self>) -> PyResult<bool> {
                Ok(Data::value(self, py)? == Data::value(&*other, py)?)
            }

            fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
                Ok(hash_value(&Data::value(self, py)?))
            }

            fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
                let py = slf.py();
                let text = json_text(&Data::value(slf.get(), py)?, false)?;
                Ok((slf.get_type().getattr("from_json")?, PyTuple::new(py, [text])?))
            }
        }
    };
}

/// A layerdig data class wrapping one serde type.
macro_rules! simple_data {
    ($ty:ident, $inner:ty, $what:literal) => {
        impl Data for $ty {
            fn value(&self, _py: Python<'_>) -> PyResult<Value> {
                to_value(&self.inner)
            }
            fn from_value(_py: Python<'_>, value: Value) -> PyResult<Self> {
                Ok($ty { inner: from_value::<$inner>($what, value)? })
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------

/// One place a secret was found: the image, the layer (index, digest, the instruction that made
/// it), the path and line inside the layer, and what became of the file in the final image.
#[pyclass(frozen, module = "layerdig")]
pub struct Location {
    pub inner: layerdig::Location,
}
simple_data!(Location, layerdig::Location, "location");

// ---------------------------------------------------------------------------------------------

/// Why a finding or location is suppressed: the policy file's `[[allow]]` entry that matched it.
#[pyclass(frozen, module = "layerdig")]
pub struct Suppression {
    pub inner: CoreSuppression,
}

#[pymethods]
impl Suppression {
    /// The entry's position among the policy file's `[[allow]]` entries, from 1.
    #[getter]
    fn entry(&self) -> usize {
        self.inner.entry
    }
    /// The entry's reason.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }
    /// The entry's expiry date (`YYYY-MM-DD`), if it has one.
    #[getter]
    fn expires(&self) -> Option<&str> {
        self.inner.expires.as_deref()
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
}

data_class!(Location {
    /// The image path as given to the scan.
    #[getter]
    fn image(&self) -> &str {
        &self.inner.image
    }
    /// `os/arch[/variant]` of the image, for multi-platform inputs.
    #[getter]
    fn platform(&self) -> Option<&str> {
        self.inner.platform.as_deref()
    }
    /// Where the secret was read: `file`, `config` or `history`.
    #[getter]
    fn source(&self) -> &'static str {
        self.inner.source.as_str()
    }
    /// The config field (`Env[2]`, `history[9].created_by`) for config and history locations.
    #[getter]
    fn config_key(&self) -> Option<String> {
        self.inner.config_key.as_ref().map(|k| k.to_string())
    }
    /// The layer, base layer 0.
    #[getter]
    fn layer_index(&self) -> Option<usize> {
        self.inner.layer_index
    }
    /// The layer's digest (`sha256:…`).
    #[getter]
    fn layer_digest(&self) -> Option<&str> {
        self.inner.layer_digest.as_deref()
    }
    /// The build instruction that made the layer (secrets in it redacted unless shown).
    #[getter]
    fn created_by(&self) -> Option<&str> {
        self.inner.created_by.as_deref()
    }
    /// The path inside the layer, no leading slash.
    #[getter]
    fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }
    /// 1-based line.
    #[getter]
    fn line(&self) -> Option<u64> {
        self.inner.line
    }
    /// 1-based column, in bytes.
    #[getter]
    fn column(&self) -> Option<u64> {
        self.inner.column
    }
    /// The secret's half-open byte range `(start, end)` in the file or config string.
    #[getter]
    fn span(&self) -> Option<(u64, u64)> {
        self.inner.span.map(|s| (s.start, s.end))
    }
    /// `present`, `deleted` or `overwritten` (files only).
    #[getter]
    fn status(&self) -> Option<&'static str> {
        self.inner.status.map(|s| s.as_str())
    }
    /// The layer that deleted or overwrote the file.
    #[getter]
    fn removed_in_layer(&self) -> Option<usize> {
        self.inner.removed_in_layer
    }
    /// How the file was removed: `whiteout`, `opaque_dir`, `parent_replaced` or `rewritten`.
    #[getter]
    fn removed_by(&self) -> Option<String> {
        self.inner.removed_by.as_ref().map(enum_str)
    }
    /// `actionable`, `test_fixture` or `documented_example`.
    #[getter]
    fn disposition(&self) -> &'static str {
        self.inner.disposition.as_str()
    }
    /// The policy's allow entry that suppresses this location (scans with a `config`), else None.
    #[getter]
    fn suppressed(&self) -> Option<Suppression> {
        self.inner.suppressed.clone().map(|inner| Suppression { inner })
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

// ---------------------------------------------------------------------------------------------

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

#[pymethods]
impl Finding {
    /// The rule's id, e.g. `aws.access-key-id`.
    #[getter]
    fn rule_id(&self) -> &str {
        &self.inner.rule_id
    }
    /// The rule's name.
    #[getter]
    fn rule_name(&self) -> &str {
        &self.inner.rule_name
    }
    /// `critical`, `high`, `medium` or `low`.
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }
    /// `high`, `medium` or `low`: how sure the detector is.
    #[getter]
    fn confidence(&self) -> &'static str {
        self.inner.confidence.as_str()
    }
    /// Which detector found it: `rule`, `entropy` or `credential_file`.
    #[getter]
    fn detector(&self) -> &'static str {
        self.inner.detector.as_str()
    }
    /// SHA-256 over rule id and secret, hex: stable across images and rebuilds.
    #[getter]
    fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }
    /// The secret's redacted form, e.g. `AKIA… (20 chars)`.
    #[getter]
    fn redacted(&self) -> &str {
        &self.inner.redacted
    }
    /// The secret itself, only when the scan was asked to show secrets.
    #[getter]
    fn secret(&self) -> Option<&str> {
        self.inner.secret.as_deref()
    }
    /// A remark from validation, e.g. that a private key is encrypted.
    #[getter]
    fn note(&self) -> Option<&str> {
        self.inner.note.as_deref()
    }
    /// Every place it was found.
    #[getter]
    fn locations(&self) -> Vec<Location> {
        self.inner.locations.iter().map(|l| Location { inner: l.clone() }).collect()
    }
    /// When the policy (scans with a `config`) suppresses every location: the allow entry that
    /// suppresses the first; else None. Locations say which entry suppresses each.
    #[getter]
    fn suppressed(&self) -> Option<Suppression> {
        self.inner.suppressed.clone().map(|inner| Suppression { inner })
    }
    /// Whether it fails the gate (the policy's or the call's `fail_on`); None when not judged.
    #[getter]
    fn fails_gate(&self) -> Option<bool> {
        self.inner.fails_gate
    }
    /// Whether the baseline knows it (such findings are reported only when the policy sets
    /// fix-by deadlines).
    #[getter]
    fn baselined(&self) -> bool {
        self.inner.baselined
    }
    /// Where it stands against the policy's fix-by deadline (`[sla]`): a dict with
    /// `first_seen`, `due` (RFC 3339) and `state` (`due` or `overdue`); None without one.
    #[getter]
    fn sla<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.sla.as_ref().map(|s| value_to_py(py, &to_value(s)?)).transpose()
    }
    /// The most visible status among its file locations (`present` before `overwritten` before
    /// `deleted`); None when it was found only in the image configuration.
    #[getter]
    fn best_status(&self) -> Option<&'static str> {
        self.inner.best_status().map(|s| s.as_str())
    }
    /// Whether any location needs action (is not a test fixture or a documented example).
    #[getter]
    fn actionable(&self) -> bool {
        self.inner.is_actionable()
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
}

// ---------------------------------------------------------------------------------------------

/// The JSON form of a library record, with the platform of its image added when known.
fn with_platform(inner: &impl Serialize, platform: Option<&str>) -> PyResult<Value> {
    let mut v = to_value(inner)?;
    if let (Value::Object(map), Some(p)) = (&mut v, platform) {
        map.insert("platform".into(), Value::String(p.to_string()));
    }
    Ok(v)
}

/// The reverse of [`with_platform`]: remove and return the platform.
fn take_platform(value: &mut Value) -> Option<String> {
    value.as_object_mut().and_then(|m| m.remove("platform")).and_then(|p| p.as_str().map(str::to_string))
}

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

data_class!(Layer {
    /// Position in the image, base layer 0.
    #[getter]
    fn index(&self) -> usize {
        self.inner.index
    }
    /// The blob digest (`sha256:…`), from the manifest or computed from the bytes.
    #[getter]
    fn digest(&self) -> Option<&str> {
        self.inner.digest.as_deref()
    }
    /// The uncompressed digest, from the configuration or computed from the bytes.
    #[getter]
    fn diff_id(&self) -> Option<&str> {
        self.inner.diff_id.as_deref()
    }
    /// The media type the manifest declares.
    #[getter]
    fn media_type(&self) -> Option<&str> {
        self.inner.media_type.as_deref()
    }
    /// `none`, `gzip` or `zstd`, detected from the bytes.
    #[getter]
    fn compression(&self) -> Option<String> {
        self.inner.compression.as_ref().map(enum_str)
    }
    /// Stored (compressed) size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size
    }
    /// Uncompressed size in bytes.
    #[getter]
    fn uncompressed_size(&self) -> u64 {
        self.inner.uncompressed_size
    }
    /// The build instruction that made it.
    #[getter]
    fn created_by(&self) -> Option<&str> {
        self.inner.created_by.as_deref()
    }
    /// Regular files in the layer.
    #[getter]
    fn files(&self) -> u64 {
        self.inner.files
    }
    /// Paths the layer adds or writes.
    #[getter]
    fn added(&self) -> u64 {
        self.inner.added
    }
    /// Whiteouts and opaque markers in the layer.
    #[getter]
    fn deleted(&self) -> u64 {
        self.inner.deleted
    }
    /// `os/arch[/variant]` of the image the layer belongs to, when known.
    #[getter]
    fn platform(&self) -> Option<&str> {
        self.platform.as_deref()
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

// ---------------------------------------------------------------------------------------------

/// An image that was read: its path, format, digest, platform, tags and layers.
#[pyclass(frozen, module = "layerdig")]
pub struct Image {
    pub inner: layerdig::ImageReport,
}
simple_data!(Image, layerdig::ImageReport, "image");

data_class!(Image {
    /// The path given.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    /// How the input was recognised: `docker-archive`, `oci-archive`, `oci-layout`, …
    #[getter]
    fn format(&self) -> &str {
        &self.inner.format
    }
    /// The manifest digest, else the config digest (the image id).
    #[getter]
    fn digest(&self) -> Option<&str> {
        self.inner.digest.as_deref()
    }
    /// `os/arch[/variant]`.
    #[getter]
    fn platform(&self) -> Option<&str> {
        self.inner.platform.as_deref()
    }
    /// Tags and reference names the archive records.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.inner.tags.clone()
    }
    /// The layers, base first.
    #[getter]
    fn layers(&self) -> Vec<Layer> {
        self.inner.layers.iter().map(|l| Layer { inner: l.clone(), platform: self.inner.platform.clone() }).collect()
    }

    fn __repr__(&self) -> String {
        let i = &self.inner;
        format!("Image(path={}, format={}, digest={}, layers={})", r(&i.path), r(&i.format), r_opt(i.digest.as_ref()), i.layers.len())
    }
});

// ---------------------------------------------------------------------------------------------

/// A problem that did not stop the scan: a corrupt or missing layer, a digest mismatch, an
/// unreadable configuration. `str()` gives the message.
#[pyclass(frozen, module = "layerdig")]
pub struct ErrorReport {
    pub inner: layerdig::ErrorReport,
}
simple_data!(ErrorReport, layerdig::ErrorReport, "error report");

data_class!(ErrorReport {
    /// The image path.
    #[getter]
    fn image(&self) -> &str {
        &self.inner.image
    }
    /// The layer, when the problem is about one.
    #[getter]
    fn layer_index(&self) -> Option<usize> {
        self.inner.layer_index
    }
    /// The layer's digest, when known.
    #[getter]
    fn layer_digest(&self) -> Option<&str> {
        self.inner.layer_digest.as_deref()
    }
    /// The path inside the layer, when the problem is at one.
    #[getter]
    fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }
    /// Whether results are incomplete because of it.
    #[getter]
    fn incomplete(&self) -> bool {
        self.inner.incomplete
    }
    /// The message (names the image, layer and path; never holds a secret).
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }

    fn __str__(&self) -> &str {
        &self.inner.message
    }

    fn __repr__(&self) -> String {
        format!("ErrorReport(message={}, incomplete={})", r(&self.inner.message), if self.inner.incomplete { "True" } else { "False" })
    }
});

// ---------------------------------------------------------------------------------------------

/// Totals for a scan.
#[pyclass(frozen, module = "layerdig")]
pub struct Stats {
    pub inner: layerdig::Stats,
}
simple_data!(Stats, layerdig::Stats, "stats");

data_class!(Stats {
    /// Images read.
    #[getter]
    fn images(&self) -> u64 {
        self.inner.images
    }
    /// Layers read.
    #[getter]
    fn layers(&self) -> u64 {
        self.inner.layers
    }
    /// Stored (compressed) bytes read.
    #[getter]
    fn bytes(&self) -> u64 {
        self.inner.bytes
    }
    /// Uncompressed bytes read.
    #[getter]
    fn uncompressed_bytes(&self) -> u64 {
        self.inner.uncompressed_bytes
    }
    /// Files scanned.
    #[getter]
    fn files(&self) -> u64 {
        self.inner.files
    }
    /// Findings.
    #[getter]
    fn findings(&self) -> u64 {
        self.inner.findings
    }
    /// Findings by severity.
    #[getter]
    fn by_severity(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner.by_severity.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
    /// Findings by best status (`present`, `deleted`, `overwritten`, `config`).
    #[getter]
    fn by_status(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner.by_status.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
    /// Problems reported.
    #[getter]
    fn errors(&self) -> u64 {
        self.inner.errors
    }
    /// Whether any problem left results incomplete.
    #[getter]
    fn incomplete(&self) -> bool {
        self.inner.incomplete
    }
    /// Wall time in milliseconds.
    #[getter]
    fn duration_ms(&self) -> u64 {
        self.inner.duration_ms
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "Stats(images={}, layers={}, files={}, findings={}, errors={}, duration_ms={})",
            s.images, s.layers, s.files, s.findings, s.errors, s.duration_ms
        )
    }
});

// ---------------------------------------------------------------------------------------------

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

data_class!(FileRecord {
    /// The path inside the layer, no leading slash.
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    /// The layer that holds it.
    #[getter]
    fn layer_index(&self) -> usize {
        self.inner.layer_index
    }
    /// `file`, `hardlink` or `symlink`.
    #[getter]
    fn kind(&self) -> &str {
        &self.inner.kind
    }
    /// Content size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size
    }
    /// `present`, `deleted` or `overwritten`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }
    /// The layer that deleted or replaced it.
    #[getter]
    fn removed_in_layer(&self) -> Option<usize> {
        self.inner.removed_in_layer
    }
    /// How it was removed: `whiteout`, `opaque_dir`, `parent_replaced` or `rewritten`.
    #[getter]
    fn removed_by(&self) -> Option<String> {
        self.inner.removed_by.as_ref().map(enum_str)
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

// ---------------------------------------------------------------------------------------------

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

data_class!(Report {
    /// Every image read.
    #[getter]
    fn images(&self) -> Vec<Image> {
        self.rest.images.iter().map(|i| Image { inner: i.clone() }).collect()
    }
    /// Every finding, most severe first.
    #[getter]
    fn findings(&self, py: Python<'_>) -> Vec<Py<Finding>> {
        self.findings.iter().map(|f| f.clone_ref(py)).collect()
    }
    /// Every problem that did not stop the scan.
    #[getter]
    fn errors(&self) -> Vec<ErrorReport> {
        self.rest.errors.iter().map(|e| ErrorReport { inner: e.clone() }).collect()
    }
    /// Totals.
    #[getter]
    fn stats(&self) -> Stats {
        Stats { inner: self.rest.stats.clone() }
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
