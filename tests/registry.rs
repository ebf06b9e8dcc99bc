//! Real registries for the registry tests: Debian's `docker-registry` (distribution 2.8) on
//! 127.0.0.1 with a free port, its storage in a temporary directory, TLS with a CA and a server
//! certificate made by `openssl`, and either htpasswd (bcrypt) or token authentication with a
//! token server written here; images pushed with `skopeo copy` from the committed fixtures.
//!
//! Every registry, token server and proxy stops when its handle is dropped. A registry also
//! stops when the test process ends however it ends: it runs under a shell that waits on a pipe
//! from this process and kills it when the pipe closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Fails the test, saying what to install, when a tool is missing.
pub fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found || Path::new(tool).is_file(),
        "the registry tests need `{tool}`: install it with `apt-get install {package}` (scripts/test.sh does)"
    );
}

/// Every tool the registry tests run.
pub fn require_all() {
    require("/usr/bin/docker-registry", "docker-registry");
    require("skopeo", "skopeo");
    require("openssl", "openssl");
    require("htpasswd", "apache2-utils");
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A CA, a server certificate it signed for IP 127.0.0.1, and a signing key with a
/// self-signed certificate for tokens, made by `openssl` in `dir`.
pub struct Pki {
    /// The directory everything is in.
    pub dir: PathBuf,
    /// A directory holding only `ca.crt`: what `--cert-dir` takes.
    pub cert_dir: PathBuf,
}

impl Pki {
    /// Make them.
    pub fn new(dir: &Path) -> Pki {
        let dir = dir.to_path_buf();
        let openssl = |args: &[&str]| {
            run(Command::new("openssl").args(args).current_dir(&dir));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=layerdig test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=layerdig test token issuer",
        ]);
        let cert_dir = dir.join("certs");
        std::fs::create_dir_all(&cert_dir).expect("mkdir");
        std::fs::copy(dir.join("ca.crt"), cert_dir.join("ca.crt")).expect("copy ca");
        Pki { dir, cert_dir }
    }
}

/// How a registry authenticates.
pub enum Auth<'a> {
    /// None, plain HTTP (no TLS).
    PlainAnonymous,
    /// htpasswd (bcrypt) with one user, over TLS.
    Htpasswd { user: &'a str, password: &'a str },
    /// Token authentication against a token server, over TLS.
    Token { realm: String },
}

/// A running `docker-registry`.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    child: Child,
    _storage: tempfile::TempDir,
}

/// The token service's name and issuer, as the registry's config and the token server say them.
pub const TOKEN_SERVICE: &str = "layerdig-test-registry";
/// The token issuer.
pub const TOKEN_ISSUER: &str = "layerdig-test-issuer";

impl Registry {
    /// Start one and wait until it answers.
    pub fn start(pki: &Pki, auth: Auth) -> Registry {
        let storage = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            storage.path().join("data").display()
        );
        match &auth {
            Auth::PlainAnonymous => {}
            Auth::Htpasswd { user, password } => {
                let out = run(Command::new("htpasswd").args(["-Bbn", user, password]));
                let file = storage.path().join("htpasswd");
                std::fs::write(&file, out.stdout).expect("write htpasswd");
                config.push_str(&tls_config(pki));
                config
                    .push_str(&format!("auth:\n  htpasswd:\n    realm: layerdig-test\n    path: {}\n", file.display()));
            }
            Auth::Token { realm } => {
                config.push_str(&tls_config(pki));
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    pki.dir.join("token.crt").display()
                ));
            }
        }
        let config_path = storage.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        // The shell kills the registry when this process's end of the pipe closes.
        let child = Command::new("sh")
            .arg("-c")
            .arg("/usr/bin/docker-registry serve \"$1\" >\"$2\" 2>&1 & pid=$!; read _ignored; kill $pid")
            .arg("sh")
            .arg(&config_path)
            .arg(storage.path().join("registry.log"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry { host, child, _storage: storage };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {} within 20 s; its log: {}",
                registry.host,
                std::fs::read_to_string(registry._storage.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// `docker://HOST/REPO:TAG`.
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.host)
    }

    /// `skopeo copy SOURCE docker://HOST/REPO:TAG` with the given extra flags.
    pub fn push(&self, source: &str, repo_tag: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--retry-times", "2"]).args(extra).arg(source).arg(self.reference(repo_tag));
        // skopeo must not pick up the machine's policy or auth files.
        let policy = self._storage.path().join("policy.json");
        std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).expect("write policy");
        cmd.arg("--policy").arg(&policy);
        cmd.env("REGISTRY_AUTH_FILE", self._storage.path().join("no-auth.json"));
        run(&mut cmd);
    }
}

fn tls_config(pki: &Pki) -> String {
    format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        pki.dir.join("server.crt").display(),
        pki.dir.join("server.key").display()
    )
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Closing the pipe makes the shell kill the registry; then the shell ends.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn b64url(bytes: &[u8]) -> String {
    crate::base64(bytes).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// A token server: `GET /token?service=…&scope=…` with Basic credentials of its one user
/// answers an RS256 JWT (signed by `openssl dgst`, the signing certificate in `x5c`) granting
/// the scope asked for, with `expires_in`. Counts the tokens it issued.
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// Tokens issued so far.
    pub issued: Arc<std::sync::atomic::AtomicUsize>,
    /// Every token issued, for the tests that check no output holds one.
    pub tokens: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl TokenServer {
    /// Start it.
    pub fn start(pki: &Pki, user: &str, password: &str) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
        let expected = format!("Basic {}", crate::base64(format!("{user}:{password}").as_bytes()));
        let key = pki.dir.join("token.key");
        let pem = std::fs::read_to_string(pki.dir.join("token.crt")).expect("token cert");
        let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let (stop2, issued2, tokens2) = (stop.clone(), issued.clone(), tokens.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = serve_token(stream, &expected, &key, &der_b64, &issued2, &tokens2);
            }
        });
        TokenServer { realm: format!("http://127.0.0.1:{port}/token"), issued, tokens, stop, port }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_token(
    stream: TcpStream,
    expected: &str,
    key: &Path,
    x5c: &str,
    issued: &std::sync::atomic::AtomicUsize,
    tokens: &std::sync::Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_string());
        }
    }
    let mut stream = stream;
    if authorization.as_deref() != Some(expected) {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#;
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for pair in query.split('&') {
        let Some(("scope", value)) = pair.split_once('=') else { continue };
        let scope = percent_decode(value);
        // type:name:actions, the name may hold colons (a port).
        let mut parts = scope.splitn(2, ':');
        let kind = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        let Some((name, actions)) = rest.rsplit_once(':') else { continue };
        let actions: Vec<&str> = actions.split(',').collect();
        access.push(serde_json::json!({"type": kind, "name": name, "actions": actions}));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let n = issued.fetch_add(1, Ordering::SeqCst);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER, "sub": "tester", "aud": TOKEN_SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("token-{n}"), "access": access,
    });
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    openssl.stdin.take().expect("stdin").write_all(signing_input.as_bytes())?;
    let out = openssl.wait_with_output()?;
    let jwt = format!("{signing_input}.{}", b64url(&out.stdout));
    tokens.lock().expect("lock").push(jwt.clone());
    let body = serde_json::json!({"token": jwt, "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}).to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A TCP proxy in front of a plain-HTTP registry that cuts the connection partway through the
/// response to a request whose target contains `cut_path`: after the response's head and the
/// first `keep` bytes of its body, both sockets are shut down.
pub struct CuttingProxy {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// How many responses were cut.
    pub cuts: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CuttingProxy {
    /// Start it in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str, cut_path: &str, keep: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stop2, cuts2, upstream, cut_path) =
            (stop.clone(), cuts.clone(), upstream.to_string(), cut_path.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let armed = Arc::new(AtomicBool::new(false));
                // Client to server: watch for the request to cut.
                {
                    let (mut from, mut to) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                    let (armed, cut_path) = (armed.clone(), cut_path.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 << 10];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            if String::from_utf8_lossy(&buf[..n]).contains(&cut_path) {
                                armed.store(true, Ordering::SeqCst);
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
                // Server to client: after the armed request, pass the response's head and
                // `keep` bytes of its body, then cut.
                let cuts = cuts2.clone();
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let mut buf = [0u8; 16 << 10];
                    let mut held: Vec<u8> = Vec::new();
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if armed.load(Ordering::SeqCst) {
                            held.extend_from_slice(&buf[..n]);
                            let Some(head) = held.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                            let end = head + 4 + keep;
                            if held.len() < end {
                                continue;
                            }
                            let _ = to.write_all(&held[..end]);
                            let _ = to.flush();
                            cuts.fetch_add(1, Ordering::SeqCst);
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            break;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        CuttingProxy { host, cuts, stop }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}
