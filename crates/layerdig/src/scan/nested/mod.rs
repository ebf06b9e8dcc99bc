//! Archives and compressed files inside a layer's files: jars in wars, wheels, backup tarballs,
//! gzipped dumps. A file is opened by what its first bytes are (`sniff.rs`), never by its name,
//! and what is inside goes through the detectors like a file of its own, under a path that
//! names each step in: `opt/app/app.war!WEB-INF/lib/inner.jar!application.properties`.
//!
//! - `sniff.rs`: the formats recognised (zip family, tar, gzip, bzip2, xz, zstd);
//! - `guard.rs`: the budgets every expanded byte is taken from, and the reader that enforces
//!   them on each stream (bytes per top-level file and per layer, compression ratio, entries);
//! - `zip.rs`: zip archives, read in place when their bytes are in memory (a memory-mapped
//!   layer, or a buffer of at most [`ArchiveLimits::max_buffer`]) and otherwise entry by entry
//!   from the local headers.
//!
//! Nothing is written to disk; memory is bounded by the zip buffer (shared by nested zips) and
//! the window scanner's buffers. A file cut short by a limit, or corrupt, is reported at its
//! path as a warning of the layer (`LayerErrorKind::Archive`); what was read before is kept,
//! and the layer goes on.

mod guard;
mod sniff;
mod zip;

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::sync::Arc;

use crate::detect::Detector;
use crate::error::{ArchiveProblem, Error, LayerErrorKind};
use crate::layer::{Content, HeaderGuard, normalize};

use self::guard::{Budget, Cap, Counting, Failure, Guard, Input};
use self::sniff::{HEAD, Kind, sniff};
use super::Hit;
use super::window::Scratch;

/// Limits on reading archives and compressed files inside a layer's files: what keeps a
/// decompression bomb (`42.zip`, overlapping zip entries, a gigabyte of zeros in a kilobyte of
/// xz) from taking the machine. An archive stopped at a limit is reported at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Containers opened one inside another, the outermost counting 1 (default 5; 0 opens
    /// none: archives are scanned as the bytes they are).
    pub depth: u8,
    /// Bytes expanded from one file of the layer, whatever its nesting (default 1 GiB).
    pub max_file_bytes: u64,
    /// Bytes expanded from all the archives of one layer (default 16 GiB).
    pub max_layer_bytes: u64,
    /// Expanded bytes per compressed byte of one stream, past its first MiB (default 200;
    /// text compresses 3–20:1, a bomb hundreds to millions).
    pub max_ratio: u64,
    /// Entries of the archives in one file, nested ones included (default 1 000 000).
    pub max_entries: u64,
    /// The largest zip held in memory to read its central directory, when it comes as a
    /// stream (from a compressed layer, or deflated in another archive); larger ones are read
    /// from their local headers (default 256 MiB).
    pub max_buffer: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            depth: 5,
            max_file_bytes: 1 << 30,
            max_layer_bytes: 16 << 30,
            max_ratio: 200,
            max_entries: 1_000_000,
            max_buffer: 256 << 20,
        }
    }
}

/// A problem met inside one file of the layer, for the layer's problems.
pub(super) struct Problem {
    /// The joined path (`a.war!WEB-INF/lib/b.jar`) of the archive or entry.
    pub(super) path: String,
    pub(super) format: &'static str,
    pub(super) problem: ArchiveProblem,
}

impl Problem {
    pub(super) fn into_error(self, image: &std::path::Path, layer: &crate::image::Layer) -> Error {
        Error::Layer {
            image: image.to_path_buf(),
            layer: layer.index,
            digest: layer.id().cloned(),
            path: Some(self.path),
            kind: LayerErrorKind::Archive { format: self.format, problem: self.problem },
        }
    }
}

/// The per-layer state: limits, what is left of the layer's budget, the problems met.
pub(super) struct Nested {
    limits: ArchiveLimits,
    layer_left: u64,
    pub(super) problems: Vec<Problem>,
}

impl Nested {
    pub(super) fn new(limits: ArchiveLimits) -> Nested {
        Nested { limits, layer_left: limits.max_layer_bytes, problems: Vec::new() }
    }

    /// Scan one file of the layer: as it is, or, when it is an archive or a compressed file,
    /// what is inside it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan_file(
        &mut self,
        det: &mut Detector,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
        path: &[u8],
        ordinal: u32,
        content: Content<'_>,
        size: u64,
    ) {
        if self.limits.depth == 0 {
            scratch.scan_content(det, path, content, size, hits, ordinal);
            return;
        }
        let budget = Budget {
            file_bytes: Cell::new(self.limits.max_file_bytes),
            layer_bytes: Cell::new(self.layer_left),
            entries: Cell::new(self.limits.max_entries),
            buffered: Cell::new(0),
        };
        let mut walk = Walk {
            det,
            scratch,
            hits,
            outer: path,
            ordinal,
            limits: &self.limits,
            budget: &budget,
            segments: Vec::new(),
            problems: &mut self.problems,
            stopped: false,
        };
        walk.top(content, size);
        self.layer_left = budget.layer_bytes.get();
    }
}

/// A top-level archive up to this size that arrives as a stream is read into memory first, so
/// that, when something inside it has a finding, the file itself can be hashed for its package
/// database (which records the archive's digest, not its entries').
const HASHED_ARCHIVE: u64 = 8 << 20;

/// One top-level file being read, with the stack of paths leading to where it is now.
struct Walk<'a> {
    det: &'a mut Detector,
    scratch: &'a mut Scratch,
    hits: &'a mut Vec<Hit>,
    /// The file's path in the layer.
    outer: &'a [u8],
    ordinal: u32,
    limits: &'a ArchiveLimits,
    budget: &'a Budget,
    /// Paths inside the containers opened so far, outermost first.
    segments: Vec<Vec<u8>>,
    problems: &'a mut Vec<Problem>,
    /// A limit was reached: the rest of the file is not expanded.
    stopped: bool,
}

impl Walk<'_> {
    /// The name of what is being read now: the last path inside, or the file's own.
    fn name(&self) -> &[u8] {
        self.segments.last().map_or(self.outer, Vec::as_slice)
    }

    /// The joined path of what is being read now.
    fn joined(&self) -> String {
        super::join_path(&String::from_utf8_lossy(self.outer), self.segments.iter().map(|s| String::from_utf8_lossy(s)))
    }

    fn problem(&mut self, format: &'static str, problem: ArchiveProblem) {
        let path = self.joined();
        self.problems.push(Problem { path, format, problem });
    }

    fn failure(&mut self, format: &'static str, failure: Failure) {
        match failure {
            Failure::Corrupt(message) => self.problem(format, ArchiveProblem::Corrupt(message)),
            Failure::Capped(cap) => self.capped(format, cap),
        }
    }

    /// A limit was reached: said once, here, and nothing more of the file is expanded (a bomb
    /// would otherwise be reported at each of its thousands of entries).
    fn capped(&mut self, format: &'static str, cap: Cap) {
        if !self.stopped {
            let problem = self.limit(cap);
            self.problem(format, problem);
            self.stopped = true;
        }
    }

    fn limit(&self, cap: Cap) -> ArchiveProblem {
        let l = self.limits;
        let (limit, value) = match cap {
            Cap::FileBytes => ("expanded bytes per file", l.max_file_bytes),
            Cap::LayerBytes => ("expanded bytes per layer", l.max_layer_bytes),
            Cap::Entries => ("archive entries per file", l.max_entries),
            Cap::Ratio => ("compression ratio", l.max_ratio),
            Cap::Depth => ("archives nested in archives", u64::from(l.depth)),
            Cap::Buffer => ("zip bytes held in memory", l.max_buffer as u64),
        };
        ArchiveProblem::Limit { limit, value }
    }

    /// The layer's file itself. An archive's hits are given the digests of the whole file (of
    /// the archive, whose digest a package database records), when it was all in memory: in
    /// place, or read whole because it is small; otherwise none.
    fn top(&mut self, content: Content<'_>, size: u64) {
        let before = self.hits.len();
        let whole: Option<Vec<u8>>;
        let data = match content {
            Content::Slice(data) if sniff(&data[..data.len().min(HEAD)]).is_some() => data,
            Content::Reader(reader) if size <= HASHED_ARCHIVE => {
                let mut head = [0u8; HEAD];
                let n = read_up_to(reader, &mut head);
                if sniff(&head[..n]).is_none() {
                    let mut chained = Cursor::new(&head[..n]).chain(reader);
                    return self.file(Content::Reader(&mut chained), size, 0);
                }
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                data.extend_from_slice(&head[..n]);
                // A read error is the layer walker's to report when it reads on.
                let _ = reader.take(HASHED_ARCHIVE).read_to_end(&mut data);
                whole = Some(data);
                whole.as_deref().unwrap_or_default()
            }
            other => return self.file(other, size, 0),
        };
        self.file(Content::Slice(data), size, 0);
        if self.hits.len() > before {
            let digests = Arc::new(crate::ownership::FileDigests::of(data));
            for hit in &mut self.hits[before..] {
                hit.digests = Some(Arc::clone(&digests));
            }
        }
    }

    /// Whatever `content` is, at `depth` containers in.
    fn file(&mut self, content: Content<'_>, size: u64, depth: u8) {
        match content {
            Content::None => {}
            Content::Slice(data) => {
                let kind = sniff(&data[..data.len().min(HEAD)]);
                self.dispatch(kind, Content::Slice(data), size, depth);
            }
            Content::Reader(reader) => {
                let mut head = [0u8; HEAD];
                let n = read_up_to(reader, &mut head);
                let kind = sniff(&head[..n]);
                let mut chained = Cursor::new(&head[..n]).chain(reader);
                self.dispatch(kind, Content::Reader(&mut chained), size, depth);
            }
        }
    }

    fn dispatch(&mut self, kind: Option<Kind>, content: Content<'_>, size: u64, depth: u8) {
        if self.stopped {
            return;
        }
        match kind {
            Some(kind) if depth >= self.limits.depth => {
                self.problem(kind.name(), self.limit(Cap::Depth));
                self.leaf(content, size);
            }
            Some(Kind::Zip) => self.zip(content, size, depth + 1),
            Some(Kind::Tar) => self.tar(content, depth + 1),
            Some(kind) => self.stream(kind, content, depth + 1),
            None => self.leaf(content, size),
        }
    }

    /// A file that is no container: through the detectors, its hits placed at the path in.
    fn leaf(&mut self, content: Content<'_>, size: u64) {
        let before = self.hits.len();
        let name = self.segments.last().map_or(self.outer, Vec::as_slice);
        self.scratch.scan_content(self.det, name, content, size, self.hits, self.ordinal);
        if self.segments.is_empty() || self.hits.len() == before {
            return;
        }
        let inner: Arc<[String]> = self.segments.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
        for hit in &mut self.hits[before..] {
            hit.path = self.outer.to_vec();
            hit.inner = Some(inner.clone());
            // The entry's digests are not the layer file's: the top level sets those.
            hit.digests = None;
        }
    }

    /// A compressed stream: its content, named after the file without its suffix, unless it is
    /// a tar, whose entries are named directly under the compressed file.
    fn stream(&mut self, kind: Kind, content: Content<'_>, depth: u8) {
        let consumed = Cell::new(0u64);
        let mut slice_reader;
        let input: &mut dyn Read = match content {
            Content::Slice(data) => {
                slice_reader = data;
                &mut slice_reader
            }
            Content::Reader(reader) => reader,
            Content::None => return,
        };
        let counted = Counting { inner: input, count: &consumed };
        let decoder: Box<dyn Read + '_> = match kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new(counted, true)),
            Kind::Zstd => match zstd::stream::read::Decoder::new(counted) {
                Ok(d) => Box::new(d),
                Err(e) => {
                    self.problem(kind.name(), ArchiveProblem::Corrupt(e.to_string()));
                    return;
                }
            },
            Kind::Zip | Kind::Tar => return,
        };
        let mut guard = Guard::new(decoder, self.budget, Input::Counted(&consumed), self.limits.max_ratio);
        let mut head = [0u8; HEAD];
        let n = read_up_to(&mut guard, &mut head);
        let inner = sniff(&head[..n]);
        let mut chained = Cursor::new(&head[..n]).chain(&mut guard);
        if inner == Some(Kind::Tar) {
            self.dispatch(inner, Content::Reader(&mut chained), u64::MAX, depth);
        } else {
            self.segments.push(kind.inner_name(self.name()));
            self.dispatch(inner, Content::Reader(&mut chained), u64::MAX, depth);
            // What the window scanner left unread is still part of the file's account.
            self.segments.pop();
        }
        if let Some(failure) = guard.failure.take() {
            // The tar reader saw the stream fail too; the stream's failure is the cause.
            let here = self.joined();
            if self.problems.last().is_some_and(|p| p.format == "tar" && p.path == here) {
                self.problems.pop();
            }
            self.failure(kind.name(), failure);
        }
    }

    /// A tar: each regular file's content, in place when the tar's bytes are.
    fn tar(&mut self, content: Content<'_>, depth: u8) {
        match content {
            Content::Slice(data) => self.tar_entries(HeaderGuard::new(data), Some(data), depth),
            Content::Reader(reader) => self.tar_entries(HeaderGuard::new(reader), None, depth),
            Content::None => {}
        }
    }

    fn tar_entries<R: Read>(&mut self, reader: HeaderGuard<R>, bytes: Option<&[u8]>, depth: u8) {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => return self.problem("tar", ArchiveProblem::Corrupt(e.to_string())),
        };
        let mut name = Vec::new();
        for entry in entries {
            if self.stopped {
                return;
            }
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => return self.problem("tar", ArchiveProblem::Corrupt(e.to_string())),
            };
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind == tar::EntryType::Continuous) {
                continue;
            }
            if let Err(cap) = self.budget.take_entry() {
                return self.capped("tar", cap);
            }
            normalize(&entry.path_bytes(), &mut name);
            let size = entry.size();
            self.segments.push(std::mem::take(&mut name));
            let in_place = bytes.and_then(|b| {
                let start = usize::try_from(entry.raw_file_position()).ok()?;
                let end = start.checked_add(usize::try_from(size).ok()?)?;
                b.get(start..end)
            });
            match in_place {
                Some(data) => {
                    if let Err(cap) = self.budget.take(size) {
                        self.segments.pop();
                        return self.capped("tar", cap);
                    }
                    self.file(Content::Slice(data), size, depth);
                }
                None => self.file(Content::Reader(&mut entry), size, depth),
            }
            name = self.segments.pop().unwrap_or_default();
        }
    }
}

/// Read until `buf` is full or the stream ends (or fails: the caller's guard has the error).
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}
