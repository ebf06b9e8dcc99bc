//! Issue 7, "secrets stay secret", end to end: every command and output format, on standard
//! output, on standard error (progress bar on) and in files written with `-o`, shows the planted
//! secrets of the demo image (`fixtures/images/planted.json`) only in their redacted form unless
//! `--show-secrets`; with it they are shown, in files created with mode 0600. Error paths too:
//! damaged configs and manifests, cut-short layers, bad policy and rule files. And nothing is
//! written to disk but the report asked for.
//!
//! A secret counts as shown when any 12 characters in a row of it appear: a partial leak is a
//! leak. The redacted form (`AKIA… (20 chars)`) shows 4.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, copy_tree};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The length of the shortest run of a secret's characters that counts as showing it.
const WINDOW: usize = 12;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name)
}

const DOCKER: &str = "demo.docker.tar";
const FORMATS: [&str; 4] = ["human", "json", "jsonl", "sarif"];

/// The planted secrets, trimmed.
fn planted() -> Vec<String> {
    let text = std::fs::read_to_string(fixture("planted.json")).expect("planted.json");
    let v: Value = serde_json::from_str(&text).expect("planted.json is JSON");
    v["planted"]
        .as_array()
        .expect("planted")
        .iter()
        .map(|p| p["secret"].as_str().expect("secret").trim().to_string())
        .collect()
}

fn aws_key_id() -> String {
    planted().into_iter().find(|s| s.starts_with("AKIA")).expect("planted AWS key id")
}

/// Every run of `WINDOW` characters of every planted secret, within one line (a multi-line
/// secret may be printed with its newlines escaped).
struct Windows {
    set: HashSet<Vec<u8>>,
}

impl Windows {
    fn of(secrets: &[String]) -> Windows {
        let mut set = HashSet::new();
        for secret in secrets {
            for line in secret.lines() {
                for w in line.as_bytes().windows(WINDOW) {
                    set.insert(w.to_vec());
                }
            }
        }
        Windows { set }
    }

    fn planted() -> Windows {
        let w = Windows::of(&planted());
        assert!(w.set.len() > 1000, "{} windows", w.set.len());
        w
    }

    /// The first window of a secret found in `text`, if any.
    fn find<'a>(&self, text: &'a [u8]) -> Option<&'a [u8]> {
        text.windows(WINDOW).find(|w| self.set.contains(*w))
    }

    #[track_caller]
    fn assert_absent(&self, what: &str, text: &[u8]) {
        if let Some(w) = self.find(text) {
            panic!("{what} shows part of a planted secret: {:?}…", String::from_utf8_lossy(&w[..4]));
        }
    }

    /// Neither standard output nor standard error shows a secret.
    #[track_caller]
    fn assert_output_clean(&self, what: &str, o: &Output) {
        self.assert_absent(&format!("{what} (stdout)"), &o.stdout);
        self.assert_absent(&format!("{what} (stderr)"), &o.stderr);
    }
}

/// `layerdig` in an empty scratch directory (no policy file), with the progress bar drawn on
/// standard error whether or not it is a terminal, so what it prints is checked too.
fn layerdig(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerdig"));
    cmd.env_remove("NO_COLOR").env("COLUMNS", "200").current_dir(cwd);
    cmd
}

/// Whether a command takes `--progress`.
fn has_progress(args: &[&str]) -> bool {
    matches!(args.first(), Some(&("scan" | "sweep" | "baseline")))
}

fn run_in(cwd: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    if has_progress(args) {
        all.extend(["--progress", "always"]);
    }
    layerdig(cwd).args(&all).output().expect("run layerdig")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit status")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Every command that reads an image, with each of its output formats, to standard output.
fn commands_on(image: &str) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<&str>> = Vec::new();
    for format in FORMATS {
        all.push(vec!["scan", "-f", format, image]);
    }
    all.push(vec!["scan", "--color", "always", "--include-test-fixtures", image]);
    all.push(vec!["scan", "-f", "json", "--min-severity", "low", "--status", "deleted", image]);
    all.push(vec!["baseline", image]);
    all.push(vec!["layers", image]);
    all.push(vec!["layers", "-f", "json", image]);
    all.push(vec!["ls", image]);
    all.push(vec!["ls", "-f", "json", "--deleted", "--overwritten", image]);
    all.into_iter().map(|a| a.into_iter().map(str::to_string).collect()).collect()
}

fn run_all(cwd: &Path, commands: &[Vec<String>], mut check: impl FnMut(&str, &Output)) {
    for args in commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_in(cwd, &args);
        check(&args.join(" "), &o);
    }
}

// ---------------------------------------------------------------------------------------------
// Without --show-secrets: nothing shows a secret

#[test]
fn every_command_and_format_shows_secrets_redacted_only() {
    let windows = Windows::planted();
    let cwd = scratch();
    for form in ["demo.docker.tar", "demo.oci.tar", "demo.zstd.oci", "demo.umoci.oci"] {
        let image = fixture(form);
        run_all(cwd.path(), &commands_on(s(&image)), |what, o| {
            assert!(code(o) <= 1, "{what}: exit {}: {}", code(o), stderr(o));
            windows.assert_output_clean(&format!("{form}: {what}"), o);
        });
    }
    // The redacted forms are there: the check above looks at real reports.
    let o = run_in(cwd.path(), &["scan", "-f", "json", s(&fixture(DOCKER))]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("AKIA… (20 chars)") && text.contains("ghp_… (40 chars)"), "{text}");
}

#[test]
fn reports_written_with_output_show_secrets_redacted_only() {
    let windows = Windows::planted();
    let dir = scratch();
    let image = fixture(DOCKER);
    for format in FORMATS {
        let out = dir.path().join(format!("report.{format}"));
        let o = run_in(dir.path(), &["scan", "-f", format, "-o", s(&out), s(&image)]);
        assert_eq!(code(&o), 1, "{format}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{format}: the report goes to the file");
        windows.assert_output_clean(format, &o);
        windows.assert_absent(&format!("-f {format} -o"), &std::fs::read(&out).expect("report"));
    }
    let out = dir.path().join("baseline.json");
    let o = run_in(dir.path(), &["baseline", "-o", s(&out), s(&image)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    windows.assert_output_clean("baseline -o", &o);
    windows.assert_absent("baseline -o", &std::fs::read(&out).expect("baseline"));
    // Scanning against it: everything is baselined, nothing shows.
    let o = run_in(dir.path(), &["scan", "--baseline", s(&out), s(&image)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    windows.assert_output_clean("scan --baseline", &o);

    let tree = dir.path().join("images");
    std::fs::create_dir_all(tree.join("nested")).expect("mkdir");
    std::fs::copy(&image, tree.join(DOCKER)).expect("copy");
    copy_tree(&fixture("demo.zstd.oci"), &tree.join("nested/app-oci"));
    let o = run_in(dir.path(), &["sweep", s(&tree)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    windows.assert_output_clean("sweep", &o);
    let out = dir.path().join("sweep.jsonl");
    let o = run_in(dir.path(), &["sweep", "-o", s(&out), s(&tree)]);
    windows.assert_output_clean("sweep -o", &o);
    windows.assert_absent("sweep -o", &std::fs::read(&out).expect("sweep"));
}

/// An image whose layer was made by an instruction carrying a build argument: the secret is in
/// the layer's `created_by`, which `layers` and every report print.
fn image_with_a_secret_in_an_instruction(dir: &Path) -> PathBuf {
    let key = aws_key_id();
    let layers = vec![
        SynthLayer::new(LayerBuilder::new().file("etc/os-release", b"ID=synth\n").finish(), Comp::Gzip, "ADD rootfs /"),
        SynthLayer::new(
            LayerBuilder::new().file("app/deploy.sh", b"#!/bin/sh\necho deploying\n").finish(),
            Comp::Gzip,
            &format!("|1 AWS_ACCESS_KEY_ID={key} /bin/sh -c ./deploy.sh"),
        ),
    ];
    let path = dir.join("build-arg.oci");
    Layout::oci(&[SynthImage::new(layers)], false, false).write_dir(&path);
    path
}

/// Issue 7: `layers` printed each layer's instruction as the image has it, build arguments and
/// all; the reports already redacted them.
#[test]
fn instructions_with_build_arguments_are_redacted_everywhere() {
    let key = aws_key_id();
    let windows = Windows::of(std::slice::from_ref(&key));
    let dir = scratch();
    let image = image_with_a_secret_in_an_instruction(dir.path());
    run_all(dir.path(), &commands_on(s(&image)), |what, o| {
        assert!(code(o) <= 1, "{what}: exit {}: {}", code(o), stderr(o));
        windows.assert_output_clean(what, o);
    });
    let o = run_in(dir.path(), &["layers", s(&image)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("AWS_ACCESS_KEY_ID=[REDACTED AKIA… (20 chars)]"));
    // The scan finds it (in the history) and, asked to, shows it.
    let o = run_in(dir.path(), &["scan", "-f", "json", "--show-secrets", s(&image)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&key));
}

// ---------------------------------------------------------------------------------------------
// Error paths

/// A classic `docker save` archive of one layer whose config is `config`.
fn docker_archive_with_config(dir: &Path, name: &str, config: &str) -> PathBuf {
    let layer = LayerBuilder::new().file("app/main.py", b"print('hi')\n").finish();
    let mut layout = Layout::docker_classic(&SynthImage::new(vec![SynthLayer::new(layer, Comp::None, "COPY . /app")]));
    for (file, bytes) in &mut layout.files {
        if file.ends_with(".json") && file != "manifest.json" {
            *bytes = config.as_bytes().to_vec();
        }
    }
    let path = dir.join(name);
    layout.write_tar(&path);
    path
}

/// Issue 7: a config that does not parse was reported with the parser's message, which quotes
/// the offending value: `invalid type: string "AWS_ACCESS_KEY_ID=AKIA…", expected a sequence`.
#[test]
fn errors_about_damaged_images_do_not_quote_their_content() {
    let key = aws_key_id();
    let planted = planted();
    let windows = Windows::of(&planted);
    let dir = scratch();
    let mut images = Vec::new();
    // Env a string instead of a list; a label a list instead of a string; a digest that is not.
    for (name, config) in [
        ("env-string.tar", format!(r#"{{"config": {{"Env": "AWS_ACCESS_KEY_ID={key}"}}}}"#)),
        ("label-list.tar", format!(r#"{{"config": {{"Labels": {{"token": ["{}"]}}}}}}"#, planted[6])),
        ("bad-diff-id.tar", format!(r#"{{"rootfs": {{"type": "layers", "diff_ids": ["{key}{}"]}}}}"#, planted[2])),
        ("not-json.tar", format!("AWS_ACCESS_KEY_ID={key}\n")),
    ] {
        images.push(docker_archive_with_config(dir.path(), name, &config));
    }
    // An OCI layout whose manifest lists its layers as a string.
    let layout_dir = dir.path().join("bad-manifest.oci");
    let mut layout = Layout::oci(&[SynthImage::new(Vec::new())], false, false);
    let index: Value = serde_json::from_slice(&layout.files.iter().find(|(n, _)| n == "index.json").expect("index").1)
        .expect("index.json");
    let manifest = index["manifests"][0]["digest"].as_str().expect("digest").to_string();
    layout.replace_blob(&manifest, format!(r#"{{"schemaVersion": 2, "layers": "{key}"}}"#).into_bytes());
    layout.write_dir(&layout_dir);
    images.push(layout_dir);

    for image in &images {
        let mut saw_error = false;
        run_all(dir.path(), &commands_on(s(image)), |what, o| {
            windows.assert_output_clean(what, o);
            saw_error |= code(o) == 2;
        });
        assert!(saw_error, "{}: no command reported the damage", image.display());
    }
    // The messages still say what is wrong.
    let o = run_in(dir.path(), &["scan", "-f", "json", s(&images[0])]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("not a valid image config: invalid type: string \"AWS_… (38 chars)\""), "{err}");
    let o = run_in(dir.path(), &["layers", s(&images[4])]);
    assert!(stderr(&o).contains("not an image manifest"), "{}", stderr(&o));
}

/// A layer cut short in the middle of a file holding secrets: the error names the layer, not
/// what was read of the file.
#[test]
fn a_layer_cut_short_is_reported_without_its_content() {
    let windows = Windows::planted();
    let dir = scratch();
    let copy = dir.path().join("demo.oci");
    copy_tree(&fixture("demo.umoci.oci"), &copy);
    let o = run_in(dir.path(), &["layers", "-f", "json", s(&copy)]);
    let layers: Value = serde_json::from_slice(&o.stdout).expect("layers JSON");
    for index in [1, 4, 6] {
        // app/.env, tls.key, settings.yml
        let digest = layers[0]["layers"][index]["digest"].as_str().expect("digest").trim_start_matches("sha256:");
        let blob = copy.join("blobs/sha256").join(digest);
        let bytes = std::fs::read(&blob).expect("blob");
        std::fs::write(&blob, &bytes[..bytes.len() * 2 / 3]).expect("truncate");
    }
    run_all(dir.path(), &commands_on(s(&copy)), |what, o| {
        assert_eq!(code(o), 2, "{what}: {}", stderr(o));
        windows.assert_output_clean(what, o);
    });
}

/// Policy and rule files are the user's own text: their errors may quote them (that is how a
/// mistake is found), but never a secret found in an image.
#[test]
fn bad_policy_and_rule_files_are_errors_that_show_no_finding() {
    let windows = Windows::planted();
    let image = fixture(DOCKER);
    let dir = scratch();
    for policy in [
        "fail_on = \"AKIA0000EXAMPLE00000\"\n",
        "[[allow]]\nfingerprint = \"ghp_notafingerprint\"\nreason = \"r\"\n",
        "[[allow]\nrule = \"x\"\n",
    ] {
        std::fs::write(dir.path().join("layerdig.toml"), policy).expect("write");
        for format in FORMATS {
            let o = run_in(dir.path(), &["scan", "-f", format, s(&image)]);
            assert_eq!(code(&o), 2, "{policy}");
            assert!(stderr(&o).contains("layerdig.toml"), "{}", stderr(&o));
            windows.assert_output_clean(policy, &o);
        }
    }
    std::fs::remove_file(dir.path().join("layerdig.toml")).expect("rm");

    // A rule whose example does not match: `rules check` quotes the example, so it can be fixed.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        r#"provider: Acme
rules:
  - id: acme.token
    name: Acme token
    severity: high
    keywords: [acme_]
    pattern: '\b(acme_[a-z0-9]{32})\b'
    references: [https://acme.example/docs/tokens]
    examples:
      - 'token = acme_0123456789abcdef0123456789abcdef'
      - 'token = acme_TOO_SHORT'
    negative_examples:
      - 'token = acme_'
"#,
    )
    .expect("write rules");
    let o = run_in(dir.path(), &["rules", "check", s(&rules)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("acme.token") && out.contains("acme_TOO_SHORT"), "{out}");
    // Scans with that file still run, and show nothing.
    for format in FORMATS {
        let o = run_in(dir.path(), &["scan", "-f", format, "--rules", s(&rules), s(&image)]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        windows.assert_output_clean(&format!("--rules, -f {format}"), &o);
    }
    // A rule file that does not parse.
    std::fs::write(&rules, format!("rules: [{}\n", aws_key_id())).expect("write");
    let o = run_in(dir.path(), &["scan", "--rules", s(&rules), s(&image)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("rules.yaml"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// With --show-secrets: shown, and files are private

/// The probes that must appear when secrets are shown: each one-line secret, and the first body
/// line of multi-line ones.
fn shown_probes() -> Vec<String> {
    planted()
        .into_iter()
        .map(|v| if v.contains('\n') { v.lines().nth(1).expect("body line").to_string() } else { v })
        .collect()
}

#[test]
fn show_secrets_shows_them_and_reports_are_created_private() {
    let dir = scratch();
    let image = fixture(DOCKER);
    let probes = shown_probes();
    for format in FORMATS {
        let o = run_in(dir.path(), &["scan", "-f", format, "--show-secrets", s(&image)]);
        assert_eq!(code(&o), 1, "{format}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        // SARIF results carry the fingerprint and the redacted form, never the secret: code
        // scanning alerts are seen by everyone with read access to the repository.
        if format == "sarif" {
            Windows::planted().assert_absent("sarif --show-secrets", &o.stdout);
        } else {
            for p in &probes {
                assert!(text.contains(p.as_str()), "{format}: secret {:?}… not shown", &p[..4]);
            }
        }
        // Warnings and progress never carry them.
        Windows::planted().assert_absent("stderr of --show-secrets", &o.stderr);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let out = dir.path().join(format!("shown.{format}"));
            // A file that exists, world-readable, is narrowed before secrets go in.
            std::fs::write(&out, "old").expect("write");
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let o = run_in(dir.path(), &["scan", "-f", format, "--show-secrets", "-o", s(&out), s(&image)]);
            assert_eq!(code(&o), 1, "{format}: {}", stderr(&o));
            assert_eq!(mode(&out), 0o600, "{format}");
            let fresh = dir.path().join(format!("fresh.{format}"));
            run_in(dir.path(), &["scan", "-f", format, "--show-secrets", "-o", s(&fresh), s(&image)]);
            assert_eq!(mode(&fresh), 0o600, "{format}");
        }
    }
    #[cfg(unix)]
    {
        let tree = dir.path().join("images");
        std::fs::create_dir_all(&tree).expect("mkdir");
        std::fs::copy(&image, tree.join(DOCKER)).expect("copy");
        let out = dir.path().join("sweep.jsonl");
        let o = run_in(dir.path(), &["sweep", "--show-secrets", "-o", s(&out), s(&tree)]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert_eq!(mode(&out), 0o600);
        let text = std::fs::read_to_string(&out).expect("sweep");
        assert!(probes.iter().all(|p| text.contains(p.as_str())));
    }
}

// ---------------------------------------------------------------------------------------------
// Nothing written but the report

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            out.push(path.strip_prefix(root).expect("prefix").display().to_string());
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// No temporary files, caches, extracted layers or logs: with `HOME`, `TMPDIR` and the XDG
/// directories pointing at empty directories and an empty working directory, every command
/// leaves them all empty, and the images untouched; with `-o` the report is the one new file.
#[test]
fn nothing_is_written_but_the_report() {
    let root = scratch();
    let dirs: Vec<PathBuf> =
        ["home", "tmp", "cache", "config", "data", "state", "cwd"].iter().map(|d| root.path().join(d)).collect();
    for d in &dirs {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let images = root.path().join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    std::fs::copy(fixture(DOCKER), images.join(DOCKER)).expect("copy");
    copy_tree(&fixture("demo.umoci.oci"), &images.join("demo.umoci.oci"));
    let before = listing(&images);
    let cwd = &dirs[6];
    let isolated = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        if has_progress(args) {
            all.extend(["--progress", "always"]);
        }
        layerdig(cwd)
            .env("HOME", &dirs[0])
            .env("TMPDIR", &dirs[1])
            .env("XDG_CACHE_HOME", &dirs[2])
            .env("XDG_CONFIG_HOME", &dirs[3])
            .env("XDG_DATA_HOME", &dirs[4])
            .env("XDG_STATE_HOME", &dirs[5])
            .args(&all)
            .output()
            .expect("run layerdig")
    };
    let mut commands = Vec::new();
    for image in [DOCKER, "demo.umoci.oci"] {
        commands.extend(commands_on(s(&images.join(image))));
    }
    commands.push(vec!["sweep".into(), s(&images).into()]);
    commands.push(vec![
        "scan".into(),
        "--show-secrets".into(),
        "-f".into(),
        "json".into(),
        s(&images.join(DOCKER)).into(),
    ]);
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = isolated(&args);
        assert!(code(&o) <= 1, "{}: {}", args.join(" "), stderr(&o));
        for d in &dirs {
            assert_eq!(listing(d), Vec::<String>::new(), "{} wrote to {}", args.join(" "), d.display());
        }
    }
    let o = isolated(&["scan", "-f", "sarif", "-o", "report.sarif", s(&images.join(DOCKER))]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(listing(cwd), vec!["report.sarif".to_string()]);
    for d in &dirs[..6] {
        assert_eq!(listing(d), Vec::<String>::new(), "wrote to {}", d.display());
    }
    assert_eq!(listing(&images), before, "the images are untouched");
}
