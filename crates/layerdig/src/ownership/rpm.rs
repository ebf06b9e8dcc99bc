//! rpm's database in its SQLite form (rpm 4.16 and later: Fedora 33 on, RHEL 9, CentOS Stream
//! 9, Amazon Linux 2023): `var/lib/rpm/rpmdb.sqlite` or `usr/lib/sysimage/rpm/rpmdb.sqlite`.
//!
//! The database is opened in memory, from the layer's bytes, with SQLite's deserialize
//! interface: no file is written. SQLite is the bundled library of `rusqlite` (so no system
//! library is needed), set up for an untrusted file: read-only, defensive mode, no trusted
//! schema, cell sizes checked, and `Packages` read only if it is a table, not a view.
//!
//! rpm leaves its database in WAL mode; a container build ends with rpm's checkpoint, so the
//! `rpmdb.sqlite-wal` beside it is empty and the main file holds everything. SQLite will not
//! deserialize a database whose header says WAL, so the two header bytes that say it are read as
//! "rollback journal" instead (the file format is otherwise the same). A non-empty WAL file,
//! which would hold transactions not yet checkpointed, is not read.
//!
//! Each row of `Packages (hnum INTEGER, blob BLOB)` is one package's header ([`header`]). Read
//! here: `NAME`, `EPOCH`, `VERSION`, `RELEASE`, `ARCH`, the file list (`DIRNAMES` +
//! `BASENAMES` by `DIRINDEXES`), `FILEDIGESTS` (hex), `FILEDIGESTALGO` (a PGP hash algorithm
//! number, MD5 when absent), `FILEFLAGS` (`%config`) and `FILEMODES` (directories and symbolic
//! links have empty digests and are owned unverified). A header whose arrays disagree is
//! skipped and listed as a problem; the others are read.
//!
//! The BerkeleyDB (`var/lib/rpm/Packages`, rpm before 4.16: RHEL 8, CentOS 7, Amazon Linux 2)
//! and ndb (`Packages.db`, SUSE) forms hold the same header blobs in other containers, and are
//! not read yet.

mod header;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, MAIN_DB};

use self::header::Header;
use super::error::SqliteError;
use super::table::Feed;
use super::{
    DigestAlgorithm, Ecosystem, FileDigest, HeaderProblem, OwnedFile, OwnershipError, OwnershipErrorKind, Package,
};

/// The most files read from one database. Fedora's largest images list a few hundred thousand;
/// past this the database is not a real one, or not one worth holding in memory.
pub(crate) const MAX_FILES: usize = 4_000_000;

/// The header tags read.
mod tag {
    pub(super) const NAME: u32 = 1000;
    pub(super) const VERSION: u32 = 1001;
    pub(super) const RELEASE: u32 = 1002;
    pub(super) const EPOCH: u32 = 1003;
    pub(super) const ARCH: u32 = 1022;
    pub(super) const FILEMODES: u32 = 1030;
    pub(super) const FILEDIGESTS: u32 = 1035;
    pub(super) const FILEFLAGS: u32 = 1037;
    pub(super) const DIRINDEXES: u32 = 1116;
    pub(super) const BASENAMES: u32 = 1117;
    pub(super) const DIRNAMES: u32 = 1118;
    pub(super) const FILEDIGESTALGO: u32 = 5011;
}

/// The first 16 bytes of every SQLite database.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// `FILEFLAGS` bit of a `%config` file.
const RPMFILE_CONFIG: u32 = 1;
/// The file type bits of a mode, and the types of a directory and a symbolic link.
const S_IFMT: u16 = 0o170_000;
const S_IFDIR: u16 = 0o040_000;
const S_IFLNK: u16 = 0o120_000;

/// Reads `rpmdb.sqlite`.
pub(crate) fn read_sqlite(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    read_sqlite_limited(feed, bytes, MAX_FILES)
}

fn read_sqlite_limited(feed: &mut Feed<'_>, bytes: &[u8], max_files: usize) -> Result<(), OwnershipError> {
    let database = feed.database;
    let sqlite = |e| OwnershipError::new(database, None, OwnershipErrorKind::Sqlite(SqliteError(e)));
    let conn = open(bytes).map_err(sqlite)?;
    let is_table = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'Packages'", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite)?;
    if is_table == 0 {
        return Err(feed.error(OwnershipErrorKind::NoPackagesTable));
    }
    let mut statement = conn.prepare("SELECT hnum, blob FROM Packages").map_err(sqlite)?;
    let mut rows = statement.query([]).map_err(sqlite)?;
    let mut scratch = Scratch { files_left: max_files, path: Vec::new() };
    let mut read_any = false;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            // Corruption found after some packages were read: keep them, say where it stopped.
            Err(e) if read_any => {
                feed.problem_unplaced(OwnershipErrorKind::Sqlite(SqliteError(e)));
                break;
            }
            Err(e) => return Err(sqlite(e)),
        };
        read_any = true;
        let hnum = match row.get_ref(0) {
            Ok(ValueRef::Integer(hnum)) => hnum,
            _ => -1,
        };
        let result = match row.get_ref(1) {
            Ok(ValueRef::Blob(blob)) => read_header(feed, blob, &mut scratch),
            _ => Err(HeaderProblem::Truncated),
        };
        match result {
            Ok(Read::Package) => {}
            Ok(Read::Limit) => {
                feed.problem_unplaced(OwnershipErrorKind::TooManyFiles(max_files));
                break;
            }
            Err(problem) => feed.problem_unplaced(OwnershipErrorKind::RpmHeader { hnum, problem }),
        }
    }
    Ok(())
}

/// An in-memory, read-only connection to a copy of `bytes`.
fn open(bytes: &[u8]) -> rusqlite::Result<Connection> {
    use std::io::Read as _;

    use rusqlite::config::DbConfig;

    if !bytes.starts_with(SQLITE_MAGIC) {
        // What SQLite says of such a file, without asking it to read nothing.
        let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB);
        return Err(rusqlite::Error::SqliteFailure(code, Some("file is not a database".into())));
    }

    let mut conn = Connection::open_in_memory()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    conn.execute_batch("PRAGMA cell_size_check = ON; PRAGMA query_only = ON;")?;
    // Bytes 18 and 19 of the header are the read and write format versions: 2 for WAL, 1 for a
    // rollback journal. The rest of the file is the same in either mode.
    let wal = bytes.len() >= 100 && bytes[18..20] == [2, 2];
    let (head, versions, tail) =
        if wal { (&bytes[..18], &[1u8, 1][..], &bytes[20..]) } else { (bytes, &[][..], &[][..]) };
    conn.deserialize_read_exact(MAIN_DB, head.chain(versions).chain(tail), bytes.len(), true)?;
    Ok(conn)
}

/// What reading one header did.
enum Read {
    /// The package and its files are in the table.
    Package,
    /// Its files would pass the limit: nothing of it was added, and reading stops.
    Limit,
}

/// Buffers and counts shared by the headers of one database.
struct Scratch {
    files_left: usize,
    path: Vec<u8>,
}

/// Reads one package's header into the table: checked whole before anything is added.
fn read_header(feed: &mut Feed<'_>, blob: &[u8], scratch: &mut Scratch) -> Result<Read, HeaderProblem> {
    let h = Header::parse(blob)?;
    let name = h.string(tag::NAME)?.filter(|n| !n.is_empty()).ok_or(HeaderProblem::MissingTag(tag::NAME))?;
    let text = |bytes: Option<&[u8]>| bytes.map(super::text);
    let (version, release, arch) =
        (text(h.string(tag::VERSION)?), text(h.string(tag::RELEASE)?), text(h.string(tag::ARCH)?));
    let epoch = h.int32s(tag::EPOCH)?.and_then(|e| e.first().copied());

    let basenames = h.string_array(tag::BASENAMES)?.unwrap_or_default();
    let n = basenames.len();
    let (dirnames, dirindexes) = if n == 0 {
        (Vec::new(), Vec::new())
    } else {
        let dirnames = h.string_array(tag::DIRNAMES)?.ok_or(HeaderProblem::MissingTag(tag::DIRNAMES))?;
        let dirindexes = h.int32s(tag::DIRINDEXES)?.ok_or(HeaderProblem::MissingTag(tag::DIRINDEXES))?;
        if dirindexes.len() != n || dirindexes.iter().any(|&i| i as usize >= dirnames.len()) {
            return Err(HeaderProblem::Mismatched(tag::DIRINDEXES));
        }
        (dirnames, dirindexes)
    };
    let per_file = |len: Option<usize>, tag: u32| match len {
        Some(len) if len != n => Err(HeaderProblem::Mismatched(tag)),
        _ => Ok(()),
    };
    let digests = h.string_array(tag::FILEDIGESTS)?;
    per_file(digests.as_ref().map(Vec::len), tag::FILEDIGESTS)?;
    let flags = h.int32s(tag::FILEFLAGS)?;
    per_file(flags.as_ref().map(Vec::len), tag::FILEFLAGS)?;
    let modes = h.int16s(tag::FILEMODES)?;
    per_file(modes.as_ref().map(Vec::len), tag::FILEMODES)?;
    let algorithm = match h.int32s(tag::FILEDIGESTALGO)?.and_then(|a| a.first().copied()) {
        None => Ok(DigestAlgorithm::Md5),
        Some(number) => algorithm(number).ok_or(number),
    };

    if n > scratch.files_left {
        return Ok(Read::Limit);
    }
    scratch.files_left -= n;

    let version = version.map(|v| {
        let mut out = match epoch {
            Some(epoch) => format!("{epoch}:{v}"),
            None => v,
        };
        if let Some(release) = &release {
            out.push('-');
            out.push_str(release);
        }
        out
    });
    // Two headers of one name, version, release and architecture are one package.
    let key = format!("{}-{}.{}", super::text(name), version.as_deref().unwrap_or(""), arch.as_deref().unwrap_or(""));
    let package = feed.package(Ecosystem::Rpm, key.as_bytes(), || Package {
        ecosystem: Ecosystem::Rpm,
        name: super::text(name),
        version,
        arch,
    });

    let mut first_malformed = None;
    for (i, basename) in basenames.iter().enumerate() {
        let path = &mut scratch.path;
        path.clear();
        path.extend_from_slice(dirnames[dirindexes[i] as usize]);
        path.extend_from_slice(basename);
        let mode = modes.as_ref().map_or(0, |m| m[i]);
        let recorded = digests.as_ref().map_or(&b""[..], |d| d[i]);
        let digest = match algorithm {
            _ if recorded.is_empty() || matches!(mode & S_IFMT, S_IFDIR | S_IFLNK) => None,
            Ok(algorithm) => {
                let digest = FileDigest::from_hex(algorithm, recorded);
                if digest.is_none() && first_malformed.is_none() {
                    first_malformed = Some(String::from_utf8_lossy(path).into_owned());
                }
                digest
            }
            Err(_) => None,
        };
        let conffile = flags.as_ref().is_some_and(|f| f[i] & RPMFILE_CONFIG != 0);
        feed.file(path, OwnedFile { package, digest, conffile });
    }
    if let Err(number) = algorithm {
        if digests.as_ref().is_some_and(|d| d.iter().any(|d| !d.is_empty())) {
            return Err(HeaderProblem::UnsupportedDigest(number));
        }
    }
    if let Some(path) = first_malformed {
        return Err(HeaderProblem::MalformedDigest(path));
    }
    Ok(Read::Package)
}

/// The digest algorithm of a `FILEDIGESTALGO` value (a PGP hash algorithm number, RFC 4880
/// 9.4), if layerdig computes it.
fn algorithm(number: u32) -> Option<DigestAlgorithm> {
    Some(match number {
        1 => DigestAlgorithm::Md5,
        2 => DigestAlgorithm::Sha1,
        8 => DigestAlgorithm::Sha256,
        9 => DigestAlgorithm::Sha384,
        10 => DigestAlgorithm::Sha512,
        11 => DigestAlgorithm::Sha224,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Added, DatabaseKind, Ownership, Verdict, is_database, verify};
    use super::header::tests::blob;
    use super::*;

    /// rpm 4.18's database of two packages built from testdata/rpm/*.spec (testdata/README.md).
    const RPMDB: &[u8] = include_bytes!("testdata/rpm/rpmdb.sqlite");
    const EXAMPLE_CONF: &[u8] = include_bytes!("testdata/files/rpm-example.conf");
    const DATA_TXT: &[u8] = include_bytes!("testdata/files/rpm-data.txt");
    const EXAMPLE_TOOL: &[u8] = include_bytes!("testdata/files/rpm-example-tool");
    const PLUGINS_CONF: &[u8] = include_bytes!("testdata/files/rpm-plugins.conf");
    const PATH: &[u8] = b"var/lib/rpm/rpmdb.sqlite";

    fn read(db: &[u8]) -> (Ownership, Added) {
        let mut table = Ownership::new();
        let added = table.add(DatabaseKind::RpmSqlite, PATH, db).unwrap();
        (table, added)
    }

    fn problems(added: &Added) -> Vec<String> {
        added.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reads_and_verifies_the_real_database() {
        // As rpm leaves it: in WAL mode, which the reader reads as a rollback-journal file.
        assert_eq!(RPMDB[18..20], [2, 2]);
        for path in ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"] {
            assert_eq!(is_database(path.as_bytes()), Some(DatabaseKind::RpmSqlite));
        }
        let (table, added) = read(RPMDB);
        assert_eq!(problems(&added), Vec::<String>::new());
        assert_eq!((added.packages, added.files), (2, 7));

        let mut packages: Vec<String> =
            table.packages().map(|p| format!("{p} {}", p.arch.as_deref().unwrap_or("-"))).collect();
        packages.sort();
        assert_eq!(packages, ["rpm:example-data@1.2-3 noarch", "rpm:example-tool@2:0.9.1-1.fc40 x86_64"]);

        // rpm's default file digest, SHA-256; the %config file is a conffile.
        let conf = table.owner(b"etc/example.conf").unwrap();
        assert_eq!(conf.package.name, "example-data");
        assert_eq!(conf.package.ecosystem, Ecosystem::Rpm);
        assert!(conf.file.conffile);
        assert_eq!(
            conf.file.digest.as_ref().unwrap().to_string(),
            "sha256:4645c4b234576537a33abcad5c3caf33a4a63afda500c663006dc9dbd35ba91c"
        );
        assert_eq!(verify(conf.file, EXAMPLE_CONF), Verdict::Matches);
        let data = table.owner(b"usr/share/example/data.txt").unwrap();
        assert!(!data.file.conffile);
        assert_eq!(verify(data.file, DATA_TXT), Verdict::Matches);
        let mut flipped = DATA_TXT.to_vec();
        flipped[3] ^= 0x20;
        let Verdict::Modified { expected, actual } = verify(data.file, &flipped) else {
            panic!("a changed byte matched");
        };
        assert_eq!(expected.algorithm, DigestAlgorithm::Sha256);
        assert_ne!(expected, actual);

        // Built with SHA-512 file digests (FILEDIGESTALGO 10).
        let tool = table.owner(b"usr/bin/example-tool").unwrap();
        assert_eq!(tool.package.version.as_deref(), Some("2:0.9.1-1.fc40"));
        assert_eq!(tool.file.digest.as_ref().unwrap().algorithm, DigestAlgorithm::Sha512);
        assert_eq!(verify(tool.file, EXAMPLE_TOOL), Verdict::Matches);
        assert_eq!(
            verify(table.owner(b"usr/lib/example-tool/plugins.conf").unwrap().file, PLUGINS_CONF),
            Verdict::Matches
        );
        assert!(matches!(verify(tool.file, PLUGINS_CONF), Verdict::Modified { .. }));

        // Directories and the symbolic link are owned, unverified.
        for (path, name) in [
            ("usr/share/example", "example-data"),
            ("usr/lib/example-tool", "example-tool"),
            ("usr/bin/extool", "example-tool"),
        ] {
            let owner = table.owner(path.as_bytes()).unwrap();
            assert_eq!((owner.package.name.as_str(), &owner.file.digest), (name, &None), "{path}");
            assert_eq!(verify(owner.file, b""), Verdict::Unverified);
        }
        assert!(table.owner(b"usr/share/example-other").is_none());
        assert!(table.owner(b"usr/bin").is_none());
    }

    /// The database cut short at every page boundary and at odd lengths: an error, or packages
    /// read right (a cut that drops only an unused page loses nothing). Bytes overwritten
    /// across it: never a panic.
    #[test]
    fn truncated_and_corrupted_databases_are_errors() {
        let files: [(&[u8], &[u8]); 4] = [
            (b"etc/example.conf", EXAMPLE_CONF),
            (b"usr/share/example/data.txt", DATA_TXT),
            (b"usr/bin/example-tool", EXAMPLE_TOOL),
            (b"usr/lib/example-tool/plugins.conf", PLUGINS_CONF),
        ];
        let read_right = |table: &Ownership| {
            files
                .iter()
                .all(|(path, bytes)| table.owner(path).is_none_or(|o| verify(o.file, bytes) == Verdict::Matches))
        };
        let mut lengths: Vec<usize> = (0..RPMDB.len()).step_by(1024).collect();
        lengths.extend([1, 15, 16, 99, 100, 101, 1023, 1025, RPMDB.len() - 1]);
        let mut errors = 0;
        for &end in &lengths {
            let mut table = Ownership::new();
            match table.add(DatabaseKind::RpmSqlite, PATH, &RPMDB[..end]) {
                Err(e) => {
                    assert!(matches!(e.kind, OwnershipErrorKind::Sqlite(_)), "cut at {end}: {e}");
                    errors += 1;
                }
                Ok(_) => assert!(read_right(&table), "cut at {end}"),
            }
        }
        assert!(errors >= lengths.len() - 1, "{errors} errors of {}", lengths.len());
        for at in (100..RPMDB.len()).step_by(97) {
            let mut db = RPMDB.to_vec();
            for b in &mut db[at..(at + 16).min(RPMDB.len())] {
                *b ^= 0xa5;
            }
            // SQLite keeps no checksums: overwritten header bytes may read as other digests.
            let _ = Ownership::new().add(DatabaseKind::RpmSqlite, PATH, &db);
        }

        let not_sqlite = Ownership::new().add(DatabaseKind::RpmSqlite, PATH, b"not a database").unwrap_err();
        assert_eq!(
            not_sqlite.to_string(),
            "var/lib/rpm/rpmdb.sqlite: unreadable SQLite database: file is not a database"
        );
        let empty = Ownership::new().add(DatabaseKind::RpmSqlite, PATH, b"").unwrap_err();
        assert!(matches!(empty.kind, OwnershipErrorKind::Sqlite(_)));
    }

    #[test]
    fn needs_a_packages_table() {
        for schema in ["CREATE TABLE Other (x)", "CREATE TABLE t (hnum, blob); CREATE VIEW Packages AS SELECT * FROM t"]
        {
            let db = database(schema, &[]);
            let e = Ownership::new().add(DatabaseKind::RpmSqlite, PATH, &db).unwrap_err();
            assert!(matches!(e.kind, OwnershipErrorKind::NoPackagesTable), "{schema}: {e}");
        }
    }

    /// A real header with an offset past its data store, and one whose digests are one short
    /// of its files: each is skipped and named; the other package is read.
    #[test]
    fn bad_headers_are_skipped() {
        let headers = real_headers();
        let (tool, data) = (&headers[0], &headers[1]);
        assert_eq!(Header::parse(tool).unwrap().string(tag::NAME).unwrap(), Some(&b"example-tool"[..]));

        let mut out_of_range = tool.clone();
        let (at, dl) = (entry_at(&out_of_range, tag::BASENAMES), be32(&out_of_range[4..8]));
        out_of_range[at + 8..at + 12].copy_from_slice(&(dl + 100).to_be_bytes());
        let mut short = tool.clone();
        let at = entry_at(&short, tag::FILEDIGESTS);
        let count = be32(&short[at + 12..at + 16]);
        short[at + 12..at + 16].copy_from_slice(&(count - 1).to_be_bytes());
        let mut negative = tool.clone();
        let at = entry_at(&negative, tag::NAME);
        negative[at + 8..at + 12].copy_from_slice(&(-4i32).to_be_bytes());

        let cases = [
            (out_of_range, "tag 1117 points outside the data"),
            (short, "tag 1035 does not match the file list"),
            (negative, "tag 1000 points outside the data"),
            (tool[..tool.len() - 1].to_vec(), "truncated"),
        ];
        for (bad, problem) in cases {
            let (table, added) = read(&rpm_database(&[&bad, data]));
            assert_eq!(problems(&added), [format!("var/lib/rpm/rpmdb.sqlite: header 1: {problem}")]);
            assert_eq!(added.packages, 1);
            assert!(table.owner(b"usr/bin/example-tool").is_none());
            assert_eq!(table.owner(b"etc/example.conf").unwrap().package.name, "example-data");
        }
    }

    /// Synthetic headers for what the real ones do not show: no FILEDIGESTALGO (MD5), an
    /// algorithm layerdig does not compute, a malformed digest, no files at all (rpm's
    /// `gpg-pubkey` entries).
    #[test]
    fn digest_algorithms_and_odd_headers() {
        let md5 = package(
            b"old\0",
            None,
            &["/usr/share/old/a", "/usr/share/old/b"],
            &["5eb63bbbe01eeed093cb22bb8f5acdc3", "nothex"],
        );
        let sha3 = package(b"new\0", Some(12), &["/usr/share/new/a"], &["00"]);
        let pubkey = blob(&[(tag::NAME, 6, 1, b"gpg-pubkey\0"), (tag::VERSION, 6, 1, b"3228467c\0")]);
        let (table, added) = read(&rpm_database(&[&md5, &sha3, &pubkey]));
        assert_eq!(
            problems(&added),
            [
                "var/lib/rpm/rpmdb.sqlite: header 1: malformed digest of /usr/share/old/b",
                "var/lib/rpm/rpmdb.sqlite: header 2: unsupported file digest algorithm 12",
            ]
        );
        assert_eq!(added.packages, 3);
        let a = table.owner(b"usr/share/old/a").unwrap();
        assert_eq!(a.file.digest.as_ref().unwrap().algorithm, DigestAlgorithm::Md5);
        assert_eq!(verify(a.file, b"hello world"), Verdict::Matches);
        assert_eq!(table.owner(b"usr/share/old/b").unwrap().file.digest, None);
        assert_eq!(table.owner(b"usr/share/new/a").unwrap().file.digest, None);
        let pubkey = table.packages().find(|p| p.name == "gpg-pubkey").unwrap();
        assert_eq!((pubkey.version.as_deref(), pubkey.arch.as_deref()), (Some("3228467c"), None));
    }

    /// 2 000 packages of 50 files each, 100 000 paths: read whole, every path found. Past the
    /// file limit, reading stops at a package boundary and says so.
    #[test]
    fn large_database_and_the_file_limit() {
        const PACKAGES: usize = 2_000;
        const FILES: usize = 50;
        let headers: Vec<Vec<u8>> = (0..PACKAGES)
            .map(|p| {
                let paths: Vec<String> = (0..FILES).map(|f| format!("/usr/share/pkg{p}/file{f}")).collect();
                let digests: Vec<String> = (0..FILES).map(|f| format!("{:064x}", p * FILES + f)).collect();
                let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
                let digests: Vec<&str> = digests.iter().map(String::as_str).collect();
                package(format!("pkg{p}\0").as_bytes(), Some(8), &paths, &digests)
            })
            .collect();
        let refs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let db = rpm_database(&refs);

        let (table, added) = read(&db);
        assert!(added.problems.is_empty());
        assert_eq!((added.packages, table.len()), (PACKAGES, PACKAGES * FILES));
        for p in (0..PACKAGES).step_by(13) {
            let owner = table.owner(format!("usr/share/pkg{p}/file7").as_bytes()).unwrap();
            assert_eq!(owner.package.name, format!("pkg{p}"));
            assert_eq!(owner.file.digest.as_ref().unwrap().hex(), format!("{:064x}", p * FILES + 7));
        }

        let mut table = Ownership::new();
        let added = table.add_with(PATH, |feed| read_sqlite_limited(feed, &db, 10 * FILES + 1)).unwrap();
        assert_eq!(problems(&added), ["var/lib/rpm/rpmdb.sqlite: more than 501 files; the rest were not read"]);
        assert_eq!((added.packages, table.len()), (10, 10 * FILES));
    }

    /// The header blobs of the real database, in `hnum` order.
    fn real_headers() -> Vec<Vec<u8>> {
        let mut db = RPMDB.to_vec();
        db[18..20].copy_from_slice(&[1, 1]);
        let mut conn = Connection::open_in_memory().unwrap();
        conn.deserialize_read_exact(MAIN_DB, &db[..], db.len(), true).unwrap();
        let mut statement = conn.prepare("SELECT blob FROM Packages ORDER BY hnum").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// An SQLite database with rpm's `Packages` table holding `headers`, numbered from 1.
    fn rpm_database(headers: &[&[u8]]) -> Vec<u8> {
        database("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)", headers)
    }

    fn database(schema: &str, headers: &[&[u8]]) -> Vec<u8> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(schema).unwrap();
        for header in headers {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [header]).unwrap();
        }
        conn.serialize(MAIN_DB).unwrap().to_vec()
    }

    /// A header of package `name` (with its NUL) owning `paths`, with `digests` of algorithm
    /// `algo` (absent: MD5).
    fn package(name: &[u8], algo: Option<u32>, paths: &[&str], digests: &[&str]) -> Vec<u8> {
        let mut dirnames: Vec<&str> = Vec::new();
        let (mut basenames, mut indexes, mut hex) = (Vec::new(), Vec::new(), Vec::new());
        for path in paths {
            let slash = path.rfind('/').unwrap() + 1;
            let dir = &path[..slash];
            let index = dirnames.iter().position(|d| *d == dir).unwrap_or_else(|| {
                dirnames.push(dir);
                dirnames.len() - 1
            });
            indexes.extend_from_slice(&(index as u32).to_be_bytes());
            basenames.extend_from_slice(&path.as_bytes()[slash..]);
            basenames.push(0);
        }
        for digest in digests {
            hex.extend_from_slice(digest.as_bytes());
            hex.push(0);
        }
        let dirs: Vec<u8> = dirnames.iter().flat_map(|d| d.bytes().chain([0])).collect();
        let n = paths.len() as u32;
        let algo = algo.map(u32::to_be_bytes);
        let mut entries: Vec<(u32, u32, u32, &[u8])> = vec![
            (tag::NAME, 6, 1, name),
            (tag::VERSION, 6, 1, b"1.0\0"),
            (tag::RELEASE, 6, 1, b"1\0"),
            (tag::ARCH, 6, 1, b"x86_64\0"),
            (tag::BASENAMES, 8, n, &basenames),
            (tag::DIRNAMES, 8, dirnames.len() as u32, &dirs),
            (tag::FILEDIGESTS, 8, n, &hex),
        ];
        entries.push((tag::DIRINDEXES, 4, n, &indexes));
        if let Some(algo) = &algo {
            entries.push((tag::FILEDIGESTALGO, 4, 1, algo));
        }
        blob(&entries)
    }

    /// Where the index entry of `tag` starts in `blob`.
    fn entry_at(blob: &[u8], tag: u32) -> usize {
        let il = be32(&blob[0..4]) as usize;
        (0..il).map(|i| 8 + 16 * i).find(|&at| be32(&blob[at..at + 4]) == tag).unwrap()
    }

    fn be32(bytes: &[u8]) -> u32 {
        u32::from_be_bytes(bytes[..4].try_into().unwrap())
    }
}
