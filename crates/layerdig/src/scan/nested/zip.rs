//! Zip archives (jar, war, ear, aar, apk, whl, egg, nupkg, vsix, xpi, zip, …).
//!
//! A zip's table of contents, the central directory, is at its end, so reading one properly
//! needs its bytes at hand. When they are (a memory-mapped layer hands files over in place), the
//! archive is read where it lies and stored entries (the jars inside a Spring Boot jar, the
//! classes of many wars) are handed on as slices of it, never copied. When the zip comes as a
//! stream (a compressed layer, an entry deflated in another archive) it is held in memory up to
//! [`super::ArchiveLimits::max_buffer`], shared by the zips nested in it; a larger one is read
//! entry by entry from its local headers, which works for archives written with sizes in the
//! headers and stops, reported, at the first entry whose sizes only follow its data.
//!
//! Before anything is expanded the entries' spans are checked against each other: entries that
//! overlap are the mark of a zip bomb (one compressed kernel referenced many times), and such an
//! archive is reported and not expanded.

use std::io::{Cursor, Read};

use zip::CompressionMethod;
use zip::read::ZipArchive;

use super::Walk;
use super::guard::{Cap, Guard, Input};
use crate::error::ArchiveProblem;
use crate::layer::{Content, normalize};

impl Walk<'_> {
    pub(super) fn zip(&mut self, content: Content<'_>, size: u64, depth: u8) {
        match content {
            Content::None => {}
            Content::Slice(data) => self.zip_in_place(data, depth),
            Content::Reader(reader) => {
                let room = self.limits.max_buffer.saturating_sub(self.budget.buffered.get());
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(room).min(64 << 20));
                // A read error leaves what arrived to be scanned, as the window scanner would;
                // the error is the stream's, and its guard reports it.
                let _ = reader.take(room as u64 + 1).read_to_end(&mut buf);
                if buf.len() <= room {
                    self.budget.buffered.set(self.budget.buffered.get() + buf.len());
                    self.zip_in_place(&buf, depth);
                    self.budget.buffered.set(self.budget.buffered.get() - buf.len());
                } else {
                    let mut rest = Cursor::new(buf).chain(reader);
                    self.zip_streamed(&mut rest, depth);
                }
            }
        }
    }

    fn zip_in_place(&mut self, data: &[u8], depth: u8) {
        let mut archive = match ZipArchive::new(Cursor::new(data)) {
            Ok(archive) => archive,
            Err(e) => {
                // Not readable as a zip (cut short, or only its start is a local header): say
                // so, and scan the bytes as they are, as any other file.
                self.problem("zip", ArchiveProblem::Corrupt(e.to_string()));
                return self.leaf(Content::Slice(data), data.len() as u64);
            }
        };
        if let Some(problem) = self.overlap(&mut archive, data.len() as u64) {
            return self.problem("zip", problem);
        }
        let mut name = Vec::new();
        let mut unsupported = 0usize;
        let mut first_unsupported = None;
        for i in 0..archive.len() {
            if self.stopped {
                return;
            }
            if let Err(cap) = self.budget.take_entry() {
                return self.capped("zip", cap);
            }
            let mut file = match archive.by_index(i) {
                Ok(file) => file,
                Err(e) => {
                    unsupported += 1;
                    first_unsupported.get_or_insert_with(|| e.to_string());
                    continue;
                }
            };
            if !file.is_file() || file.is_symlink() {
                continue;
            }
            normalize(file.name_raw(), &mut name);
            let size = file.size();
            let compressed = file.compressed_size();
            let stored = (file.compression() == CompressionMethod::Stored && !file.encrypted())
                .then(|| file.data_start())
                .flatten()
                .and_then(|start| {
                    let start = usize::try_from(start).ok()?;
                    data.get(start..start.checked_add(usize::try_from(compressed).ok()?)?)
                });
            self.segments.push(std::mem::take(&mut name));
            let stop = match stored {
                Some(bytes) => match self.budget.take(compressed) {
                    Ok(()) => {
                        drop(file);
                        self.file(Content::Slice(bytes), bytes.len() as u64, depth);
                        false
                    }
                    Err(cap) => {
                        self.capped("zip", cap);
                        true
                    }
                },
                None => {
                    let mut guard = Guard::new(&mut file, self.budget, Input::Fixed(compressed), self.limits.max_ratio);
                    self.file(Content::Reader(&mut guard), size, depth);
                    if let Some(failure) = guard.failure.take() {
                        self.failure("zip", failure);
                    }
                    self.stopped
                }
            };
            name = self.segments.pop().unwrap_or_default();
            if stop {
                return;
            }
        }
        if let Some(message) = first_unsupported {
            self.problem(
                "zip",
                ArchiveProblem::Corrupt(format!("{unsupported} entries could not be read (the first: {message})")),
            );
        }
    }

    /// Whether any two entries' spans (local header to end of data) overlap, or one runs past
    /// the archive's end.
    fn overlap(&self, archive: &mut ZipArchive<Cursor<&[u8]>>, len: u64) -> Option<ArchiveProblem> {
        let mut spans: Vec<(u64, u64)> = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            // Reading the raw entry finds its data start from the local header.
            let Ok(file) = archive.by_index_raw(i) else {
                continue;
            };
            let start = file.header_start();
            let end = file.data_start().unwrap_or(start).saturating_add(file.compressed_size());
            spans.push((start, end));
        }
        spans.sort_unstable();
        let overlapping = spans.windows(2).any(|w| w[1].0 < w[0].1);
        let past_end = spans.last().is_some_and(|s| s.1 > len);
        (overlapping || past_end).then_some(ArchiveProblem::OverlappingEntries)
    }

    /// A zip too large to hold: its entries from their local headers, in order.
    fn zip_streamed(&mut self, mut reader: &mut dyn Read, depth: u8) {
        let mut name = Vec::new();
        while !self.stopped {
            if let Err(cap) = self.budget.take_entry() {
                return self.capped("zip", cap);
            }
            let mut file = match zip::read::read_zipfile_from_stream(&mut reader) {
                Ok(Some(file)) => file,
                Ok(None) => return,
                Err(_) => return self.capped("zip", Cap::Buffer),
            };
            if !file.is_file() {
                continue;
            }
            normalize(file.name_raw(), &mut name);
            let size = file.size();
            let compressed = file.compressed_size();
            self.segments.push(std::mem::take(&mut name));
            let mut guard = Guard::new(&mut file, self.budget, Input::Fixed(compressed), self.limits.max_ratio);
            self.file(Content::Reader(&mut guard), size, depth);
            // Drain what the scanner left, so the stream is at the next local header (an error
            // ends the drain; the guard keeps it).
            let _ = std::io::copy(&mut guard, &mut std::io::sink());
            let failure = guard.failure.take();
            name = self.segments.pop().unwrap_or_default();
            if let Some(failure) = failure {
                self.failure("zip", failure);
                return;
            }
        }
    }
}
