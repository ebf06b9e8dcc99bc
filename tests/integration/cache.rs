//! Layer results as values and the layer cache: images sharing layers read each distinct layer
//! once; a warm re-scan reads no layer and finds the same; a changed rule set rescans; a corrupt
//! entry or database file is detected and rebuilt; results shipped as bytes resolve an image.

use std::collections::HashMap;
use std::path::Path;

use layerdig::scan::LayerResult;
use layerdig::{Collect, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, github_token, seen};

fn scan(scanner: &Scanner, path: &Path) -> Report {
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn cached(dir: &Path, rules: &Rules) -> Scanner {
    Scanner::builder().cache(Some(dir.to_path_buf())).build(rules).unwrap()
}

/// `n` images on the same two base layers (one holding a token), each with a layer of its own.
fn images(root: &Path, n: usize) -> Vec<std::path::PathBuf> {
    let token = github_token();
    let base = SynthLayer::new(
        LayerBuilder::new().file("etc/base.conf", format!("GITHUB_TOKEN={token}\n").as_bytes()).finish(),
        Comp::Gzip,
        "COPY base.conf /etc/",
    );
    let tools =
        SynthLayer::new(LayerBuilder::new().file("usr/bin/tool", b"#!/bin/sh\n").finish(), Comp::Zstd, "COPY tool");
    (0..n)
        .map(|i| {
            let own = SynthLayer::new(
                LayerBuilder::new().file(&format!("app/{i}.txt"), format!("app {i}\n").as_bytes()).finish(),
                Comp::Gzip,
                "COPY app",
            );
            let path = root.join(format!("image-{i}.tar"));
            Layout::oci(&[SynthImage::new(vec![base.clone(), tools.clone(), own])], false, false).write_tar(&path);
            path
        })
        .collect()
}

#[test]
fn shared_layers_are_read_once_and_a_warm_rescan_reads_none() {
    let dir = tempfile::tempdir().unwrap();
    let paths = images(dir.path(), 4);
    let cache = dir.path().join("cache");
    let rules = Rules::builtin();
    // Cold: one scanner over the four images reads the two shared layers once.
    let scanner = cached(&cache, &rules);
    let cold: Vec<Report> = paths.iter().map(|p| scan(&scanner, p)).collect();
    let from_cache: Vec<u64> = cold.iter().map(|r| r.stats.layers_from_cache).collect();
    assert_eq!(from_cache, vec![0, 2, 2, 2]);
    assert!(cold.iter().all(|r| r.errors.is_empty() && seen(r).len() == 1));
    // Warm, in a new scanner (as a new process would): no layer byte read, the same findings.
    let scanner = cached(&cache, &rules);
    for (path, cold) in paths.iter().zip(&cold) {
        let warm = scan(&scanner, path);
        assert_eq!(warm.stats.layers_from_cache, 3);
        assert_eq!((warm.stats.bytes, warm.stats.uncompressed_bytes), (0, 0));
        assert_eq!(seen(&warm), seen(cold));
        assert_eq!(warm.images[0].layers.len(), 3);
    }
    let info = scanner.cache_admin(&cache).unwrap().info().unwrap();
    assert_eq!((info.entries, info.current), (6, 6), "2 shared + 4 own layers");
}

#[test]
fn a_changed_rule_set_rescans_and_prune_removes_what_it_no_longer_uses() {
    let dir = tempfile::tempdir().unwrap();
    let paths = images(dir.path(), 1);
    let cache = dir.path().join("cache");
    let builtin = Rules::builtin();
    scan(&cached(&cache, &builtin), &paths[0]);
    let extra = Rules::from_yaml_str(
        "provider: Example\nrules:\n  - id: example.app-line\n    name: Example app line\n    severity: low\n    confidence: low\n    keywords: [app]\n    pattern: 'app ([0-9]+)'\n    examples: ['app 12']\n    negative_examples: ['nothing']\n",
        "example.yaml",
    )
    .unwrap();
    let more = builtin.extend(&extra).unwrap();
    let scanner = cached(&cache, &more);
    let report = scan(&scanner, &paths[0]);
    assert_eq!(report.stats.layers_from_cache, 0, "other rules: every layer read again");
    assert!(report.findings.iter().any(|f| f.rule_id == "example.app-line"));
    let admin = scanner.cache_admin(&cache).unwrap();
    assert_eq!(admin.info().unwrap().entries, 6);
    assert_eq!(admin.prune(layerdig::scan::Prune::Stale).unwrap(), 3, "the built-in rules' entries");
    assert_eq!(admin.info().unwrap().entries, 3);
    // And the same rules again: all from the cache.
    assert_eq!(scan(&cached(&cache, &more), &paths[0]).stats.layers_from_cache, 3);
}

#[test]
fn a_corrupt_entry_or_database_is_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let paths = images(dir.path(), 1);
    let cache = dir.path().join("cache");
    let rules = Rules::builtin();
    let cold = scan(&cached(&cache, &rules), &paths[0]);
    // Damage the database file's pages in the middle (where the entries are).
    let file = layerdig::scan::cache_file(&cache);
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 2..] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();
    let after = scan(&cached(&cache, &rules), &paths[0]);
    assert_eq!(seen(&after), seen(&cold), "never a wrong result from a damaged cache");
    assert!(!after.stats.incomplete);
    // Garbage instead of a database: set aside, rebuilt, said.
    std::fs::write(&file, b"garbage".repeat(1000)).unwrap();
    let rebuilt = scan(&cached(&cache, &rules), &paths[0]);
    assert_eq!(seen(&rebuilt), seen(&cold));
    assert!(rebuilt.errors.iter().any(|e| e.message.contains("rebuilt")), "{:?}", rebuilt.errors);
    assert_eq!(scan(&cached(&cache, &rules), &paths[0]).stats.layers_from_cache, 3, "and it works again");
}

#[test]
fn layer_results_as_bytes_resolve_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let paths = images(dir.path(), 1);
    let scanner = Scanner::new(&Rules::builtin());
    let source = layerdig::ImageSource::open(&paths[0]).unwrap();
    let mut results = HashMap::new();
    for layer in &source.images()[0].layers {
        let id = layer.id().unwrap().to_string();
        let result = scanner.layer_result_of(&source, &id).unwrap();
        assert!(result.is_clean());
        let bytes = result.to_bytes();
        // Every corruption is refused, never trusted.
        for at in [0, 4, 10, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(LayerResult::from_bytes(&bad).is_err(), "flipped byte {at}");
        }
        assert!(LayerResult::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        results.insert(id, LayerResult::from_bytes(&bytes).unwrap());
    }
    let mut sink = Collect::new();
    let stats = scanner.resolve(&source, &results, &mut sink).unwrap();
    let resolved = sink.into_report(stats);
    assert_eq!(resolved.stats.layers_from_cache, 3);
    assert_eq!(resolved.stats.bytes, 0);
    assert_eq!(seen(&resolved), seen(&scan(&Scanner::new(&Rules::builtin()), &paths[0])));
}
