//! The Python classes over the library's result types. Every one is frozen (immutable, safe to
//! share between threads), has `to_dict()` / `to_json()` giving the JSON form the CLI writes,
//! `from_json()` reading it back, compares equal by value, hashes, and pickles through its JSON
//! form (`__reduce__`), so results cross process pools.
//!
//! One file per class; this module holds what they share: the [`Data`] trait (the JSON form),
//! the macros that write their `#[pymethods]` blocks (`methods!` generates the getters that
//! read a field of the wrapped library value, `data_class!` adds the JSON, equality, hashing and
//! pickling methods, `simple_data!` implements [`Data`] through serde), and the JSON and
//! `repr()` helpers.

use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The `#[pymethods]` block of a class over a library value kept in `self.$field`: a
/// `#[getter]` for each entry of the `getters { .. }` list, then the methods written out.
///
/// An entry is the Python attribute's name and the getter's return type, then how it reads
/// the field of the same name (`getter!`), its doc comments becoming the property's docstring:
///
/// ```text
/// /// Position in the image, base layer 0.
/// index: usize,                       // a copy:        self.inner.index
/// /// The image path.
/// image: &str = as_str,               // a method call: self.inner.image.as_str()
/// /// The layer's digest, when known.
/// digest: Option<&str> = as_deref,    //                self.inner.digest.as_deref()
/// /// The byte range.
/// span: Option<(u64, u64)> => |l| l.span.map(|s| (s.start, s.end)),   // any expression of
///                                                                      // `l = &self.inner`
/// ```
///
/// (One block per class: PyO3 takes a single `#[pymethods]` impl without its
/// `multiple-pymethods` feature, so the getters are generated into it.)
macro_rules! methods {
    ($ty:ident . $field:ident {
        getters {
            $(
                $(#[$meta:meta])*
                $name:ident : $ret:ty $(= $method:ident)? $(=> |$v:ident| $expr:expr)?
            ),* $(,)?
        }
        $($methods:tt)*
    }) => {
        #[::pyo3::pymethods]
        impl $ty {
            $(
                $(#[$meta])*
                #[getter]
                fn $name(&self) -> $ret {
                    getter!(self.$field, $name $(= $method)? $(=> |$v| $expr)?)
                }
            )*

            $($methods)*
        }
    };
}

/// The body of a generated getter (see `methods!`).
macro_rules! getter {
    ($value:expr, $name:ident) => {
        $value.$name
    };
    ($value:expr, $name:ident = $method:ident) => {
        $value.$name.$method()
    };
    ($value:expr, $name:ident => |$v:ident| $expr:expr) => {{
        let $v = &$value;
        $expr
    }};
}

/// `methods!` with the methods every result class shares: `to_dict`, `to_json`, `from_json`,
/// equality and hashing by the JSON form, and pickling through it.
macro_rules! data_class {
    ($ty:ident . $field:ident { $($body:tt)* }) => {
        methods!($ty.$field {
            $($body)*

            /// The JSON form as Python objects: dicts, lists, str, int, bool and None.
            fn to_dict<'py>(&self, py: ::pyo3::Python<'py>) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                $crate::types::value_to_py(py, &$crate::types::Data::value(self, py)?)
            }

            /// The JSON form as text, the same the CLI writes.
            #[pyo3(signature = (pretty=false))]
            fn to_json(&self, py: ::pyo3::Python<'_>, pretty: bool) -> ::pyo3::PyResult<String> {
                $crate::types::Data::json(self, py, pretty)
            }

            /// Read back the text `to_json()` gave.
            ///
            /// Raises ValueError when the text is not JSON of this shape.
            #[classmethod]
            fn from_json(cls: &::pyo3::Bound<'_, ::pyo3::types::PyType>, text: &str) -> ::pyo3::PyResult<Self> {
                <Self as $crate::types::Data>::from_value(cls.py(), $crate::types::parse(text)?)
            }

            fn __eq__(&self, py: ::pyo3::Python<'_>, other: ::pyo3::PyRef<'_, Self>) -> ::pyo3::PyResult<bool> {
                Ok($crate::types::Data::value(self, py)? == $crate::types::Data::value(&*other, py)?)
            }

            fn __hash__(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<isize> {
                Ok($crate::types::hash_value(&$crate::types::Data::value(self, py)?))
            }

            fn __reduce__<'py>(
                slf: &::pyo3::Bound<'py, Self>,
            ) -> ::pyo3::PyResult<(::pyo3::Bound<'py, ::pyo3::PyAny>, ::pyo3::Bound<'py, ::pyo3::types::PyTuple>)> {
                use ::pyo3::types::PyAnyMethods;
                let py = slf.py();
                let text = $crate::types::json_text(&$crate::types::Data::value(slf.get(), py)?, false)?;
                Ok((slf.get_type().getattr("from_json")?, ::pyo3::types::PyTuple::new(py, [text])?))
            }
        });
    };
}

/// [`Data`] for a class whose `inner` is one serde type.
macro_rules! simple_data {
    ($ty:ident, $inner:ty, $what:literal) => {
        impl $crate::types::Data for $ty {
            fn value(&self, _py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<::serde_json::Value> {
                $crate::types::to_value(&self.inner)
            }
            fn from_value(_py: ::pyo3::Python<'_>, value: ::serde_json::Value) -> ::pyo3::PyResult<Self> {
                Ok($ty { inner: $crate::types::from_value::<$inner>($what, value)? })
            }
        }
    };
}

mod error_report;
mod file_record;
mod finding;
mod image;
mod layer;
mod location;
mod report;
mod stats;
mod suppression;

pub use error_report::ErrorReport;
pub use file_record::FileRecord;
pub use finding::Finding;
pub use image::Image;
pub use layer::Layer;
pub use location::Location;
pub use report::Report;
pub use stats::Stats;
pub use suppression::Suppression;

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
