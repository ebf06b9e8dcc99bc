//! Which paths of a layer are package databases ([`is_database`]), and of which format
//! ([`DatabaseKind`]).

/// The format of a package database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum DatabaseKind {
    /// dpkg's `var/lib/dpkg/status`, or one package's stanza in distroless images'
    /// `var/lib/dpkg/status.d/<package>`.
    DpkgStatus,
    /// `var/lib/dpkg/info/<package>.list`: every path the package installed.
    DpkgList,
    /// `var/lib/dpkg/info/<package>.md5sums` or `var/lib/dpkg/status.d/<package>.md5sums`: the
    /// MD5 of each regular file the package installed.
    DpkgMd5sums,
    /// apk's `lib/apk/db/installed`.
    ApkInstalled,
    /// A wheel's `<name>-<version>.dist-info/RECORD`.
    PythonRecord,
    /// An egg's `<name>-<version>.egg-info/installed-files.txt`.
    PythonInstalledFiles,
    /// The `package.json` of a package directory, `node_modules/<name>/` or
    /// `node_modules/@<scope>/<name>/`.
    NpmPackage,
    /// A gem's `specifications/<name>-<version>.gemspec`.
    Gemspec,
    /// Composer's `vendor/composer/installed.json`.
    ComposerInstalled,
    /// rpm's database in its SQLite form: `var/lib/rpm/rpmdb.sqlite` or
    /// `usr/lib/sysimage/rpm/rpmdb.sqlite` (Fedora 33 and later, RHEL 9 and later).
    RpmSqlite,
}

/// The kind of package database `path` (normalised, as a tar entry is named) is, if it is one.
///
/// Go's module cache, Maven's repository and Cargo's registry have no database to read; see
/// [`crate::ownership::owner_by_convention`].
pub fn is_database(path: &[u8]) -> Option<DatabaseKind> {
    let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => return None,
    };
    let stem_of = |suffix: &[u8]| name.strip_suffix(suffix).filter(|stem| !stem.is_empty());
    match dir {
        b"var/lib/dpkg" if name == b"status" => return Some(DatabaseKind::DpkgStatus),
        b"var/lib/dpkg/info" if stem_of(b".list").is_some() => return Some(DatabaseKind::DpkgList),
        b"var/lib/dpkg/info" | b"var/lib/dpkg/status.d" if stem_of(b".md5sums").is_some() => {
            return Some(DatabaseKind::DpkgMd5sums);
        }
        b"var/lib/dpkg/status.d" if !name.starts_with(b".") => return Some(DatabaseKind::DpkgStatus),
        b"lib/apk/db" if name == b"installed" => return Some(DatabaseKind::ApkInstalled),
        b"var/lib/rpm" | b"usr/lib/sysimage/rpm" if name == b"rpmdb.sqlite" => return Some(DatabaseKind::RpmSqlite),
        _ => {}
    }
    let dir_name = super::file_name(dir);
    match name {
        b"RECORD" if dir_name.ends_with(b".dist-info") => Some(DatabaseKind::PythonRecord),
        b"installed-files.txt" if dir_name.ends_with(b".egg-info") => Some(DatabaseKind::PythonInstalledFiles),
        b"installed.json" if dir == b"vendor/composer" || dir.ends_with(b"/vendor/composer") => {
            Some(DatabaseKind::ComposerInstalled)
        }
        b"package.json" if is_npm_package_dir(dir) => Some(DatabaseKind::NpmPackage),
        _ if dir_name == b"specifications" && stem_of(b".gemspec").is_some() => Some(DatabaseKind::Gemspec),
        _ => None,
    }
}

/// Whether `dir` is `…node_modules/<name>` or `…node_modules/@<scope>/<name>`.
pub(crate) fn is_npm_package_dir(dir: &[u8]) -> bool {
    npm_name_start(dir).is_some()
}

/// Where the package name (`name` or `@scope/name`) starts in `dir`, if `dir` is an npm package
/// directory.
pub(crate) fn npm_name_start(dir: &[u8]) -> Option<usize> {
    let mut parts = dir.rsplitn(4, |&b| b == b'/');
    let name = parts.next()?;
    let up = parts.next()?;
    let valid =
        |part: &[u8]| !part.is_empty() && !part.starts_with(b".") && !part.starts_with(b"@") && part != b"node_modules";
    if !valid(name) {
        return None;
    }
    if up == b"node_modules" {
        return Some(dir.len() - name.len());
    }
    let up2 = parts.next()?;
    (up.len() > 1 && up.starts_with(b"@") && up2 == b"node_modules").then(|| dir.len() - name.len() - up.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use DatabaseKind::*;
        let cases: &[(&str, Option<DatabaseKind>)] = &[
            ("var/lib/dpkg/status", Some(DpkgStatus)),
            ("var/lib/dpkg/status-old", None),
            ("var/lib/dpkg/available", None),
            ("var/lib/dpkg/status.d/libssl3", Some(DpkgStatus)),
            ("var/lib/dpkg/status.d/libssl3.md5sums", Some(DpkgMd5sums)),
            ("var/lib/dpkg/info/libc6:amd64.list", Some(DpkgList)),
            ("var/lib/dpkg/info/netbase.md5sums", Some(DpkgMd5sums)),
            ("var/lib/dpkg/info/netbase.conffiles", None),
            ("var/lib/dpkg/info/.list", None),
            ("usr/var/lib/dpkg/status", None),
            ("lib/apk/db/installed", Some(ApkInstalled)),
            ("lib/apk/db/triggers", None),
            ("var/lib/rpm/rpmdb.sqlite", Some(RpmSqlite)),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", Some(RpmSqlite)),
            ("var/lib/rpm/rpmdb.sqlite-wal", None),
            ("var/lib/rpm/Packages", None),
            ("usr/lib/sysimage/rpm/Packages.db", None),
            ("opt/var/lib/rpm/rpmdb.sqlite", None),
            ("usr/lib/python3/dist-packages/blinker-1.5.dist-info/RECORD", Some(PythonRecord)),
            ("usr/lib/python3/dist-packages/blinker-1.5.dist-info/METADATA", None),
            ("usr/lib/python3/dist-packages/x/RECORD", None),
            (
                "usr/lib/python3/dist-packages/dbus_python-1.3.2.egg-info/installed-files.txt",
                Some(PythonInstalledFiles),
            ),
            ("usr/lib/node_modules/npm/package.json", Some(NpmPackage)),
            ("usr/lib/node_modules/npm/node_modules/@isaacs/string-locale-compare/package.json", Some(NpmPackage)),
            ("usr/lib/node_modules/npm/node_modules/glob/dist/esm/package.json", None),
            ("app/package.json", None),
            ("app/node_modules/package.json", None),
            ("app/node_modules/@scope/package.json", None),
            ("app/node_modules/.bin/package.json", None),
            ("usr/local/lib/ruby/gems/3.2.0/specifications/rake-13.0.6.gemspec", Some(Gemspec)),
            ("usr/local/lib/ruby/gems/3.2.0/gems/rake-13.0.6/rake.gemspec", None),
            ("app/vendor/composer/installed.json", Some(ComposerInstalled)),
            ("vendor/composer/installed.json", Some(ComposerInstalled)),
            ("app/vendor/composer/installed.php", None),
            ("status", None),
        ];
        for (path, want) in cases {
            assert_eq!(is_database(path.as_bytes()), *want, "{path}");
        }
    }
}
