//! The progress bar on stderr: stored bytes read of the layers of the images opened so far, rate,
//! ETA, and layers and images done.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use layerdig::layer::LayerStats;
use layerdig::scan::Progress;

use crate::args::When;

/// Shows progress while images are scanned; safe to share between threads.
pub struct Bar {
    bar: ProgressBar,
    images_total: Option<u64>,
    images_done: AtomicU64,
    layers_total: AtomicU64,
    layers_done: AtomicU64,
}

impl Bar {
    /// A bar on stderr, or `None` when progress is off (`never`, `-q`, or `auto` without a
    /// terminal on stderr). `images` is how many images there are, when known.
    pub fn new(when: When, quiet: bool, images: Option<u64>) -> Option<Bar> {
        let target = match when {
            When::Never => return None,
            _ if quiet => return None,
            When::Auto if !io::stderr().is_terminal() => return None,
            When::Auto => ProgressDrawTarget::stderr(),
            // Draw even when stderr is not a terminal (CI logs, tests).
            When::Always => ProgressDrawTarget::term_like(Box::new(Stderr)),
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed:>4} [{bar:28}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let me = Bar {
            bar,
            images_total: images,
            images_done: AtomicU64::new(0),
            layers_total: AtomicU64::new(0),
            layers_done: AtomicU64::new(0),
        };
        me.update();
        Some(me)
    }

    fn update(&self) {
        let images = match self.images_total {
            Some(n) => format!("{}/{n}", self.images_done.load(Ordering::Relaxed)),
            None => self.images_done.load(Ordering::Relaxed).to_string(),
        };
        self.bar.set_message(format!(
            "layers {}/{} · images {images}",
            self.layers_done.load(Ordering::Relaxed),
            self.layers_total.load(Ordering::Relaxed)
        ));
    }

    /// One image (input) is done.
    pub fn image_done(&self) {
        self.images_done.fetch_add(1, Ordering::Relaxed);
        self.update();
    }

    /// Remove the bar.
    pub fn finish(&self) {
        self.update();
        self.bar.finish_and_clear();
    }

    /// Print a line above the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Progress for Bar {
    fn image_opened(&self, _image: &Path, layers: usize, bytes: u64) {
        self.layers_total.fetch_add(layers as u64, Ordering::Relaxed);
        self.bar.inc_length(bytes);
        self.update();
    }

    fn layer_done(&self, _image: &Path, _layer: usize, stats: &LayerStats) {
        self.layers_done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(stats.compressed_bytes);
        self.update();
    }
}

/// Standard error as a terminal, whatever it is connected to.
#[derive(Debug)]
struct Stderr;

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100)
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n > 0 { write!(io::stderr(), "\x1b[{n}A") } else { Ok(()) }
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n > 0 { write!(io::stderr(), "\x1b[{n}B") } else { Ok(()) }
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n > 0 { write!(io::stderr(), "\x1b[{n}C") } else { Ok(()) }
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n > 0 { write!(io::stderr(), "\x1b[{n}D") } else { Ok(()) }
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        writeln!(io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        write!(io::stderr(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        write!(io::stderr(), "\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}
