//! Arbitrary bytes through the detectors (built-in rules): as a file's content, in two
//! overlapping windows, as a credential-file candidate, as an image config string, and through
//! `Scanner::scan_slice`. Every match's span must lie in its buffer and hold the secret.
//!
//! Input: `PATH \n CONTENT`. The path doubles as the config key, so `Env[0]`, `Labels.x` and
//! `history[0].created_by` reach the config detectors' special cases.
#![no_main]

use layerdig::detect::{Detector, Window};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (path, content) = match data.iter().position(|&b| b == b'\n') {
        Some(nl) => (&data[..nl], &data[nl + 1..]),
        None => (&b"app/.env"[..], data),
    };
    let mut detector = Detector::new(&layerdig_fuzz::RULES);
    let mut out = Vec::new();

    // The whole buffer as one file.
    detector.scan(path, content, Window::default(), &mut out);
    for m in &out {
        layerdig_fuzz::check_match(m, content, 0);
    }
    let whole = out.len();

    // The same bytes in two overlapping windows, as the scanner hands a large file over: the
    // first reports secrets starting before `mid`, the second starts at `mid`.
    if content.len() >= 2 {
        let mid = content.len() / 2;
        let overlap = (content.len() - mid).min(256);
        let first = &content[..mid + overlap];
        out.clear();
        detector.scan(path, first, Window { offset: 0, line: 1, report_before: Some(mid) }, &mut out);
        for m in &out {
            layerdig_fuzz::check_match(m, first, 0);
            assert!(m.start < mid as u64, "reported past report_before");
        }
        let second = &content[mid..];
        out.clear();
        detector.scan(path, second, Window { offset: mid as u64, line: 0, report_before: None }, &mut out);
        for m in &out {
            layerdig_fuzz::check_match(m, second, mid as u64);
        }
    }

    // Credential files, by path and shape.
    let head = &content[..content.len().min(64 << 10)];
    if let Some(m) = detector.classify_file(path, head, content.len() as u64, whole > 0) {
        layerdig_fuzz::check_match(&m, head, 0);
    }

    // The config path: key and value are text.
    let key = String::from_utf8_lossy(path);
    let value = String::from_utf8_lossy(content);
    out.clear();
    detector.scan_config(&key, &value, &mut out);
    for m in &out {
        layerdig_fuzz::check_match(m, value.as_bytes(), 0);
    }

    // The one-buffer entry point.
    for finding in layerdig_fuzz::SCANNER.scan_slice(&key, content) {
        assert!(finding.secret.is_none());
        for loc in &finding.locations {
            let span = loc.span.expect("a file finding has a span");
            assert!(span.start < span.end && span.end <= content.len() as u64, "span {span:?} out of bounds");
        }
    }
});
