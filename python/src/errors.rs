//! The exception hierarchy and the conversion of the library's errors into it.
//!
//! ```text
//! Exception
//! └── LayerdigError            anything layerdig reports that is not an OS error
//!     ├── ImageFormatError     not an image, malformed manifests / configs, no such platform
//!     ├── RuleError            a rule file that does not parse or compile
//!     └── PolicyError          a policy file (`config=`) that is not valid
//! OSError (FileNotFoundError, PermissionError, …)   the OS refused a read
//! UserWarning
//! └── LayerdigWarning          a problem that did not stop `layers()` / `files()`
//! ```
//!
//! The class of a library error is chosen from its [`layerdig::ErrorKind`], not its message.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyUserWarning};
use pyo3::prelude::*;

use layerdig::ErrorKind;

create_exception!(
    layerdig,
    LayerdigError,
    PyException,
    "Base class of layerdig's errors. The message names the image and, where they apply, the layer and the path inside it."
);
create_exception!(
    layerdig,
    ImageFormatError,
    LayerdigError,
    "The input is not a container image layerdig can read, or its manifests or configuration are malformed."
);
create_exception!(
    layerdig,
    RuleError,
    LayerdigError,
    "A rule file could not be parsed or one of its rules does not compile."
);
create_exception!(
    layerdig,
    PolicyError,
    LayerdigError,
    "A policy file (layerdig.toml, the config= of scan() and iter_scan()) is not valid: not TOML, an unknown key, or an [[allow]] entry without a reason or criterion, or with a bad glob, fingerprint or date."
);
create_exception!(
    layerdig,
    LayerdigWarning,
    PyUserWarning,
    "A problem that did not stop layers() or files() (a corrupt layer, a digest mismatch, a missing blob): what could be read is returned."
);

/// The library's error on its way to Python (boxed: it is large, and travels through `Result`s).
pub struct Error(pub Box<layerdig::Error>);

impl From<layerdig::Error> for Error {
    fn from(e: layerdig::Error) -> Self {
        Error(Box::new(e))
    }
}

impl From<layerdig::detect::RuleError> for Error {
    fn from(e: layerdig::detect::RuleError) -> Self {
        Error(Box::new(layerdig::Error::Rule(e)))
    }
}

impl From<Error> for PyErr {
    /// The exception class follows the error's kind. An I/O error with a path (the image, or a
    /// rule file, whose kind is `Rule`) is checked first, as it becomes an `OSError` subclass.
    fn from(Error(e): Error) -> PyErr {
        if let Some((path, source)) = io_error(&e) {
            return os_error(path, source);
        }
        let message = e.to_string();
        match e.kind() {
            ErrorKind::NotAnImage | ErrorKind::NoSuchPlatform => ImageFormatError::new_err(message),
            ErrorKind::Rule => RuleError::new_err(message),
            _ => LayerdigError::new_err(message),
        }
    }
}

/// The file and the operating system's error, when `e` is a read that failed at a path.
fn io_error(e: &layerdig::Error) -> Option<(&std::path::Path, &std::io::Error)> {
    match e {
        layerdig::Error::Io { path, source }
        | layerdig::Error::Rule(layerdig::detect::RuleError::Io { path, source }) => Some((path, source)),
        _ => None,
    }
}

/// A policy file's error: OSError when it cannot be read, else `PolicyError` with the whole
/// chain of causes in the message (as the CLI prints it).
pub fn policy_error(e: layerdig::policy::PolicyError) -> PyErr {
    if let layerdig::policy::PolicyError::Read { path, source } = &e {
        return os_error(path, source);
    }
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    PolicyError::new_err(message)
}

/// A baseline that cannot be read is an OSError; one that is not a baseline, a PolicyError.
pub fn baseline_error(e: layerdig::gate::BaselineError) -> PyErr {
    match &e {
        layerdig::gate::BaselineError::Read { path, source } => os_error(path, source),
        _ => PolicyError::new_err(e.to_string()),
    }
}

/// `OSError(errno, strerror, filename)`, which Python turns into the matching subclass
/// (`FileNotFoundError` for ENOENT, `PermissionError` for EACCES, ...).
fn os_error(path: &std::path::Path, source: &std::io::Error) -> PyErr {
    Python::attach(|py| {
        let made = match source.raw_os_error() {
            Some(errno) => py
                .import("os")
                .and_then(|os| os.getattr("strerror"))
                .and_then(|strerror| strerror.call1((errno,)))
                .and_then(|text| py.get_type::<PyOSError>().call1((errno, text, path.as_os_str()))),
            None => py.get_type::<PyOSError>().call1((format!("{}: {source}", path.display()),)),
        };
        match made {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        }
    })
}

/// Report problems that did not stop a listing as `LayerdigWarning`s.
pub fn warn_all(py: Python<'_>, problems: &[String]) -> PyResult<()> {
    let category = py.get_type::<LayerdigWarning>();
    for p in problems {
        let message = std::ffi::CString::new(p.replace('\0', "\\0")).unwrap_or_default();
        PyErr::warn(py, &category, &message, 1)?;
    }
    Ok(())
}
