//! Arbitrary bytes as one file of a layer, opened as the archive or compressed file its first
//! bytes say it is (zip, tar, gzip, bzip2, xz, zstd), recursively, through
//! `Scanner::scan_slice`: no panic, no hang, memory bounded by the archive limits (tight here),
//! and every finding inside an archive carries a path whose segments join to it.
//!
//! The first byte chooses how the rest is stored: `1` gzip-compresses it and `2` puts it in a
//! zip (deflated) here, so the fuzzer mutates what is inside; anything else takes it as it is.
#![no_main]

use std::io::{Cursor, Write};

use layerdig::{ArchiveLimits, Scanner};
use libfuzzer_sys::fuzz_target;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fn zipped(data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("inner", options).expect("in memory");
    w.write_all(data).expect("in memory");
    w.finish().expect("in memory").into_inner()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let blob = match mode {
        1 => gzip(rest),
        2 => zipped(rest),
        _ => rest.to_vec(),
    };
    let limits = ArchiveLimits {
        max_file_bytes: 16 << 20,
        max_layer_bytes: 16 << 20,
        max_entries: 10_000,
        max_buffer: 16 << 20,
        ..ArchiveLimits::default()
    };
    let scanner = Scanner::builder().archives(limits).build(&layerdig_fuzz::RULES).expect("one thread");
    for finding in scanner.scan_slice("srv/blob", &blob) {
        assert!(finding.secret.is_none(), "no secret without show_secrets");
        for l in &finding.locations {
            let path = l.path.as_deref().expect("a file location has a path");
            match &l.path_segments {
                Some(segments) => {
                    assert!(segments.len() >= 2, "{segments:?}");
                    assert_eq!(segments[0], "srv/blob");
                    assert_eq!(segments.join("!"), path);
                }
                None => assert_eq!(path, "srv/blob"),
            }
        }
    }
});
