//! Compressed layers big enough to be decompressed on a thread of their own, ahead of the tar
//! walk and the detectors: the results, digests and errors are those of the inline path.

use std::path::Path;

use layerdig::{Collect, Report, Rules, Scanner, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, compress, sha256};

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const KEY2: &str = "AKIAB2C3D4E5F6G7H2J3";

/// `len` bytes that do not compress, so the blob is as big as the content.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A layer of 3 MiB: a key before, between and after two large incompressible files.
fn big_layer() -> Vec<u8> {
    LayerBuilder::new()
        .file("app/.env", format!("AWS_ACCESS_KEY_ID={KEY}\n").as_bytes())
        .file("opt/data/one.bin", &noise(3 << 19, 7))
        .file("opt/data/two.bin", &noise(3 << 19, 11))
        .file("etc/app/late.conf", format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .finish()
}

fn write(dir: &Path, layer: Vec<u8>, comp: Comp, tamper: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let image = SynthImage::new(vec![
        SynthLayer::new(
            LayerBuilder::new().file("base/.env", format!("TOKEN_KEY={KEY2}\n").as_bytes()).finish(),
            Comp::Gzip,
            "COPY base",
        ),
        SynthLayer::new(layer.clone(), comp, "COPY app"),
    ]);
    let mut layout = Layout::oci(&[image], false, false);
    let blob = compress(&layer, comp);
    assert!(blob.len() > 1 << 20, "the blob is big enough to be read ahead ({} bytes)", blob.len());
    layout.replace_blob(&sha256(&blob), tamper(blob));
    layout.write_dir(dir);
}

fn scan(path: &Path) -> Report {
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(true).threads(2).build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn places(report: &Report, key: &str) -> Vec<(String, Option<usize>, Option<Status>)> {
    let mut v: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.secret.as_deref() == Some(key))
        .flat_map(|f| f.locations.iter())
        .map(|l| (l.path.clone().unwrap_or_default(), l.layer_index, l.status))
        .collect();
    v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    v
}

#[test]
fn large_compressed_layers_are_read_whole_with_digests_verified() {
    for comp in [Comp::Gzip, Comp::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let layer = big_layer();
        let expected_diff_id = sha256(&layer);
        write(dir.path(), layer.clone(), comp, |b| b);
        let report = scan(dir.path());
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        assert_eq!(places(&report, KEY), [("app/.env".to_string(), Some(1), Some(Status::Present))]);
        assert!(places(&report, KEY2).contains(&("etc/app/late.conf".to_string(), Some(1), Some(Status::Present))));
        let l = &report.images[0].layers[1];
        assert_eq!(l.uncompressed_size, layer.len() as u64);
        assert_eq!(l.diff_id.as_deref(), Some(expected_diff_id.as_str()));
    }
}

#[test]
fn a_large_layer_cut_short_keeps_what_was_read_and_says_so() {
    for (comp, format) in [(Comp::Gzip, "gzip"), (Comp::Zstd, "zstd")] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), big_layer(), comp, |mut b| {
            b.truncate(b.len() * 2 / 3);
            b
        });
        let report = scan(dir.path());
        assert_eq!(places(&report, KEY), [("app/.env".to_string(), Some(1), Some(Status::Present))], "{format}");
        assert!(places(&report, KEY2).iter().all(|(p, ..)| p == "base/.env"), "{format}: nothing after the cut");
        let e = report
            .errors
            .iter()
            .find(|e| e.layer_index == Some(1) && e.message.contains(format))
            .unwrap_or_else(|| panic!("{format}: no decompression error: {:#?}", report.errors));
        assert!(e.incomplete, "{format}: {e:#?}");
        assert_eq!(e.path.as_deref(), Some("opt/data/two.bin"), "{format}: the error names the file being read");
    }
}

/// A tar that goes bad in its middle stops the walk; the thread decompressing ahead of it must
/// stop too (this test would hang otherwise) and the layer is reported incomplete.
#[test]
fn a_bad_tar_header_in_a_large_layer_stops_the_read_ahead() {
    let mut layer = big_layer();
    // The third header: after the .env file (512 + 512) and one.bin (512 + 768 KiB).
    let third = 512 + 512 + 512 + (3 << 19);
    layer[third + 148..third + 156].copy_from_slice(b"0000000\0");
    let dir = tempfile::tempdir().unwrap();
    let image = SynthImage::new(vec![SynthLayer::new(layer.clone(), Comp::Gzip, "COPY app")]);
    let layout = Layout::oci(&[image], false, false);
    layout.write_dir(dir.path());
    let report = scan(dir.path());
    assert_eq!(places(&report, KEY), [("app/.env".to_string(), Some(0), Some(Status::Present))]);
    assert!(places(&report, KEY2).is_empty());
    let e = report.errors.iter().find(|e| e.layer_index == Some(0)).expect("an error for the bad layer");
    assert!(e.incomplete, "{e:#?}");
    // The gzip stream itself is sound (the decompressing thread reads it without fault): the
    // tar inside is what is wrong, and the error says so.
    assert!(e.message.contains("tar stream is corrupt") && !e.message.contains("gzip"), "{e:#?}");
}

/// An uncompressed layer's file bigger than what is handed over as one slice is streamed from
/// the map instead; a key anywhere in it, and across the scanner's window boundaries, is found
/// with the same line and byte offset.
#[test]
fn a_file_of_many_megabytes_in_an_uncompressed_layer_is_scanned_whole() {
    let line = b"0123456789 abcdefghij ABCDEFGHIJ the quick brown fox jumps over it\n";
    let mut content = Vec::with_capacity(70 << 20);
    while content.len() < 70 << 20 {
        content.extend_from_slice(line);
    }
    // Both keys at line starts: one near 40 MiB, one on the last line.
    let first_at = (40 << 20) / line.len() * line.len();
    let planted = format!("aws_access_key_id = {KEY}\n");
    content[first_at..first_at + planted.len()].copy_from_slice(planted.as_bytes());
    let last = format!("aws_access_key_id = {KEY2}\n");
    let last_at = content.len() - line.len();
    content.truncate(last_at);
    content.extend_from_slice(last.as_bytes());
    let lines_before = |at: usize| content[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    let expect = [(KEY, first_at, lines_before(first_at) + 1), (KEY2, last_at, lines_before(last_at) + 1)];
    let layer = LayerBuilder::new().file("srv/big.log", &content).finish();
    let dir = tempfile::tempdir().unwrap();
    let image = SynthImage::new(vec![SynthLayer::new(layer, Comp::None, "COPY big.log")]);
    Layout::docker_classic(&image).write_tar(&dir.path().join("image.tar"));
    let report = scan(&dir.path().join("image.tar"));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    for (key, at, line_no) in expect {
        let l = report
            .findings
            .iter()
            .filter(|f| f.secret.as_deref() == Some(key))
            .flat_map(|f| f.locations.iter())
            .find(|l| l.path.as_deref() == Some("srv/big.log"))
            .unwrap_or_else(|| panic!("{key} not found"));
        assert_eq!(l.line, Some(line_no), "{key}");
        let span = l.span.as_ref().expect("a byte span");
        assert_eq!(span.start, (at + "aws_access_key_id = ".len()) as u64, "{key}");
    }
}
