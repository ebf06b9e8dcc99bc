//! Reading one layer: decompression detected from magic bytes, digests verified while
//! streaming, tar entries (PAX and GNU long names, hard and symbolic links, whiteouts) handed to
//! a [`LayerVisitor`], and a compact [`LayerIndex`] of what the layer wrote and deleted.

mod index;
#[doc(hidden)]
pub(crate) mod index_internals {
    pub(crate) use super::index::Effect;
}
mod path;

use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::mpsc;

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use index::LayerIndex;
pub use path::normalize;

use crate::error::{Error, LayerErrorKind};
use crate::image::{Blob, Digest, Layer, LayerSource, RELEASE_EVERY, ReleasingReader, sha256_releasing};

/// An uncompressed file bigger than this is handed to the visitor as a stream over the map
/// (whose pages are released as it is read) rather than as one slice, so that a file of
/// gigabytes does not stay in memory while it is scanned.
const SLICE_AT_MOST: usize = 4 * RELEASE_EVERY;

/// How a layer's bytes are compressed, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

impl Compression {
    /// Detect from the magic bytes.
    pub fn detect(bytes: &[u8]) -> Compression {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A regular file.
    File,
    /// A hard link: the same content as `target`, a path in this layer.
    Hardlink {
        /// The normalised path it links to.
        target: &'a [u8],
    },
    /// A symbolic link (recorded, never followed).
    Symlink {
        /// The link text, as stored.
        target: &'a [u8],
    },
    /// A directory.
    Directory,
    /// A `.wh.NAME` whiteout: deletes `target` from lower layers.
    Whiteout {
        /// The normalised path it deletes.
        target: &'a [u8],
    },
    /// A `.wh..wh..opq` marker: the directory hides everything lower layers put in it.
    OpaqueWhiteout {
        /// The normalised directory.
        dir: &'a [u8],
    },
    /// A device, fifo or other special file (skipped).
    Other,
}

/// One entry of a layer.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The layer's index.
    pub layer: usize,
    /// The entry's position in the layer's tar stream (0 first).
    pub ordinal: u32,
    /// The normalised path: relative, `/`-separated, no `.` or `..` components. Non-UTF-8 bytes
    /// are kept as they are.
    pub path: &'a [u8],
    /// What the entry is.
    pub kind: EntryKind<'a>,
    /// Content size in bytes (files only).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
}

impl Entry<'_> {
    /// The path as text, with invalid UTF-8 replaced.
    pub fn path_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.path)
    }
}

/// A file's bytes, as the layer gives them.
pub enum Content<'a> {
    /// Not a regular file.
    None,
    /// The bytes in place, from a memory-mapped uncompressed layer.
    Slice(&'a [u8]),
    /// A stream of the bytes (compressed layers, directories). What the visitor leaves unread is
    /// skipped.
    Reader(&'a mut dyn Read),
}

/// Whether to go on after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next entry.
    Continue,
    /// Stop reading this layer.
    Stop,
}

/// Receives a layer's entries in order.
pub trait LayerVisitor {
    /// Called for every entry. Returning [`Flow::Stop`] ends the walk early.
    ///
    /// # Errors
    /// An error ends the walk of this layer and is reported as the layer's error.
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error>;
}

impl<F> LayerVisitor for F
where
    F: FnMut(&Entry<'_>, Content<'_>) -> Result<Flow, Error>,
{
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error> {
        self(entry, content)
    }
}

/// Limits for reading a layer.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// The most uncompressed bytes read from one layer; past it the layer is cut short and an
    /// [`LayerErrorKind::OutputCap`] error says so.
    pub max_layer_bytes: u64,
    /// Verify blob and diff_id digests.
    pub verify_digests: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { max_layer_bytes: 64 << 30, verify_digests: true }
    }
}

/// Counts for one layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LayerStats {
    /// Compressed (stored) bytes.
    pub compressed_bytes: u64,
    /// Uncompressed tar bytes read.
    pub uncompressed_bytes: u64,
    /// Tar entries.
    pub entries: u64,
    /// Regular files (hard links included).
    pub files: u64,
    /// Bytes of file content.
    pub file_bytes: u64,
    /// Paths this layer adds or writes.
    pub added: u64,
    /// Whiteouts and opaque directories.
    pub deleted: u64,
}

/// The outcome of reading one layer.
#[derive(Debug)]
pub struct LayerWalk {
    /// What the layer wrote and deleted, for resolving statuses across layers.
    pub index: LayerIndex,
    /// Counts.
    pub stats: LayerStats,
    /// How the layer was compressed.
    pub compression: Option<Compression>,
    /// The blob digest computed from the bytes.
    pub digest: Option<Digest>,
    /// The uncompressed digest computed from the bytes.
    pub diff_id: Option<Digest>,
    /// Problems; a layer read in part still has its index and its visitor's results.
    pub problems: Vec<Error>,
    /// Whether every entry was read (false after an error or an early stop).
    pub complete: bool,
}

struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    count: u64,
    cap: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.count >= self.cap {
            return Err(io::Error::other(CapReached));
        }
        let room = usize::try_from(self.cap - self.count).unwrap_or(usize::MAX);
        let limit = buf.len().min(room);
        // Errors from here on are the decompressor's, not the tar parser's: say so.
        let n = self.inner.read(&mut buf[..limit]).map_err(|e| io::Error::new(e.kind(), DecodeFailed(e)))?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// The decompressor failed (the compressed stream is corrupt or cut short), as opposed to the
/// tar inside it being malformed.
#[derive(Debug)]
struct DecodeFailed(io::Error);

impl std::fmt::Display for DecodeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for DecodeFailed {}

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

/// Compressed blobs at least this big are decompressed on a thread of their own.
const READ_AHEAD_FROM: usize = 256 * 1024;
/// Decompressed buffers a read-ahead thread may have waiting (memory: this many chunks).
const READ_AHEAD_BUFFERS: usize = 4;
/// Size of one read-ahead buffer.
const READ_AHEAD_CHUNK: usize = 1 << 20;

/// Fill buffers from `reader` and send them on until the stream ends, fails, or nobody listens;
/// give the reader back for its count and digest.
fn read_ahead<R: Read>(
    mut reader: HashingReader<R>,
    tx: &mpsc::SyncSender<io::Result<Vec<u8>>>,
    recycled: &mpsc::Receiver<Vec<u8>>,
) -> HashingReader<R> {
    loop {
        // A buffer is zeroed once, when new, and then read into whole each time it comes
        // back: no memset of a megabyte for every megabyte decompressed.
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.resize(READ_AHEAD_CHUNK, 0);
        let mut filled = 0;
        let mut failed = None;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        buf.truncate(filled);
        if filled > 0 && tx.send(Ok(buf)).is_err() {
            break;
        }
        if let Some(e) = failed {
            let _ = tx.send(Err(e));
            break;
        }
        if filled < READ_AHEAD_CHUNK {
            break; // the end of the stream
        }
    }
    reader
}

/// The reading end of [`read_ahead`]: buffers in order, then the error or the end.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    back: mpsc::Sender<Vec<u8>>,
    /// The stream's error, returned again on every later read (as the stream itself would).
    failed: Option<Failed>,
}

/// What a [`ChannelReader`] keeps of the stream's error to return it again (an `io::Error`
/// cannot be cloned): enough for the walker to tell the cap and the decompressor's errors from
/// the rest.
enum Failed {
    Cap,
    Decode(io::ErrorKind, String),
    Other(io::ErrorKind, String),
}

impl Failed {
    fn of(e: &io::Error) -> Failed {
        match e.get_ref() {
            Some(inner) if inner.is::<CapReached>() => Failed::Cap,
            Some(inner) if inner.is::<DecodeFailed>() => Failed::Decode(e.kind(), e.to_string()),
            _ => Failed::Other(e.kind(), e.to_string()),
        }
    }

    fn error(&self) -> io::Error {
        match self {
            Failed::Cap => io::Error::other(CapReached),
            Failed::Decode(kind, message) => {
                io::Error::new(*kind, DecodeFailed(io::Error::new(*kind, message.clone())))
            }
            Failed::Other(kind, message) => io::Error::new(*kind, message.clone()),
        }
    }
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<io::Result<Vec<u8>>>, back: mpsc::Sender<Vec<u8>>) -> ChannelReader {
        ChannelReader { rx, buf: Vec::new(), pos: 0, back, failed: None }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(failed) = &self.failed {
            return Err(failed.error());
        }
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let used = std::mem::replace(&mut self.buf, next);
                    self.pos = 0;
                    // The producer may have stopped already; the buffer is then simply freed.
                    let _ = self.back.send(used);
                }
                Ok(Err(e)) => {
                    self.failed = Some(Failed::of(&e));
                    return Err(e);
                }
                // The producer is done and everything it sent has been read.
                Err(mpsc::RecvError) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The longest PAX or GNU long-name record accepted. The tar reader holds such a record in
/// memory whole before the entry it describes, so a hostile layer could otherwise make it hold
/// gigabytes (a few kilobytes of gzip); real records are a path or a few attributes.
const MAX_EXTENSION_RECORD: u64 = 1 << 20;

/// A PAX or GNU long-name record longer than [`MAX_EXTENSION_RECORD`].
#[derive(Debug)]
struct ExtensionTooLong {
    size: u64,
}

impl std::fmt::Display for ExtensionTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a PAX or GNU long-name record of {} bytes (more than the {MAX_EXTENSION_RECORD} accepted): the layer is malformed or hostile",
            self.size
        )
    }
}

impl std::error::Error for ExtensionTooLong {}

/// Follows the tar headers in a stream as it passes to the tar reader, and stops the stream at
/// an extension record (PAX `x`/`g`, GNU `L`/`K`) longer than [`MAX_EXTENSION_RECORD`]. It keeps
/// in step with the tar reader by reading headers with the tar crate's own accessors and rules:
/// it skips each entry's data and GNU sparse extension blocks, and takes an entry's size from a
/// PAX `size` record where the tar reader does. Out of step, it would take file data for
/// headers: refusing sound layers, or missing a record the tar reader then holds whole.
struct HeaderGuard<R> {
    inner: R,
    /// Stream offset of the next header block.
    next: u64,
    pos: u64,
    block: [u8; 512],
    filled: usize,
    /// The next block is a GNU sparse extension block; then `pending` data bytes follow.
    sparse_extension: bool,
    pending: u64,
    /// The body of the PAX record being read (to find its `size`), and the size it sets.
    pax: Option<(Vec<u8>, usize)>,
    pax_size: Option<u64>,
    failed: Option<u64>,
}

impl<R: Read> HeaderGuard<R> {
    fn new(inner: R) -> HeaderGuard<R> {
        HeaderGuard {
            inner,
            next: 0,
            pos: 0,
            block: [0; 512],
            filled: 0,
            sparse_extension: false,
            pending: 0,
            pax: None,
            pax_size: None,
            failed: None,
        }
    }

    /// A whole header block has been seen.
    fn header(&mut self) -> Result<(), u64> {
        let block = self.block;
        self.next = self.next.saturating_add(512);
        if self.sparse_extension {
            let mut extension = tar::GnuExtSparseHeader::new();
            extension.as_mut_bytes().copy_from_slice(&block);
            self.sparse_extension = extension.is_extended();
            if !self.sparse_extension {
                self.next = self.next.saturating_add(self.pending.div_ceil(512).saturating_mul(512));
            }
            return Ok(());
        }
        if block.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(&block);
        let kind = header.entry_type();
        // A size the tar reader cannot read stops it at this header.
        let mut size = header.entry_size().unwrap_or(0);
        if matches!(block[156], b'x' | b'g' | b'L' | b'K') && size > MAX_EXTENSION_RECORD {
            return Err(size);
        }
        // As the tar reader: only a header with a ustar or GNU magic can describe the entry after
        // it; a pending PAX record belongs to the first header that does not, and sets its size
        // unless that header is an extension header itself.
        let recognised = header.as_gnu().is_some() || header.as_ustar().is_some();
        let names_next =
            recognised && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if !names_next {
            let extension = kind.is_gnu_longname()
                || kind.is_gnu_longlink()
                || kind.is_pax_local_extensions()
                || kind.is_pax_global_extensions();
            if let Some(pax) = self.pax_size.take()
                && !extension
            {
                size = pax;
            }
        }
        if recognised && kind.is_pax_local_extensions() {
            let want = usize::try_from(size).unwrap_or(0);
            self.pax = Some((Vec::with_capacity(want), want));
        }
        if kind.is_gnu_sparse() && header.as_gnu().is_some_and(tar::GnuHeader::is_extended) {
            self.sparse_extension = true;
            self.pending = size;
            return Ok(());
        }
        self.next = self.next.saturating_add(size.div_ceil(512).saturating_mul(512));
        Ok(())
    }

    /// Bytes of the stream from offset `self.pos`, as they go by.
    fn observe(&mut self, bytes: &[u8]) -> Result<(), u64> {
        let mut i = 0;
        while i < bytes.len() {
            let at = self.pos + i as u64;
            if at < self.next {
                let skip = usize::try_from(self.next - at).unwrap_or(usize::MAX).min(bytes.len() - i);
                if let Some((pax, want)) = &mut self.pax {
                    let room = *want - pax.len();
                    pax.extend_from_slice(&bytes[i..i + skip.min(room)]);
                    if pax.len() == *want {
                        self.pax_size = pax_size(pax);
                        self.pax = None;
                    }
                }
                i += skip;
                continue;
            }
            if let Some((pax, _)) = self.pax.take() {
                // The record ended with less than it declared: nothing more to learn from it.
                self.pax_size = pax_size(&pax);
            }
            let take = (512 - self.filled).min(bytes.len() - i);
            self.block[self.filled..self.filled + take].copy_from_slice(&bytes[i..i + take]);
            self.filled += take;
            i += take;
            if self.filled == 512 {
                self.filled = 0;
                self.header()?;
            }
        }
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(size) = self.failed {
            return Err(io::Error::other(ExtensionTooLong { size }));
        }
        let n = self.inner.read(buf)?;
        if let Err(size) = self.observe(&buf[..n]) {
            self.failed = Some(size);
            return Err(io::Error::other(ExtensionTooLong { size }));
        }
        Ok(n)
    }
}

/// The `size` a PAX record sets, as the tar reader reads it: the first `size` record, and none
/// when a record before it is malformed.
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
}

#[derive(Debug)]
struct CapReached;
impl std::fmt::Display for CapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("per-layer output cap reached")
    }
}
impl std::error::Error for CapReached {}

/// Read one layer of the image at `image_path`, handing every entry to `visitor`.
///
/// Never fails as a whole: problems (a missing blob, corrupt compression, a digest mismatch, a
/// visitor error) are in [`LayerWalk::problems`], with whatever was read before them kept.
pub fn walk(image_path: &Path, layer: &Layer, options: &WalkOptions, visitor: &mut dyn LayerVisitor) -> LayerWalk {
    let mut w = Walker {
        image: image_path,
        layer,
        walk: LayerWalk {
            index: LayerIndex::default(),
            stats: LayerStats::default(),
            compression: None,
            digest: None,
            diff_id: None,
            problems: Vec::new(),
            complete: false,
        },
        current_path: None,
        blob: None,
    };
    match &layer.source {
        LayerSource::Missing(_) => {} // reported when the image was opened
        LayerSource::Dir(root) => w.walk_dir(root, visitor),
        LayerSource::Blob(blob) => w.walk_blob(blob, options, visitor),
    }
    w.walk
}

struct Walker<'a> {
    image: &'a Path,
    layer: &'a Layer,
    walk: LayerWalk,
    current_path: Option<String>,
    /// The blob being read, whose pages are released behind the reader.
    blob: Option<&'a Blob>,
}

enum Stream<'a> {
    Plain(&'a [u8]),
    Reader(Box<dyn Read + 'a>),
}

impl<'a> Walker<'a> {
    fn problem(&mut self, kind: LayerErrorKind) {
        self.walk.problems.push(Error::Layer {
            image: self.image.to_path_buf(),
            layer: self.layer.index,
            digest: self.layer.id().cloned(),
            path: self.current_path.clone(),
            kind,
        });
    }

    fn walk_blob(&mut self, blob: &'a Blob, options: &WalkOptions, visitor: &mut dyn LayerVisitor) {
        self.blob = Some(blob);
        let bytes = blob.bytes();
        let compression = Compression::detect(bytes);
        self.walk.compression = Some(compression);
        self.walk.stats.compressed_bytes = bytes.len() as u64;
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
        let mut guarded = HeaderGuard::new(&mut *reader);
        self.walk_tar(Stream::Reader(Box::new(&mut guarded)), cap, visitor);
        if self.walk.complete
            && let Err(e) = io::copy(reader, &mut io::sink())
        {
            self.stream_error(e, compression, cap);
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

    fn stream_error(&mut self, e: io::Error, compression: Compression, cap: u64) {
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

    fn walk_tar(&mut self, stream: Stream<'_>, cap: u64, visitor: &mut dyn LayerVisitor) {
        let compression = self.walk.compression.unwrap_or(Compression::None);
        match stream {
            Stream::Plain(bytes) => {
                let mut archive = tar::Archive::new(Cursor::new(bytes));
                match archive.entries_with_seek() {
                    Ok(entries) => self.entries(entries, Some(bytes), cap, visitor, compression),
                    Err(e) => self.stream_error(e, compression, cap),
                }
            }
            Stream::Reader(reader) => {
                let mut archive = tar::Archive::new(reader);
                match archive.entries() {
                    Ok(entries) => self.entries(entries, None, cap, visitor, compression),
                    Err(e) => self.stream_error(e, compression, cap),
                }
            }
        }
    }

    fn entries<'r, R: Read + 'r>(
        &mut self,
        entries: impl Iterator<Item = io::Result<tar::Entry<'r, R>>>,
        plain: Option<&[u8]>,
        cap: u64,
        visitor: &mut dyn LayerVisitor,
        compression: Compression,
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
                if name.starts_with(b".wh.") {
                    Kind::Other // aufs metadata such as .wh..wh.plnk
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
            } else {
                visitor.visit(&view, Content::None)
            };
            ordinal = ordinal.saturating_add(1);
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return,
                Err(e) => {
                    self.walk.problems.push(e);
                    return;
                }
            }
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
        self.walk.complete = true;
    }

    fn walk_dir(&mut self, root: &Path, visitor: &mut dyn LayerVisitor) {
        let mut ordinal = 0u32;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let mut children = match std::fs::read_dir(&dir) {
                Ok(rd) => rd.filter_map(|e| e.ok()).collect::<Vec<_>>(),
                Err(e) => {
                    self.current_path = rel_path(root, &dir);
                    self.problem(LayerErrorKind::Read(e.to_string()));
                    continue;
                }
            };
            children.sort_by_key(|e| e.file_name());
            for child in children {
                let path = child.path();
                let rel = path_bytes(path.strip_prefix(root).unwrap_or(&path));
                self.current_path = Some(String::from_utf8_lossy(&rel).into_owned());
                let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
                let ft = meta.file_type();
                let link_target;
                let kind = if ft.is_symlink() {
                    link_target = std::fs::read_link(&path).map(|t| path_bytes(&t)).unwrap_or_default();
                    EntryKind::Symlink { target: &link_target }
                } else if ft.is_dir() {
                    stack.push(path.clone());
                    EntryKind::Directory
                } else if ft.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                };
                let size = if ft.is_file() { meta.len() } else { 0 };
                let view = Entry { layer: self.layer.index, ordinal, path: &rel, kind, size, mode: mode_of(&meta) };
                self.walk.index.record(&view);
                self.walk.stats.entries += 1;
                let flow = if ft.is_file() {
                    self.walk.stats.files += 1;
                    self.walk.stats.added += 1;
                    self.walk.stats.file_bytes += size;
                    self.walk.stats.uncompressed_bytes += size;
                    match std::fs::File::open(&path) {
                        Ok(mut file) => visitor.visit(&view, Content::Reader(&mut file)),
                        Err(e) => {
                            self.problem(LayerErrorKind::Read(e.to_string()));
                            Ok(Flow::Continue)
                        }
                    }
                } else {
                    visitor.visit(&view, Content::None)
                };
                ordinal = ordinal.saturating_add(1);
                match flow {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Stop) => return,
                    Err(e) => {
                        self.walk.problems.push(e);
                        return;
                    }
                }
            }
        }
        self.current_path = None;
        self.walk.complete = true;
    }
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

fn rel_path(root: &Path, path: &Path) -> Option<String> {
    path.strip_prefix(root).ok().map(|p| String::from_utf8_lossy(&path_bytes(p)).into_owned())
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().replace('\\', "/").into_bytes()
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o644
}
