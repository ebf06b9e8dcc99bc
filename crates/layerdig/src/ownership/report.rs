//! Who owns the file a finding is in, as reports say it: the package, and whether the file's
//! bytes are still the ones the package installed.

use serde::{Deserialize, Serialize};

use super::{Ecosystem, Owner, Verdict};

/// The package that installed the file a finding is in (a location's `owner`), and the verdict
/// on its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOwner {
    /// The packaging system: `dpkg`, `apk`, `python`, `npm`, …
    pub ecosystem: Ecosystem,
    /// The package's name.
    pub package: String,
    /// Its version, when the database gives one.
    #[serde(default)]
    pub version: Option<String>,
    /// Whether the file's bytes are the package's.
    pub verdict: OwnerVerdict,
    /// For a modified file: the digest the database recorded (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// For a modified file: the digest of the bytes in the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// What the bytes of a package's file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerVerdict {
    /// The bytes hash to the digest the package database recorded: the package's file, as it
    /// was installed. The finding is `third_party`.
    Verified,
    /// The bytes do not: the file was changed after the package installed it (by a build step,
    /// or by an attacker). The finding stays actionable.
    Modified,
    /// The database records no digest for the file (npm, gems, Composer, Go, Maven, Cargo own
    /// whole directories): owned, not checked. The finding is `third_party`.
    Unverified,
    /// A digest is recorded but the bytes could not be checked against it (the file was larger
    /// than the scan window, or an archive over 8 MiB that came as a stream, or the digest is of
    /// an algorithm not taken). The finding stays actionable.
    Unverifiable,
}

impl OwnerVerdict {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerVerdict::Verified => "verified",
            OwnerVerdict::Modified => "modified",
            OwnerVerdict::Unverified => "unverified",
            OwnerVerdict::Unverifiable => "unverifiable",
        }
    }

    /// Whether a finding in such a file is the package's, not the image builder's to fix.
    pub fn is_third_party(self) -> bool {
        matches!(self, OwnerVerdict::Verified | OwnerVerdict::Unverified)
    }
}

impl FileOwner {
    /// The report of `owner`, judged by `verdict` (`None`: the bytes could not be checked).
    pub fn new(owner: &Owner<'_>, verdict: Option<Verdict>) -> FileOwner {
        let (verdict, expected, actual) = match verdict {
            Some(Verdict::Matches) => (OwnerVerdict::Verified, None, None),
            Some(Verdict::Unverified) => (OwnerVerdict::Unverified, None, None),
            Some(Verdict::Modified { expected, actual }) => {
                (OwnerVerdict::Modified, Some(expected.to_string()), Some(actual.to_string()))
            }
            None => (OwnerVerdict::Unverifiable, None, None),
        };
        FileOwner {
            ecosystem: owner.package.ecosystem,
            package: owner.package.name.clone(),
            version: owner.package.version.clone(),
            verdict,
            expected,
            actual,
        }
    }

    /// For people: `dpkg netbase 6.4, verified`.
    pub fn describe(&self) -> String {
        let version = self.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        let verdict = match (self.verdict, &self.expected, &self.actual) {
            (OwnerVerdict::Modified, Some(expected), Some(actual)) => {
                format!("MODIFIED since installed: {actual}, the package recorded {expected}")
            }
            (v, ..) => v.as_str().to_string(),
        };
        format!("{} {}{version}, {verdict}", self.ecosystem, self.package)
    }
}
