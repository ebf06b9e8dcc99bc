//! The decompressed stream of a layer blob: the reader that counts its bytes against the
//! per-layer output cap and hashes them for the diff_id, and the two errors it marks its
//! failures with, so that the tar walk and the read-ahead thread can tell them apart.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// The decompressed bytes, counted against `cap` and hashed (for the diff_id) when `hasher` is set.
pub(super) struct HashingReader<R> {
    pub(super) inner: R,
    pub(super) hasher: Option<Sha256>,
    pub(super) count: u64,
    pub(super) cap: u64,
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
pub(super) struct DecodeFailed(pub(super) io::Error);

impl std::fmt::Display for DecodeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for DecodeFailed {}

/// The per-layer output cap was reached.
#[derive(Debug)]
pub(super) struct CapReached;
impl std::fmt::Display for CapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("per-layer output cap reached")
    }
}
impl std::error::Error for CapReached {}
