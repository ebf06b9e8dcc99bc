//! One HTTP/1.1 `GET` over a Unix or TCP stream, and its response: the status and head parsed by
//! `httparse`, the body framed by `Transfer-Encoding: chunked` ([`super::chunked`]),
//! `Content-Length`, or the end of the connection (each request says `Connection: close`).
//!
//! Blocking and one request per connection: the scanner is thread-based and reads the image
//! export as a plain [`Read`], so an async runtime would only add a thread pool to feed one.

use std::io::{self, BufReader, Cursor, Read, Write};

use super::chunked::Chunked;

/// The most bytes of a response head (status line and header fields) read.
const MAX_HEAD: usize = 64 << 10;
/// The most header fields of a response parsed.
const MAX_HEADERS: usize = 64;
/// The buffer between the socket and the body's framing.
const BODY_BUFFER: usize = 64 << 10;

/// What went wrong in one exchange.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// Sending the request or reading the answer failed.
    Io(io::Error),
    /// The answer is not HTTP/1.1 the client understands.
    Protocol(String),
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

/// A response: status, the few header fields the client reads, and the body.
pub(crate) struct Response<S> {
    /// The status code.
    pub(crate) status: u16,
    /// The body, unframed.
    pub(crate) body: Body<S>,
}

/// A response body as the bytes it carries: its framing (chunks, a length, the connection's end)
/// is taken off, and a body cut short is an error, not a short body.
pub(crate) struct Body<S> {
    framing: Framing<S>,
}

type Buffered<S> = BufReader<io::Chain<Cursor<Vec<u8>>, S>>;

enum Framing<S> {
    Chunked(Chunked<Buffered<S>>),
    Length { inner: Buffered<S>, left: u64 },
    ToEnd(Buffered<S>),
}

impl<S: Read> Read for Body<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.framing {
            Framing::Chunked(chunked) => chunked.read(buf),
            Framing::ToEnd(inner) => inner.read(buf),
            Framing::Length { inner, left } => {
                if *left == 0 || buf.is_empty() {
                    return Ok(0);
                }
                let want = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                let n = inner.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the response body was cut short with {left} of its Content-Length bytes unread"),
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
        }
    }
}

impl<S: Read> Body<S> {
    /// The first `limit` bytes of the body (an error document, a ping's `OK`), as text.
    pub(crate) fn text(&mut self, limit: u64) -> io::Result<String> {
        let mut bytes = Vec::new();
        self.by_ref().take(limit).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Write `GET path` with the `Host` given.
pub(crate) fn send_get(stream: &mut impl Write, host: &str, path: &str) -> io::Result<()> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: layerdig/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes())?;
    stream.flush()
}

/// Read a response's head from `stream` (informational `1xx` heads are skipped) and frame its
/// body.
pub(crate) fn read_response<S: Read>(mut stream: S) -> Result<Response<S>, HttpError> {
    let mut head: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let (status, consumed, framing) = loop {
            if let Some(parsed) = parse_head(&head)? {
                break parsed;
            }
            if head.len() >= MAX_HEAD {
                return Err(HttpError::Protocol(format!("the response head is longer than {MAX_HEAD} bytes")));
            }
            let mut buf = [0u8; 8192];
            let want = buf.len().min(MAX_HEAD - head.len());
            let n = stream.read(&mut buf[..want])?;
            if n == 0 {
                return Err(if head.is_empty() {
                    HttpError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection was closed without an answer",
                    ))
                } else {
                    HttpError::Protocol("the connection was closed in the middle of the response head".into())
                });
            }
            head.extend_from_slice(&buf[..n]);
        };
        let rest = head.split_off(consumed);
        if (100..200).contains(&status) && status != 101 {
            head = rest;
            continue;
        }
        let inner = BufReader::with_capacity(BODY_BUFFER, Cursor::new(rest).chain(stream));
        let framing = match framing {
            Frame::Chunked => Framing::Chunked(Chunked::new(inner)),
            Frame::Length(n) => Framing::Length { inner, left: n },
            Frame::ToEnd => Framing::ToEnd(inner),
            Frame::Empty => Framing::Length { inner, left: 0 },
        };
        return Ok(Response { status, body: Body { framing } });
    }
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Chunked,
    Length(u64),
    ToEnd,
    Empty,
}

/// The status, the head's length and the body's framing, once the head is complete.
fn parse_head(bytes: &[u8]) -> Result<Option<(u16, usize, Frame)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let consumed = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HttpError::Protocol(format!("the response head is not HTTP/1.x: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut chunked = false;
    let mut length: Option<u64> = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let value = String::from_utf8_lossy(header.value);
            let codings: Vec<String> = value.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
            // Chunked must be the last coding; any other (gzip, …) is not something the Engine
            // API sends, and is not decoded here.
            if codings.iter().any(|c| c != "chunked" && c != "identity") {
                return Err(HttpError::Protocol(format!("unsupported Transfer-Encoding {value:?}")));
            }
            chunked |= codings.iter().any(|c| c == "chunked");
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| HttpError::Protocol("a Content-Length that is not a number".into()))?;
            if length.is_some_and(|m| m != n) {
                return Err(HttpError::Protocol("two different Content-Length fields".into()));
            }
            length = Some(n);
        }
    }
    // RFC 9112 §6.3: no body for 1xx, 204 and 304; chunked wins over a length.
    let frame = if (100..200).contains(&status) || status == 204 || status == 304 {
        Frame::Empty
    } else if chunked {
        Frame::Chunked
    } else if let Some(n) = length {
        Frame::Length(n)
    } else {
        Frame::ToEnd
    };
    Ok(Some((status, consumed, frame)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out at most `step` bytes a read.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    fn respond(wire: &[u8], step: usize) -> Result<(u16, Vec<u8>), HttpError> {
        let response = read_response(Trickle { data: wire.to_vec(), at: 0, step })?;
        let status = response.status;
        Ok((status, read_all(response.body)?))
    }

    #[test]
    fn bodies_are_framed_by_chunks_length_or_the_end() {
        let cases: &[(&[u8], u16, &[u8])] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", 200, b"OK"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOKtrailing", 200, b"OK"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n", 200, b"OK"),
            // Chunked wins over a Content-Length (RFC 9112 §6.3).
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                200,
                b"x",
            ),
            (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", 200, b"to the end"),
            (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", 404, b"nope"),
            (b"HTTP/1.0 200 OK\r\n\r\nold", 200, b"old"),
        ];
        for (wire, status, body) in cases {
            for step in [1, 5, 8192] {
                let got = respond(wire, step).unwrap_or_else(|e| panic!("{wire:?}: {e:?}"));
                assert_eq!(got, (*status, body.to_vec()), "{wire:?} step {step}");
            }
        }
    }

    #[test]
    fn bad_answers_are_errors() {
        let protocol: &[&[u8]] = &[
            b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nOK",
            b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\nOK",
            b"HTTP/1.1 200 OK\r\nContent-Le",
        ];
        for wire in protocol {
            assert!(matches!(respond(wire, 3), Err(HttpError::Protocol(_))), "{wire:?}");
        }
        let Err(HttpError::Io(e)) = respond(b"", 8) else { panic!("an empty answer is an I/O error") };
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let Err(HttpError::Io(e)) = respond(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 8) else {
            panic!("a short body is an error")
        };
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
        while endless.len() < MAX_HEAD + 10 {
            endless.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        assert!(matches!(respond(&endless, 8192), Err(HttpError::Protocol(_))));
    }

    #[test]
    fn the_request_is_plain_http_1_1() {
        let mut out = Vec::new();
        send_get(&mut out, "docker", "/images/app:1/json").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /images/app:1/json HTTP/1.1\r\nHost: docker\r\n"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n"), "{text}");
    }
}
