//! Secrets in the input's JSON documents (issue 14): an annotation of index.json's descriptor,
//! an annotation in a manifest, and a build argument in BuildKit's in-toto provenance behind an
//! attestation manifest. Each is reported with `source` `metadata` and the document, blob and
//! JSON path it is at. Blobs of a layout that nothing references are searched too (umoci leaves
//! the pre-repack config behind, with its secret).

use layerdig::{Collect, DocumentKind, Report, Rules, Scanner, Source};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, fixtures, github_token, sha256};
use serde_json::{Value, json};

const KEY: &str = "AKIAZ7Q3XH2PLMN4RT5V";

fn scan(path: &std::path::Path) -> Report {
    let rules = Rules::builtin();
    let scanner = Scanner::builder().show_secrets(true).threads(2).build(&rules).unwrap();
    let mut sink = Collect::new();
    let stats = scanner.scan_path(path, &mut sink).unwrap();
    sink.into_report(stats)
}

fn blob(layout: &mut Layout, value: &Value) -> (String, u64) {
    let bytes = serde_json::to_vec(value).unwrap();
    let digest = sha256(&bytes);
    let size = bytes.len() as u64;
    layout.files.push((format!("blobs/sha256/{}", &digest[7..]), bytes));
    (digest, size)
}

#[test]
fn annotations_and_provenance_build_arguments_are_searched() {
    let token = github_token();
    let layer = LayerBuilder::new().file("app/main.py", b"print('hello')\n").finish();
    let image = SynthImage::new(vec![SynthLayer::new(layer, Comp::Gzip, "COPY . /")]);
    let mut layout = Layout::oci(std::slice::from_ref(&image), false, false);
    let at = layout.files.iter().position(|(n, _)| n == "index.json").unwrap();
    let mut index: Value = serde_json::from_slice(&layout.files[at].1).unwrap();
    // An annotation on the image's descriptor.
    index["manifests"][0]["annotations"] = json!({"org.example.deploy-key": KEY});
    // A BuildKit attestation manifest whose provenance recorded a build argument.
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "pkg:docker/app", "digest": {"sha256": "00"}}],
        "predicate": {"invocation": {"parameters": {"frontend": "dockerfile.v0",
            "args": {"build-arg:GITHUB_TOKEN": token, "build-arg:VERSION": "1.2.3"}}}},
    });
    let (s_digest, s_size) = blob(&mut layout, &statement);
    let (c_digest, c_size) = blob(&mut layout, &json!({}));
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c_digest, "size": c_size},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": s_digest, "size": s_size,
            "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    });
    let (m_digest, m_size) = blob(&mut layout, &manifest);
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest, "size": m_size,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:00"},
    }));
    layout.files[at].1 = serde_json::to_vec(&index).unwrap();
    let dir = tempfile::tempdir().unwrap();
    layout.write_dir(dir.path());
    let report = scan(dir.path());
    assert!(report.errors.is_empty(), "{:#?}", report.errors);

    let place = |secret: &str| {
        report
            .findings
            .iter()
            .filter(|f| f.secret.as_deref() == Some(secret))
            .flat_map(|f| f.locations.iter())
            .find(|l| l.source == Source::Metadata)
            .and_then(|l| l.document.clone())
            .unwrap_or_else(|| panic!("{secret} not in the metadata: {:#?}", report.findings))
    };
    let annotation = place(KEY);
    assert_eq!(annotation.kind, DocumentKind::Index);
    assert_eq!(annotation.digest, None);
    assert_eq!(annotation.field, "manifests[0].annotations.org.example.deploy-key");
    let build_arg = place(&token);
    assert_eq!(build_arg.kind, DocumentKind::Attestation);
    assert_eq!(build_arg.digest.as_deref(), Some(s_digest.as_str()));
    assert_eq!(build_arg.field, "predicate.invocation.parameters.args.build-arg:GITHUB_TOKEN");
    // Nothing else in the documents is a finding (digests, media types, the version).
    let metadata = report.findings.iter().filter(|f| f.locations.iter().any(|l| l.source == Source::Metadata)).count();
    assert_eq!(metadata, 2, "{:#?}", report.findings);
    // The JSON report carries it.
    let json: Value = serde_json::from_str(&report.to_json(false).unwrap()).unwrap();
    let doc = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap())
        .find(|l| l["source"] == "metadata" && l["document"]["kind"] == "attestation")
        .unwrap();
    assert_eq!(doc["document"]["digest"], s_digest);
}

#[test]
fn the_committed_fixtures_documents_hold_only_what_umoci_left_behind() {
    for form in ["demo.oci.tar", "demo.zstd.oci", "archives.oci", "archives.zstd.oci"] {
        let report = scan(&fixtures().join(form));
        let metadata: Vec<_> =
            report.findings.iter().filter(|f| f.locations.iter().any(|l| l.source == Source::Metadata)).collect();
        assert!(metadata.is_empty(), "{form}: {metadata:#?}");
    }
    // umoci repack leaves the pre-repack manifest and config in blobs/, referenced by nothing;
    // that config still holds the Slack token of the ENV step, in Env and in the history.
    let report = scan(&fixtures().join("demo.umoci.oci"));
    let slack = report.findings.iter().find(|f| f.rule_id == "slack.bot-token").expect("the Slack token");
    let left: Vec<_> = slack.locations.iter().filter_map(|l| l.document.as_ref()).collect();
    assert_eq!(left.len(), 2, "{:#?}", slack.locations);
    assert!(left.iter().all(|d| d.kind == DocumentKind::Unreferenced && d.digest.is_some()));
    let mut fields: Vec<&str> = left.iter().map(|d| d.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["config.Env[1]", "history[8].created_by"]);
    // Nothing else in umoci's leftovers.
    let others = report
        .findings
        .iter()
        .filter(|f| f.rule_id != "slack.bot-token" && f.locations.iter().any(|l| l.source == Source::Metadata))
        .count();
    assert_eq!(others, 0);
}
