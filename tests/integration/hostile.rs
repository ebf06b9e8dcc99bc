//! Malformed and hostile inputs (issue 7): each is answered by a clear error naming the image,
//! and the layer and path where there is one; the rest of the image is still scanned; nothing
//! panics, hangs or allocates without bound.

use std::io::Write;
use std::path::Path;

use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use layerdig::{Collect, ErrorReport, ImageSource, Report, Rules, Scanner, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, compress, sha256};
use serde_json::{Value, json};

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const KEY2: &str = "AKIAB2C3D4E5F6G7H2J3";
const MIB: u64 = 1 << 20;

fn scan_capped(path: &Path, cap: Option<u64>) -> Report {
    let rules = Rules::builtin();
    let mut builder = Scanner::builder();
    builder.show_secrets(true).threads(2);
    if let Some(cap) = cap {
        builder.max_layer_bytes(cap);
    }
    let scanner = builder.build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn scan(path: &Path) -> Report {
    scan_capped(path, None)
}

/// The layers in which `key` was found at `path`, with the status there.
fn found(report: &Report, key: &str, path: &str) -> Vec<(Option<usize>, Option<Status>)> {
    report
        .findings
        .iter()
        .filter(|f| f.secret.as_deref() == Some(key))
        .flat_map(|f| f.locations.iter())
        .filter(|l| l.path.as_deref() == Some(path))
        .map(|l| (l.layer_index, l.status))
        .collect()
}

/// The one error about `layer` whose message contains `needle`, checked to name the image.
fn error_at<'r>(report: &'r Report, image: &Path, layer: Option<usize>, needle: &str) -> &'r ErrorReport {
    let e = report
        .errors
        .iter()
        .find(|e| e.layer_index == layer && e.message.contains(needle))
        .unwrap_or_else(|| panic!("no error at layer {layer:?} with {needle:?}: {:#?}", report.errors));
    let image = image.display().to_string();
    assert_eq!(e.image, image);
    assert!(e.message.starts_with(&image), "the message names the image: {}", e.message);
    if let Some(layer) = layer {
        assert!(e.message.contains(&format!("layer {layer}")), "the message names the layer: {}", e.message);
    }
    e
}

fn env_layer(path: &str, key: &str) -> Vec<u8> {
    LayerBuilder::new().file(path, format!("aws_access_key_id = {key}\n").as_bytes()).finish()
}

/// A two-layer OCI layout: layer 0 holds `KEY` at `app/.env` (always readable), layer 1 is
/// `layer1` compressed with `comp`, whose blob is then replaced by `tamper(blob)`.
fn two_layer_oci(dir: &Path, layer1: Vec<u8>, comp: Comp, tamper: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Layout {
    let image = SynthImage::new(vec![
        SynthLayer::new(env_layer("app/.env", KEY), Comp::Gzip, "COPY .env"),
        SynthLayer::new(layer1.clone(), comp, "RUN hostile"),
    ]);
    let mut layout = Layout::oci(&[image], false, false);
    let blob = compress(&layer1, comp);
    layout.replace_blob(&sha256(&blob), tamper(blob));
    layout.write_dir(dir);
    layout
}

fn assert_layer0_kept(report: &Report) {
    assert_eq!(found(report, KEY, "app/.env"), vec![(Some(0), Some(Status::Present))], "{:#?}", report.errors);
}

/// Some lines of text with `KEY2` at the start and a lot after it.
fn big_text() -> Vec<u8> {
    let mut content = format!("aws_access_key_id = {KEY2}\n").into_bytes();
    // Lines that do not compress to nothing, so a cut in the blob is a cut in this file.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while content.len() < 256 << 10 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        content.extend_from_slice(format!("line {:016x} {:016x}\n", x, x.rotate_left(17)).as_bytes());
    }
    content
}

#[test]
fn truncated_gzip_and_zstd_streams() {
    for (comp, format) in [(Comp::Gzip, "gzip"), (Comp::Zstd, "zstd")] {
        let dir = tempfile::tempdir().unwrap();
        let tar = LayerBuilder::new().file("data/big.log", &big_text()).file("data/after", b"x").finish();
        two_layer_oci(dir.path(), tar, comp, |b| b[..b.len() / 2].to_vec());
        let report = scan(dir.path());
        let e = error_at(&report, dir.path(), Some(1), &format!("{format} stream is corrupt or truncated"));
        assert!(e.incomplete && e.layer_digest.is_some(), "{e:#?}");
        assert_eq!(e.path.as_deref(), Some("data/big.log"), "the entry being read when the stream ended");
        assert!(report.is_incomplete());
        assert_layer0_kept(&report);
        assert_eq!(found(&report, KEY2, "data/big.log").len(), 1, "{format}: what came before the cut is kept");
    }
}

/// A bad tar header is the tar's fault, compressed or not: a gzip or zstd stream that
/// decompresses cleanly is not called corrupt.
#[test]
fn corrupt_tar_header_checksum() {
    for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = LayerBuilder::new()
            .file("first/.env", format!("aws_access_key_id = {KEY2}\n").as_bytes())
            .file("second/file", b"x")
            .finish();
        // The second header starts after the first header and its one block of data.
        tar[1024 + 3] ^= 0x55;
        two_layer_oci(dir.path(), tar, comp, |b| b);
        let report = scan(dir.path());
        let e = error_at(&report, dir.path(), Some(1), "tar stream is corrupt or truncated");
        assert!(e.incomplete && e.message.contains("checksum"), "{comp:?}: {e:#?}");
        assert!(!e.message.contains("gzip") && !e.message.contains("zstd"), "{comp:?}: {e:#?}");
        assert_layer0_kept(&report);
        assert_eq!(found(&report, KEY2, "first/.env").len(), 1, "the entry before the bad header is kept");
    }
}

/// Regression (issue 7): when no manifest could be read, the reasons were dropped and the error
/// said only that index.json lists none (`image::Opener::open_oci`).
#[test]
fn index_or_manifest_not_json_and_missing_blobs() {
    let layer1 = env_layer("b/.env", KEY2);
    // index.json that is not JSON: the whole image is unreadable, and says so.
    let dir = tempfile::tempdir().unwrap();
    two_layer_oci(dir.path(), layer1.clone(), Comp::Gzip, |b| b);
    std::fs::write(dir.path().join("index.json"), b"{ not json").unwrap();
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), None, "OCI layout");
    assert!(e.incomplete && e.message.contains("index.json"), "{e:#?}");
    assert!(report.findings.is_empty());

    // A manifest that is not JSON.
    let dir = tempfile::tempdir().unwrap();
    two_layer_oci(dir.path(), layer1.clone(), Comp::Gzip, |b| b);
    let index: Value = serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0]["digest"].as_str().unwrap();
    std::fs::write(dir.path().join("blobs/sha256").join(&manifest[7..]), b"\x00\x01 garbage").unwrap();
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), None, "not JSON");
    assert!(e.incomplete && e.message.contains(manifest), "names the manifest: {e:#?}");

    // A layer blob that is missing: reported at its layer, the other layer still scanned.
    let dir = tempfile::tempdir().unwrap();
    two_layer_oci(dir.path(), layer1.clone(), Comp::Gzip, |b| b);
    let digest = sha256(&compress(&layer1, Comp::Gzip));
    std::fs::remove_file(dir.path().join("blobs/sha256").join(&digest[7..])).unwrap();
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), Some(1), "blob missing from the image");
    assert_eq!(e.layer_digest.as_deref(), Some(digest.as_str()));
    assert!(e.incomplete);
    assert_layer0_kept(&report);
}

#[test]
fn digest_mismatch_is_reported_and_the_layer_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let other = compress(&env_layer("swapped/.env", KEY2), Comp::Gzip);
    two_layer_oci(dir.path(), env_layer("b/.env", KEY2), Comp::Gzip, |_| other);
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), Some(1), "blob digest mismatch");
    assert!(!e.incomplete, "the layer was read in full: {e:#?}");
    assert_layer0_kept(&report);
    assert_eq!(found(&report, KEY2, "swapped/.env"), vec![(Some(1), Some(Status::Present))]);
}

/// The blob's digest is taken as the decompressor reads it. A walk that stops early (the
/// per-layer cap) still hashes the rest of the blob: no false mismatch when the blob is right,
/// and a blob that is not the one the manifest names is still caught.
#[test]
fn blob_digest_covers_the_whole_blob_when_the_walk_stops_early() {
    for comp in [Comp::Gzip, Comp::Zstd] {
        let tar = LayerBuilder::new().file("data/big.log", &big_text()).file("data/after", b"x").finish();
        let other = LayerBuilder::new().file("data/big.log", &big_text()).file("data/other", b"y").finish();
        for swapped in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let stored = compress(&other, comp);
            two_layer_oci(dir.path(), tar.clone(), comp, |b| if swapped { stored } else { b });
            let report = scan_capped(dir.path(), Some(64 << 10));
            let capped = error_at(&report, dir.path(), Some(1), "cap");
            assert!(capped.incomplete, "{comp:?}: {capped:#?}");
            let mismatch = report.errors.iter().filter(|e| e.message.contains("blob digest mismatch")).count();
            assert_eq!(mismatch, usize::from(swapped), "{comp:?}, swapped {swapped}: {:#?}", report.errors);
            assert_eq!(found(&report, KEY2, "data/big.log").len(), 1, "{comp:?}: what came before the cap is kept");
        }
    }
}

/// A layer blob that inflates to a tar holding one file of `size` zero bytes, as a run of
/// compressed members (gzip) or frames (zstd) of 1 MiB each: built in a few KiB of memory.
fn bomb(comp: Comp, size: u64) -> Vec<u8> {
    bomb_entry(comp, tar::EntryType::Regular, "bomb.bin", size)
}

/// The same, with an entry of any type (a PAX record, say) at `path`.
fn bomb_entry(comp: Comp, kind: tar::EntryType, path: &str, size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    header.set_cksum();
    let zeros = vec![0u8; MIB as usize];
    let member = |bytes: &[u8]| match comp {
        Comp::Gzip => {
            let mut e = GzEncoder::new(Vec::new(), GzLevel::best());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(bytes, 19).unwrap(),
        Comp::None => bytes.to_vec(),
    };
    let mut out = member(header.as_bytes());
    let chunk = member(&zeros);
    for _ in 0..size / MIB {
        out.extend_from_slice(&chunk);
    }
    out
}

/// Regression (issue 7): a cap reached inside the tar reader was reported as a cap of
/// `u64::MAX` bytes (`layer::Walker::walk_tar`, `entries`).
#[test]
fn gzip_and_zstd_bombs_stop_at_the_layer_cap_and_say_so() {
    let cap = 64 * MIB;
    for (comp, name) in [(Comp::Gzip, "gzip"), (Comp::Zstd, "zstd")] {
        let blob = bomb(comp, 512 * MIB);
        assert!(blob.len() < 2 << 20, "{name}: the bomb is tiny ({} bytes)", blob.len());
        let dir = tempfile::tempdir().unwrap();
        // The synthetic layer's tar is a stand-in; the blob is replaced by the bomb.
        two_layer_oci(dir.path(), LayerBuilder::new().file("x", b"x").finish(), comp, |_| blob);
        let report = scan_capped(dir.path(), Some(cap));
        let e = error_at(&report, dir.path(), Some(1), &format!("per-layer cap of {cap} bytes"));
        assert!(e.incomplete, "{name}: {e:#?}");
        assert_eq!(e.path.as_deref(), Some("bomb.bin"), "{name}");
        let layer = &report.images[0].layers[1];
        assert!(layer.uncompressed_size <= cap, "{name}: read {} bytes", layer.uncompressed_size);
        assert_layer0_kept(&report);
    }
}

/// Regression (issue 7): each tiny file zero-filled a 256 KiB read buffer; 200k entries took
/// minutes (`scan.rs` `Scratch::scan_content`).
#[test]
fn a_layer_of_200k_entries_is_read_to_the_end() {
    const N: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.tar.gz");
    // Streamed to disk: the tar is ~100 MiB unpacked, a few MiB packed.
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut builder = tar::Builder::new(GzEncoder::new(file, GzLevel::fast()));
    for i in 0..N {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut h, format!("d{}/f{i}", i % 100), &[][..]).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    let last = format!("aws_access_key_id = {KEY}\n");
    h.set_size(last.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut h, "last/.env", last.as_bytes()).unwrap();
    builder.into_inner().unwrap().finish().unwrap().flush().unwrap();
    let report = scan(&path);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.images[0].layers[0].files, N as u64 + 1);
    assert_eq!(found(&report, KEY, "last/.env"), vec![(Some(0), Some(Status::Present))]);
}

#[test]
fn odd_entry_names_are_normalised_and_kept() {
    let long = format!("deep/{}/.env", "a".repeat(64 << 10));
    let line = format!("aws_access_key_id = {KEY}\n");
    let tar = LayerBuilder::new()
        .file_raw_name(b"../../escape/.env", line.as_bytes())
        .file_raw_name(b"/abs/.env", line.as_bytes())
        .pax_file(long.as_bytes(), line.as_bytes())
        .file_bytes(b"caf\xe9/\xff.env", line.as_bytes())
        .file("dup/.env", format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .file("dup/.env", line.as_bytes())
        .finish();
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[SynthImage::new(vec![SynthLayer::new(tar, Comp::Gzip, "COPY odd")])], false, false)
        .write_dir(dir.path());
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let present = vec![(Some(0), Some(Status::Present))];
    assert_eq!(found(&report, KEY, "escape/.env"), present, "`..` never climbs out of the root");
    assert_eq!(found(&report, KEY, "abs/.env"), present, "absolute paths become relative");
    assert_eq!(found(&report, KEY, &long), present, "a 64 KiB PAX name is read in full");
    assert_eq!(found(&report, KEY, "caf\u{fffd}/\u{fffd}.env"), present, "non-UTF-8 names are shown lossily");
    assert_eq!(found(&report, KEY, "dup/.env"), present, "the later duplicate wins");
    assert_eq!(found(&report, KEY2, "dup/.env"), vec![(Some(0), Some(Status::Overwritten))]);
}

#[test]
fn outer_archive_symlinks_loop_or_leave_the_archive_are_errors_never_followed() {
    let image = SynthImage::new(vec![
        SynthLayer::new(env_layer("app/.env", KEY), Comp::None, "COPY .env"),
        SynthLayer::new(env_layer("b/.env", KEY2), Comp::None, "RUN b"),
        SynthLayer::new(env_layer("c/.env", KEY2), Comp::None, "RUN c"),
    ]);
    let mut layout = Layout::docker_classic(&image);
    layout.files.retain(|(name, _)| name != "01/layer.tar" && name != "02/layer.tar");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    layout.write_tar_with_links(
        &path,
        &[
            ("01/layer.tar", "../03/layer.tar"),
            ("03/layer.tar", "../01/layer.tar"),
            ("02/layer.tar", "../../etc/passwd"),
        ],
    );
    let report = scan(&path);
    let e = error_at(&report, &path, Some(1), "too many levels of links");
    assert!(e.incomplete && e.message.contains("blob missing from the image"), "{e:#?}");
    let e = error_at(&report, &path, Some(2), "outside the archive");
    assert!(e.incomplete && !e.message.contains("root:"), "{e:#?}");
    assert_layer0_kept(&report);
    assert!(found(&report, KEY2, "b/.env").is_empty() && found(&report, KEY2, "c/.env").is_empty());

    // The same as a directory: a link out of the image directory is refused too.
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        layout.write_dir(dir.path());
        std::fs::create_dir_all(dir.path().join("01")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("01/layer.tar")).unwrap();
        let report = scan(dir.path());
        let e = error_at(&report, dir.path(), Some(1), "links outside the image directory");
        assert!(e.incomplete && !e.message.contains("root:"), "{e:#?}");
        assert_layer0_kept(&report);
    }
}

/// Regression (issue 7): a dangling hard link passed in silence (`layer::Walker::entries`).
#[test]
fn hardlink_to_a_missing_target_is_reported_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let tar = LayerBuilder::new().hardlink("etc/link", "nowhere/at/all").file("b/.env", b"x").finish();
    two_layer_oci(dir.path(), tar, Comp::Gzip, |b| b);
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), Some(1), "hard link to /nowhere/at/all");
    assert_eq!(e.path.as_deref(), Some("etc/link"));
    assert!(!e.incomplete, "nothing was left unread: {e:#?}");
    assert_layer0_kept(&report);
}

/// Regression (issue 7): the holes of a sparse file were not counted against any cap, so a
/// tiny entry could declare terabytes of zeros to scan (`layer::Walker::entries`).
#[test]
fn sparse_files_are_read_and_their_holes_count_against_the_cap() {
    // A small sparse file reads as its zeros; a 4 GiB one of pure hole stops at the cap with an
    // error at its path, and the entries after it are still read (issue 7).
    let cap = 64 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let tar = LayerBuilder::new()
        .sparse_hole("small.bin", MIB)
        .sparse_hole("huge.bin", 4 << 30)
        .file("after/.env", format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .finish();
    two_layer_oci(dir.path(), tar, Comp::Gzip, |b| b);
    let report = scan_capped(dir.path(), Some(cap));
    let e = error_at(&report, dir.path(), Some(1), &format!("per-layer cap of {cap} bytes"));
    assert_eq!(e.path.as_deref(), Some("huge.bin"));
    assert!(e.incomplete);
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    assert_eq!(found(&report, KEY2, "after/.env"), vec![(Some(1), Some(Status::Present))]);
    assert_layer0_kept(&report);
}

/// Regression (issue 7): a plain layer tarball cut short was rejected whole as an unreadable
/// archive (`image::Opener::open_file`), and an uncompressed layer cut inside an entry's data
/// ended as if complete (`layer::Walker::entries`).
#[test]
fn declared_size_larger_than_the_data_is_a_truncated_tar() {
    let content = big_text();
    let tar = LayerBuilder::new().file("data/big.log", &content).finish();
    let cut = &tar[..512 + content.len() / 2];
    for comp in [Comp::None, Comp::Gzip] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, compress(cut, comp)).unwrap();
        let report = scan(&path);
        let needle = if comp == Comp::None { "declares 262" } else { "corrupt or truncated" };
        let e = error_at(&report, &path, Some(0), needle);
        assert!(e.incomplete, "{comp:?}: {e:#?}");
        assert_eq!(e.path.as_deref(), Some("data/big.log"), "{comp:?}");
        assert_eq!(found(&report, KEY2, "data/big.log").len(), 1, "{comp:?}: what was there is scanned");
    }
}

#[test]
fn whiteout_for_a_path_that_never_existed_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let tar = LayerBuilder::new().whiteout("never/existed").opaque("nor/this").finish();
    two_layer_oci(dir.path(), tar, Comp::Gzip, |b| b);
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_layer0_kept(&report);
}

#[test]
fn config_with_more_or_fewer_diff_ids_than_layers() {
    for (extra, listed) in [(true, 3), (false, 1)] {
        let image = SynthImage::new(vec![
            SynthLayer::new(env_layer("app/.env", KEY), Comp::Gzip, "COPY .env"),
            SynthLayer::new(env_layer("b/.env", KEY2), Comp::Gzip, "RUN b"),
        ]);
        let mut layout = Layout::docker_classic(&image);
        for (name, bytes) in &mut layout.files {
            if name.ends_with(".json") && name != "manifest.json" {
                let mut config: Value = serde_json::from_slice(bytes).unwrap();
                let ids = config["rootfs"]["diff_ids"].as_array_mut().unwrap();
                if extra {
                    ids.push(json!(sha256(b"no such layer")));
                } else {
                    ids.pop();
                }
                *bytes = serde_json::to_vec(&config).unwrap();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        layout.write_tar(&path);
        let report = scan(&path);
        let needle = format!("the config lists {listed} diff_ids for 2 layers");
        let e = error_at(&report, &path, Some(listed.min(2)), &needle);
        assert!(!e.incomplete, "{e:#?}");
        assert_layer0_kept(&report);
        assert_eq!(found(&report, KEY2, "b/.env"), vec![(Some(1), Some(Status::Present))]);
    }
}

#[test]
fn nested_indexes_that_point_at_each_other_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let image = SynthImage::new(vec![SynthLayer::new(env_layer("app/.env", KEY), Comp::Gzip, "COPY .env")]);
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let top: Value = serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let real = top["manifests"][0].clone();
    let (a, b) = (format!("sha256:{}", "a".repeat(64)), format!("sha256:{}", "b".repeat(64)));
    let index_desc = |d: &str| json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": 1});
    let write = |d: &str, v: Value| {
        std::fs::write(dir.path().join("blobs/sha256").join(&d[7..]), serde_json::to_vec(&v).unwrap()).unwrap()
    };
    // a → b, a itself; b → a, the real image.
    write(&a, json!({"schemaVersion": 2, "manifests": [index_desc(&b), index_desc(&a)]}));
    write(&b, json!({"schemaVersion": 2, "manifests": [index_desc(&a), real]}));
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [index_desc(&a)]})).unwrap(),
    )
    .unwrap();
    let source = ImageSource::open(dir.path()).unwrap();
    assert_eq!(source.images().len(), 1);
    let report = scan(dir.path());
    assert_layer0_kept(&report);
}

/// Issue 7 (was a known gap): a plain layer tarball cut exactly between two entries has no
/// end-of-archive block and read as complete. Now the cut is reported (with no path: no entry
/// was being read) and the entries before it are kept. A whole tar, and an empty layer, are not
/// reported.
#[test]
fn a_plain_layer_cut_between_two_entries_is_incomplete() {
    let first = format!("aws_access_key_id = {KEY}\n");
    let tar = LayerBuilder::new().file("a/.env", first.as_bytes()).file("b/.env", b"PLAIN=1\n").finish();
    // Header and one data block for the first file: the second entry starts at 1024.
    let cut = tar[..1024].to_vec();
    for (name, bytes, cut_short) in [("cut.tar", cut, true), ("whole.tar", tar.clone(), false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let report = scan(&path);
        if cut_short {
            let e = error_at(&report, &path, Some(0), "end-of-archive marker");
            assert!(e.incomplete, "{e:#?}");
            assert_eq!(e.path, None);
        } else {
            assert!(report.errors.is_empty(), "{name}: {:#?}", report.errors);
        }
        assert_eq!(found(&report, KEY, "a/.env"), vec![(Some(0), Some(Status::Present))], "{name}");
    }
    // An empty plain layer (only the end-of-archive blocks) inside an image is not reported.
    let dir = tempfile::tempdir().unwrap();
    let image = SynthImage::new(vec![
        SynthLayer::new(tar, Comp::None, "COPY . /"),
        SynthLayer::new(LayerBuilder::new().finish(), Comp::None, "RUN true"),
    ]);
    let path = dir.path().join("image.tar");
    Layout::docker_classic(&image).write_tar(&path);
    let report = scan(&path);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(found(&report, KEY, "a/.env"), vec![(Some(0), Some(Status::Present))]);
}

/// A PAX extension record is read whole into memory before the entry it describes. A gzip layer
/// whose first record declares 256 MiB (under 1 MiB compressed) is stopped at the record,
/// with a clear error, instead of being held in memory; the other layer is kept.
#[test]
fn an_oversized_pax_record_is_refused_not_held_in_memory() {
    let blob = bomb_entry(Comp::Gzip, tar::EntryType::XHeader, "PaxHeaders/x", 256 * MIB);
    assert!(blob.len() < 1 << 20, "the record is tiny compressed ({} bytes)", blob.len());
    let dir = tempfile::tempdir().unwrap();
    two_layer_oci(dir.path(), LayerBuilder::new().file("x", b"x").finish(), Comp::Gzip, |_| blob);
    let report = scan(dir.path());
    let e = error_at(&report, dir.path(), Some(1), "PAX or GNU long-name record of 268435456 bytes");
    assert!(e.incomplete, "{e:#?}");
    assert_layer0_kept(&report);
}

/// One PAX record, `key=value` with its length in front, as tar writes it.
fn pax_record(key_value: &str) -> String {
    let body = format!(" {key_value}\n");
    let mut len = body.len() + 1;
    while (len.to_string().len() + body.len()) != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// Raw tar blocks (no end-of-archive): a ustar PAX header with `records`, then a ustar entry at
/// `path` whose header says 0 bytes, then `data` padded to a block.
fn pax_then_entry(records: &[String], path: &str, data: &[u8]) -> Vec<u8> {
    let body = records.concat();
    let mut x = tar::Header::new_ustar();
    x.set_path("PaxHeaders/y").unwrap();
    x.set_size(body.len() as u64);
    x.set_entry_type(tar::EntryType::XHeader);
    x.set_cksum();
    let mut h = tar::Header::new_ustar();
    h.set_path(path).unwrap();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_cksum();
    let mut raw = x.as_bytes().to_vec();
    raw.extend_from_slice(body.as_bytes());
    raw.resize(raw.len().div_ceil(512) * 512, 0);
    raw.extend_from_slice(h.as_bytes());
    raw.extend_from_slice(data);
    raw.resize(raw.len().div_ceil(512) * 512, 0);
    raw
}

/// One block that is `aws_access_key_id = KEY` as text and, read as a tar header, a valid PAX
/// header declaring a record of 8 GiB.
fn x_shaped_block(key: &str) -> Vec<u8> {
    let mut block = tar::Header::new_old();
    let bytes = block.as_mut_bytes();
    let text = format!("aws_access_key_id = {key}\n");
    bytes[..text.len()].copy_from_slice(text.as_bytes());
    bytes[124..136].copy_from_slice(b"77777777777\0");
    bytes[156] = b'x';
    block.set_cksum();
    block.as_bytes().to_vec()
}

/// The guard reads a PAX record's `size` as the tar reader does: the first `size` record, and
/// none when a record before it is malformed. Read another way, it takes file data for a header
/// (and refuses a sound layer) or a header for file data (and misses a record of 8 GiB).
#[test]
fn the_record_guard_reads_pax_sizes_as_the_tar_reader_does() {
    for comp in [Comp::Gzip, Comp::Zstd] {
        // Two `size` records: the first counts, so the 8 GiB-shaped block is the file's data.
        let two = pax_then_entry(&[pax_record("size=512"), pax_record("size=0")], "srv/two.env", &x_shaped_block(KEY));
        let tar = LayerBuilder::new().file("first", b"x").finish();
        let end = tar.len() - 1024;
        let mut layer = tar.clone();
        layer.splice(end..end, two);
        let dir = tempfile::tempdir().unwrap();
        two_layer_oci(dir.path(), layer, comp, |b| b);
        let report = scan(dir.path());
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        assert_eq!(found(&report, KEY, "srv/two.env"), vec![(Some(1), Some(Status::Present))], "{comp:?}");

        // A malformed record (its length is wrong) before `size`: the tar reader takes no size
        // from the record, so the entry has no data and the block after it is a PAX header of
        // 8 GiB, which must be refused.
        let bad = pax_then_entry(&["5 a=b\n".to_string(), pax_record("size=512")], "srv/bad.env", &x_shaped_block(KEY));
        let mut layer = tar.clone();
        layer.splice(end..end, bad);
        let dir = tempfile::tempdir().unwrap();
        two_layer_oci(dir.path(), layer, comp, |b| b);
        let report = scan(dir.path());
        let e = error_at(&report, dir.path(), Some(1), "PAX or GNU long-name record of 8589934591 bytes");
        assert!(e.incomplete, "{comp:?}: {e:#?}");
    }
}

/// What the record guard must not refuse: PAX long names, a PAX `size` that overrides the
/// header's, GNU long names and a GNU sparse file, in compressed layers (the guard follows the
/// headers of streamed layers).
#[test]
fn pax_gnu_long_names_and_sparse_files_pass_the_record_guard() {
    let long = format!("deep/{}/.env", "d".repeat(180));
    let mut tar = LayerBuilder::new()
        .pax_file(b"opt/app/pax-named/.env", format!("aws_access_key_id = {KEY}\n").as_bytes())
        .file(&long, format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .sparse_hole("var/sparse.img", 1 << 20)
        .finish();
    // A PAX record whose `size` overrides a header that says 0, then the entry's data: one block
    // shaped like a PAX header of 8 GiB, which a guard that missed the override would refuse.
    let raw = pax_then_entry(&[pax_record("size=512")], "srv/sized.env", &x_shaped_block(KEY));
    // Splice before the end-of-archive blocks of the built layer.
    let end = tar.len() - 1024;
    tar.splice(end..end, raw);
    for comp in [Comp::Gzip, Comp::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        two_layer_oci(dir.path(), tar.clone(), comp, |b| b);
        let report = scan(dir.path());
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        assert_eq!(found(&report, KEY, "opt/app/pax-named/.env"), vec![(Some(1), Some(Status::Present))]);
        assert_eq!(found(&report, KEY2, &long), vec![(Some(1), Some(Status::Present))]);
        assert_eq!(found(&report, KEY, "srv/sized.env"), vec![(Some(1), Some(Status::Present))]);
    }
}

/// Issue 14 (every byte of the image): data a runtime never shows — the content of a whiteout
/// entry, bytes after the tar's end-of-archive blocks — is scanned like file content and is a
/// `hidden-data` finding of its own, with where it is and how many bytes, in plain, gzip and
/// zstd layers alike. The zero padding tar writers add is not hidden data.
/// Every hidden-data location of `report`, with its finding's rule id.
fn hidden_locations(report: &Report) -> Vec<(&str, &layerdig::Location)> {
    report
        .findings
        .iter()
        .flat_map(|f| f.locations.iter().map(move |l| (f.rule_id.as_str(), l)))
        .filter(|(_, l)| l.source == layerdig::Source::Hidden)
        .collect()
}

#[test]
fn whiteout_content_and_trailing_data_are_hidden_data() {
    use layerdig::layer::{EntryRole, Structure};
    for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = LayerBuilder::new()
            .file("app/.wh.env", format!("aws_access_key_id = {KEY2}\n").as_bytes())
            .file("app/readme.txt", b"nothing here\n")
            .finish();
        // Padding to a record, as tar writers do, then something else.
        tar.resize(tar.len().div_ceil(10_240) * 10_240, 0);
        let padded = tar.len() as u64;
        tar.extend_from_slice(format!("\nAWS_ACCESS_KEY_ID={KEY}\n").as_bytes());
        let trailing_len = tar.len() as u64 - padded;
        let image = SynthImage::new(vec![
            SynthLayer::new(LayerBuilder::new().file("app/main.py", b"print(1)\n").finish(), Comp::Gzip, "COPY app"),
            SynthLayer::new(tar, comp, "RUN build"),
        ]);
        Layout::oci(&[image], false, false).write_dir(dir.path());
        let report = scan(dir.path());
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        let hidden = hidden_locations(&report);
        // The key in the whiteout entry's data, at its line, and the entry's data itself.
        let in_whiteout = |rule: &str| {
            hidden.iter().find(|(r, l)| *r == rule && l.path.as_deref() == Some("app/.wh.env")).map(|(_, l)| *l)
        };
        let key = in_whiteout("aws.access-key-id").unwrap_or_else(|| panic!("{comp:?}: {hidden:#?}"));
        assert_eq!((key.layer_index, key.line, key.column, key.status), (Some(1), Some(1), Some(21), None));
        assert!(
            matches!(key.structure, Some(Structure::EntryData { entry: EntryRole::Whiteout, bytes: 41, .. })),
            "{comp:?}: {key:#?}"
        );
        assert!(in_whiteout("hidden-data").is_some(), "{comp:?}: {hidden:#?}");
        // The key after the tar's end, and the trailing data itself: at its block, with its size.
        let trailing: Vec<&(&str, &layerdig::Location)> =
            hidden.iter().filter(|(_, l)| matches!(l.structure, Some(Structure::TrailingData { .. }))).collect();
        let rules: Vec<&str> = trailing.iter().map(|(r, _)| *r).collect();
        assert!(rules.contains(&"aws.access-key-id") && rules.contains(&"hidden-data"), "{comp:?}: {rules:?}");
        for (_, l) in &trailing {
            assert_eq!(l.structure, Some(Structure::TrailingData { offset: padded, bytes: trailing_len }), "{comp:?}");
            assert_eq!((l.path.as_deref(), l.layer_index), (None, Some(1)));
        }
        let data = report.findings.iter().filter(|f| f.rule_id == "hidden-data").count();
        assert_eq!(data, 2, "{comp:?}");
    }
    // The committed fixtures, real images built with podman, skopeo and umoci, hide nothing.
    for form in ["demo.docker.tar", "demo.oci.tar", "demo.zstd.oci", "demo.umoci.oci"] {
        let report = scan(&layerdig_tests::fixtures().join(form));
        assert!(report.errors.is_empty() && report.findings.len() >= 8, "{form}: {:#?}", report.errors);
        assert!(report.findings.iter().all(|f| f.rule_id != "hidden-data"), "{form}: {:#?}", report.findings);
    }
}

/// Issue 14: a gzip layer's optional header fields (RFC 1952) travel with the blob and no
/// decompressor shows them: the comment and the extra field are hidden data, searched; a plain
/// file name is not.
#[test]
fn gzip_header_fields_are_hidden_data() {
    use layerdig::GzipField;
    use layerdig::layer::Structure;
    let tar = LayerBuilder::new().file("app/main.py", b"print(1)\n").finish();
    let comment = format!("built with AWS_ACCESS_KEY_ID={KEY}");
    let mut encoder = flate2::GzBuilder::new()
        .filename("layer.tar")
        .comment(comment.as_bytes())
        .extra(b"LD\x04\x00ab\x00c".to_vec())
        .write(Vec::new(), GzLevel::fast());
    encoder.write_all(&tar).unwrap();
    let blob = encoder.finish().unwrap();
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
        "history": [{"created_by": "COPY app /app"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&blob), "size": blob.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&manifest), "size": manifest.len()}]});
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for bytes in [&blob, &config, &manifest] {
        std::fs::write(blobs.join(&sha256(bytes)[7..]), bytes).unwrap();
    }
    std::fs::write(dir.path().join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let hidden = hidden_locations(&report);
    let field_of = |l: &layerdig::Location| match l.structure {
        Some(Structure::GzipHeader { field, .. }) => Some(field),
        _ => None,
    };
    // The key in the comment, at the comment's place in the blob, and the comment itself.
    let key = hidden.iter().find(|(r, _)| *r == "aws.access-key-id").unwrap_or_else(|| panic!("{hidden:#?}"));
    assert_eq!(field_of(key.1), Some(GzipField::Comment));
    let comment_at = blob.windows(5).position(|w| w == b"built").unwrap() as u64;
    assert!(
        matches!(key.1.structure, Some(Structure::GzipHeader { offset, bytes, .. })
            if offset == comment_at && bytes == comment.len() as u64),
        "{key:#?}"
    );
    let data: Vec<Option<GzipField>> =
        hidden.iter().filter(|(r, _)| *r == "hidden-data").map(|(_, l)| field_of(l)).collect();
    assert_eq!(data.len(), 2, "the comment and the extra field, not the name: {hidden:#?}");
    assert!(data.contains(&Some(GzipField::Comment)) && data.contains(&Some(GzipField::Extra)));
}

/// A whiteout of no name, of `.` or of `..` (`.wh.`, `.wh..`, `.wh...`) names no entry of its
/// directory: it deletes nothing, and no path it yields is `app/.` (found by fuzzing the layer
/// walker).
#[test]
fn a_whiteout_of_dot_or_dot_dot_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let image = SynthImage::new(vec![
        SynthLayer::new(env_layer("app/.env", KEY), Comp::Gzip, "COPY .env"),
        SynthLayer::new(
            LayerBuilder::new().file("app/.wh..", b"").file("app/.wh...", b"").file("app/.wh.", b"").finish(),
            Comp::Gzip,
            "RUN odd",
        ),
    ]);
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_layer0_kept(&report);
    assert_eq!(report.images[0].layers[1].deleted, 0);
}
