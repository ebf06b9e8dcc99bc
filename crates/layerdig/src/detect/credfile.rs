//! Credential files: files that are secrets by their path and shape (`.aws/credentials`,
//! `id_rsa`, `etc/shadow`, keystores, shell history, …), reported even when no rule matched
//! their content.

use super::entropy::{Filler, PLACEHOLDER_NOTE, filler, key_kind, parse_url_password};
use super::validate::{ENCRYPTED, find, pem_private_key, trim};
use super::{DetectorInfo, MatchKind};
use crate::finding::{Confidence, Severity};

const fn kind(id: &'static str, name: &'static str, severity: Severity) -> DetectorInfo {
    DetectorInfo { id, name, severity, kind: MatchKind::CredentialFile }
}

/// `.env`, `.env.production`, … (not `.env.example`, `.env.sample`, `.env.template`).
pub(crate) const DOTENV: DetectorInfo = kind("credential-file.dotenv", "Environment file (.env)", Severity::Medium);
/// `id_rsa`, `id_ed25519`, …, and private keys under `.ssh/`.
pub(crate) const SSH_KEY: DetectorInfo =
    kind("credential-file.ssh-private-key", "SSH private key file", Severity::Critical);
/// `*.pem` / `*.key` holding a private key.
pub(crate) const PRIVATE_KEY: DetectorInfo =
    kind("credential-file.private-key", "Private key file", Severity::Critical);
/// `.npmrc` with `_authToken`, `_auth` or `_password`.
pub(crate) const NPMRC: DetectorInfo = kind("credential-file.npmrc", "npm credentials (.npmrc)", Severity::High);
/// `.pypirc` with a password.
pub(crate) const PYPIRC: DetectorInfo = kind("credential-file.pypirc", "PyPI credentials (.pypirc)", Severity::High);
/// `.netrc` / `_netrc` with a password.
pub(crate) const NETRC: DetectorInfo = kind("credential-file.netrc", "netrc credentials", Severity::High);
/// `.git-credentials` with a URL carrying a password.
pub(crate) const GIT_CREDENTIALS: DetectorInfo =
    kind("credential-file.git-credentials", "Git credential store (.git-credentials)", Severity::High);
/// `.docker/config.json` with `auths` holding an `auth`.
pub(crate) const DOCKER_CONFIG: DetectorInfo =
    kind("credential-file.docker-config", "Docker registry credentials (.docker/config.json)", Severity::High);
/// `.aws/credentials` with `aws_secret_access_key`.
pub(crate) const AWS_CREDENTIALS: DetectorInfo =
    kind("credential-file.aws-credentials", "AWS credentials file (.aws/credentials)", Severity::Critical);
/// gcloud's credential databases and application default credentials.
pub(crate) const GCLOUD: DetectorInfo = kind("credential-file.gcloud", "Google Cloud SDK credentials", Severity::High);
/// A kubeconfig with a user token or client key.
pub(crate) const KUBECONFIG: DetectorInfo = kind("credential-file.kubeconfig", "Kubernetes kubeconfig", Severity::High);
/// `*.p12` / `*.pfx`.
pub(crate) const PKCS12: DetectorInfo = kind("credential-file.pkcs12", "PKCS#12 keystore", Severity::High);
/// `*.jks` / `*.keystore`.
pub(crate) const JAVA_KEYSTORE: DetectorInfo = kind("credential-file.java-keystore", "Java keystore", Severity::High);
/// `*.kdbx`, or a file with the KeePass magic.
pub(crate) const KEEPASS: DetectorInfo = kind("credential-file.keepass", "KeePass database", Severity::Medium);
/// `*.ovpn`.
pub(crate) const OPENVPN: DetectorInfo = kind("credential-file.openvpn", "OpenVPN client profile", Severity::High);
/// Shell and database client history.
pub(crate) const HISTORY: DetectorInfo =
    kind("credential-file.history", "Shell or client history file", Severity::Medium);
/// `*.tfstate`.
pub(crate) const TFSTATE: DetectorInfo = kind("credential-file.terraform-state", "Terraform state", Severity::High);
/// `wp-config.php` with `DB_PASSWORD`.
pub(crate) const WP_CONFIG: DetectorInfo =
    kind("credential-file.wp-config", "WordPress configuration (wp-config.php)", Severity::High);
/// `.htpasswd`.
pub(crate) const HTPASSWD: DetectorInfo =
    kind("credential-file.htpasswd", "Apache password file (.htpasswd)", Severity::Medium);
/// `etc/shadow` / `etc/gshadow` with a real password hash.
pub(crate) const SHADOW: DetectorInfo = kind("credential-file.shadow", "Password hashes (/etc/shadow)", Severity::High);

/// Every credential-file kind.
pub(crate) const KINDS: [DetectorInfo; 20] = [
    DOTENV,
    SSH_KEY,
    PRIVATE_KEY,
    NPMRC,
    PYPIRC,
    NETRC,
    GIT_CREDENTIALS,
    DOCKER_CONFIG,
    AWS_CREDENTIALS,
    GCLOUD,
    KUBECONFIG,
    PKCS12,
    JAVA_KEYSTORE,
    KEEPASS,
    OPENVPN,
    HISTORY,
    TFSTATE,
    WP_CONFIG,
    HTPASSWD,
    SHADOW,
];

/// Longest "first line" used as the secret of a file judged by its path alone.
const FIRST_LINE_MAX: usize = 256;

/// History files, by base name.
const HISTORY_FILES: &[&[u8]] = &[
    b".bash_history",
    b".zsh_history",
    b".psql_history",
    b".mysql_history",
    b".python_history",
    b".rediscli_history",
    b".sh_history",
    b".ash_history",
];

/// SSH private key file names (and `id_rsa_deploy`, `id_ed25519.old`, …, but never `.pub`).
const SSH_KEY_FILES: &[&[u8]] = &[b"id_rsa", b"id_dsa", b"id_ecdsa", b"id_ed25519"];

/// The KeePass 2 file signature.
const KDBX_MAGIC: [u8; 4] = [0x03, 0xD9, 0xA2, 0x9A];

/// A credential file: which kind, where the secret is in `head`, how sure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CredHit {
    pub(crate) kind: &'static DetectorInfo,
    pub(crate) span: (usize, usize),
    pub(crate) confidence: Confidence,
    pub(crate) note: Option<&'static str>,
    /// The secret is a placeholder: weak evidence (see `Match::weak`).
    pub(crate) weak: bool,
}

impl CredHit {
    fn new(kind: &'static DetectorInfo, span: (usize, usize), confidence: Confidence) -> CredHit {
        CredHit { kind, span, confidence, note: None, weak: false }
    }

    /// A credential file whose secret is a placeholder (`password changeme`).
    fn placeholder(kind: &'static DetectorInfo, span: (usize, usize)) -> CredHit {
        CredHit { kind, span, confidence: Confidence::Low, note: Some(PLACEHOLDER_NOTE), weak: true }
    }
}

/// The first real secret among `values` (span and value, in file order); else the first
/// placeholder, as weak evidence; values that hold no secret (`${NPM_TOKEN}`) are skipped.
fn first_secret<'a>(
    kind: &'static DetectorInfo,
    head: &[u8],
    values: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Option<CredHit> {
    let mut weak = None;
    for (key, value) in values {
        if value.is_empty() {
            continue;
        }
        match filler(value, key) {
            None => return Some(CredHit::new(kind, span_of(head, value), Confidence::High)),
            Some(Filler::Placeholder) => {
                weak.get_or_insert_with(|| CredHit::placeholder(kind, span_of(head, value)));
            }
            Some(Filler::NoSecret) => {}
        }
    }
    weak
}

/// Classify a file by its path (inside the layer, with or without a leading `/`) and the first
/// bytes of its content. `None` for ordinary files and for empty ones.
pub(crate) fn classify(path: &[u8], head: &[u8], size: u64) -> Option<CredHit> {
    if size == 0 || head.is_empty() {
        return None;
    }
    let path = path.strip_prefix(b"./").unwrap_or(path);
    let path = path.strip_prefix(b"/").unwrap_or(path);
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    let ext = lower.rsplit(|&b| b == b'.').next().filter(|e| e.len() < lower.len()).unwrap_or(b"");
    let under = |dir: &[u8]| path.split(|&b| b == b'/').rev().skip(1).any(|c| c == dir);

    match ext {
        b"p12" | b"pfx" => {
            return Some(CredHit::new(&PKCS12, first_line(head), Confidence::Medium));
        }
        b"jks" | b"keystore" => {
            return Some(CredHit::new(&JAVA_KEYSTORE, first_line(head), Confidence::Medium));
        }
        b"kdbx" => return Some(CredHit::new(&KEEPASS, first_line(head), Confidence::Medium)),
        b"ovpn" => return Some(CredHit::new(&OPENVPN, first_line(head), Confidence::Medium)),
        b"tfstate" => return Some(tfstate(head)),
        b"pem" | b"key" => {
            if let Some(hit) = private_key(&PRIVATE_KEY, head) {
                return Some(hit);
            }
        }
        _ => {}
    }
    if lower.ends_with(b".tfstate.backup") {
        return Some(tfstate(head));
    }
    if head.starts_with(&KDBX_MAGIC) {
        return Some(CredHit::new(&KEEPASS, first_line(head), Confidence::High));
    }
    if lower == b".env" || (lower.starts_with(b".env.") && !env_template(&lower)) {
        return dotenv(head);
    }
    if !lower.ends_with(b".pub") {
        if SSH_KEY_FILES.iter().any(|n| lower.starts_with(n)) {
            return Some(
                private_key(&SSH_KEY, head)
                    .unwrap_or_else(|| CredHit::new(&SSH_KEY, first_line(head), Confidence::Medium)),
            );
        }
        if under(b".ssh") {
            return private_key(&SSH_KEY, head);
        }
    }
    match base {
        b".npmrc" => return npmrc(head),
        b".pypirc" => return key_value(&PYPIRC, head, &[b"password"]),
        b".netrc" | b"_netrc" => return netrc(head),
        b".git-credentials" => return git_credentials(head),
        b".htpasswd" => return htpasswd(head),
        b"wp-config.php" => return wp_config(head),
        _ => {}
    }
    if HISTORY_FILES.contains(&base) {
        return Some(CredHit::new(&HISTORY, first_line(head), Confidence::Low));
    }
    if path.ends_with(b".docker/config.json") {
        return docker_config(head);
    }
    if path.ends_with(b".aws/credentials") {
        return key_value(&AWS_CREDENTIALS, head, &[b"aws_secret_access_key"]);
    }
    if is_gcloud(path, base) {
        return Some(gcloud(head));
    }
    if path.ends_with(b".kube/config") || (kubeconfig_name(&lower, ext) && find(head, b"kind: Config").is_some()) {
        return kubeconfig(head);
    }
    if matches!(base, b"shadow" | b"gshadow" | b"shadow-" | b"gshadow-")
        && path.len() > base.len()
        && path[..path.len() - base.len()].ends_with(b"etc/")
    {
        return shadow(head);
    }
    None
}

/// `.env.example`, `.env.sample`, `.env.template` (and `.env.dist`): documentation, not secrets.
fn env_template(lower: &[u8]) -> bool {
    lower.split(|&b| b == b'.').any(|part| matches!(part, b"example" | b"sample" | b"template" | b"dist"))
}

/// The first non-empty line of `head`, at most [`FIRST_LINE_MAX`] bytes.
fn first_line(head: &[u8]) -> (usize, usize) {
    let mut start = 0;
    while start < head.len() && matches!(head[start], b'\n' | b'\r') {
        start += 1;
    }
    if start == head.len() {
        return (0, head.len().min(FIRST_LINE_MAX));
    }
    let rest = &head[start..];
    let mut len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len()).min(FIRST_LINE_MAX);
    if len > 0 && rest[len - 1] == b'\r' {
        len -= 1;
    }
    (start, start + len)
}

/// The lines of `head` with their start offsets.
fn lines(head: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0;
    head.split(|&b| b == b'\n').map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        (start, line)
    })
}

/// Span of `sub` (a subslice of `head`) in `head`.
fn span_of(head: &[u8], sub: &[u8]) -> (usize, usize) {
    let start = sub.as_ptr() as usize - head.as_ptr() as usize;
    (start, start + sub.len())
}

/// Strip one pair of matching quotes.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [q @ (b'"' | b'\''), inner @ .., last] if last == q => inner,
        _ => v,
    }
}

fn private_key(kind: &'static DetectorInfo, head: &[u8]) -> Option<CredHit> {
    if let Some(key) = pem_private_key(head) {
        let mut hit = CredHit::new(kind, (key.start, key.end), Confidence::High);
        hit.note = key.encrypted.then_some(ENCRYPTED);
        return Some(hit);
    }
    // A private key header whose body is damaged or cut off: still a key file.
    let begin = find(head, b"-----BEGIN ")?;
    let label_end = begin + find(&head[begin..], b"PRIVATE KEY-----")? + b"PRIVATE KEY-----".len();
    if label_end - begin > 80 {
        return None;
    }
    let end = find(&head[label_end..], b"-----END ")
        .and_then(|e| find(&head[label_end + e..], b"-----\n").map(|x| label_end + e + x + 5))
        .unwrap_or(head.len());
    Some(CredHit::new(kind, (begin, end), Confidence::Medium))
}

fn dotenv(head: &[u8]) -> Option<CredHit> {
    let mut any = None;
    let mut best: Option<((usize, usize), f32)> = None;
    for (_, line) in lines(head) {
        let t = trim(line);
        let t = t.strip_prefix(b"export ").map(trim).unwrap_or(t);
        if t.is_empty() || t[0] == b'#' {
            continue;
        }
        let Some(eq) = t.iter().position(|&b| b == b'=') else {
            continue;
        };
        let key = trim(&t[..eq]);
        let value = unquote(trim(&t[eq + 1..]));
        if key.is_empty()
            || value.is_empty()
            || !key.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            continue;
        }
        any.get_or_insert(span_of(head, value));
        if key_kind(key).is_some() && filler(value, key).is_none() {
            let h = entropy::shannon_entropy(value);
            if best.is_none_or(|(_, b)| h > b) {
                best = Some((span_of(head, value), h));
            }
        }
    }
    match (best, any) {
        (Some((span, _)), _) => Some(CredHit::new(&DOTENV, span, Confidence::Medium)),
        (None, Some(_)) => Some(CredHit::new(&DOTENV, first_line(head), Confidence::Low)),
        (None, None) => None,
    }
}

/// `key = value` / `key: value` lines (ini style) whose key is one of `keys`.
fn key_value(kind: &'static DetectorInfo, head: &[u8], keys: &[&[u8]]) -> Option<CredHit> {
    let values = lines(head).filter_map(|(_, line)| {
        let t = trim(line);
        let sep = t.iter().position(|&b| b == b'=' || b == b':')?;
        let key = trim(&t[..sep]);
        keys.iter().any(|k| key.eq_ignore_ascii_case(k)).then(|| (key, unquote(trim(&t[sep + 1..]))))
    });
    first_secret(kind, head, values)
}

/// `_authToken=` (also scoped: `//registry.example.com/:_authToken=`), `_auth=`, `_password=`.
fn npmrc(head: &[u8]) -> Option<CredHit> {
    let mut best: Option<(usize, CredHit)> = None;
    for (_, line) in lines(head) {
        let t = trim(line);
        if t.first() == Some(&b'#') || t.first() == Some(&b';') {
            continue;
        }
        let Some(eq) = t.iter().position(|&b| b == b'=') else {
            continue;
        };
        let key = trim(&t[..eq]);
        let name = key.rsplit(|&b| b == b':').next().unwrap_or(key);
        let rank = match name {
            b"_authToken" => 0,
            b"_auth" => 1,
            b"_password" => 2,
            _ => continue,
        };
        let value = unquote(trim(&t[eq + 1..]));
        if value.is_empty() {
            continue;
        }
        let hit = match filler(value, name) {
            None => CredHit::new(&NPMRC, span_of(head, value), Confidence::High),
            Some(Filler::Placeholder) => CredHit::placeholder(&NPMRC, span_of(head, value)),
            Some(Filler::NoSecret) => continue,
        };
        // A secret before a placeholder, then `_authToken`, `_auth`, `_password`.
        if best.as_ref().is_none_or(|(r, b)| (hit.weak, rank) < (b.weak, *r)) {
            best = Some((rank, hit));
        }
    }
    best.map(|(_, hit)| hit)
}

/// `machine h login u password p`, on one line or many.
fn netrc(head: &[u8]) -> Option<CredHit> {
    let mut tokens = head.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
    let mut values = Vec::new();
    while let Some(token) = tokens.next() {
        if token == b"password"
            && let Some(value) = tokens.next()
        {
            values.push((&b"password"[..], value));
        }
    }
    first_secret(&NETRC, head, values)
}

/// `https://user:token@host` lines.
fn git_credentials(head: &[u8]) -> Option<CredHit> {
    for (start, line) in lines(head) {
        let Some(marker) = find(line, b"://") else {
            continue;
        };
        if let Some((_, pass)) = parse_url_password(line, marker) {
            return Some(CredHit::new(&GIT_CREDENTIALS, (start + pass.0, start + pass.1), Confidence::High));
        }
    }
    None
}

/// `user:hash` lines.
fn htpasswd(head: &[u8]) -> Option<CredHit> {
    for (start, line) in lines(head) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if colon > 0 && colon + 1 < line.len() && !line[..colon].contains(&b' ') {
            return Some(CredHit::new(&HTPASSWD, (start + colon + 1, start + line.len()), Confidence::High));
        }
    }
    None
}

/// `define( 'DB_PASSWORD', 'value' );`
fn wp_config(head: &[u8]) -> Option<CredHit> {
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = find(&head[from..], b"DB_PASSWORD") {
        let after = from + at + b"DB_PASSWORD".len();
        from = after;
        let mut i = after;
        let skip = |i: &mut usize, set: &[u8]| {
            while *i < head.len() && set.contains(&head[*i]) {
                *i += 1;
            }
        };
        skip(&mut i, b"'\"");
        skip(&mut i, b" \t");
        if head.get(i) != Some(&b',') {
            continue;
        }
        i += 1;
        skip(&mut i, b" \t");
        let Some(&q @ (b'\'' | b'"')) = head.get(i) else {
            continue;
        };
        let vs = i + 1;
        let Some(len) = head[vs..].iter().position(|&b| b == q || b == b'\n') else {
            continue;
        };
        let value = &head[vs..vs + len];
        if head.get(vs + len) == Some(&q) {
            values.push((&b"DB_PASSWORD"[..], value));
        }
    }
    first_secret(&WP_CONFIG, head, values)
}

/// `"auths": { "registry": { "auth": "base64(user:pass)" } }` (or an `identitytoken`).
fn docker_config(head: &[u8]) -> Option<CredHit> {
    find(head, b"\"auths\"")?;
    json_string_value(head, &[b"\"auth\"", b"\"identitytoken\""])
        .map(|span| CredHit::new(&DOCKER_CONFIG, span, Confidence::High))
}

/// The span of the first non-empty string value of any of `keys` (quoted JSON member names),
/// trying keys in order.
fn json_string_value(head: &[u8], keys: &[&[u8]]) -> Option<(usize, usize)> {
    for key in keys {
        let mut from = 0;
        while let Some(at) = find(&head[from..], key) {
            let mut i = from + at + key.len();
            from = i;
            while i < head.len() && head[i].is_ascii_whitespace() {
                i += 1;
            }
            if head.get(i) != Some(&b':') {
                continue;
            }
            i += 1;
            while i < head.len() && head[i].is_ascii_whitespace() {
                i += 1;
            }
            if head.get(i) != Some(&b'"') {
                continue;
            }
            let vs = i + 1;
            let mut j = vs;
            while j < head.len() && head[j] != b'"' {
                j += if head[j] == b'\\' { 2 } else { 1 };
            }
            if j < head.len() && j > vs {
                return Some((vs, j));
            }
        }
    }
    None
}

fn is_gcloud(path: &[u8], base: &[u8]) -> bool {
    let in_gcloud = find(path, b"gcloud/").is_some();
    (in_gcloud && matches!(base, b"credentials.db" | b"access_tokens.db"))
        || base == b"application_default_credentials.json"
        || (base == b"adc.json" && find(path, b"legacy_credentials/").is_some())
}

fn gcloud(head: &[u8]) -> CredHit {
    match json_string_value(head, &[b"\"private_key\"", b"\"refresh_token\"", b"\"client_secret\""]) {
        Some(span) => CredHit::new(&GCLOUD, span, Confidence::High),
        None => CredHit::new(&GCLOUD, first_line(head), Confidence::Medium),
    }
}

fn kubeconfig_name(lower: &[u8], ext: &[u8]) -> bool {
    matches!(ext, b"yaml" | b"yml" | b"conf" | b"kubeconfig" | b"config") || matches!(lower, b"config" | b"kubeconfig")
}

/// `users:` entries with `token:`, `client-key-data:` or `password:`.
fn kubeconfig(head: &[u8]) -> Option<CredHit> {
    find(head, b"users:")?;
    let mut values = Vec::new();
    for key in [&b"client-key-data:"[..], b"token:", b"password:"] {
        for (_, line) in lines(head) {
            let t = trim(line);
            let t = t.strip_prefix(b"- ").map(trim).unwrap_or(t);
            if let Some(rest) = t.strip_prefix(key) {
                values.push((key, unquote(trim(rest))));
            }
        }
    }
    first_secret(&KUBECONFIG, head, values)
}

/// The first real password hash in field 2 (`$1$`, `$5$`, `$6$`, `$y$`, `$2b$`, `$argon2…`);
/// `*`, `!`, `!!`, `x` and empty fields are not passwords. A locked account (`!$6$…`) still
/// leaks its hash.
fn shadow(head: &[u8]) -> Option<CredHit> {
    const PREFIXES: &[&[u8]] =
        &[b"$1$", b"$5$", b"$6$", b"$y$", b"$gy$", b"$7$", b"$2a$", b"$2b$", b"$2y$", b"$argon2"];
    for (start, line) in lines(head) {
        let mut fields = line.splitn(3, |&b| b == b':');
        let (Some(_), Some(hash)) = (fields.next(), fields.next()) else {
            continue;
        };
        let bangs = hash.iter().take_while(|&&b| b == b'!').count();
        let hash = &hash[bangs..];
        if PREFIXES.iter().any(|p| hash.starts_with(p)) {
            let s = span_of(line, hash);
            return Some(CredHit::new(&SHADOW, (start + s.0, start + s.1), Confidence::High));
        }
    }
    None
}

/// The state's `lineage` (unique per state) or else its first line.
fn tfstate(head: &[u8]) -> CredHit {
    match json_string_value(head, &[b"\"lineage\""]) {
        Some(span) => CredHit::new(&TFSTATE, span, Confidence::Medium),
        None => CredHit::new(&TFSTATE, first_line(head), Confidence::Medium),
    }
}
