//! Embeds the built-in rule files.
//!
//! Lists `src/detect/rules/*.yaml` (sorted by name) and writes `$OUT_DIR/builtin_rules.rs`:
//!
//! ```text
//! pub(crate) const BUILTIN_RULES: &[(&str, &str)] = &[("aws.yaml", include_str!("/abs/aws.yaml")), ...];
//! ```
//!
//! Cargo reruns this script when the directory or any listed file changes, so adding or
//! removing a rule file needs no other edit.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let rules_dir = manifest_dir.join("src").join("detect").join("rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());

    let mut files = list_yaml(&rules_dir);
    files.sort();

    let mut code = String::from(
        "/// Every built-in rule file as `(file name, contents)`, sorted by file name.\n\
         pub(crate) const BUILTIN_RULES: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).expect("rule file names are UTF-8");
        let abs = path.to_str().expect("rule file paths are UTF-8");
        // `{:?}` escapes backslashes and quotes, so the literal is valid on every platform.
        writeln!(code, "    ({name:?}, include_str!({abs:?})),").expect("writing to a String");
    }
    code.push_str("];\n");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_rules.rs");
    // Write only on change so dependants are not rebuilt needlessly.
    if fs::read_to_string(&out).ok().as_deref() != Some(code.as_str()) {
        fs::write(&out, code).expect("writing builtin_rules.rs");
    }
}

fn list_yaml(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .collect()
}
