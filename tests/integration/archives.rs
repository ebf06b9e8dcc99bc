//! Archives and compressed files inside layers (issue 15): the committed archives fixture, made
//! with jar, zip, pip, tar, gzip, zstd, xz and bzip2, found at the inner path with the outer
//! file's layer and status in every form; and hostile archives (bombs, overlapping entries,
//! 100 000 entries, archives cut short, nesting past the depth limit), each reported at its path
//! while the rest of the layer is still scanned.

use std::io::{Cursor, Write};
use std::path::Path;

use layerdig::{ArchiveLimits, Collect, ErrorKind, Report, Rules, Scanner, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, fixtures, github_token};
use serde_json::Value;
use zip::write::{SimpleFileOptions, ZipWriter};

const FORMS: [&str; 3] = ["archives.oci", "archives.zstd.oci", "archives.docker.tar"];

fn planted() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("archives.planted.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["planted"].as_array().unwrap().clone()
}

fn scan_with(path: &Path, limits: ArchiveLimits) -> Report {
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(true).threads(2).archives(limits).build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn scan(path: &Path) -> Report {
    scan_with(path, ArchiveLimits::default())
}

/// Every location of a finding whose secret contains `secret`.
fn locations<'r>(report: &'r Report, secret: &str) -> Vec<&'r layerdig::Location> {
    report
        .findings
        .iter()
        .filter(|f| f.secret.as_deref().is_some_and(|s| s.contains(secret)))
        .flat_map(|f| f.locations.iter())
        .collect()
}

#[test]
fn every_secret_in_the_archives_fixture_is_at_its_inner_path_in_every_form() {
    for form in FORMS {
        let report = scan(&fixtures().join(form));
        assert!(report.errors.is_empty(), "{form}: {:#?}", report.errors);
        for p in planted() {
            let secret = p["secret"].as_str().unwrap();
            let path = p["path"].as_str().unwrap();
            let layer = p["layer"].as_u64().unwrap() as usize;
            let found = locations(&report, secret);
            // A docker config's `auth` is reported whole (it is the credential as the file
            // holds it); everything else by the secret itself.
            let found = if found.is_empty() && path.ends_with("config.json") {
                let auth = report.findings.iter().find(|f| f.rule_id == "dockerhub.docker-config-auth");
                auth.map(|f| f.locations.iter().collect()).unwrap_or_default()
            } else {
                found
            };
            let at = found
                .iter()
                .find(|l| l.path.as_deref() == Some(path))
                .unwrap_or_else(|| panic!("{form}: {secret} not found at {path}: {found:#?}"));
            assert_eq!(at.layer_index, Some(layer), "{form}: {path}");
            let status = match p["status"].as_str().unwrap() {
                "deleted" => Status::Deleted,
                _ => Status::Present,
            };
            assert_eq!(at.status, Some(status), "{form}: {path}");
            if status == Status::Deleted {
                assert_eq!(at.removed_in_layer, p["removed_in_layer"].as_u64().map(|n| n as usize), "{form}");
            }
            // Inside an archive, the parts of the path are there to split by.
            if path.contains('!') {
                let segments = at.path_segments.as_ref().unwrap_or_else(|| panic!("{form}: {path} has no segments"));
                assert_eq!(segments.join("!"), path);
                assert!(segments.len() >= 2);
            } else {
                assert_eq!(at.path_segments, None, "{form}: {path}");
                if let Some(encoding) = p["encoding"].as_str().filter(|_| !path.ends_with("config.json")) {
                    assert_eq!(at.encoding.map(|e| e.to_string()).as_deref(), Some(encoding), "{form}: {path}");
                }
            }
        }
    }
}

#[test]
fn the_spring_boot_jar_gives_both_secrets_with_depth_zero_giving_neither() {
    let planted = planted();
    let in_jar: Vec<&str> = planted
        .iter()
        .filter(|p| p["path"].as_str().unwrap().starts_with("opt/app/app.jar!"))
        .map(|p| p["secret"].as_str().unwrap())
        .collect();
    assert_eq!(in_jar.len(), 2);
    for form in ["archives.oci", "archives.zstd.oci"] {
        let report = scan(&fixtures().join(form));
        for secret in &in_jar {
            assert!(!locations(&report, secret).is_empty(), "{form}: {secret}");
        }
        // With archives read as bytes, the deflated properties file shows nothing.
        let flat = scan_with(&fixtures().join(form), ArchiveLimits { depth: 0, ..ArchiveLimits::default() });
        for secret in &in_jar {
            assert!(locations(&flat, secret).is_empty(), "{form}: {secret} found without opening the jar");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile archives, built here.

/// A one-layer image holding `files`, written as an OCI layout under a temporary directory.
fn image(files: &[(&str, &[u8])], comp: Comp) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut layer = LayerBuilder::new();
    for (path, bytes) in files {
        layer = layer.file(path, bytes);
    }
    let image = SynthImage::new(vec![SynthLayer::new(layer.finish(), comp, "COPY . /")]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image");
    Layout::oci(&[image], false, false).write_dir(&path);
    (dir, path)
}

fn zip_of(entries: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let method = if stored { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
    let options = SimpleFileOptions::default().compression_method(method).large_file(false);
    for (name, bytes) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn errors_at<'r>(report: &'r Report, path_prefix: &str) -> Vec<&'r layerdig::ErrorReport> {
    report.errors.iter().filter(|e| e.path.as_deref().is_some_and(|p| p.starts_with(path_prefix))).collect()
}

#[test]
fn a_nested_zip_bomb_is_reported_and_the_rest_of_the_layer_is_scanned() {
    // 42.zip's shape: sixteen copies of sixteen copies ... of a file of zeros, deflated.
    let zeros = vec![0u8; 32 << 20];
    let mut level = zip_of(&[("0.bin", &zeros)], false);
    for _ in 0..4 {
        let names: Vec<String> = (0..16).map(|i| format!("{i}.zip")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), level.as_slice())).collect();
        level = zip_of(&entries, false);
    }
    assert!(level.len() < 2 << 20, "the bomb is small: {} bytes", level.len());
    let token = github_token();
    let env = format!("GITHUB_TOKEN={token}\n");
    for comp in [Comp::None, Comp::Gzip] {
        let (_dir, path) = image(&[("srv/bomb.zip", &level), ("srv/z.env", env.as_bytes())], comp);
        let report = scan(&path);
        let errors = errors_at(&report, "srv/bomb.zip");
        // Once, not at each of its entries.
        assert_eq!(errors.len(), 1, "{comp:?}: the bomb is reported once: {:#?}", report.errors);
        assert!(errors[0].kind == ErrorKind::LimitReached && errors[0].incomplete, "{errors:#?}");
        assert!(errors[0].message.contains("limit"), "{}", errors[0].message);
        // The file after it is scanned all the same.
        assert_eq!(locations(&report, &token).len(), 1, "{comp:?}");
    }
}

#[test]
fn a_zip_of_overlapping_entries_is_not_expanded() {
    // One deflated kernel, and a central directory whose entries all point at it.
    let kernel = zip_of(&[("k", &vec![b'a'; 1 << 20])], false);
    let local_len = kernel.len() - 22 - central_entry_len(&kernel);
    let (local, rest) = kernel.split_at(local_len);
    let central = &rest[..rest.len() - 22];
    let mut bomb = local.to_vec();
    let cd_start = bomb.len();
    for i in 0..50u8 {
        let mut entry = central.to_vec();
        // A distinct name of the same length, each entry at local header offset 0.
        let name_at = 46;
        entry[name_at] = b'a' + (i % 26);
        bomb.extend_from_slice(&entry);
    }
    let cd_len = bomb.len() - cd_start;
    let mut eocd = rest[rest.len() - 22..].to_vec();
    eocd[8..10].copy_from_slice(&50u16.to_le_bytes());
    eocd[10..12].copy_from_slice(&50u16.to_le_bytes());
    eocd[12..16].copy_from_slice(&(cd_len as u32).to_le_bytes());
    eocd[16..20].copy_from_slice(&(cd_start as u32).to_le_bytes());
    bomb.extend_from_slice(&eocd);
    let (_dir, path) = image(&[("srv/overlap.zip", &bomb)], Comp::None);
    let report = scan(&path);
    let errors = errors_at(&report, "srv/overlap.zip");
    assert_eq!(errors.len(), 1, "{:#?}", report.errors);
    assert!(errors[0].message.contains("overlap"), "{}", errors[0].message);
}

/// The length of the one central directory entry of a one-entry zip.
fn central_entry_len(zip: &[u8]) -> usize {
    let eocd = &zip[zip.len() - 22..];
    u32::from_le_bytes(eocd[12..16].try_into().unwrap()) as usize
}

#[test]
fn a_zip_with_100_000_entries_is_read_to_its_last_entry() {
    let token = github_token();
    let last = format!("token: {token}\n");
    let names: Vec<String> = (0..100_000).map(|i| format!("d/{i}.txt")).collect();
    let mut entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x\n"[..])).collect();
    entries.push(("d/last.yml", last.as_bytes()));
    let many = zip_of(&entries, true);
    for comp in [Comp::None, Comp::Zstd] {
        let (_dir, path) = image(&[("srv/many.zip", &many)], comp);
        let report = scan(&path);
        assert!(report.errors.is_empty(), "{comp:?}: {:#?}", report.errors);
        let at = locations(&report, &token);
        assert_eq!(at.len(), 1, "{comp:?}");
        assert_eq!(at[0].path.as_deref(), Some("srv/many.zip!d/last.yml"));
    }
    // And a limit on entries stops it, reported.
    let (_dir, path) = image(&[("srv/many.zip", &many)], Comp::None);
    let report = scan_with(&path, ArchiveLimits { max_entries: 1000, ..ArchiveLimits::default() });
    let errors = errors_at(&report, "srv/many.zip");
    assert_eq!(errors.len(), 1, "{:#?}", report.errors);
    assert!(errors[0].message.contains("entries"), "{}", errors[0].message);
}

#[test]
fn archives_cut_short_keep_what_was_read() {
    let token = github_token();
    let env = format!("GITHUB_TOKEN={token}\n");
    // A tar.gz cut in the middle of its second file: the first is found, the cut reported.
    let tar = LayerBuilder::new().file("a/.env", env.as_bytes()).file("a/big.bin", &vec![7u8; 1 << 20]).finish();
    let tgz = gzip(&tar);
    let cut = &tgz[..tgz.len() / 2];
    // A zip with no central directory: its stored entry's bytes are still scanned as bytes.
    let zip = zip_of(&[("b/.env", env.as_bytes())], true);
    let headless = &zip[..zip.len() - 60];
    let (_dir, path) = image(&[("srv/backup.tgz", cut), ("srv/broken.zip", headless)], Comp::Gzip);
    let report = scan(&path);
    let paths: Vec<&str> = locations(&report, &token).iter().filter_map(|l| l.path.as_deref()).collect();
    assert!(paths.contains(&"srv/backup.tgz!a/.env"), "{paths:?}");
    assert!(paths.contains(&"srv/broken.zip"), "{paths:?}");
    for name in ["srv/backup.tgz", "srv/broken.zip"] {
        let errors = errors_at(&report, name);
        assert_eq!(errors.len(), 1, "{name}: {:#?}", report.errors);
        assert_eq!(errors[0].kind, ErrorKind::Corrupt, "{name}");
        assert!(!errors[0].incomplete, "{name}: everything there was to read was read");
    }
}

#[test]
fn nesting_past_the_depth_limit_is_reported_and_read_as_bytes() {
    let token = github_token();
    let env = format!("GITHUB_TOKEN={token}\n");
    // Seven stored zips one inside the other.
    let mut level = zip_of(&[("app.env", env.as_bytes())], true);
    for i in 0..6 {
        let name = format!("l{i}.zip");
        level = zip_of(&[(name.as_str(), &level)], true);
    }
    let (_dir, path) = image(&[("srv/deep.zip", &level)], Comp::None);
    let report = scan(&path);
    let errors = errors_at(&report, "srv/deep.zip");
    assert_eq!(errors.len(), 1, "{:#?}", report.errors);
    assert!(errors[0].message.contains("nested"), "{}", errors[0].message);
    // The sixth zip is read as bytes, and its stored entry holds the token as it is.
    let at = locations(&report, &token);
    assert_eq!(at.len(), 1);
    assert_eq!(at[0].path_segments.as_ref().map(Vec::len), Some(6), "{:?}", at[0].path);
}

#[test]
fn a_gigabyte_of_zeros_in_a_megabyte_is_stopped_by_its_ratio() {
    let zeros = vec![0u8; 256 << 20];
    let gz = gzip(&zeros);
    let (_dir, path) = image(&[("srv/zeros.gz", &gz)], Comp::None);
    let report = scan(&path);
    let errors = errors_at(&report, "srv/zeros.gz");
    assert_eq!(errors.len(), 1, "{:#?}", report.errors);
    assert!(errors[0].message.contains("compression ratio"), "{}", errors[0].message);
}
