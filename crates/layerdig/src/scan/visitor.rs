//! The per-layer visitor: every file of a layer through the detectors, hard links included.

use std::collections::HashMap;

use crate::detect::Detector;
use crate::error::Error;
use crate::layer::{Content, Entry, EntryKind, Flow, LayerVisitor};

use super::Hit;
use super::window::Scratch;

/// The per-layer visitor: every file through the detectors.
pub(super) struct ScanVisitor<'d> {
    det: &'d mut Detector,
    scratch: Scratch,
    /// What the detectors found, file by file.
    pub(super) hits: Vec<Hit>,
    /// Paths in this layer that had hits, for hard links to them.
    by_path: HashMap<Vec<u8>, Vec<usize>>,
}

impl<'d> ScanVisitor<'d> {
    /// A visitor scanning with `det`, `window` bytes at a time.
    pub(super) fn new(det: &'d mut Detector, window: usize) -> ScanVisitor<'d> {
        ScanVisitor { det, scratch: Scratch::new(window), hits: Vec::new(), by_path: HashMap::new() }
    }
}

impl LayerVisitor for ScanVisitor<'_> {
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error> {
        match entry.kind {
            EntryKind::File => {
                let before = self.hits.len();
                self.scratch.scan_content(self.det, entry.path, content, entry.size, &mut self.hits, entry.ordinal);
                if self.hits.len() > before {
                    self.by_path.insert(entry.path.to_vec(), (before..self.hits.len()).collect());
                }
            }
            EntryKind::Hardlink { target } => {
                if let Some(indices) = self.by_path.get(target).cloned() {
                    let start = self.hits.len();
                    for i in &indices {
                        let m = self.hits[*i].m.clone();
                        self.hits.push(Hit { path: entry.path.to_vec(), ordinal: entry.ordinal, m });
                    }
                    self.by_path.insert(entry.path.to_vec(), (start..self.hits.len()).collect());
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}
