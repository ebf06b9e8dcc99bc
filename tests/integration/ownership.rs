//! Issue 13 (who owns each file): a finding in a file a package installed, whose bytes still
//! hash to the digest the package database recorded, is `third_party` and names the package; a
//! finding in such a file whose bytes do not is `modified` and stays actionable; a file a
//! package owns without a recorded digest (npm) is `third_party`, unverified. The databases are
//! real formats — dpkg's status, lists and md5sums (a real Debian `netbase` stanza with its real
//! `/etc/protocols`), a Python wheel's RECORD, an npm package.json — in a real image layout.

use std::path::Path;

use layerdig::finding::Disposition;
use layerdig::ownership::{Ecosystem, FileOwner, OwnerVerdict};
use layerdig::{Collect, Location, Report, Rules, Scanner, Status};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, github_token};
use md5::{Digest as _, Md5};
use sha2::Sha256;

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";
const NETBASE_STATUS: &str = include_str!("../../crates/layerdig/src/ownership/testdata/dpkg/status");
const PROTOCOLS: &[u8] = include_bytes!("../../crates/layerdig/src/ownership/testdata/files/protocols");

fn scan(path: &Path) -> Report {
    let mut sink = Collect::new();
    let stats = Scanner::new(&Rules::builtin()).scan_path(path, &mut sink).expect("collect");
    sink.into_report(stats)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL-safe base64 without padding a wheel's RECORD writes for a SHA-256.
fn record_hash(bytes: &[u8]) -> String {
    let standard = layerdig_tests::base64(&Sha256::digest(bytes));
    standard.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// Every location at `path`, across findings, with its finding's rule.
fn at<'r>(report: &'r Report, path: &str) -> Vec<(&'r str, &'r Location)> {
    report
        .findings
        .iter()
        .flat_map(|f| f.locations.iter().map(move |l| (f.rule_id.as_str(), l)))
        .filter(|(_, l)| l.path.as_deref() == Some(path))
        .collect()
}

fn owner_of(report: &Report, path: &str) -> (Disposition, Option<FileOwner>) {
    let locations = at(report, path);
    let (_, l) = locations.first().unwrap_or_else(|| panic!("no finding at {path}: {:#?}", report.findings));
    (l.disposition, l.owner.clone())
}

/// A dpkg package of our own whose API example holds a key-shaped value, the real netbase
/// stanza whose conffile `/etc/protocols` a build step appended a key to, a Python package with
/// one file as installed and one changed, an npm package, and the image's own code.
fn image(dir: &Path) -> (String, String) {
    let example = format!("{{\"aws_access_key_id\": \"{KEY}\", \"region\": \"eu-west-1\"}}\n").into_bytes();
    let status = format!(
        "{NETBASE_STATUS}\nPackage: examplepkg\nStatus: install ok installed\nArchitecture: all\nVersion: 1.2-3\nDescription: an example\n"
    );
    let list = "/.\n/usr\n/usr/share\n/usr/share/examplepkg\n/usr/share/examplepkg/api-example.json\n";
    let md5sums = format!("{}  usr/share/examplepkg/api-example.json\n", hex(&Md5::digest(&example)));
    let mut protocols = PROTOCOLS.to_vec();
    protocols.extend_from_slice(format!("# deploy: aws_access_key_id = {KEY}\n").as_bytes());
    let base = LayerBuilder::new()
        .file("var/lib/dpkg/status", status.as_bytes())
        .file("var/lib/dpkg/info/examplepkg.list", list.as_bytes())
        .file("var/lib/dpkg/info/examplepkg.md5sums", md5sums.as_bytes())
        .file("usr/share/examplepkg/api-example.json", &example)
        .file("etc/protocols", &protocols)
        .finish();
    let token = github_token();
    let init = format!("DEFAULT_TOKEN = \"{token}\"\n").into_bytes();
    let original = b"def helper():\n    return 1\n".to_vec();
    let mut changed = original.clone();
    changed.extend_from_slice(format!("GITHUB_TOKEN = \"{token}\"\n").as_bytes());
    let site = "usr/lib/python3/dist-packages";
    // A compressed data file, as API models are shipped: the RECORD has the archive's digest.
    let model = layerdig_tests::compress(format!("{{\"exampleKey\": \"{KEY}\"}}\n").as_bytes(), Comp::Gzip);
    let record = format!(
        "examplelib/__init__.py,sha256={},{}\nexamplelib/helpers.py,sha256={},{}\nexamplelib/data/model.json.gz,sha256={},{}\nexamplelib-2.0.dist-info/RECORD,,\n",
        record_hash(&init),
        init.len(),
        record_hash(&original),
        original.len(),
        record_hash(&model),
        model.len()
    );
    let npm_index = format!("module.exports = {{ token: \"{token}\" }};\n").into_bytes();
    let app = LayerBuilder::new()
        .file(&format!("{site}/examplelib/__init__.py"), &init)
        .file(&format!("{site}/examplelib/helpers.py"), &changed)
        .file(&format!("{site}/examplelib/data/model.json.gz"), &model)
        .file(&format!("{site}/examplelib-2.0.dist-info/RECORD"), record.as_bytes())
        .file("app/node_modules/padder/package.json", br#"{"name": "padder", "version": "1.0.0"}"#)
        .file("app/node_modules/padder/index.js", &npm_index)
        .file("app/settings.py", format!("AWS_ACCESS_KEY_ID = \"{KEY}\"\n").as_bytes())
        .finish();
    // A later layer deletes the example: its finding is recoverable, and still the package's.
    let cleanup = LayerBuilder::new().whiteout("usr/share/examplepkg/api-example.json").finish();
    let image = SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "ADD rootfs"),
        SynthLayer::new(app, Comp::Zstd, "COPY . /"),
        SynthLayer::new(cleanup, Comp::None, "RUN rm api-example.json"),
    ]);
    Layout::oci(&[image], false, false).write_dir(dir);
    let expected = format!("md5:{}", hex(&Md5::digest(PROTOCOLS)));
    let actual = format!("md5:{}", hex(&Md5::digest(&protocols)));
    (expected, actual)
}

#[test]
fn package_files_are_third_party_and_changed_ones_stay_actionable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (protocols_expected, protocols_actual) = image(dir.path());
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    let owner = |ecosystem, package: &str, version: &str, verdict| FileOwner {
        ecosystem,
        package: package.to_string(),
        version: Some(version.to_string()),
        verdict,
        expected: None,
        actual: None,
    };
    // dpkg: as installed (and deleted by a later layer: the database as the layer that wrote
    // the file had it still owns it).
    let example = "usr/share/examplepkg/api-example.json";
    assert_eq!(
        owner_of(&report, example),
        (Disposition::ThirdParty, Some(owner(Ecosystem::Debian, "examplepkg", "1.2-3", OwnerVerdict::Verified)))
    );
    assert_eq!(at(&report, example)[0].1.status, Some(Status::Deleted));
    // dpkg: a real conffile with a key appended after installation.
    let (disposition, protocols) = owner_of(&report, "etc/protocols");
    assert_eq!(disposition, Disposition::Actionable);
    assert_eq!(
        protocols,
        Some(FileOwner {
            expected: Some(protocols_expected),
            actual: Some(protocols_actual),
            ..owner(Ecosystem::Debian, "netbase", "6.4", OwnerVerdict::Modified)
        })
    );
    // Python: as installed, and changed.
    let site = "usr/lib/python3/dist-packages/examplelib";
    assert_eq!(
        owner_of(&report, &format!("{site}/__init__.py")),
        (Disposition::ThirdParty, Some(owner(Ecosystem::Python, "examplelib", "2.0", OwnerVerdict::Verified)))
    );
    // Inside the package's compressed file: judged by the file's digest.
    assert_eq!(
        owner_of(&report, &format!("{site}/data/model.json.gz!model.json")),
        (Disposition::ThirdParty, Some(owner(Ecosystem::Python, "examplelib", "2.0", OwnerVerdict::Verified)))
    );
    let (disposition, helpers) = owner_of(&report, &format!("{site}/helpers.py"));
    assert_eq!(disposition, Disposition::Actionable);
    let helpers = helpers.expect("owned");
    assert_eq!((helpers.package.as_str(), helpers.verdict), ("examplelib", OwnerVerdict::Modified));
    assert!(helpers.expected.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{helpers:?}");
    assert_ne!(helpers.expected, helpers.actual);
    // npm records no digest: the package's, unverified.
    assert_eq!(
        owner_of(&report, "app/node_modules/padder/index.js"),
        (Disposition::ThirdParty, Some(owner(Ecosystem::Npm, "padder", "1.0.0", OwnerVerdict::Unverified)))
    );
    // The image's own code: no owner.
    assert_eq!(owner_of(&report, "app/settings.py"), (Disposition::Actionable, None));
    // A secret found only in a package's files is the package's finding: it does not fail the
    // gate; one also in the image's own code or in a changed file does.
    let dir = tempfile::tempdir().expect("tempdir");
    let token = github_token();
    let init = format!("DEFAULT_TOKEN = \"{token}\"\n").into_bytes();
    let record = format!("examplelib/__init__.py,sha256={},{}\n", record_hash(&init), init.len());
    let layer = LayerBuilder::new()
        .file("usr/lib/python3/dist-packages/examplelib/__init__.py", &init)
        .file("usr/lib/python3/dist-packages/examplelib-2.0.dist-info/RECORD", record.as_bytes())
        .finish();
    Layout::oci(
        &[SynthImage::new(vec![SynthLayer::new(layer, Comp::Gzip, "RUN pip install examplelib")])],
        false,
        false,
    )
    .write_dir(dir.path());
    let report = scan(dir.path());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].disposition(), Disposition::ThirdParty);
    assert_eq!(report.stats.by_disposition.get("third_party"), Some(&1), "{:?}", report.stats);
    let gate = layerdig::Gate::new(layerdig::policy::Policy::default(), layerdig::Clock::System);
    let judged = match gate.judge(&report.findings[0], Some(&report.images[0])) {
        layerdig::gate::Judgement::Report(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(judged.fails_gate, Some(false), "{judged:?}");
    // With test fixtures and third-party files included, it does.
    let gate =
        layerdig::Gate::new(layerdig::policy::Policy::default(), layerdig::Clock::System).include_test_fixtures(true);
    let judged = match gate.judge(&report.findings[0], Some(&report.images[0])) {
        layerdig::gate::Judgement::Report(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(judged.fails_gate, Some(true), "{judged:?}");
}

/// The JSON report carries the owner, and the human report names the package.
#[test]
fn reports_name_the_package_and_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    image(dir.path());
    let report = scan(dir.path());
    let json = serde_json::to_value(&report).expect("json");
    let locations: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["locations"].as_array().expect("locations"))
        .collect();
    let protocols = locations.iter().find(|l| l["path"] == "etc/protocols").expect("etc/protocols");
    assert_eq!(protocols["owner"]["ecosystem"], "dpkg");
    assert_eq!(protocols["owner"]["verdict"], "modified");
    assert!(protocols["owner"]["expected"].as_str().is_some_and(|e| e.starts_with("md5:")));
    let mut text = Vec::new();
    {
        use layerdig::report::{Printer as _, Sink as _};
        let mut printer = Box::new(layerdig::report::human::HumanPrinter::new(&mut text, false, false, Vec::new()));
        for image in &report.images {
            printer.image(image).expect("print");
        }
        for f in &report.findings {
            printer.finding(f).expect("print");
        }
        printer.finish(&layerdig::End { stats: report.stats.clone(), gate: None }).expect("print");
    }
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("third party: dpkg examplepkg 1.2-3, verified"), "{text}");
    assert!(text.contains("dpkg netbase 6.4, MODIFIED since installed"), "{text}");
}
