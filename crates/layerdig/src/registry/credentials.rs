//! Credentials for a registry: given on the command line, or looked up in the auth files
//! skopeo and podman read (containers-auth.json(5)), in the same order:
//!
//! 1. `--creds USER:PASS`;
//! 2. `--authfile FILE`, else `$REGISTRY_AUTH_FILE`: that file alone;
//! 3. otherwise, the first of these that has credentials for the registry:
//!    `$XDG_RUNTIME_DIR/containers/auth.json` (or `/run/containers/UID/auth.json`),
//!    `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`),
//!    `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`), and the legacy `~/.dockercfg`.
//!
//! In a file, a `credHelpers` entry for the host wins; then the `auths` entries, the most
//! specific first (`host/namespace/repo`, `host/namespace`, `host`, then a legacy key with a
//! scheme or path such as `https://host/v1/`), each with `auth` (base64 `user:password`) or
//! `username` and `password`; then the file's `credsStore`. A helper is run as
//! `docker-credential-NAME get` with the host on its standard input and answers
//! `{"Username": …, "Secret": …}` on its standard output.
//!
//! A password never leaves this module in a printable form: [`Secret`]'s `Debug` and `Display`
//! say `<redacted>`, and errors name files, hosts and helpers only.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use super::error::RegistryErrorKind;

/// A password or token: kept out of every `Debug`, `Display` and error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a password or token.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place it is sent.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and password for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password (or a personal access token used as one).
    pub password: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &self.password).finish()
    }
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials { username: username.into(), password: Secret::new(password) }
    }

    /// `USER:PASS`, as `--creds` takes it (the password may hold colons).
    ///
    /// # Errors
    /// [`RegistryErrorKind::Credentials`] when there is no colon or no user name; the message
    /// does not repeat the argument.
    pub fn parse(user_colon_pass: &str) -> Result<Credentials, RegistryErrorKind> {
        match user_colon_pass.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Ok(Credentials::new(user, pass)),
            _ => Err(RegistryErrorKind::Credentials("--creds takes USER:PASSWORD".into())),
        }
    }

    /// The `Authorization: Basic …` value.
    pub(crate) fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Where credentials come from, in the order they are looked for.
#[derive(Debug, Clone, Default)]
pub struct CredentialSource {
    /// `--creds`: used for every registry, no file is read.
    pub creds: Option<Credentials>,
    /// `--authfile`: the one file read (else `$REGISTRY_AUTH_FILE`, else the default files).
    pub authfile: Option<PathBuf>,
}

impl CredentialSource {
    /// The credentials for `repository` on `host` (`host[:port]`), or `None` to go anonymous.
    ///
    /// # Errors
    /// [`RegistryErrorKind::Credentials`] when an auth file exists and cannot be read or
    /// parsed, or a credential helper fails other than by knowing no credentials.
    pub fn lookup(&self, host: &str, repository: &str) -> Result<Option<Credentials>, RegistryErrorKind> {
        if let Some(creds) = &self.creds {
            return Ok(Some(creds.clone()));
        }
        for (path, legacy) in self.auth_files() {
            if let Some(creds) = lookup_in_file(&path, legacy, host, repository)? {
                return Ok(Some(creds));
            }
        }
        Ok(None)
    }

    /// The auth files read, in order, and whether each is in the legacy `.dockercfg` format.
    pub fn auth_files(&self) -> Vec<(PathBuf, bool)> {
        if let Some(path) = &self.authfile {
            return vec![(path.clone(), false)];
        }
        if let Some(path) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
            return vec![(PathBuf::from(path), false)];
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut files = Vec::new();
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
            Some(dir) => files.push((Path::new(&dir).join("containers/auth.json"), false)),
            None => files.push((PathBuf::from(format!("/run/containers/{}/auth.json", uid())), false)),
        }
        match (std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()), &home) {
            (Some(dir), _) => files.push((Path::new(&dir).join("containers/auth.json"), false)),
            (None, Some(home)) => files.push((home.join(".config/containers/auth.json"), false)),
            (None, None) => {}
        }
        match (std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()), &home) {
            (Some(dir), _) => files.push((Path::new(&dir).join("config.json"), false)),
            (None, Some(home)) => files.push((home.join(".docker/config.json"), false)),
            (None, None) => {}
        }
        if let Some(home) = &home {
            files.push((home.join(".dockercfg"), true));
        }
        files
    }
}

/// The user id, from `/proc/self` (no libc call needed).
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn lookup_in_file(
    path: &Path,
    legacy: bool,
    host: &str,
    repository: &str,
) -> Result<Option<Credentials>, RegistryErrorKind> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryErrorKind::Credentials(format!("{}: {e}", path.display()))),
    };
    // serde_json's messages quote no input, only positions: safe to show.
    let bad = |e: serde_json::Error| RegistryErrorKind::Credentials(format!("{}: {e}", path.display()));
    let file: AuthFile = if legacy {
        AuthFile { auths: serde_json::from_slice(&bytes).map_err(bad)?, ..AuthFile::default() }
    } else {
        serde_json::from_slice(&bytes).map_err(bad)?
    };
    if let Some(helper) = file.cred_helpers.get(host) {
        return run_helper(helper, host);
    }
    for key in candidate_keys(host, repository) {
        if let Some(entry) = file.auths.get(&key)
            && let Some(creds) = entry_credentials(entry, path, &key)?
        {
            return Ok(Some(creds));
        }
    }
    // Legacy keys: a scheme and a path around the host (`https://host/v1/`).
    for (key, entry) in &file.auths {
        if normalize_key(key) == host
            && let Some(creds) = entry_credentials(entry, path, key)?
        {
            return Ok(Some(creds));
        }
    }
    match &file.creds_store {
        Some(store) if !store.is_empty() => run_helper(store, host),
        _ => Ok(None),
    }
}

/// `host/a/b/c`, `host/a/b`, `host/a`, `host`: the most specific key first.
fn candidate_keys(host: &str, repository: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut scope = format!("{host}/{repository}");
    loop {
        keys.push(scope.clone());
        match scope.rfind('/') {
            Some(i) => scope.truncate(i),
            None => break,
        }
    }
    if host == "docker.io" {
        keys.push("index.docker.io".into());
    }
    keys
}

fn normalize_key(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    if host == "index.docker.io" || host == "registry-1.docker.io" { "docker.io" } else { host }
}

fn entry_credentials(entry: &AuthEntry, path: &Path, key: &str) -> Result<Option<Credentials>, RegistryErrorKind> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || {
            RegistryErrorKind::Credentials(format!(
                "{}: the auth of {key} is not base64 of user:password",
                path.display()
            ))
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::new(user, pass)));
    }
    match (&entry.username, &entry.password) {
        (Some(user), Some(pass)) if !user.is_empty() => Ok(Some(Credentials::new(user.as_str(), pass.as_str()))),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-NAME get`, the host on standard input.
fn run_helper(name: &str, host: &str) -> Result<Option<Credentials>, RegistryErrorKind> {
    if name.is_empty() || name.contains('/') {
        return Err(RegistryErrorKind::Credentials(format!("credential helper name {name:?} is not a plain name")));
    }
    let program = format!("docker-credential-{name}");
    let fail = |what: String| RegistryErrorKind::Credentials(format!("{program} get {host}: {what}"));
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is reported by its status below.
        let _ = stdin.write_all(host.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        // The helpers' protocol says "credentials not found in native keychain" on stdout.
        let said = String::from_utf8_lossy(&output.stdout);
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        // Its output is not shown: a broken helper could print anything.
        return Err(fail(format!("exited with {}", output.status)));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|_| fail("its answer is not the JSON {Username, Secret}".into()))?;
    if answer.username == "<token>" {
        // An identity token (OAuth2 refresh token) is not supported: go on without credentials.
        return Ok(None);
    }
    Ok(Some(Credentials::new(answer.username, answer.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_password() {
        let creds = Credentials::parse("alice:s3cr3t:with:colons").unwrap();
        assert_eq!(creds.password.expose(), "s3cr3t:with:colons");
        let shown = format!("{creds:?} {} {:?}", creds.password, creds.password);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(Credentials::parse("nocolon").is_err());
        assert!(!format!("{}", Credentials::parse("s3cr3t").unwrap_err()).contains("s3cr3t"));
    }

    #[test]
    fn keys_from_most_specific() {
        assert_eq!(candidate_keys("h:5000", "a/b"), ["h:5000/a/b", "h:5000/a", "h:5000"]);
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("http://h:5000/v2/"), "h:5000");
    }

    #[test]
    fn reads_auth_and_username_password_and_repository_scoped_entries() {
        let dir = tempdir();
        let path = dir.join("auth.json");
        std::fs::write(
            &path,
            r#"{"auths": {
                "h:5000": {"auth": "YWxpY2U6cGFzcw=="},
                "h:5000/team/app": {"username": "bob", "password": "word"},
                "https://legacy:1/v1/": {"auth": "Y2Fyb2w6eA=="}
            }}"#,
        )
        .unwrap();
        let source = CredentialSource { creds: None, authfile: Some(path.clone()) };
        let got = source.lookup("h:5000", "other").unwrap().unwrap();
        assert_eq!((got.username.as_str(), got.password.expose()), ("alice", "pass"));
        let got = source.lookup("h:5000", "team/app").unwrap().unwrap();
        assert_eq!((got.username.as_str(), got.password.expose()), ("bob", "word"));
        let got = source.lookup("legacy:1", "x").unwrap().unwrap();
        assert_eq!(got.username, "carol");
        assert!(source.lookup("elsewhere", "x").unwrap().is_none());
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(source.lookup("h:5000", "x"), Err(RegistryErrorKind::Credentials(_))));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_explicit_authfile_is_the_only_file() {
        let source = CredentialSource { creds: None, authfile: Some("/nonexistent/auth.json".into()) };
        assert_eq!(source.auth_files().len(), 1);
        assert!(source.lookup("h", "r").unwrap().is_none());
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "layerdig-creds-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
