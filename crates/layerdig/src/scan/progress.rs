//! The [`Progress`] hook: what a progress bar is told while a scan runs.

use std::path::Path;

use crate::layer::LayerStats;

/// Receives progress while a scan runs, called from the threads doing the work (so it must be
/// cheap and thread-safe). For progress bars; results still go to the [`crate::Sink`].
pub trait Progress: Send + Sync {
    /// An image source was opened: `layers` distinct layers holding `bytes` stored bytes are
    /// about to be read.
    fn image_opened(&self, image: &Path, layers: usize, bytes: u64) {
        let _ = (image, layers, bytes);
    }

    /// One layer was read (in full or, after a problem, in part).
    fn layer_done(&self, image: &Path, layer: usize, stats: &LayerStats);
}
