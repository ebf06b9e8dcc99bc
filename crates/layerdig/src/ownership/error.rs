//! What can be wrong with a package database: [`OwnershipError`] names the database's path, the
//! line when the problem is at one, and what is wrong ([`OwnershipErrorKind`]).

use std::fmt;

/// A problem reading a package database.
///
/// Returned by [`crate::ownership::Ownership::add`] when the whole file is unusable (a
/// `package.json` that is not JSON), and listed in [`crate::ownership::Added::problems`] for a
/// record that was skipped while the rest of the file was read.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", String::from_utf8_lossy(.database), LineSuffix(*.line))]
#[non_exhaustive]
pub struct OwnershipError {
    /// The database's path, as the layer stores it.
    pub database: Box<[u8]>,
    /// The 1-based line the problem is at, when it is at one.
    pub line: Option<usize>,
    /// What is wrong. Its text is part of this error's; it is not repeated as a source.
    pub kind: OwnershipErrorKind,
}

impl OwnershipError {
    pub(crate) fn new(database: &[u8], line: Option<usize>, kind: OwnershipErrorKind) -> OwnershipError {
        OwnershipError { database: database.into(), line, kind }
    }
}

/// What is wrong in a package database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OwnershipErrorKind {
    /// A record lacks a field it needs (a dpkg stanza without `Package:`, an apk `R:` before any
    /// `F:` or `P:`).
    #[error("record without {0}")]
    MissingField(&'static str),
    /// A line is not of the form the database's format has.
    #[error("malformed line")]
    MalformedLine,
    /// A digest is not valid hex or base64 of its algorithm's length.
    #[error("malformed digest")]
    MalformedDigest,
    /// A digest of an algorithm layerdig does not compute; the file is owned, unverified.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedDigest(String),
    /// A quoted CSV field is not closed.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// The database's path does not have the shape its kind needs (a `.dist-info` directory
    /// named without a version, a `package.json` outside `node_modules`).
    #[error("path does not name a package")]
    UnexpectedPath,
    /// A JSON database is not valid JSON, or not of the expected shape.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// SQLite cannot read the database (not SQLite, truncated, corrupt), or could read no more
    /// of it.
    #[error("unreadable SQLite database: {0}")]
    Sqlite(SqliteError),
    /// An SQLite database without the table of rpm's headers, `Packages`.
    #[error("no Packages table")]
    NoPackagesTable,
    /// One package's rpm header, the row `hnum` of the `Packages` table, is malformed; the
    /// package is skipped, or read without what `problem` names.
    #[error("header {hnum}: {problem}")]
    RpmHeader {
        /// The header's number in the database (`hnum`).
        hnum: i64,
        /// What is wrong with it.
        problem: HeaderProblem,
    },
    /// The database lists more files than layerdig reads from one database; the packages after
    /// the limit were not read.
    #[error("more than {0} files; the rest were not read")]
    TooManyFiles(usize),
}

/// What is wrong with one rpm header blob ([`OwnershipErrorKind::RpmHeader`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The blob is shorter than its index and data store say, or is not a blob.
    #[error("truncated")]
    Truncated,
    /// The index or the data store is larger than rpm allows (65 535 entries, 256 MiB).
    #[error("larger than rpm allows")]
    TooLarge,
    /// The entry of a tag points outside the data store.
    #[error("tag {0} points outside the data")]
    OutOfRange(u32),
    /// The entry of a tag has a type its tag never has.
    #[error("tag {tag} has type {found}")]
    WrongType {
        /// The tag.
        tag: u32,
        /// The type its entry says.
        found: u32,
    },
    /// A tag layerdig needs is absent (`NAME`, or `DIRNAMES` with `BASENAMES`).
    #[error("no tag {0}")]
    MissingTag(u32),
    /// An array of file data (digests, flags, modes, directory indexes) does not have one value
    /// per file, or a directory index is out of range: the package is skipped.
    #[error("tag {0} does not match the file list")]
    Mismatched(u32),
    /// The file digests are of an algorithm layerdig does not compute (a PGP hash algorithm
    /// number); the files are owned, unverified.
    #[error("unsupported file digest algorithm {0}")]
    UnsupportedDigest(u32),
    /// A file digest is not hex of its algorithm's length; that file is owned, unverified.
    #[error("malformed digest of {0}")]
    MalformedDigest(String),
}

/// An error of the SQLite library, kept opaque so that its version is not part of layerdig's
/// interface. Its text is SQLite's.
#[derive(Debug)]
pub struct SqliteError(pub(crate) rusqlite::Error);

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqliteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

struct LineSuffix(Option<usize>);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_database_and_line() {
        let e = OwnershipError::new(b"var/lib/dpkg/status", Some(12), OwnershipErrorKind::MissingField("Package"));
        assert_eq!(e.to_string(), "var/lib/dpkg/status:12: record without Package");
        let e = OwnershipError::new(b"a/b\xff/package.json", None, OwnershipErrorKind::UnexpectedPath);
        assert_eq!(e.to_string(), "a/b\u{fffd}/package.json: path does not name a package");
    }
}
