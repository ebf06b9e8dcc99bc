//! dpkg's databases (Debian, Ubuntu, distroless):
//!
//! - `var/lib/dpkg/status`: one stanza per package, RFC 822-like `Field: value` lines, a
//!   continuation line starts with a space, stanzas are separated by blank lines. Read here:
//!   `Package`, `Version`, `Architecture`, `Multi-Arch`, `Status` (installed when its third
//!   word is `installed`, as in `install ok installed` and `hold ok installed`) and `Conffiles`
//!   (` /etc/x <md5>`, or `newconffile` for one with no digest yet, maybe followed by `obsolete`
//!   or `remove-on-upgrade`).
//! - `var/lib/dpkg/status.d/<package>`: distroless images' one-stanza status files.
//! - `var/lib/dpkg/info/<package>.list`: every path the package installed, absolute, directories
//!   included. `<package>` is `name:arch` for a `Multi-Arch: same` package (`libc6:amd64`).
//! - `var/lib/dpkg/info/<package>.md5sums`, `var/lib/dpkg/status.d/<package>.md5sums`:
//!   `<32 hex>  <path without leading slash>` per regular file, conffiles excepted.
//!
//! Diversions (`var/lib/dpkg/diversions`) are not read: a diverted file is owned under the path
//! its package names, not where it was diverted to.

use super::table::Feed;
use super::{
    DigestAlgorithm, Ecosystem, FileDigest, OwnedFile, OwnershipError, OwnershipErrorKind, Package, file_name,
    numbered_lines, text,
};

/// Reads a status file (`status`, or a `status.d/` stanza file).
pub(crate) fn read_status(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    // A `status.d/` file is named after its package as its `.md5sums` is: key by the name.
    let status_d = feed.database.starts_with(b"var/lib/dpkg/status.d/").then(|| file_name(feed.database).to_vec());
    let mut stanza = Stanza::default();
    let mut field: Option<Field> = None;
    for (n, line) in numbered_lines(bytes) {
        if line.trim_ascii().is_empty() {
            if stanza.start != 0 {
                finish(feed, std::mem::take(&mut stanza), status_d.as_deref());
            }
            field = None;
            continue;
        }
        if stanza.start == 0 {
            stanza.start = n;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if field == Some(Field::Conffiles) {
                stanza.conffiles.push((n, line.trim_ascii().to_vec()));
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            feed.problem(n, OwnershipErrorKind::MalformedLine);
            field = None;
            continue;
        };
        let value = text(&line[colon + 1..]);
        field = None;
        match &line[..colon] {
            b"Package" => stanza.package = Some(value),
            b"Version" => stanza.version = Some(value),
            b"Architecture" => stanza.arch = Some(value),
            b"Multi-Arch" => stanza.multi_arch_same = value == "same",
            b"Status" => stanza.installed = Some(is_installed(&value)),
            b"Conffiles" => field = Some(Field::Conffiles),
            _ => {}
        }
    }
    if stanza.start != 0 {
        finish(feed, stanza, status_d.as_deref());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Conffiles,
}

#[derive(Debug, Default)]
struct Stanza {
    /// The line it starts at; 0 before its first line.
    start: usize,
    package: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    multi_arch_same: bool,
    installed: Option<bool>,
    conffiles: Vec<(usize, Vec<u8>)>,
}

/// `want flag status`: installed when the status is `installed` and nothing is wrong (`ok`).
fn is_installed(status: &str) -> bool {
    let mut words = status.split_ascii_whitespace();
    let (_want, flag, state) = (words.next(), words.next(), words.next());
    flag == Some("ok") && state == Some("installed")
}

fn finish(feed: &mut Feed<'_>, stanza: Stanza, status_d: Option<&[u8]>) {
    let Some(name) = stanza.package.filter(|name| !name.is_empty()) else {
        feed.problem(stanza.start, OwnershipErrorKind::MissingField("Package"));
        return;
    };
    // dpkg names a package's info files `name:arch` when it is `Multi-Arch: same`.
    let key = match (status_d, &stanza.arch) {
        (Some(file), _) => file.to_vec(),
        (None, Some(arch)) if stanza.multi_arch_same && !arch.is_empty() => format!("{name}:{arch}").into_bytes(),
        (None, _) => name.clone().into_bytes(),
    };
    let id = feed.package(Ecosystem::Debian, &key, || Package::new(Ecosystem::Debian, name.clone(), None));
    if let Some(package) = feed.package_mut(id) {
        package.name = name;
        package.version = stanza.version;
        package.arch = stanza.arch;
    }
    feed.set_installed(id, stanza.installed.unwrap_or(true));
    for (n, line) in stanza.conffiles {
        let Some((path, recorded)) = conffile(&line) else {
            feed.problem(n, OwnershipErrorKind::MalformedLine);
            continue;
        };
        let digest = match recorded {
            Recorded::Md5(digest) => Some(digest),
            Recorded::New => None,
            Recorded::Malformed => {
                feed.problem(n, OwnershipErrorKind::MalformedDigest);
                None
            }
        };
        feed.file(path, OwnedFile { package: id, digest, conffile: true });
    }
}

/// What a `Conffiles:` line records in place of a digest.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    /// The MD5 of the file as installed.
    Md5(FileDigest),
    /// `newconffile`: not installed yet when the status was written, no digest.
    New,
    /// Something that is neither.
    Malformed,
}

/// A `Conffiles:` line: the path, and what it records.
fn conffile(line: &[u8]) -> Option<(&[u8], Recorded)> {
    let mut rest = line;
    loop {
        let (head, last) = split_last_word(rest)?;
        match last {
            b"obsolete" | b"remove-on-upgrade" => rest = head,
            b"newconffile" => return Some((head, Recorded::New)),
            hash => {
                let recorded =
                    FileDigest::from_hex(DigestAlgorithm::Md5, hash).map_or(Recorded::Malformed, Recorded::Md5);
                return Some((head, recorded));
            }
        }
    }
}

fn split_last_word(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let line = line.trim_ascii_end();
    let space = line.iter().rposition(|b| b.is_ascii_whitespace())?;
    let head = line[..space].trim_ascii_end();
    (!head.is_empty()).then_some((head, &line[space + 1..]))
}

/// The package an info or `status.d/` file is about, from its name (`libc6:amd64.md5sums`).
fn info_package(feed: &mut Feed<'_>, suffix: &[u8]) -> Result<super::PackageId, OwnershipError> {
    let stem = file_name(feed.database).strip_suffix(suffix).filter(|stem| !stem.is_empty());
    let Some(stem) = stem.map(<[u8]>::to_vec) else {
        return Err(feed.error(OwnershipErrorKind::UnexpectedPath));
    };
    let (name, arch) = match stem.iter().position(|&b| b == b':') {
        Some(colon) => (text(&stem[..colon]), Some(text(&stem[colon + 1..]))),
        None => (text(&stem), None),
    };
    Ok(feed.package(Ecosystem::Debian, &stem, || Package { arch, ..Package::new(Ecosystem::Debian, name, None) }))
}

/// Reads `info/<package>.list`.
pub(crate) fn read_list(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let id = info_package(feed, b".list")?;
    for (_, line) in numbered_lines(bytes) {
        if !line.is_empty() {
            feed.file(line, OwnedFile { package: id, digest: None, conffile: false });
        }
    }
    Ok(())
}

/// Reads `info/<package>.md5sums` or `status.d/<package>.md5sums`.
pub(crate) fn read_md5sums(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let id = info_package(feed, b".md5sums")?;
    for (n, line) in numbered_lines(bytes) {
        if line.is_empty() {
            continue;
        }
        // `<hex> <space or *><path>`: md5sum's text and binary modes.
        let parsed =
            line.get(..32).and_then(|hex| FileDigest::from_hex(DigestAlgorithm::Md5, hex)).and_then(|digest| {
                let path = line.get(32..)?.strip_prefix(b" ")?;
                let path = path.strip_prefix(b" ").or_else(|| path.strip_prefix(b"*")).unwrap_or(path);
                (!path.is_empty()).then_some((digest, path))
            });
        match parsed {
            Some((digest, path)) => feed.file(path, OwnedFile { package: id, digest: Some(digest), conffile: false }),
            None => feed.problem(n, OwnershipErrorKind::MalformedLine),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseKind, Ownership, Verdict, is_database, verify};
    use super::*;

    const STATUS: &[u8] = include_bytes!("testdata/dpkg/status");
    const NETBASE_LIST: &[u8] = include_bytes!("testdata/dpkg/netbase.list");
    const NETBASE_MD5SUMS: &[u8] = include_bytes!("testdata/dpkg/netbase.md5sums");
    const LIBSS2_LIST: &[u8] = include_bytes!("testdata/dpkg/libss2_amd64.list");
    const LIBSS2_MD5SUMS: &[u8] = include_bytes!("testdata/dpkg/libss2_amd64.md5sums");
    const NETBASE_COPYRIGHT: &[u8] = include_bytes!("testdata/files/netbase-copyright");
    const PROTOCOLS: &[u8] = include_bytes!("testdata/files/protocols");

    fn add(table: &mut Ownership, path: &str, bytes: &[u8]) {
        let kind = is_database(path.as_bytes()).unwrap_or_else(|| panic!("{path} is no database"));
        let added = table.add(kind, path.as_bytes(), bytes).unwrap();
        assert!(added.problems.is_empty(), "{path}: {:?}", added.problems);
    }

    /// The real databases of a Debian 12 system, in both orders a layer may store them.
    fn debian(status_first: bool) -> Ownership {
        let mut table = Ownership::new();
        if status_first {
            add(&mut table, "var/lib/dpkg/status", STATUS);
        }
        add(&mut table, "var/lib/dpkg/info/netbase.list", NETBASE_LIST);
        add(&mut table, "var/lib/dpkg/info/netbase.md5sums", NETBASE_MD5SUMS);
        add(&mut table, "var/lib/dpkg/info/libss2:amd64.list", LIBSS2_LIST);
        add(&mut table, "var/lib/dpkg/info/libss2:amd64.md5sums", LIBSS2_MD5SUMS);
        if !status_first {
            add(&mut table, "var/lib/dpkg/status", STATUS);
        }
        table
    }

    #[test]
    fn real_status_and_info_files_in_either_order() {
        for status_first in [true, false] {
            let table = debian(status_first);
            let owner = table.owner(b"usr/share/doc/netbase/copyright").unwrap();
            assert_eq!(owner.package.to_string(), "dpkg:netbase@6.4");
            assert_eq!(owner.package.arch.as_deref(), Some("all"));
            assert_eq!(owner.file.digest.as_ref().unwrap().to_string(), "md5:78dd2c7c6f487348e4a0092c17a19d42");
            assert!(!owner.file.conffile);

            // `Multi-Arch: same`: the info files are `libss2:amd64.*`, the stanza `libss2`.
            let owner = table.owner(b"lib/x86_64-linux-gnu/libss.so.2.0").unwrap();
            assert_eq!(owner.package.to_string(), "dpkg:libss2@1.47.0-2");
            assert_eq!(owner.package.arch.as_deref(), Some("amd64"));
            assert_eq!(owner.file.digest.as_ref().unwrap().hex(), "9c94656e568a81039594bb49196866f6");
            // A symlink the .list names has no digest: owned, unverified.
            let link = table.owner(b"lib/x86_64-linux-gnu/libss.so.2").unwrap();
            assert_eq!((link.package.name.as_str(), link.file.digest.as_ref()), ("libss2", None));

            // Conffiles come from the status stanza, with their MD5.
            let owner = table.owner(b"etc/protocols").unwrap();
            assert_eq!(owner.package.name, "netbase");
            assert!(owner.file.conffile);
            assert_eq!(owner.file.digest.as_ref().unwrap().hex(), "0c247591a720f534fe543401bd4844d6");
            // `newconffile`: owned, no digest.
            let owner = table.owner(b"etc/dpkg/dpkg.cfg.d/pkgconf-hook-config").unwrap();
            assert_eq!((owner.package.name.as_str(), owner.file.conffile), ("pkgconf", true));
            assert_eq!(owner.file.digest, None);

            assert!(table.owner(b"etc/hostname").is_none());
            assert_eq!(table.packages().count(), 4);
        }
    }

    #[test]
    fn real_files_verify_against_real_digests() {
        let table = debian(false);
        let copyright = table.owner(b"usr/share/doc/netbase/copyright").unwrap();
        assert_eq!(verify(copyright.file, NETBASE_COPYRIGHT), Verdict::Matches);
        let protocols = table.owner(b"etc/protocols").unwrap();
        assert_eq!(verify(protocols.file, PROTOCOLS), Verdict::Matches);

        // An administrator's edit: one line more.
        let mut edited = PROTOCOLS.to_vec();
        edited.extend_from_slice(b"secret\t999\tSECRET\t# leaked\n");
        match verify(protocols.file, &edited) {
            Verdict::Modified { expected, actual } => {
                assert_eq!(expected.to_string(), "md5:0c247591a720f534fe543401bd4844d6");
                assert_eq!(actual.algorithm, DigestAlgorithm::Md5);
                assert_ne!(actual, expected);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Debian 12 has a merged `/usr`: the layer stores what libss2.list calls
    /// `/lib/x86_64-linux-gnu/libss.so.2.0` as `usr/lib/x86_64-linux-gnu/libss.so.2.0`.
    #[test]
    fn merged_usr() {
        let mut table = debian(true);
        let stored = b"usr/lib/x86_64-linux-gnu/libss.so.2.0";
        assert!(table.owner(stored).is_none(), "separate files unless told otherwise");
        table.set_merged_usr(true);
        assert_eq!(table.owner(stored).unwrap().package.name, "libss2");
        assert_eq!(table.owner(b"lib/x86_64-linux-gnu/libss.so.2.0").unwrap().package.name, "libss2");
        // Only bin, sbin and lib* have two names.
        assert!(table.owner(b"usr/etc/protocols").is_none());
        assert!(table.owner(b"share/doc/netbase/copyright").is_none());
    }

    #[test]
    fn installed_states() {
        let cases: &[(&str, bool)] = &[
            ("install ok installed", true),
            ("hold ok installed", true),
            ("deinstall ok config-files", false),
            ("install ok half-configured", false),
            ("install reinstreq half-installed", false),
            ("purge ok not-installed", false),
            ("", false),
        ];
        for (status, want) in cases {
            assert_eq!(is_installed(status), *want, "{status}");
            let stanza = format!(
                "Package: gone\nStatus: {status}\nConffiles:\n /etc/gone.conf 0c247591a720f534fe543401bd4844d6\n"
            );
            let mut table = Ownership::new();
            table.add(DatabaseKind::DpkgStatus, b"var/lib/dpkg/status", stanza.as_bytes()).unwrap();
            table
                .add(DatabaseKind::DpkgList, b"var/lib/dpkg/info/gone.list", b"/etc/gone.conf\n/usr/bin/gone\n")
                .unwrap();
            assert_eq!(table.owner(b"etc/gone.conf").is_some(), *want, "{status}");
            assert_eq!(table.owner(b"usr/bin/gone").is_some(), *want, "{status}");
        }
    }

    #[test]
    fn info_files_without_a_status_file_count_but_not_against_one() {
        let mut table = Ownership::new();
        add(&mut table, "var/lib/dpkg/info/netbase.list", NETBASE_LIST);
        assert_eq!(table.owner(b"etc/rpc").unwrap().package.version, None);
        // A status file that does not list netbase: its info files are leftovers.
        add(&mut table, "var/lib/dpkg/status", b"Package: other\nStatus: install ok installed\n");
        assert!(table.owner(b"etc/rpc").is_none());
    }

    #[test]
    fn distroless_status_d() {
        let mut table = Ownership::new();
        let stanza = b"Package: netbase\nVersion: 6.4\nArchitecture: all\n";
        add(&mut table, "var/lib/dpkg/status.d/netbase", stanza);
        add(&mut table, "var/lib/dpkg/status.d/netbase.md5sums", NETBASE_MD5SUMS);
        let owner = table.owner(b"usr/share/doc/netbase/copyright").unwrap();
        assert_eq!(owner.package.to_string(), "dpkg:netbase@6.4");
        assert_eq!(verify(owner.file, NETBASE_COPYRIGHT), Verdict::Matches);
    }

    #[test]
    fn malformed_records_are_skipped_with_their_line() {
        let status = b"Package: ok\nStatus: install ok installed\nConffiles:\n /etc/a nothex\n /etc/b 0c247591a720f534fe543401bd4844d6 obsolete\n\nVersion: 1\nno colon here\n\n";
        let mut table = Ownership::new();
        let added = table.add(DatabaseKind::DpkgStatus, b"var/lib/dpkg/status", status).unwrap();
        let problems: Vec<String> = added.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "var/lib/dpkg/status:4: malformed digest",
                "var/lib/dpkg/status:8: malformed line",
                "var/lib/dpkg/status:7: record without Package",
            ]
        );
        // The malformed digest's file is owned, unverified; the obsolete conffile keeps its digest.
        assert_eq!(table.owner(b"etc/a").unwrap().file.digest, None);
        assert!(table.owner(b"etc/b").unwrap().file.digest.is_some());

        let sums = b"78dd2c7c6f487348e4a0092c17a19d42  usr/a\nshort  usr/b\n78dd2c7c6f487348e4a0092c17a19d42 *usr/c\n\n78dd2c7c6f487348e4a0092c17a19d42\n";
        let mut table = Ownership::new();
        let added = table.add(DatabaseKind::DpkgMd5sums, b"var/lib/dpkg/info/x.md5sums", sums).unwrap();
        let lines: Vec<Option<usize>> = added.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(2), Some(5)]);
        assert!(table.owner(b"usr/a").is_some() && table.owner(b"usr/c").is_some());
        assert!(table.owner(b"usr/b").is_none());
    }

    #[test]
    fn conffile_lines() {
        let md5 =
            || Recorded::Md5(FileDigest::from_hex(DigestAlgorithm::Md5, b"0c247591a720f534fe543401bd4844d6").unwrap());
        let cases = [
            ("/etc/protocols 0c247591a720f534fe543401bd4844d6", Some(("/etc/protocols", md5()))),
            ("/etc/a b/c 0c247591a720f534fe543401bd4844d6 obsolete", Some(("/etc/a b/c", md5()))),
            ("/etc/x newconffile remove-on-upgrade", Some(("/etc/x", Recorded::New))),
            ("/etc/x 0c247591a720f534fe543401bd4844d6 obsolete remove-on-upgrade", Some(("/etc/x", md5()))),
            ("/etc/x zz", Some(("/etc/x", Recorded::Malformed))),
            ("/etc/x", None),
            ("obsolete", None),
        ];
        for (line, want) in cases {
            let got = conffile(line.as_bytes()).map(|(path, recorded)| (std::str::from_utf8(path).unwrap(), recorded));
            assert_eq!(got, want, "{line}");
        }
    }
}
