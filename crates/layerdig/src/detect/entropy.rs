//! The generic detector: values assigned to secret-named keys, and passwords in URLs, judged by
//! their shape and Shannon entropy.
//!
//! The prefilter reports where a key word (`pass`, `token`, `secret`, …) or `://` occurs; from
//! each such spot [`parse_assignment`] reads the surrounding `key <sep> value` in any of the
//! common syntaxes (`.env`, `export K=V`, Dockerfile `ENV K=V` / `ENV K V`, ini / properties /
//! toml, YAML, JSON, XML attributes and elements, PHP `define('K', 'v')` and `'k' => 'v'`, CLI
//! flags `--password=v`), and [`parse_url_password`] reads `scheme://user:pass@host`.
//! [`judge`] then decides whether the value looks like a real secret.

use crate::finding::Confidence;

/// Rule id of secret-named assignments.
pub(crate) const SECRET_ASSIGNMENT: &str = "generic.secret-assignment";
/// Rule id of passwords in URL userinfo.
pub(crate) const URL_PASSWORD: &str = "generic.url-password";

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

/// Marks a URL; the userinfo detector looks for `user:pass@` after it.
pub(crate) const URL_MARKER: &str = "://";

/// Longest key considered (a longer run of key characters is not a key).
const MAX_KEY: usize = 128;
/// Longest value considered: secrets this long are PEM blocks and the like, which rules handle.
const MAX_VALUE: usize = 1024;
/// Shortest value ever reported: below 8 characters a value cannot carry enough entropy to be
/// told from a word.
const MIN_VALUE: usize = 8;

/// Shortest quoted value reported in source code. Code is full of short example credentials
/// (doctests, docstrings: `passwd='geheim$parole'` in Python's `urllib`), while the secrets
/// people hard-code (API keys, Django's `SECRET_KEY`) are long.
pub(crate) const CODE_MIN_VALUE: usize = 16;

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
/// `PASSWORD_FILE`, `SECRET_NAME`, `AUTH_TYPE`, …).
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "account",
    "alg",
    "algorithm",
    "cipher",
    "encryption",
    "arn",
    "audience",
    "bucket",
    "class",
    "cmd",
    "command",
    "complexity",
    "config",
    "cost",
    "count",
    "desc",
    "description",
    "dir",
    "directory",
    "disable",
    "disabled",
    "email",
    "enable",
    "enabled",
    "endpoint",
    "env",
    "expiration",
    "expires",
    "expiry",
    "field",
    "file",
    "files",
    "flag",
    "format",
    "handler",
    "header",
    "help",
    "hint",
    "host",
    "hostname",
    "id",
    "ids",
    "issuer",
    "label",
    "len",
    "length",
    "location",
    "login",
    "manager",
    "mask",
    "max",
    "method",
    "min",
    "mode",
    "name",
    "names",
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
    "region",
    "regex",
    "required",
    "reset",
    "rotation",
    "rounds",
    "scope",
    "scopes",
    "script",
    "server",
    "service",
    "settings",
    "size",
    "strength",
    "suffix",
    "template",
    "timeout",
    "ttl",
    "type",
    "types",
    "uri",
    "url",
    "user",
    "username",
    "var",
    "version",
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

/// Whether `key` names a secret, and how strongly. Matching is by word part, case-insensitive,
/// in the last two parts (a secret word further left names a namespace:
/// `jmxremote.password.toHashes`): `DB_PASSWORD`, `stripeApiKey`, `spring.datasource.password`,
/// `--db-pass`, `DB_PASSWORD_PROD` are secret keys; `PASSWORD_FILE`, `TOKEN_URL`, `tokenizer`,
/// `bypass` are not. `*secret*_key` (`AWS_SECRET_ACCESS_KEY`) is specific.
pub(crate) fn key_kind(key: &[u8]) -> Option<KeyKind> {
    let parts = key_parts(key);
    let last = parts.last()?;
    if NOT_SECRET_SUFFIXES.contains(&last.as_str()) {
        return None;
    }
    if last == "key" && parts.iter().any(|p| p == "secret") {
        return Some(KeyKind::Specific);
    }
    let mut best: Option<KeyKind> = None;
    for (i, p) in parts.iter().enumerate().skip(parts.len().saturating_sub(2)) {
        let next = parts.get(i + 1).map(String::as_str);
        let kind = if p.contains("password")
            || p.contains("passwd")
            || p.contains("passphrase")
            || p.ends_with("pwd")
            || p == "pass"
        {
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

/// A `key <sep> value` read around a prefilter hit. Spans are half-open byte ranges in the
/// scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) key: (usize, usize),
    pub(crate) value: (usize, usize),
    /// The value is a literal: quoted, an XML element's text, or the rest of a Dockerfile
    /// `ENV K V` line. An unquoted value in source code is an expression, not a secret.
    pub(crate) literal: bool,
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Bytes that end an unquoted value.
fn ends_bare_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b',' | b';' | b'&' | b'<' | b'>' | b')' | b']' | b'}')
}

/// Read the assignment whose key contains position `hit`, if there is one.
pub(crate) fn parse_assignment(data: &[u8], hit: usize) -> Option<Assignment> {
    let n = data.len();
    let mut ks = hit.min(n);
    while ks > 0 && hit - ks < MAX_KEY && is_key_byte(data[ks - 1]) {
        ks -= 1;
    }
    let mut ke = hit;
    while ke < n && ke - hit < MAX_KEY && is_key_byte(data[ke]) {
        ke += 1;
    }
    // `--db-password=…` is a flag, `.password` a path component: the key is what follows.
    while ks < ke && matches!(data[ks], b'-' | b'.') {
        ks += 1;
    }
    while ke > ks && matches!(data[ke - 1], b'-' | b'.') {
        ke -= 1;
    }
    if ks == ke || (ks > 0 && is_key_byte(data[ks - 1]) && !matches!(data[ks - 1], b'-' | b'.')) {
        return None;
    }
    let before = ks.checked_sub(1).map(|i| data[i]);
    // A variable reference (`$DB_PASSWORD`, `%DB_PASSWORD%`) or a path (`/run/secrets/token`).
    if matches!(before, Some(b'$' | b'/' | b'\\' | b'%')) {
        return None;
    }
    let mut i = ke;
    // XML element: <password>value</password>
    if before == Some(b'<') {
        if data.get(i) != Some(&b'>') {
            return None;
        }
        let vs = i + 1;
        let len = data[vs..].iter().take(MAX_VALUE + 1).position(|&b| b == b'<' || b == b'\n')?;
        if !data[vs + len..].starts_with(b"</") {
            return None;
        }
        let (s, e) = trim_span(data, vs, vs + len);
        return (s < e).then_some(Assignment { key: (ks, ke), value: (s, e), literal: true });
    }
    let mut key_quoted = false;
    if let Some(q @ (b'"' | b'\'')) = before
        && data.get(i) == Some(&q)
    {
        i += 1;
        key_quoted = true;
    }
    let key_end_with_quote = i;
    while i < n && is_blank(data[i]) {
        i += 1;
    }
    let rest = &data[i..];
    let sep = if rest.starts_with(b"=>") || rest.starts_with(b":=") {
        2
    } else if rest.first() == Some(&b'=') {
        if rest.get(1) == Some(&b'=') {
            return None; // a comparison
        }
        1
    } else if rest.first() == Some(&b':') {
        if rest.get(1) == Some(&b':') {
            return None; // a path like Foo::Password
        }
        1
    } else if rest.first() == Some(&b',') && key_quoted && opens_call(data, ks - 1) {
        1 // define('DB_PASSWORD', 'v'), os.getenv("DB_PASSWORD", "v")
    } else {
        0
    };
    if sep == 0 {
        // Dockerfile `ENV KEY value`: the rest of the line is the value.
        if i > key_end_with_quote && !key_quoted && word_before_is_env(data, ks) && i < n && data[i] != b'\n' {
            let end = data[i..].iter().take(MAX_VALUE + 1).position(|&b| b == b'\n').map_or(n, |p| i + p);
            let (s, e) = trim_span(data, i, end);
            let (s, e) = strip_quotes(data, s, e);
            return (s < e && e - s <= MAX_VALUE).then_some(Assignment { key: (ks, ke), value: (s, e), literal: true });
        }
        return None;
    }
    i += sep;
    while i < n && is_blank(data[i]) {
        i += 1;
    }
    let (s, e, literal) = read_value(data, i)?;
    Some(Assignment { key: (ks, ke), value: (s, e), literal })
}

/// Whether the quote at `quote` is the first argument of a call: `(` before it, blanks aside.
fn opens_call(data: &[u8], quote: usize) -> bool {
    let mut j = quote;
    while j > 0 && is_blank(data[j - 1]) {
        j -= 1;
    }
    j > 0 && data[j - 1] == b'('
}

/// Read a quoted or bare value starting at `i`. `Authorization: Bearer xyz` yields `xyz`.
fn read_value(data: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let n = data.len();
    let first = *data.get(i)?;
    if matches!(first, b'"' | b'\'' | b'`') {
        let mut j = i + 1;
        while j < n && j - i <= MAX_VALUE {
            match data[j] {
                b'\\' if first != b'\'' => j += 2,
                b'\n' => return None,
                b if b == first => return (j > i + 1).then_some((i + 1, j, true)),
                _ => j += 1,
            }
        }
        return None;
    }
    let mut j = i;
    while j < n && !ends_bare_value(data[j]) {
        j += 1;
        if j - i > MAX_VALUE {
            return None;
        }
    }
    let word = &data[i..j];
    if (word.eq_ignore_ascii_case(b"bearer")
        || word.eq_ignore_ascii_case(b"basic")
        || word.eq_ignore_ascii_case(b"token"))
        && data.get(j) == Some(&b' ')
    {
        return read_value(data, j + 1);
    }
    (j > i).then_some((i, j, false))
}

/// Whether the word before the key (on the same line) is `ENV`, as in a Dockerfile or a
/// history `created_by`.
fn word_before_is_env(data: &[u8], ks: usize) -> bool {
    let mut j = ks;
    while j > 0 && is_blank(data[j - 1]) {
        j -= 1;
    }
    if j == ks || j < 3 {
        return false;
    }
    data[j - 3..j].eq_ignore_ascii_case(b"ENV") && (j == 3 || data[j - 4].is_ascii_whitespace())
}

fn trim_span(data: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && data[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && data[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

fn strip_quotes(data: &[u8], s: usize, e: usize) -> (usize, usize) {
    if e >= s + 2 && matches!(data[s], b'"' | b'\'') && data[e - 1] == data[s] { (s + 1, e - 1) } else { (s, e) }
}

/// The password of `scheme://user:pass@host` around the `://` at `marker`: `(user, pass)` spans.
pub(crate) fn parse_url_password(data: &[u8], marker: usize) -> Option<((usize, usize), (usize, usize))> {
    let mut s = marker;
    while s > 0 && marker - s < 32 && (data[s - 1].is_ascii_alphanumeric() || matches!(data[s - 1], b'+' | b'.' | b'-'))
    {
        s -= 1;
    }
    if marker - s < 2 || !data[s].is_ascii_alphabetic() {
        return None;
    }
    let start = marker + URL_MARKER.len();
    let mut j = start;
    while j < data.len()
        && j - start < 512
        && !data[j].is_ascii_whitespace()
        && !matches!(data[j], b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
    {
        j += 1;
    }
    let at = start + data[start..j].iter().rposition(|&b| b == b'@')?;
    if at + 1 >= j {
        return None; // no host
    }
    let colon = start + data[start..at].iter().position(|&b| b == b':')?;
    (colon + 1 < at).then_some(((start, colon), (colon + 1, at)))
}

/// The character class of a value, which decides its entropy threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CharClass {
    /// `0-9a-fA-F` only.
    Hex,
    /// Letters and digits only.
    Alphanumeric,
    /// Letters, digits and at least one of `+/=-_`.
    Base64,
    /// Anything else printable.
    Printable,
}

pub(crate) fn char_class(value: &[u8]) -> CharClass {
    if value.iter().all(u8::is_ascii_hexdigit) {
        CharClass::Hex
    } else if value.iter().all(u8::is_ascii_alphanumeric) {
        CharClass::Alphanumeric
    } else if value.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')) {
        CharClass::Base64
    } else {
        CharClass::Printable
    }
}

/// Minimum length and Shannon entropy (bits per byte) per class.
///
/// Each entropy bar sits at about the 1st percentile of the empirical entropy of uniformly
/// random strings of that class at the minimum length (100 000 samples each; the test
/// `thresholds_pass_random_values` re-checks it), so a truly random secret of the minimum
/// length clears it about 99 % of the time and longer ones nearly always, while words,
/// identifiers, dates and repeated patterns fall below. At these lengths entropy is coarse (12
/// characters: 3.58 all distinct, 3.42 / 3.25 / 3.08 / 2.92 with one to four repeated pairs),
/// so the bars sit between those steps:
///
/// | class | min len | min H | random at min len: p1 / median / share below the bar | non-secret |
/// |---|---|---|---|---|
/// | hex | 20 | 2.9 | 2.90 / 3.38 / 0.9 % | `deadbeefdeadbeef` 2.2 |
/// | base64 | 16 | 3.3 | 3.38 / 3.75 / 0.4 % | `ab-ab-ab-ab-cd-cd-c1` 2.4 |
/// | alphanumeric | 12 | 3.0 | 3.02 / 3.42 / 0.8 % | `aaax1111xxxa` 1.6 |
/// | printable | 12 | 3.0 | 3.09 / 3.42 / 0.2 % | `2024-01-01T00:00:00Z` 2.5 |
///
/// Hex needs 20 characters (80 bits) because shorter hex is mostly ids, hashes prefixes and
/// colours. Every class also needs two character kinds (lower, upper, digit, symbol): a random
/// value of the minimum length misses that with probability < 1e-4, a word nearly always.
/// Structure (paths, URLs, e-mail addresses, dotted names, words) is rejected before entropy
/// is looked at, since entropy alone cannot tell `com.mysql.jdbc.Driver` (3.9) from a secret.
pub(crate) const THRESHOLDS: [(CharClass, usize, f32); 4] = [
    (CharClass::Hex, 20, 2.9),
    (CharClass::Base64, 16, 3.3),
    (CharClass::Alphanumeric, 12, 3.0),
    (CharClass::Printable, 12, 3.0),
];

/// The lower bar for password-named keys: people choose passwords, so 8 characters of two
/// kinds with 2.5 bits (`s3cr3tP@ss` 2.6, `Tr0ub4dor&3` 3.3) count, while `changeme` (one kind)
/// and `aaaa1111` (2.0) do not.
pub(crate) const PASSWORD_THRESHOLD: (usize, f32) = (8, 2.5);

/// Entropy at or above which a specific key's value is reported with medium confidence.
pub(crate) const MEDIUM_CONFIDENCE_ENTROPY: f32 = 3.5;

/// Decide whether `value`, assigned to a key of kind `kind`, is a secret: `Some(confidence)`.
pub(crate) fn judge(kind: KeyKind, key: &[u8], value: &[u8]) -> Option<Confidence> {
    if value.len() < MIN_VALUE || value.len() > MAX_VALUE || !value.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    if is_placeholder(value, key) || is_structured(value) {
        return None;
    }
    // Words are identifiers, class names and prose; only a password may be a passphrase, and
    // then lower-case words joined by `-` or `_` (`correct-horse-battery-staple`).
    if is_wordy(value)
        && (kind != KeyKind::Password
            || value.iter().any(|b| !(b.is_ascii_lowercase() || matches!(b, b'-' | b'_')))
            || !value.iter().any(|b| matches!(b, b'-' | b'_')))
    {
        return None;
    }
    let class = char_class(value);
    let h = entropy::shannon_entropy(value);
    let kinds = char_kinds(value);
    let (_, min_len, min_h) = THRESHOLDS.iter().copied().find(|(c, _, _)| *c == class)?;
    let clears_class = value.len() >= min_len && h >= min_h && kinds >= 2;
    let clears_password =
        kind == KeyKind::Password && value.len() >= PASSWORD_THRESHOLD.0 && h >= PASSWORD_THRESHOLD.1 && kinds >= 2;
    if !(clears_class || clears_password) {
        return None;
    }
    Some(if kind >= KeyKind::Specific && h >= MEDIUM_CONFIDENCE_ENTROPY { Confidence::Medium } else { Confidence::Low })
}

/// How many of lower case, upper case, digit and symbol occur.
pub(crate) fn char_kinds(value: &[u8]) -> usize {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    let symbol = value.iter().any(|b| !b.is_ascii_alphanumeric());
    usize::from(lower) + usize::from(upper) + usize::from(digit) + usize::from(symbol)
}

/// Example values from specifications, which every copy of a library that quotes them carries
/// (RFC 6749 and RFC 5849 examples in `oauthlib`, say). Reported as documented examples.
pub(crate) const WELL_KNOWN_EXAMPLES: &[&[u8]] = &[
    b"2YotnFZFEjr1zCsicMWpAA",
    b"tGzv3JOkF0XG5Qx2TlKWIA",
    b"SplxlOBeZQQYbYS6WxSbIA",
    b"ad180jjd733klru7",
    b"0685bd9184jfhq22",
    b"nnch734d00sl2jdk",
    b"kd94hf93k423kf44",
    b"pfkkdhi9sl3r4s00",
    b"dh893hdasih9",
];

/// Values that are exactly one of these (case-insensitive) are placeholders.
const PLACEHOLDER_WORDS: &[&str] = &[
    "test",
    "testing",
    "password",
    "passwd",
    "secret",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "string",
    "default",
    "value",
    "empty",
    "todo",
    "tbd",
    "token",
    "redacted",
    "placeholder",
    "example",
    "sample",
    "dummy",
    "changeme",
    "change_me",
    "hidden",
    "masked",
    "unset",
    "notset",
    "not_set",
];

/// Values that contain one of these (case-insensitive) are placeholders.
const PLACEHOLDER_PARTS: &[&str] = &[
    "example",
    "sample",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "redacted",
    "xxxx",
    "****",
    "....",
    "fake",
    "notreal",
    "not_real",
    "not-a-real",
    "replace",
    "insert",
    "qwerty",
    "password",
    "passwd",
    "secret_here",
    "here>",
];

/// Whether a value is a placeholder rather than a secret: a variable or template reference
/// (`${VAR}`, `$VAR`, `$(cmd)`, `%VAR%`, `{{ tmpl }}`, `<your-key>`, `%s`), a well-known filler
/// word (`changeme`, `example`, `dummy`, `none`, `your_*`, …), repeated characters or a
/// repeated unit, a sequence (`123456`, `abcdef`), a file path, or the key's own name.
pub(crate) fn is_placeholder(value: &[u8], key: &[u8]) -> bool {
    let lower = value.to_ascii_lowercase();
    let contains = |needle: &str| super::validate::find(&lower, needle.as_bytes()).is_some();
    // Variable, command and template references.
    if ["${", "$(", "{{", "}}", "{%", "<%", "#{", "%s", "%d", "%("].iter().any(|m| contains(m)) {
        return true;
    }
    // Interpolation inside the value: `anonymous:$FROM_EMAIL`, `pre-$HOME`.
    if value.windows(4).any(|w| w[0] == b'$' && w[1..].iter().all(|b| b.is_ascii_uppercase() || *b == b'_')) {
        return true;
    }
    // `$VAR`, `$dir/private/key.pem`, `$insta::secret` (but not a crypt hash like `$2b$…`).
    if let [b'$', first, ..] = value
        && (first.is_ascii_alphabetic() || matches!(first, b'_' | b'{' | b'('))
    {
        return true;
    }
    let wrapped = |open: u8, close: u8| value.first() == Some(&open) && value.last() == Some(&close);
    if wrapped(b'<', b'>') || wrapped(b'[', b']') || wrapped(b'{', b'}') || wrapped(b'%', b'%') || wrapped(b'@', b'@') {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower == w.as_bytes()) || PLACEHOLDER_PARTS.iter().any(|p| contains(p)) {
        return true;
    }
    if lower.starts_with(b"your") || lower.starts_with(b"my_") || lower.starts_with(b"my-") {
        return true;
    }
    // File paths: /run/secrets/db, ./key, ~/.token, C:\secrets
    if is_absolute_path(value)
        || value.starts_with(b"./")
        || value.starts_with(b"../")
        || value.starts_with(b"~/")
        || lower.starts_with(b"file:")
        || (value.len() > 2 && value[0].is_ascii_alphabetic() && value[1] == b':' && matches!(value[2], b'\\' | b'/'))
    {
        return true;
    }
    if is_repetition(value) || is_sequence(value) {
        return true;
    }
    // The key's own name as its value (`password: PASSWORD`, `DB_PASSWORD=db_password`).
    let squash =
        |s: &[u8]| -> Vec<u8> { s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect() };
    let v = squash(value);
    !v.is_empty() && v == squash(key)
}

/// `/run/secrets/db`, `/etc/ssl/private/key.pem`: starts with `/`, no base64-only characters,
/// and at least half of its parts (extensions aside) are words. A base64 secret can start with
/// `/` too (one in 64 does), but its parts are not words.
fn is_absolute_path(value: &[u8]) -> bool {
    if value.first() != Some(&b'/') || value.iter().any(|b| matches!(b, b'+' | b'=')) {
        return false;
    }
    let parts: Vec<&[u8]> = value.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let words = parts
        .iter()
        .filter(|p| {
            let stem = p.split(|&b| b == b'.').find(|s| !s.is_empty()).unwrap_or(p);
            stem.split(|&b| b == b'-' || b == b'_').all(|w| w.is_empty() || (is_word(w) && w.len() >= 2))
        })
        .count();
    !parts.is_empty() && words * 2 >= parts.len()
}

/// The value is one unit repeated (`aaaaaaaa`, `abcabcabc`, `deadbeefdeadbeef`) or uses at most
/// two distinct characters.
fn is_repetition(value: &[u8]) -> bool {
    let mut distinct = [false; 256];
    let mut count = 0;
    for &b in value {
        if !distinct[b as usize] {
            distinct[b as usize] = true;
            count += 1;
        }
    }
    if count <= 2 {
        return true;
    }
    let n = value.len();
    (1..=n / 2).any(|unit| n % unit == 0 && value.chunks(unit).all(|c| c == &value[..unit]))
}

/// At least 80 % of neighbouring characters step by +1 (or all by -1): `123456`, `abcdef`,
/// `1234567890`, `987654321`.
fn is_sequence(value: &[u8]) -> bool {
    if value.len() < 2 {
        return false;
    }
    let steps = value.len() - 1;
    let up = value.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count();
    let down = value.windows(2).filter(|w| w[0] == w[1].wrapping_add(1)).count();
    up * 5 >= steps * 4 || down * 5 >= steps * 4
}

/// Values with a structure that secrets do not have: URLs (their passwords are the URL
/// detector's), e-mail addresses, `host:port`, versions, dates and times, code (`getPassword()`,
/// `os.environ[`).
fn is_structured(value: &[u8]) -> bool {
    if super::validate::find(value, b"://").is_some() {
        return true;
    }
    if value.contains(&b'(') || value.contains(&b'[') {
        return true;
    }
    // e-mail: local@domain.tld
    if let Some(at) = value.iter().position(|&b| b == b'@') {
        let domain = &value[at + 1..];
        if at > 0
            && domain.contains(&b'.')
            && domain.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && domain.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 2
        {
            return true;
        }
    }
    // Documented alternatives: `true|false`, `md5|scram-sha-256`.
    if value.contains(&b'|')
        && value.split(|&b| b == b'|').all(|alt| alt.is_empty() || is_wordy(alt) || is_structured(alt))
    {
        return true;
    }
    // Versions, dates, times, addresses: digits and separators only.
    if value.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b':' | b'/' | b'T' | b'Z' | b'+' | b'_')) {
        return true;
    }
    // host:port
    if let Some(colon) = value.iter().rposition(|&b| b == b':') {
        let (host, port) = (&value[..colon], &value[colon + 1..]);
        if !port.is_empty()
            && port.len() <= 5
            && port.iter().all(u8::is_ascii_digit)
            && host.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        {
            return true;
        }
    }
    false
}

/// Made of words: every part between `. _ - / :` is a lower-case, upper-case, Capitalized or
/// camelCase word without digits (`my-app-secret-key`, `com.mysql.jdbc.Driver`,
/// `process.env.DB_PASSWORD`, `notASecret`). Random values almost never are.
fn is_wordy(value: &[u8]) -> bool {
    let mut any = false;
    for part in value.split(|b| matches!(b, b'.' | b'_' | b'-' | b'/' | b':')) {
        if part.is_empty() {
            continue;
        }
        any = true;
        if !is_word(part) {
            return false;
        }
    }
    any
}

/// `word`, `WORD`, `Word`, `camelCaseWord`, `CamelCase`: letters only, no two upper-case letters
/// in a row unless the whole part is upper case, and each upper-case letter (after the first)
/// followed by a lower-case one.
fn is_word(part: &[u8]) -> bool {
    if !part.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    if part.iter().all(u8::is_ascii_uppercase) {
        return true;
    }
    part.iter().enumerate().all(|(i, b)| {
        !b.is_ascii_uppercase() || (i == 0 && part.len() > 1) || part.get(i + 1).is_some_and(u8::is_ascii_lowercase)
    }) && !part.windows(2).any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
        && part.iter().filter(|b| b.is_ascii_uppercase()).count() * 3 <= part.len()
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
            ("tokenizer", None),
            ("bypass", None),
            ("compass", None),
            ("author", None),
            ("key", None),
            ("", None),
        ];
        for (key, kind) in cases {
            assert_eq!(key_kind(key.as_bytes()), *kind, "{key}");
        }
    }

    /// `(text, hit word, expected key, expected value)`; `None` when no assignment is read.
    #[test]
    fn assignments_in_every_syntax() {
        type Case = (&'static str, &'static str, Option<(&'static str, &'static str)>);
        let cases: &[Case] = &[
            ("DB_PASSWORD=s3cr3t-Value\n", "PASS", Some(("DB_PASSWORD", "s3cr3t-Value"))),
            ("export API_TOKEN=\"abc def\"\n", "TOKEN", Some(("API_TOKEN", "abc def"))),
            ("ENV DB_PASSWORD=hunter2x NEXT=1", "PASS", Some(("DB_PASSWORD", "hunter2x"))),
            ("ENV DB_PASSWORD hunter2 with spaces\n", "PASS", Some(("DB_PASSWORD", "hunter2 with spaces"))),
            ("/bin/sh -c #(nop) ENV SLACK_TOKEN=xoxb-1", "TOKEN", Some(("SLACK_TOKEN", "xoxb-1"))),
            ("|1 NPM_TOKEN=abc123 /bin/sh -c npm ci", "TOKEN", Some(("NPM_TOKEN", "abc123"))),
            ("db.password = s3cr3t\n", "pass", Some(("db.password", "s3cr3t"))),
            ("password: 'quoted value'\n", "pass", Some(("password", "quoted value"))),
            ("  \"client_secret\": \"abc\",\n", "secret", Some(("client_secret", "abc"))),
            ("<user password=\"pw1\" name=\"x\"/>", "pass", Some(("password", "pw1"))),
            ("<password>inner</password>", "pass", Some(("password", "inner"))),
            ("define('DB_PASSWORD', 'wp-pass');", "PASS", Some(("DB_PASSWORD", "wp-pass"))),
            ("'password' => 'arrow',", "pass", Some(("password", "arrow"))),
            ("run --db-password=flagval", "pass", Some(("db-password", "flagval"))),
            ("Authorization: Bearer abc.def", "Auth", Some(("Authorization", "abc.def"))),
            ("jdbc:x://h/db?user=u&password=qp&ssl=1", "pass", Some(("password", "qp"))),
            ("TOKEN := gotoken", "TOKEN", Some(("TOKEN", "gotoken"))),
            ("if password == \"x\"", "pass", None),
            ("user = password_admin\n", "pass", None),
            ("cat /run/secrets/token", "token", None),
            ("echo $DB_PASSWORD", "PASS", None),
            ("password:\n", "pass", None),
            ("Foo::Password", "Pass", None),
            ("password: \"unterminated\n", "pass", None),
            ("METHOD \"password\", \"scram-sha-256\"", "pass", None),
            ("os.getenv(\"DB_PASSWORD\", \"dflt\")", "PASS", Some(("DB_PASSWORD", "dflt"))),
            ("a password here", "pass", None),
        ];
        for (text, word, want) in cases {
            let hit = text.find(word).unwrap();
            let got =
                parse_assignment(text.as_bytes(), hit).map(|a| (&text[a.key.0..a.key.1], &text[a.value.0..a.value.1]));
            assert_eq!(got, *want, "{text:?}");
        }
    }

    #[test]
    fn url_passwords() {
        let cases: &[(&str, Option<&str>)] = &[
            ("postgres://app:h3C6NsOAdgfDSSotrA@db:5432/app", Some("h3C6NsOAdgfDSSotrA")),
            ("redis://:s3cret@cache", Some("s3cret")),
            ("https://u:p@ss@host/x", Some("p@ss")),
            ("https://example.com/a:b@c", None),
            ("https://user@host", None),
            ("https://user:@host", None),
            ("https://user:pw@", None),
            ("x://a:b@c", None),
        ];
        for (text, want) in cases {
            let marker = text.find("://").unwrap();
            let got = parse_url_password(text.as_bytes(), marker).map(|(_, p)| &text[p.0..p.1]);
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn every_placeholder_form() {
        let placeholders = [
            "${DB_PASSWORD}",
            "prefix-${VAR}-x",
            "$DB_PASSWORD",
            "$(cat /run/secrets/db)",
            "{{ .Values.password }}",
            "{{password}}",
            "<your-api-key>",
            "%s",
            "%(password)s",
            "%DB_PASSWORD%",
            "changeme",
            "CHANGEME",
            "change_me",
            "xxxxxxxxxxxx",
            "xxxx-xxxx-xxxx",
            "************",
            "example",
            "my-example-key",
            "sample_token",
            "dummy",
            "dummy-secret-123",
            "test",
            "password",
            "secret",
            "null",
            "None",
            "nil",
            "true",
            "false",
            "undefined",
            "redacted",
            "[REDACTED]",
            "placeholder",
            "your_api_key",
            "YourSecretHere",
            "aaaaaaaa",
            "abababab",
            "123456",
            "1234567890",
            "abcdef",
            "abcdefghij",
            "987654321",
            "/run/secrets/x",
            "./secrets/key",
            "~/.token",
            "C:\\secrets\\key",
            "file:///etc/key",
            "Sup3rPassword!",
            "anonymous:$FROM_EMAIL",
        ];
        for p in placeholders {
            assert!(is_placeholder(p.as_bytes(), b"db_password"), "{p} should be a placeholder");
        }
        assert!(is_placeholder(b"DB-Password", b"DB_PASSWORD"), "the key's own name");
        for real in
            ["h3C6NsOAdgfDSSotrA", "l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm", "Tr0ub4dor&3", "$2b$10$abcdefghij"]
        {
            assert!(!is_placeholder(real.as_bytes(), b"db_password"), "{real} is not a placeholder");
        }
    }

    #[test]
    fn thresholds_per_class() {
        use CharClass::*;
        // (value, class, key kind, reported)
        let cases: &[(&str, CharClass, KeyKind, bool)] = &[
            // hex: >= 20 chars and H >= 2.9
            ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", Hex, KeyKind::Generic, true),
            ("4e1f0c2b9d8a7e63b5a1", Hex, KeyKind::Generic, true), // 20 chars, H 3.9
            ("4e1f0c2b9d8a7e63b5", Hex, KeyKind::Generic, false),  // 18 chars
            ("a1a1a1a1b2b2b2b2c3c3", Hex, KeyKind::Generic, false), // 20 chars, H 2.6
            // base64: >= 16 chars and H >= 3.3
            ("q2H+v9/Lk3xZ0pWm", Base64, KeyKind::Generic, true), // 16 chars, H 4.0
            ("q2H+v9/Lk3xZ0pW", Base64, KeyKind::Generic, false), // 15 chars
            ("ab-ab-ab-ab-cd-cd-c1", Base64, KeyKind::Generic, false), // H 2.3
            // alphanumeric: >= 12 chars, H >= 3.0, two kinds
            ("h3C6NsOAdgfD", Alphanumeric, KeyKind::Generic, true), // 12 chars, H 3.6
            ("h3C6NsOAdgf", Alphanumeric, KeyKind::Generic, false), // 11 chars
            ("aaax1111xxxa", Alphanumeric, KeyKind::Generic, false), // H 1.6
            ("qwxzvbnmkjhgfdsa", Alphanumeric, KeyKind::Generic, false), // one kind
            // printable: >= 12 chars, H >= 3.0
            ("k9#Lm2!pQ7&z", Printable, KeyKind::Generic, true), // 12 chars, H 3.6
            ("k9#Lm2!pQ7&", Printable, KeyKind::Generic, false), // 11 chars
            ("a!a!a!a!b#b#b#c", Printable, KeyKind::Generic, false), // H 2.2
            // password keys: >= 8 chars, H >= 2.5, two kinds
            ("s3cr3tP@ss", Printable, KeyKind::Password, true), // 10 chars, H 2.6
            ("s3cr3tP@ss", Printable, KeyKind::Generic, false),
            ("hunter22", Alphanumeric, KeyKind::Password, true), // H 2.75
            ("hunter2", Alphanumeric, KeyKind::Password, false), // 7 chars
            ("aax1aax1", Alphanumeric, KeyKind::Password, false), // repeated
            ("postgres", Alphanumeric, KeyKind::Password, false), // one kind
        ];
        for (value, class, kind, reported) in cases {
            let v = value.as_bytes();
            assert_eq!(char_class(v), *class, "{value} class");
            assert_eq!(judge(*kind, b"key", v).is_some(), *reported, "{value} (H {})", entropy::shannon_entropy(v));
        }
    }

    #[test]
    fn structure_is_not_a_secret() {
        for value in [
            "com.mysql.jdbc.Driver",
            "process.env.DB_PASSWORD",
            "kubernetes.io/service-account-token",
            "admin@company.com",
            "localhost:5432",
            "db.internal.local:6379",
            "2024-01-01T00:00:00Z",
            "10.0.0.1:8080",
            "getPassword()",
            "os.environ[",
            "https://vault.internal/v1/secret",
            "my-app-secret-key",
            "notAnActualValue",
        ] {
            assert_eq!(judge(KeyKind::Specific, b"key", value.as_bytes()), None, "{value}");
        }
    }

    #[test]
    fn confidence_medium_only_for_specific_keys_with_high_entropy() {
        let strong = b"l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm";
        assert_eq!(judge(KeyKind::Specific, b"client_secret", strong), Some(Confidence::Medium));
        assert_eq!(judge(KeyKind::Password, b"db_password", strong), Some(Confidence::Medium));
        assert_eq!(judge(KeyKind::Generic, b"token", strong), Some(Confidence::Low));
        assert_eq!(judge(KeyKind::Password, b"db_password", b"hunter22"), Some(Confidence::Low));
    }

    /// The thresholds' justification: a random value of each class at the minimum length clears
    /// its bar at least 98 % of the time (the bars sit at about the 1st percentile).
    #[test]
    fn thresholds_pass_random_values() {
        let alphabets: [(CharClass, &[u8]); 4] = [
            (CharClass::Hex, b"0123456789abcdef"),
            (CharClass::Base64, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
            (CharClass::Alphanumeric, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            (CharClass::Printable, b"!#%&*+-0123456789;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_abcdefghijklmnopqrstuvwxyz~"),
        ];
        // xorshift: deterministic, no dependency.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (class, alphabet) in alphabets {
            let (_, len, _) = THRESHOLDS.iter().copied().find(|(c, _, _)| *c == class).unwrap();
            let trials = 2000;
            let mut passed = 0;
            let mut tried = 0;
            while tried < trials {
                let value: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
                // Sample the class itself: a draw from the printable alphabet without a symbol
                // is a base64 or alphanumeric value, judged by that class's bar.
                if char_class(&value) != class {
                    continue;
                }
                tried += 1;
                if judge(KeyKind::Generic, b"token", &value).is_some() {
                    passed += 1;
                }
            }
            assert!(passed * 100 >= trials * 98, "{class:?}: {passed}/{trials} random values pass");
        }
    }
}
