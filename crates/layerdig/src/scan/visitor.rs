//! The per-layer visitor: every file of a layer through the detectors, hard links included.

use std::collections::HashMap;

use std::io::Read;

use crate::detect::{Detector, Match};
use crate::error::Error;
use crate::layer::{Content, Entry, EntryKind, Flow, LayerVisitor, Structure};
use crate::vocab::Confidence;

use std::sync::Arc;

use super::Hit;
use super::nested::{ArchiveLimits, Nested};
use super::owners::{DatabaseFile, LayerPackages, MAX_DATABASE, is_merged_usr_link};
use super::window::Scratch;
use crate::ownership;

/// The per-layer visitor: every file through the detectors.
pub(super) struct ScanVisitor<'d> {
    det: &'d mut Detector,
    scratch: Scratch,
    /// What the detectors found, file by file.
    pub(super) hits: Vec<Hit>,
    /// Paths in this layer that had hits, for hard links to them.
    by_path: HashMap<Vec<u8>, Vec<usize>>,
    /// Archives inside files, and the problems met reading them.
    pub(super) nested: Nested,
    /// The package databases the layer holds, for who owns the files with findings.
    pub(super) packages: LayerPackages,
}

impl<'d> ScanVisitor<'d> {
    /// A visitor scanning with `det`, `window` bytes at a time.
    pub(super) fn new(det: &'d mut Detector, window: usize, archives: ArchiveLimits) -> ScanVisitor<'d> {
        ScanVisitor {
            det,
            scratch: Scratch::new(window),
            hits: Vec::new(),
            by_path: HashMap::new(),
            nested: Nested::new(archives),
            packages: LayerPackages::default(),
        }
    }
}

impl LayerVisitor for ScanVisitor<'_> {
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error> {
        match entry.kind {
            EntryKind::File => {
                let before = self.hits.len();
                // A package database is kept (and scanned from the copy): who owns the files
                // with findings is read from it once the image's layers are all read.
                match ownership::is_database(entry.path) {
                    Some(kind) if entry.size <= MAX_DATABASE => {
                        let bytes: Arc<[u8]> = match content {
                            Content::Slice(data) => Arc::from(data),
                            Content::Reader(reader) => {
                                let mut data = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                                // A read error is the layer walker's to report when it reads on.
                                let _ = reader.take(MAX_DATABASE).read_to_end(&mut data);
                                Arc::from(data)
                            }
                            Content::None => Arc::from(&[][..]),
                        };
                        self.nested.scan_file(
                            self.det,
                            &mut self.scratch,
                            &mut self.hits,
                            entry.path,
                            entry.ordinal,
                            Content::Slice(&bytes),
                            bytes.len() as u64,
                        );
                        self.packages.databases.push(DatabaseFile {
                            kind,
                            path: entry.path.to_vec(),
                            ordinal: entry.ordinal,
                            bytes,
                        });
                    }
                    _ => self.nested.scan_file(
                        self.det,
                        &mut self.scratch,
                        &mut self.hits,
                        entry.path,
                        entry.ordinal,
                        content,
                        entry.size,
                    ),
                }
                if self.hits.len() > before {
                    self.by_path.insert(entry.path.to_vec(), (before..self.hits.len()).collect());
                }
            }
            EntryKind::Hardlink { target } => {
                if let Some(indices) = self.by_path.get(target).cloned() {
                    let start = self.hits.len();
                    for i in &indices {
                        let m = self.hits[*i].m.clone();
                        let inner = self.hits[*i].inner.clone();
                        let digests = self.hits[*i].digests.clone();
                        self.hits.push(Hit {
                            path: entry.path.to_vec(),
                            ordinal: entry.ordinal,
                            m,
                            structure: None,
                            inner,
                            digests,
                        });
                    }
                    self.by_path.insert(entry.path.to_vec(), (start..self.hits.len()).collect());
                }
            }
            EntryKind::Symlink { target } if is_merged_usr_link(entry.path, target) => self.packages.merged_usr = true,
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn hidden(&mut self, entry: Option<&Entry<'_>>, structure: Structure, content: Content<'_>) -> Result<Flow, Error> {
        let (path, ordinal) = entry.map_or((&[][..], u32::MAX), |e| (e.path, e.ordinal));
        let before = self.hits.len();
        let mut seen = Seen { head: Vec::new(), count: 0 };
        match content {
            Content::None => return Ok(Flow::Continue),
            Content::Slice(data) => {
                seen.note(data);
                self.scratch.scan_content(
                    self.det,
                    path,
                    Content::Slice(data),
                    data.len() as u64,
                    &mut self.hits,
                    ordinal,
                );
            }
            Content::Reader(reader) => {
                let mut counted = Counted { inner: reader, seen: &mut seen };
                // Trailing data in a stream has no known length (0): read it in whole buffers.
                let size = match structure.bytes() {
                    0 => u64::MAX,
                    n => n,
                };
                self.scratch.scan_content(self.det, path, Content::Reader(&mut counted), size, &mut self.hits, ordinal);
            }
        }
        // What the detectors found inside is also in hidden data; and so is the data itself, a
        // finding of its own whatever is in it.
        let structure = match structure {
            Structure::TrailingData { offset, .. } => Structure::TrailingData { offset, bytes: seen.count },
            other => other,
        };
        for hit in &mut self.hits[before..] {
            hit.structure = Some(structure.clone());
        }
        let m = hidden_data_match(&structure, seen.head, seen.count);
        self.hits.push(Hit { path: path.to_vec(), ordinal, m, structure: Some(structure), inner: None, digests: None });
        Ok(Flow::Continue)
    }
}

/// The start of hidden data and how many bytes there were.
struct Seen {
    head: Vec<u8>,
    count: u64,
}

/// How much of hidden data stands for it in its finding (the "secret" shown with
/// `--show-secrets`, and what its fingerprint is taken over).
const HIDDEN_HEAD: usize = 256;

impl Seen {
    fn note(&mut self, data: &[u8]) {
        let room = HIDDEN_HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..data.len().min(room)]);
        self.count += data.len() as u64;
    }
}

/// A reader that notes what passes through it.
struct Counted<'a, 'r> {
    inner: &'a mut (dyn Read + 'r),
    seen: &'a mut Seen,
}

impl Read for Counted<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.note(&buf[..n]);
        Ok(n)
    }
}

/// The finding hidden data is, whatever is in it.
fn hidden_data_match(structure: &Structure, head: Vec<u8>, count: u64) -> Match {
    let place = structure.describe();
    let info = crate::detect::HIDDEN;
    Match {
        rule_id: std::sync::Arc::from(info.id),
        rule_name: std::sync::Arc::from(info.name),
        severity: info.severity,
        confidence: Confidence::High,
        kind: info.kind,
        secret: head,
        start: 0,
        end: count,
        line: 1,
        column: 1,
        note: Some(format!("{count} bytes {place}, which no runtime shows but anyone who pulls the layer can read")),
        documented_example: false,
        weak: false,
        encoding: None,
    }
}
