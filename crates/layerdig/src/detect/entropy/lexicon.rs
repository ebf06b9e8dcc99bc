//! The key lexicon: the key words the prefilter looks for, and which key names mean a secret
//! (and how strongly), by their word parts.

/// Key words the prefilter looks for (ASCII case-insensitive). Each must occur inside every key
/// [`key_kind`] accepts, so that the hit lands inside the key.
pub(crate) const KEY_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "auth",
    "credential",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "access-key",
    "private_key",
    "privatekey",
    "private-key",
];

/// How strongly a key name says "secret".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeyKind {
    /// `token`, `secret`, `auth`, `credentials`, `access_key`, …
    Generic,
    /// `client_secret`, `secret_key`, `private_key`, `api_key`: nearly always a real secret.
    Specific,
    /// `password`, `passwd`, `pwd`, `pass`, `passphrase`: short values allowed.
    Password,
}

/// Last key parts that make a key about a secret, not the secret itself (`TOKEN_URL`,
/// `PASSWORD_FILE`, `SECRET_NAME`, `AUTH_TYPE`, `AUTH_STRATEGY`, …), or about something else
/// with a hash or id for its value (`AUTH_COMMIT`, `TOKEN_SHA`, `SECRETS_DIGEST`, `AUTH_TENANT`,
/// `SECRET_HASH`, `TOKEN_ETAG`). A password's hash is the exception: it can be cracked offline,
/// so `PASSWORD_HASH` stays a secret key.
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "account",
    "alg",
    "algorithm",
    "arn",
    "audience",
    "bucket",
    "checksum",
    "cipher",
    "class",
    "cmd",
    "command",
    "commit",
    "complexity",
    "config",
    "cost",
    "count",
    "desc",
    "description",
    "digest",
    "dir",
    "directory",
    "disable",
    "disabled",
    "email",
    "enable",
    "enabled",
    "encryption",
    "endpoint",
    "env",
    "etag",
    "expiration",
    "expires",
    "expiry",
    "field",
    "file",
    "files",
    "fingerprint",
    "flag",
    "format",
    "guid",
    "handler",
    "hash",
    "header",
    "help",
    "hint",
    "host",
    "hostname",
    "id",
    "ids",
    "integrity",
    "issuer",
    "label",
    "len",
    "length",
    "location",
    "login",
    "manager",
    "mask",
    "max",
    "md5",
    "method",
    "min",
    "mode",
    "name",
    "names",
    "nonce",
    "option",
    "options",
    "param",
    "path",
    "pattern",
    "placeholder",
    "policy",
    "port",
    "prefix",
    "provider",
    "realm",
    "ref",
    "regex",
    "region",
    "required",
    "reset",
    "rev",
    "revision",
    "rotation",
    "rounds",
    "scheme",
    "scope",
    "scopes",
    "script",
    "server",
    "service",
    "settings",
    "sha",
    "sha1",
    "sha256",
    "sha512",
    "size",
    "strategy",
    "strength",
    "suffix",
    "template",
    "tenant",
    "timeout",
    "ttl",
    "type",
    "types",
    "uri",
    "url",
    "user",
    "username",
    "uuid",
    "var",
    "version",
];

/// Words that, before a last part `token`, make it a token that grants nothing: a page cursor
/// (`NextToken`, `nextPageToken`, `ContinuationToken`, `PaginationToken`, `SyncToken`) or the
/// idempotency and concurrency tokens of APIs, which the client makes up to name one request
/// or one change (`ClientRequestToken`, `ClientToken`, `IdempotencyToken`, `ChangeToken`,
/// `UpdateToken`, `LifecycleActionToken`). API references and their example files are full of
/// them, with UUIDs and base64 blobs for values.
const NOT_CREDENTIAL_TOKENS: &[&str] = &[
    "action",
    "change",
    "client",
    "continuation",
    "cursor",
    "idempotency",
    "next",
    "page",
    "pagination",
    "paging",
    "previous",
    "prev",
    "request",
    "resume",
    "sync",
    "update",
];

/// Split a key into lowercase word parts: on non-alphanumerics and camelCase boundaries
/// (`stripeApiKey` → `stripe api key`, `DB_PASSWORD` → `db password`, `APIKey` → `api key`).
pub(crate) fn key_parts(key: &[u8]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for (i, &b) in key.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            continue;
        }
        if b.is_ascii_uppercase() && !current.is_empty() {
            let prev = key[i - 1];
            let next_lower = key.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                parts.push(std::mem::take(&mut current));
            }
        }
        current.push(b.to_ascii_lowercase() as char);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Whether the key's own last word names the secret (`API_KEY`, `_authToken`, `db_password`,
/// `client_secret`), not only a word before it (`AUTH_TENANT`, `tokenClient`). For a key that
/// [`key_kind`] accepts.
pub(crate) fn names_secret_last(key: &[u8]) -> bool {
    key_parts(key).last().is_some_and(|last| last == "key" || key_kind(last.as_bytes()).is_some())
}

/// Whether `key` names a secret, and how strongly. Matching is by word part, case-insensitive,
/// in the last two parts (a secret word further left names a namespace:
/// `jmxremote.password.toHashes`): `DB_PASSWORD`, `stripeApiKey`, `spring.datasource.password`,
/// `--db-pass`, `DB_PASSWORD_PROD` are secret keys; `PASSWORD_FILE`, `TOKEN_URL`, `tokenizer`,
/// `bypass` are not. `*secret*_key` (`AWS_SECRET_ACCESS_KEY`) is specific.
pub(crate) fn key_kind(key: &[u8]) -> Option<KeyKind> {
    let parts = key_parts(key);
    let last = parts.last()?;
    let password = |p: &str| p.contains("password") || p.contains("passwd") || p.contains("passphrase");
    if NOT_SECRET_SUFFIXES.contains(&last.as_str()) && !(last == "hash" && parts.iter().any(|p| password(p))) {
        return None;
    }
    if (last == "token" || last == "tokens")
        && parts.len() >= 2
        && NOT_CREDENTIAL_TOKENS.contains(&parts[parts.len() - 2].as_str())
    {
        return None;
    }
    if last == "key" && parts.iter().any(|p| p == "secret") {
        return Some(KeyKind::Specific);
    }
    let mut best: Option<KeyKind> = None;
    for (i, p) in parts.iter().enumerate().skip(parts.len().saturating_sub(2)) {
        let next = parts.get(i + 1).map(String::as_str);
        let kind = if password(p) || p.ends_with("pwd") || p == "pass" {
            Some(KeyKind::Password)
        } else if matches!((p.as_str(), next), ("client" | "private" | "api", Some("secret" | "key")))
            || ["clientsecret", "secretkey", "privatekey", "apikey"].iter().any(|w| p.ends_with(w))
        {
            Some(KeyKind::Specific)
        } else if p.ends_with("secret")
            || p == "secrets"
            || p.ends_with("token")
            || p == "tokens"
            || p.ends_with("credential")
            || p.ends_with("credentials")
            || p == "auth"
            || p == "authorization"
            || (p == "access" && next == Some("key"))
            || p.ends_with("accesskey")
        {
            Some(KeyKind::Generic)
        } else {
            None
        };
        best = best.max(kind);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_split_on_separators_and_case() {
        let cases: &[(&str, &[&str])] = &[
            ("DB_PASSWORD", &["db", "password"]),
            ("stripeApiKey", &["stripe", "api", "key"]),
            ("APIKey", &["api", "key"]),
            ("spring.datasource.password", &["spring", "datasource", "password"]),
            ("--db-pass", &["db", "pass"]),
            ("aws_secret_access_key", &["aws", "secret", "access", "key"]),
            ("OAuth2Token", &["o", "auth2", "token"]),
        ];
        for (key, parts) in cases {
            assert_eq!(key_parts(key.as_bytes()), *parts, "{key}");
        }
    }

    #[test]
    fn key_kinds() {
        use KeyKind::*;
        let cases: &[(&str, Option<KeyKind>)] = &[
            ("password", Some(Password)),
            ("DB_PASSWORD", Some(Password)),
            ("dbPassword", Some(Password)),
            ("MYSQL_ROOT_PASSWORD", Some(Password)),
            ("passwd", Some(Password)),
            ("pwd", Some(Password)),
            ("DB_PASS", Some(Password)),
            ("ssh_passphrase", Some(Password)),
            ("client_secret", Some(Specific)),
            ("SECRET_KEY", Some(Specific)),
            ("stripeApiKey", Some(Specific)),
            ("api-key", Some(Specific)),
            ("apikey", Some(Specific)),
            ("private_key", Some(Specific)),
            ("aws_secret_access_key", Some(Specific)),
            ("GITHUB_TOKEN", Some(Generic)),
            ("accessToken", Some(Generic)),
            ("secret", Some(Generic)),
            ("auth", Some(Generic)),
            ("Authorization", Some(Generic)),
            ("credentials", Some(Generic)),
            ("access_key", Some(Generic)),
            ("DB_PASSWORD_PROD", Some(Password)),
            ("jmxremote.password.toHashes", None),
            ("PASSWORD_FILE", None),
            ("TOKEN_URL", None),
            ("SECRET_NAME", None),
            ("AUTH_TYPE", None),
            ("AUTH_COMMIT", None),
            ("TOKEN_SHA", None),
            ("secrets_digest", None),
            ("AUTH_TENANT", None),
            ("tokenizer", None),
            ("bypass", None),
            ("compass", None),
            ("author", None),
            ("key", None),
            ("", None),
            // Tokens that grant nothing: page cursors, idempotency and concurrency tokens.
            ("NextToken", None),
            ("nextPageToken", None),
            ("ContinuationToken", None),
            ("ClientRequestToken", None),
            ("clientToken", None),
            ("IdempotencyToken", None),
            ("ChangeToken", None),
            ("policy_update_token", None),
            ("LifecycleActionToken", None),
            ("refresh_token", Some(Generic)),
            ("session_token", Some(Generic)),
            ("SessionToken", Some(Generic)),
            // Hashes, digests and strategies are about a secret; a password's hash is a secret.
            ("SECRET_HASH", None),
            ("token_etag", None),
            ("secret_sha256", None),
            ("AuthorizationStrategy", None),
            ("auth_scheme", None),
            ("PASSWORD_HASH", Some(Password)),
        ];
        for (key, kind) in cases {
            assert_eq!(key_kind(key.as_bytes()), *kind, "{key}");
        }
    }

    #[test]
    fn the_last_word_names_the_secret() {
        for (key, last) in [
            ("API_KEY", true),
            ("_authToken", true),
            ("db_password", true),
            ("client_secret", true),
            ("aws_secret_access_key", true),
            ("authTenant", false),
            ("tokenClient", false),
            ("credentials.session", false),
        ] {
            assert_eq!(names_secret_last(key.as_bytes()), last, "{key}");
        }
    }
}
