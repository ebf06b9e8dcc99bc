//! A layer blob read from a stream that can be read once, front to back (a registry's response,
//! a `docker save` tar arriving on standard input or from an engine): compression detected from
//! its first bytes, the blob's digest and size taken as the bytes arrive, decompressed member by
//! member (gzip) or frame by frame (zstd) so the framing's hidden data is still found, then the
//! tar walked as for a mapped blob. Memory is a few buffers, whatever the blob's size.
//!
//! A stream of its own ([`StreamInput::Sendable`], a registry's response) is decompressed on a
//! thread of its own, a few buffers ahead of the tar walk and the detectors, as a mapped blob
//! is (`read_ahead.rs`); an entry of an archive the scanning thread reads itself (standard
//! input, an engine's export) is decompressed on that thread.
//!
//! What differs from a mapped blob: hidden framing data (a gzip member's header fields, a zstd
//! skippable frame, bytes after the last member or frame) is kept in memory to be searched, up
//! to [`KEEP_AT_MOST`] bytes an item; beyond that it is counted, not searched.

use std::io::{self, BufRead, Read};
use std::ops::Range;

use sha2::{Digest as _, Sha256};

use super::framing::{Found, Framed, GzipMembers, gzip_header_fields};
use super::read_ahead::{READ_AHEAD_FROM, overlapped};
use super::stream::HashingReader;
use super::{Compression, Content, LayerVisitor, Structure, WalkOptions, Walker};
use crate::error::LayerErrorKind;
use crate::image::Digest;

/// The most bytes of one hidden framing item a stream keeps to search.
pub(super) const KEEP_AT_MOST: usize = 16 << 20;

/// Bytes read from the stream at once.
const BUFFER: usize = 256 << 10;

/// The blob's stream, buffered: hashed and counted as bytes come in, with room to look ahead at
/// a frame's header.
pub(super) struct StreamSource<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes consumed before `buf[pos]`.
    consumed: usize,
    hasher: Option<Sha256>,
    /// Bytes read from the stream.
    count: u64,
    /// The first read error, kept for the layer's problems (the decoders see it as the end).
    error: Option<io::Error>,
}

impl<R: Read> StreamSource<R> {
    fn new(inner: R, hashing: bool) -> StreamSource<R> {
        StreamSource {
            inner,
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
            consumed: 0,
            hasher: hashing.then(Sha256::new),
            count: 0,
            error: None,
        }
    }

    /// Make at least `n` bytes available (fewer at the end of the stream).
    fn fill_at_least(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(self.buf.len());
        if self.end - self.pos < n && self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end - self.pos < n {
            let got = match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => break,
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let message = e.to_string();
                    self.error.get_or_insert(e);
                    return Err(io::Error::other(message));
                }
            };
            if let Some(h) = &mut self.hasher {
                h.update(&self.buf[self.end..self.end + got]);
            }
            self.count += got as u64;
            self.end += got;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// Read the rest of the stream (so the digest covers all of it), keeping up to `keep` bytes.
    fn drain(&mut self, keep: usize) -> io::Result<(Vec<u8>, u64)> {
        let mut kept = Vec::new();
        let mut total = 0u64;
        loop {
            let chunk = self.fill_buf()?;
            if chunk.is_empty() {
                return Ok((kept, total));
            }
            let n = chunk.len();
            let room = keep.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&chunk[..room]);
            total += n as u64;
            self.consume(n);
        }
    }
}

impl<R: Read> Read for StreamSource<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for StreamSource<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            self.fill_at_least(1)?;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.pos);
        self.pos += amount;
        self.consumed += amount;
    }
}

impl<R: Read> Framed for &mut StreamSource<R> {
    fn position(&self) -> usize {
        self.consumed
    }

    fn keep(&mut self, range: Range<usize>) -> Option<Vec<u8>> {
        let available = &self.buf[self.pos..self.end];
        let end = range.end.min(available.len()).min(range.start + KEEP_AT_MOST);
        Some(available.get(range.start..end).unwrap_or(&[]).to_vec())
    }
}

/// The zstd frames of a stream decoded one after another (RFC 8878 section 3.1), the content of
/// skippable frames kept as hidden data, and what follows the last frame when it is no frame.
struct ZstdFrames<'s, R> {
    source: Option<&'s mut StreamSource<R>>,
    decoder: Option<zstd::stream::read::Decoder<'static, &'s mut StreamSource<R>>>,
    found: Found,
}

const ZSTD_FRAME: u32 = 0xFD2F_B528;

impl<R: Read> ZstdFrames<'_, R> {
    /// Start the next frame; `false` at the end of the frames.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            let Some(source) = self.source.take() else { return Ok(false) };
            let at = source.position();
            let head = source.fill_at_least(8)?;
            if head.is_empty() {
                self.source = Some(source);
                return Ok(false);
            }
            let magic = head.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            match magic {
                Some(ZSTD_FRAME) => {
                    let decoder = zstd::stream::read::Decoder::with_buffer(source)?.single_frame();
                    self.decoder = Some(decoder);
                    return Ok(true);
                }
                Some(m) if m & 0xFFFF_FFF0 == 0x184D_2A50 && head.len() >= 8 => {
                    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
                    source.consume(8);
                    let mut kept = Vec::new();
                    let copied = io::copy(&mut (&mut *source).take(len), &mut KeepSome(&mut kept))?;
                    if copied > 0 {
                        let start = at + 8;
                        let structure = Structure::SkippableFrame { offset: start as u64, bytes: copied };
                        self.found.push((structure, start..start + copied as usize, Some(kept)));
                    }
                    self.source = Some(source);
                }
                _ => {
                    let (kept, total) = source.drain(KEEP_AT_MOST)?;
                    if kept.iter().any(|&b| b != 0) {
                        let structure = Structure::CompressedTrailing { offset: at as u64, bytes: total };
                        self.found.push((structure, at..at + total as usize, Some(kept)));
                    }
                    self.source = Some(source);
                    return Ok(false);
                }
            }
        }
    }
}

/// A writer that keeps the first [`KEEP_AT_MOST`] bytes written to it and counts the rest.
struct KeepSome<'v>(&'v mut Vec<u8>);

impl io::Write for KeepSome<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = KEEP_AT_MOST.saturating_sub(self.0.len()).min(buf.len());
        self.0.extend_from_slice(&buf[..room]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<R: Read> Read for ZstdFrames<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(decoder) = &mut self.decoder {
                let n = decoder.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                let Some(decoder) = self.decoder.take() else { return Ok(0) };
                self.source = Some(decoder.finish());
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

/// The decompressed tar stream of a streamed blob.
enum Decoded<'s, R> {
    Plain(&'s mut StreamSource<R>),
    Gzip(Box<GzipMembers<&'s mut StreamSource<R>>>),
    Zstd(Box<ZstdFrames<'s, R>>),
}

impl<R: Read> Read for Decoded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Zstd(d) => d.read(buf),
        }
    }
}

/// A layer blob's stream, and whether it may be read on a thread of its own.
pub(crate) enum StreamInput<'r> {
    /// A stream of its own (a registry's response): decompressed on a thread of its own, a few
    /// buffers ahead of the tar walk and the detectors, as a mapped blob is.
    Sendable(&'r mut (dyn Read + Send)),
    /// A stream that belongs to the reading thread (an entry of an archive that thread reads).
    Local(&'r mut dyn Read),
}

/// What decompressing a stream gave: the tar stream's length, its digest, and the hidden data
/// the framing held.
type Decompressed = (u64, Option<Digest>, Found);

/// Decompress `source` (as `compression` says), its digest taken into `diff_id` and its output
/// capped at `cap`, handing the tar stream to `consume`.
fn decompress<R: Read>(
    source: &mut StreamSource<R>,
    compression: Compression,
    diff_id: Option<Sha256>,
    cap: u64,
    consume: impl FnOnce(&mut dyn Read),
) -> Decompressed {
    let decoded = match compression {
        Compression::None => Decoded::Plain(source),
        Compression::Gzip => Decoded::Gzip(Box::new(GzipMembers::new(source))),
        Compression::Zstd => {
            Decoded::Zstd(Box::new(ZstdFrames { source: Some(source), decoder: None, found: Vec::new() }))
        }
    };
    let mut reader = HashingReader { inner: decoded, hasher: diff_id, count: 0, cap };
    consume(&mut reader);
    let diff_id = reader.hasher.take().map(|h| Digest::from_sha256(h.finalize().into()));
    let found = match reader.inner {
        Decoded::Plain(_) => Vec::new(),
        Decoded::Gzip(mut d) => std::mem::take(&mut d.found),
        Decoded::Zstd(mut d) => std::mem::take(&mut d.found),
    };
    (reader.count, diff_id, found)
}

impl Walker<'_> {
    /// Read a layer blob from `input`, front to back, once.
    pub(super) fn walk_stream(
        &mut self,
        input: StreamInput<'_>,
        options: &WalkOptions,
        visitor: &mut dyn LayerVisitor,
    ) {
        let verify = options.verify_digests;
        let cap = options.max_layer_bytes;
        match input {
            StreamInput::Sendable(reader) => {
                self.walk_source(StreamSource::new(reader, verify), verify, cap, visitor, Self::read_ahead);
            }
            StreamInput::Local(reader) => {
                self.walk_source(StreamSource::new(reader, verify), verify, cap, visitor, Self::read_inline);
            }
        }
    }

    /// Walk the blob in `source`, decompressed by `read`; `None` from it (a problem recorded)
    /// ends the walk.
    fn walk_source<R: Read>(
        &mut self,
        mut source: StreamSource<R>,
        verify: bool,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
        read: impl FnOnce(
            &mut Self,
            &mut StreamSource<R>,
            Compression,
            Option<Sha256>,
            u64,
            &mut dyn LayerVisitor,
        ) -> Option<Decompressed>,
    ) {
        let Some((compression, found)) = self.stream_head(&mut source) else { return };
        let hasher = (verify && compression != Compression::None).then(Sha256::new);
        let Some(decompressed) = read(self, &mut source, compression, hasher, cap, visitor) else { return };
        self.stream_end(source, compression, found, decompressed, visitor);
    }

    /// Decompress `source` on this thread, the tar walked as it comes.
    fn read_inline<R: Read>(
        &mut self,
        source: &mut StreamSource<R>,
        compression: Compression,
        hasher: Option<Sha256>,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
    ) -> Option<Decompressed> {
        Some(decompress(source, compression, hasher, cap, |r| self.read_stream(r, compression, cap, visitor)))
    }

    /// Decompress `source` on a thread of its own, a few buffers ahead of the tar walk and the
    /// detectors on this one (inline when there is nothing to overlap: a small layer, or an
    /// uncompressed one, which is only read and hashed); `None` (a problem recorded) when that
    /// thread failed.
    fn read_ahead<R: Read + Send>(
        &mut self,
        source: &mut StreamSource<R>,
        compression: Compression,
        hasher: Option<Sha256>,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
    ) -> Option<Decompressed> {
        let small = self.layer.size > 0 && self.layer.size < READ_AHEAD_FROM as u64;
        if small || compression == Compression::None {
            return self.read_inline(source, compression, hasher, cap, visitor);
        }
        let decompressed = overlapped(
            move |fill| decompress(source, compression, hasher, cap, fill),
            |ahead| self.read_stream(ahead, compression, cap, visitor),
        );
        if decompressed.is_none() {
            self.read_ahead_failed(compression);
        }
        decompressed
    }

    /// The stream's first bytes: its compression, and the first gzip member's header fields.
    /// `None` (a problem recorded) when the stream cannot be read at all.
    fn stream_head<R: Read>(&mut self, source: &mut StreamSource<R>) -> Option<(Compression, Found)> {
        let head = match source.fill_at_least(512) {
            Ok(head) => head,
            Err(e) => {
                self.problem(LayerErrorKind::Read(e.to_string()));
                return None;
            }
        };
        let compression = Compression::detect(head);
        self.walk.compression = Some(compression);
        let mut found: Found = Vec::new();
        if compression == Compression::Gzip {
            for (field, range) in gzip_header_fields(head) {
                let structure =
                    Structure::GzipHeader { member: 0, field, offset: range.start as u64, bytes: range.len() as u64 };
                let kept = head[range.start..range.end.min(range.start + KEEP_AT_MOST)].to_vec();
                found.push((structure, range, Some(kept)));
            }
        }
        Some((compression, found))
    }

    /// After the tar: the framing's hidden data handed on, the rest of the stream read so the
    /// digest covers it, and the sizes and digests checked.
    fn stream_end<R: Read>(
        &mut self,
        mut source: StreamSource<R>,
        compression: Compression,
        mut found: Found,
        (uncompressed, diff_id, more_found): Decompressed,
        visitor: &mut dyn LayerVisitor,
    ) {
        found.extend(more_found);
        let mut framing_hidden = 0u64;
        for (structure, range, kept) in found {
            framing_hidden += range.len() as u64;
            let kept = kept.unwrap_or_default();
            let flow = visitor.hidden(None, structure, Content::Slice(&kept));
            if !self.goes_on(flow) {
                self.walk.complete = false;
            }
        }
        // The rest of the stream (after a walk cut short, or what a decoder stopped before) is
        // read so the digest covers the whole blob; a read error is the layer's problem.
        let drained = source.drain(0);
        let read_error = source.error.take().map(|e| e.to_string()).or_else(|| drained.err().map(|e| e.to_string()));
        if let Some(e) = &read_error {
            self.current_path = None;
            self.problem(LayerErrorKind::Read(format!("the stream broke off after {} bytes: {e}", source.count)));
            self.walk.complete = false;
        }
        let size = source.count;
        self.walk.stats.compressed_bytes = size;
        self.walk.stats.uncompressed_bytes = if compression == Compression::None { size } else { uncompressed };
        self.accountant.finish(uncompressed, self.walk.complete);
        if compression != Compression::None {
            self.accountant.blob(size, framing_hidden);
        }
        if self.layer.size > 0 && self.layer.size != size && self.walk.complete {
            self.problem(LayerErrorKind::SizeMismatch { expected: self.layer.size, actual: size });
        }
        let digest = source.hasher.take().map(|h| Digest::from_sha256(h.finalize().into()));
        if read_error.is_none() {
            self.check_blob_digest(digest.clone());
        }
        if self.walk.complete {
            self.finish_diff_id(if compression == Compression::None { digest } else { diff_id });
        } else {
            self.walk.diff_id = None;
        }
    }
}
