//! One registry's HTTP client: the scheme and authentication learnt from `GET /v2/`, every
//! request authorised for its scope, retried on 429 and 5xx with backoff (`Retry-After`
//! honoured), redirects followed by hand so that an `Authorization` header goes only to the
//! scheme, host and port it was made for, and failures turned into [`RegistryErrorKind`]s.

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::http::{Response, StatusCode};

use super::RegistryOptions;
use super::auth::{self, Challenge, Scheme, TokenAnswer, TokenCache};
use super::credentials::{CredentialSource, Credentials};
use super::error::RegistryErrorKind;
use super::tls;

/// How many times a request answered by 429 or 5xx (or a reset connection) is tried.
const ATTEMPTS: u32 = 4;
/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How many redirects a request follows.
const MAX_REDIRECTS: u32 = 10;

/// What a request is for: names the thing in errors and says what a 404 means.
#[derive(Debug, Clone)]
pub(crate) enum What<'a> {
    /// The `/v2/` probe.
    Ping,
    /// A manifest by tag or digest.
    Manifest { repository: &'a str, reference: &'a str },
    /// A blob by digest.
    Blob { repository: &'a str, digest: &'a str },
    /// A repository's tag list.
    Tags { repository: &'a str },
    /// The repository list.
    Catalog,
    /// A token for a repository (or the catalog).
    Token { repository: &'a str },
}

impl What<'_> {
    fn scope(&self) -> Option<String> {
        match self {
            What::Ping => None,
            What::Manifest { repository, .. } | What::Blob { repository, .. } | What::Tags { repository } => {
                Some(format!("repository:{repository}:pull"))
            }
            What::Catalog => Some("registry:catalog:*".into()),
            What::Token { .. } => None,
        }
    }

    fn repository(&self) -> &str {
        match self {
            What::Manifest { repository, .. }
            | What::Blob { repository, .. }
            | What::Tags { repository }
            | What::Token { repository } => repository,
            What::Ping | What::Catalog => "catalog",
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            What::Ping => "the API probe /v2/".into(),
            What::Manifest { repository, reference } => format!("manifest {repository}{}{reference}", sep(reference)),
            What::Blob { repository, digest } => format!("blob {repository}@{digest}"),
            What::Tags { repository } => format!("tag list of {repository}"),
            What::Catalog => "repository list".into(),
            What::Token { repository } => format!("token for {repository}"),
        }
    }

    fn not_found(&self, status: u16, message: String) -> RegistryErrorKind {
        match self {
            What::Manifest { repository, reference } => RegistryErrorKind::ManifestUnknown {
                repository: repository.to_string(),
                reference: reference.to_string(),
            },
            What::Blob { repository, digest } => {
                RegistryErrorKind::BlobUnknown { repository: repository.to_string(), digest: digest.to_string() }
            }
            _ => RegistryErrorKind::Status { what: self.describe(), status, attempts: 1, message },
        }
    }
}

fn sep(reference: &str) -> &'static str {
    if reference.contains(':') { "@" } else { ":" }
}

/// What `GET /v2/` taught: where the API is and how to authorise.
#[derive(Debug)]
struct Endpoint {
    /// `https://host:port` or, with `--tls-verify=false` and no TLS there, `http://host:port`.
    base: String,
    scheme: Scheme,
}

/// A client of one registry.
pub struct Client {
    /// `host[:port]` as the reference names it.
    host: String,
    /// The host requests go to (`docker.io` is served by `registry-1.docker.io`).
    api_host: String,
    agent: Agent,
    verify: bool,
    source: CredentialSource,
    endpoint: Mutex<Option<std::sync::Arc<Endpoint>>>,
    credentials: Mutex<std::collections::HashMap<String, Option<Credentials>>>,
    tokens: TokenCache,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials and tokens are left out whole (their Debug redacts them anyway).
        f.debug_struct("Client").field("host", &self.host).field("verify", &self.verify).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `host` (`host[:port]`). Nothing is sent until the first request.
    ///
    /// # Errors
    /// [`RegistryErrorKind::Protocol`] when the certificate directory cannot be read.
    pub fn new(host: &str, options: &RegistryOptions) -> Result<Client, RegistryErrorKind> {
        let tls = tls::config(options.cert_dir.as_deref(), host, options.tls_verify)?;
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .user_agent(concat!("layerdig/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            // Blobs are compressed already; a transfer encoding would only cost.
            .accept_encoding("identity")
            .build()
            .into();
        let api_host = match host {
            "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
            h => h.to_string(),
        };
        Ok(Client {
            host: host.to_string(),
            api_host,
            agent,
            verify: options.tls_verify,
            source: options.credentials.clone(),
            endpoint: Mutex::new(None),
            credentials: Mutex::new(Default::default()),
            tokens: TokenCache::default(),
        })
    }

    /// The registry's `host[:port]`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `GET /v2/`, once: which scheme answers, and how it wants requests authorised.
    fn endpoint(&self) -> Result<std::sync::Arc<Endpoint>, RegistryErrorKind> {
        let mut slot = self.endpoint.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &*slot {
            return Ok(e.clone());
        }
        let https = format!("https://{}", self.api_host);
        let (base, response) = match self.send_with_retries(&format!("{https}/v2/"), None, None, &What::Ping) {
            Ok(r) => (https, r),
            // Like skopeo: plain HTTP only when verification is off, and only when TLS failed.
            Err(RegistryErrorKind::Tls { .. } | RegistryErrorKind::Connect { .. }) if !self.verify => {
                let http = format!("http://{}", self.api_host);
                let r = self.send_with_retries(&format!("{http}/v2/"), None, None, &What::Ping)?;
                (http, r)
            }
            Err(e) => return Err(e),
        };
        let scheme = if response.status() == StatusCode::UNAUTHORIZED {
            match challenge(&response) {
                Some(Challenge::Basic) => Scheme::Basic,
                Some(Challenge::Bearer { realm, service, .. }) => Scheme::Bearer { realm, service },
                None => {
                    return Err(RegistryErrorKind::Protocol(format!(
                        "{}: /v2/ answered 401 without a Basic or Bearer challenge",
                        self.host
                    )));
                }
            }
        } else if response.status().is_success() {
            Scheme::Anonymous
        } else {
            return Err(status_error(&What::Ping, response, 1));
        };
        let endpoint = std::sync::Arc::new(Endpoint { base, scheme });
        *slot = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// The credentials for a repository, looked up once.
    fn credentials_for(&self, repository: &str) -> Result<Option<Credentials>, RegistryErrorKind> {
        let mut cache = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(repository) {
            return Ok(c.clone());
        }
        let found = self.source.lookup(&self.host, repository)?;
        cache.insert(repository.to_string(), found.clone());
        Ok(found)
    }

    /// The `Authorization` value for a request, if it needs one.
    fn authorization(
        &self,
        endpoint: &Endpoint,
        what: &What,
        scope_override: Option<&str>,
    ) -> Result<Option<String>, RegistryErrorKind> {
        match &endpoint.scheme {
            Scheme::Anonymous => Ok(None),
            Scheme::Basic => Ok(self.credentials_for(what.repository())?.as_ref().map(auth::basic)),
            Scheme::Bearer { realm, service } => {
                let Some(scope) = scope_override.map(str::to_string).or_else(|| what.scope()) else {
                    return Ok(None);
                };
                if let Some(token) = self.tokens.get(&scope) {
                    return Ok(Some(auth::bearer(&token)));
                }
                let creds = self.credentials_for(what.repository())?;
                let mut url = format!("{realm}{}scope={}", if realm.contains('?') { '&' } else { '?' }, encode(&scope));
                if let Some(service) = service {
                    url.push_str(&format!("&service={}", encode(service)));
                }
                let asked = Instant::now();
                let token_what = What::Token { repository: what.repository() };
                let mut response =
                    self.send_with_retries(&url, creds.as_ref().map(auth::basic).as_deref(), None, &token_what)?;
                let status = response.status().as_u16();
                if status == 401 || status == 403 {
                    return Err(RegistryErrorKind::Unauthorized { repository: what.repository().to_string() });
                }
                if !response.status().is_success() {
                    return Err(status_error(&token_what, response, 1));
                }
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| connection_error(&self.host, e))?;
                let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
                    RegistryErrorKind::Protocol(format!("the token endpoint's answer for {scope} is not JSON"))
                })?;
                let token = answer.into_token(asked).ok_or_else(|| {
                    RegistryErrorKind::Protocol(format!("the token endpoint's answer for {scope} has no token"))
                })?;
                let header = auth::bearer(&token.value);
                self.tokens.put(&scope, token);
                Ok(Some(header))
            }
        }
    }

    /// `GET path` (under `/v2/`), authorised, retried, redirected: a 2xx response, or the
    /// error its status means.
    pub(crate) fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        what: &What,
    ) -> Result<Response<ureq::Body>, RegistryErrorKind> {
        let endpoint = self.endpoint()?;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", endpoint.base)
        };
        let mut scope_override: Option<String> = None;
        for round in 0..2 {
            let authorization = self.authorization(&endpoint, what, scope_override.as_deref())?;
            let response = self.send_with_retries(&url, authorization.as_deref(), accept, what)?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(response);
            }
            if status == 401 && round == 0 {
                // A token may have expired early, or the registry wants another scope.
                if let Scheme::Bearer { .. } = endpoint.scheme {
                    let asked = match challenge(&response) {
                        Some(Challenge::Bearer { scope: Some(scope), .. }) => scope,
                        _ => what.scope().unwrap_or_default(),
                    };
                    self.tokens.forget(&asked);
                    scope_override = Some(asked);
                    continue;
                }
            }
            return Err(match status {
                401 | 403 => RegistryErrorKind::Unauthorized { repository: what.repository().to_string() },
                404 => what.not_found(status, error_message(response)),
                _ => status_error(what, response, 1),
            });
        }
        Err(RegistryErrorKind::Unauthorized { repository: what.repository().to_string() })
    }

    /// One request, retried on 429, 5xx and reset connections, with redirects followed. The
    /// response of the last attempt is returned whatever its status.
    fn send_with_retries(
        &self,
        url: &str,
        authorization: Option<&str>,
        accept: Option<&str>,
        what: &What,
    ) -> Result<Response<ureq::Body>, RegistryErrorKind> {
        let mut attempt = 1;
        loop {
            let result = self.send_following_redirects(url, authorization, accept);
            let retry = match &result {
                Ok(r) => {
                    let s = r.status().as_u16();
                    (s == 429 || (500..600).contains(&s) && s != 501).then(|| retry_after(r))
                }
                Err(ureq::Error::Io(e)) if is_transient(e) => Some(None),
                Err(_) => None,
            };
            match retry {
                Some(wait) if attempt < ATTEMPTS => {
                    let backoff = Duration::from_millis(250 << attempt.min(6));
                    std::thread::sleep(wait.unwrap_or(backoff).min(MAX_WAIT));
                    attempt += 1;
                }
                _ => {
                    return match result {
                        Ok(r) if retry.is_some() => Err(status_error(what, r, attempt)),
                        Ok(r) => Ok(r),
                        Err(e) => Err(connection_error(&self.host, e)),
                    };
                }
            }
        }
    }

    fn send_following_redirects(
        &self,
        url: &str,
        authorization: Option<&str>,
        accept: Option<&str>,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let mut url = url.to_string();
        let origin = origin(&url).to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.agent.get(&url);
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            // The credentials go to the origin they were made for, never to a redirect's host.
            if let Some(authorization) = authorization.filter(|_| origin_of(&url) == origin) {
                request = request.header("Authorization", authorization);
            }
            let response = request.call()?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let Some(location) = response.headers().get("location").and_then(|l| l.to_str().ok()) else {
                return Ok(response);
            };
            url = resolve(&url, location);
        }
        Err(ureq::Error::TooManyRedirects)
    }

    /// Read a small body whole, at most `limit` bytes.
    pub(crate) fn read_bounded(
        &self,
        mut response: Response<ureq::Body>,
        limit: u64,
        what: &What,
    ) -> Result<Vec<u8>, RegistryErrorKind> {
        match response.body_mut().with_config().limit(limit).read_to_vec() {
            Ok(bytes) => Ok(bytes),
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                Err(RegistryErrorKind::Protocol(format!("{} is larger than {} MiB", what.describe(), limit >> 20)))
            }
            Err(e) => Err(connection_error(&self.host, e)),
        }
    }

    /// A streamed body.
    pub(crate) fn reader(response: Response<ureq::Body>) -> Box<dyn Read + Send> {
        Box::new(response.into_body().into_reader())
    }
}

fn challenge(response: &Response<ureq::Body>) -> Option<Challenge> {
    response.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).find_map(Challenge::parse)
}

fn retry_after(response: &Response<ureq::Body>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe)
}

/// The distribution API's error body: `{"errors":[{"code":…,"message":…}]}`, as
/// `CODE: message; …` (at most 300 characters).
fn error_message(mut response: Response<ureq::Body>) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(bytes) = response.body_mut().with_config().limit(64 << 10).read_to_vec() else {
        return String::new();
    };
    let Ok(body) = serde_json::from_slice::<Body>(&bytes) else {
        return String::new();
    };
    let mut text = body.errors.iter().map(|e| format!("{}: {}", e.code, e.message)).collect::<Vec<_>>().join("; ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn status_error(what: &What, response: Response<ureq::Body>, attempts: u32) -> RegistryErrorKind {
    let status = response.status().as_u16();
    RegistryErrorKind::Status { what: what.describe(), status, attempts, message: error_message(response) }
}

/// A transport failure in words: TLS problems name the certificate error.
pub(crate) fn connection_error(host: &str, e: ureq::Error) -> RegistryErrorKind {
    let host = host.to_string();
    match e {
        ureq::Error::Rustls(e) => RegistryErrorKind::Tls { host, problem: e.to_string() },
        ureq::Error::Tls(e) => RegistryErrorKind::Tls { host, problem: e.to_string() },
        ureq::Error::Io(e) => {
            // rustls reports certificate problems through the socket as I/O errors.
            let problem = e.to_string();
            if problem.contains("certificate")
                || e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) && problem.contains("tls")
            {
                RegistryErrorKind::Tls { host, problem }
            } else {
                RegistryErrorKind::Connect { host, problem }
            }
        }
        ureq::Error::HostNotFound => RegistryErrorKind::Connect { host, problem: "no such host".into() },
        ureq::Error::Timeout(t) => RegistryErrorKind::Connect { host, problem: format!("timed out ({t})") },
        ureq::Error::ConnectionFailed => RegistryErrorKind::Connect { host, problem: "connection failed".into() },
        ureq::Error::TooManyRedirects => {
            RegistryErrorKind::Protocol(format!("{host}: more than {MAX_REDIRECTS} redirects"))
        }
        e => RegistryErrorKind::Protocol(format!("{host}: {e}")),
    }
}

/// `scheme://authority` of a URL, with the default port made explicit.
fn origin_of(url: &str) -> String {
    let o = origin(url);
    match o.split_once("://") {
        Some((scheme, authority)) if !authority.contains(':') || authority.ends_with(']') => {
            format!("{scheme}://{authority}:{}", if scheme == "https" { 443 } else { 80 })
        }
        _ => o.to_string(),
    }
}

fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// A `Location` (absolute, absolute path, or relative) against the URL it answered.
pub(crate) fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let path_end = base.find(['?', '#']).unwrap_or(base.len());
        let dir = base[..path_end].rfind('/').map_or(base, |i| &base[..=i]);
        format!("{dir}{location}")
    }
}

/// Percent-encoding of a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_redirects() {
        assert_eq!(origin_of("https://h/v2/x"), "https://h:443");
        assert_eq!(origin_of("https://h:443/v2/x"), "https://h:443");
        assert_ne!(origin_of("https://h:5000/v2/"), origin_of("https://h:5001/v2/"));
        assert_ne!(origin_of("https://h/v2/"), origin_of("http://h/v2/"));
        assert_eq!(resolve("https://h:1/v2/a/blobs/x", "/store/y?sig=1"), "https://h:1/store/y?sig=1");
        assert_eq!(resolve("https://h:1/v2/a/blobs/x", "https://s3/o"), "https://s3/o");
        assert_eq!(resolve("https://h:1/v2/a/blobs/x", "//cdn/o"), "https://cdn/o");
        assert_eq!(resolve("https://h:1/v2/a/blobs/x?q", "y"), "https://h:1/v2/a/blobs/y");
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
