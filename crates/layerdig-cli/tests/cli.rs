//! The `layerdig` command end to end, on the committed fixture images (`fixtures/images`, with
//! `planted.json` saying which secret is where) and on small inputs made here: every command,
//! output format, exit status, filter, policy entry kind, and the baseline (redaction has
//! its own test target, `tests/redaction.rs`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use layerdig_tests::copy_tree;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The four forms of the demo image.
const FORMS: [&str; 4] = ["demo.docker.tar", "demo.oci.tar", "demo.zstd.oci", "demo.umoci.oci"];

/// The fastest form to read (uncompressed layers), for tests about the CLI rather than formats.
const DOCKER: &str = "demo.docker.tar";

/// `layerdig` with no inherited colour or policy surprises: run in an empty directory.
fn layerdig() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerdig"));
    cmd.env_remove("NO_COLOR").env_remove("COLUMNS").current_dir(std::env::temp_dir());
    cmd
}

fn run(args: &[&str]) -> Output {
    layerdig().args(args).output().expect("run layerdig")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    layerdig().current_dir(dir).args(args).output().expect("run layerdig")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit status")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

fn jsonl_out(o: &Output) -> Vec<Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}"))).collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The planted secrets.
fn planted() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("planted.json")).expect("planted.json");
    let v: Value = serde_json::from_str(&text).expect("planted.json is JSON");
    v["planted"].as_array().expect("planted").clone()
}

fn planted_values() -> Vec<String> {
    planted().iter().map(|p| p["secret"].as_str().expect("secret").trim().to_string()).collect()
}

/// The strings that must never appear without --show-secrets: each one-line secret, and for
/// multi-line ones (PEM keys) every body line long enough to be distinctive.
fn secret_probes() -> Vec<String> {
    let mut probes = Vec::new();
    for value in planted_values() {
        if value.contains('\n') {
            probes.extend(value.lines().filter(|l| l.len() >= 24 && !l.starts_with("-----")).map(str::to_string));
        } else {
            probes.push(value);
        }
    }
    assert!(probes.len() > 10);
    probes
}

fn assert_no_secret(what: &str, text: &str) {
    for probe in secret_probes() {
        assert!(!text.contains(&probe), "{what} shows a planted secret starting {:?}", &probe[..6]);
    }
}

/// Expected (status, removed_in_layer) of a planted file in a form.
fn expected_status(p: &Value, form: &str) -> (&'static str, Option<u64>) {
    let status = p["status"].as_str().expect("status");
    if status.starts_with("present") {
        if form == "demo.umoci.oci" && status.contains("deleted in layer 8") {
            return ("deleted", Some(8));
        }
        return ("present", None);
    }
    match status {
        "deleted" => ("deleted", p["removed_in_layer"].as_u64()),
        "overwritten" => ("overwritten", p["removed_in_layer"].as_u64()),
        other => panic!("unknown planted status {other}"),
    }
}

/// The finding whose secret is `value`.
fn finding_with_secret<'a>(report: &'a Value, value: &str) -> Option<&'a Value> {
    report["findings"].as_array()?.iter().find(|f| f["secret"].as_str().is_some_and(|s| s.trim() == value.trim()))
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> =
        v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).take(10).collect();
    assert!(errors.is_empty(), "{what} does not validate:\n{}", errors.join("\n"));
}

fn schema_of(kind: &str) -> Value {
    let o = run(&["schema", kind]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json_out(&o)
}

/// A scratch directory holding a plain-directory "image" with these files.
fn dir_image(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    dir
}

/// The planted AWS key pair, as an `.env` file would hold it.
fn aws_env() -> String {
    let values = planted_values();
    let id = values.iter().find(|v| v.starts_with("AKIA")).expect("planted AWS key id");
    let secret = &values[1];
    format!("AWS_ACCESS_KEY_ID={id}\nAWS_SECRET_ACCESS_KEY={secret}\n")
}

fn scan_json(image: &str, extra: &[&str]) -> (Output, Value) {
    let path = fixture(image);
    let mut args = vec!["scan", "-f", "json", path_str(&path)];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v = json_out(&o);
    (o, v)
}

fn rule_ids(report: &Value) -> Vec<String> {
    findings(report).iter().map(|f| f["rule_id"].as_str().expect("rule_id").to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Every planted secret, every form

#[test]
fn scan_shows_every_planted_secret_with_its_status_and_layer_in_every_form() {
    for form in FORMS {
        let (o, report) = scan_json(form, &["--show-secrets"]);
        assert_eq!(code(&o), 1, "{form}: critical secrets fail the default gate; stderr: {}", stderr(&o));
        assert!(report["errors"].as_array().expect("errors").is_empty(), "{form}: {}", report["errors"]);
        for p in planted() {
            let value = p["secret"].as_str().expect("secret");
            let f = finding_with_secret(&report, value).unwrap_or_else(|| {
                panic!("{form}: planted secret {:?}… not found; rules: {:?}", &value[..6], rule_ids(&report))
            });
            let locations = f["locations"].as_array().expect("locations");
            match p["path"].as_str() {
                Some(path) => {
                    let layer = p["layer"].as_u64().expect("layer");
                    let (status, removed) = expected_status(&p, form);
                    let loc = locations
                        .iter()
                        .find(|l| l["path"] == json!(path) && l["layer_index"] == json!(layer))
                        .unwrap_or_else(|| panic!("{form}: {path} in layer {layer} not among {locations:#?}"));
                    assert_eq!(loc["status"], json!(status), "{form}: {path}");
                    assert_eq!(loc["removed_in_layer"], json!(removed), "{form}: {path}");
                    assert_eq!(loc["source"], json!("file"));
                    assert!(loc["layer_digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{form}: {path}");
                    assert!(loc["line"].as_u64().is_some_and(|l| l >= 1), "{form}: {path}");
                    assert_eq!(loc["disposition"], json!("actionable"), "{form}: {path}");
                    assert_eq!(f["fails_gate"], json!(true), "{form}: {path}");
                }
                None => {
                    assert!(
                        locations.iter().any(|l| l["source"] == json!("config")
                            && l["config_key"].as_str().is_some_and(|k| k.starts_with("Env"))),
                        "{form}: the config secret is not in Env: {locations:#?}"
                    );
                    assert!(locations.iter().any(|l| l["source"] == json!("history")), "{form}: nor in the history");
                }
            }
        }

        // The human report tells the same story: badge, path, the layer that added it and the
        // one that removed it (issue 12: `app/.env:2:19  added in layer 1 (COPY …), deleted in
        // layer 2 (RUN rm /app/.env)`).
        let o = run(&["scan", "--color", "never", path_str(&fixture(form))]);
        assert_eq!(code(&o), 1, "{form}");
        let text = stdout(&o);
        let has_line = |parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
        for p in planted() {
            let Some(path) = p["path"].as_str() else {
                assert!(has_line(&["CONFIG ", "Env[", "in the image config"]), "{form}: {text}");
                assert!(has_line(&["HISTORY ", "history[", "in the build history"]), "{form}: {text}");
                continue;
            };
            let layer = p["layer"].as_u64().expect("layer");
            let (badge, fate) = match expected_status(&p, form) {
                ("present", _) => ("PRESENT".to_string(), "still present".to_string()),
                (s, Some(m)) if m == layer => (s.to_uppercase(), format!("{s} later in the same layer")),
                (s, Some(m)) => (s.to_uppercase(), format!("{s} in layer {m} (")),
                (s, None) => (s.to_uppercase(), s.to_string()),
            };
            let added = format!("added in layer {layer} (");
            let place = format!("  {path}:");
            assert!(
                has_line(&[&badge, &place, &added, &fate]),
                "{form}: no line with {badge} {path} {added} {fate} in\n{text}"
            );
        }
        assert!(text.contains("recoverable from history"), "{form}: {text}");
        assert_no_secret(form, &text);
    }
}

// ---------------------------------------------------------------------------------------------
// Formats

#[test]
fn human_report_snapshot() {
    let o = run_in(&fixtures(), &["scan", "--color", "never", DOCKER]);
    assert_eq!(code(&o), 1);
    insta::with_settings!({filters => vec![(r"in \d+\.\d+s", "in [duration]")]}, {
        insta::assert_snapshot!("human_demo_docker", stdout(&o));
    });
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn json_report_keeps_the_contract_and_validates_against_layerdig_schema() {
    let report_schema = validator(&schema_of("report"));
    let (o, report) = scan_json(DOCKER, &[]);
    assert_eq!(code(&o), 1);
    assert_valid(&report_schema, &report, "the JSON report");
    // The names other tools rely on.
    layerdig_tests::assert_json_contract(&report["images"][0], &findings(&report)[0]);
    assert_eq!(report["gate"]["exit_code"], json!(1));
    assert_eq!(report["gate"]["result"], json!("fail"));
    assert_eq!(report["gate"]["fail_on"], json!("high"));
    assert_eq!(report["stats"]["findings"].as_u64(), Some(findings(&report).len() as u64));
    // Most severe first.
    let rank = |s: &Value| ["low", "medium", "high", "critical"].iter().position(|x| s == x).expect("severity");
    let sev: Vec<usize> = findings(&report).iter().map(|f| rank(&f["severity"])).collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]), "{sev:?}");

    // With secrets shown, still valid.
    let (_, shown) = scan_json(DOCKER, &["--show-secrets"]);
    assert_valid(&report_schema, &shown, "the JSON report with --show-secrets");
}

#[test]
fn a_decoded_secret_says_its_encoding_in_every_format() {
    let token = layerdig_tests::github_token();
    let yaml = format!("kind: Secret\ndata:\n  GITHUB_TOKEN: {}\n", layerdig_tests::base64(token.as_bytes()));
    let dir = dir_image(&[("deploy/secret.yaml", &yaml)]);
    let image = path_str(dir.path());

    let o = run(&["scan", "-f", "json", image]);
    let report = json_out(&o);
    assert_valid(&validator(&schema_of("report")), &report, "a report with a decoded secret");
    let loc = &findings(&report)[0]["locations"][0];
    assert_eq!((&loc["encoding"], &loc["line"]), (&json!("base64"), &json!(3)), "{report:#}");

    let o = run(&["scan", "-f", "jsonl", image]);
    let line_schema = validator(&schema_of("jsonl"));
    let lines = jsonl_out(&o);
    for line in &lines {
        assert_valid(&line_schema, line, "a JSON line");
    }
    assert!(stdout(&o).contains("\"encoding\":\"base64\""), "{}", stdout(&o));

    let o = run(&["scan", "-f", "sarif", image]);
    let doc = json_out(&o);
    assert_eq!(doc["runs"][0]["results"][0]["properties"]["encoding"], json!("base64"));

    let o = run(&["scan", "--color", "never", image]);
    assert!(
        stdout(&o).contains("deploy/secret.yaml:3:17  added in layer 0, still present  (base64)"),
        "{}",
        stdout(&o)
    );
    assert_no_secret("the human report", &stdout(&o));
}

#[test]
fn several_images_are_scanned_and_one_secret_is_one_finding_across_them() {
    let paths: Vec<PathBuf> = FORMS.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["scan", "-f", "json", "--threads", "2"];
    args.extend(paths.iter().map(|p| path_str(p)));
    let o = run(&args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let report = json_out(&o);
    assert_valid(&validator(&schema_of("report")), &report, "a report of four images");
    assert_eq!(report["images"].as_array().map(Vec::len), Some(4));
    assert_eq!(report["stats"]["images"], json!(4));
    // The same secret in four images: one finding, locations in each.
    let fps: HashSet<&str> = findings(&report).iter().map(|f| f["fingerprint"].as_str().expect("fp")).collect();
    assert_eq!(fps.len(), findings(&report).len(), "fingerprints are unique");
    for f in findings(&report) {
        let images: HashSet<&str> =
            f["locations"].as_array().expect("locations").iter().map(|l| l["image"].as_str().expect("image")).collect();
        assert_eq!(images.len(), 4, "{} is in every form", f["rule_id"]);
    }
    // --threads 1 finds the same.
    args[4] = "1";
    let one = json_out(&run(&args));
    let fps1: HashSet<&str> = findings(&one).iter().map(|f| f["fingerprint"].as_str().expect("fp")).collect();
    assert_eq!(fps, fps1);
}

#[test]
fn jsonl_streams_one_object_a_line_valid_against_the_line_schema() {
    let line_schema = validator(&schema_of("jsonl"));
    let a = fixture(DOCKER);
    let b = fixture("demo.zstd.oci");
    let o = run(&["scan", "-f", "jsonl", path_str(&a), path_str(&b)]);
    assert_eq!(code(&o), 1);
    let lines = jsonl_out(&o);
    for (i, line) in lines.iter().enumerate() {
        assert_valid(&line_schema, line, &format!("line {}", i + 1));
    }
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().expect("type")).collect();
    assert_eq!(kinds.first(), Some(&"image"));
    assert_eq!(kinds.last(), Some(&"stats"));
    assert_eq!(kinds.iter().filter(|k| **k == "image").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "stats").count(), 1);
    // Findings are per image, as produced: each image's findings follow its image line.
    let mut current = None;
    for line in &lines {
        match line["type"].as_str() {
            Some("image") => current = line["path"].as_str(),
            Some("finding") => {
                assert!(
                    line["locations"].as_array().expect("locations").iter().all(|l| l["image"].as_str() == current)
                );
            }
            _ => {}
        }
    }
    let stats = lines.last().expect("stats line");
    assert_eq!(stats["gate"]["exit_code"], json!(1));
    assert_eq!(stats["findings"].as_u64(), Some(kinds.iter().filter(|k| **k == "finding").count() as u64));
    assert_no_secret("jsonl", &stdout(&o));
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("SARIF schema")).expect("schema JSON");
    let sarif_schema = validator(&schema);
    for form in [DOCKER, "demo.umoci.oci"] {
        let o = run(&["scan", "-f", "sarif", path_str(&fixture(form))]);
        assert_eq!(code(&o), 1, "{form}");
        let doc = json_out(&o);
        assert_valid(&sarif_schema, &doc, &format!("{form} SARIF"));
        assert_eq!(doc["version"], json!("2.1.0"));
        let run0 = &doc["runs"][0];
        let rules = run0["tool"]["driver"]["rules"].as_array().expect("rules");
        assert!(!rules.is_empty());
        for rule in rules {
            assert!(rule["help"]["text"].as_str().is_some_and(|t| t.contains("Revoke")), "help text: {rule}");
            assert!(rule["properties"]["security-severity"].as_str().is_some(), "severity: {rule}");
        }
        let results = run0["results"].as_array().expect("results");
        assert!(results.len() >= planted().len());
        for r in results {
            assert!(r["partialFingerprints"]["secretFingerprint/v1"].as_str().is_some_and(|f| f.len() == 64));
            let props = &r["properties"];
            assert!(props["image"].as_str().is_some_and(|i| i.ends_with(form)));
            assert!(props.get("layerIndex").is_some() && props.get("status").is_some());
        }
        // The deleted .env is reported with its status and layer.
        assert!(
            results
                .iter()
                .any(|r| r["properties"]["status"] == json!("deleted") && r["properties"]["layerIndex"] == json!(1))
        );
        assert_no_secret("SARIF", &stdout(&o));
    }
}

#[test]
fn sarif_leaves_out_what_the_policy_allows_and_notes_test_fixtures() {
    let image = dir_image(&[("app/tests/.env", &aws_env()), ("srv/.env", &aws_env())]);
    let policy = tempfile::tempdir().expect("tempdir");
    let config = policy.path().join("policy.toml");
    std::fs::write(&config, "[[allow]]\npath = \"srv/**\"\nreason = \"staging keys, rotated daily\"\n").expect("write");
    let o = run(&["scan", "-f", "sarif", "--config", path_str(&config), path_str(image.path())]);
    let doc = json_out(&o);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(uri.starts_with("app/tests/"), "allowed location in SARIF: {uri}");
        assert_eq!(r["level"], json!("note"), "a test fixture is a note");
    }
    assert_eq!(code(&o), 0, "only test fixtures left: {}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Exit status

#[test]
fn exit_0_when_nothing_actionable() {
    let clean = dir_image(&[("app/README", "nothing to see here\n"), ("app/config.yml", "token: ${GITHUB_TOKEN}\n")]);
    for format in ["human", "json", "jsonl", "sarif"] {
        let o = run(&["scan", "-f", format, path_str(clean.path())]);
        assert_eq!(code(&o), 0, "{format}: {}{}", stdout(&o), stderr(&o));
    }
    let o = run(&["scan", "--color", "never", path_str(clean.path())]);
    assert!(stdout(&o).contains("PASS: nothing actionable at or above high (exit 0)"), "{}", stdout(&o));
}

#[test]
fn exit_1_on_findings_at_or_above_fail_on_and_policy_fail_on() {
    // Make every finding of the demo image medium, then move the threshold around.
    let (_, report) = scan_json(DOCKER, &[]);
    let mut toml = String::from("[severity]\n");
    for id in rule_ids(&report) {
        toml.push_str(&format!("{id:?} = \"medium\"\n"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("layerdig.toml"), &toml).expect("write");
    let image = fixture(DOCKER);
    let img = path_str(&image);
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", img])), 0, "medium findings pass the default high gate");
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", "--fail-on", "medium", img])), 1);
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", "--fail-on", "low", img])), 1);
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", "--fail-on", "critical", img])), 0);
    // fail_on in the policy file; --fail-on on the command line wins over it.
    std::fs::write(dir.path().join("layerdig.toml"), format!("fail_on = \"medium\"\n{toml}")).expect("write");
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", img])), 1);
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", "--fail-on", "high", img])), 0);
    // --no-config ignores the file: the real severities fail the default gate.
    assert_eq!(code(&run_in(dir.path(), &["scan", "-q", "--no-config", img])), 1);
    // The override shows in the report.
    let o = run_in(dir.path(), &["scan", "-f", "json", img]);
    assert!(findings(&json_out(&o)).iter().all(|f| f["severity"] == json!("medium")));
    let o = run_in(dir.path(), &["scan", "-f", "sarif", img]);
    let doc = json_out(&o);
    for rule in doc["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules") {
        assert_eq!(rule["properties"]["severity"], json!("medium"), "{rule}");
        assert_eq!(rule["defaultConfiguration"]["level"], json!("warning"));
    }
}

#[test]
fn exit_2_on_errors_with_partial_results_still_written() {
    // An unreadable input.
    let o = run(&["scan", "-f", "json", "/nonexistent/image.tar"]);
    assert_eq!(code(&o), 2);
    let report = json_out(&o);
    assert_eq!(report["errors"][0]["incomplete"], json!(true));
    assert_eq!(report["gate"]["result"], json!("incomplete"));
    assert!(stderr(&o).contains("/nonexistent/image.tar"), "{}", stderr(&o));

    // A copy of the umoci image whose settings.yml layer (6) is cut short: the other layers are
    // still scanned and reported.
    let (_dir, copy, blob) = umoci_copy_with_layer_6_blob();
    let bytes = std::fs::read(&blob).expect("blob");
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).expect("truncate");
    for format in ["json", "human", "jsonl", "sarif"] {
        let o = run(&["scan", "-f", format, "--color", "never", path_str(&copy)]);
        assert_eq!(code(&o), 2, "{format}: an incomplete scan exits 2 even with failing findings");
        if format == "json" {
            let report = json_out(&o);
            assert_valid(&validator(&schema_of("report")), &report, "a report with errors");
            let errors = report["errors"].as_array().expect("errors");
            assert!(
                errors.iter().any(|e| e["incomplete"] == json!(true) && e["layer_index"] == json!(6)),
                "{errors:#?}"
            );
            assert!(rule_ids(&report).len() >= planted().len() - 1, "the other layers' findings are kept");
            assert!(stderr(&o).contains("layer 6"), "the error names the layer: {}", stderr(&o));
        }
        if format == "human" {
            let text = stdout(&o);
            assert!(text.contains("INCOMPLETE"), "{text}");
            assert!(text.contains("error: ") && text.contains("layer 6"), "{text}");
            // One section for the image, its problems under it (they come before the image).
            let headers = text.lines().filter(|l| l.starts_with(path_str(&copy))).count();
            assert_eq!(headers, 1, "{text}");
        }
    }
}

/// A scratch copy of the umoci fixture, and the path of its layer 6 blob (app/settings.yml) in
/// the copy, for tests that damage one layer.
fn umoci_copy_with_layer_6_blob() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("demo.oci");
    copy_tree(&fixture("demo.umoci.oci"), &copy);
    let (_, good) = scan_json("demo.umoci.oci", &[]);
    let digest = good["images"][0]["layers"][6]["digest"].as_str().expect("layer 6 digest").to_string();
    let blob = copy.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    (dir, copy, blob)
}

/// Issue 7: a layer blob that is a symbolic link out of the image directory is an error at that
/// layer, never followed; the exit code is 2 and the other layers' findings are still printed.
#[cfg(unix)]
#[test]
fn hostile_layer_link_out_of_the_image_exits_2_with_the_other_findings() {
    let (_dir, copy, blob) = umoci_copy_with_layer_6_blob();
    std::fs::remove_file(&blob).expect("rm blob");
    std::os::unix::fs::symlink("/etc/passwd", &blob).expect("symlink");
    let o = run(&["scan", "-f", "json", path_str(&copy)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let report = json_out(&o);
    let errors = report["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["layer_index"] == json!(6)
            && e["incomplete"] == json!(true)
            && e["message"].as_str().is_some_and(|m| m.contains("links outside the image directory"))),
        "{errors:#?}"
    );
    assert!(rule_ids(&report).len() >= planted().len() - 1, "the other layers' findings are kept");
    assert!(!stdout(&o).contains("root:") && !stderr(&o).contains("root:"), "the link was not followed");
}

// ---------------------------------------------------------------------------------------------
// Filters

#[test]
fn status_and_severity_filters() {
    let (_, all) = scan_json(DOCKER, &[]);
    let total = findings(&all).len() as u64;

    let (_, deleted) = scan_json(DOCKER, &["--status", "deleted"]);
    assert!(!findings(&deleted).is_empty());
    for f in findings(&deleted) {
        assert!(f["locations"].as_array().expect("locations").iter().all(|l| l["status"] == json!("deleted")), "{f}");
    }
    assert!(
        findings(&deleted).iter().all(|f| f["locations"][0]["source"] == json!("file")),
        "config locations have no status"
    );

    let (_, two) = scan_json(DOCKER, &["--status", "present", "--status", "overwritten"]);
    let statuses: HashSet<&str> = findings(&two)
        .iter()
        .flat_map(|f| f["locations"].as_array().expect("l").iter())
        .map(|l| l["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, HashSet::from(["present", "overwritten"]));
    assert_eq!(two["stats"]["filtered"].as_u64().expect("filtered") + findings(&two).len() as u64, total);

    let (_, critical) = scan_json(DOCKER, &["--min-severity", "critical"]);
    assert!(!findings(&critical).is_empty());
    assert!(findings(&critical).iter().all(|f| f["severity"] == json!("critical")));
    assert!(critical["stats"]["filtered"].as_u64().expect("filtered") > 0);

    // Filtered-out findings do not fail the gate.
    let (o, none) = scan_json(DOCKER, &["--status", "present", "--min-severity", "critical", "--fail-on", "critical"]);
    assert_eq!(code(&o), 1, "the present RSA key is critical");
    assert_eq!(findings(&none).len(), 1, "{}", none["findings"]);
}

#[test]
fn test_fixtures_are_counted_but_fail_only_with_include_test_fixtures() {
    let image = dir_image(&[("app/tests/.env", &aws_env())]);
    let path = path_str(image.path());
    let o = run(&["scan", "-f", "json", path]);
    assert_eq!(code(&o), 0, "a secret under tests/ does not fail the gate: {}", stdout(&o));
    let report = json_out(&o);
    assert!(!findings(&report).is_empty(), "it is still reported");
    for f in findings(&report) {
        assert_eq!(f["locations"][0]["disposition"], json!("test_fixture"));
        assert_eq!(f["fails_gate"], json!(false));
    }
    assert!(report["stats"]["by_disposition"]["test_fixture"].as_u64().is_some_and(|n| n > 0));
    let o = run(&["scan", "--color", "never", path]);
    assert!(stdout(&o).contains("(test fixture)") && stdout(&o).contains("in test fixtures"), "{}", stdout(&o));

    let o = run(&["scan", "-q", "--include-test-fixtures", path]);
    assert_eq!(code(&o), 1, "with --include-test-fixtures it fails");
}

// ---------------------------------------------------------------------------------------------
// Policy file

fn policy_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("layerdig.toml"), text).expect("write policy");
    dir
}

fn suppressed_rules(report: &Value) -> Vec<(String, Value)> {
    findings(report)
        .iter()
        .filter_map(|f| f.get("suppressed").map(|s| (f["rule_id"].as_str().expect("rule_id").to_string(), s.clone())))
        .collect()
}

#[test]
fn policy_allow_by_rule_path_image_and_fingerprint() {
    let image = fixture(DOCKER);
    let img = path_str(&image);
    let (_, report) = scan_json(DOCKER, &[]);
    let aws_rule = rule_ids(&report).into_iter().find(|r| r.starts_with("aws.access")).expect("an AWS key id rule");
    let rsa = findings(&report)
        .iter()
        .find(|f| f["locations"][0]["path"] == json!("etc/ssl/private/tls.key"))
        .expect("the RSA key")
        .clone();
    let schema = validator(&schema_of("report"));

    // By rule (a glob), by path (a glob), by fingerprint.
    let dir = policy_dir(&format!(
        "[[allow]]\nrule = \"{aws_rule}\"\nreason = \"rotated\"\n\n\
         [[allow]]\npath = \"/root/.ssh/**\"\nreason = \"throwaway key\"\nexpires = 2999-12-31\n\n\
         [[allow]]\nfingerprint = \"{}\"\nreason = \"self-signed test cert\"\n",
        rsa["fingerprint"].as_str().expect("fingerprint")
    ));
    let o = run_in(dir.path(), &["scan", "-f", "json", img]);
    let r = json_out(&o);
    assert_valid(&schema, &r, "a report with suppressions");
    let suppressed = suppressed_rules(&r);
    assert_eq!(suppressed.len(), 3, "{suppressed:#?}");
    let by_entry = |n: u64| suppressed.iter().find(|(_, s)| s["entry"] == json!(n)).cloned();
    assert_eq!(by_entry(1).map(|(r, s)| (r, s["reason"].clone())), Some((aws_rule.clone(), json!("rotated"))));
    assert_eq!(by_entry(2).expect("path entry").1["expires"], json!("2999-12-31"));
    assert_eq!(by_entry(3).expect("fingerprint entry").0, rsa["rule_id"].as_str().expect("rule").to_string());
    for f in findings(&r) {
        if f.get("suppressed").is_some() {
            assert_eq!(f["fails_gate"], json!(false), "{f}");
            assert!(f["locations"].as_array().expect("l").iter().all(|l| l.get("suppressed").is_some()));
        }
    }
    assert_eq!(r["stats"]["suppressed"], json!(3));
    assert_eq!(r["gate"]["policy"], json!("layerdig.toml"));
    assert_eq!(code(&o), 1, "the rest still fails");
    // The human report hides them and says so.
    let o = run_in(dir.path(), &["scan", "--color", "never", img]);
    assert!(stdout(&o).contains("3 allowed by the policy"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("/root/.ssh/id_ed25519"), "{}", stdout(&o));

    // By image: a glob over the path, the file name, a tag or the digest.
    let tag_dir = policy_dir("[[allow]]\nimage = \"localhost/layerdig-demo:*\"\nreason = \"the demo image\"\n");
    let o = run_in(tag_dir.path(), &["scan", "-q", path_str(&fixture("demo.oci.tar"))]);
    assert_eq!(code(&o), 0, "everything in the tagged image is allowed: {}", stdout(&o));
    let name_dir = policy_dir("[[allow]]\nimage = \"demo.docker.*\"\nreason = \"the demo image\"\n");
    let o = run_in(name_dir.path(), &["scan", "-f", "json", img, path_str(&fixture("demo.zstd.oci"))]);
    let r = json_out(&o);
    for f in findings(&r) {
        for l in f["locations"].as_array().expect("locations") {
            let allowed = l.get("suppressed").is_some();
            assert_eq!(allowed, l["image"].as_str().expect("image").ends_with(DOCKER), "{l}");
        }
        assert!(f.get("suppressed").is_none(), "the zstd copy is not allowed");
    }
    assert_eq!(code(&o), 1);
    // Several criteria in one entry must all match.
    let both =
        policy_dir(&format!("[[allow]]\nrule = \"{aws_rule}\"\npath = \"etc/**\"\nreason = \"never matches\"\n"));
    let r = json_out(&run_in(both.path(), &["scan", "-f", "json", img]));
    assert!(suppressed_rules(&r).is_empty());
}

#[test]
fn expired_allow_entries_stop_suppressing_and_say_so() {
    let image = fixture(DOCKER);
    let dir = policy_dir("[[allow]]\npath = \"app/**\"\nreason = \"was fine last year\"\nexpires = 2020-01-31\n");
    let o = run_in(dir.path(), &["scan", "-f", "json", path_str(&image)]);
    let err = stderr(&o);
    assert!(err.contains("warning") && err.contains("expired on 2020-01-31") && err.contains("entry 1"), "{err}");
    assert!(suppressed_rules(&json_out(&o)).is_empty(), "an expired entry suppresses nothing");
    // Quoted dates work too, and a date in the future suppresses.
    let dir = policy_dir("[[allow]]\npath = \"app/**\"\nreason = \"until the rebuild\"\nexpires = \"2999-01-31\"\n");
    let o = run_in(dir.path(), &["scan", "-f", "json", path_str(&image)]);
    assert!(!stderr(&o).contains("expired"), "{}", stderr(&o));
    assert!(suppressed_rules(&json_out(&o)).len() >= 5);
}

#[test]
fn invalid_policy_files_are_errors_that_say_what_is_wrong() {
    let image = fixture(DOCKER);
    let cases = [
        ("[[allow]]\nrule = \"aws.*\"\n", "`reason` is required"),
        ("[[allow]]\nreason = \"why\"\n", "at least one of"),
        ("[[allow]]\npath = \"a/[\"\nreason = \"r\"\n", "bad path glob"),
        ("[[allow]]\nfingerprint = \"abc\"\nreason = \"r\"\n", "64 hex digits"),
        ("[[allow]]\nrule = \"x\"\nreason = \"r\"\nexpires = \"next year\"\n", "must be a date"),
        ("fail_on = \"severe\"\n", "fail_on"),
        ("[[alow]]\nrule = \"x\"\n", "unknown field"),
    ];
    for (text, want) in cases {
        let dir = policy_dir(text);
        let o = run_in(dir.path(), &["scan", path_str(&image)]);
        assert_eq!(code(&o), 2, "{text}");
        assert!(stderr(&o).contains("layerdig.toml") && stderr(&o).contains(want), "{text}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    // --config names the file; a missing one is an error.
    let o = run(&["scan", "--config", "/nonexistent/layerdig.toml", path_str(&image)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("/nonexistent/layerdig.toml"), "{}", stderr(&o));
    let dir = policy_dir("");
    let elsewhere = dir.path().join("strict.toml");
    std::fs::write(&elsewhere, "fail_on = \"low\"\n").expect("write");
    let o = run(&["scan", "-f", "json", "--config", path_str(&elsewhere), path_str(&image)]);
    assert_eq!(json_out(&o)["gate"]["fail_on"], json!("low"));
}

// ---------------------------------------------------------------------------------------------
// Baseline

#[test]
fn baseline_then_scan_fails_only_on_new_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("baseline.json");
    let image = fixture(DOCKER);
    let o = run(&["baseline", path_str(&image), "-o", path_str(&file)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).expect("baseline written");
    assert_no_secret("the baseline file", &text);
    let baseline: Value = serde_json::from_str(&text).expect("baseline JSON");
    assert_valid(&validator(&schema_of("baseline")), &baseline, "the baseline");
    let (_, report) = scan_json(DOCKER, &[]);
    let fps: HashSet<&str> = findings(&report).iter().map(|f| f["fingerprint"].as_str().expect("fp")).collect();
    let base_fps: HashSet<&str> = baseline["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["fingerprint"].as_str().expect("fp"))
        .collect();
    assert_eq!(fps, base_fps);

    // Nothing new: exit 0, nothing reported, all counted as baselined. Other forms of the same
    // image carry the same secrets.
    for form in [DOCKER, "demo.zstd.oci"] {
        let o = run(&["scan", "-f", "json", "--baseline", path_str(&file), path_str(&fixture(form))]);
        assert_eq!(code(&o), 0, "{form}");
        let r = json_out(&o);
        assert!(findings(&r).is_empty());
        assert_eq!(r["stats"]["baselined"].as_u64(), Some(fps.len() as u64));
        assert_eq!(r["gate"]["baseline"].as_str(), Some(path_str(&file)));
    }

    // Drop one entry: that finding is new, and only it is reported and fails.
    let mut reduced = baseline.clone();
    let removed = reduced["findings"].as_array_mut().expect("findings").remove(0);
    std::fs::write(&file, serde_json::to_string(&reduced).expect("json")).expect("write");
    let o = run(&["scan", "-f", "json", "--baseline", path_str(&file), path_str(&image)]);
    assert_eq!(code(&o), 1);
    let r = json_out(&o);
    assert_eq!(findings(&r).len(), 1);
    assert_eq!(findings(&r)[0]["fingerprint"], removed["fingerprint"]);

    // A JSON report, or a plain list of fingerprints, works as a baseline too.
    let report_file = dir.path().join("report.json");
    std::fs::write(&report_file, serde_json::to_string(&report).expect("json")).expect("write");
    assert_eq!(code(&run(&["scan", "-q", "--baseline", path_str(&report_file), path_str(&image)])), 0);
    let list_file = dir.path().join("list.json");
    std::fs::write(&list_file, serde_json::to_string(&fps.iter().collect::<Vec<_>>()).expect("json")).expect("write");
    assert_eq!(code(&run(&["scan", "-q", "--baseline", path_str(&list_file), path_str(&image)])), 0);
    // A file that is not a baseline is an error.
    std::fs::write(&list_file, "{\"nothing\": 1}").expect("write");
    let o = run(&["scan", "-q", "--baseline", path_str(&list_file), path_str(&image)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("baseline"), "{}", stderr(&o));
    // To standard output.
    let o = run(&["baseline", "-q", path_str(&image)]);
    assert_eq!(code(&o), 0);
    assert_eq!(json_out(&o)["layerdig_baseline"], json!(1));
}

// ---------------------------------------------------------------------------------------------
// Redaction: every command, format and error path, with and without --show-secrets, and the
// modes of report files, are tested in `tests/redaction.rs`.

// ---------------------------------------------------------------------------------------------
// Sweep

#[test]
fn sweep_finds_every_image_under_a_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    std::fs::create_dir_all(r.join("team-a/nested")).expect("mkdir");
    std::fs::create_dir_all(r.join("team-b")).expect("mkdir");
    std::fs::copy(fixture(DOCKER), r.join("team-a/app.tar")).expect("copy");
    copy_tree(&fixture("demo.zstd.oci"), &r.join("team-a/nested/app-oci"));
    std::fs::copy(fixture("demo.oci.tar"), r.join("team-b/app-oci.tar")).expect("copy");
    // Not images: a plain tarball, a web app's manifest.json, other files.
    let src = dir_image(&[("notes.txt", "hello\n")]);
    let plain = std::process::Command::new("tar")
        .args(["cf", path_str(&r.join("team-b/backup.tar")), "-C", path_str(src.path()), "notes.txt"])
        .status()
        .expect("tar");
    assert!(plain.success());
    std::fs::create_dir_all(r.join("team-b/web")).expect("mkdir");
    std::fs::write(r.join("team-b/web/manifest.json"), "{\"name\": \"app\"}").expect("write");
    std::fs::write(r.join("team-b/web/index.html"), "<html></html>").expect("write");

    let o = run(&["sweep", path_str(r)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let line_schema = validator(&schema_of("jsonl"));
    let lines = jsonl_out(&o);
    for line in &lines {
        assert_valid(&line_schema, line, "a sweep line");
    }
    let images: Vec<&str> =
        lines.iter().filter(|l| l["type"] == json!("image")).map(|l| l["path"].as_str().expect("path")).collect();
    let mut names: Vec<String> =
        images.iter().map(|p| Path::new(p).strip_prefix(r).expect("under root").display().to_string()).collect();
    names.sort();
    assert_eq!(names, ["team-a/app.tar", "team-a/nested/app-oci", "team-b/app-oci.tar"]);
    // Every planted secret of each image is in the stream.
    let per_image = lines.iter().filter(|l| l["type"] == json!("finding")).count();
    assert!(per_image >= 3 * planted().len(), "{per_image}");
    assert_eq!(lines.last().expect("stats")["type"], json!("stats"));
    // The summary table on stderr.
    let table = stderr(&o);
    for name in ["team-a/app.tar", "team-a/nested/app-oci", "team-b/app-oci.tar"] {
        assert!(table.lines().any(|l| l.starts_with(name) && l.ends_with("fail")), "{name} row in\n{table}");
    }
    assert!(table.contains("IMAGE") && table.contains("3 image input(s)"), "{table}");
    assert!(table.contains("skipped 1 .tar file(s) that are not images"), "{table}");

    // -q: no table; -o: the stream goes to a file.
    let out = root.path().join("sweep.jsonl");
    let o = run(&["sweep", "-q", "-o", path_str(&out), path_str(&r.join("team-b"))]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&out).expect("read").lines().count() > planted().len());

    // A directory with no images is clean; a file is not a directory.
    assert_eq!(code(&run(&["sweep", "-q", path_str(&r.join("team-b/web"))])), 0);
    let o = run(&["sweep", path_str(&r.join("team-a/app.tar"))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Schema, layers, ls, rules

#[test]
fn schema_command_prints_json_schemas() {
    for kind in ["report", "jsonl", "baseline"] {
        let schema = schema_of(kind);
        assert_eq!(schema["$schema"], json!("https://json-schema.org/draft/2020-12/schema"), "{kind}");
        assert!(jsonschema::meta::is_valid(&schema), "{kind} is a valid JSON Schema");
        validator(&schema);
    }
    // Default is the report.
    let o = run(&["schema"]);
    assert_eq!(json_out(&o)["title"], json!("layerdig JSON report"));
}

#[test]
fn layers_and_ls_list_the_image() {
    let image = fixture(DOCKER);
    let img = path_str(&image);
    let o = run(&["layers", img]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("rm /app/.env") && text.contains("CREATED BY"), "{text}");
    let o = run(&["layers", "-f", "json", img]);
    let doc = json_out(&o);
    assert_eq!(doc[0]["layers"].as_array().map(Vec::len), Some(8));

    let o = run(&["ls", "--deleted", img]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.lines().any(|l| l.contains("/app/.env") && l.contains("deleted in layer 2")), "{text}");
    assert!(text.lines().all(|l| l.contains("deleted")), "{text}");
    let o = run(&["ls", "-f", "json", img]);
    let files = json_out(&o);
    let settings = files
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == json!("app/settings.yml") && f["layer_index"] == json!(6))
        .expect("settings.yml in layer 6");
    assert_eq!((settings["status"].clone(), settings["removed_in_layer"].clone()), (json!("overwritten"), json!(7)));

    for cmd in ["layers", "ls"] {
        let o = run(&[cmd, "/nonexistent/image.tar"]);
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("/nonexistent/image.tar"), "{}", stderr(&o));
    }
}

#[test]
fn platform_picks_one_image() {
    let image = fixture("demo.oci.tar");
    let (o, report) = scan_json("demo.oci.tar", &["--platform", "linux/amd64"]);
    assert_eq!(code(&o), 1);
    assert_eq!(report["images"][0]["platform"], json!("linux/amd64"));
    let o = run(&["scan", "-f", "json", "--platform", "linux/s390x", path_str(&image)]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("no image for platform linux/s390x") && err.contains("layerdig layers"), "{err}");
    assert_eq!(json_out(&o)["errors"][0]["incomplete"], json!(true));
}

const GOOD_RULES: &str = r#"provider: Acme
rules:
  - id: acme.api-key
    name: Acme API key
    severity: high
    keywords: [acmekey_]
    pattern: '\b(acmekey_[a-z0-9]{24})\b'
    references: [https://acme.example/docs/keys]
    examples:
      - 'ACME_KEY=acmekey_0123456789abcdefghijklmn'
      - 'key: acmekey_zyxwvutsrqponmlkjihgfedc'
    negative_examples:
      - 'ACME_KEY=acmekey_short'
"#;

#[test]
fn rules_list_check_and_extra_rules_in_scans() {
    let o = run(&["rules", "list"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).trim_end().ends_with("rules"), "{}", stdout(&o));
    let o = run(&["rules", "list", "-f", "json"]);
    let list = json_out(&o);
    let ids: HashSet<&str> = list.as_array().expect("rules").iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert!(ids.len() > 10);

    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("acme.yaml");
    std::fs::write(&good, GOOD_RULES).expect("write");
    let o = run(&["rules", "check", path_str(&good)]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("1 rules ok"), "{}", stdout(&o));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, GOOD_RULES.replace("'key: acmekey_zyxwvutsrqponmlkjihgfedc'", "'key: nothing here'"))
        .expect("write");
    let o = run(&["rules", "check", path_str(&bad)]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("acme.api-key"), "{}", stdout(&o));
    assert_eq!(code(&run(&["rules", "check", "/nonexistent/rules.yaml"])), 2);

    // --rules adds to the built-in rules.
    let o = run(&["rules", "list", "-f", "json", "--rules", path_str(&good)]);
    assert!(json_out(&o).as_array().expect("rules").iter().any(|r| r["id"] == json!("acme.api-key")));
    let image = dir_image(&[("srv/app.conf", "key = acmekey_0123456789abcdefghijklmn\n")]);
    let o = run(&["scan", "-f", "json", "--rules", path_str(&good), path_str(image.path())]);
    assert_eq!(code(&o), 1);
    assert!(rule_ids(&json_out(&o)).contains(&"acme.api-key".to_string()));
}

// ---------------------------------------------------------------------------------------------
// Feel: colour, progress, quiet, help, broken pipe

#[test]
fn colour_follows_the_flag_and_no_color() {
    let image = fixture(DOCKER);
    let img = path_str(&image);
    assert!(stdout(&run(&["scan", "--color", "always", img])).contains("\x1b["));
    assert!(!stdout(&run(&["scan", "--color", "never", img])).contains("\x1b["));
    // auto: not a terminal here.
    assert!(!stdout(&run(&["scan", img])).contains("\x1b["));
    let o = layerdig().env("NO_COLOR", "1").args(["scan", img]).output().expect("run");
    assert!(!stdout(&o).contains("\x1b["));
}

#[test]
fn progress_on_stderr_only_when_asked_or_on_a_terminal() {
    let image = fixture(DOCKER);
    let img = path_str(&image);
    let o = run(&["scan", "-f", "json", "--progress", "always", img]);
    assert!(stderr(&o).contains("layers") && stderr(&o).contains("images"), "{}", stderr(&o));
    json_out(&o); // stdout is still just the report
    for args in [
        vec!["scan", "-f", "json", img],
        vec!["scan", "-f", "json", "--progress", "never", img],
        vec!["scan", "-f", "json", "-q", "--progress", "always", img],
    ] {
        let o = run(&args);
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn quiet_drops_the_summary() {
    let image = fixture(DOCKER);
    let loud = stdout(&run(&["scan", "--color", "never", path_str(&image)]));
    let quiet = stdout(&run(&["scan", "-q", "--color", "never", path_str(&image)]));
    assert!(loud.contains("FAIL:") && !quiet.contains("FAIL:"));
    assert!(quiet.contains("deleted in layer 2 (RUN rm /app/.env)"), "{quiet}");
}

#[test]
fn help_shows_an_example_per_command() {
    for cmd in [
        vec![],
        vec!["scan"],
        vec!["sweep"],
        vec!["baseline"],
        vec!["layers"],
        vec!["ls"],
        vec!["schema"],
        vec!["rules", "list"],
        vec!["rules", "check"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let o = run(&args);
        assert_eq!(code(&o), 0, "{args:?}");
        let text = stdout(&o);
        assert!(text.contains("Example"), "{args:?}: {text}");
        assert!(text.contains("layerdig "), "{args:?}");
    }
    assert!(stdout(&run(&["--help"])).contains("Exit status"));
    assert_eq!(code(&run(&["scan"])), 2, "a usage error");
}

#[test]
fn a_closed_pipe_stops_quietly() {
    use std::process::Stdio;
    let image = fixture(DOCKER);
    for format in ["jsonl", "json", "human"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerdig"))
            .args(["scan", "-f", format, path_str(&image), path_str(&image)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.is_empty(), "{format}: {err}");
        assert_ne!(out.status.code(), Some(2), "{format}: a closed pipe is not an error");
    }
}

#[test]
fn max_layer_bytes_cuts_big_layers_short_and_says_so() {
    // Layer 0 of the demo image unpacks to 1.9 MiB; the others are a few KiB.
    let image = fixture("demo.oci.tar");
    let o = run(&["scan", "-f", "json", "--max-layer-bytes", "64K", image.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "a layer cut short makes the scan incomplete: {}", stderr(&o));
    let report = json_out(&o);
    let errors = report["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["layer_index"] == json!(0) && e["message"].as_str().unwrap().contains("cap of 65536 bytes")),
        "{errors:?}"
    );
    // The small layers above it are still read: their secrets are still reported.
    let rules: Vec<&str> = findings(&report).iter().filter_map(|f| f["rule_id"].as_str()).collect();
    assert!(rules.contains(&"aws.access-key-id"), "{rules:?}");
    let bad = run(&["scan", "--max-layer-bytes", "lots", image.to_str().unwrap()]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("--max-layer-bytes") && stderr(&bad).contains("\"lots\""), "{}", stderr(&bad));
}

// ---------------------------------------------------------------------------------------------
// The report model: in-toto, deadlines

#[test]
fn in_toto_statement_validates_and_names_the_image_digest() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/in-toto-statement-v1.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("in-toto schema")).expect("schema JSON");
    let statement_schema = validator(&schema);
    for form in ["demo.oci.tar", DOCKER] {
        let image = fixture(form);
        let o = run(&["scan", "-f", "in-toto", "--now", "2026-12-01", path_str(&image)]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let doc = json_out(&o);
        assert_valid(&statement_schema, &doc, form);
        let json = json_out(&run(&["scan", "-f", "json", "--now", "2026-12-01", path_str(&image)]));
        // The predicate is the JSON report, byte for byte as a value.
        assert_eq!(doc["predicate"], json, "{form}");
        let digest = json["images"][0]["digest"].as_str().expect("image digest");
        let (alg, hex) = digest.split_once(':').expect("alg:hex");
        assert_eq!(doc["subject"][0]["digest"][alg], json!(hex), "{form}");
        assert_no_secret(form, &stdout(&o));
    }
    // A plain directory has no digest to name: a clear error, exit 2.
    let dir = dir_image(&[("app/.env", &aws_env())]);
    let o = run(&["scan", "-f", "in-toto", path_str(dir.path())]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    assert!(stderr(&o).contains("no image or layer digest"), "{}", stderr(&o));
}

#[test]
fn fail_on_overdue_gates_on_deadlines_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("layerdig.toml"), "[sla]\ncritical = \"24h\"\nhigh = \"7d\"\n").expect("policy");
    let image = fixture(DOCKER);
    let image = path_str(&image);
    // No baseline: everything was first seen now, so nothing is overdue.
    let o = run_in(dir.path(), &["scan", "-f", "json", "--fail-on", "overdue", "--now", "2026-12-01", image]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = json_out(&o);
    assert!(findings(&report).iter().all(|f| f["sla"]["state"] == "due"), "{report:#}");
    assert_eq!(report["gate"]["fail_on"], "overdue");
    // The same scan with the default threshold fails on severity as before.
    assert_eq!(code(&run_in(dir.path(), &["scan", "--now", "2026-12-01", image])), 1);
    // A baseline from two days earlier: criticals are overdue, highs are not.
    let o = run_in(dir.path(), &["baseline", "--now", "2026-11-29", "-o", "b.json", image]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run_in(
        dir.path(),
        &["scan", "-f", "json", "--baseline", "b.json", "--fail-on", "overdue", "--now", "2026-12-01", image],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let report = json_out(&o);
    for f in findings(&report) {
        let want = if f["severity"] == "critical" { "overdue" } else { "due" };
        assert_eq!(f["sla"]["state"], want, "{f:#}");
        assert_eq!(f["baselined"], true);
        assert_eq!(f["fails_gate"], want == "overdue");
    }
    assert!(report["stats"]["overdue"].as_u64().is_some_and(|n| n > 0));
    // The human report says so.
    let o = run_in(dir.path(), &["scan", "--baseline", "b.json", "--fail-on", "overdue", "--now", "2026-12-01", image]);
    assert!(stdout(&o).contains("OVERDUE since 2026-11-30T00:00:00Z"), "{}", stdout(&o));
    // A new baseline keeps first_seen of what the previous one knew.
    let o = run_in(dir.path(), &["baseline", "--previous", "b.json", "--now", "2026-12-01", "-o", "c.json", image]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let c: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).unwrap()).unwrap();
    assert!(c["findings"].as_array().unwrap().iter().all(|e| e["first_seen"] == "2026-11-29T00:00:00Z"), "{c:#}");
}

/// A two-layer OCI layout whose layer 1 blob is replaced by another layer's (valid, but not the
/// bytes the manifest names: its digest, size and diff_id do not match).
fn swapped_blob_layout(dir: &Path) {
    use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, compress, sha256};
    let key = "AKIAQYLPMN5HHHFPZAM2";
    let layer = |path: &str| LayerBuilder::new().file(path, format!("aws_access_key_id = {key}\n").as_bytes()).finish();
    let image = SynthImage::new(vec![
        SynthLayer::new(layer("app/.env"), Comp::Gzip, "COPY .env"),
        SynthLayer::new(layer("b/.env"), Comp::Gzip, "RUN build"),
    ]);
    let mut layout = Layout::oci(&[image], false, false);
    let blob = compress(&layer("b/.env"), Comp::Gzip);
    layout.replace_blob(&sha256(&blob), compress(&layer("swapped/something/longer/.env"), Comp::Gzip));
    layout.write_dir(dir);
}

/// Issue 14 (integrity is part of the verdict): bytes that are not the ones the manifest vouches
/// for fail the gate with exit 2, whatever the findings, unless the policy allows it.
#[test]
fn digest_and_size_mismatches_fail_the_gate_unless_the_policy_allows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("img");
    swapped_blob_layout(&image);
    let img = path_str(&image);
    // Even with nothing that fails on severity (the key made low), the mismatch does.
    let low = "[severity]\n\"aws.access-key-id\" = \"low\"\n";
    std::fs::write(dir.path().join("layerdig.toml"), low).expect("policy");
    let o = run_in(dir.path(), &["scan", "-f", "json", img]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let report = json_out(&o);
    assert_valid(&validator(&schema_of("report")), &report, "a report with a mismatch");
    assert_eq!(report["gate"]["result"], "integrity");
    assert_eq!(report["gate"]["integrity"], "mismatch");
    let kinds: HashSet<&str> = report["errors"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, HashSet::from(["digest_mismatch", "size_mismatch"]), "{:#}", report["errors"]);
    assert!(report["errors"].as_array().unwrap().iter().all(|e| e["incomplete"] == false && e["layer_index"] == 1));
    assert!(stderr(&o).contains("layerdig: error: ") && stderr(&o).contains("blob size mismatch"), "{}", stderr(&o));
    // The layer was still read: its secret is reported.
    assert!(
        findings(&report).iter().any(|f| f["locations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["path"] == "swapped/something/longer/.env"))
    );
    let human = stdout(&run_in(dir.path(), &["scan", "--color", "never", img]));
    assert!(human.contains("INTEGRITY: the bytes read are not the bytes the manifest vouches for"), "{human}");
    assert!(human.contains("(exit 2)") && human.contains("error: "), "{human}");
    // The policy can allow it, with a reason: the gate then judges the findings alone.
    let allow = "[integrity]\nallow_digest_mismatch = true\nreason = \"our mirror recompresses layers\"\n";
    std::fs::write(dir.path().join("layerdig.toml"), format!("{low}{allow}")).expect("policy");
    let o = run_in(dir.path(), &["scan", "-f", "json", img]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = json_out(&o);
    assert_eq!(
        (report["gate"]["result"].as_str(), report["gate"]["integrity"].as_str()),
        (Some("pass"), Some("allowed"))
    );
    assert!(stderr(&o).contains("layerdig: warning: ") && !stderr(&o).contains("layerdig: error: "), "{}", stderr(&o));
    std::fs::write(dir.path().join("layerdig.toml"), allow).expect("policy");
    let o = run_in(dir.path(), &["scan", "-f", "json", img]);
    assert_eq!(code(&o), 1, "the findings alone decide: {}", stderr(&o));
    // Without a reason the policy is refused.
    std::fs::write(dir.path().join("layerdig.toml"), "[integrity]\nallow_digest_mismatch = true\n").expect("policy");
    let o = run_in(dir.path(), &["scan", img]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("needs a `reason`"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Standard input and the layer cache

/// (rule, fingerprint, path, status, layer) of every location.
fn locations(report: &Value) -> Vec<(String, String, String, String, u64)> {
    let mut out: Vec<_> = findings(report)
        .iter()
        .flat_map(|f| {
            f["locations"].as_array().unwrap().iter().map(move |l| {
                (
                    f["rule_id"].as_str().unwrap().to_string(),
                    f["fingerprint"].as_str().unwrap().to_string(),
                    l["path"].as_str().unwrap_or("").to_string(),
                    l["status"].as_str().unwrap_or("").to_string(),
                    l["layer_index"].as_u64().unwrap_or(u64::MAX),
                )
            })
        })
        .collect();
    out.sort();
    out
}

#[test]
fn scan_dash_reads_an_archive_from_standard_input() {
    for form in ["demo.docker.tar", "demo.oci.tar"] {
        let file = run(&["scan", "-f", "json", "--now", "2026-12-01", path_str(&fixture(form))]);
        let piped = layerdig()
            .args(["scan", "-f", "json", "--now", "2026-12-01", "-"])
            .pipe_stdin(fixture(form))
            .unwrap()
            .output()
            .unwrap();
        assert_eq!(code(&piped), code(&file), "{form}: {}", stderr(&piped));
        let (file, piped) = (json_out(&file), json_out(&piped));
        assert_eq!(locations(&piped), locations(&file), "{form}");
        assert_eq!(piped["images"][0]["format"], "archive-stream");
    }
    // Not an archive: exit 2, a clear error.
    let o = layerdig().args(["scan", "-"]).write_stdin("hello").output().unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn two_processes_share_one_cache_and_cache_info_and_prune_report_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cache = path_str(&cache);
    let images = [fixture("demo.docker.tar"), fixture("demo.oci.tar"), fixture("archives.docker.tar")];
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> =
            ["scan", "-f", "json", "--now", "2026-12-01", "--cache", cache].map(String::from).to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(images.iter().map(|p| p.display().to_string()));
        a
    };
    // Two at once, on the same cache directory.
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_layerdig"))
            .args(args(&[]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(code(&a), code(&b), "{} {}", stderr(&a), stderr(&b));
    let (ja, jb) = (json_out(&a), json_out(&b));
    assert!(ja["errors"].as_array().unwrap().is_empty(), "{}", ja["errors"]);
    assert!(jb["errors"].as_array().unwrap().is_empty(), "{}", jb["errors"]);
    assert_eq!(locations(&ja), locations(&jb));
    // Warm: every layer from the cache, nothing read.
    let warm = json_out(&run(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(warm["stats"]["layers_from_cache"], warm["stats"]["layers"]);
    assert_eq!(warm["stats"]["bytes"], 0);
    assert_eq!(locations(&warm), locations(&ja));
    let info = json_out(&run(&["cache", "info", "--cache", cache, "-f", "json"]));
    let entries = info["entries"].as_u64().unwrap();
    assert!(entries > 0 && info["current"] == info["entries"], "{info}");
    // Other options: nothing of the cache is current for them; prune with them removes it all.
    let other = json_out(&run(&["cache", "info", "--cache", cache, "-f", "json", "--archive-depth", "0"]));
    assert_eq!(other["current"], 0);
    let o = run(&["cache", "prune", "--cache", cache]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "removed 0 entries"));
    let o = run(&["cache", "prune", "--cache", cache, "--all"]);
    assert_eq!(stdout(&o).trim(), format!("removed {entries} entries"));
}
