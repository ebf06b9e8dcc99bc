//! Issue 7: what layerdig must never do, checked in its source. The library, the command and
//! the Python bindings run no other program, open no network connection and extract nothing;
//! the library and the bindings write no file but the layer cache, when the user names one
//! (`scan/cache.rs`), and the command writes only the report asked for with `-o` (in
//! `output.rs`).
//!
//! The exceptions to "no network": the clients of the places images live, which connect (never
//! listen) to the endpoint the user names: the container engine's (`engine/`) and registries'
//! (`registry/`, through its HTTP client). The one exception to "no other program": the
//! credential helpers an auth file names (`docker-credential-NAME`, `registry/credentials.rs`).
//!
//! A plain text search: a comment naming one of these is flagged too; reword it.

use std::path::{Path, PathBuf};

/// Running programs, the network, extraction, the process's environment and temporary files.
const NEVER: &[&str] = &[
    "process::Command",
    "Command::new(",
    "Stdio",
    "std::net",
    "os::unix::net",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    ".unpack(",
    ".unpack_in(",
    "set_current_dir",
    "env::set_var",
    "env::remove_var",
    "temp_dir",
    "tempfile",
];

/// The modules that open connections, and the words that lets them use.
const NETWORK_CLIENTS: &[&str] = &["crates/layerdig/src/engine/", "crates/layerdig/src/registry/"];

/// The one file that runs programs (credential helpers), and the words that lets it use.
const PROGRAM_RUNNER: &str = "crates/layerdig/src/registry/credentials.rs";
const RUNNING: &[&str] = &["process::Command", "Command::new(", "Stdio"];
const CONNECTING: &[&str] = &["std::net", "os::unix::net", "TcpStream", "UnixStream"];

/// Writing to the file system.
const WRITES: &[&str] = &[
    "File::create",
    "fs::write",
    "OpenOptions::new",
    "create_dir",
    "remove_file",
    "remove_dir",
    "fs::rename",
    "fs::copy",
    "set_permissions",
    "hard_link(",
    "unix::fs::symlink",
];

/// The files allowed to write: the command's `-o` report, and the layer cache (`--cache DIR`).
const WRITERS: &[&str] = &["crates/layerdig-cli/src/output.rs", "crates/layerdig/src/scan/cache.rs"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_programs_network_extraction_or_stray_writes_in_the_source() {
    let root = root();
    let mut problems = Vec::new();
    let mut files = 0;
    for dir in ["crates/layerdig/src", "crates/layerdig-cli/src", "python/src"] {
        let mut paths = Vec::new();
        rust_files(&root.join(dir), &mut paths);
        assert!(!paths.is_empty(), "no sources under {dir}");
        for path in paths {
            files += 1;
            let rel = path.strip_prefix(&root).expect("under the root").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("source");
            let writes_allowed = WRITERS.contains(&rel.as_str());
            let connects = NETWORK_CLIENTS.iter().any(|dir| rel.starts_with(dir));
            // A file's unit tests (its `#[cfg(test)]` module, at its end) are not the product: they
            // may make temporary files.
            let product = text.split("\n#[cfg(test)]").next().unwrap_or("");
            for (n, line) in product.lines().enumerate() {
                for needle in NEVER.iter().chain(if writes_allowed { &[][..] } else { WRITES }) {
                    if connects && CONNECTING.contains(needle) || rel == PROGRAM_RUNNER && RUNNING.contains(needle) {
                        continue;
                    }
                    if line.contains(needle) {
                        problems.push(format!("{rel}:{}: {needle}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(files > 30, "only {files} source files found");
    assert!(problems.is_empty(), "forbidden in layerdig's source:\n{}", problems.join("\n"));
}

/// The guard above finds what it looks for.
#[test]
fn the_source_guard_sees_the_report_writer() {
    let text = std::fs::read_to_string(root().join(WRITERS[0])).expect("output.rs");
    assert!(text.contains("OpenOptions::new"), "output.rs no longer opens the report: update WRITERS");
    let text = std::fs::read_to_string(root().join(WRITERS[1])).expect("cache.rs");
    assert!(text.contains("create_dir_all"), "cache.rs no longer makes the cache: update WRITERS");
}
