//! The core reader on synthetic images built in code: whiteouts, opaque directories, re-added
//! files, hard links, every layout, compression detection, digest checks.

use std::collections::BTreeMap;

use layerdig::{FileRecord, ImageFormat, ImageSource, LayerErrorKind, OpenOptions, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, sha256};

/// `path@layer` → (status, removed_in_layer) for every file of the only image.
fn history(source: &ImageSource) -> BTreeMap<String, (Status, Option<usize>)> {
    assert_eq!(source.images().len(), 1);
    let layerdig::Listing { files, problems, .. } =
        layerdig::list(source, &source.images()[0], &layerdig::Rules::builtin(), false, Some(2));
    assert!(problems.is_empty(), "{problems:?}");
    files
        .into_iter()
        .map(|f: FileRecord| (format!("{}@{}", f.path, f.layer_index), (f.status, f.removed_in_layer)))
        .collect()
}

fn open_oci(image: SynthImage) -> (tempfile::TempDir, ImageSource) {
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let source = ImageSource::open(dir.path()).unwrap();
    (dir, source)
}

#[test]
fn whiteouts_opaque_dirs_and_readded_files() {
    let base = LayerBuilder::new()
        .dir("app")
        .file("app/.env", b"A=1")
        .file("app/keep.txt", b"keep")
        .dir("etc/conf.d")
        .file("etc/conf.d/a.conf", b"a")
        .file("etc/conf.d/b.conf", b"b")
        .dir("root/.ssh")
        .file("root/.ssh/id_rsa", b"key")
        .file("root/.ssh/known_hosts", b"hosts")
        .finish();
    let upper = LayerBuilder::new()
        .whiteout("app/.env") // delete one file
        .opaque("etc/conf.d") // hide the directory's lower contents
        .file("etc/conf.d/c.conf", b"c")
        .whiteout("root/.ssh") // delete a whole directory
        .finish();
    let readd = LayerBuilder::new().file("app/.env", b"A=2").file("app/keep.txt", b"changed").finish();
    let (_dir, source) = open_oci(SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "ADD base"),
        SynthLayer::new(upper, Comp::Zstd, "RUN rm"),
        SynthLayer::new(readd, Comp::None, "COPY again"),
    ]));
    let h = history(&source);
    assert_eq!(h["app/.env@0"], (Status::Deleted, Some(1)));
    assert_eq!(h["app/.env@2"], (Status::Present, None), "re-added file is a second file");
    assert_eq!(h["app/keep.txt@0"], (Status::Overwritten, Some(2)));
    assert_eq!(h["etc/conf.d/a.conf@0"], (Status::Deleted, Some(1)));
    assert_eq!(h["etc/conf.d/b.conf@0"], (Status::Deleted, Some(1)));
    assert_eq!(h["etc/conf.d/c.conf@1"], (Status::Present, None), "opaque hides lower layers only");
    assert_eq!(h["root/.ssh/id_rsa@0"], (Status::Deleted, Some(1)));
    assert_eq!(h["root/.ssh/known_hosts@0"], (Status::Deleted, Some(1)));
    // Whiteout markers are not files.
    assert!(!h.keys().any(|k| k.contains(".wh.")), "{h:?}");
}

#[test]
fn removed_by_tells_whiteout_from_opaque() {
    let base = LayerBuilder::new().file("d/x", b"x").file("e/y", b"y").file("f/z", b"z").finish();
    let upper = LayerBuilder::new().opaque("d").whiteout("e/y").file("f", b"now a file").finish();
    let (_dir, source) = open_oci(SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "a"),
        SynthLayer::new(upper, Comp::Gzip, "b"),
    ]));
    let layerdig::Listing { files, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    let by: BTreeMap<_, _> = files.iter().map(|f| (f.path.as_str(), f.removed_by)).collect();
    assert_eq!(by["d/x"], Some(layerdig::RemovedBy::OpaqueDir));
    assert_eq!(by["e/y"], Some(layerdig::RemovedBy::Whiteout));
    assert_eq!(by["f/z"], Some(layerdig::RemovedBy::ParentReplaced));
}

#[test]
fn hardlink_to_a_file_a_later_layer_deletes() {
    let base = LayerBuilder::new().file("data/secret.txt", b"s").hardlink("data/alias.txt", "data/secret.txt").finish();
    let upper = LayerBuilder::new().whiteout("data/secret.txt").finish();
    let (_dir, source) = open_oci(SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "a"),
        SynthLayer::new(upper, Comp::Gzip, "b"),
    ]));
    let h = history(&source);
    assert_eq!(h["data/secret.txt@0"], (Status::Deleted, Some(1)));
    assert_eq!(h["data/alias.txt@0"], (Status::Present, None), "the link keeps the content alive");
}

#[test]
fn duplicate_name_in_one_layer_is_overwritten_in_that_layer() {
    let base = LayerBuilder::new().file("a.txt", b"first").file("a.txt", b"second").finish();
    let (_dir, source) = open_oci(SynthImage::new(vec![SynthLayer::new(base, Comp::None, "a")]));
    let layerdig::Listing { files, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    let statuses: Vec<_> = files.iter().map(|f| (f.status, f.removed_in_layer)).collect();
    assert_eq!(statuses, vec![(Status::Overwritten, Some(0)), (Status::Present, None)]);
}

#[test]
fn every_layout_is_recognised() {
    let layer = LayerBuilder::new().file("etc/app.conf", b"x=1").finish();
    let image = SynthImage::new(vec![SynthLayer::new(layer.clone(), Comp::Gzip, "COPY app.conf")]);
    let dir = tempfile::tempdir().unwrap();
    type Writer<'a> = Box<dyn Fn(&std::path::Path) + 'a>;
    let cases: Vec<(&str, Writer, ImageFormat)> = vec![
        (
            "oci-dir",
            Box::new(|p| Layout::oci(std::slice::from_ref(&image), false, false).write_dir(p)),
            ImageFormat::OciLayout,
        ),
        (
            "oci.tar",
            Box::new(|p| Layout::oci(std::slice::from_ref(&image), false, false).write_tar(p)),
            ImageFormat::OciArchive,
        ),
        ("docker25.tar", Box::new(|p| Layout::docker25(&image).write_tar(p)), ImageFormat::DockerOciArchive),
        ("classic.tar", Box::new(|p| Layout::docker_classic(&image).write_tar(p)), ImageFormat::DockerArchive),
        ("classic-dir", Box::new(|p| Layout::docker_classic(&image).write_dir(p)), ImageFormat::DockerDirectory),
        ("layer.tar", Box::new(|p| std::fs::write(p, &layer).unwrap()), ImageFormat::LayerTar),
        (
            "layer.tar.gz",
            Box::new(|p| std::fs::write(p, layerdig_tests::compress(&layer, Comp::Gzip)).unwrap()),
            ImageFormat::LayerTar,
        ),
        (
            "layer.tar.zst",
            Box::new(|p| std::fs::write(p, layerdig_tests::compress(&layer, Comp::Zstd)).unwrap()),
            ImageFormat::LayerTar,
        ),
    ];
    for (name, write, format) in cases {
        let path = dir.path().join(name);
        write(&path);
        let source = ImageSource::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(source.format(), format, "{name}");
        assert!(source.problems().is_empty(), "{name}: {:?}", source.problems());
        let h = history(&source);
        assert_eq!(h.get("etc/app.conf@0"), Some(&(Status::Present, None)), "{name}: {h:?}");
        if format != ImageFormat::LayerTar {
            assert_eq!(source.images()[0].layers[0].created_by.as_deref(), Some("COPY app.conf"), "{name}");
        }
    }
    // A plain directory is a one-layer image of its files; symlinks are recorded, not followed.
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/.env"), "X=1").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", root.join("app/link")).unwrap();
    let source = ImageSource::open(&root).unwrap();
    assert_eq!(source.format(), ImageFormat::Directory);
    let h = history(&source);
    assert_eq!(h["app/.env@0"], (Status::Present, None));
}

#[test]
fn multi_platform_index_nested_with_attestation() {
    let amd = SynthImage::new(vec![SynthLayer::new(LayerBuilder::new().file("amd", b"1").finish(), Comp::Gzip, "a")]);
    let mut arm =
        SynthImage::new(vec![SynthLayer::new(LayerBuilder::new().file("arm", b"2").finish(), Comp::Gzip, "b")]);
    arm.platform = ("linux".into(), "arm64".into());
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[amd, arm], true, true).write_dir(dir.path());
    let source = ImageSource::open(dir.path()).unwrap();
    let platforms: Vec<String> = source.images().iter().map(|i| i.platform.as_ref().unwrap().to_string()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "attestation skipped, nested index followed");
    let only = ImageSource::open_with(
        dir.path(),
        &OpenOptions { platform: Some("linux/arm64".parse().unwrap()), ..OpenOptions::default() },
    )
    .unwrap();
    assert_eq!(only.images().len(), 1);
    assert_eq!(only.images()[0].platform.as_ref().unwrap().architecture, "arm64");
    let none = ImageSource::open_with(
        dir.path(),
        &OpenOptions { platform: Some("linux/s390x".parse().unwrap()), ..OpenOptions::default() },
    );
    assert!(none.unwrap_err().to_string().contains("no image for platform linux/s390x"));
}

#[test]
fn compression_comes_from_bytes_not_media_type() {
    let tar = LayerBuilder::new().file("x.txt", b"x").finish();
    let mut lying = SynthLayer::new(tar, Comp::Gzip, "a");
    lying.media_type = "application/vnd.oci.image.layer.v1.tar".into(); // says plain, is gzip
    let (_dir, source) = open_oci(SynthImage::new(vec![lying]));
    let h = history(&source);
    assert_eq!(h["x.txt@0"], (Status::Present, None));
}

#[test]
fn digest_mismatch_is_reported_and_scan_goes_on() {
    let good = LayerBuilder::new().file("ok.txt", b"fine").finish();
    let bad = LayerBuilder::new().file("tampered.txt", b"evil").finish();
    let mut image =
        SynthImage::new(vec![SynthLayer::new(good, Comp::Gzip, "a"), SynthLayer::new(bad, Comp::Gzip, "b")]);
    image.corrupt_diff_id = Some(1);
    let (_dir, source) = open_oci(image);
    let layerdig::Listing { files, problems, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    assert_eq!(files.len(), 2, "both layers still read");
    assert_eq!(problems.len(), 1, "{problems:?}");
    let msg = problems[0].to_string();
    assert!(msg.contains("layer 1") && msg.contains("diff_id digest mismatch"), "{msg}");
    match &problems[0] {
        layerdig::Error::Layer { kind: LayerErrorKind::DigestMismatch { what, .. }, layer, .. } => {
            assert_eq!((*what, *layer), ("diff_id", 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn blob_tampering_and_corrupt_layer_do_not_stop_other_layers() {
    let l0 = LayerBuilder::new().file("zero.txt", b"0").finish();
    let l1 = LayerBuilder::new().file("one.txt", b"1").finish();
    let l2 = LayerBuilder::new().file("two.txt", b"2").finish();
    let image = SynthImage::new(vec![
        SynthLayer::new(l0, Comp::Gzip, "a"),
        SynthLayer::new(l1.clone(), Comp::Gzip, "b"),
        SynthLayer::new(l2, Comp::Gzip, "c"),
    ]);
    let mut layout = Layout::oci(std::slice::from_ref(&image), false, false);
    let gz = layerdig_tests::compress(&l1, Comp::Gzip);
    let digest = sha256(&gz);
    layout.replace_blob(&digest, gz[..gz.len() / 2].to_vec()); // truncated gzip
    let dir = tempfile::tempdir().unwrap();
    layout.write_dir(dir.path());
    let source = ImageSource::open(dir.path()).unwrap();
    let layerdig::Listing { files, problems, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"zero.txt") && paths.contains(&"two.txt"), "{paths:?}");
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(text.iter().any(|t| t.contains("layer 1") && t.contains("blob digest mismatch")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("layer 1") && (t.contains("gzip") || t.contains("tar"))), "{text:?}");
    assert!(problems.iter().any(|p| p.is_incomplete()));
}

#[test]
fn missing_blob_is_a_layer_error() {
    let l0 = LayerBuilder::new().file("zero.txt", b"0").finish();
    let l1 = LayerBuilder::new().file("one.txt", b"1").finish();
    let image =
        SynthImage::new(vec![SynthLayer::new(l0, Comp::Gzip, "a"), SynthLayer::new(l1.clone(), Comp::Gzip, "b")]);
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let digest = sha256(&layerdig_tests::compress(&l1, Comp::Gzip));
    std::fs::remove_file(dir.path().join("blobs/sha256").join(&digest[7..])).unwrap();
    let source = ImageSource::open(dir.path()).unwrap();
    let msgs: Vec<String> = source.problems().iter().map(|p| p.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains("layer 1") && m.contains("missing")), "{msgs:?}");
    let layerdig::Listing { files, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    assert_eq!(files.len(), 1);
}

#[test]
fn not_an_image_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello, this is not an image").unwrap();
    let err = ImageSource::open(&path).unwrap_err().to_string();
    assert!(err.contains("notes.txt") && err.contains("not a container image"), "{err}");
    let err = ImageSource::open(dir.path().join("missing.tar")).unwrap_err();
    assert!(matches!(err, layerdig::Error::Io { .. }), "{err:?}");
    // An OCI layout whose index.json is not JSON.
    std::fs::write(dir.path().join("index.json"), "{not json").unwrap();
    std::fs::write(dir.path().join("oci-layout"), "{}").unwrap();
    let err = ImageSource::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("index.json") && err.contains("JSON"), "{err}");
}

#[test]
fn non_utf8_and_long_names_survive() {
    let long = format!("deep/{}/file.txt", "d".repeat(200));
    let tar = LayerBuilder::new().file(&long, b"x").file_bytes(b"caf\xe9.txt", b"y").finish();
    let (_dir, source) = open_oci(SynthImage::new(vec![SynthLayer::new(tar, Comp::Gzip, "a")]));
    let layerdig::Listing { files, problems, .. } =
        layerdig::list(&source, &source.images()[0], &layerdig::Rules::builtin(), false, None);
    assert!(problems.is_empty(), "{problems:?}");
    let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
    assert!(paths.contains(&long), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("caf") && p.ends_with(".txt") && p.contains('\u{fffd}')), "{paths:?}");
}
