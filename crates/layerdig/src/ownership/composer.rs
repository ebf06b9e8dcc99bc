//! PHP packages Composer installed: `vendor/composer/installed.json`, either Composer 1's array
//! of packages or Composer 2's `{"packages": [...]}`. Each package has a `name` (`vendor/name`),
//! a `version` and, in Composer 2, an `install-path` relative to `vendor/composer/`; without
//! one it is `vendor/<name>`. A package owns its directory whole, unverified.

use serde::Deserialize;
use serde_json::Value;

use super::table::Feed;
use super::{Ecosystem, OwnedFile, OwnershipError, OwnershipErrorKind, Package, join, parent};

#[derive(Deserialize)]
#[serde(untagged)]
enum Installed {
    V2 { packages: Vec<Value> },
    V1(Vec<Value>),
}

/// Reads `vendor/composer/installed.json`.
pub(crate) fn read_installed(feed: &mut Feed<'_>, bytes: &[u8]) -> Result<(), OwnershipError> {
    let installed: Installed = serde_json::from_slice(bytes).map_err(|e| feed.error(OwnershipErrorKind::Json(e)))?;
    let packages = match installed {
        Installed::V2 { packages } | Installed::V1(packages) => packages,
    };
    let composer_dir = parent(feed.database).to_vec();
    let vendor_dir = parent(&composer_dir).to_vec();
    for entry in packages {
        let field = |key: &str| entry.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let Some(name) = field("name") else {
            feed.problem_unplaced(OwnershipErrorKind::MissingField("name"));
            continue;
        };
        let dir = match field("install-path") {
            Some(abs) if abs.starts_with('/') => abs.as_bytes().to_vec(),
            Some(rel) => join(&composer_dir, rel.as_bytes()),
            None => join(&vendor_dir, name.as_bytes()),
        };
        let version = field("version").map(str::to_string);
        let name = name.to_string();
        let id = feed.package(Ecosystem::Composer, &dir, || Package::new(Ecosystem::Composer, name, version));
        feed.dir(&dir, OwnedFile { package: id, digest: None, conffile: false });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseKind, Ownership};
    use super::*;

    const PATH: &[u8] = b"var/www/app/vendor/composer/installed.json";

    #[test]
    fn both_forms() {
        let v2 = br#"{"packages": [
            {"name": "monolog/monolog", "version": "3.5.0", "install-path": "../monolog/monolog"},
            {"name": "psr/log", "version": "3.0.0", "install-path": "../psr/log"},
            {"version": "1.0.0"}
        ], "dev": true, "dev-package-names": []}"#;
        let v1 = br#"[{"name": "monolog/monolog", "version": "1.27.1"}]"#;
        for (bytes, want) in [(&v2[..], "composer:monolog/monolog@3.5.0"), (v1, "composer:monolog/monolog@1.27.1")] {
            let mut table = Ownership::new();
            let added = table.add(DatabaseKind::ComposerInstalled, PATH, bytes).unwrap();
            assert_eq!(added.problems.len(), usize::from(bytes == v2));
            let owner = table.owner(b"var/www/app/vendor/monolog/monolog/src/Monolog/Logger.php").unwrap();
            assert_eq!(owner.package.to_string(), want);
            assert_eq!(owner.file.digest, None);
            assert!(table.owner(b"var/www/app/vendor/autoload.php").is_none());
        }
    }

    #[test]
    fn not_json_or_not_a_list() {
        for bad in [&b"{\"packages\": "[..], b"{\"packages\": 3}", b"\"text\""] {
            let err = Ownership::new().add(DatabaseKind::ComposerInstalled, PATH, bad).unwrap_err();
            assert!(matches!(err.kind, OwnershipErrorKind::Json(_)), "{err}");
        }
    }
}
