//! A guard over the tar stream that refuses PAX and GNU long-name records too long to hold in
//! memory, before the tar reader reads them whole; and, as it follows the headers, notes padding
//! after an entry's data that is not zeros (which the tar reader skips unread).

use std::cell::RefCell;
use std::io::{self, Read};
use std::ops::Range;
use std::rc::Rc;

/// Where the padding after entries' data is not zeros: its offset in the stream and its bytes
/// (under 512 each), taken by the tar walk after each entry.
pub(crate) type PaddingLog = Rc<RefCell<Vec<(u64, Vec<u8>)>>>;

/// The longest PAX or GNU long-name record accepted. The tar reader holds such a record in
/// memory whole before the entry it describes, so a hostile layer could otherwise make it hold
/// gigabytes (a few kilobytes of gzip); real records are a path or a few attributes.
const MAX_EXTENSION_RECORD: u64 = 1 << 20;

/// A PAX or GNU long-name record longer than [`MAX_EXTENSION_RECORD`].
#[derive(Debug)]
pub(super) struct ExtensionTooLong {
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
pub(crate) struct HeaderGuard<R> {
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
    /// The padding after the data being skipped, and its bytes seen so far; logged to `log`
    /// when they are not all zeros.
    pad: Option<Range<u64>>,
    pad_bytes: Vec<u8>,
    log: Option<PaddingLog>,
}

impl<R: Read> HeaderGuard<R> {
    pub(crate) fn new(inner: R) -> HeaderGuard<R> {
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
            pad: None,
            pad_bytes: Vec::new(),
            log: None,
        }
    }

    /// Also note padding that is not zeros, in `log`.
    pub(crate) fn with_padding_log(mut self, log: PaddingLog) -> HeaderGuard<R> {
        self.log = Some(log);
        self
    }

    /// The entry's data runs `size` bytes from the next block: its padding is the rest of the
    /// last block.
    fn data(&mut self, size: u64) {
        let start = self.next;
        let padded = size.div_ceil(512).saturating_mul(512);
        self.next = self.next.saturating_add(padded);
        if self.log.is_some() && padded > size {
            self.pad = Some(start.saturating_add(size)..self.next);
        }
    }

    /// Bytes `bytes` at stream offset `at`, skipped as data: note those in the padding.
    fn skipped(&mut self, at: u64, bytes: &[u8]) {
        let Some(pad) = self.pad.clone() else { return };
        let end = at + bytes.len() as u64;
        if end <= pad.start || at >= pad.end {
            return;
        }
        let from = pad.start.max(at);
        let to = pad.end.min(end);
        self.pad_bytes.extend_from_slice(&bytes[(from - at) as usize..(to - at) as usize]);
        if to == pad.end {
            self.pad = None;
            let bytes = std::mem::take(&mut self.pad_bytes);
            if bytes.iter().any(|&b| b != 0)
                && let Some(log) = &self.log
            {
                log.borrow_mut().push((pad.start, bytes));
            }
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
                self.data(self.pending);
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
        self.data(size);
        Ok(())
    }

    /// Bytes of the stream from offset `self.pos`, as they go by.
    fn observe(&mut self, bytes: &[u8]) -> Result<(), u64> {
        let mut i = 0;
        while i < bytes.len() {
            let at = self.pos + i as u64;
            if at < self.next {
                let skip = usize::try_from(self.next - at).unwrap_or(usize::MAX).min(bytes.len() - i);
                self.skipped(at, &bytes[i..i + skip]);
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
