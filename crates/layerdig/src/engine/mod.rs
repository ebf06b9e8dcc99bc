//! Images where they live: a client of the Docker Engine API, which Docker's daemon and podman's
//! Docker-compatible service (`podman system service`) both speak.
//!
//! Three calls: `GET /_ping` (is anything there?), `GET /images/{name}/json` (is the image
//! there? its id and tags) and `GET /images/{name}/get`, whose body is the image as
//! `docker save` writes it, streamed: [`Client::export`] hands back a [`Read`] the scanner
//! consumes as the bytes arrive (`Scanner::scan_reader`), so memory does not grow with the
//! image. Nothing is written to disk.
//!
//! - `endpoint.rs`: where the engine listens ([`Endpoint`]: `DOCKER_HOST`, `--daemon-host`);
//! - `http.rs`: one HTTP/1.1 `GET` and its response (head parsed by `httparse`);
//! - `chunked.rs`: the chunked transfer coding the export streams in.
//!
//! ```no_run
//! use layerdig::engine::{Client, Endpoint};
//!
//! let client = Client::new(Endpoint::resolve(None).map_err(|kind| layerdig::Error::Daemon {
//!     image: "docker-daemon:app:1".into(),
//!     kind,
//! })?);
//! let (info, mut export) = client.open("app:1")?;
//! println!("{} {:?}", info.id, info.repo_tags);
//! std::io::copy(&mut export, &mut std::io::sink())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chunked;
mod endpoint;
mod http;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

pub use self::endpoint::{DEFAULT_SOCKET, Endpoint};
use self::http::{Body, HttpError, Response};
use crate::error::{DaemonErrorKind, Error};

/// How long to wait to connect over TCP, and for the answer to a ping or an inspect.
const SHORT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the export may go without a byte (the engine may assemble a large layer first).
const EXPORT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The most bytes read of an error document or of an inspect answer.
const MAX_DOCUMENT: u64 = 4 << 20;
/// The most characters of an engine's error message repeated in an error.
const MAX_MESSAGE: usize = 300;

/// What the engine says of an image (`GET /images/{name}/json`): only these fields are kept
/// (the rest, the configuration with its environment among them, is read by the scanner from
/// the export).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ImageInfo {
    /// The image id, `sha256:…` (the config's digest).
    #[serde(rename = "Id")]
    pub id: String,
    /// Its tags, `localhost/app:1`.
    #[serde(rename = "RepoTags", default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// Its repository digests, `registry/app@sha256:…`.
    #[serde(rename = "RepoDigests", default, deserialize_with = "null_as_empty")]
    pub repo_digests: Vec<String>,
    /// Its size as the engine counts it.
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// The engine's export of an image: a `docker save` tar (classic, or Docker ≥ 25's OCI layout),
/// read as it arrives.
pub struct Export {
    body: Body<Stream>,
    endpoint: String,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl Read for Export {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf).map_err(|e| {
            let message = match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    format!("the daemon at {} sent nothing for {} s", self.endpoint, EXPORT_IDLE_TIMEOUT.as_secs())
                }
                _ => format!("the image stream from the daemon at {} broke off: {e}", self.endpoint),
            };
            io::Error::new(e.kind(), message)
        })
    }
}

/// A client of one engine. Each call opens its own connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    endpoint: Endpoint,
}

impl Client {
    /// A client of the engine at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Client {
        Client { endpoint }
    }

    /// The endpoint it talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether an engine answers (`GET /_ping`).
    ///
    /// # Errors
    /// [`DaemonErrorKind::Unreachable`] when nothing listens or what listens is not an engine;
    /// [`DaemonErrorKind::PermissionDenied`] when the socket may not be opened.
    pub fn ping(&self) -> Result<(), DaemonErrorKind> {
        let request = "GET /_ping";
        let mut response = self.get("/_ping", SHORT_TIMEOUT).map_err(|e| match e {
            // Something that does not speak HTTP is not an engine to talk to.
            DaemonErrorKind::Protocol { endpoint, message, .. } => DaemonErrorKind::Unreachable {
                endpoint,
                reason: format!("what answers does not speak HTTP: {message}"),
            },
            other => other,
        })?;
        if response.status != 200 {
            let message = self.message(&mut response.body);
            return Err(DaemonErrorKind::Unreachable {
                endpoint: self.endpoint.to_string(),
                reason: format!("{request} answered {}: {message}", response.status),
            });
        }
        Ok(())
    }

    /// What the engine knows of the image `name` (`NAME[:TAG]`, `NAME@sha256:…` or an id):
    /// `GET /images/{name}/json`.
    ///
    /// # Errors
    /// [`DaemonErrorKind::NoSuchImage`] for a 404, and the connection's errors.
    pub fn inspect(&self, name: &str) -> Result<ImageInfo, DaemonErrorKind> {
        let path = format!("/images/{}/json", encode_name(name)?);
        let mut response = self.get(&path, SHORT_TIMEOUT)?;
        self.check(&mut response, name, &path)?;
        let mut text = Vec::new();
        response
            .body
            .by_ref()
            .take(MAX_DOCUMENT)
            .read_to_end(&mut text)
            .map_err(|e| self.protocol(&path, format!("reading the answer: {e}")))?;
        serde_json::from_slice(&text).map_err(|e| self.protocol(&path, format!("not the image JSON expected: {e}")))
    }

    /// The image `name` as the engine exports it (`GET /images/{name}/get`): a `docker save` tar,
    /// streamed.
    ///
    /// # Errors
    /// [`DaemonErrorKind::NoSuchImage`] for a 404, and the connection's errors. Errors while the
    /// stream is read are `io::Error`s from the reader.
    pub fn export(&self, name: &str) -> Result<Export, DaemonErrorKind> {
        let path = format!("/images/{}/get", encode_name(name)?);
        let mut response = self.get(&path, EXPORT_IDLE_TIMEOUT)?;
        self.check(&mut response, name, &path)?;
        Ok(Export { body: response.body, endpoint: self.endpoint.to_string() })
    }

    /// Ping, inspect and start the export of `name`: the one call a scan makes. Its errors name
    /// the image as `docker-daemon:NAME`.
    ///
    /// # Errors
    /// [`Error::Daemon`], with the kind of [`Client::ping`], [`Client::inspect`] or
    /// [`Client::export`].
    pub fn open(&self, name: &str) -> Result<(ImageInfo, Export), Error> {
        let wrap = |kind| Error::Daemon { image: format!("docker-daemon:{name}"), kind };
        encode_name(name).map_err(wrap)?;
        self.ping().map_err(wrap)?;
        let info = self.inspect(name).map_err(wrap)?;
        let export = self.export(name).map_err(wrap)?;
        Ok((info, export))
    }

    /// Send `GET path` and read the response's head.
    fn get(&self, path: &str, timeout: Duration) -> Result<Response<Stream>, DaemonErrorKind> {
        let mut stream = self.connect(timeout)?;
        let request = format!("GET {path}");
        let io_error = |e: io::Error| self.io_error(&request, e);
        http::send_get(&mut stream, &self.endpoint.host_header(), path).map_err(io_error)?;
        http::read_response(stream).map_err(|e| match e {
            HttpError::Io(e) => io_error(e),
            HttpError::Protocol(message) => self.protocol(path, message),
        })
    }

    fn connect(&self, timeout: Duration) -> Result<Stream, DaemonErrorKind> {
        let endpoint = self.endpoint.to_string();
        let unreachable = |e: io::Error| match e.kind() {
            io::ErrorKind::PermissionDenied => DaemonErrorKind::PermissionDenied { endpoint: endpoint.clone() },
            _ => DaemonErrorKind::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() },
        };
        let stream = match &self.endpoint {
            #[cfg(unix)]
            Endpoint::Unix(path) => Stream::Unix(std::os::unix::net::UnixStream::connect(path).map_err(unreachable)?),
            #[cfg(not(unix))]
            Endpoint::Unix(_) => {
                return Err(DaemonErrorKind::BadEndpoint {
                    endpoint,
                    reason: "Unix sockets are not available on this system".into(),
                });
            }
            Endpoint::Tcp { host, port } => {
                let addrs: Vec<_> = (host.trim_start_matches('[').trim_end_matches(']'), *port)
                    .to_socket_addrs()
                    .map_err(unreachable)?
                    .collect();
                let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
                let mut connected = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, SHORT_TIMEOUT) {
                        Ok(s) => {
                            connected = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                Stream::Tcp(connected.ok_or_else(|| unreachable(last))?)
            }
        };
        stream.set_timeouts(timeout).map_err(unreachable)?;
        Ok(stream)
    }

    /// A 404 is no such image; any other status but 200 is the engine's error.
    fn check(&self, response: &mut Response<Stream>, name: &str, path: &str) -> Result<(), DaemonErrorKind> {
        match response.status {
            200 => Ok(()),
            404 => Err(DaemonErrorKind::NoSuchImage { name: name.to_string(), endpoint: self.endpoint.to_string() }),
            status => Err(DaemonErrorKind::Status {
                endpoint: self.endpoint.to_string(),
                request: format!("GET {path}"),
                status,
                message: self.message(&mut response.body),
            }),
        }
    }

    /// The `message` of an engine's error document (`{"message": "…"}`), or its first words,
    /// shortened and without control characters.
    fn message(&self, body: &mut Body<Stream>) -> String {
        let text = body.text(MAX_DOCUMENT).unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or(text);
        let mut clean: String =
            message.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_MESSAGE).collect();
        if message.trim().chars().count() > MAX_MESSAGE {
            clean.push('…');
        }
        if clean.is_empty() { "(no message)".to_string() } else { clean }
    }

    fn io_error(&self, request: &str, e: io::Error) -> DaemonErrorKind {
        let endpoint = self.endpoint.to_string();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                DaemonErrorKind::Unreachable { endpoint, reason: format!("no answer to {request} in time") }
            }
            _ => DaemonErrorKind::Unreachable { endpoint, reason: format!("{request}: {e}") },
        }
    }

    fn protocol(&self, path: &str, message: String) -> DaemonErrorKind {
        DaemonErrorKind::Protocol { endpoint: self.endpoint.to_string(), request: format!("GET {path}"), message }
    }
}

/// An image name as a path segment of the Engine API: `NAME[:TAG]`, `NAME@sha256:…`, an id or
/// `sha256:` id. Docker's references use only ASCII letters, digits and `._-/:@`; anything else
/// cannot name an image, and is refused rather than sent.
fn encode_name(name: &str) -> Result<String, DaemonErrorKind> {
    let bad = || DaemonErrorKind::BadName(name.to_string());
    if name.is_empty()
        || name.len() > 1024
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b))
        || name.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(bad());
    }
    Ok(name.to_string())
}

/// A connection to the engine.
#[derive(Debug)]
enum Stream {
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_timeouts(&self, timeout: Duration) -> io::Result<()> {
        match self {
            #[cfg(unix)]
            Stream::Unix(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(SHORT_TIMEOUT))
            }
            Stream::Tcp(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(SHORT_TIMEOUT))
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(unix)]
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_sent_only_when_they_can_be_names() {
        for ok in [
            "app",
            "app:1",
            "localhost/layerdig-demo:1",
            "registry.example:5000/team/app@sha256:93fc6852550ac463e94ccca1e27a43c26b5fc7328ba59c25ae1a381822262aee",
            "sha256:ef1dd7f1bcbcff48a5f7831e332d948765dc88c0b16e994e4a281936803b3adb",
            "ef1dd7f1bcbc",
        ] {
            assert_eq!(encode_name(ok).unwrap(), ok);
        }
        for bad in ["", "app:1?x=y", "a b", "../../containers/json", "app/", "/app", "a//b", "ä", "app#1", "a%2fb"] {
            assert_eq!(encode_name(bad), Err(DaemonErrorKind::BadName(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn nothing_listening_is_a_clear_error() {
        let client = Client::new(Endpoint::Unix("/nonexistent/layerdig-engine-test/none.sock".into()));
        let e = client.open("app:1").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("docker-daemon:app:1: cannot reach the Docker daemon at unix://"), "{text}");
        assert!(text.contains("is it running? set DOCKER_HOST"), "{text}");
        assert_eq!(e.kind(), crate::ErrorKind::Unreachable);
        assert!(e.is_incomplete());
    }

    #[test]
    fn inspect_keeps_only_the_image_s_names() {
        let info: ImageInfo = serde_json::from_str(
            r#"{"Id":"sha256:ef1d","RepoTags":null,"RepoDigests":["a@sha256:93fc"],"Size":5,
                "Config":{"Env":["SLACK_TOKEN=xoxb-not-kept"]}}"#,
        )
        .unwrap();
        assert_eq!(info.id, "sha256:ef1d");
        assert!(info.repo_tags.is_empty());
        assert!(!format!("{info:?}").contains("xoxb"));
    }
}
