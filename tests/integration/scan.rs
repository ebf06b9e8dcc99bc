//! Scanning end to end through the library: every planted secret of every fixture form is found
//! at its path and layer with its status; synthetic images cover deletion, opaque directories,
//! hard links, config and history, redaction.

use layerdig::{Collect, Report, Rules, Scanner, Source, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, fixtures};
use serde_json::Value;

use crate::fixtures::{FORMS, expected, planted};

fn scan_with(path: &std::path::Path, show: bool) -> Report {
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(show).threads(2).build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

/// The findings whose secret is `value` (or contains it, for whole-key rules).
fn locations_of<'r>(report: &'r Report, value: &str) -> Vec<(&'r layerdig::Finding, &'r layerdig::Location)> {
    let value = value.trim();
    report
        .findings
        .iter()
        .filter(|f| {
            f.secret
                .as_deref()
                .is_some_and(|s| s == value || s.contains(value) || value.contains(s.trim()) && s.trim().len() > 200)
        })
        .flat_map(|f| f.locations.iter().map(move |l| (f, l)))
        .collect()
}

#[test]
fn every_planted_secret_in_every_form() {
    for (form, _) in FORMS {
        let report = scan_with(&fixtures().join(form), true);
        assert!(report.errors.is_empty(), "{form}: {:?}", report.errors);
        for p in planted() {
            let value = p["secret"].as_str().unwrap();
            let found = locations_of(&report, value);
            match p["path"].as_str() {
                Some(path) => {
                    let layer = p["layer"].as_u64().unwrap() as usize;
                    let (status, removed) = expected(&p, form);
                    let hit =
                        found.iter().find(|(_, l)| l.path.as_deref() == Some(path) && l.layer_index == Some(layer));
                    let (f, loc) = hit.unwrap_or_else(|| {
                        panic!("{form}: planted secret at {path} layer {layer} not found; have {:#?}", summary(&report))
                    });
                    assert_eq!(
                        (loc.status, loc.removed_in_layer),
                        (Some(status), removed),
                        "{form}: {path} ({})",
                        f.rule_id
                    );
                    assert!(loc.line.unwrap_or(0) >= 1, "{form}: {path} line");
                    assert!(loc.layer_digest.as_deref().unwrap_or("").starts_with("sha256:"));
                    assert!(loc.created_by.is_some(), "{form}: {path} created_by");
                }
                None => {
                    // The image config's Env.
                    assert!(
                        found.iter().any(|(_, l)| l.source == Source::Config
                            && l.config_key.as_ref().is_some_and(|k| k.to_string().starts_with("Env"))),
                        "{form}: config secret not found in Env: {:#?}",
                        summary(&report)
                    );
                    // ...and the ENV instruction in the history records it too.
                    assert!(found.iter().any(|(_, l)| l.source == Source::History), "{form}: history");
                }
            }
        }
    }
}

fn summary(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .flat_map(|f| {
            f.locations.iter().map(move |l| {
                format!(
                    "{} {} {:?}@{:?} {:?} {:?}",
                    f.rule_id, f.redacted, l.path, l.layer_index, l.status, l.config_key
                )
            })
        })
        .collect()
}

#[test]
fn secrets_stay_redacted_unless_asked() {
    let report = scan_with(&fixtures().join("demo.oci.tar"), false);
    let json = serde_json::to_string(&report).unwrap();
    let debug = format!("{report:?}");
    let sarif = serde_json::to_string(&layerdig::report::sarif::sarif(&report, &Rules::builtin())).unwrap();
    for p in planted() {
        let value = p["secret"].as_str().unwrap().trim();
        // Compare on a distinctive slice: whole PEM blocks contain common header lines.
        let probe = if value.len() > 100 { &value[60..100] } else { value };
        for (what, text) in [("json", &json), ("debug", &debug), ("sarif", &sarif)] {
            assert!(!text.contains(probe), "{what} leaks {}", &probe[..4]);
        }
    }
    assert!(report.findings.iter().all(|f| f.secret.is_none()));
    assert!(report.findings.iter().all(|f| f.redacted.contains("chars)")));
}

#[test]
fn deleted_opaque_hardlinked_and_config_secrets() {
    let aws = "AKIAQ2XH7P3LMN4RT5VW";
    let gh_body = "Zt8kQw3nRb7YpLc2VxHs9JmUf4GaEd";
    let gh = format!("ghp_{gh_body}{}", github_crc(gh_body));
    let base = LayerBuilder::new()
        .file("app/.env", format!("AWS_ACCESS_KEY_ID={aws}\n").as_bytes())
        .file("srv/conf/token.txt", format!("token: {gh}\n").as_bytes())
        .hardlink("srv/backup-token.txt", "srv/conf/token.txt")
        .finish();
    let upper = LayerBuilder::new().whiteout("app/.env").opaque("srv/conf").finish();
    let mut image = SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "COPY . /"),
        SynthLayer::new(upper, Comp::Zstd, "RUN cleanup"),
    ]);
    image.env = vec![format!("GITHUB_TOKEN={gh}")];
    let dir = tempfile::tempdir().unwrap();
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let report = scan_with(dir.path(), true);
    let aws_loc = locations_of(&report, aws);
    assert!(
        aws_loc.iter().any(|(_, l)| l.path.as_deref() == Some("app/.env")
            && l.status == Some(Status::Deleted)
            && l.removed_in_layer == Some(1)),
        "{:#?}",
        summary(&report)
    );
    let gh_locs = locations_of(&report, &gh);
    let by_path = |p: &str| {
        gh_locs
            .iter()
            .find(|(_, l)| l.path.as_deref() == Some(p))
            .map(|(_, l)| (l.status, l.removed_in_layer, l.removed_by))
    };
    assert_eq!(
        by_path("srv/conf/token.txt"),
        Some((Some(Status::Deleted), Some(1), Some(layerdig::RemovedBy::OpaqueDir)))
    );
    assert_eq!(
        by_path("srv/backup-token.txt"),
        Some((Some(Status::Present), None, None)),
        "hard link keeps it present"
    );
    assert!(gh_locs.iter().any(|(_, l)| l.source == Source::Config), "Env");
    // One secret, one finding: the file, the hard link, the Env and the history share it.
    let fps: std::collections::HashSet<_> = gh_locs.iter().map(|(f, _)| &f.fingerprint).collect();
    assert_eq!(fps.len(), 1, "{:#?}", summary(&report));
    // History created_by is redacted when secrets are not shown.
    let hidden = scan_with(dir.path(), false);
    let json = serde_json::to_string(&hidden).unwrap();
    assert!(!json.contains(&gh), "token leaked through created_by or elsewhere");
}

fn github_crc(body: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32(body.as_bytes());
    let mut out = Vec::new();
    while n > 0 {
        out.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < 6 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn large_file_is_scanned_in_windows_not_skipped() {
    // A secret straddling the window boundary and one at the very end of a 3 MiB file, with a
    // 1 MiB window: both found, with the right line numbers.
    let key = "AKIAZ7Q3XH2PLMN4RT5V";
    let mut content = Vec::new();
    let filler = b"lorem ipsum dolor sit amet consectetur adipiscing elit\n";
    while content.len() < (1 << 20) - 10 {
        content.extend_from_slice(filler);
    }
    let lines_before = content.iter().filter(|&&b| b == b'\n').count() as u64;
    content.extend_from_slice(format!("aws_access_key_id = {key}\n").as_bytes());
    while content.len() < 3 << 20 {
        content.extend_from_slice(filler);
    }
    let key2 = "AKIAB2C3D4E5F6G7H2J3";
    content.extend_from_slice(format!("id={key2}").as_bytes());
    let tar = LayerBuilder::new().file("data/big.log", &content).finish();
    for comp in [Comp::None, Comp::Gzip] {
        let dir = tempfile::tempdir().unwrap();
        Layout::oci(&[SynthImage::new(vec![SynthLayer::new(tar.clone(), comp, "COPY big.log")])], false, false)
            .write_dir(dir.path());
        let rules = Rules::builtin();
        let scanner = Scanner::builder().show_secrets(true).window(1 << 20).build(&rules).unwrap();
        let mut sink = Collect::new();
        let stats = scanner.scan_path(dir.path(), &mut sink).unwrap();
        let report = sink.into_report(stats);
        let first = locations_of(&report, key);
        assert_eq!(first.len(), 1, "{comp:?}: found once, not twice in the overlap: {:#?}", summary(&report));
        assert_eq!(first[0].1.line, Some(lines_before + 1), "{comp:?}");
        assert_eq!(locations_of(&report, key2).len(), 1, "{comp:?}: end of file");
    }
}

#[test]
fn json_report_keeps_the_contract_names() {
    let report = scan_with(&fixtures().join("demo.zstd.oci"), false);
    let v: Value = serde_json::to_value(&report).unwrap();
    for key in ["images", "findings", "errors", "stats"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    layerdig_tests::assert_json_contract(&v["images"][0], &v["findings"][0]);
}

/// Issue 7: a config that does not parse (here `Env` is a string, not a list) was reported and
/// then not searched at all, so a hostile image could hide a secret in it. It is now searched as
/// text; the finding points at the config, with line and column.
#[test]
fn a_config_that_does_not_parse_is_still_searched() {
    let key = "AKIAZ7Q3XH2PLMN4RT5V";
    let layer = LayerBuilder::new().file("app/main.py", b"print('hi')\n").finish();
    for oci in [false, true] {
        let image = SynthImage::new(vec![SynthLayer::new(layer.clone(), Comp::Gzip, "COPY . /app")]);
        let bad = format!("{{\"config\": {{\n  \"Env\": \"AWS_ACCESS_KEY_ID={key}\"\n}}}}");
        let dir = tempfile::tempdir().unwrap();
        let path = if oci {
            let mut layout = Layout::oci(&[image], false, false);
            let config = layout
                .files
                .iter()
                .find(|(name, bytes)| name.starts_with("blobs/") && bytes.starts_with(b"{\"architecture\""))
                .map(|(name, _)| name.trim_start_matches("blobs/sha256/").to_string())
                .expect("the config blob");
            layout.replace_blob(&format!("sha256:{config}"), bad.clone().into_bytes());
            layout.write_dir(dir.path());
            dir.path().to_path_buf()
        } else {
            let mut layout = Layout::docker_classic(&image);
            for (name, bytes) in &mut layout.files {
                if name.ends_with(".json") && name != "manifest.json" {
                    *bytes = bad.clone().into_bytes();
                }
            }
            let path = dir.path().join("image.tar");
            layout.write_tar(&path);
            path
        };
        let report = scan_with(&path, true);
        assert!(
            report.errors.iter().any(|e| e.message.contains("not a valid image config")),
            "oci {oci}: {:#?}",
            report.errors
        );
        let found = locations_of(&report, key);
        assert_eq!(found.len(), 1, "oci {oci}: {:#?}", report.findings);
        let l = found[0].1;
        assert_eq!(l.source, Source::Config);
        assert_eq!(l.config_key, Some(layerdig::ConfigField::Unparsed));
        assert_eq!((l.line, l.path.as_deref()), (Some(2), None));
    }
}

/// Issue 14: every string of the image config is searched — not only Env, Labels, Cmd and the
/// history — and a finding names the field it is in.
#[test]
fn secrets_in_any_config_field_are_found_at_their_path() {
    use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer};
    let token = "AKIAZ7Q3XH2PLMN4RT5V";
    let dir = tempfile::tempdir().unwrap();
    let mut image =
        SynthImage::new(vec![SynthLayer::new(LayerBuilder::new().file("a", b"a\n").finish(), Comp::Gzip, "COPY a")]);
    image.config_extra = serde_json::json!({
        "config": {"Healthcheck": {"Test": ["CMD-SHELL", format!("aws s3 ls --access-key {token}")]}},
        "x-ci": {"notes": [format!("pushed with {token}")]},
    });
    Layout::oci(&[image], false, false).write_dir(dir.path());
    let report = layerdig::scan_path(dir.path(), &Rules::builtin()).unwrap();
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let keys: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule_id == "aws.access-key-id")
        .flat_map(|f| f.locations.iter().filter_map(|l| l.config_key.as_ref().map(|k| k.to_string())))
        .collect();
    assert!(keys.contains(&"config.Healthcheck.Test[1]".to_string()), "{keys:?}");
    assert!(keys.contains(&"x-ci.notes[0]".to_string()), "{keys:?}");
}
