//! The entries of a layer's tar: their kinds (files, links, directories, whiteouts), recorded in
//! the layer's index and handed to the visitor with their content, read in place from an
//! uncompressed layer or streamed; and the tar stream's errors, told apart by cause.

use std::io::{self, Cursor, Read};

use super::account::DataIs;
use super::header_guard::{ExtensionTooLong, PaddingLog};
use super::stream::{CapReached, DecodeFailed};
use super::tar_meta::{header_slack, pax_is_structure, pax_records};
use super::{Compression, Content, Entry, EntryKind, EntryRole, Flow, LayerVisitor, Structure, Walker, normalize};
use crate::error::LayerErrorKind;
use crate::image::{RELEASE_EVERY, ReleasingReader};

/// An uncompressed file bigger than this is handed to the visitor as a stream over the map
/// (whose pages are released as it is read) rather than as one slice, so that a file of
/// gigabytes does not stay in memory while it is scanned.
const SLICE_AT_MOST: usize = 4 * RELEASE_EVERY;

pub(super) enum Stream<'a> {
    Plain(&'a [u8]),
    Reader(Box<dyn Read + 'a>),
}

impl Walker<'_> {
    pub(super) fn stream_error(&mut self, e: io::Error, compression: Compression, cap: u64) {
        if e.get_ref().is_some_and(|inner| inner.is::<CapReached>()) {
            self.problem(LayerErrorKind::OutputCap { cap });
            return;
        }
        if let Some(long) = e.get_ref().and_then(|inner| inner.downcast_ref::<ExtensionTooLong>()) {
            self.problem(LayerErrorKind::Tar(long.to_string()));
            return;
        }
        // The decompressor's own errors blame the compression; anything else the tar parser
        // found wrong with the (well decompressed) bytes.
        let decoding = e.get_ref().is_some_and(|inner| inner.is::<DecodeFailed>());
        let kind = match compression {
            Compression::Gzip if decoding => LayerErrorKind::Decompress { format: "gzip", message: e.to_string() },
            Compression::Zstd if decoding => LayerErrorKind::Decompress { format: "zstd", message: e.to_string() },
            _ => LayerErrorKind::Tar(e.to_string()),
        };
        self.problem(kind);
    }

    /// Walk a tar. A streamed one comes with the log its header guard keeps of padding that is
    /// not zeros (an uncompressed one read in place is looked at directly).
    pub(super) fn walk_tar(
        &mut self,
        stream: Stream<'_>,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
        padding: Option<&PaddingLog>,
    ) {
        let compression = self.walk.compression.unwrap_or(Compression::None);
        match stream {
            Stream::Plain(bytes) => {
                let mut archive = tar::Archive::new(Cursor::new(bytes));
                match archive.entries_with_seek() {
                    Ok(entries) => self.entries(entries, Some(bytes), cap, visitor, compression, None),
                    Err(e) => self.stream_error(e, compression, cap),
                }
            }
            Stream::Reader(reader) => {
                let mut archive = tar::Archive::new(reader);
                match archive.entries() {
                    Ok(entries) => self.entries(entries, None, cap, visitor, compression, padding),
                    Err(e) => self.stream_error(e, compression, cap),
                }
            }
        }
    }

    /// Hand on the padding the header guard found not to be zeros since it was last asked.
    fn logged_padding(&mut self, padding: Option<&PaddingLog>, visitor: &mut dyn LayerVisitor) -> bool {
        let Some(log) = padding else { return true };
        let found = std::mem::take(&mut *log.borrow_mut());
        for (offset, bytes) in found {
            if !self.padding_found(offset, &bytes, visitor) {
                return false;
            }
        }
        true
    }

    /// Padding at `offset` that is not zeros: hidden data.
    fn padding_found(&mut self, offset: u64, bytes: &[u8], visitor: &mut dyn LayerVisitor) -> bool {
        self.accountant.padding_hidden(bytes.len() as u64);
        let structure = Structure::EntryPadding { offset, bytes: bytes.len() as u64 };
        let flow = visitor.hidden(None, structure, Content::Slice(bytes));
        self.goes_on(flow)
    }

    /// The PAX records of an entry (`data`, the extended header's data, at `data_at` in the
    /// stream, or somewhere in the extension headers before the entry when `None`) that are data
    /// rather than structure: hidden, each handed on as `KEY=VALUE`.
    fn pax_found(
        &mut self,
        view: &Entry<'_>,
        data: &[u8],
        data_at: Option<u64>,
        region: u64,
        global: bool,
        visitor: &mut dyn LayerVisitor,
    ) -> bool {
        for record in pax_records(data) {
            if pax_is_structure(record.key) {
                continue;
            }
            self.accountant.metadata_hidden(record.value.len() as u64);
            let mut text = Vec::with_capacity(record.key.len() + 1 + record.value.len());
            text.extend_from_slice(record.key);
            text.push(b'=');
            text.extend_from_slice(record.value);
            let structure = Structure::PaxRecord {
                key: String::from_utf8_lossy(&record.key[..record.key.len().min(128)]).into_owned(),
                global,
                offset: data_at.map_or(region, |at| at + record.value_at as u64),
                bytes: record.value.len() as u64,
            };
            let flow = visitor.hidden(Some(view), structure, Content::Slice(&text));
            if !self.goes_on(flow) {
                return false;
            }
        }
        true
    }

    fn entries<'r, R: Read + 'r>(
        &mut self,
        entries: impl Iterator<Item = io::Result<tar::Entry<'r, R>>>,
        plain: Option<&[u8]>,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
        compression: Compression,
        padding: Option<&PaddingLog>,
    ) {
        let mut ordinal: u32 = 0;
        // Holes in sparse files expand to zeros that are not in the stream, so the stream's cap
        // does not see them: they draw on a budget of their own, the same size (issue 7).
        let mut sparse_budget = cap;
        let mut sparse_capped = false;
        let mut path_buf = Vec::new();
        let mut target_buf = Vec::new();
        // How far the pages of an uncompressed layer read in place have been released.
        let mut released = 0;
        // Where the last entry's data ends, in a layer read in place.
        let mut data_end = Some(0);
        for entry in entries {
            if !self.logged_padding(padding, visitor) {
                return;
            }
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.stream_error(e, compression, cap);
                    return;
                }
            };
            self.walk.stats.entries += 1;
            let raw_path = entry.path_bytes();
            normalize(&raw_path, &mut path_buf);
            drop(raw_path);
            self.current_path = Some(String::from_utf8_lossy(&path_buf).into_owned());
            let header = entry.header();
            let mode = header.mode().unwrap_or(0);
            let entry_type = header.entry_type();
            let size = entry.size();
            let header_pos = entry.raw_header_position();
            // What the entry occupies in the archive: a sparse file's stored data, not its size.
            let stored = if entry_type == tar::EntryType::GNUSparse { header.entry_size().unwrap_or(0) } else { size };
            let slack = header_slack(header.as_bytes());
            // The extension headers before this entry start where the last entry ended; the
            // PAX one's data is exactly placed when it is the only one.
            let region = self.accountant.end();
            // The PAX records of this entry (local ones before it, or a global header's own,
            // which the tar reader reads as the entry's data).
            let pax: Option<Vec<u8>> = match entry.pax_extensions() {
                Ok(Some(records)) => {
                    let mut data = Vec::new();
                    for r in records.flatten() {
                        pax_record_bytes(r.key_bytes(), r.value_bytes(), &mut data);
                    }
                    Some(data)
                }
                _ => None,
            };
            if plain.is_some() {
                // Where this entry's data (padded to a block) ends in the layer; unknown for sparse
                // files, whose stored size is not their size.
                let start = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX);
                data_end = (entry.header().entry_type() != tar::EntryType::GNUSparse)
                    .then(|| {
                        usize::try_from(size.div_ceil(512).saturating_mul(512)).ok().map(|n| start.saturating_add(n))
                    })
                    .flatten();
            }
            let file_name = path_buf.rsplit(|&b| b == b'/').next().unwrap_or(&[]).to_vec();
            let parent_len = path_buf.len().saturating_sub(file_name.len() + 1);
            let kind = if file_name == b".wh..wh..opq" {
                target_buf.clear();
                target_buf.extend_from_slice(&path_buf[..parent_len.min(path_buf.len())]);
                if path_buf.len() == file_name.len() {
                    target_buf.clear();
                }
                Kind::Opaque
            } else if let Some(name) = file_name.strip_prefix(b".wh.") {
                if name.starts_with(b".wh.") || matches!(name, b"" | b"." | b"..") {
                    // aufs metadata such as .wh..wh.plnk; or a whiteout of no name, `.` or `..`,
                    // which names no entry of the directory.
                    Kind::Other
                } else {
                    target_buf.clear();
                    if path_buf.len() > file_name.len() {
                        target_buf.extend_from_slice(&path_buf[..parent_len]);
                        target_buf.push(b'/');
                    }
                    target_buf.extend_from_slice(name);
                    Kind::Whiteout
                }
            } else {
                match entry_type {
                    tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => Kind::File,
                    tar::EntryType::Link => match entry.link_name_bytes() {
                        Some(t) => {
                            normalize(&t, &mut target_buf);
                            if self.walk.index.last_ordinal(&target_buf).is_none() {
                                // A tar's hard link names an earlier entry of the same tar.
                                let target = String::from_utf8_lossy(&target_buf).into_owned();
                                self.problem(LayerErrorKind::Inconsistent(format!(
                                    "hard link to /{target}, which is not earlier in this layer"
                                )));
                            }
                            Kind::Hardlink
                        }
                        None => Kind::Other,
                    },
                    tar::EntryType::Symlink => {
                        target_buf.clear();
                        if let Some(t) = entry.link_name_bytes() {
                            target_buf.extend_from_slice(&t);
                        }
                        Kind::Symlink
                    }
                    tar::EntryType::Directory => Kind::Directory,
                    _ => Kind::Other,
                }
            };
            let entry_kind = match kind {
                Kind::File => EntryKind::File,
                Kind::Hardlink => EntryKind::Hardlink { target: &target_buf },
                Kind::Symlink => EntryKind::Symlink { target: &target_buf },
                Kind::Directory => EntryKind::Directory,
                Kind::Whiteout => EntryKind::Whiteout { target: &target_buf },
                Kind::Opaque => EntryKind::OpaqueWhiteout { dir: &target_buf },
                Kind::Other => EntryKind::Other,
            };
            let view = Entry {
                layer: self.layer.index,
                ordinal,
                path: &path_buf,
                kind: entry_kind,
                size: if matches!(kind, Kind::File) { size } else { 0 },
                mode,
            };
            self.walk.index.record(&view);
            match kind {
                Kind::File | Kind::Hardlink => {
                    self.walk.stats.files += 1;
                    self.walk.stats.added += 1;
                }
                Kind::Whiteout | Kind::Opaque => self.walk.stats.deleted += 1,
                Kind::Other => {}
                _ => self.walk.stats.added += 1,
            }
            let global_pax = entry_type.is_pax_global_extensions();
            let data_is = match kind {
                Kind::File => DataIs::Content,
                _ if global_pax => DataIs::Metadata,
                _ => DataIs::Hidden,
            };
            self.accountant.entry(header_pos, stored, data_is);
            if slack.1 > 0 {
                self.accountant.metadata_hidden(slack.1);
                let structure = Structure::HeaderSlack { offset: header_pos, bytes: slack.1 };
                if !self.goes_on(visitor.hidden(Some(&view), structure, Content::Slice(&slack.0))) {
                    return;
                }
            }
            if let Some(data) = pax.as_ref().filter(|_| !global_pax) {
                let padded = (data.len() as u64).div_ceil(512) * 512;
                let data_at = (header_pos.checked_sub(region) == Some(512 + padded)).then_some(region + 512);
                if !self.pax_found(&view, data, data_at, region, false, visitor) {
                    return;
                }
            }
            let flow = if matches!(kind, Kind::File) {
                self.walk.stats.file_bytes += size;
                let sparse = entry_type == tar::EntryType::GNUSparse;
                let in_place = plain.filter(|_| !sparse).map(|bytes| {
                    let start = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX).min(bytes.len());
                    let want = usize::try_from(size).unwrap_or(usize::MAX);
                    let end = start.saturating_add(want).min(bytes.len());
                    (start, end, end - start == want)
                });
                match (in_place, plain) {
                    (Some((start, end, true)), Some(bytes)) => {
                        let flow = match self.blob {
                            Some(blob) if end - start > SLICE_AT_MOST => {
                                visitor.visit(&view, Content::Reader(&mut ReleasingReader::range(blob, start..end)))
                            }
                            _ => visitor.visit(&view, Content::Slice(&bytes[start..end])),
                        };
                        if end - released >= RELEASE_EVERY
                            && let Some(blob) = self.blob
                        {
                            blob.release(released..end);
                            released = end;
                        }
                        flow
                    }
                    (Some((start, end, _)), Some(bytes)) => {
                        let slice = &bytes[start..end];
                        // The header declares more bytes than the layer holds: scan what there
                        // is, then say so (the tar reader would see a clean end of archive).
                        let flow = visitor.visit(&view, Content::Slice(slice));
                        self.problem(LayerErrorKind::Tar(format!(
                            "entry declares {size} bytes but only {} are in the layer",
                            slice.len()
                        )));
                        if let Err(e) = flow {
                            self.walk.problems.push(e);
                        }
                        return;
                    }
                    _ if sparse && size > sparse_budget => {
                        let budget = std::mem::take(&mut sparse_budget);
                        let flow = visitor.visit(&view, Content::Reader(&mut (&mut entry).take(budget)));
                        if !sparse_capped {
                            sparse_capped = true;
                            self.problem(LayerErrorKind::OutputCap { cap });
                        }
                        flow
                    }
                    _ => {
                        if sparse {
                            sparse_budget -= size;
                        }
                        visitor.visit(&view, Content::Reader(&mut entry))
                    }
                }
            } else if global_pax {
                let flow = visitor.visit(&view, Content::None);
                if matches!(flow, Ok(Flow::Continue)) {
                    // Records for every entry after it: structure, except the values no
                    // extractor applies.
                    let at = entry.raw_file_position();
                    let data = pax.as_deref().unwrap_or_default();
                    if !self.pax_found(&view, data, Some(at), at, true, visitor) {
                        return;
                    }
                }
                flow
            } else {
                let flow = visitor.visit(&view, Content::None);
                if size > 0 && matches!(flow, Ok(Flow::Continue)) {
                    // The entry carries data a runtime never shows: hand it on as hidden data.
                    let role = match kind {
                        Kind::Whiteout => EntryRole::Whiteout,
                        Kind::Opaque => EntryRole::OpaqueMarker,
                        Kind::Directory => EntryRole::Directory,
                        Kind::Hardlink => EntryRole::Hardlink,
                        Kind::Symlink => EntryRole::Symlink,
                        Kind::File | Kind::Other => EntryRole::Other,
                    };
                    let offset = entry.raw_file_position();
                    let structure = Structure::EntryData { entry: role, offset, bytes: size };
                    match plain {
                        Some(bytes) => {
                            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                            let end =
                                start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX)).min(bytes.len());
                            visitor.hidden(Some(&view), structure, Content::Slice(&bytes[start..end]))
                        }
                        None => visitor.hidden(Some(&view), structure, Content::Reader(&mut entry)),
                    }
                } else {
                    flow
                }
            };
            ordinal = ordinal.saturating_add(1);
            if !self.goes_on(flow) {
                return;
            }
            // In place, the padding after the data is looked at here (a stream's, by the guard).
            if let (Some(bytes), Some(end)) = (plain, data_end) {
                let start = usize::try_from(entry.raw_file_position().saturating_add(stored)).unwrap_or(usize::MAX);
                if let Some(pad) = bytes.get(start.min(end)..end.min(bytes.len()))
                    && pad.iter().any(|&b| b != 0)
                    && !self.padding_found(start as u64, pad, visitor)
                {
                    return;
                }
            }
        }
        if !self.logged_padding(padding, visitor) {
            return;
        }
        self.current_path = None;
        // A tar ends with a block of zeros. A plain layer cut exactly between two entries has
        // none, and would otherwise read as complete (a compressed one fails its stream check).
        if let (Some(bytes), Some(end)) = (plain, data_end)
            && !bytes.is_empty()
            && !bytes.get(end..end.saturating_add(512)).is_some_and(|b| b.iter().all(|&x| x == 0))
        {
            self.problem(LayerErrorKind::Tar(
                "the layer ends without the tar end-of-archive marker: it was cut short after its last complete entry"
                    .to_string(),
            ));
            return;
        }
        // Past the first end-of-archive block (where the tar reader stops): zero padding, or
        // hidden data.
        let mut trailing = 0;
        if let (Some(bytes), Some(end)) = (plain, data_end)
            && let Some(rest) = bytes.get(end.saturating_add(512)..)
            && let Some(first) = rest.iter().position(|&b| b != 0)
        {
            let start = end + 512 + first / 512 * 512;
            trailing = (bytes.len() - start) as u64;
            let structure = Structure::TrailingData { offset: start as u64, bytes: trailing };
            if !self.goes_on(visitor.hidden(None, structure, Content::Slice(&bytes[start..]))) {
                return;
            }
        }
        self.accountant.trailing_hidden(trailing);
        self.walk.complete = true;
    }
}

/// Append a PAX record `LEN KEY=VALUE\n` for `key` and `value` to `out`, as the tar writer
/// wrote it (the tar reader keeps only the keys and values).
fn pax_record_bytes(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    Hardlink,
    Symlink,
    Directory,
    Whiteout,
    Opaque,
    Other,
}
