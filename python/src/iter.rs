//! `iter_scan()`: the scan runs on a background thread and pushes its results through a bounded
//! channel (a [`Sink`]); the iterator's `__next__` waits on the channel with the GIL released.
//! Dropping the iterator closes the channel, and the scan stops at its next push.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use std::sync::Arc;

use layerdig::gate::Judging;
use layerdig::{ErrorReport as CoreErrorReport, Gate, ImageReport, ImageSource, Scanner, Sink, SinkError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::Error;
use crate::types::{ErrorReport, Finding, Image, Stats};

/// How many results may wait in the channel before the scanner blocks.
const BOUND: usize = 64;
/// How often a waiting `__next__` looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

enum Msg {
    Image(Box<ImageReport>),
    Finding(Box<Finding>),
    Error(Box<CoreErrorReport>),
    Done(Box<Result<layerdig::Stats, layerdig::Error>>),
}

/// Sends everything to the iterator (behind the gate, which judged each finding); stops the
/// scan once the iterator is gone.
struct ChannelSink {
    tx: SyncSender<Msg>,
    /// The findings sent, counted as judged (the scanner's own totals count them before the
    /// gate: without its severity overrides, suppressions, verdicts and deadlines).
    counted: layerdig::Stats,
}

impl Sink for ChannelSink {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        Ok(self.tx.send(Msg::Image(Box::new(image.clone()))).is_ok())
    }
    fn finding(&mut self, finding: &layerdig::Finding) -> Result<bool, SinkError> {
        self.counted.count(finding);
        Ok(self.tx.send(Msg::Finding(Box::new(Finding::new(finding.clone())))).is_ok())
    }
    fn error(&mut self, error: &CoreErrorReport) -> Result<bool, SinkError> {
        Ok(self.tx.send(Msg::Error(Box::new(error.clone()))).is_ok())
    }
}

struct State {
    rx: Option<Receiver<Msg>>,
    thread: Option<JoinHandle<()>>,
    images: Vec<ImageReport>,
    errors: Vec<CoreErrorReport>,
    stats: Option<layerdig::Stats>,
}

/// What one wait on the channel gave.
enum Step {
    Finding(Finding),
    Timeout,
    End(Result<(), layerdig::Error>),
}

/// The iterator `iter_scan()` returns: yields `Finding`s as the scan produces them. Once it is
/// exhausted, `images`, `errors` and `stats` hold the rest of the report (before that they hold
/// what has arrived so far, and `stats` is None).
#[pyclass(frozen, module = "layerdig")]
pub struct ScanIterator {
    state: Mutex<State>,
}

impl ScanIterator {
    pub fn start(scanner: Scanner, source: ImageSource, gate: Arc<Gate>) -> ScanIterator {
        let (tx, rx) = sync_channel(BOUND);
        let thread = std::thread::spawn(move || {
            let _active = crate::Active::enter();
            let mut channel = ChannelSink { tx: tx.clone(), counted: layerdig::Stats::default() };
            let started = std::time::Instant::now();
            let mut sink = Judging::new(&gate, &mut channel);
            let result = scanner.scan_source(&source, &mut sink);
            let counts = sink.counts;
            // The finding counts are those of the findings yielded, as judged, and what the gate
            // left out, as `scan()` has them; the rest is the scanner's.
            let result = result.map(|stats| gate.end(stats.with_counts(&channel.counted), counts, started).stats);
            let _ = tx.send(Msg::Done(Box::new(result)));
        });
        ScanIterator {
            state: Mutex::new(State {
                rx: Some(rx),
                thread: Some(thread),
                images: Vec::new(),
                errors: Vec::new(),
                stats: None,
            }),
        }
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| PyRuntimeError::new_err("iter_scan: a previous next() panicked"))
    }

    /// Wait (a short while) for the next finding, keeping images, errors and stats as they come.
    fn step(state: &mut State) -> Step {
        loop {
            let Some(rx) = &state.rx else {
                return Step::End(Ok(()));
            };
            let msg = match rx.recv_timeout(SIGNAL_POLL) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => return Step::Timeout,
                Err(RecvTimeoutError::Disconnected) => Msg::Done(Box::new(Err(layerdig::Error::Sink(
                    SinkError::Other("the scan thread ended without a result".into()),
                )))),
            };
            match msg {
                Msg::Image(image) => state.images.push(*image),
                Msg::Error(error) => state.errors.push(*error),
                Msg::Finding(finding) => return Step::Finding(*finding),
                Msg::Done(result) => {
                    state.rx = None;
                    if let Some(thread) = state.thread.take() {
                        let _ = thread.join();
                    }
                    return Step::End((*result).map(|stats| state.stats = Some(stats)));
                }
            }
        }
    }
}

#[pymethods]
impl ScanIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Finding>> {
        loop {
            let step = py.detach(|| -> PyResult<Step> { Ok(ScanIterator::step(&mut *self.lock()?)) })?;
            match step {
                Step::Finding(finding) => return Ok(Some(finding)),
                Step::Timeout => py.check_signals()?,
                Step::End(Ok(())) => return Ok(None),
                Step::End(Err(e)) => return Err(Error::from(e).into()),
            }
        }
    }

    /// The images read so far.
    #[getter]
    fn images(&self) -> PyResult<Vec<Image>> {
        Ok(self.lock()?.images.iter().map(|i| Image { inner: i.clone() }).collect())
    }

    /// The problems met so far.
    #[getter]
    fn errors(&self) -> PyResult<Vec<ErrorReport>> {
        Ok(self.lock()?.errors.iter().map(|e| ErrorReport { inner: e.clone() }).collect())
    }

    /// The scan's totals, once the iterator is exhausted; None before.
    #[getter]
    fn stats(&self) -> PyResult<Option<Stats>> {
        Ok(self.lock()?.stats.clone().map(|inner| Stats { inner }))
    }

    /// Stop the scan early and end the iteration.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let (rx, thread) = {
            let mut state = self.lock()?;
            (state.rx.take(), state.thread.take())
        };
        drop(rx);
        if let Some(thread) = thread {
            py.detach(|| {
                let _ = thread.join();
            });
        }
        Ok(())
    }

    fn __repr__(&self) -> PyResult<String> {
        let state = self.lock()?;
        let status = if state.rx.is_some() { "running" } else { "done" };
        Ok(format!("<ScanIterator {status}: {} images, {} errors so far>", state.images.len(), state.errors.len()))
    }
}
