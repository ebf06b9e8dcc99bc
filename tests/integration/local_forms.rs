//! The explicit local input forms: `oci:DIR:REF` scans only the image whose
//! `org.opencontainers.image.ref.name` is REF; `oci:DIR` scans them all.

use layerdig::{Collect, Input, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, fixtures};

const KEY_ONE: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const KEY_TWO: &str = "AKIAB2C3D4E5F6G7H2J3";

fn scan(input: &str) -> Report {
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(true).threads(2).build(&rules).unwrap();
    let mut sink = Collect::new();
    let input = Input::parse(input).unwrap();
    let stats = scanner.scan_input(&input, &mut sink).unwrap();
    sink.into_report(stats)
}

fn secrets(report: &Report) -> Vec<String> {
    let mut out: Vec<String> =
        report.findings.iter().filter(|f| f.rule_id == "aws.access-key-id").filter_map(|f| f.secret.clone()).collect();
    out.sort();
    out
}

/// An OCI layout of two images named `one` and `two`, each with its own key.
fn two_images(dir: &std::path::Path) {
    let image = |key: &str| {
        let tar = LayerBuilder::new().file("app/.env", format!("AWS_ACCESS_KEY_ID={key}\n").as_bytes()).finish();
        SynthImage::new(vec![SynthLayer::new(tar, Comp::Gzip, "COPY app/ /app/")])
    };
    let mut layout = Layout::oci(&[image(KEY_ONE), image(KEY_TWO)], false, false);
    layout.edit_json("index.json", |index| {
        for (desc, name) in index["manifests"].as_array_mut().unwrap().iter_mut().zip(["one", "two"]) {
            desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        }
    });
    layout.write_dir(dir);
}

#[test]
fn oci_dir_ref_selects_the_image_of_that_ref_name() {
    let dir = tempfile::tempdir().unwrap();
    two_images(dir.path());
    let at = dir.path().display();
    assert_eq!(secrets(&scan(&format!("oci:{at}"))), vec![KEY_TWO.to_string(), KEY_ONE.to_string()]);
    for (reference, key) in [("one", KEY_ONE), ("two", KEY_TWO)] {
        let report = scan(&format!("oci:{at}:{reference}"));
        assert!(report.errors.is_empty(), "{reference}: {:?}", report.errors);
        assert_eq!(report.images.len(), 1, "{reference}");
        assert_eq!(secrets(&report), vec![key.to_string()], "{reference}");
    }
    let report = scan(&format!("oci:{at}:three"));
    assert!(report.findings.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].incomplete);
    assert!(report.errors[0].message.contains("\"three\""), "{}", report.errors[0].message);
}

#[test]
fn oci_dir_ref_on_a_committed_fixture() {
    let dir = fixtures().join("demo.zstd.oci");
    let report = scan(&format!("oci:{}:latest", dir.display()));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.images.len(), 1);
    assert_eq!(report.images[0].layers.len(), 8);
    let report = scan(&format!("oci:{}:2", dir.display()));
    assert!(report.images.is_empty() && report.errors.len() == 1, "{:?}", report.errors);
}
