//! Scanning many images: a few image workers pull inputs from a shared queue, each scan reads its
//! layers on the shared thread pool, and results go through the gate into one locked output as
//! each image is done.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use layerdig::gate::{Counts, Judging};
use layerdig::{
    ErrorReport, Finding, Gate, ImageFormat, ImageReport, ImageSource, Input, OpenOptions, Printer, Scanner, Severity,
    Sink, SinkError, Stats,
};

use crate::progress::Bar;

/// One row of the sweep's summary table.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub format: String,
    pub images: u64,
    pub layers: u64,
    pub by_severity: [u64; 4],
    pub failing: u64,
    pub suppressed: u64,
    pub errors: u64,
    pub incomplete: bool,
}

/// What a run left behind, besides what it wrote.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stats: Stats,
    /// What the gate left out, and whether anything failed.
    pub counts: Counts,
    /// `.tar` files a sweep found that are not images.
    pub skipped: Vec<PathBuf>,
    /// Per input path.
    pub rows: BTreeMap<String, Row>,
    /// The first error writing the output (a closed pipe, a full disk).
    pub write_error: Option<SinkError>,
}

struct Shared {
    emit: Box<dyn Printer>,
    outcome: Outcome,
}

/// Runs scans.
pub struct Runner<'a> {
    pub scanner: &'a Scanner,
    pub gate: &'a Gate,
    pub workers: usize,
    pub progress: Option<Arc<Bar>>,
    pub open: OpenOptions,
    /// Only scan inputs that open as images (docker or OCI archives and layouts): for sweeps.
    pub images_only: bool,
    /// Also print problems on stderr as they happen.
    pub errors_to_stderr: bool,
}

impl Runner<'_> {
    /// Scan every input; returns the output (to finish) and the outcome.
    pub fn run<I>(&self, inputs: I, emit: Box<dyn Printer>) -> (Box<dyn Printer>, Outcome)
    where
        I: Iterator<Item = Input> + Send,
    {
        let shared = Mutex::new(Shared { emit, outcome: Outcome::default() });
        let queue = Mutex::new(inputs);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..self.workers.max(1) {
                s.spawn(|| self.worker(&queue, &shared, &stop));
            }
        });
        let shared = shared.into_inner().unwrap_or_else(|e| e.into_inner());
        (shared.emit, shared.outcome)
    }

    fn worker<I: Iterator<Item = Input>>(&self, queue: &Mutex<I>, shared: &Mutex<Shared>, stop: &AtomicBool) {
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some(input) = next else { return };
            let key = input.name();
            let mut worker = WorkerSink { runner: self, shared, stop, key: key.clone() };
            let mut sink = Judging::new(self.gate, &mut worker);
            let result = if let (true, Input::Path(path)) = (self.images_only, &input) {
                match ImageSource::open_with(path, &self.open) {
                    Ok(source) if is_image(source.format()) => self.scanner.scan_source(&source, &mut sink),
                    Ok(_) => {
                        lock(shared).outcome.skipped.push(path.clone());
                        continue;
                    }
                    Err(e) => {
                        let report = ErrorReport::from_error(path, &e);
                        sink.error(&report)
                            .map(|_| Stats { errors: 1, incomplete: true, ..Stats::default() })
                            .map_err(layerdig::Error::from)
                    }
                }
            } else {
                self.scanner.scan_input(&input, &mut sink)
            };
            let counts = sink.counts;
            if let Some(bar) = &self.progress {
                bar.image_done();
            }
            let mut g = lock(shared);
            g.outcome.counts.merge(counts);
            match result {
                Ok(stats) => {
                    let row = g.outcome.rows.entry(key).or_default();
                    row.incomplete |= stats.incomplete;
                    g.outcome.stats.merge(&stats);
                }
                Err(_) => {
                    // Only the output fails a scan: the write error is recorded; stop everyone.
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a source holds real images (not a lone layer tarball or a plain directory).
fn is_image(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::DockerArchive
            | ImageFormat::DockerOciArchive
            | ImageFormat::OciArchive
            | ImageFormat::OciLayout
            | ImageFormat::DockerDirectory
    )
}

/// The sink one worker scans into, behind the gate: counts each judged finding for the sweep's
/// table, then hands it to the shared output.
struct WorkerSink<'r, 'a> {
    runner: &'r Runner<'a>,
    shared: &'r Mutex<Shared>,
    stop: &'r AtomicBool,
    key: String,
}

impl WorkerSink<'_, '_> {
    fn wrote(&self, g: &mut Shared, r: Result<bool, SinkError>) -> Result<bool, SinkError> {
        match r {
            Ok(go_on) => Ok(go_on && !self.stop.load(Ordering::Relaxed)),
            Err(e) => {
                let message = e.to_string();
                if g.outcome.write_error.is_none() {
                    g.outcome.write_error = Some(e);
                }
                self.stop.store(true, Ordering::Relaxed);
                Err(SinkError::Other(message))
            }
        }
    }
}

impl Sink for WorkerSink<'_, '_> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        let mut g = lock(self.shared);
        let row = g.outcome.rows.entry(self.key.clone()).or_default();
        row.format = image.format.clone();
        row.images += 1;
        row.layers += image.layers.len() as u64;
        let r = g.emit.image(image);
        self.wrote(&mut g, r)
    }

    fn finding(&mut self, f: &Finding) -> Result<bool, SinkError> {
        let mut g = lock(self.shared);
        let row = g.outcome.rows.entry(self.key.clone()).or_default();
        if f.is_suppressed() {
            row.suppressed += 1;
        } else {
            let i = Severity::ALL.iter().position(|s| *s == f.severity).unwrap_or(3);
            row.by_severity[i] += 1;
        }
        row.failing += u64::from(f.fails_gate == Some(true));
        let r = g.emit.finding(f);
        self.wrote(&mut g, r)
    }

    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        if self.runner.errors_to_stderr {
            let line = crate::error_line(error, self.runner.gate);
            match &self.runner.progress {
                Some(bar) => bar.println(&line),
                None => eprintln!("{line}"),
            }
        }
        let mut g = lock(self.shared);
        let row = g.outcome.rows.entry(self.key.clone()).or_default();
        row.errors += 1;
        row.incomplete |= error.incomplete;
        let r = g.emit.error(error);
        self.wrote(&mut g, r)
    }
}

/// Finds image candidates under a directory, lazily, in a stable order: `*.tar` files, and
/// directories holding an OCI layout (`oci-layout`) or an unpacked `docker save`
/// (`manifest.json` listing layers). Image directories are not descended into.
pub struct Discover {
    /// Directories still to read, last first.
    dirs: Vec<PathBuf>,
    /// Candidates found in the last directory read, last first.
    found: Vec<PathBuf>,
    follow_links: bool,
    visited: std::collections::HashSet<PathBuf>,
    /// Directories that could not be read.
    pub problems: Arc<Mutex<Vec<String>>>,
}

impl Discover {
    pub fn new(root: &Path, follow_links: bool) -> Discover {
        Discover {
            dirs: vec![root.to_path_buf()],
            found: Vec::new(),
            follow_links,
            visited: Default::default(),
            problems: Default::default(),
        }
    }

    /// Whether `dir` is itself an image.
    pub fn is_image_dir(dir: &Path) -> bool {
        if dir.join("oci-layout").is_file() {
            return true;
        }
        let manifest = dir.join("manifest.json");
        match fs::metadata(&manifest) {
            Ok(m) if m.is_file() && m.len() < (16 << 20) => {}
            _ => return false,
        }
        let Ok(text) = fs::read(&manifest) else {
            return false;
        };
        let Ok(serde_json::Value::Array(items)) = serde_json::from_slice::<serde_json::Value>(&text) else {
            return false;
        };
        items.first().is_some_and(|m| m.get("Layers").is_some())
    }

    fn read(&mut self, dir: PathBuf) {
        if self.follow_links {
            let canonical = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            if !self.visited.insert(canonical) {
                return;
            }
        }
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                self.problems.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{}: {e}", dir.display()));
                return;
            }
        };
        let mut paths: Vec<(PathBuf, bool)> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(mut kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                if !self.follow_links {
                    continue;
                }
                match fs::metadata(&path) {
                    Ok(m) => kind = m.file_type(),
                    Err(_) => continue,
                }
            }
            if kind.is_dir() {
                paths.push((path, true));
            } else if kind.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tar")) {
                paths.push((path, false));
            }
        }
        paths.sort();
        let mut subdirs = Vec::new();
        for (path, is_dir) in paths {
            if is_dir && !Discover::is_image_dir(&path) {
                subdirs.push(path);
            } else {
                self.found.push(path);
            }
        }
        self.found.reverse();
        subdirs.reverse();
        self.dirs.extend(subdirs);
    }
}

impl Iterator for Discover {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            if let Some(p) = self.found.pop() {
                return Some(p);
            }
            let dir = self.dirs.pop()?;
            if Discover::is_image_dir(&dir) {
                // The root itself is an image.
                self.visited.insert(dir.clone());
                return Some(dir);
            }
            self.read(dir);
        }
    }
}

/// The images of a registry sweep, listed lazily: the catalog's repositories under a prefix
/// (read at the first call), then each repository's tags as its turn comes. What cannot be
/// listed is recorded in `problems`, and the sweep goes on with the rest.
pub struct RegistryTargets {
    client: Option<Arc<layerdig::registry::Client>>,
    host: String,
    prefix: String,
    tags: layerdig::registry::TagSelection,
    repositories: Option<std::collections::VecDeque<String>>,
    pending: std::collections::VecDeque<Input>,
    /// Catalog or tag lists that could not be read.
    pub problems: Arc<Mutex<Vec<String>>>,
}

impl RegistryTargets {
    pub fn new(scanner: &Scanner, host: &str, prefix: &str, tags: layerdig::registry::TagSelection) -> RegistryTargets {
        let problems: Arc<Mutex<Vec<String>>> = Default::default();
        let client = match scanner.registry_client(host) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.lock().unwrap_or_else(|e| e.into_inner()).push(format!("docker://{host}: {e}"));
                None
            }
        };
        RegistryTargets {
            client,
            host: host.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            tags,
            repositories: None,
            pending: Default::default(),
            problems,
        }
    }

    fn problem(&self, text: String) {
        self.problems.lock().unwrap_or_else(|e| e.into_inner()).push(text);
    }
}

impl Iterator for RegistryTargets {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        let client = self.client.clone()?;
        if self.repositories.is_none() {
            let listed = match client.repositories(&self.prefix) {
                Ok(r) => r.into(),
                Err(e) => {
                    self.problem(format!("docker://{}: listing repositories: {e}", self.host));
                    Default::default()
                }
            };
            self.repositories = Some(listed);
        }
        loop {
            if let Some(input) = self.pending.pop_front() {
                return Some(input);
            }
            let repository = self.repositories.as_mut()?.pop_front()?;
            match client.tags(&repository) {
                Ok(tags) => {
                    for tag in self.tags.select(tags) {
                        self.pending.push_back(Input::Registry(layerdig::RegistryRef {
                            registry: self.host.clone(),
                            repository: repository.clone(),
                            tag: Some(tag),
                            digest: None,
                        }));
                    }
                }
                Err(e) => self.problem(format!("docker://{}/{repository}: listing tags: {e}", self.host)),
            }
        }
    }
}
