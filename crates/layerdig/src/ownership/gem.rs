//! Ruby gems: `<gem dir>/specifications/<name>-<version>.gemspec` says the gem is installed,
//! and its files are under `<gem dir>/gems/<name>-<version>/`, which it then owns whole,
//! unverified. The name and version come from the file name; the gemspec's Ruby is not read.
//! A platform gem's version keeps its platform (`nokogiri-1.15.4-x86_64-linux` is version
//! `1.15.4-x86_64-linux`), as its directory does.

use super::table::Feed;
use super::{
    Ecosystem, OwnedFile, OwnershipError, OwnershipErrorKind, Package, file_name, join, parent, split_name_version,
    text,
};

/// Reads `specifications/<name>-<version>.gemspec` (its path; the bytes are not needed).
pub(crate) fn read_gemspec(feed: &mut Feed<'_>, _bytes: &[u8]) -> Result<(), OwnershipError> {
    let stem = file_name(feed.database).strip_suffix(b".gemspec").map(text).unwrap_or_default();
    let Some((name, version)) = split_name_version(&stem) else {
        return Err(feed.error(OwnershipErrorKind::UnexpectedPath));
    };
    let gem_dir = parent(parent(feed.database));
    let dir = join(gem_dir, join(b"gems", stem.as_bytes()).as_slice());
    let (name, version) = (name.to_string(), version.to_string());
    let id = feed.package(Ecosystem::RubyGems, &dir, || Package::new(Ecosystem::RubyGems, name, Some(version)));
    feed.dir(&dir, OwnedFile { package: id, digest: None, conffile: false });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Ownership, is_database};
    use super::*;

    #[test]
    fn specification_owns_its_gem_directory() {
        let gems = "usr/local/lib/ruby/gems/3.2.0";
        let mut table = Ownership::new();
        for spec in ["rake-13.0.6", "aws-sdk-core-3.190.0", "nokogiri-1.15.4-x86_64-linux"] {
            let path = format!("{gems}/specifications/{spec}.gemspec");
            let kind = is_database(path.as_bytes()).unwrap();
            table
                .add(kind, path.as_bytes(), b"# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\nend\n")
                .unwrap();
        }
        let cases = [
            (format!("{gems}/gems/rake-13.0.6/lib/rake.rb"), Some("rubygems:rake@13.0.6")),
            (format!("{gems}/gems/aws-sdk-core-3.190.0/lib/seahorse.rb"), Some("rubygems:aws-sdk-core@3.190.0")),
            (
                format!("{gems}/gems/nokogiri-1.15.4-x86_64-linux/lib/x.rb"),
                Some("rubygems:nokogiri@1.15.4-x86_64-linux"),
            ),
            (format!("{gems}/gems/rake-13.0.7/lib/rake.rb"), None),
            (format!("{gems}/specifications/rake-13.0.6.gemspec"), None),
        ];
        for (path, want) in cases {
            assert_eq!(table.owner(path.as_bytes()).map(|o| o.package.to_string()).as_deref(), want, "{path}");
        }
        let err =
            table.add(super::super::DatabaseKind::Gemspec, b"gems/specifications/noversion.gemspec", b"").unwrap_err();
        assert!(matches!(err.kind, OwnershipErrorKind::UnexpectedPath));
    }
}
