//! Decompression on a thread of its own: a producer fills buffers a few ahead of the tar walk
//! and the detectors, and a [`ChannelReader`] reads them back in order, so that the two halves
//! of the work overlap.

use std::io::{self, Read};
use std::sync::mpsc;

use super::stream::{CapReached, DecodeFailed};

/// Compressed blobs at least this big are decompressed on a thread of their own.
pub(super) const READ_AHEAD_FROM: usize = 256 * 1024;
/// Decompressed buffers a read-ahead thread may have waiting (memory: this many chunks).
const READ_AHEAD_BUFFERS: usize = 4;
/// Size of one read-ahead buffer.
const READ_AHEAD_CHUNK: usize = 1 << 20;

/// Run `produce` on a thread of its own and `consume` on this one, overlapped: the reader
/// `produce` hands to its argument is read a few buffers ahead into the [`ChannelReader`]
/// `consume` reads, in order. `produce`'s result, or `None` when its thread panicked.
pub(super) fn overlapped<T: Send>(
    produce: impl FnOnce(&mut dyn FnMut(&mut dyn Read)) -> T + Send,
    consume: impl FnOnce(&mut ChannelReader),
) -> Option<T> {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD_BUFFERS);
        let (back_tx, back_rx) = mpsc::channel();
        let producer = scope.spawn(move || produce(&mut |reader: &mut dyn Read| read_ahead(reader, &tx, &back_rx)));
        let mut ahead = ChannelReader::new(rx, back_tx);
        consume(&mut ahead);
        // Dropping the receiving end stops a producer that is still reading.
        drop(ahead);
        producer.join().ok()
    })
}

/// Fill buffers from `reader` and send them on until the stream ends, fails, or nobody listens.
fn read_ahead(reader: &mut dyn Read, tx: &mpsc::SyncSender<io::Result<Vec<u8>>>, recycled: &mpsc::Receiver<Vec<u8>>) {
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
}

/// The reading end of [`read_ahead`]: buffers in order, then the error or the end.
pub(super) struct ChannelReader {
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
