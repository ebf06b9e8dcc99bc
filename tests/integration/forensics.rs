//! Issue 14 (every byte of the image): one test per place data hides in a layer's tar or in its
//! compression's framing, each with a real crafted image (digests right), written from the
//! formats' specifications (POSIX pax and ustar, GNU tar, RFC 1952, RFC 8878). Each asserts the
//! precise location, that the secret inside is found, that the data is a `hidden-data` finding
//! of its own, and that the layer's byte account adds up.

use std::io::Write;
use std::path::Path;

use flate2::Compression as GzLevel;
use layerdig::layer::{ByteAccount, Structure};
use layerdig::{Collect, GzipField, Location, Report, Rules, Scanner, Source};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, compress};

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const KEY2: &str = "AKIAB2C3D4E5F6G7H2J3";

fn scan(path: &Path) -> Report {
    let mut sink = Collect::new();
    let stats = Scanner::new(&Rules::builtin()).scan_path(path, &mut sink).expect("collect");
    sink.into_report(stats)
}

/// An OCI layout of a clean base layer and `layer`, scanned.
fn scan_with(layer: SynthLayer) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = SynthLayer::new(LayerBuilder::new().file("etc/hostname", b"box\n").finish(), Comp::Gzip, "ADD base");
    Layout::oci(&[SynthImage::new(vec![base, layer])], false, false).write_dir(dir.path());
    scan(dir.path())
}

/// Every hidden-data location, with its finding's rule id.
fn hidden(report: &Report) -> Vec<(&str, &Location)> {
    report
        .findings
        .iter()
        .flat_map(|f| f.locations.iter().map(move |l| (f.rule_id.as_str(), l)))
        .filter(|(_, l)| l.source == Source::Hidden)
        .collect()
}

/// The locations of hidden data whose structure `pick` accepts, as (rule, location).
fn hidden_where(report: &Report, pick: impl Fn(&Structure) -> bool) -> Vec<(&str, &Location)> {
    hidden(report).into_iter().filter(|(_, l)| l.structure.as_ref().is_some_and(&pick)).collect()
}

/// The account of layer 1 adds up to its stream and its blob, and is returned.
fn account(report: &Report) -> ByteAccount {
    let layer = &report.images[0].layers[1];
    let a = layer.account;
    assert_eq!(a.stream_total(), layer.uncompressed_size, "{a:?}");
    if a.compressed + a.framing_hidden > 0 {
        assert_eq!(a.compressed + a.framing_hidden, layer.size, "{a:?}");
    }
    a
}

/// The location of an AWS access key id found in one of the input's documents.
fn aws_key_in_a_document(report: &Report) -> &Location {
    report
        .findings
        .iter()
        .filter(|f| f.rule_id == "aws.access-key-id")
        .flat_map(|f| &f.locations)
        .find(|l| l.document.is_some())
        .unwrap_or_else(|| panic!("{:#?} {:#?}", report.findings, report.errors))
}

fn position(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack.windows(needle.len()).position(|w| w == needle).expect("needle in haystack") as u64
}

/// A PAX extended header's data: `LEN KEY=VALUE\n` records.
fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = key.len() + value.len() + 3;
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {key}=").as_bytes());
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

fn header(kind: tar::EntryType, path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_path(path).expect("path");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

/// POSIX pax: a `comment` record, a vendor keyword and a `user.` extended attribute are data
/// no extractor applies; `mtime` and `security.capability` are structure. Local (`x`) records
/// belong to the entry after them; global (`g`) records are their own entry.
#[test]
fn pax_record_values_are_hidden_data() {
    let mut b = tar::Builder::new(Vec::new());
    let global = pax(&[("mtime", b"1700000000"), ("VENDOR.note", format!("AWS_ACCESS_KEY_ID={KEY}").as_bytes())]);
    b.append(&header(tar::EntryType::XGlobalHeader, "pax_global_header", global.len() as u64), &global[..]).expect("g");
    let local = pax(&[
        ("mtime", b"1700000000.5"),
        ("SCHILY.xattr.security.capability", b"\x01\x00\x00\x02\x00\x20\x00\x00"),
        ("comment", format!("aws_access_key_id = {KEY2}").as_bytes()),
        ("SCHILY.xattr.user.note", b"left by the build"),
    ]);
    b.append(&header(tar::EntryType::XHeader, "PaxHeaders/readme", local.len() as u64), &local[..]).expect("x");
    b.append(&header(tar::EntryType::Regular, "app/readme.txt", 6), &b"hello\n"[..]).expect("file");
    let tar = b.into_inner().expect("tar");
    for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
        let report = scan_with(SynthLayer::new(tar.clone(), comp, "RUN build"));
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        let records = hidden_where(&report, |s| matches!(s, Structure::PaxRecord { .. }));
        let key_of = |l: &Location| match &l.structure {
            Some(Structure::PaxRecord { key, global, offset, bytes }) => (key.clone(), *global, *offset, *bytes),
            _ => unreachable!(),
        };
        let mut data: Vec<(String, bool, u64, u64)> =
            records.iter().filter(|(r, _)| *r == "hidden-data").map(|(_, l)| key_of(l)).collect();
        data.sort_by_key(|d| d.2);
        let value_at = |v: &[u8]| position(&tar, v);
        let note = format!("AWS_ACCESS_KEY_ID={KEY}");
        let comment = format!("aws_access_key_id = {KEY2}");
        assert_eq!(
            data,
            vec![
                ("VENDOR.note".to_string(), true, value_at(note.as_bytes()), note.len() as u64),
                ("comment".to_string(), false, value_at(comment.as_bytes()), comment.len() as u64),
                ("SCHILY.xattr.user.note".to_string(), false, value_at(b"left by"), 17),
            ],
            "{comp:?}"
        );
        // The keys inside are found, at the record; the local ones belong to the file's entry.
        let key = records.iter().find(|(r, l)| *r == "aws.access-key-id" && key_of(l).0 == "comment").expect("key");
        assert_eq!((key.1.path.as_deref(), key.1.layer_index, key.1.status), (Some("app/readme.txt"), Some(1), None));
        assert!(records.iter().any(|(r, l)| *r == "aws.access-key-id" && key_of(l).1), "{records:#?}");
        let a = account(&report);
        assert_eq!(a.hidden, (note.len() + comment.len() + 17) as u64, "{a:?}");
        assert_eq!(a.content, 6);
    }
}

/// Tar headers: the bytes after the NUL that ends a name, and a header's unused tail, are read
/// by no tar reader.
#[test]
fn tar_header_slack_is_hidden_data() {
    let mut tar = LayerBuilder::new().file("app/notes.txt", b"hello\n").file("app/other.txt", b"x\n").finish();
    let secret = format!("AWS_ACCESS_KEY_ID={KEY}");
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&tar[..512]);
    // `app/notes.txt` then NUL at 13; the key from 20; and a word in the block's last bytes.
    h.as_mut_bytes()[20..20 + secret.len()].copy_from_slice(secret.as_bytes());
    h.as_mut_bytes()[505..512].copy_from_slice(b"hidden!");
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
    let report = scan_with(SynthLayer::new(tar, Comp::Gzip, "RUN build"));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let slack = hidden_where(&report, |s| matches!(s, Structure::HeaderSlack { .. }));
    let rules: Vec<&str> = slack.iter().map(|(r, _)| *r).collect();
    assert!(rules.contains(&"aws.access-key-id") && rules.contains(&"hidden-data"), "{slack:#?}");
    for (_, l) in &slack {
        assert_eq!(l.structure, Some(Structure::HeaderSlack { offset: 0, bytes: secret.len() as u64 + 7 }));
        assert_eq!((l.path.as_deref(), l.layer_index), (Some("app/notes.txt"), Some(1)));
    }
    assert_eq!(account(&report).hidden, secret.len() as u64 + 7);
    // The other entry's clean header is not.
    assert_eq!(report.findings.iter().filter(|f| f.rule_id == "hidden-data").count(), 1);
}

/// Tar: an entry's data is padded with zeros to a 512-byte block, which readers skip. In a
/// layer read in place and in compressed streams alike.
#[test]
fn non_zero_entry_padding_is_hidden_data() {
    let mut tar = LayerBuilder::new().file("app/a.txt", b"0123456789").file("app/b.txt", b"b\n").finish();
    let secret = format!("\nAWS_ACCESS_KEY_ID={KEY}\n");
    // The first header is at 0, its data at 512: the padding starts at 522.
    tar[522..522 + secret.len()].copy_from_slice(secret.as_bytes());
    for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
        let report = scan_with(SynthLayer::new(tar.clone(), comp, "RUN build"));
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        let padding = hidden_where(&report, |s| matches!(s, Structure::EntryPadding { .. }));
        let rules: Vec<&str> = padding.iter().map(|(r, _)| *r).collect();
        assert!(rules.contains(&"aws.access-key-id") && rules.contains(&"hidden-data"), "{comp:?}: {padding:#?}");
        for (_, l) in &padding {
            assert_eq!(l.structure, Some(Structure::EntryPadding { offset: 522, bytes: 502 }), "{comp:?}");
            assert_eq!(l.layer_index, Some(1));
        }
        let a = account(&report);
        assert_eq!((a.hidden, a.content), (502, 12), "{comp:?}: {a:?}");
    }
}

/// RFC 1952: a gzip file is a series of members, each with its own header; decompressors read
/// on to the end. The later members' header fields are hidden data, and so are bytes after the
/// last member that are no member (which the decompressor would otherwise fail on).
#[test]
fn later_gzip_members_and_bytes_after_the_last_one_are_hidden_data() {
    let tar = LayerBuilder::new()
        .file("app/first.env", format!("aws_access_key_id = {KEY}\n").as_bytes())
        .file("app/second.env", format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .finish();
    let (head, tail) = tar.split_at(1024);
    let first = compress(head, Comp::Gzip);
    let comment = format!("AWS_ACCESS_KEY_ID={KEY2}");
    let mut second = flate2::GzBuilder::new().comment(comment.as_bytes()).write(Vec::new(), GzLevel::fast());
    second.write_all(tail).expect("gzip");
    let second = second.finish().expect("gzip");
    let after = format!("\naws_access_key_id = {KEY}\n");
    let blob = [first.clone(), second.clone(), after.clone().into_bytes()].concat();
    let report = scan_with(SynthLayer::with_blob(tar.clone(), Comp::Gzip, blob, "RUN build"));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    // Both files, one in each member, are read.
    for path in ["app/first.env", "app/second.env"] {
        assert!(report.findings.iter().flat_map(|f| &f.locations).any(|l| l.path.as_deref() == Some(path)), "{path}");
    }
    let comment_at = first.len() as u64 + position(&second, comment.as_bytes());
    let in_header = hidden_where(&report, |s| matches!(s, Structure::GzipHeader { .. }));
    assert!(!in_header.is_empty());
    for (_, l) in &in_header {
        assert_eq!(
            l.structure,
            Some(Structure::GzipHeader {
                member: 1,
                field: GzipField::Comment,
                offset: comment_at,
                bytes: comment.len() as u64
            })
        );
    }
    let trailing = hidden_where(&report, |s| matches!(s, Structure::CompressedTrailing { .. }));
    let rules: Vec<&str> = trailing.iter().map(|(r, _)| *r).collect();
    assert!(rules.contains(&"aws.access-key-id") && rules.contains(&"hidden-data"), "{trailing:#?}");
    for (_, l) in &trailing {
        let offset = (first.len() + second.len()) as u64;
        assert_eq!(l.structure, Some(Structure::CompressedTrailing { offset, bytes: after.len() as u64 }));
    }
    let a = account(&report);
    assert_eq!(a.framing_hidden, (comment.len() + after.len()) as u64, "{a:?}");
    assert_eq!(a.hidden, 0);
    // Zeros after the last member are padding, not hidden data.
    let padded = [first, second, vec![0; 100]].concat();
    let report = scan_with(SynthLayer::with_blob(tar, Comp::Gzip, padded, "RUN build"));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(hidden_where(&report, |s| matches!(s, Structure::CompressedTrailing { .. })).is_empty());
}

/// RFC 8878 section 3.1.2: skippable frames (magic 0x184D2A50 to 0x184D2A5F) are skipped by
/// every decoder by design; bytes after the last frame that are no frame are hidden too.
#[test]
fn zstd_skippable_frames_and_bytes_after_the_last_frame_are_hidden_data() {
    let tar = LayerBuilder::new()
        .file("app/first.txt", b"one\n")
        .file("app/second.txt", format!("aws_access_key_id = {KEY2}\n").as_bytes())
        .finish();
    let (head, tail) = tar.split_at(1024);
    let first = compress(head, Comp::Zstd);
    let content = format!("AWS_ACCESS_KEY_ID={KEY}\n");
    let mut skippable = 0x184D_2A5Au32.to_le_bytes().to_vec();
    skippable.extend_from_slice(&(content.len() as u32).to_le_bytes());
    skippable.extend_from_slice(content.as_bytes());
    let second = compress(tail, Comp::Zstd);
    let after = b"trailing words, not a frame".to_vec();
    let blob = [first.clone(), skippable.clone(), second.clone(), after.clone()].concat();
    let report = scan_with(SynthLayer::with_blob(tar, Comp::Zstd, blob, "RUN build"));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(report.findings.iter().flat_map(|f| &f.locations).any(|l| l.path.as_deref() == Some("app/second.txt")));
    let frames = hidden_where(&report, |s| matches!(s, Structure::SkippableFrame { .. }));
    let rules: Vec<&str> = frames.iter().map(|(r, _)| *r).collect();
    assert!(rules.contains(&"aws.access-key-id") && rules.contains(&"hidden-data"), "{frames:#?}");
    for (_, l) in &frames {
        let offset = first.len() as u64 + 8;
        assert_eq!(l.structure, Some(Structure::SkippableFrame { offset, bytes: content.len() as u64 }));
    }
    let trailing = hidden_where(&report, |s| matches!(s, Structure::CompressedTrailing { .. }));
    assert_eq!(trailing.len(), 1, "{trailing:#?}");
    let offset = (first.len() + skippable.len() + second.len()) as u64;
    assert_eq!(trailing[0].1.structure, Some(Structure::CompressedTrailing { offset, bytes: after.len() as u64 }));
    let a = account(&report);
    assert_eq!(a.framing_hidden, (content.len() + after.len()) as u64, "{a:?}");
}

/// The committed fixtures, real images built with podman, skopeo and umoci, hide nothing, and
/// every layer's account adds up to its stream and its blob.
#[test]
fn the_byte_account_adds_up_on_every_fixture() {
    for form in [
        "demo.docker.tar",
        "demo.oci.tar",
        "demo.zstd.oci",
        "demo.umoci.oci",
        "archives.oci",
        "archives.zstd.oci",
        "archives.docker.tar",
    ] {
        let report = scan(&layerdig_tests::fixtures().join(form));
        assert!(report.errors.is_empty(), "{form}: {:#?}", report.errors);
        assert!(hidden(&report).is_empty(), "{form}: {:#?}", hidden(&report));
        for image in &report.images {
            for layer in &image.layers {
                let a = layer.account;
                assert_eq!(a.stream_total(), layer.uncompressed_size, "{form} layer {}: {a:?}", layer.index);
                assert_eq!((a.hidden, a.unread, a.framing_hidden), (0, 0, 0), "{form} layer {}", layer.index);
                assert!(a.content > 0 || a.metadata > 0, "{form} layer {}", layer.index);
                match layer.compression {
                    Some(layerdig::layer::Compression::None) => assert_eq!(a.compressed, 0),
                    _ => assert_eq!(a.compressed, layer.size, "{form} layer {}", layer.index),
                }
            }
        }
    }
}

/// A directory scanned as an image has no tar: all its bytes are its files' content.
#[test]
fn a_directory_layers_bytes_are_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/a.txt"), b"hello\n").expect("write");
    std::fs::write(dir.path().join("notes.md"), vec![b'x'; 5000]).expect("write");
    let report = scan(dir.path());
    let layer = &report.images[0].layers[0];
    assert_eq!(layer.uncompressed_size, 5006);
    assert_eq!(layer.account, ByteAccount { content: 5006, ..ByteAccount::default() });
}

/// OCI image layout: `blobs/` may hold blobs no index or manifest references (a layer an image
/// was rebuilt from, left behind). They are read like files (a compressed tar opened, its files
/// searched), reported as `unreferenced` with the blob's digest, and counted in the input's
/// account.
#[test]
fn blobs_nothing_references_are_read_and_accounted_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = SynthLayer::new(LayerBuilder::new().file("etc/hostname", b"box\n").finish(), Comp::Gzip, "ADD base");
    Layout::oci(&[SynthImage::new(vec![base])], false, false).write_dir(dir.path());
    let old_layer = compress(
        &LayerBuilder::new().file("app/.env", format!("AWS_ACCESS_KEY_ID={KEY}\n").as_bytes()).finish(),
        Comp::Gzip,
    );
    let notes = format!("notes: aws_access_key_id = {KEY2}\n").into_bytes();
    let blobs = dir.path().join("blobs/sha256");
    for bytes in [&old_layer, &notes] {
        std::fs::write(blobs.join(&layerdig_tests::sha256(bytes)[7..]), bytes).expect("write blob");
    }
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let at = |key: &str| {
        report
            .findings
            .iter()
            .filter(|f| f.rule_id == "aws.access-key-id")
            .flat_map(|f| &f.locations)
            .find(|l| {
                l.document.as_ref().is_some_and(|d| d.kind == layerdig::DocumentKind::Unreferenced)
                    && l.path.as_deref().is_some_and(|p| p.contains(&key[7..]))
            })
            .cloned()
    };
    let layer_digest = layerdig_tests::sha256(&old_layer);
    let in_layer = at(&layer_digest).unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(in_layer.source, Source::Metadata);
    assert_eq!(in_layer.path.as_deref(), Some(format!("blobs/sha256/{}!app/.env", &layer_digest[7..]).as_str()));
    let doc = in_layer.document.expect("document");
    assert_eq!((doc.digest.as_deref(), doc.field.as_str()), (Some(layer_digest.as_str()), "app/.env"));
    assert_eq!((in_layer.line, in_layer.status, in_layer.layer_index), (Some(1), None, None));
    let notes_digest = layerdig_tests::sha256(&notes);
    let in_notes = at(&notes_digest).unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(in_notes.document.expect("document").field, "");
    let input = report.images[0].input.clone().expect("input account");
    assert_eq!((input.referenced, input.unreferenced), (3, 2), "{input:?}");
    assert_eq!(input.unreferenced_bytes, (old_layer.len() + notes.len()) as u64);
    let mut digests = vec![layer_digest, notes_digest];
    digests.sort();
    assert_eq!(input.unreferenced_digests, digests);
}

/// Docker image specification (`docker save`): the archive's own `manifest.json` and
/// `repositories` are read by anyone who has the archive; their strings are searched.
#[test]
fn a_docker_archive_manifest_is_searched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = SynthLayer::new(LayerBuilder::new().file("etc/hostname", b"box\n").finish(), Comp::None, "ADD base");
    let mut layout = Layout::docker_classic(&SynthImage::new(vec![base]));
    layout
        .edit_json("manifest.json", |v| v[0]["x-pushed-with"] = serde_json::json!(format!("AWS_ACCESS_KEY_ID={KEY}")));
    layout.files.push(("repositories".into(), br#"{"synth":{"latest":"0123"}}"#.to_vec()));
    let path = dir.path().join("image.tar");
    layout.write_tar(&path);
    let report = scan(&path);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let loc = aws_key_in_a_document(&report);
    let doc = loc.document.clone().expect("document");
    assert_eq!((doc.kind, doc.field.as_str()), (layerdig::DocumentKind::ArchiveManifest, "[0].x-pushed-with"));
}

/// OCI image specification (artifacts, the referrers of an image): a manifest in the index
/// whose config is no image config and whose layers are an artifact's payload (a signature, an
/// SBOM, anything `oras push` stores). The payload is referenced, so it is not `unreferenced`:
/// it is searched as bytes and reported as the manifest's.
#[test]
fn an_artifact_manifests_payload_is_searched_and_counted_as_referenced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = SynthLayer::new(LayerBuilder::new().file("etc/hostname", b"box\n").finish(), Comp::Gzip, "ADD base");
    let mut layout = Layout::oci(&[SynthImage::new(vec![base])], false, false);
    let payload = format!("deploy notes\naws_access_key_id = {KEY}\n").into_bytes();
    let empty = b"{}".to_vec();
    let sha = layerdig_tests::sha256;
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.notes",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(&empty), "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": sha(&payload), "size": payload.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");
    for bytes in [&payload, &empty, &manifest] {
        layout.files.push((format!("blobs/sha256/{}", &sha(bytes)[7..]), bytes.clone()));
    }
    layout.edit_json("index.json", |index| {
        index["manifests"].as_array_mut().expect("manifests").push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.example.notes",
            "digest": sha(&manifest), "size": manifest.len()}));
    });
    layout.write_dir(dir.path());
    let report = scan(dir.path());
    let loc = aws_key_in_a_document(&report);
    let doc = loc.document.clone().expect("document");
    assert_eq!((doc.kind, doc.digest), (layerdig::DocumentKind::Manifest, Some(sha(&payload))));
    assert_eq!(loc.line, Some(2));
    let input = report.images[0].input.clone().expect("input account");
    assert_eq!(input.unreferenced, 0, "{input:?}");
}

/// With one platform asked for, the other platforms' images are not scanned: their manifests
/// and blobs are referenced (by the index), not left behind, so they are neither searched as
/// unreferenced blobs nor counted as such.
#[test]
fn other_platforms_blobs_are_not_unreferenced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env =
        |key: &str| LayerBuilder::new().file("app/.env", format!("AWS_ACCESS_KEY_ID={key}\n").as_bytes()).finish();
    let amd = SynthImage::new(vec![SynthLayer::new(env(KEY), Comp::Gzip, "COPY a")]);
    let mut arm = SynthImage::new(vec![SynthLayer::new(env(KEY2), Comp::Gzip, "COPY b")]);
    arm.platform = ("linux".into(), "arm64".into());
    Layout::oci(&[amd, arm], false, false).write_dir(dir.path());
    let mut builder = Scanner::builder();
    builder.platform(Some("linux/arm64".parse().expect("platform")));
    let mut sink = Collect::new();
    let stats = builder.build(&Rules::builtin()).expect("scanner").scan_path(dir.path(), &mut sink).expect("scan");
    let report = sink.into_report(stats);
    let secrets: Vec<&str> = report.findings.iter().map(|f| f.redacted.as_str()).collect();
    assert_eq!(report.findings.len(), 1, "{secrets:?}");
    assert!(report.findings[0].locations.iter().all(|l| l.platform.as_deref() == Some("linux/arm64")));
    let input = report.images[0].input.clone().expect("input account");
    assert_eq!((input.referenced, input.unreferenced), (6, 0), "{input:?}");
}

/// OCI image specification 1.1 (descriptors): a descriptor may carry its content inline, as
/// base64 in `data`. Whatever it holds travels with the manifest.
#[test]
fn a_descriptors_embedded_data_is_searched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = SynthLayer::new(LayerBuilder::new().file("etc/hostname", b"box\n").finish(), Comp::Gzip, "ADD base");
    let mut layout = Layout::oci(&[SynthImage::new(vec![base])], false, false);
    let payload = format!("AWS_ACCESS_KEY_ID={KEY}\n");
    layout.edit_json("index.json", |index| {
        index["manifests"][0]["data"] = serde_json::json!(layerdig_tests::base64(payload.as_bytes()));
    });
    layout.write_dir(dir.path());
    let report = scan(dir.path());
    let loc = aws_key_in_a_document(&report);
    let doc = loc.document.clone().expect("document");
    assert_eq!((doc.kind, doc.field.as_str()), (layerdig::DocumentKind::Index, "manifests[0].data"));
    assert_eq!(loc.encoding, Some(layerdig::Encoding::Base64));
}
