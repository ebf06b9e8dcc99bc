//! Who owns each file of an image: the package databases a layer carries, read from their raw
//! bytes, and the digests they record checked against the bytes of the files they list.
//!
//! A secret in a file a package installed, whose bytes still match the digest the package
//! database recorded, is the package's (a test key in a library's test suite, a sample
//! certificate); one whose bytes do not match was changed after installation, which is worth a
//! look. This module knows nothing of scans: it answers "which package owns `usr/lib/x.py`,
//! with which recorded digest", and "do these bytes match it".
//!
//! ```
//! use layerdig::ownership::{is_database, verify, Ownership, Verdict};
//!
//! let md5sums = b"78dd2c7c6f487348e4a0092c17a19d42  usr/share/doc/netbase/copyright\n";
//! let path = b"var/lib/dpkg/info/netbase.md5sums";
//! let mut table = Ownership::new();
//! let kind = is_database(path).expect("a dpkg md5sums file");
//! table.add(kind, path, md5sums)?;
//!
//! let owner = table.owner(b"usr/share/doc/netbase/copyright").expect("owned");
//! assert_eq!(owner.package.name, "netbase");
//! assert!(matches!(verify(owner.file, b"changed"), Verdict::Modified { .. }));
//! # Ok::<(), layerdig::ownership::OwnershipError>(())
//! ```
//!
//! The pieces:
//! - [`is_database`] says which paths are package databases, and of which [`DatabaseKind`].
//! - [`Ownership::add`] reads one; one file per format: `dpkg` (status, `status.d/`, `info/*.list`
//!   and `*.md5sums`), `apk` (`lib/apk/db/installed`), `python` (`RECORD`,
//!   `installed-files.txt`), `npm` (`package.json` of a `node_modules` package), `gem`
//!   (`specifications/*.gemspec`), `composer` (`vendor/composer/installed.json`), `rpm`
//!   (`rpmdb.sqlite`, opened in memory).
//! - [`owner_by_convention`] needs no database: Go's module cache, Maven's local repository and
//!   Cargo's registry sources name the package in the path.
//! - [`Verifier`] and [`verify`] hash a file's bytes, streamed or at once, against the recorded
//!   digest.
//!
//! Paths are the normalised form [`crate::layer::normalize`] gives tar entry names: relative,
//! no leading `/`, no `.` or `..`, no trailing `/`. A file is owned either by itself (dpkg, apk,
//! Python list every file, most with a digest) or through a directory (an npm package, a gem, a
//! Composer package own everything under their directory, unverified); the file's own entry
//! wins over a directory's, and a deeper directory over a shallower one.

mod apk;
mod composer;
mod convention;
mod digest;
mod dpkg;
mod error;
mod gem;
mod kind;
mod npm;
mod python;
mod report;
mod rpm;
mod table;
mod verify;

use std::fmt;

use serde::Serialize;

pub use convention::owner_by_convention;
pub use digest::{DigestAlgorithm, FileDigest};
pub use error::{HeaderProblem, OwnershipError, OwnershipErrorKind, SqliteError};
pub use kind::{DatabaseKind, is_database};
pub use report::{FileOwner, OwnerVerdict};
pub use table::{Added, Owner, Ownership};
pub use verify::{FileDigests, Verdict, Verifier, verify};

/// The packaging system a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Ecosystem {
    /// Debian and Ubuntu packages (`dpkg`).
    #[serde(rename = "dpkg")]
    Debian,
    /// Alpine packages (`apk`).
    #[serde(rename = "apk")]
    Alpine,
    /// RPM packages (Fedora, RHEL, SUSE). Their database is read in its SQLite form
    /// (`rpmdb.sqlite`, rpm 4.16 and later), not yet in its BerkeleyDB or ndb forms.
    Rpm,
    /// Python distributions (`.dist-info`, `.egg-info`).
    Python,
    /// npm packages (`node_modules`).
    Npm,
    /// Ruby gems.
    #[serde(rename = "rubygems")]
    RubyGems,
    /// PHP packages installed by Composer.
    Composer,
    /// Go modules in the module cache.
    #[serde(rename = "go")]
    GoModules,
    /// Java artifacts in a Maven local repository.
    Maven,
    /// Rust crates in Cargo's registry sources.
    Cargo,
}

impl Ecosystem {
    /// The snake_case name used in reports: `dpkg`, `apk`, `rpm`, `python`, `npm`, `rubygems`,
    /// `composer`, `go`, `maven`, `cargo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Debian => "dpkg",
            Ecosystem::Alpine => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Python => "python",
            Ecosystem::Npm => "npm",
            Ecosystem::RubyGems => "rubygems",
            Ecosystem::Composer => "composer",
            Ecosystem::GoModules => "go",
            Ecosystem::Maven => "maven",
            Ecosystem::Cargo => "cargo",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Package {
    /// Where it comes from.
    pub ecosystem: Ecosystem,
    /// Its name as its ecosystem spells it (`libc6`, `@isaacs/string-locale-compare`,
    /// `github.com/BurntSushi/toml`, `org.slf4j:slf4j-api`).
    pub name: String,
    /// Its version, when the database or the path gives one.
    pub version: Option<String>,
    /// Its architecture, when the database gives one (dpkg `amd64`, apk `x86_64`, rpm
    /// `noarch`).
    pub arch: Option<String>,
}

impl Package {
    pub(crate) fn new(ecosystem: Ecosystem, name: impl Into<String>, version: Option<String>) -> Package {
        Package { ecosystem, name: name.into(), version, arch: None }
    }
}

impl fmt::Display for Package {
    /// `dpkg:netbase@6.4`, `npm:util-deprecate@1.0.2`, `python:jsonpointer` (no version known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ecosystem, self.name)?;
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        Ok(())
    }
}

/// A package's number in one [`Ownership`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageId(pub(crate) u32);

/// What a package database says about one file, or about every file under a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFile {
    /// The package that installed it, in the table it came from.
    pub package: PackageId,
    /// The digest the database recorded, if it recorded one layerdig can compute. `None` means
    /// ownership without verification: directories, symlinks, npm packages, files whose RECORD
    /// line has no hash.
    pub digest: Option<FileDigest>,
    /// A configuration file (dpkg `Conffiles:`, rpm `%config`): an administrator is expected to edit it, so a
    /// mismatch is less surprising than for a library file.
    pub conffile: bool,
}

/// Splits `name-version` at the first `-` followed by a digit: `aws-sdk-core-3.1.0` is
/// `aws-sdk-core` and `3.1.0`; `serde-1.0.0-beta.1` is `serde` and `1.0.0-beta.1`.
pub(crate) fn split_name_version(stem: &str) -> Option<(&str, &str)> {
    let at = stem.as_bytes().windows(2).position(|w| w[0] == b'-' && w[1].is_ascii_digit())?;
    let (name, version) = (&stem[..at], &stem[at + 1..]);
    (!name.is_empty()).then_some((name, version))
}

/// The lines of `bytes`, numbered from 1, without their `\n` or `\r\n`.
pub(crate) fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|_| !bytes.is_empty())
}

/// The last component of `path`.
pub(crate) fn file_name(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// `path` without its last component, `b""` for a bare name.
pub(crate) fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[..slash],
        None => b"",
    }
}

/// `dir` joined with `rel`, `..` and `.` left for [`crate::layer::normalize`] to resolve.
pub(crate) fn join(dir: &[u8], rel: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 1 + rel.len());
    out.extend_from_slice(dir);
    if !dir.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(rel);
    out
}

/// Lossy UTF-8 text of a field, trimmed.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.trim_ascii()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        let cases = [
            ("aws-sdk-core-3.1.0", Some(("aws-sdk-core", "3.1.0"))),
            ("serde-1.0.0-beta.1", Some(("serde", "1.0.0-beta.1"))),
            ("nokogiri-1.15.4-x86_64-linux", Some(("nokogiri", "1.15.4-x86_64-linux"))),
            ("jsonpointer-3.1.1", Some(("jsonpointer", "3.1.1"))),
            ("noversion", None),
            ("-1.0", None),
        ];
        for (stem, want) in cases {
            assert_eq!(split_name_version(stem), want, "{stem}");
        }
    }

    #[test]
    fn ecosystem_names_match_serde() {
        for e in [
            Ecosystem::Debian,
            Ecosystem::Alpine,
            Ecosystem::Rpm,
            Ecosystem::Python,
            Ecosystem::Npm,
            Ecosystem::RubyGems,
            Ecosystem::Composer,
            Ecosystem::GoModules,
            Ecosystem::Maven,
            Ecosystem::Cargo,
        ] {
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{e}\""));
        }
        let p = Package::new(Ecosystem::Debian, "netbase", Some("6.4".into()));
        assert_eq!(p.to_string(), "dpkg:netbase@6.4");
    }
}
