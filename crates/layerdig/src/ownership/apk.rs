//! apk's database of installed packages (Alpine, Wolfi, Chainguard): `lib/apk/db/installed`.
//!
//! One `X:value` line per field, packages separated by blank lines. Read here: `P:` name, `V:`
//! version, `A:` architecture, `F:` a directory (relative to the root), `R:` a file in the last
//! `F:` (or in the root before any), `Z:` the checksum of the last `R:`: `Q1` + base64 SHA-1,
//! `Q2` + base64 SHA-256, or hex (MD5 or SHA-1 by length). A checksum of another form leaves
//! its file owned, unverified, and is listed as a problem.

use super::table::Feed;
use super::{
    DigestAlgorithm, Ecosystem, FileDigest, OwnedFile, OwnershipError, OwnershipErrorKind, Package, PackageId, join,
    numbered_lines, text,
};

/// Reads `lib/apk/db/installed`.
pub(crate) fn read_installed(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let mut package: Option<PackageId> = None;
    let mut dir: Vec<u8> = Vec::new();
    let mut pending: Option<Pending> = None;
    for (n, line) in numbered_lines(bytes) {
        if line.trim_ascii().is_empty() {
            flush(feed, &mut pending);
            package = None;
            dir.clear();
            continue;
        }
        let Some((&field, value)) = line.split_first().filter(|(_, rest)| rest.first() == Some(&b':')) else {
            feed.problem(n, OwnershipErrorKind::MalformedLine);
            continue;
        };
        let value = &value[1..];
        match field {
            b'P' => {
                flush(feed, &mut pending);
                let name = text(value);
                package = Some(feed.package(Ecosystem::Alpine, name.as_bytes(), || {
                    Package::new(Ecosystem::Alpine, name.clone(), None)
                }));
                dir.clear();
            }
            b'V' | b'A' => {
                if let Some(p) = package.and_then(|id| feed.package_mut(id)) {
                    let slot = if field == b'V' { &mut p.version } else { &mut p.arch };
                    *slot = Some(text(value));
                }
            }
            b'F' => {
                flush(feed, &mut pending);
                dir = value.to_vec();
            }
            b'R' => {
                flush(feed, &mut pending);
                match package {
                    Some(id) => pending = Some(Pending { package: id, path: join(&dir, value), digest: None }),
                    None => feed.problem(n, OwnershipErrorKind::MissingField("P:")),
                }
            }
            b'Z' => match pending.as_mut() {
                Some(file) => match checksum(value) {
                    Some(digest) => file.digest = Some(digest),
                    None => feed.problem(n, OwnershipErrorKind::MalformedDigest),
                },
                None => feed.problem(n, OwnershipErrorKind::MissingField("R:")),
            },
            _ => {}
        }
    }
    flush(feed, &mut pending);
    Ok(())
}

/// A file read from `R:`, waiting for its `Z:`.
struct Pending {
    package: PackageId,
    path: Vec<u8>,
    digest: Option<FileDigest>,
}

fn flush(feed: &mut Feed<'_>, pending: &mut Option<Pending>) {
    if let Some(file) = pending.take() {
        feed.file(&file.path, OwnedFile { package: file.package, digest: file.digest, conffile: false });
    }
}

/// A `Z:` value.
fn checksum(value: &[u8]) -> Option<FileDigest> {
    match value {
        [b'Q', b'1', b64 @ ..] => FileDigest::from_base64(DigestAlgorithm::Sha1, b64),
        [b'Q', b'2', b64 @ ..] => FileDigest::from_base64(DigestAlgorithm::Sha256, b64),
        hex => [DigestAlgorithm::Md5, DigestAlgorithm::Sha1, DigestAlgorithm::Sha256]
            .into_iter()
            .find_map(|algorithm| FileDigest::from_hex(algorithm, hex)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseKind, Ownership, Verdict, verify};
    use super::*;

    const INSTALLED: &[u8] = include_bytes!("testdata/apk/installed");
    const HOSTS: &[u8] = include_bytes!("testdata/files/apk-hosts");
    const MOTD: &[u8] = include_bytes!("testdata/files/apk-motd");

    #[test]
    fn reads_and_verifies() {
        let mut table = Ownership::new();
        let added = table.add(DatabaseKind::ApkInstalled, b"lib/apk/db/installed", INSTALLED).unwrap();
        assert_eq!((added.packages, added.files), (2, 4));
        // The one checksum of an unknown form: its file is kept, unverified.
        let problems: Vec<String> = added.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems, ["lib/apk/db/installed:31: malformed digest"]);
        assert_eq!(table.owner(b"usr/share/example/unknown-form").unwrap().file.digest, None);

        let hosts = table.owner(b"etc/hosts").unwrap();
        assert_eq!(hosts.package.to_string(), "apk:alpine-baselayout-data@3.6.5-r0");
        assert_eq!(hosts.package.arch.as_deref(), Some("x86_64"));
        assert_eq!(hosts.file.digest.as_ref().unwrap().to_string(), "sha1:043eb324a653456caa1a73e2e2d49f77792bb0c5");
        assert_eq!(verify(hosts.file, HOSTS), Verdict::Matches);
        assert_eq!(verify(table.owner(b"etc/motd").unwrap().file, MOTD), Verdict::Matches);
        assert!(matches!(verify(hosts.file, MOTD), Verdict::Modified { .. }));

        // The same bytes, their SHA-1 written in hex.
        let copy = table.owner(b"usr/share/example/hosts.copy").unwrap();
        assert_eq!(copy.package.name, "busybox-extras-example");
        assert_eq!(verify(copy.file, HOSTS), Verdict::Matches);
        assert!(table.owner(b"etc/shells").is_none());
    }

    #[test]
    fn checksum_forms() {
        let sha1 = Some("043eb324a653456caa1a73e2e2d49f77792bb0c5");
        let cases: &[(&str, Option<&str>)] = &[
            ("Q1BD6zJKZTRWyqGnPi4tSfd3krsMU=", sha1),
            ("043eb324a653456caa1a73e2e2d49f77792bb0c5", sha1),
            ("Q1BD6zJKZTRWyqGnPi4tSfd3krs", None),
            ("Q9BD6zJKZTRWyqGnPi4tSfd3krsMU=", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(checksum(value.as_bytes()).map(|d| d.hex()).as_deref(), *want, "{value}");
        }
        let md5 = checksum(b"0c247591a720f534fe543401bd4844d6").unwrap();
        assert_eq!(md5.algorithm, DigestAlgorithm::Md5);
    }

    #[test]
    fn records_out_of_place() {
        let db = b"R:orphan\nZ:Q1BD6zJKZTRWyqGnPi4tSfd3krsMU=\n\nP:root-files\nR:init\nZ:Q1BD6zJKZTRWyqGnPi4tSfd3krsMU=\nZ:again\nnonsense\n";
        let mut table = Ownership::new();
        let added = table.add(DatabaseKind::ApkInstalled, b"lib/apk/db/installed", db).unwrap();
        let lines: Vec<(Option<usize>, String)> = added.problems.iter().map(|p| (p.line, p.kind.to_string())).collect();
        assert_eq!(
            lines,
            [
                (Some(1), "record without P:".to_string()),
                (Some(2), "record without R:".to_string()),
                (Some(7), "malformed digest".to_string()),
                (Some(8), "malformed line".to_string()),
            ]
        );
        // A file before any F: is in the root.
        assert_eq!(table.owner(b"init").unwrap().package.name, "root-files");
    }
}
