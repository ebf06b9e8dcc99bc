//! Python's records of installed distributions.
//!
//! - `<site>/<name>-<version>.dist-info/RECORD` (wheels, pip): CSV, one `path,hash,size` row
//!   per file. Paths are relative to `<site>`, the directory holding the `.dist-info`, and may
//!   climb out of it (`../../../bin/pip`, a console script); a few installers write absolute
//!   paths. The hash is `sha256=` + URL-safe base64 without padding (pip) or hex (Debian's
//!   packages); it is empty for the RECORD itself and for `.pyc` files compiled after
//!   installation.
//! - `<site>/<name>-<version>[-pyX.Y].egg-info/installed-files.txt` (setuptools): one path per
//!   line relative to the `.egg-info` directory, no digests.
//!
//! The name and version come from the directory's name.

use std::borrow::Cow;

use super::table::Feed;
use super::{
    DigestAlgorithm, Ecosystem, FileDigest, OwnedFile, OwnershipError, OwnershipErrorKind, Package, PackageId,
    file_name, join, numbered_lines, parent, text,
};

/// Reads a `.dist-info/RECORD`.
pub(crate) fn read_record(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let id = distribution(feed, b".dist-info")?;
    let site = parent(parent(feed.database)).to_vec();
    for record in csv_records(bytes) {
        let (n, fields) = match record {
            Ok(record) => record,
            Err((n, kind)) => {
                feed.problem(n, kind);
                continue;
            }
        };
        let Some(path) = fields.first().filter(|path| !path.is_empty()) else {
            feed.problem(n, OwnershipErrorKind::MalformedLine);
            continue;
        };
        let path: &[u8] = path;
        let path = if path.starts_with(b"/") { path.to_vec() } else { join(&site, path) };
        let digest = match fields.get(1).map(|hash| parse_hash(hash)) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(digest))) => Some(digest),
            Some(Err(kind)) => {
                feed.problem(n, kind);
                None
            }
        };
        feed.file(&path, OwnedFile { package: id, digest, conffile: false });
    }
    Ok(())
}

/// Reads an `.egg-info/installed-files.txt`.
pub(crate) fn read_installed_files(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let id = distribution(feed, b".egg-info")?;
    let egg_info = parent(feed.database).to_vec();
    for (_, line) in numbered_lines(bytes) {
        if !line.is_empty() {
            let path = if line.starts_with(b"/") { line.to_vec() } else { join(&egg_info, line) };
            feed.file(&path, OwnedFile { package: id, digest: None, conffile: false });
        }
    }
    Ok(())
}

/// The distribution a `<name>-<version>.<suffix>` directory holding the database is.
fn distribution(feed: &mut Feed<'_>, suffix: &[u8]) -> Result<PackageId, OwnershipError> {
    let dir = parent(feed.database);
    let stem = file_name(dir).strip_suffix(suffix).map(text).filter(|stem| !stem.is_empty());
    let Some(stem) = stem else {
        return Err(feed.error(OwnershipErrorKind::UnexpectedPath));
    };
    // Wheels escape `-` in both parts, so the first `-` splits them; an egg may add
    // `-py3.11` and a platform after the version.
    let mut parts = stem.splitn(3, '-');
    let name = parts.next().unwrap_or_default().to_string();
    let version = parts.next().filter(|version| !version.is_empty()).map(str::to_string);
    let key = dir.to_vec();
    Ok(feed.package(Ecosystem::Python, &key, || Package::new(Ecosystem::Python, name, version)))
}

/// A RECORD hash field: `None` when empty.
fn parse_hash(field: &[u8]) -> Result<Option<FileDigest>, OwnershipErrorKind> {
    if field.is_empty() {
        return Ok(None);
    }
    let Some(eq) = field.iter().position(|&b| b == b'=') else {
        return Err(OwnershipErrorKind::MalformedDigest);
    };
    let (name, value) = (&field[..eq], &field[eq + 1..]);
    let Some(algorithm) = DigestAlgorithm::from_record_name(name) else {
        return Err(OwnershipErrorKind::UnsupportedDigest(text(name)));
    };
    FileDigest::from_hex_or_base64(algorithm, value).map(Some).ok_or(OwnershipErrorKind::MalformedDigest)
}

/// A CSV row: the line it starts at and its fields.
type Row<'a> = (usize, Vec<Cow<'a, [u8]>>);

/// The rows of a CSV file as Python's `csv` module writes them: `,` between fields, a field
/// with `,`, `"` or a line break quoted, `""` for a quote inside quotes. Blank lines are skipped.
fn csv_records(bytes: &[u8]) -> impl Iterator<Item = Result<Row<'_>, (usize, OwnershipErrorKind)>> {
    let mut at = 0;
    let mut line = 1;
    std::iter::from_fn(move || {
        loop {
            if at >= bytes.len() {
                return None;
            }
            let start_line = line;
            let mut fields = Vec::new();
            loop {
                let (field, next, ended_row) = match csv_field(bytes, at, &mut line) {
                    Ok(field) => field,
                    Err(kind) => {
                        at = bytes.len();
                        return Some(Err((start_line, kind)));
                    }
                };
                fields.push(field);
                at = next;
                if ended_row {
                    break;
                }
            }
            if fields.len() == 1 && fields[0].is_empty() {
                continue;
            }
            return Some(Ok((start_line, fields)));
        }
    })
}

/// One field from `at`: its bytes, where the next begins, and whether it ended its row.
fn csv_field<'a>(
    bytes: &'a [u8],
    at: usize,
    line: &mut usize,
) -> Result<(Cow<'a, [u8]>, usize, bool), OwnershipErrorKind> {
    let end_of = |i: usize, line: &mut usize| -> (usize, bool) {
        match bytes.get(i) {
            None => (i, true),
            Some(b',') => (i + 1, false),
            Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => {
                *line += 1;
                (i + 2, true)
            }
            Some(_) => {
                *line += 1;
                (i + 1, true)
            }
        }
    };
    if bytes.get(at) != Some(&b'"') {
        let len = bytes[at..].iter().position(|&b| matches!(b, b',' | b'\n' | b'\r')).unwrap_or(bytes.len() - at);
        let (next, ended) = end_of(at + len, line);
        return Ok((Cow::Borrowed(&bytes[at..at + len]), next, ended));
    }
    let mut value = Vec::new();
    let mut i = at + 1;
    loop {
        match bytes.get(i) {
            None => return Err(OwnershipErrorKind::UnterminatedQuote),
            Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                value.push(b'"');
                i += 2;
            }
            Some(b'"') => {
                i += 1;
                break;
            }
            Some(&b) => {
                if b == b'\n' {
                    *line += 1;
                }
                value.push(b);
                i += 1;
            }
        }
    }
    // Anything between the closing quote and the separator is kept, as Python's reader does.
    let len = bytes[i..].iter().position(|&b| matches!(b, b',' | b'\n' | b'\r')).unwrap_or(bytes.len() - i);
    value.extend_from_slice(&bytes[i..i + len]);
    let (next, ended) = end_of(i + len, line);
    Ok((Cow::Owned(value), next, ended))
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseKind, Ownership, Verdict, is_database, verify};
    use super::*;

    const JSONPOINTER_RECORD: &[u8] = include_bytes!("testdata/python/jsonpointer-RECORD");
    const JSONPOINTER_PY: &[u8] = include_bytes!("testdata/files/jsonpointer.py");
    const JSONPOINTER_BIN: &[u8] = include_bytes!("testdata/files/jsonpointer-bin");
    const BLINKER_RECORD: &[u8] = include_bytes!("testdata/python/blinker-RECORD");
    const BLINKER_INIT: &[u8] = include_bytes!("testdata/files/blinker-init.py");

    const PIP_SITE: &str = "root/.pyenv/versions/3.11.7/lib/python3.11/site-packages";
    const DEBIAN_SITE: &str = "usr/lib/python3/dist-packages";

    fn table() -> Ownership {
        let mut table = Ownership::new();
        for (path, bytes) in [
            (format!("{PIP_SITE}/jsonpointer-3.1.1.dist-info/RECORD"), JSONPOINTER_RECORD),
            (format!("{DEBIAN_SITE}/blinker-1.5.dist-info/RECORD"), BLINKER_RECORD),
        ] {
            let kind = is_database(path.as_bytes()).unwrap();
            let added = table.add(kind, path.as_bytes(), bytes).unwrap();
            assert!(added.problems.is_empty(), "{:?}", added.problems);
        }
        table
    }

    #[test]
    fn real_record_files() {
        let table = table();
        let module = table.owner(format!("{PIP_SITE}/jsonpointer.py").as_bytes()).unwrap();
        assert_eq!(module.package.to_string(), "python:jsonpointer@3.1.1");
        // `../../../bin/jsonpointer`, resolved against the site-packages directory.
        let script = table.owner(b"root/.pyenv/versions/3.11.7/bin/jsonpointer").unwrap();
        assert_eq!(script.package.name, "jsonpointer");
        assert_eq!(
            script.file.digest.as_ref().unwrap().hex(),
            "960b91ea57ad94bd1304e08a72919665a5bd4fcdf3b82fd9abace657e3e25031"
        );
        // Empty hash: the RECORD itself, a .pyc compiled later.
        let pyc = table.owner(format!("{PIP_SITE}/__pycache__/jsonpointer.cpython-311.pyc").as_bytes()).unwrap();
        assert_eq!(pyc.file.digest, None);
        // Debian writes the SHA-256 in hex.
        let blinker = table.owner(format!("{DEBIAN_SITE}/blinker/__init__.py").as_bytes()).unwrap();
        assert_eq!(blinker.package.to_string(), "python:blinker@1.5");
        assert!(table.owner(format!("{DEBIAN_SITE}/blinker/other.py").as_bytes()).is_none());
    }

    #[test]
    fn real_files_match_and_a_flipped_byte_does_not() {
        let table = table();
        for (path, bytes) in [
            (format!("{PIP_SITE}/jsonpointer.py"), JSONPOINTER_PY),
            ("root/.pyenv/versions/3.11.7/bin/jsonpointer".to_string(), JSONPOINTER_BIN),
            (format!("{DEBIAN_SITE}/blinker/__init__.py"), BLINKER_INIT),
        ] {
            let owner = table.owner(path.as_bytes()).unwrap();
            assert_eq!(verify(owner.file, bytes), Verdict::Matches, "{path}");
            let mut flipped = bytes.to_vec();
            flipped[bytes.len() / 2] ^= 0x20;
            match verify(owner.file, &flipped) {
                Verdict::Modified { expected, actual } => {
                    assert_eq!(Some(&expected), owner.file.digest.as_ref());
                    assert_eq!(actual.algorithm, DigestAlgorithm::Sha256);
                    assert_ne!(expected.bytes, actual.bytes);
                }
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn csv_rows() {
        let record =
            b"plain.py,sha256=abc,12\n\"with,comma.py\",,\n\"say \"\"hi\"\".py\",,3\r\n\n\"two\nlines.py\",,1\nlast,,";
        let rows: Vec<(usize, Vec<String>)> = csv_records(record)
            .map(|row| {
                let (n, fields) = row.unwrap();
                (n, fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
            })
            .collect();
        let want: Vec<(usize, Vec<&str>)> = vec![
            (1, vec!["plain.py", "sha256=abc", "12"]),
            (2, vec!["with,comma.py", "", ""]),
            (3, vec!["say \"hi\".py", "", "3"]),
            (5, vec!["two\nlines.py", "", "1"]),
            (7, vec!["last", "", ""]),
        ];
        let got: Vec<(usize, Vec<&str>)> =
            rows.iter().map(|(n, f)| (*n, f.iter().map(String::as_str).collect())).collect();
        assert_eq!(got, want);

        let bad: Vec<_> = csv_records(b"ok,,\n\"never closed,,\n").collect();
        assert!(bad[0].is_ok());
        assert!(matches!(bad[1], Err((2, OwnershipErrorKind::UnterminatedQuote))));
    }

    #[test]
    fn problems_are_per_line() {
        let record = "a.py,sha256=j81llr7jMvEdAk44hFqYjnh-LA-uwuX-eR4VbRZcwnc,10551\n\
                      b.py,md4=abcd,1\n\
                      c.py,sha256=tooshort,1\n\
                      d.py,nohash,1\n\
                      ,,\n\
                      /usr/bin/e,sha256=j81llr7jMvEdAk44hFqYjnh-LA-uwuX-eR4VbRZcwnc,1\n";
        let mut table = Ownership::new();
        let path = b"usr/lib/python3.12/site-packages/x-1.0.dist-info/RECORD";
        let added = table.add(DatabaseKind::PythonRecord, path, record.as_bytes()).unwrap();
        let problems: Vec<String> = added.problems.iter().map(|p| p.kind.to_string()).collect();
        assert_eq!(
            problems,
            ["unsupported digest algorithm \"md4\"", "malformed digest", "malformed digest", "malformed line"]
        );
        assert_eq!(added.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [Some(2), Some(3), Some(4), Some(5)]);
        // Files with a bad hash are still owned, unverified; an absolute path is from the root.
        assert_eq!(table.owner(b"usr/lib/python3.12/site-packages/b.py").unwrap().file.digest, None);
        assert!(table.owner(b"usr/bin/e").unwrap().file.digest.is_some());
    }

    #[test]
    fn egg_info_installed_files() {
        let list = b"../dbus/__init__.py\n../dbus/bus.py\n./\nPKG-INFO\n";
        let path = b"usr/lib/python3/dist-packages/dbus_python-1.3.2-py3.11.egg-info/installed-files.txt";
        let mut table = Ownership::new();
        table.add(is_database(path).unwrap(), path, list).unwrap();
        let owner = table.owner(b"usr/lib/python3/dist-packages/dbus/bus.py").unwrap();
        assert_eq!(owner.package.to_string(), "python:dbus_python@1.3.2");
        assert_eq!(owner.file.digest, None);
        assert!(table.owner(b"usr/lib/python3/dist-packages/dbus_python-1.3.2-py3.11.egg-info/PKG-INFO").is_some());

        let nameless = b"usr/lib/python3/dist-packages/.egg-info/installed-files.txt";
        let err = table.add(DatabaseKind::PythonInstalledFiles, nameless, list).unwrap_err();
        assert!(matches!(err.kind, OwnershipErrorKind::UnexpectedPath));
    }
}
