//! What a file's path says: test fixture or not, source code or configuration.

use super::Match;
use crate::finding::Disposition;

/// Directory names that hold tests, fixtures and examples.
const FIXTURE_DIRS: &[&[u8]] = &[
    b"test",
    b"tests",
    b"testdata",
    b"test_data",
    b"fixtures",
    b"__fixtures__",
    b"spec",
    b"examples",
    b"example",
    b"samples",
];

/// Directories of installed third-party packages.
const PACKAGE_DIRS: &[&[u8]] = &[b"site-packages", b"dist-packages", b"node_modules", b"vendor", b"gems"];

/// Extensions of source code, where an unquoted value is an expression (`password = getPass()`)
/// and only quoted literals can be secrets. Type stubs and declarations (`.pyi`, `.d.ts`,
/// `.d.mts`) are code too: `private_key: x25519.X25519PrivateKey` is an annotation.
const CODE_EXTENSIONS: &[&[u8]] = &[
    b"c", b"cc", b"cjs", b"clj", b"cpp", b"cs", b"dart", b"erl", b"ex", b"exs", b"go", b"groovy", b"h", b"hpp", b"cts",
    b"java", b"js", b"jsx", b"kt", b"kts", b"lua", b"m", b"mjs", b"mts", b"php", b"pl", b"py", b"pyi", b"pyx", b"rb",
    b"rs", b"scala", b"swift", b"ts", b"tsx",
];

/// Whether a finding needs action, or is a documented example or test data.
///
/// - [`Disposition::DocumentedExample`] when the secret is one of its rule's
///   `documented_examples` (e.g. `AKIAIOSFODNN7EXAMPLE`), and for weak evidence ([`Match::weak`]:
///   a match that failed its rule's validation, a placeholder in a credential position);
/// - [`Disposition::TestFixture`] when `path` has a directory named `test`, `tests`,
///   `testdata`, `test_data`, `fixtures`, `__fixtures__`, `spec`, `examples`, `example` or
///   `samples`; for an installed package's documentation (`doc`, `docs` and `man` directories,
///   `*.dist-info` and `*.egg-info` metadata, `README*`, `CHANGELOG*`, `*.md`, `*.rst` inside
///   `site-packages`, `node_modules`, …); for anything under `usr/share/doc/` or
///   `usr/share/man/`; and for private keys inside shared or static libraries (`*.so`,
///   `*.so.1`, `*.a`, `*.dll`, `*.dylib`), which are their self-test keys;
/// - [`Disposition::Actionable`] otherwise, and for config values (`path` is `None`).
pub fn disposition(path: Option<&[u8]>, m: &Match) -> Disposition {
    if m.documented_example || m.weak {
        return Disposition::DocumentedExample;
    }
    match path {
        Some(path) if is_fixture(path, m) => Disposition::TestFixture,
        _ => Disposition::Actionable,
    }
}

fn is_fixture(path: &[u8], m: &Match) -> bool {
    let path = path.strip_prefix(b"/").unwrap_or(path);
    if path.starts_with(b"usr/share/doc/") || path.starts_with(b"usr/share/man/") {
        return true;
    }
    let components: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    let (base, dirs) = components.split_last().map_or((&b""[..], &[][..]), |(b, d)| (*b, d));
    let mut in_package = false;
    for dir in dirs {
        let dir = dir.to_ascii_lowercase();
        if FIXTURE_DIRS.contains(&dir.as_slice()) {
            return true;
        }
        // A package's documentation, and its metadata (`*.dist-info/METADATA` is its README).
        if in_package
            && (matches!(dir.as_slice(), b"doc" | b"docs" | b"man")
                || dir.ends_with(b".dist-info")
                || dir.ends_with(b".egg-info"))
        {
            return true;
        }
        in_package |= PACKAGE_DIRS.contains(&dir.as_slice());
    }
    if in_package && is_documentation(base) {
        return true;
    }
    is_private_key(m) && is_library(base)
}

fn is_private_key(m: &Match) -> bool {
    super::validate::find(&m.secret, b"PRIVATE KEY").is_some()
        || m.rule_id.contains("private-key")
        || m.rule_id.contains("private_key")
}

/// `README.md`, `CHANGELOG`, `HISTORY.rst`, `*.md`, `*.rst`: a package's documentation.
fn is_documentation(base: &[u8]) -> bool {
    let lower = base.to_ascii_lowercase();
    ["readme", "changelog", "changes", "history"].iter().any(|p| lower.starts_with(p.as_bytes()))
        || lower.ends_with(b".md")
        || lower.ends_with(b".rst")
        || lower.ends_with(b".markdown")
}

/// `libfoo.so`, `libfoo.so.1.2`, `libfoo.a`, `foo.dll`, `foo.dylib`.
fn is_library(base: &[u8]) -> bool {
    let lower = base.to_ascii_lowercase();
    lower.ends_with(b".so")
        || super::validate::find(&lower, b".so.").is_some()
        || lower.ends_with(b".a")
        || lower.ends_with(b".dll")
        || lower.ends_with(b".dylib")
}

/// Whether `path` is source code (by extension).
pub(crate) fn is_code(path: &[u8]) -> bool {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let Some(dot) = base.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    if dot == 0 {
        return false;
    }
    let ext = base[dot + 1..].to_ascii_lowercase();
    CODE_EXTENSIONS.contains(&ext.as_slice())
}
