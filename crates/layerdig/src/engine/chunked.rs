//! HTTP/1.1 chunked transfer coding (RFC 9112 §7.1) decoded over a [`BufRead`]: the body of a
//! `GET /images/{name}/get`, which Docker and podman stream in chunks of whatever size the
//! exporter wrote, is read as the plain bytes it carries, a chunk at a time, never buffered whole.
//!
//! The chunk-size line is parsed by `httparse::parse_chunk_size` (hex size, optional extensions,
//! overflow refused); this file keeps the state between chunks: the data left in the current
//! chunk, the CRLF after it, and the last chunk's trailer section. Every malformed or cut-short
//! stream is an `io::Error` (`InvalidData` or `UnexpectedEof`), never a short body taken for a
//! whole one.

use std::io::{self, BufRead, Read};

/// The longest chunk-size line (size, extensions, CRLF) or trailer line read.
const MAX_LINE: usize = 4096;
/// The most trailer lines read after the last chunk.
const MAX_TRAILERS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A chunk-size line comes next.
    Size,
    /// This many bytes of the current chunk are left.
    Data(u64),
    /// The CRLF that ends a chunk's data comes next.
    DataEnd,
    /// The last chunk and its trailers were read.
    Done,
}

/// A reader of a chunked body: yields the chunks' data, then end of file after the last chunk.
#[derive(Debug)]
pub(crate) struct Chunked<R> {
    inner: R,
    state: State,
}

impl<R: BufRead> Chunked<R> {
    /// A decoder reading the chunked body that starts at `inner`'s position.
    pub(crate) fn new(inner: R) -> Self {
        Chunked { inner, state: State::Size }
    }

    /// One line, CRLF (or a bare LF) included, of at most [`MAX_LINE`] bytes.
    fn line(&mut self, what: &str) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("chunked body cut short in a {what} line"),
                ));
            }
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Err(invalid(format!("chunked body has a {what} line longer than {MAX_LINE} bytes")));
            }
            line.extend_from_slice(&available[..take]);
            self.inner.consume(take);
            if done {
                return Ok(line);
            }
        }
    }

    /// Read a chunk-size line; at the last chunk, its trailers too.
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut line = self.line("chunk-size")?;
        if !line.ends_with(b"\r\n") {
            // A bare LF: httparse wants the CRLF the RFC asks for; the line's end is not in doubt.
            line.pop();
            line.extend_from_slice(b"\r\n");
        }
        // httparse reads a line with no digits at all as size 0, the last chunk: that would take
        // a broken stream for a finished one.
        let parsed = if line.first().is_some_and(u8::is_ascii_hexdigit) {
            httparse::parse_chunk_size(&line)
        } else {
            Err(httparse::InvalidChunkSize)
        };
        let size = match parsed {
            Ok(httparse::Status::Complete((_, size))) => size,
            Ok(httparse::Status::Partial) | Err(_) => {
                return Err(invalid(format!("chunked body has a malformed chunk-size line ({} bytes)", line.len())));
            }
        };
        if size > 0 {
            self.state = State::Data(size);
            return Ok(());
        }
        // The last chunk: trailer fields until an empty line. They are not used.
        for _ in 0..MAX_TRAILERS {
            let trailer = self.line("trailer")?;
            if trailer == b"\r\n" || trailer == b"\n" {
                self.state = State::Done;
                return Ok(());
            }
        }
        Err(invalid(format!("chunked body has more than {MAX_TRAILERS} trailer lines")))
    }

    /// Read the CRLF that ends a chunk's data.
    fn data_end(&mut self) -> io::Result<()> {
        let mut end = [0u8; 1];
        self.inner.read_exact(&mut end).map_err(cut_short)?;
        if end[0] == b'\r' {
            self.inner.read_exact(&mut end).map_err(cut_short)?;
        }
        if end[0] != b'\n' {
            return Err(invalid("chunked body: a chunk's data is not followed by CRLF".to_string()));
        }
        self.state = State::Size;
        Ok(())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Size => self.next_chunk()?,
                State::DataEnd => self.data_end()?,
                State::Data(left) => {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("chunked body cut short with {left} bytes of a chunk unread"),
                        ));
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                    return Ok(n);
                }
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn cut_short(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(io::ErrorKind::UnexpectedEof, "chunked body cut short after a chunk's data")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    /// A reader that hands out at most `step` bytes per read, to split every line and chunk.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn decode(wire: &[u8], step: usize, read_size: usize) -> io::Result<Vec<u8>> {
        let mut decoder = Chunked::new(BufReader::with_capacity(step.max(1), Trickle { data: wire, step }));
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_size];
        loop {
            let n = decoder.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn decodes_well_formed_bodies_however_the_bytes_arrive() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"0\r\n\r\n", b""),
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
            // Upper- and lower-case hex, leading zeros.
            (b"A\r\n0123456789\r\n00a\r\nabcdefghij\r\n0\r\n\r\n", b"0123456789abcdefghij"),
            // Chunk extensions are allowed and ignored.
            (b"3;name=value\r\nabc\r\n0;last\r\n\r\n", b"abc"),
            // Trailer fields after the last chunk.
            (b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", b"abc"),
            // Bare LFs, as some servers write them.
            (b"3\nabc\n0\n\n", b"abc"),
            // Data holding CRLFs and what looks like chunk framing.
            (b"7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n", b"\r\n0\r\n\r\n"),
        ];
        for (wire, body) in cases {
            for step in [1, 2, 3, 7, 64, 4096] {
                for read_size in [1, 3, 16, 8192] {
                    let got = decode(wire, step, read_size).unwrap_or_else(|e| panic!("{wire:?} step {step}: {e}"));
                    assert_eq!(&got, body, "{wire:?} step {step} read {read_size}");
                }
            }
        }
    }

    #[test]
    fn a_large_body_in_uneven_chunks_comes_back_byte_for_byte() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        let mut at = 0;
        for size in [1usize, 8191, 65536, 3, 100_000].iter().cycle() {
            if at == body.len() {
                break;
            }
            let n = (*size).min(body.len() - at);
            wire.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            wire.extend_from_slice(&body[at..at + n]);
            wire.extend_from_slice(b"\r\n");
            at += n;
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(decode(&wire, 4096, 8192).unwrap(), body);
        assert_eq!(decode(&wire, 1000, 777).unwrap(), body);
    }

    #[test]
    fn bytes_after_the_last_chunk_are_not_body() {
        let mut reader = Cursor::new(b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK".to_vec());
        let mut out = Vec::new();
        Chunked::new(&mut reader).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(reader.position(), 13);
    }

    #[test]
    fn malformed_or_cut_short_bodies_are_errors() {
        let cases: &[(&[u8], io::ErrorKind)] = &[
            (b"", io::ErrorKind::UnexpectedEof),
            (b"5\r\nhel", io::ErrorKind::UnexpectedEof),
            (b"5\r\nhello", io::ErrorKind::UnexpectedEof),
            (b"5\r\nhello\r\n", io::ErrorKind::UnexpectedEof),
            (b"5\r\nhello\r\n0\r\n", io::ErrorKind::UnexpectedEof),
            (b"5\r\nhelloXX0\r\n\r\n", io::ErrorKind::InvalidData),
            (b"zz\r\nhello\r\n0\r\n\r\n", io::ErrorKind::InvalidData),
            (b"\r\nhello\r\n0\r\n\r\n", io::ErrorKind::InvalidData),
            (b"-5\r\nhello\r\n0\r\n\r\n", io::ErrorKind::InvalidData),
            // A size that overflows 64 bits.
            (b"1ffffffffffffffff\r\nx\r\n0\r\n\r\n", io::ErrorKind::InvalidData),
        ];
        for (wire, kind) in cases {
            for step in [1, 4096] {
                let err = decode(wire, step, 8192).expect_err(&format!("{wire:?} must fail"));
                assert_eq!(err.kind(), *kind, "{wire:?} step {step}: {err}");
            }
        }
    }

    #[test]
    fn an_endless_line_is_refused_not_buffered() {
        let mut wire = b"5;".to_vec();
        wire.extend(std::iter::repeat_n(b'x', 1 << 20));
        let err = decode(&wire, 4096, 8192).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than"), "{err}");
        let mut wire = b"0\r\n".to_vec();
        for _ in 0..100 {
            wire.extend_from_slice(b"X: y\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        assert!(decode(&wire, 4096, 8192).unwrap_err().to_string().contains("trailer lines"));
    }
}
