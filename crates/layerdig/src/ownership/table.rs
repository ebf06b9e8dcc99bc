//! The ownership table: path → owning package and recorded digest, built by feeding it package
//! databases one file at a time ([`Ownership::add`]) in any order.
//!
//! Order does not matter because a layer's tar stores `var/lib/dpkg/info/*.list` before or after
//! `var/lib/dpkg/status` as its builder walked them: a dpkg package first seen in an info file
//! is created by name and gets its version when its status stanza arrives; whether it counts is
//! decided at lookup (a package the status file lists as not installed, or does not list at all,
//! owns nothing).
//!
//! Size: one hash map entry per path, the path in one allocation of its own length; the
//! package is a 4-byte index. A Debian image's 100 000 paths cost a few megabytes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::{
    DatabaseKind, Ecosystem, OwnedFile, OwnershipError, OwnershipErrorKind, Package, PackageId, apk, composer, dpkg,
    gem, npm, python, rpm,
};

/// Which package installed each file, and the digest its database recorded. See the
/// [module documentation](crate::ownership).
///
/// Feed it each database once, as it is in the file system the table describes (the final
/// image, or the layers up to one): a second `var/lib/dpkg/status` adds to the first, it does
/// not replace it.
#[derive(Debug, Default, Clone)]
pub struct Ownership {
    packages: Vec<Slot>,
    keys: HashMap<(Ecosystem, Box<[u8]>), PackageId>,
    files: HashMap<Box<[u8]>, OwnedFile>,
    dirs: HashMap<Box<[u8]>, OwnedFile>,
    dpkg_status_seen: bool,
    merged_usr: bool,
}

/// The directories a merged `/usr` makes symlinks into `usr/` (`lib -> usr/lib`).
const MERGED_USR: &[&[u8]] = &[b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32", b"libo32"];

#[derive(Debug, Clone)]
struct Slot {
    package: Package,
    standing: Standing,
}

/// Whether a package counts as installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Its database says so (every ecosystem but dpkg, whose databases list installed packages
    /// only; a dpkg status stanza with `Status: install ok installed`).
    Installed,
    /// A dpkg status stanza says it is not (removed with its conffiles kept, half-installed).
    NotInstalled,
    /// Seen only in dpkg info files: installed if no status file was fed at all.
    Listed,
}

/// What one [`Ownership::add`] read.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Added {
    /// Packages new to the table.
    pub packages: usize,
    /// Paths the database gave an owner or a digest.
    pub files: usize,
    /// Records that were skipped or read in part, each with its line (or, for rpm, its header
    /// number).
    pub problems: Vec<OwnershipError>,
}

/// The answer to [`Ownership::owner`]: the package, and what its database says about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    /// The package that installed the file.
    pub package: &'a Package,
    /// The recorded digest and flags. For a file owned through its directory (npm, gems,
    /// Composer), the directory's entry, which has no digest.
    pub file: &'a OwnedFile,
}

impl Ownership {
    /// An empty table.
    pub fn new() -> Ownership {
        Ownership::default()
    }

    /// Reads the package database at `path` (normalised, as the layer names it), whose kind
    /// [`crate::ownership::is_database`] gave, into the table.
    ///
    /// # Errors
    ///
    /// When the file as a whole cannot be read: a JSON database that is not JSON, an
    /// `rpmdb.sqlite` that SQLite cannot open or that has no `Packages` table, a path that does
    /// not name a package the way its kind needs (a `.dist-info` directory without a version). A
    /// malformed record is skipped instead and listed in [`Added::problems`]; so is corruption
    /// SQLite finds after some packages were read, which are kept.
    pub fn add(&mut self, kind: DatabaseKind, path: &[u8], bytes: &[u8]) -> Result<Added, OwnershipError> {
        let mut feed = Feed { table: self, database: path, added: Added::default(), scratch: Vec::new() };
        match kind {
            DatabaseKind::DpkgStatus => dpkg::read_status(&mut feed, bytes)?,
            DatabaseKind::DpkgList => dpkg::read_list(&mut feed, bytes)?,
            DatabaseKind::DpkgMd5sums => dpkg::read_md5sums(&mut feed, bytes)?,
            DatabaseKind::ApkInstalled => apk::read_installed(&mut feed, bytes)?,
            DatabaseKind::PythonRecord => python::read_record(&mut feed, bytes)?,
            DatabaseKind::PythonInstalledFiles => python::read_installed_files(&mut feed, bytes)?,
            DatabaseKind::NpmPackage => npm::read_package_json(&mut feed, bytes)?,
            DatabaseKind::Gemspec => gem::read_gemspec(&mut feed, bytes)?,
            DatabaseKind::ComposerInstalled => composer::read_installed(&mut feed, bytes)?,
            DatabaseKind::RpmSqlite => rpm::read_sqlite(&mut feed, bytes)?,
        }
        Ok(feed.added)
    }

    /// Who owns `path` (normalised, as the layer names it): its own entry if a database lists
    /// it, else the deepest directory a package owns whole. `None` for a file no installed
    /// package claims.
    pub fn owner(&self, path: &[u8]) -> Option<Owner<'_>> {
        let mut normalised = Vec::new();
        let path = if is_normalised(path) {
            path
        } else {
            crate::layer::normalize(path, &mut normalised);
            &normalised
        };
        self.lookup(path).or_else(|| self.lookup(&self.merged_usr_alias(path)?))
    }

    /// Says whether the file system has a merged `/usr`, where `bin`, `sbin` and `lib*` are
    /// symlinks to their `usr/` namesakes (Debian 12 and later, Ubuntu 22.04 and later, Fedora).
    /// dpkg lists `/lib/x86_64-linux-gnu/libc.so.6` where the layer stores
    /// `usr/lib/x86_64-linux-gnu/libc.so.6`; with this set, [`Ownership::owner`] finds either
    /// under the other's name. Off by default: without the symlinks they are different files.
    pub fn set_merged_usr(&mut self, merged: bool) {
        self.merged_usr = merged;
    }

    /// The other name of `path` under a merged `/usr`, if it has one and the table was told so.
    fn merged_usr_alias(&self, path: &[u8]) -> Option<Vec<u8>> {
        if !self.merged_usr {
            return None;
        }
        let first = |path: &[u8]| path.split(|&b| b == b'/').next().is_some_and(|top| MERGED_USR.contains(&top));
        match path.strip_prefix(b"usr/") {
            Some(rest) if first(rest) => Some(rest.to_vec()),
            _ if first(path) => Some([&b"usr/"[..], path].concat()),
            _ => None,
        }
    }

    fn lookup(&self, path: &[u8]) -> Option<Owner<'_>> {
        if let Some(owner) = self.files.get(path).and_then(|file| self.installed(file)) {
            return Some(owner);
        }
        let mut end = path.len();
        loop {
            if let Some(owner) = self.dirs.get(&path[..end]).and_then(|file| self.installed(file)) {
                return Some(owner);
            }
            end = path[..end].iter().rposition(|&b| b == b'/')?;
        }
    }

    /// The package numbered `id`, if this table has one of that number.
    pub fn package(&self, id: PackageId) -> Option<&Package> {
        self.packages.get(id.0 as usize).map(|slot| &slot.package)
    }

    /// Every package the table knows, installed or not.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().map(|slot| &slot.package)
    }

    /// How many paths have an entry of their own (directories owned whole not counted).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no database gave any path an owner.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }

    fn installed<'a>(&'a self, file: &'a OwnedFile) -> Option<Owner<'a>> {
        let slot = self.packages.get(file.package.0 as usize)?;
        let counts = match slot.standing {
            Standing::Installed => true,
            Standing::NotInstalled => false,
            Standing::Listed => !self.dpkg_status_seen,
        };
        counts.then_some(Owner { package: &slot.package, file })
    }
}

#[cfg(test)]
impl Ownership {
    /// Runs a format's reader on a feed of this table, as [`Ownership::add`] does: for tests
    /// that call a reader with other arguments than `add` gives it.
    pub(crate) fn add_with(
        &mut self,
        path: &[u8],
        read: impl FnOnce(&mut Feed<'_>) -> Result<(), OwnershipError>,
    ) -> Result<Added, OwnershipError> {
        let mut feed = Feed { table: self, database: path, added: Added::default(), scratch: Vec::new() };
        read(&mut feed)?;
        Ok(feed.added)
    }
}

/// Whether `path` is already in the form [`crate::layer::normalize`] gives.
fn is_normalised(path: &[u8]) -> bool {
    !path.starts_with(b"/")
        && !path.ends_with(b"/")
        && path.split(|&b| b == b'/').all(|part| !matches!(part, b"" | b"." | b".."))
}

/// One database being read into the table: what the format parsers write through.
pub(crate) struct Feed<'a> {
    table: &'a mut Ownership,
    /// The database's path.
    pub(crate) database: &'a [u8],
    added: Added,
    scratch: Vec<u8>,
}

impl Feed<'_> {
    /// The package `key` names in `ecosystem` (dpkg: the info file stem, `libc6:amd64`; others:
    /// the directory that holds its metadata), made by `make` if it is new.
    pub(crate) fn package(&mut self, ecosystem: Ecosystem, key: &[u8], make: impl FnOnce() -> Package) -> PackageId {
        let next = PackageId(self.table.packages.len() as u32);
        match self.table.keys.entry((ecosystem, key.into())) {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                entry.insert(next);
                let standing = if ecosystem == Ecosystem::Debian { Standing::Listed } else { Standing::Installed };
                self.table.packages.push(Slot { package: make(), standing });
                self.added.packages += 1;
                next
            }
        }
    }

    /// The package numbered `id`, to fill in what a later database says (a dpkg version).
    pub(crate) fn package_mut(&mut self, id: PackageId) -> Option<&mut Package> {
        self.table.packages.get_mut(id.0 as usize).map(|slot| &mut slot.package)
    }

    /// Records what a dpkg status stanza says of package `id`.
    pub(crate) fn set_installed(&mut self, id: PackageId, installed: bool) {
        self.table.dpkg_status_seen = true;
        if let Some(slot) = self.table.packages.get_mut(id.0 as usize) {
            slot.standing = if installed { Standing::Installed } else { Standing::NotInstalled };
        }
    }

    /// Records that `path` (relative to the root; normalised here) belongs to `file.package`.
    ///
    /// A path two packages list keeps its first owner, unless only the second recorded a
    /// digest; two databases of one package (a `.list` and a `.md5sums`) merge.
    pub(crate) fn file(&mut self, path: &[u8], file: OwnedFile) {
        crate::layer::normalize(path, &mut self.scratch);
        if !self.scratch.is_empty() {
            merge(&mut self.table.files, &self.scratch, file);
            self.added.files += 1;
        }
    }

    /// Records that every file under directory `path` belongs to `file.package`.
    pub(crate) fn dir(&mut self, path: &[u8], file: OwnedFile) {
        crate::layer::normalize(path, &mut self.scratch);
        if !self.scratch.is_empty() {
            merge(&mut self.table.dirs, &self.scratch, file);
            self.added.files += 1;
        }
    }

    /// Notes a record that was skipped or read in part.
    pub(crate) fn problem(&mut self, line: usize, kind: OwnershipErrorKind) {
        self.added.problems.push(OwnershipError::new(self.database, Some(line), kind));
    }

    /// Notes a record that was skipped, in a format without lines worth naming (JSON).
    pub(crate) fn problem_unplaced(&mut self, kind: OwnershipErrorKind) {
        self.added.problems.push(OwnershipError::new(self.database, None, kind));
    }

    /// An error about the whole database.
    pub(crate) fn error(&self, kind: OwnershipErrorKind) -> OwnershipError {
        OwnershipError::new(self.database, None, kind)
    }
}

fn merge(map: &mut HashMap<Box<[u8]>, OwnedFile>, key: &[u8], file: OwnedFile) {
    match map.get_mut(key) {
        None => {
            map.insert(key.into(), file);
        }
        Some(old) if old.package == file.package => {
            old.conffile |= file.conffile;
            if old.digest.is_none() {
                old.digest = file.digest;
            }
        }
        Some(old) if old.digest.is_none() && file.digest.is_some() => *old = file,
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DigestAlgorithm, is_database};
    use super::*;

    /// A Debian-sized table: 2 000 packages, 50 paths each (100 000), listed and summed, with
    /// a status file that names them all; every path is found, with its package and digest.
    #[test]
    fn large_dpkg_table() {
        const PACKAGES: usize = 2_000;
        const FILES: usize = 50;
        let mut table = Ownership::new();
        let mut status = String::new();
        for p in 0..PACKAGES {
            let name = format!("pkg{p}");
            status.push_str(&format!("Package: {name}\nStatus: install ok installed\nVersion: 1.{p}\n\n"));
            let (mut list, mut sums) = (String::from("/.\n/usr\n"), String::new());
            for f in 0..FILES {
                list.push_str(&format!("/usr/share/{name}/file{f}\n"));
                sums.push_str(&format!("{:032x}  usr/share/{name}/file{f}\n", p * FILES + f));
            }
            for (suffix, bytes) in [("list", list), ("md5sums", sums)] {
                let path = format!("var/lib/dpkg/info/{name}.{suffix}");
                let kind = is_database(path.as_bytes()).unwrap();
                let added = table.add(kind, path.as_bytes(), bytes.as_bytes()).unwrap();
                assert!(added.problems.is_empty());
            }
        }
        let added = table.add(DatabaseKind::DpkgStatus, b"var/lib/dpkg/status", status.as_bytes()).unwrap();
        assert_eq!(added.packages, 0, "the info files made every package");
        assert_eq!(table.len(), PACKAGES * FILES + 1, "every file, and usr");

        for p in (0..PACKAGES).step_by(7) {
            for f in 0..FILES {
                let path = format!("usr/share/pkg{p}/file{f}");
                let owner = table.owner(path.as_bytes()).unwrap();
                assert_eq!(owner.package.name, format!("pkg{p}"));
                assert_eq!(owner.package.version.as_deref(), Some(format!("1.{p}").as_str()));
                let digest = owner.file.digest.as_ref().unwrap();
                assert_eq!(digest.algorithm, DigestAlgorithm::Md5);
                assert_eq!(digest.hex(), format!("{:032x}", p * FILES + f));
            }
        }
        assert!(table.owner(b"usr/share/pkg1/file50").is_none());
        assert!(table.owner(b"usr/share/nobody").is_none());
        assert_eq!(table.owner(b"/usr/share/pkg3/./file1").unwrap().package.name, "pkg3");
    }

    /// Every real database of the test data, cut at every length and read as every kind under
    /// a path of that kind: no panic, whatever the bytes.
    #[test]
    fn truncated_and_mismatched_databases_do_not_panic() {
        let databases: &[&[u8]] = &[
            include_bytes!("testdata/dpkg/status"),
            include_bytes!("testdata/dpkg/netbase.md5sums"),
            include_bytes!("testdata/dpkg/libss2_amd64.list"),
            include_bytes!("testdata/apk/installed"),
            include_bytes!("testdata/python/jsonpointer-RECORD"),
            include_bytes!("testdata/npm/util-deprecate-package.json"),
            b"\"unterminated,\r\n\xff\x00:\n \n\tZ:Q1\nR:\n{\"packages\": [{\"name\": 1}]}",
        ];
        let paths: &[&str] = &[
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/x",
            "var/lib/dpkg/info/x:amd64.list",
            "var/lib/dpkg/info/x.md5sums",
            "lib/apk/db/installed",
            "s/x-1.dist-info/RECORD",
            "s/x-1.egg-info/installed-files.txt",
            "node_modules/@s/x/package.json",
            "g/specifications/x-1.gemspec",
            "vendor/composer/installed.json",
        ];
        let mut table = Ownership::new();
        for path in paths {
            let kind = is_database(path.as_bytes()).unwrap();
            for bytes in databases {
                for end in (0..=bytes.len()).step_by(7).chain([bytes.len()]) {
                    let _ = table.add(kind, path.as_bytes(), &bytes[..end]);
                }
            }
        }
        assert!(!table.is_empty());
    }

    #[test]
    fn normalised_paths() {
        for (path, want) in [
            (&b"usr/lib/x.py"[..], true),
            (b"x", true),
            (b"/usr/lib", false),
            (b"usr/lib/", false),
            (b"usr//lib", false),
            (b"./usr", false),
            (b"usr/../etc", false),
        ] {
            assert_eq!(is_normalised(path), want, "{}", String::from_utf8_lossy(path));
        }
    }
}
