//! The native half of the `layerdig` Python package: a thin shell over the `layerdig` crate.
//!
//! Every function that reads an image releases the GIL (`Python::detach`) for the whole read,
//! so scans in a thread pool run in parallel. Results are frozen classes over the library's own
//! types (see `types`); errors become the exception hierarchy in `errors`.

mod errors;
mod iter;
mod rules;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use layerdig::gate::{Baseline, Judging};
use layerdig::policy::Policy;
use layerdig::{Clock, Collect, FailOn, Gate, ImageSource, OpenOptions, Platform, Scanner, Status, Timestamp};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::Error;
use crate::rules::Rules;
use crate::types::{ErrorReport, FileRecord, Finding, Image, Layer, Location, Report, Stats, Suppression};

/// `"os/arch[/variant]"` into a platform; ValueError when malformed.
fn parse_platform(platform: Option<&str>) -> PyResult<Option<Platform>> {
    platform.map(|p| p.parse::<Platform>().map_err(PyValueError::new_err)).transpose()
}

fn check_threads(threads: Option<usize>) -> PyResult<Option<usize>> {
    match threads {
        Some(0) => Err(PyValueError::new_err("threads must be at least 1")),
        t => Ok(t),
    }
}

/// A scanner with the options every scanning function takes.
#[allow(clippy::too_many_arguments)]
fn scanner(
    rules: &layerdig::Rules,
    show_secrets: bool,
    threads: Option<usize>,
    platform: Option<Platform>,
    clock: Clock,
    archive_depth: Option<u8>,
    base: Option<&Path>,
    cache: Option<&Path>,
    daemon_host: Option<String>,
    registry: layerdig::registry::RegistryOptions,
) -> Result<Scanner, Error> {
    let mut builder = Scanner::builder();
    builder.daemon_host(daemon_host);
    builder.cache(cache.map(Path::to_path_buf)).registry(registry);
    if let Some(path) = base {
        let source = open(path, platform.clone())?;
        builder.base(layerdig::image::BaseImage::of(&source, platform.as_ref(), &path.display().to_string()));
    }
    builder.show_secrets(show_secrets).platform(platform).clock(clock);
    if let Some(depth) = archive_depth {
        builder.archives(layerdig::ArchiveLimits { depth, ..layerdig::ArchiveLimits::default() });
    }
    if let Some(n) = threads {
        builder.threads(n);
    }
    Ok(builder.build(rules)?)
}

/// How `docker://` inputs are reached: `creds="USER:PASSWORD"`, an auth file, a certificate
/// directory, verification. A malformed `creds` is a ValueError that does not repeat it.
fn registry_options(
    creds: Option<&str>,
    authfile: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    tls_verify: bool,
) -> PyResult<layerdig::registry::RegistryOptions> {
    let creds = creds
        .map(layerdig::registry::Credentials::parse)
        .transpose()
        .map_err(|_| PyValueError::new_err("creds takes \"USER:PASSWORD\""))?;
    Ok(layerdig::registry::RegistryOptions {
        credentials: layerdig::registry::CredentialSource { creds, authfile },
        cert_dir,
        tls_verify,
    })
}

fn open(path: &Path, platform: Option<Platform>) -> Result<ImageSource, Error> {
    Ok(ImageSource::open_with(path, &OpenOptions { platform, ..OpenOptions::default() })?)
}

/// The gate a scan's findings are judged by: the policy file `config` names (else none), the
/// call's `fail_on` (else the policy's, else `high`), a baseline, and the clock (`now` fixes it).
/// Expired allow entries are issued as `LayerdigWarning`s, as the CLI warns about them.
pub(crate) fn gate(
    py: Python<'_>,
    config: Option<PathBuf>,
    fail_on: Option<&str>,
    baseline: Option<PathBuf>,
    now: Option<&str>,
) -> PyResult<Gate> {
    let clock = match now {
        Some(text) => Clock::Fixed(Timestamp::parse(text).ok_or_else(|| {
            PyValueError::new_err(format!("now: not a time: {text:?} (e.g. 2026-12-01T00:00:00Z or 2026-12-01)"))
        })?),
        None => Clock::System,
    };
    let fail_on = fail_on.map(|f| f.parse::<FailOn>().map_err(PyValueError::new_err)).transpose()?;
    let policy = match config {
        Some(path) => {
            let policy = py.detach(|| Policy::load(&path, clock.now().date())).map_err(errors::policy_error)?;
            errors::warn_all(py, &policy.expiry_warnings())?;
            policy
        }
        None => Policy::default(),
    };
    let mut gate = Gate::new(policy, clock);
    if let Some(fail_on) = fail_on {
        gate = gate.fail_on(fail_on);
    }
    if let Some(path) = baseline {
        let loaded = py.detach(|| Baseline::load(&path)).map_err(errors::baseline_error)?;
        gate = gate.baseline(loaded);
    }
    Ok(gate)
}

/// What `scan()` and `iter_scan()` make of their common arguments before scanning.
struct Prepared {
    platform: Option<Platform>,
    threads: Option<usize>,
    gate: Gate,
    rules: Option<layerdig::Rules>,
}

/// Check and load the arguments `scan()` and `iter_scan()` share (raising as they document).
#[allow(clippy::too_many_arguments)]
fn prepare(
    py: Python<'_>,
    platform: Option<&str>,
    threads: Option<usize>,
    rules: Option<PyRef<'_, Rules>>,
    config: Option<PathBuf>,
    fail_on: Option<&str>,
    baseline: Option<PathBuf>,
    now: Option<&str>,
) -> PyResult<Prepared> {
    Ok(Prepared {
        platform: parse_platform(platform)?,
        threads: check_threads(threads)?,
        gate: gate(py, config, fail_on, baseline, now)?,
        rules: rules.map(|r| r.inner.clone()),
    })
}

/// Scan an image for secrets in every layer, its configuration and its build history.
///
/// `path` is a `docker save` / `podman save` archive, an OCI layout directory or `oci-archive`
/// tar, a single layer tarball (plain, gzip or zstd) or a directory. The GIL is released for
/// the whole scan.
///
/// The findings are judged as `layerdig scan` judges them, so `Report.to_json()` and
/// `Report.to_sarif()` write the same bytes the CLI does for the same image and options:
/// `config` names a policy file (`layerdig.toml`): its `[severity]` overrides change the
/// findings' severity, the locations its `[[allow]]` entries match are marked
/// (`Location.suppressed`, and `Finding.suppressed` when every location is) but kept, its
/// `[sla]` deadlines give each finding its `sla`, and its `fail_on` (or the call's: a severity
/// or `"overdue"`, default `"high"`) decides `Finding.fails_gate` and `Report.gate`.
/// `baseline` names a baseline file (findings it knows are left out, or with an `[sla]` kept
/// and marked `baselined`). `now` (RFC 3339 or a date) judges deadlines and expiry as of that
/// moment on a clock that stands still (durations read 0). Expired allow entries suppress
/// nothing and are issued as `LayerdigWarning`s. Archives and compressed files inside the
/// layers (jars, wheels, `.tgz` backups) are opened up to `archive_depth` deep (default 5; 0
/// reads them as bytes), their findings at paths like `app.war!WEB-INF/lib/a.jar!app.yml`.
/// `base` is the image the scanned one was built on (any input form): locations in the layers
/// they share are `origin == "inherited"`, the others `"introduced"`. `cache` names a
/// layer-result cache directory (as `--cache`): layers scanned before with the same rules and
/// options are not read again (`Stats.layers_from_cache` counts them).
///
/// `path` may also be a reference: `docker://HOST/REPO:TAG`, `docker-daemon:NAME:TAG`,
/// `oci:DIR:REF`, `oci-archive:FILE`, `docker-archive:FILE`; problems reaching or opening one
/// are in `Report.errors` rather than raised. A registry is reached with `creds="USER:PASSWORD"`
/// (else `authfile`, else the auth files skopeo reads), the CAs in `cert_dir` (`*.crt`) besides
/// the system's, and `tls_verify=False` to turn verification off (and allow plain HTTP), as the
/// command line's `--creds`, `--authfile`, `--cert-dir` and `--tls-verify` do.
/// A `docker-daemon:` image is read from the engine at `daemon_host` (`unix:///path` or
/// `tcp://host:port`), else `$DOCKER_HOST`, else `unix:///var/run/docker.sock` (Docker's daemon,
/// or podman's `podman system service`); an engine that does not answer, or has no such image,
/// is in `Report.errors` (kinds `unreachable`, `no_such_image`).
///
/// Raises FileNotFoundError (or another OSError) when the path, the policy file or the baseline
/// cannot be read, ImageFormatError when it is not an image or no image has the requested
/// platform, PolicyError for an invalid policy file or baseline, ValueError for a malformed
/// platform, threshold, time or threads=0. Problems inside the image (a corrupt layer, a digest
/// mismatch) do not raise: they are in `Report.errors`.
#[pyfunction]
#[pyo3(signature = (path, *, platform=None, show_secrets=false, threads=None, rules=None, config=None, fail_on=None, baseline=None, now=None, archive_depth=None, base=None, cache=None, creds=None, authfile=None, cert_dir=None, tls_verify=true, daemon_host=None))]
#[allow(clippy::too_many_arguments)]
fn scan(
    py: Python<'_>,
    path: PathBuf,
    platform: Option<&str>,
    show_secrets: bool,
    threads: Option<usize>,
    rules: Option<PyRef<'_, Rules>>,
    config: Option<PathBuf>,
    fail_on: Option<&str>,
    baseline: Option<PathBuf>,
    now: Option<&str>,
    archive_depth: Option<u8>,
    base: Option<PathBuf>,
    cache: Option<PathBuf>,
    creds: Option<&str>,
    authfile: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    tls_verify: bool,
    daemon_host: Option<String>,
) -> PyResult<Report> {
    let registry = registry_options(creds, authfile, cert_dir, tls_verify)?;
    let Prepared { platform, threads, gate, rules } =
        prepare(py, platform, threads, rules, config, fail_on, baseline, now)?;
    let (report, rules) = detach(py, move || -> Result<_, Error> {
        let started = std::time::Instant::now();
        let rules = rules.unwrap_or_else(layerdig::Rules::builtin);
        let scanner = scanner(
            &rules,
            show_secrets,
            threads,
            platform.clone(),
            gate.clock(),
            archive_depth,
            base.as_deref(),
            cache.as_deref(),
            daemon_host,
            registry,
        )?;
        let mut collect = Collect::new();
        let mut judging = Judging::new(&gate, &mut collect);
        let stats = match layerdig::Input::parse(&path.to_string_lossy()) {
            // A reference (a registry, an engine, stdin, an explicit local form): its problems
            // reaching or opening it are in the report's errors.
            Ok(input) if !matches!(input, layerdig::Input::Path(_)) => scanner.scan_input(&input, &mut judging)?,
            _ => {
                let source = open(&path, platform)?;
                scanner.scan_source(&source, &mut judging)?
            }
        };
        let end = gate.end(stats, judging.counts, started);
        Ok((collect.finish(&end), rules))
    })?;
    Report::new(py, report, rules)
}

/// Scan an image like `scan()`, yielding each finding as soon as the scanner produces it.
///
/// The scan runs on a background thread; waiting for the next finding releases the GIL.
/// After the last finding the iterator's `images`, `errors` and `stats` hold the rest of the
/// report. The findings are judged as in `scan()` (a finding found in several images is
/// yielded once per image). Raises like `scan()` (opening, policy and baseline errors at the
/// call, not at the first `next()`).
#[pyfunction]
#[pyo3(signature = (path, *, platform=None, show_secrets=false, threads=None, rules=None, config=None, fail_on=None, baseline=None, now=None, archive_depth=None, base=None))]
#[allow(clippy::too_many_arguments)]
fn iter_scan(
    py: Python<'_>,
    path: PathBuf,
    platform: Option<&str>,
    show_secrets: bool,
    threads: Option<usize>,
    rules: Option<PyRef<'_, Rules>>,
    config: Option<PathBuf>,
    fail_on: Option<&str>,
    baseline: Option<PathBuf>,
    now: Option<&str>,
    archive_depth: Option<u8>,
    base: Option<PathBuf>,
) -> PyResult<iter::ScanIterator> {
    let Prepared { platform, threads, gate, rules } =
        prepare(py, platform, threads, rules, config, fail_on, baseline, now)?;
    let clock = gate.clock();
    let (scanner, source) = detach(py, move || -> Result<_, Error> {
        let rules = rules.unwrap_or_else(layerdig::Rules::builtin);
        let scanner = scanner(
            &rules,
            show_secrets,
            threads,
            platform.clone(),
            clock,
            archive_depth,
            base.as_deref(),
            None,
            None,
            Default::default(),
        )?;
        let source = open(&path, platform)?;
        Ok((scanner, source))
    })?;
    Ok(iter::ScanIterator::start(scanner, source, Arc::new(gate)))
}

/// Run one buffer through the detectors as if it were the file at `path` inside an image
/// (the path matters: credential files and test fixtures are recognised by it). The findings'
/// locations have a path, line and column but no image or layer.
#[pyfunction]
#[pyo3(signature = (data, path="-", *, show_secrets=false, rules=None))]
fn scan_bytes(
    py: Python<'_>,
    data: std::borrow::Cow<'_, [u8]>,
    path: &str,
    show_secrets: bool,
    rules: Option<PyRef<'_, Rules>>,
) -> PyResult<Vec<Finding>> {
    let rules = rules.map(|r| r.inner.clone());
    let data: &[u8] = &data;
    let findings = detach(py, move || -> Result<_, Error> {
        let rules = rules.unwrap_or_else(layerdig::Rules::builtin);
        let scanner =
            scanner(&rules, show_secrets, None, None, Clock::System, None, None, None, None, Default::default())?;
        Ok(scanner.scan_slice(path, data))
    })?;
    Ok(findings.into_iter().map(Finding::new).collect())
}

/// The layers of the image at `path`, base first: digests, media type, compression, sizes, the
/// instruction that made each (secrets in it redacted unless `show_secrets`), files added and
/// whiteouts. Every layer is read (in parallel, the GIL released) to count and verify it.
///
/// For a multi-platform input the layers of every image are listed (each `Layer.platform` says
/// whose) unless `platform` picks one. Problems that do not stop the listing (a corrupt layer,
/// a digest mismatch) are issued as `LayerdigWarning`s. Raises like `scan()`.
#[pyfunction]
#[pyo3(signature = (path, *, platform=None, show_secrets=false, threads=None))]
fn layers(
    py: Python<'_>,
    path: PathBuf,
    platform: Option<&str>,
    show_secrets: bool,
    threads: Option<usize>,
) -> PyResult<Vec<Layer>> {
    let platform = parse_platform(platform)?;
    let threads = check_threads(threads)?;
    let (layers, problems) = detach(py, move || -> Result<_, Error> {
        let source = open(&path, platform)?;
        let mut problems: Vec<layerdig::Error> = Vec::new();
        let mut layers = Vec::new();
        for image in source.images() {
            let listing = layerdig::list(&source, image, &layerdig::Rules::builtin(), show_secrets, threads);
            let platform = image.platform.as_ref().map(|p| p.to_string());
            layers.extend(listing.image.layers.into_iter().map(|inner| Layer { inner, platform: platform.clone() }));
            problems.extend(listing.problems);
        }
        let opening = source.problems().iter().map(|p| p.to_string());
        let problems: Vec<String> = opening.chain(problems.iter().map(|p| p.to_string())).collect();
        Ok((layers, problems))
    })?;
    errors::warn_all(py, &problems)?;
    Ok(layers)
}

/// Every file (regular files, hard and symbolic links) of every layer of the image at `path`,
/// base layer first, with its fate in the final image: `present`, `deleted` or `overwritten`
/// (and the layer that did it). `status` keeps only files with that status.
///
/// Problems that do not stop the listing are issued as `LayerdigWarning`s. Raises like
/// `scan()`, and ValueError for an unknown status.
#[pyfunction]
#[pyo3(signature = (path, status=None, *, platform=None, threads=None))]
fn files(
    py: Python<'_>,
    path: PathBuf,
    status: Option<&str>,
    platform: Option<&str>,
    threads: Option<usize>,
) -> PyResult<Vec<FileRecord>> {
    let wanted = match status {
        None => None,
        Some("present") => Some(Status::Present),
        Some("deleted") => Some(Status::Deleted),
        Some("overwritten") => Some(Status::Overwritten),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "unknown status '{other}': expected 'present', 'deleted' or 'overwritten'"
            )));
        }
    };
    let platform = parse_platform(platform)?;
    let threads = check_threads(threads)?;
    let (records, problems) = detach(py, move || -> Result<_, Error> {
        let source = open(&path, platform)?;
        let mut problems: Vec<String> = source.problems().iter().map(|p| p.to_string()).collect();
        let mut records = Vec::new();
        for image in source.images() {
            let listing = layerdig::list(&source, image, &layerdig::Rules::builtin(), false, threads);
            let more = listing.problems;
            let platform = image.platform.as_ref().map(|p| p.to_string());
            records.extend(
                listing
                    .files
                    .into_iter()
                    .filter(|f| wanted.is_none_or(|w| f.status == w))
                    .map(|inner| FileRecord { inner, platform: platform.clone() }),
            );
            problems.extend(more.iter().map(|p| p.to_string()));
        }
        Ok((records, problems))
    })?;
    errors::warn_all(py, &problems)?;
    Ok(records)
}

/// layerdig's native module; import `layerdig`, which re-exports everything here.
/// Calls into the library in progress; while there is one, a panic prints where it happened but
/// not its message, which could quote scanned content.
static ACTIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one call in progress for [`ACTIVE`] while it lives.
pub(crate) struct Active;

impl Active {
    pub(crate) fn enter() -> Active {
        ACTIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Install (once) a panic hook that withholds panic messages while the library runs and hands
/// every other panic to the hook that was there before.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return previous(info);
            }
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            eprintln!(
                "layerdig: internal error (panic{at}); the message is withheld because it may quote scanned content"
            );
        }));
    });
}

/// Run `f` with the GIL released. A panic inside becomes a `LayerdigError` without the panic's
/// message (see [`install_panic_hook`]).
/// Open `path` (a path, or a reference as `scan()` takes one) as `scanner` would, reading
/// only its documents.
fn open_target(scanner: &Scanner, path: &Path, platform: Option<Platform>) -> Result<ImageSource, Error> {
    match layerdig::Input::parse(&path.to_string_lossy()) {
        Ok(input) if !matches!(input, layerdig::Input::Path(_)) => Ok(scanner.open_input(&input)?),
        _ => open(path, platform),
    }
}

/// The distinct layers of the input at `path` (a path or a reference), as
/// `(layer_id, size)` pairs, base first, image after image: what a distributed sweep makes one
/// task of each. Only the input's documents are read.
///
/// Raises like `scan()` when the input cannot be opened.
#[pyfunction]
#[pyo3(signature = (path, *, platform=None))]
fn layer_ids(py: Python<'_>, path: PathBuf, platform: Option<&str>) -> PyResult<Vec<(String, u64)>> {
    let platform = parse_platform(platform)?;
    detach(py, move || -> Result<_, Error> {
        let scanner = scanner(
            &layerdig::Rules::builtin(),
            false,
            None,
            platform.clone(),
            Clock::System,
            None,
            None,
            None,
            None,
            Default::default(),
        )?;
        let source = open_target(&scanner, &path, platform)?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for layer in source.images().iter().flat_map(|i| &i.layers) {
            if let Some(id) = layer.id().map(ToString::to_string)
                && seen.insert(id.clone())
            {
                out.push((id, layer.size));
            }
        }
        Ok(out)
    })
}

/// Scan one layer (`layer_id`, from `layer_ids()`) of the input at `path` and return its
/// result as bytes: checksummed, to be handed to `resolve()` in this or another process. With
/// `cache`, the cache is used and filled as `scan(cache=...)` does. The bytes hold the secrets
/// the layer holds: treat them as a report with `show_secrets`.
///
/// Raises like `scan()`, and ImageFormatError when the input has no such layer.
#[pyfunction]
#[pyo3(signature = (path, layer_id, *, platform=None, rules=None, archive_depth=None, cache=None))]
fn scan_layer<'py>(
    py: Python<'py>,
    path: PathBuf,
    layer_id: String,
    platform: Option<&str>,
    rules: Option<PyRef<'_, Rules>>,
    archive_depth: Option<u8>,
    cache: Option<PathBuf>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let platform = parse_platform(platform)?;
    let rules = rules.map(|r| r.inner.clone());
    let bytes = detach(py, move || -> Result<_, Error> {
        let rules = rules.unwrap_or_else(layerdig::Rules::builtin);
        let scanner = scanner(
            &rules,
            false,
            None,
            platform.clone(),
            Clock::System,
            archive_depth,
            None,
            cache.as_deref(),
            None,
            Default::default(),
        )?;
        let source = open_target(&scanner, &path, platform)?;
        Ok(scanner.layer_result_of(&source, &layer_id)?.to_bytes())
    })?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}

/// The report `scan()` gives for the input at `path`, made from layer results (`results`:
/// layer id to the bytes `scan_layer()` returned) and the input's documents; layers without a
/// result, or whose result is not clean, are scanned here. The other arguments are `scan()`'s.
///
/// Raises like `scan()`, and ValueError when a result's bytes are not a layer result (corrupt,
/// cut short, another version).
#[pyfunction]
#[pyo3(signature = (path, results, *, platform=None, show_secrets=false, threads=None, rules=None, config=None, fail_on=None, baseline=None, now=None, archive_depth=None, base=None, cache=None))]
#[allow(clippy::too_many_arguments)]
fn resolve(
    py: Python<'_>,
    path: PathBuf,
    results: std::collections::HashMap<String, Vec<u8>>,
    platform: Option<&str>,
    show_secrets: bool,
    threads: Option<usize>,
    rules: Option<PyRef<'_, Rules>>,
    config: Option<PathBuf>,
    fail_on: Option<&str>,
    baseline: Option<PathBuf>,
    now: Option<&str>,
    archive_depth: Option<u8>,
    base: Option<PathBuf>,
    cache: Option<PathBuf>,
) -> PyResult<Report> {
    let Prepared { platform, threads, gate, rules } =
        prepare(py, platform, threads, rules, config, fail_on, baseline, now)?;
    let mut given = std::collections::HashMap::new();
    for (id, bytes) in results {
        let result = layerdig::scan::LayerResult::from_bytes(&bytes)
            .map_err(|e| PyValueError::new_err(format!("results[{id:?}]: {e}")))?;
        given.insert(id, result);
    }
    let (report, rules) = detach(py, move || -> Result<_, Error> {
        let started = std::time::Instant::now();
        let rules = rules.unwrap_or_else(layerdig::Rules::builtin);
        let scanner = scanner(
            &rules,
            show_secrets,
            threads,
            platform.clone(),
            gate.clock(),
            archive_depth,
            base.as_deref(),
            cache.as_deref(),
            None,
            Default::default(),
        )?;
        let mut collect = Collect::new();
        let mut judging = Judging::new(&gate, &mut collect);
        let stats = match open_target(&scanner, &path, platform) {
            Ok(source) => scanner.resolve(&source, &given, &mut judging)?,
            Err(e) => return Err(e),
        };
        let end = gate.end(stats, judging.counts, started);
        Ok((collect.finish(&end), rules))
    })?;
    Report::new(py, report, rules)
}

fn detach<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let outcome = py.detach(move || {
        let _active = Active::enter();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    });
    match outcome {
        Ok(result) => result.map_err(PyErr::from),
        Err(_) => Err(errors::LayerdigError::new_err(
            "internal error: layerdig panicked; the message is withheld because it may quote scanned content (please report this)",
        )),
    }
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    install_panic_hook();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(iter_scan, m)?)?;
    m.add_function(wrap_pyfunction!(scan_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(layers, m)?)?;
    m.add_function(wrap_pyfunction!(layer_ids, m)?)?;
    m.add_function(wrap_pyfunction!(scan_layer, m)?)?;
    m.add_function(wrap_pyfunction!(resolve, m)?)?;
    m.add_function(wrap_pyfunction!(files, m)?)?;
    m.add_class::<Rules>()?;
    m.add_class::<Report>()?;
    m.add_class::<Finding>()?;
    m.add_class::<Location>()?;
    m.add_class::<Suppression>()?;
    m.add_class::<Image>()?;
    m.add_class::<Layer>()?;
    m.add_class::<ErrorReport>()?;
    m.add_class::<Stats>()?;
    m.add_class::<FileRecord>()?;
    m.add_class::<iter::ScanIterator>()?;
    m.add("LayerdigError", py.get_type::<errors::LayerdigError>())?;
    m.add("ImageFormatError", py.get_type::<errors::ImageFormatError>())?;
    m.add("RuleError", py.get_type::<errors::RuleError>())?;
    m.add("PolicyError", py.get_type::<errors::PolicyError>())?;
    m.add("LayerdigWarning", py.get_type::<errors::LayerdigWarning>())?;
    Ok(())
}
