//! Issue 13 (base-image attribution): the layers an image shares with the image it was built on
//! are inherited; the others are introduced. The base is given (`--base`, `ScannerBuilder::base`)
//! or named by the manifest's annotations (`org.opencontainers.image.base.digest`, OCI image
//! spec) when the same input holds it. A policy key decides whether inherited findings fail.

use std::path::Path;

use layerdig::gate::Judgement;
use layerdig::image::BaseImage;
use layerdig::policy::Policy;
use layerdig::vocab::Origin;
use layerdig::{Clock, Collect, Finding, Gate, ImageSource, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer};
use serde_json::json;

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const KEY2: &str = "AKIAB2C3D4E5F6G7H2J3";

fn base_layers() -> Vec<SynthLayer> {
    vec![
        SynthLayer::new(
            LayerBuilder::new().file("etc/base.env", format!("AWS_ACCESS_KEY_ID={KEY}\n").as_bytes()).finish(),
            Comp::Gzip,
            "ADD rootfs",
        ),
        SynthLayer::new(LayerBuilder::new().file("etc/motd", b"hello\n").finish(), Comp::Gzip, "RUN motd"),
    ]
}

fn app_image() -> SynthImage {
    let mut layers = base_layers();
    layers.push(SynthLayer::new(
        LayerBuilder::new().file("app/.env", format!("AWS_ACCESS_KEY_ID={KEY2}\n").as_bytes()).finish(),
        Comp::Gzip,
        "COPY .env /app/",
    ));
    SynthImage::new(layers)
}

fn scan(path: &Path, base: Option<BaseImage>) -> Report {
    let mut builder = Scanner::builder();
    builder.base(base);
    let scanner = builder.build(&Rules::builtin()).expect("scanner");
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).expect("collect");
    sink.into_report(stats)
}

/// The finding of `key` (in the report's image of `platform`, when given).
fn finding<'r>(report: &'r Report, key: &str, platform: Option<&str>) -> &'r Finding {
    report
        .findings
        .iter()
        .find(|f| {
            f.redacted.starts_with(&key[..4])
                && f.locations.iter().any(|l| {
                    l.path.as_deref().is_some_and(|p| p.ends_with(".env"))
                        && platform.is_none_or(|p| l.platform.as_deref() == Some(p))
                        && (key == KEY) == l.path.as_deref().is_some_and(|p| p.starts_with("etc/"))
                })
        })
        .unwrap_or_else(|| panic!("{key}: {:#?}", report.findings))
}

/// The origin of `f`'s file location (in the image of `platform`, when given: one secret in
/// several images of an input is one finding with a location in each).
fn origin_in(f: &Finding, platform: Option<&str>) -> Option<Origin> {
    f.locations
        .iter()
        .find(|l| l.path.is_some() && platform.is_none_or(|p| l.platform.as_deref() == Some(p)))
        .and_then(|l| l.origin)
}

fn origin_at(f: &Finding) -> Option<Origin> {
    origin_in(f, None)
}

fn fails(gate: &Gate, f: &Finding) -> Option<bool> {
    match gate.judge(f, None) {
        Judgement::Report(f) => f.fails_gate,
        _ => None,
    }
}

#[test]
fn layers_shared_with_the_given_base_are_inherited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base_dir = dir.path().join("base");
    let app_dir = dir.path().join("app");
    Layout::oci(&[SynthImage::new(base_layers())], false, false).write_dir(&base_dir);
    Layout::oci(&[app_image()], false, false).write_dir(&app_dir);
    // Without a base, nothing says inherited or introduced.
    let plain = scan(&app_dir, None);
    assert_eq!(origin_at(finding(&plain, KEY, None)), None);
    assert!(plain.stats.by_origin.is_empty());
    let base = BaseImage::of(&ImageSource::open(&base_dir).expect("base"), None, "base").expect("an image");
    let report = scan(&app_dir, Some(base));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let inherited = finding(&report, KEY, None);
    let introduced = finding(&report, KEY2, None);
    assert_eq!((origin_at(inherited), origin_at(introduced)), (Some(Origin::Inherited), Some(Origin::Introduced)));
    assert_eq!(report.stats.by_origin.get("inherited"), Some(&1));
    assert_eq!(report.stats.by_origin.get("introduced"), Some(&1));
    let base = report.images[0].base.clone().expect("base report");
    assert_eq!((base.name.as_deref(), base.shared_layers), (Some("base"), Some(2)));
    // Inherited findings fail the gate by default; the policy can let them pass.
    let strict = Gate::new(Policy::default(), Clock::System);
    assert_eq!((fails(&strict, inherited), fails(&strict, introduced)), (Some(true), Some(true)));
    let today = Clock::System.now().date();
    let lenient =
        Gate::new(Policy::parse("[base]\nfail_on_inherited = false\n", today).expect("policy"), Clock::System);
    assert_eq!((fails(&lenient, inherited), fails(&lenient, introduced)), (Some(false), Some(true)));
    // A base that shares nothing: all introduced.
    let other_dir = dir.path().join("other");
    let other = SynthImage::new(vec![SynthLayer::new(
        LayerBuilder::new().file("etc/issue", b"other\n").finish(),
        Comp::Gzip,
        "ADD other",
    )]);
    Layout::oci(&[other], false, false).write_dir(&other_dir);
    let base = BaseImage::of(&ImageSource::open(&other_dir).expect("other"), None, "other").expect("an image");
    let report = scan(&app_dir, Some(base));
    assert_eq!(origin_at(finding(&report, KEY, None)), Some(Origin::Introduced));
    assert_eq!(report.images[0].base.as_ref().and_then(|b| b.shared_layers), Some(0));
}

#[test]
fn the_base_an_annotation_names_is_used_when_the_input_holds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut base = SynthImage::new(base_layers());
    base.platform = ("linux".into(), "arm64".into());
    let mut app = app_image();
    app.manifest_annotations = json!({
        "org.opencontainers.image.base.name": "registry.example.com/base:1",
        "org.opencontainers.image.base.digest": base.manifest_digest(),
    });
    Layout::oci(&[base, app], false, false).write_dir(dir.path());
    let report = scan(dir.path(), None);
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let app_report = report.images.iter().find(|i| i.platform.as_deref() == Some("linux/amd64")).expect("app");
    let base = app_report.base.clone().expect("base named");
    assert_eq!((base.name.as_deref(), base.shared_layers), (Some("registry.example.com/base:1"), Some(2)));
    let amd64 = Some("linux/amd64");
    assert_eq!(origin_in(finding(&report, KEY, amd64), amd64), Some(Origin::Inherited));
    assert_eq!(origin_in(finding(&report, KEY2, amd64), amd64), Some(Origin::Introduced));
    // In the base image itself, its own layers are not judged against anything.
    let arm64 = Some("linux/arm64");
    assert_eq!(origin_in(finding(&report, KEY, arm64), arm64), None);
    // The base image itself names no base.
    let base_report = report.images.iter().find(|i| i.platform.as_deref() == Some("linux/arm64")).expect("base");
    assert_eq!(base_report.base, None);
}
