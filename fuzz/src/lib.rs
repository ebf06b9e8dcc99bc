//! What the fuzz targets share: the compiled built-in rules, a scanner, the scratch file an
//! input is written to (images and layers are opened from a path), and the checks every target
//! makes on what the library returns.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use layerdig::detect::Match;
use layerdig::{Collect, Report, Rules, Scanner};

/// The built-in rules, compiled once per process.
pub static RULES: LazyLock<Rules> = LazyLock::new(Rules::builtin);

/// The most uncompressed bytes read from one layer. Far below the default (64 GiB) so that a
/// decompression bomb costs the fuzzer milliseconds, not minutes; the cap itself is code under
/// test.
pub const MAX_LAYER_BYTES: u64 = 32 << 20;

/// A scanner on one thread (libFuzzer runs one input at a time) with [`MAX_LAYER_BYTES`].
pub static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let mut builder = Scanner::builder();
    builder.threads(1).max_layer_bytes(MAX_LAYER_BYTES);
    builder.build(&RULES).expect("a one-thread pool can be built")
});

/// Write `data` to this process's scratch file and return its path. The file is in `/dev/shm`
/// where there is one (memory, not disk), else in the temporary directory; one file per process
/// and target, rewritten for every input.
pub fn input_file(target: &str, data: &[u8]) -> PathBuf {
    static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() }
    });
    let path = DIR.join(format!("layerdig-fuzz-{target}-{}", std::process::id()));
    std::fs::write(&path, data).expect("write the scratch input");
    path
}

/// Scan the image at `path` into a report.
pub fn scan(path: &Path) -> Report {
    let mut sink = Collect::new();
    let stats = SCANNER.scan_path(path, &mut sink).expect("Collect never fails");
    sink.into_report(stats)
}

/// What must hold for any report, however malformed the input.
pub fn check_report(report: &Report) {
    // An incomplete scan says why.
    if report.stats.incomplete {
        assert!(report.errors.iter().any(|e| e.incomplete), "incomplete without an error: {report:#?}");
    }
    for finding in &report.findings {
        assert!(finding.secret.is_none(), "a secret in a report that did not ask for them");
        assert!(!finding.locations.is_empty(), "a finding with no location");
        for loc in &finding.locations {
            if let Some(span) = loc.span {
                assert!(span.start < span.end, "empty or reversed span {span:?}");
            }
            if let Some(path) = &loc.path {
                check_normalized(path.as_bytes());
            }
        }
    }
    // Every byte of every layer is accounted for.
    for image in &report.images {
        for layer in &image.layers {
            let a = layer.account;
            assert_eq!(a.stream_total(), layer.uncompressed_size, "layer {}: {a:?}", layer.index);
            if a.compressed + a.framing_hidden > 0 {
                assert_eq!(a.compressed + a.framing_hidden, layer.size, "layer {}: {a:?}", layer.index);
            }
        }
    }
    // Every printer's input serialises.
    serde_json::to_vec(report).expect("report serialises");
    serde_json::to_vec(&layerdig::report::sarif::sarif(report, &RULES)).expect("SARIF serialises");
}

/// A normalised layer path: relative, no empty, `.` or `..` components.
pub fn check_normalized(path: &[u8]) {
    if path.is_empty() {
        return;
    }
    for part in path.split(|&b| b == b'/') {
        assert!(!matches!(part, b"" | b"." | b".."), "path not normalised: {:?}", String::from_utf8_lossy(path));
    }
}

/// What must hold for every match a detector returns over `data`, whose first byte is at file
/// offset `offset`: a non-empty span inside the buffer, holding exactly the secret.
pub fn check_match(m: &Match, data: &[u8], offset: u64) {
    assert!(m.start < m.end, "empty or reversed span {}..{}", m.start, m.end);
    assert!(m.start >= offset, "span {}..{} before the buffer at {offset}", m.start, m.end);
    let start = usize::try_from(m.start - offset).expect("in memory");
    let end = usize::try_from(m.end - offset).expect("in memory");
    assert!(end <= data.len(), "span {}..{} past the buffer's {} bytes", m.start, m.end, data.len());
    assert_eq!(&data[start..end], &m.secret[..], "the span does not hold the secret");
    assert!(m.line >= 1 && m.column >= 1, "line and column are 1-based");
    let _ = layerdig::finding::redact(&m.secret);
}
