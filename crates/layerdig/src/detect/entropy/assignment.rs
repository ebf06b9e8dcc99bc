//! The assignment parser: the `key <sep> value` around a prefilter hit, in the syntaxes of
//! `.env` files, shells, Dockerfiles, ini / properties / toml, YAML, JSON, XML, PHP and CLI flags.

use super::MAX_VALUE;

/// Longest key considered (a longer run of key characters is not a key).
const MAX_KEY: usize = 128;

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
    // A variable reference (`$DB_PASSWORD`, `%DB_PASSWORD%`), a path (`/run/secrets/token`), or
    // a part of a colon-separated name (`arn:aws:secretsmanager:…:secret:db-AbC123`,
    // `Foo::Secret`, `urn:…:token:…`); but `.npmrc` scopes a key to a registry with `/:`
    // (`//registry.example.com/:_authToken=…`).
    let scoped = ks >= 2 && data[ks - 2] == b'/';
    if matches!(before, Some(b'$' | b'/' | b'\\' | b'%')) || (before == Some(b':') && !scoped) {
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
    // An annotated assignment, `SECRET_KEY: str = "…"`, `const apiKey: string = '…'`: the
    // annotation is a type, the value comes after the `=`.
    if !literal && rest.first() == Some(&b':') {
        let mut j = e;
        while j < n && is_blank(data[j]) {
            j += 1;
        }
        if data.get(j) == Some(&b'=') && !matches!(data.get(j + 1), Some(b'=' | b'>')) {
            j += 1;
            while j < n && is_blank(data[j]) {
                j += 1;
            }
            if let Some((s, e, true)) = read_value(data, j) {
                return Some(Assignment { key: (ks, ke), value: (s, e), literal: true });
            }
        }
    }
    Some(Assignment { key: (ks, ke), value: (s, e), literal })
}

/// Whether the literal of `a`, in source code, is a type rather than a value: a member of a
/// union of literal types (`type Strategy = "SMART_ON_FHIR_V1" | "AWS_AUTH"`, the literal then
/// followed by `|`) or a quoted annotation (`auth: "OAuth2Session" = None`, followed by `=`).
pub(crate) fn is_code_type(data: &[u8], a: &Assignment) -> bool {
    let mut i = a.value.1 + 1; // past the closing quote
    while i < data.len() && is_blank(data[i]) {
        i += 1;
    }
    match data.get(i) {
        Some(b'|') => true,
        Some(b'=') => !matches!(data.get(i + 1), Some(b'=' | b'>')),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            // Annotated assignments: the value after the `=`, not the type.
            ("SECRET_KEY: str = \"k9Lm2pQ7z\"\n", "SECRET", Some(("SECRET_KEY", "k9Lm2pQ7z"))),
            ("const apiKey: string = 'k9Lm2pQ7z';", "apiKey", Some(("apiKey", "k9Lm2pQ7z"))),
            ("private_key: ed448.Ed448PrivateKey\n", "private_key", Some(("private_key", "ed448.Ed448PrivateKey"))),
            // A part of a colon-separated name is no key.
            ("\"arn:aws:secretsmanager:eu-west-1:210987654321:secret:orders-Qz81Kw\"", "secret:orders", None),
            ("Vendor::Token = 1", "Token", None),
            ("//registry.example.com/:_authToken=npmtok1", "auth", Some(("_authToken", "npmtok1"))),
        ];
        for (text, word, want) in cases {
            let hit = text.find(word).unwrap();
            let got =
                parse_assignment(text.as_bytes(), hit).map(|a| (&text[a.key.0..a.key.1], &text[a.value.0..a.value.1]));
            assert_eq!(got, *want, "{text:?}");
        }
    }

    /// Literals in code that are types: members of a union, quoted annotations. `(text, hit
    /// word, is a type)`.
    #[test]
    fn literals_that_are_types() {
        let cases: &[(&str, &str, bool)] = &[
            ("export type ApiToken = \"q8Zr2LmX7vNc4Tp1\" | \"Kw9Ys3Bd6Hf0Ja5G\";", "ApiToken", true),
            ("export type ApiToken = \"q8Zr2LmX7vNc4Tp1\"|string;", "ApiToken", true),
            ("credentials: \"OAuth2SessionCredentials\" = None", "credentials", true),
            ("api_token = \"q8Zr2LmX7vNc4Tp1\"\n", "api_token", false),
            ("{\"api_token\": \"q8Zr2LmX7vNc4Tp1\", \"x\": 1}", "api_token", false),
            ("if api_token == \"q8Zr2LmX7vNc4Tp1\" || x", "api_token", false),
            ("'api_token' => 'q8Zr2LmX7vNc4Tp1',", "api_token", false),
        ];
        for (text, word, want) in cases {
            let hit = text.find(word).unwrap();
            let got = parse_assignment(text.as_bytes(), hit).is_some_and(|a| is_code_type(text.as_bytes(), &a));
            assert_eq!(got, *want, "{text:?}");
        }
    }
}
