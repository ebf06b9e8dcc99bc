//! npm packages: the `package.json` of a package directory, `node_modules/<name>/` or
//! `node_modules/@<scope>/<name>/`, makes its package own every file under the directory,
//! unverified (npm records no per-file digests on disk). A package nested in another's
//! `node_modules` owns its own directory: the deepest one wins.

use serde_json::{Map, Value};

use super::kind::npm_name_start;
use super::table::Feed;
use super::{Ecosystem, OwnedFile, OwnershipError, OwnershipErrorKind, Package, parent, text};

/// Reads `node_modules/…/package.json`.
pub(crate) fn read_package_json(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let dir = parent(feed.database).to_vec();
    let Some(start) = npm_name_start(&dir) else {
        return Err(feed.error(OwnershipErrorKind::UnexpectedPath));
    };
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // An object, read whole (manifests are small); `name` and `version` are taken only when
    // they are strings, so that a `"version": 3` does not make the whole file unreadable.
    let mut manifest: Map<String, Value> =
        serde_json::from_slice(bytes).map_err(|e| feed.error(OwnershipErrorKind::Json(e)))?;
    let mut as_text = |key: &str| match manifest.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    // An alias (`npm install foo@npm:bar`) installs `bar` in `node_modules/foo`: the manifest's
    // name is the package's; the directory's is the fallback.
    let name = as_text("name").unwrap_or_else(|| text(&dir[start..]));
    let version = as_text("version");
    let id = feed.package(Ecosystem::Npm, &dir, || Package::new(Ecosystem::Npm, name, version));
    feed.dir(&dir, OwnedFile { package: id, digest: None, conffile: false });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseKind, Ownership, Verdict, is_database, verify};
    use super::*;

    const UTIL_DEPRECATE: &[u8] = include_bytes!("testdata/npm/util-deprecate-package.json");
    const STRING_LOCALE_COMPARE: &[u8] = include_bytes!("testdata/npm/string-locale-compare-package.json");

    const NPM: &str = "usr/lib/node_modules/npm";

    #[test]
    fn real_package_json_files_own_their_directories() {
        let mut table = Ownership::new();
        for (path, bytes) in [
            (format!("{NPM}/package.json"), &br#"{"name": "npm", "version": "10.9.2"}"#[..]),
            (format!("{NPM}/node_modules/util-deprecate/package.json"), UTIL_DEPRECATE),
            (format!("{NPM}/node_modules/@isaacs/string-locale-compare/package.json"), STRING_LOCALE_COMPARE),
        ] {
            let kind = is_database(path.as_bytes()).unwrap();
            assert_eq!(kind, DatabaseKind::NpmPackage);
            table.add(kind, path.as_bytes(), bytes).unwrap();
        }
        let cases = [
            (format!("{NPM}/node_modules/util-deprecate/node.js"), Some("npm:util-deprecate@1.0.2")),
            (
                format!("{NPM}/node_modules/@isaacs/string-locale-compare/index.js"),
                Some("npm:@isaacs/string-locale-compare@1.1.0"),
            ),
            // The deepest package directory wins; files of npm itself belong to npm.
            (format!("{NPM}/lib/cli.js"), Some("npm:npm@10.9.2")),
            (format!("{NPM}/node_modules/glob/dist/esm/index.js"), Some("npm:npm@10.9.2")),
            ("usr/lib/node_modules/corepack/index.js".to_string(), None),
            ("usr/lib/node_modules/npmx/index.js".to_string(), None),
        ];
        for (path, want) in cases {
            let got = table.owner(path.as_bytes()).map(|o| o.package.to_string());
            assert_eq!(got.as_deref(), want, "{path}");
        }
        let owner = table.owner(format!("{NPM}/node_modules/util-deprecate/node.js").as_bytes()).unwrap();
        assert_eq!(verify(owner.file, b"module.exports = require('util').deprecate;\n"), Verdict::Unverified);
    }

    #[test]
    fn bad_manifests() {
        let path = b"app/node_modules/left-pad/package.json";
        let mut table = Ownership::new();
        for bad in [&b"{\"name\": \"left-pad\", "[..], b"", b"[1, 2]", b"\xff\xfe{}"] {
            let err = table.add(DatabaseKind::NpmPackage, path, bad).unwrap_err();
            assert!(matches!(err.kind, OwnershipErrorKind::Json(_)), "{err}");
            assert!(err.to_string().starts_with("app/node_modules/left-pad/package.json: invalid JSON"), "{err}");
        }
        assert!(table.is_empty());

        // Fields of the wrong type, or none: the directory's name, no version.
        table.add(DatabaseKind::NpmPackage, path, b"\xef\xbb\xbf{\"name\": 7, \"version\": [\"1\"]}").unwrap();
        let owner = table.owner(b"app/node_modules/left-pad/index.js").unwrap();
        assert_eq!(owner.package.to_string(), "npm:left-pad");

        let err = table.add(DatabaseKind::NpmPackage, b"app/package.json", b"{}").unwrap_err();
        assert!(matches!(err.kind, OwnershipErrorKind::UnexpectedPath));
    }
}
