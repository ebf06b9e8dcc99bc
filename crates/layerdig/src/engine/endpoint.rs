//! Where the container engine listens: `DOCKER_HOST` as Docker's own clients read it
//! (`unix:///path`, `tcp://host:port`), else Docker's default socket.

use std::fmt;
use std::path::PathBuf;

use crate::error::DaemonErrorKind;

/// Docker's default socket, used when neither `--daemon-host` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Docker's plain-HTTP port, for a `tcp://host` without one.
const DEFAULT_TCP_PORT: u16 = 2375;

/// The address of a Docker Engine API (Docker's daemon, or podman's Docker-compatible
/// `podman system service`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A Unix socket: `unix:///var/run/docker.sock`.
    Unix(PathBuf),
    /// Plain HTTP over TCP: `tcp://host:port` (`http://` is read the same way).
    Tcp {
        /// The host name or address (an IPv6 address in brackets).
        host: String,
        /// The port.
        port: u16,
    },
}

impl Endpoint {
    /// Read an endpoint as `DOCKER_HOST` writes it: `unix:///path`, `tcp://host[:port]`,
    /// `http://host[:port]`, or an absolute socket path.
    ///
    /// # Errors
    /// A form that is not one of those (`ssh://`, `npipe://`, `fd://`, TLS), said in words.
    pub fn parse(text: &str) -> Result<Endpoint, DaemonErrorKind> {
        let bad = |why: &str| DaemonErrorKind::BadEndpoint { endpoint: text.to_string(), reason: why.to_string() };
        let text_trimmed = text.trim();
        if text_trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        if text_trimmed.starts_with('/') {
            return Ok(Endpoint::Unix(PathBuf::from(text_trimmed)));
        }
        let Some((scheme, rest)) = text_trimmed.split_once("://") else {
            return Err(bad("expected unix:///path or tcp://host:port"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "unix" => {
                if rest.is_empty() {
                    return Err(bad("the socket path is missing"));
                }
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            "tcp" | "http" => {
                let authority = rest.strip_suffix('/').unwrap_or(rest);
                if authority.contains('/') {
                    return Err(bad("a path after host:port is not supported"));
                }
                let (host, port) = split_host_port(authority).ok_or_else(|| bad("expected tcp://host:port"))?;
                Ok(Endpoint::Tcp { host, port })
            }
            "https" => Err(bad("TLS connections to the daemon are not supported: use its Unix socket or plain tcp://")),
            "ssh" => Err(bad("ssh:// is not supported: forward the socket (ssh -L) and use unix:// or tcp://")),
            "npipe" | "fd" => Err(bad("named pipes and systemd socket fds are not supported")),
            _ => Err(bad("expected unix:///path or tcp://host:port")),
        }
    }

    /// The endpoint to use: `explicit` (the `--daemon-host` option) if given, else `DOCKER_HOST`
    /// if set and not empty, else [`DEFAULT_SOCKET`].
    ///
    /// # Errors
    /// When the one chosen does not parse, or `DOCKER_TLS_VERIFY` asks for TLS, which this
    /// client does not speak.
    pub fn resolve(explicit: Option<&str>) -> Result<Endpoint, DaemonErrorKind> {
        if let Some(text) = explicit {
            return Endpoint::parse(text);
        }
        let from_env = std::env::var("DOCKER_HOST").ok().filter(|v| !v.trim().is_empty());
        let endpoint = match &from_env {
            Some(text) => Endpoint::parse(text)?,
            None => Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
        };
        if matches!(endpoint, Endpoint::Tcp { .. })
            && std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty())
        {
            return Err(DaemonErrorKind::BadEndpoint {
                endpoint: endpoint.to_string(),
                reason: "DOCKER_TLS_VERIFY is set, and TLS connections to the daemon are not supported".into(),
            });
        }
        Ok(endpoint)
    }

    /// The `Host` header of requests to it.
    pub(crate) fn host_header(&self) -> String {
        match self {
            // What Docker's own client sends over a socket.
            Endpoint::Unix(_) => "docker".to_string(),
            Endpoint::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// `host:port`, `host`, `[v6]:port` or `[v6]`.
fn split_host_port(authority: &str) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
            Some(_) => return None,
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        let tcp = |h: &str, p| Endpoint::Tcp { host: h.into(), port: p };
        let cases: &[(&str, Endpoint)] = &[
            ("unix:///var/run/docker.sock", Endpoint::Unix("/var/run/docker.sock".into())),
            ("unix:///run/user/0/podman/podman.sock", Endpoint::Unix("/run/user/0/podman/podman.sock".into())),
            ("/tmp/x.sock", Endpoint::Unix("/tmp/x.sock".into())),
            ("tcp://127.0.0.1:2375", tcp("127.0.0.1", 2375)),
            ("tcp://localhost:8080/", tcp("localhost", 8080)),
            ("tcp://docker", tcp("docker", 2375)),
            ("http://127.0.0.1:9000", tcp("127.0.0.1", 9000)),
            ("tcp://[::1]:2375", tcp("[::1]", 2375)),
            ("tcp://[::1]", tcp("[::1]", 2375)),
        ];
        for (text, want) in cases {
            assert_eq!(&Endpoint::parse(text).unwrap(), want, "{text}");
        }
        assert_eq!(Endpoint::parse("unix:///a/b.sock").unwrap().to_string(), "unix:///a/b.sock");
        assert_eq!(Endpoint::parse("tcp://h").unwrap().to_string(), "tcp://h:2375");
    }

    #[test]
    fn unsupported_forms_say_why() {
        for (text, says) in [
            ("", "empty"),
            ("unix://", "missing"),
            ("ssh://me@host", "ssh"),
            ("https://host:2376", "TLS"),
            ("npipe:////./pipe/docker_engine", "named pipes"),
            ("tcp://host:port", "host:port"),
            ("tcp://host:0", "host:port"),
            ("tcp://host:2375/base", "path"),
            ("tcp://::1:2375", "host:port"),
            ("docker.sock", "unix:///path"),
        ] {
            let e = Endpoint::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
