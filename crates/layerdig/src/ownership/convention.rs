//! Package managers whose on-disk layout names the package, so no database needs reading:
//!
//! - Go's module cache: `…/go/pkg/mod/<module>@<version>/…`, the module path with each upper
//!   case letter escaped as `!` and its lower case (`github.com/!burnt!sushi/toml@v1.3.2`).
//! - Maven's local repository: `…/.m2/repository/<group path>/<artifact>/<version>/<artifact>-<version>…`.
//! - Cargo's registry: `…/.cargo/registry/src/<index>/<crate>-<version>/…` (and `cargo/` for a
//!   `CARGO_HOME` such as `/usr/local/cargo`), and the downloaded
//!   `…/registry/cache/<index>/<crate>-<version>.crate`.
//!
//! Everything under such a directory is the package's, unverified.

use super::{Ecosystem, Package, split_name_version, text};

/// The package whose directory `path` (normalised, as the layer names it) is in, by the
/// conventions of Go's module cache, Maven's local repository or Cargo's registry.
pub fn owner_by_convention(path: &[u8]) -> Option<Package> {
    let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    go(&parts).or_else(|| maven(&parts)).or_else(|| cargo(&parts))
}

/// Where the run of components `run` begins in `parts`, the first time it does.
fn find(parts: &[&[u8]], run: &[&[u8]]) -> Option<usize> {
    parts.windows(run.len()).position(|window| window == run)
}

fn go(parts: &[&[u8]]) -> Option<Package> {
    let start = find(parts, &[b"go", b"pkg", b"mod"])? + 3;
    let rest = parts.get(start..)?;
    if rest.first() == Some(&&b"cache"[..]) {
        return None;
    }
    let at = rest.iter().position(|part| part.contains(&b'@'))?;
    // The module directory must hold the path, not be it.
    if at + 1 >= rest.len() {
        return None;
    }
    let last = text(rest[at]);
    let (tail, version) = last.split_once('@')?;
    let mut module: Vec<String> = rest[..at].iter().map(|part| text(part)).collect();
    module.push(tail.to_string());
    let module = unescape_module(&module.join("/"));
    (!tail.is_empty() && !version.is_empty())
        .then(|| Package::new(Ecosystem::GoModules, module, Some(version.to_string())))
}

/// `!b` is `B` in an escaped module path.
fn unescape_module(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for c in escaped.chars() {
        match (bang, c) {
            (false, '!') => bang = true,
            (true, c) => {
                out.extend(c.to_uppercase());
                bang = false;
            }
            (false, c) => out.push(c),
        }
    }
    out
}

fn maven(parts: &[&[u8]]) -> Option<Package> {
    let start = find(parts, &[b".m2", b"repository"])? + 2;
    let rest = parts.get(start..)?;
    // group (one component or more), artifact, version, file.
    if rest.len() < 4 {
        return None;
    }
    let n = rest.len();
    let (artifact, version, file) = (text(rest[n - 3]), text(rest[n - 2]), text(rest[n - 1]));
    // A snapshot's files carry a timestamp where the directory says SNAPSHOT.
    let release = version.strip_suffix("-SNAPSHOT").unwrap_or(&version);
    let belongs = file == "_remote.repositories" || file.starts_with(&format!("{artifact}-{release}"));
    if !belongs || artifact.is_empty() || version.is_empty() {
        return None;
    }
    let group: Vec<String> = rest[..n - 3].iter().map(|part| text(part)).collect();
    Some(Package::new(Ecosystem::Maven, format!("{}:{artifact}", group.join(".")), Some(version)))
}

fn cargo(parts: &[&[u8]]) -> Option<Package> {
    let home = parts.iter().position(|part| *part == b".cargo" || *part == b"cargo")?;
    let rest = parts.get(home + 1..)?;
    let crate_dir = match rest {
        [b"registry", b"src", _index, crate_dir, _file, ..] => text(crate_dir),
        [b"registry", b"cache", _index, file] => text(file.strip_suffix(b".crate")?),
        _ => return None,
    };
    let (name, version) = split_name_version(&crate_dir)?;
    Some(Package::new(Ecosystem::Cargo, name, Some(version.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "root/go/pkg/mod/github.com/!burnt!sushi/toml@v1.3.2/decode.go",
                Some("go:github.com/BurntSushi/toml@v1.3.2"),
            ),
            ("go/pkg/mod/golang.org/x/net@v0.20.0/http2/frame.go", Some("go:golang.org/x/net@v0.20.0")),
            (
                "go/pkg/mod/github.com/aws/aws-sdk-go-v2/service/s3@v1.48.0/api.go",
                Some("go:github.com/aws/aws-sdk-go-v2/service/s3@v1.48.0"),
            ),
            ("go/pkg/mod/golang.org/x/net@v0.20.0", None),
            ("go/pkg/mod/cache/download/golang.org/x/net/@v/v0.20.0.zip", None),
            ("root/src/pkg/mod/a@v1/b.go", None),
            (
                "root/.m2/repository/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar",
                Some("maven:org.slf4j:slf4j-api@2.0.9"),
            ),
            (
                "root/.m2/repository/com/example/app/1.0-SNAPSHOT/app-1.0-20240102.030405-1.pom",
                Some("maven:com.example:app@1.0-SNAPSHOT"),
            ),
            (
                "root/.m2/repository/org/slf4j/slf4j-api/2.0.9/_remote.repositories",
                Some("maven:org.slf4j:slf4j-api@2.0.9"),
            ),
            ("root/.m2/repository/org/slf4j/slf4j-api/maven-metadata-central.xml", None),
            ("root/.m2/repository/org/slf4j/slf4j-api/2.0.9/notes.txt", None),
            ("root/.m2/settings.xml", None),
            (
                "root/.cargo/registry/src/registry.example.com-1949cf8c6b5b557f/serde-1.0.197/src/lib.rs",
                Some("cargo:serde@1.0.197"),
            ),
            (
                "usr/local/cargo/registry/src/registry.example.com-1949cf8c6b5b557f/wasm-bindgen-0.2.92/src/lib.rs",
                Some("cargo:wasm-bindgen@0.2.92"),
            ),
            (
                "usr/local/cargo/registry/cache/registry.example.com-1949cf8c6b5b557f/rustls-0.23.0-alpha.1.crate",
                Some("cargo:rustls@0.23.0-alpha.1"),
            ),
            ("root/.cargo/registry/src/registry.example.com-1949cf8c6b5b557f/serde-1.0.197", None),
            ("root/.cargo/git/checkouts/foo-0123abcd/5e6f7a8/src/lib.rs", None),
            ("usr/lib/python3/dist-packages/x.py", None),
        ];
        for (path, want) in cases {
            let got = owner_by_convention(path.as_bytes()).map(|p| p.to_string());
            assert_eq!(got.as_deref(), *want, "{path}");
        }
    }
}
