//! A layer blob: compression detected from its first bytes, decompressed under the per-layer
//! output cap, its blob and diff_id digests taken while the bytes go by, and the tar inside
//! walked (in place when the blob is an uncompressed tar).

use std::io::{self, Read};
use std::sync::mpsc;

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::header_guard::HeaderGuard;
use super::read_ahead::{ChannelReader, READ_AHEAD_BUFFERS, READ_AHEAD_FROM, read_ahead};
use super::stream::HashingReader;
use super::tar_walk::Stream;
use super::{Compression, Content, LayerVisitor, Structure, WalkOptions, Walker};
use crate::error::LayerErrorKind;
use crate::image::{Blob, Digest, ReleasingReader, sha256_releasing};
use crate::vocab::GzipField;

/// A blob's bytes as a tar stream: as they are, or through a decompressor. A concrete type (not
/// a boxed reader) so the blob's reader, and the digest it took, can be had back at the end.
enum Decoded<'a> {
    Plain(ReleasingReader<'a>),
    Gzip(Box<MultiGzDecoder<ReleasingReader<'a>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, ReleasingReader<'a>>>),
}

impl<'a> Decoded<'a> {
    fn into_source(self) -> ReleasingReader<'a> {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.into_inner(),
            Decoded::Zstd(d) => d.finish(),
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
            self.walk_tar(Stream::Plain(bytes), cap, visitor);
            self.finish_diff_id(digest);
            return;
        }
        if compression == Compression::Gzip {
            for (field, range) in gzip_header_fields(bytes) {
                let structure = Structure::GzipHeader {
                    field,
                    offset: range.start as u64,
                    bytes: (range.end - range.start) as u64,
                };
                let flow = visitor.hidden(None, structure, Content::Slice(&bytes[range]));
                if !self.goes_on(flow) {
                    return;
                }
            }
        }
        // The blob's own digest is taken as the decompressor consumes it (one pass over the
        // mapped bytes, not two), and checked once the stream is done.
        let source = if verify { ReleasingReader::new(blob).hashing() } else { ReleasingReader::new(blob) };
        let decoded = match compression {
            Compression::None => Decoded::Plain(source),
            Compression::Gzip => Decoded::Gzip(Box::new(MultiGzDecoder::new(source))),
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
            std::thread::scope(|scope| {
                let (tx, rx) = mpsc::sync_channel(READ_AHEAD_BUFFERS);
                let (back_tx, back_rx) = mpsc::channel();
                let producer = scope.spawn(move || read_ahead(reader, &tx, &back_rx));
                let mut ahead = ChannelReader::new(rx, back_tx);
                self.read_stream(&mut ahead, compression, cap, visitor);
                // Dropping the receiving end stops a producer that is still reading.
                drop(ahead);
                producer.join().ok()
            })
        } else {
            let mut reader = reader;
            self.read_stream(&mut reader, compression, cap, visitor);
            Some(reader)
        };
        let Some(mut reader) = reader else {
            self.check_blob_digest(verify.then(|| sha256_releasing(blob)));
            self.problem(LayerErrorKind::Decompress {
                format: match compression {
                    Compression::Gzip => "gzip",
                    Compression::Zstd => "zstd",
                    Compression::None => "tar",
                },
                message: "the decompressing thread stopped unexpectedly".to_string(),
            });
            self.walk.complete = false;
            return;
        };
        self.walk.stats.uncompressed_bytes = reader.count;
        let diff_id = reader.hasher.take().map(|h| Digest::from_sha256(h.finalize().into()));
        self.check_blob_digest(reader.inner.into_source().digest());
        if self.walk.complete {
            self.finish_diff_id(diff_id);
        } else {
            self.walk.diff_id = None;
        }
    }

    /// Walk the tar in a decompressed stream, then read what follows the tar's end (padding) so
    /// the digest covers the whole stream.
    fn read_stream(
        &mut self,
        reader: &mut (dyn Read + '_),
        compression: Compression,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
    ) {
        let mut counted = Counting { inner: &mut *reader, count: 0 };
        let mut guarded = HeaderGuard::new(&mut counted);
        self.walk_tar(Stream::Reader(Box::new(&mut guarded)), cap, visitor);
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
                let mut rest = io::Cursor::new(&buf[(start - pos) as usize..n]).chain(&mut *reader);
                // The stream's length is not known until it is read: the visitor counts.
                let structure = Structure::TrailingData { offset: start, bytes: 0 };
                match visitor.hidden(None, structure, Content::Reader(&mut rest)) {
                    Ok(_) => {}
                    Err(e) => self.walk.problems.push(e),
                }
                io::copy(&mut rest, &mut io::sink())?;
                return Ok(());
            }
            pos += n as u64;
        }
    }

    /// Record the blob's digest (`None`: not verifying) and report it if it is not the one the
    /// image names.
    fn check_blob_digest(&mut self, digest: Option<Digest>) {
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

    fn finish_diff_id(&mut self, diff_id: Option<Digest>) {
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

/// The optional fields of the first gzip member's header (RFC 1952 section 2.3) that are hidden
/// data: FEXTRA and FCOMMENT whenever present and not empty, FNAME only when it is no file name
/// (over 255 bytes, or holding bytes that are not printable ASCII). Ranges are in `blob`; a
/// header cut short yields what was whole.
fn gzip_header_fields(blob: &[u8]) -> Vec<(GzipField, std::ops::Range<usize>)> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let mut out = Vec::new();
    if blob.len() < 10 || blob[..3] != [0x1f, 0x8b, 0x08] {
        return out;
    }
    let flags = blob[3];
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let Some(len) = blob.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))) else {
            return out;
        };
        let start = at + 2;
        if start + len > blob.len() {
            return out;
        }
        if len > 0 {
            out.push((GzipField::Extra, start..start + len));
        }
        at = start + len;
    }
    let zero_terminated = |at: &mut usize| -> Option<std::ops::Range<usize>> {
        let end = *at + blob.get(*at..)?.iter().position(|&b| b == 0)?;
        let range = *at..end;
        *at = end + 1;
        Some(range)
    };
    if flags & FNAME != 0 {
        let Some(name) = zero_terminated(&mut at) else { return out };
        let text = &blob[name.clone()];
        if text.len() > 255 || !text.iter().all(|b| (0x20..0x7f).contains(b)) {
            out.push((GzipField::Name, name));
        }
    }
    if flags & FCOMMENT != 0 {
        let Some(comment) = zero_terminated(&mut at) else { return out };
        if !comment.is_empty() {
            out.push((GzipField::Comment, comment));
        }
    }
    out
}

#[cfg(test)]
mod gzip_header_tests {
    use super::*;

    #[test]
    fn extra_and_comment_are_hidden_and_a_plain_name_is_not() {
        let mut b = vec![0x1f, 0x8b, 0x08, 4 | 8 | 16, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(b"AB\x02\x00z");
        b.extend_from_slice(b"layer.tar\0");
        b.extend_from_slice(b"token=abc\0");
        b.extend_from_slice(&[0x03, 0x00]);
        let fields = gzip_header_fields(&b);
        let got: Vec<(GzipField, &[u8])> = fields.iter().map(|(f, r)| (*f, &b[r.clone()])).collect();
        assert_eq!(got, vec![(GzipField::Extra, &b"AB\x02\x00z"[..]), (GzipField::Comment, &b"token=abc"[..])]);
        // A name that is not a file name is.
        let mut b = vec![0x1f, 0x8b, 0x08, 8, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(b"\x01\x02secret\0");
        assert_eq!(gzip_header_fields(&b).len(), 1);
        // Cut short: nothing past the cut, no panic.
        assert!(gzip_header_fields(&b[..12]).is_empty());
        assert!(gzip_header_fields(&[0x1f, 0x8b, 0x08, 4, 0, 0, 0, 0, 0, 3, 0xff]).is_empty());
    }
}
