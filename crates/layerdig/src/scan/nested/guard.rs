//! The reader every expanded stream inside a file passes through: it counts what is expanded
//! against the budgets, stops a stream whose ratio gives it away as a bomb, and keeps the first
//! failure so the walker can report it (the window scanner reads a failing stream as ended).

use std::cell::Cell;
use std::io::{self, Read};

/// What is left to expand: per top-level file, per layer, and entries per top-level file.
pub(super) struct Budget {
    pub(super) file_bytes: Cell<u64>,
    pub(super) layer_bytes: Cell<u64>,
    pub(super) entries: Cell<u64>,
    /// Bytes of zip archives held in memory by the frames above (they nest).
    pub(super) buffered: Cell<usize>,
}

impl Budget {
    /// Take `n` expanded bytes, or say which budget ran out.
    pub(super) fn take(&self, n: u64) -> Result<(), Cap> {
        let file = self.file_bytes.get();
        let layer = self.layer_bytes.get();
        if n > file {
            self.file_bytes.set(0);
            return Err(Cap::FileBytes);
        }
        if n > layer {
            self.layer_bytes.set(0);
            return Err(Cap::LayerBytes);
        }
        self.file_bytes.set(file - n);
        self.layer_bytes.set(layer - n);
        Ok(())
    }

    /// Take one entry.
    pub(super) fn take_entry(&self) -> Result<(), Cap> {
        match self.entries.get() {
            0 => Err(Cap::Entries),
            n => {
                self.entries.set(n - 1);
                Ok(())
            }
        }
    }
}

/// Which limit stopped the expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cap {
    /// The expanded bytes of one top-level file.
    FileBytes,
    /// The expanded bytes of the layer's archives together.
    LayerBytes,
    /// The entries of one top-level file's archives together.
    Entries,
    /// Expanded bytes against compressed bytes.
    Ratio,
    /// Archives inside archives.
    Depth,
    /// An archive too large to hold whose entries could not all be read from the stream.
    Buffer,
}

/// Why a stream inside a file stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// A limit.
    Capped(Cap),
    /// The decoder's error: corrupt or cut short.
    Corrupt(String),
}

/// Counts the bytes read through it into a shared cell (a decoder's compressed input).
pub(super) struct Counting<'c, R> {
    pub(super) inner: R,
    pub(super) count: &'c Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Expansion up to this many bytes is never called a bomb by its ratio alone.
const RATIO_FLOOR: u64 = 1 << 20;

/// The guard over one expanded stream.
pub(super) struct Guard<'b, R> {
    inner: R,
    budget: &'b Budget,
    /// Compressed bytes consumed: a fixed size (a zip entry) or a decoder's count.
    input: Input<'b>,
    max_ratio: u64,
    out: u64,
    pub(super) failure: Option<Failure>,
}

/// Where a guard learns how many compressed bytes were consumed.
pub(super) enum Input<'c> {
    Fixed(u64),
    Counted(&'c Cell<u64>),
}

impl<'b, R: Read> Guard<'b, R> {
    pub(super) fn new(inner: R, budget: &'b Budget, input: Input<'b>, max_ratio: u64) -> Guard<'b, R> {
        Guard { inner, budget, input, max_ratio, out: 0, failure: None }
    }

    fn fail(&mut self, failure: Failure) -> io::Error {
        let message = match &failure {
            Failure::Capped(cap) => format!("stopped at a limit ({cap:?})"),
            Failure::Corrupt(m) => m.clone(),
        };
        self.failure.get_or_insert(failure);
        io::Error::other(message)
    }
}

impl<R: Read> Read for Guard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("stopped"));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(self.fail(Failure::Corrupt(e.to_string()))),
        };
        self.out += n as u64;
        if let Err(cap) = self.budget.take(n as u64) {
            return Err(self.fail(Failure::Capped(cap)));
        }
        let input = match self.input {
            Input::Fixed(n) => n,
            Input::Counted(cell) => cell.get(),
        };
        if self.out > RATIO_FLOOR && self.out / input.max(1) > self.max_ratio {
            return Err(self.fail(Failure::Capped(Cap::Ratio)));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(file: u64, layer: u64) -> Budget {
        Budget {
            file_bytes: Cell::new(file),
            layer_bytes: Cell::new(layer),
            entries: Cell::new(2),
            buffered: Cell::new(0),
        }
    }

    #[test]
    fn budgets_stop_the_stream_and_say_which() {
        let b = budget(10, 100);
        let mut g = Guard::new(&[7u8; 64][..], &b, Input::Fixed(64), 1000);
        let mut out = Vec::new();
        assert!(g.read_to_end(&mut out).is_err());
        assert_eq!(g.failure, Some(Failure::Capped(Cap::FileBytes)));
        let b = budget(100, 10);
        let mut g = Guard::new(&[7u8; 64][..], &b, Input::Fixed(64), 1000);
        assert!(g.read_to_end(&mut Vec::new()).is_err());
        assert_eq!(g.failure, Some(Failure::Capped(Cap::LayerBytes)));
        assert!(b.take_entry().is_ok() && b.take_entry().is_ok());
        assert_eq!(b.take_entry(), Err(Cap::Entries));
    }

    #[test]
    fn a_ratio_past_the_limit_is_a_bomb() {
        let b = budget(u64::MAX, u64::MAX);
        let zeros = vec![0u8; 4 << 20];
        // 4 MiB out of 1 KiB in: 4096:1.
        let mut g = Guard::new(&zeros[..], &b, Input::Fixed(1024), 200);
        assert!(g.read_to_end(&mut Vec::new()).is_err());
        assert_eq!(g.failure, Some(Failure::Capped(Cap::Ratio)));
        // The same bytes out of 1 MiB in are fine.
        let mut g = Guard::new(&zeros[..], &b, Input::Fixed(1 << 20), 200);
        assert_eq!(g.read_to_end(&mut Vec::new()).unwrap(), 4 << 20);
        assert_eq!(g.failure, None);
    }

    #[test]
    fn decoder_errors_are_kept() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"))
            }
        }
        let b = budget(100, 100);
        let mut g = Guard::new(Broken, &b, Input::Fixed(1), 200);
        assert!(g.read(&mut [0; 8]).is_err());
        assert_eq!(g.failure, Some(Failure::Corrupt("corrupt deflate stream".into())));
    }
}
