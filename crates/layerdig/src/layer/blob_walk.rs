//! A layer blob: compression detected from its first bytes, decompressed under the per-layer
//! output cap, its blob and diff_id digests taken while the bytes go by, and the tar inside
//! walked (in place when the blob is an uncompressed tar).

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use super::framing::{Found, GzipMembers, gzip_header_fields, zstd_frames};
use super::header_guard::{HeaderGuard, PaddingLog};
use super::read_ahead::{READ_AHEAD_FROM, overlapped};
use super::stream::HashingReader;
use super::tar_walk::Stream;
use super::{Compression, Content, LayerVisitor, Structure, WalkOptions, Walker};
use crate::error::LayerErrorKind;
use crate::image::{Blob, Digest, ReleasingReader, sha256_releasing};

/// A blob's bytes as a tar stream: as they are, or through a decompressor. A concrete type (not
/// a boxed reader) so the blob's reader, and the digest it took, can be had back at the end.
enum Decoded<'a> {
    Plain(ReleasingReader<'a>),
    Gzip(Box<GzipMembers<ReleasingReader<'a>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, ReleasingReader<'a>>>),
}

impl<'a> Decoded<'a> {
    /// The blob's reader back, and what the gzip members' framing hid.
    fn into_source(self) -> (Option<ReleasingReader<'a>>, Found) {
        match self {
            Decoded::Plain(r) => (Some(r), Vec::new()),
            Decoded::Gzip(mut d) => {
                let found = std::mem::take(&mut d.found);
                (d.into_source(), found)
            }
            Decoded::Zstd(d) => (Some(d.finish()), Vec::new()),
        }
    }
}

impl Read for Decoded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Zstd(d) => d.read(buf),
        }
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<'a> Walker<'a> {
    pub(super) fn walk_blob(&mut self, blob: &'a Blob, options: &WalkOptions, visitor: &mut dyn LayerVisitor) {
        self.blob = Some(blob);
        let bytes = blob.bytes();
        let compression = Compression::detect(bytes);
        self.walk.compression = Some(compression);
        self.walk.stats.compressed_bytes = bytes.len() as u64;
        // A descriptor's size is part of what the manifest vouches for (the distribution spec
        // has clients check it before the digest); 0 is "not given" (a docker save archive's).
        if self.layer.size > 0 && self.layer.size != bytes.len() as u64 {
            self.problem(LayerErrorKind::SizeMismatch { expected: self.layer.size, actual: bytes.len() as u64 });
        }
        let verify = options.verify_digests;
        let cap = options.max_layer_bytes;
        if compression == Compression::None && bytes.len() as u64 <= cap {
            // Read in place. An uncompressed blob's digest is its diff_id: hashed once.
            let digest = verify.then(|| sha256_releasing(blob));
            self.check_blob_digest(digest.clone());
            self.walk.stats.uncompressed_bytes = bytes.len() as u64;
            self.walk_tar(Stream::Plain(bytes), cap, visitor, None);
            self.accountant.finish(bytes.len() as u64, self.walk.complete);
            self.finish_diff_id(digest);
            return;
        }
        // Hidden data in the framing found before decompression starts (the first gzip
        // member's header, zstd's frame headers) is handed on now; the later gzip members'
        // once the stream is read.
        let mut framing_hidden = 0u64;
        let mut zstd_end = None;
        let found: Found = match compression {
            Compression::Gzip => gzip_header_fields(bytes)
                .into_iter()
                .map(|(field, range)| {
                    let structure = Structure::GzipHeader {
                        member: 0,
                        field,
                        offset: range.start as u64,
                        bytes: range.len() as u64,
                    };
                    (structure, range, None)
                })
                .collect(),
            Compression::Zstd => {
                let (end, found) = zstd_frames(bytes);
                zstd_end = end;
                found
            }
            Compression::None => Vec::new(),
        };
        for (structure, range, _) in found {
            framing_hidden += range.len() as u64;
            let flow = visitor.hidden(None, structure, Content::Slice(&bytes[range]));
            if !self.goes_on(flow) {
                return;
            }
        }
        // The blob's own digest is taken as the decompressor consumes it (one pass over the
        // mapped bytes, not two), and checked once the stream is done.
        let source = if verify { ReleasingReader::new(blob).hashing() } else { ReleasingReader::new(blob) };
        // A zstd decoder stops after the last frame (bytes after it, hidden, would fail it).
        let source = match zstd_end {
            Some(end) => source.stop_at(end),
            None => source,
        };
        let decoded = match compression {
            Compression::None => Decoded::Plain(source),
            Compression::Gzip => Decoded::Gzip(Box::new(GzipMembers::new(source))),
            Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(source) {
                Ok(d) => Decoded::Zstd(Box::new(d)),
                Err(e) => {
                    self.problem(LayerErrorKind::Decompress { format: "zstd", message: e.to_string() });
                    self.check_blob_digest(verify.then(|| sha256_releasing(blob)));
                    return;
                }
            },
        };
        // A plain blob streamed here is over the cap, so its walk stops short and has no diff_id
        // to check; its digest (which is its diff_id) is the blob reader's.
        let diff_id_hasher = (verify && compression != Compression::None).then(Sha256::new);
        let reader = HashingReader { inner: decoded, hasher: diff_id_hasher, count: 0, cap };
        let reader = if bytes.len() >= READ_AHEAD_FROM {
            // Decompression and hashing on a thread of their own, a few buffers ahead of the tar
            // walk and the detectors: the two halves of the work overlap.
            overlapped(
                move |fill| {
                    let mut reader = reader;
                    fill(&mut reader);
                    reader
                },
                |ahead| self.read_stream(ahead, compression, cap, visitor),
            )
        } else {
            let mut reader = reader;
            self.read_stream(&mut reader, compression, cap, visitor);
            Some(reader)
        };
        let Some(mut reader) = reader else {
            self.check_blob_digest(verify.then(|| sha256_releasing(blob)));
            self.read_ahead_failed(compression);
            return;
        };
        self.walk.stats.uncompressed_bytes = reader.count;
        self.accountant.finish(reader.count, self.walk.complete);
        let diff_id = reader.hasher.take().map(|h| Digest::from_sha256(h.finalize().into()));
        let (source, found) = reader.inner.into_source();
        for (structure, range, _) in found {
            framing_hidden += range.len() as u64;
            let flow = visitor.hidden(None, structure, Content::Slice(&bytes[range]));
            if !self.goes_on(flow) {
                self.walk.complete = false;
            }
        }
        if compression != Compression::None {
            self.accountant.blob(bytes.len() as u64, framing_hidden);
        }
        self.check_blob_digest(source.and_then(ReleasingReader::digest));
        if self.walk.complete {
            self.finish_diff_id(diff_id);
        } else {
            self.walk.diff_id = None;
        }
    }

    /// Walk the tar in a decompressed stream, then read what follows the tar's end (padding) so
    /// the digest covers the whole stream.
    pub(super) fn read_stream(
        &mut self,
        reader: &mut (dyn Read + '_),
        compression: Compression,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
    ) {
        let mut counted = Counting { inner: &mut *reader, count: 0 };
        let padding = PaddingLog::default();
        let mut guarded = HeaderGuard::new(&mut counted).with_padding_log(padding.clone());
        self.walk_tar(Stream::Reader(Box::new(&mut guarded)), cap, visitor, Some(&padding));
        drop(guarded);
        if self.walk.complete
            && let Err(e) = self.trailing(counted.count, reader, visitor)
        {
            self.stream_error(e, compression, cap);
        }
    }

    /// Read what follows the tar's end in a stream (so the digest covers all of it): zero
    /// padding, or hidden data, handed to the visitor from the 512-byte block of its first
    /// non-zero byte to the end. `offset` is where the tar reader stopped.
    fn trailing(
        &mut self,
        offset: u64,
        reader: &mut (dyn Read + '_),
        visitor: &mut dyn LayerVisitor,
    ) -> io::Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        let mut pos = offset;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(first) = buf[..n].iter().position(|&b| b != 0) {
                let start = ((pos + first as u64) / 512 * 512).max(pos);
                let rest = io::Cursor::new(&buf[(start - pos) as usize..n]).chain(&mut *reader);
                let mut rest = Counting { inner: rest, count: 0 };
                // The stream's length is not known until it is read: the visitor counts.
                let structure = Structure::TrailingData { offset: start, bytes: 0 };
                match visitor.hidden(None, structure, Content::Reader(&mut rest)) {
                    Ok(_) => {}
                    Err(e) => self.walk.problems.push(e),
                }
                io::copy(&mut rest, &mut io::sink())?;
                self.accountant.trailing_hidden(rest.count);
                return Ok(());
            }
            pos += n as u64;
        }
    }

    /// The problem of a layer whose decompressing thread stopped (panicked) part-way.
    pub(super) fn read_ahead_failed(&mut self, compression: Compression) {
        self.problem(LayerErrorKind::Decompress {
            format: match compression {
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
                Compression::None => "tar",
            },
            message: "the decompressing thread stopped unexpectedly".to_string(),
        });
        self.walk.complete = false;
    }

    /// Record the blob's digest (`None`: not verifying) and report it if it is not the one the
    /// image names.
    pub(super) fn check_blob_digest(&mut self, digest: Option<Digest>) {
        let Some(digest) = digest else { return };
        if let Some(expected) = self.layer.digest.as_ref().filter(|d| d.is_verifiable())
            && *expected != digest
        {
            self.current_path = None;
            self.problem(LayerErrorKind::DigestMismatch {
                what: "blob",
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        self.walk.digest = Some(digest);
    }

    pub(super) fn finish_diff_id(&mut self, diff_id: Option<Digest>) {
        if let (Some(actual), Some(expected)) = (&diff_id, self.layer.diff_id.as_ref().filter(|d| d.is_verifiable()))
            && actual != expected
        {
            self.current_path = None;
            self.problem(LayerErrorKind::DigestMismatch {
                what: "diff_id",
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        self.walk.diff_id = diff_id;
    }
}
