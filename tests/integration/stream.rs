//! Archives read as a stream (`docker save app:1 | layerdig scan -`): the same findings as the
//! file, whatever order the archive has its blobs in, for the classic and Docker ≥ 25 layouts
//! and oci-archives; a stream that breaks off keeps what was read and says the scan is
//! incomplete; a large archive generated on the fly is scanned without holding it.

use std::io::Read;

use layerdig::{Collect, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, fixtures, github_token, seen};

fn scan_file(path: &std::path::Path) -> Report {
    let scanner = Scanner::new(&Rules::builtin());
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn scan_stream(reader: &mut dyn Read) -> Report {
    let scanner = Scanner::new(&Rules::builtin());
    let mut sink = Collect::new();
    let stats = scanner.scan_reader("-", reader, &mut sink).unwrap();
    sink.into_report(stats)
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn every_committed_archive_streamed_gives_the_findings_of_its_file() {
    for name in ["demo.docker.tar", "demo.oci.tar", "archives.docker.tar"] {
        let path = fixtures().join(name);
        let file = scan_file(&path);
        let stream = scan_stream(&mut std::fs::File::open(&path).unwrap());
        assert!(stream.errors.is_empty(), "{name}: {:?}", stream.errors);
        assert!(!seen(&file).is_empty(), "{name} has findings");
        assert_eq!(seen(&stream), seen(&file), "{name}");
        assert_eq!(stream.stats.layers, file.stats.layers, "{name}");
        assert!(!stream.stats.incomplete, "{name}");
    }
}

/// Three layers, gzip, zstd and plain: a token written, deleted, and one kept.
fn image() -> SynthImage {
    let token = github_token();
    let base = LayerBuilder::new().file("app/.env", format!("GITHUB_TOKEN={token}\n").as_bytes()).finish();
    let middle = LayerBuilder::new().whiteout("app/.env").file("etc/motd", b"hello").finish();
    let top = LayerBuilder::new().file("srv/keep.conf", format!("token = {token}\n").as_bytes()).finish();
    SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "COPY app /app"),
        SynthLayer::new(middle, Comp::Zstd, "RUN rm /app/.env"),
        SynthLayer::new(top, Comp::None, "COPY srv /srv"),
    ])
}

#[test]
fn classic_docker25_and_oci_archives_in_any_order_stream_like_files() {
    let dir = tempfile::tempdir().unwrap();
    let image = image();
    let layouts = [
        ("classic", Layout::docker_classic(&image)),
        ("docker25", Layout::docker25(&image)),
        ("oci", Layout::oci(std::slice::from_ref(&image), false, false)),
    ];
    for (name, layout) in layouts {
        let path = dir.path().join(format!("{name}.tar"));
        layout.write_tar(&path);
        let file = scan_file(&path);
        assert_eq!(seen(&file).len(), 2, "{name}: the deleted and the kept token");
        // As written (documents last), and reversed (manifests and configs before the layers,
        // the layers top first).
        let mut reversed = layout.files.clone();
        reversed.reverse();
        for (order, files) in [("as written", layout.files.clone()), ("reversed", reversed)] {
            let bytes = tar_of(&files);
            let stream = scan_stream(&mut &bytes[..]);
            assert!(stream.errors.is_empty(), "{name} {order}: {:?}", stream.errors);
            assert_eq!(seen(&stream), seen(&file), "{name} {order}");
        }
    }
}

#[test]
fn a_layer_blob_no_manifest_names_is_searched_in_a_stream_as_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let token = github_token();
    let smuggled = LayerBuilder::new().file("etc/smuggled.env", format!("GITHUB_TOKEN={token}\n").as_bytes()).finish();
    let mut layout = Layout::oci(std::slice::from_ref(&image()), false, false);
    let blob = layerdig_tests::compress(&smuggled, Comp::Gzip);
    layout.files.insert(0, (format!("blobs/sha256/{}", &layerdig_tests::sha256(&blob)[7..]), blob));
    let path = dir.path().join("smuggled.tar");
    layout.write_tar(&path);
    let file = scan_file(&path);
    let stream = scan_stream(&mut &tar_of(&layout.files)[..]);
    let smuggled = |r: &Report| {
        seen(r).into_iter().filter(|s| s.2.as_deref().is_some_and(|p| p.ends_with("!etc/smuggled.env"))).count()
    };
    assert_eq!(smuggled(&file), 1);
    assert_eq!(smuggled(&stream), 1);
    assert_eq!(seen(&stream), seen(&file));
}

#[test]
fn a_stream_that_breaks_off_keeps_what_was_read_and_is_incomplete() {
    let image = image();
    let layout = Layout::docker_classic(&image);
    let bytes = tar_of(&layout.files);
    // Cut inside the last layer (the manifest after it is lost too).
    let cut = &bytes[..bytes.len() * 2 / 3];
    let report = scan_stream(&mut &cut[..]);
    assert!(report.stats.incomplete);
    assert!(!report.errors.is_empty());
    assert!(report.errors.iter().any(|e| e.message.contains("manifest.json") || e.message.contains("broke off")));
    // Not a tar at all: a clear error, no panic.
    let report = scan_stream(&mut &b"this is not an archive"[..]);
    assert!(report.stats.incomplete && !report.errors.is_empty());
}

#[test]
fn a_tampered_layer_in_a_stream_is_a_digest_mismatch() {
    let image = image();
    let mut layout = Layout::oci(std::slice::from_ref(&image), false, false);
    let original = image.layers[2].blob();
    let digest = layerdig_tests::sha256(&original);
    let tampered = LayerBuilder::new().file("srv/keep.conf", b"nothing here\n").finish();
    layout.replace_blob(&digest, tampered);
    let report = scan_stream(&mut &tar_of(&layout.files)[..]);
    assert!(
        report.errors.iter().any(|e| e.message.contains("digest mismatch") && e.layer_index == Some(2)),
        "{:?}",
        report.errors
    );
}

/// A docker save archive produced on the fly: one layer of `size` bytes of filler with a token
/// at its end, never held in memory whole.
struct Generated {
    parts: Vec<Box<dyn Read>>,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(first) = self.parts.first_mut() {
            let n = first.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.parts.remove(0);
        }
        Ok(0)
    }
}

fn header(name: &str, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn padding(size: u64) -> Vec<u8> {
    vec![0; ((512 - size % 512) % 512) as usize]
}

#[test]
fn a_large_generated_archive_is_scanned_as_it_arrives() {
    let token = github_token();
    let filler = 64u64 << 20;
    let tail = format!("\nGITHUB_TOKEN={token}\n").into_bytes();
    let content = filler + tail.len() as u64;
    // The layer: one file of filler then the token, then the tar's end.
    let layer_len = 512 + content + padding(content).len() as u64 + 1024;
    let layer = || -> Vec<Box<dyn Read>> {
        vec![
            Box::new(std::io::Cursor::new(header("data/big.log", content))),
            Box::new(std::io::repeat(b'a').take(filler)),
            Box::new(std::io::Cursor::new(tail.clone())),
            Box::new(std::io::Cursor::new([padding(content), vec![0; 1024]].concat())),
        ]
    };
    // The config needs the diff_id: hash the layer as generated.
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    std::io::copy(&mut Generated { parts: layer() }, &mut hasher).unwrap();
    let diff_id: [u8; 32] = sha2::Digest::finalize(hasher).into();
    let diff_id = format!("sha256:{}", diff_id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "COPY big.log /data/"}],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": "config.json", "RepoTags": ["big:1"], "Layers": ["l/layer.tar"]}]),
    )
    .unwrap();
    let mut parts: Vec<Box<dyn Read>> = vec![Box::new(std::io::Cursor::new(header("l/layer.tar", layer_len)))];
    parts.extend(layer());
    for (name, bytes) in [("config.json", config), ("manifest.json", manifest)] {
        let len = bytes.len() as u64;
        parts.push(Box::new(std::io::Cursor::new([header(name, len), bytes, padding(len)].concat())));
    }
    parts.push(Box::new(std::io::Cursor::new(vec![0u8; 1024])));
    let report = scan_stream(&mut Generated { parts });
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let found = seen(&report);
    assert!(found.iter().any(|f| f.2.as_deref() == Some("data/big.log") && f.4 == Some(0)), "{found:?}");
    assert!(report.stats.uncompressed_bytes > filler);
}
