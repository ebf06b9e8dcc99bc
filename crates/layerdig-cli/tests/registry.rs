//! `layerdig scan`, `sweep`, `layers` and `ls` on images in real registries (Debian's
//! `docker-registry`, TLS from a CA made by openssl, htpasswd or token authentication), filled
//! by skopeo from the committed fixtures. Every test checks that no password or token is in
//! anything the command wrote.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use assert_cmd::Command;
use layerdig_tests::registry::{Auth, CuttingProxy, Pki, Registry, TokenServer, require_all};
use serde_json::Value;

const USER: &str = "tester";
const PASSWORD: &str = "pw-Cli7Hq2Vn9Rw4";
const WRONG: &str = "wrong-Pw-Zz81Kk";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images")
}

struct Shared {
    pki: Pki,
    basic: Registry,
    /// A directory with no auth file, so no machine file is read.
    home: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

/// (skopeo source, repo:tag, fixture file).
fn pushed() -> Vec<(String, &'static str, &'static str)> {
    let f = |n: &str| fixtures().join(n).display().to_string();
    vec![
        (format!("docker-archive:{}", f("demo.docker.tar")), "demo/docker:1", "demo.docker.tar"),
        (format!("oci-archive:{}", f("demo.oci.tar")), "demo/oci:1", "demo.oci.tar"),
        (format!("oci:{}:latest", f("demo.zstd.oci")), "demo/zstd:latest", "demo.zstd.oci"),
        (format!("oci:{}:1", f("archives.oci")), "archives/oci:1", "archives.oci"),
    ]
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        require_all();
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new(dir.path());
        let basic = Registry::start(&pki, Auth::Htpasswd { user: USER, password: PASSWORD });
        let creds = format!("{USER}:{PASSWORD}");
        let cert_dir = pki.cert_dir.display().to_string();
        for (source, repo_tag, _) in pushed() {
            basic.push(&source, repo_tag, &["--dest-cert-dir", &cert_dir, "--dest-creds", &creds]);
        }
        // A second tag of one repository, for --tags.
        basic.push(&pushed()[1].0, "demo/oci:2", &["--dest-cert-dir", &cert_dir, "--dest-creds", &creds]);
        Shared { pki, basic, home: tempfile::tempdir().expect("tempdir"), _dir: dir }
    })
}

/// `layerdig` with a home and runtime directory of its own: no auth file of the machine is read.
fn layerdig(shared: &Shared) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerdig"));
    cmd.env("HOME", shared.home.path())
        .env("XDG_RUNTIME_DIR", shared.home.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .current_dir(shared.home.path());
    cmd
}

fn run(shared: &Shared, args: &[&str]) -> Output {
    layerdig(shared).args(args).output().expect("run layerdig")
}

fn creds() -> String {
    format!("{USER}:{PASSWORD}")
}

fn cert_dir(shared: &Shared) -> String {
    shared.pki.cert_dir.display().to_string()
}

/// Neither the password nor any of `also` is anywhere in the output.
fn assert_clean(o: &Output, also: &[String]) {
    for text in [&o.stdout, &o.stderr] {
        let text = String::from_utf8_lossy(text);
        for secret in [PASSWORD, WRONG].iter().map(|s| s.to_string()).chain(also.iter().cloned()) {
            assert!(!text.contains(&secret), "a credential is in the output:\n{text}");
        }
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Everything the command wrote: a human report carries its errors on stdout, the other
/// formats on stderr.
fn stderr(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// (rule, fingerprint, path, status, layer) of the file, config and history locations of a
/// `-f json` report.
fn located(report: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for f in report["findings"].as_array().expect("findings") {
        for l in f["locations"].as_array().expect("locations") {
            if ["file", "config", "history"].contains(&l["source"].as_str().unwrap_or("")) {
                out.insert(format!(
                    "{} {} {} {} {}",
                    f["rule_id"], f["fingerprint"], l["path"], l["status"], l["layer_index"]
                ));
            }
        }
    }
    out
}

#[test]
fn scan_reads_every_fixture_from_the_registry_as_it_reads_the_file() {
    let shared = shared();
    for (_, repo_tag, file) in pushed() {
        let reference = shared.basic.reference(repo_tag);
        let remote = run(
            shared,
            &["scan", "-f", "json", "-q", "--creds", &creds(), "--cert-dir", &cert_dir(shared), &reference],
        );
        assert_eq!(code(&remote), 1, "{reference}: {}", stderr(&remote));
        assert_clean(&remote, &[]);
        let local = run(shared, &["scan", "-f", "json", "-q", &fixtures().join(file).display().to_string()]);
        let (r, l): (Value, Value) =
            (serde_json::from_slice(&remote.stdout).unwrap(), serde_json::from_slice(&local.stdout).unwrap());
        assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{reference}: {}", r["errors"]);
        assert_eq!(r["images"][0]["path"], reference.as_str());
        assert!(!located(&l).is_empty());
        assert_eq!(located(&r), located(&l), "{reference}");
    }
}

#[test]
fn wrong_credentials_are_unauthorized_exit_2_and_the_password_is_nowhere() {
    let shared = shared();
    let reference = shared.basic.reference("demo/oci:1");
    let bad = format!("{USER}:{WRONG}");
    for format in ["human", "json", "jsonl", "sarif"] {
        let o = run(shared, &["scan", "-f", format, "--creds", &bad, "--cert-dir", &cert_dir(shared), &reference]);
        assert_eq!(code(&o), 2, "{format}: {}", stderr(&o));
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(all.contains("unauthorized for demo/oci: check --creds or --authfile"), "{format}: {all}");
        assert_clean(&o, &[]);
    }
    // Without credentials at all: the same error.
    let o = run(shared, &["scan", "--cert-dir", &cert_dir(shared), &reference]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unauthorized for demo/oci"), "{}", stderr(&o));
    // A malformed --creds is refused without repeating it.
    let o = run(shared, &["scan", "--creds", WRONG, &reference]);
    assert_eq!(code(&o), 2);
    assert_clean(&o, &[]);
}

#[test]
fn an_untrusted_certificate_is_named_and_tls_verify_false_reads_anyway() {
    let shared = shared();
    let reference = shared.basic.reference("demo/oci:1");
    let o = run(shared, &["scan", "--creds", &creds(), &reference]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("invalid peer certificate: UnknownIssuer") && err.contains("--cert-dir"), "{err}");
    assert_clean(&o, &[]);
    let o = run(shared, &["scan", "-q", "--creds", &creds(), "--tls-verify=false", &reference]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn a_missing_tag_is_manifest_unknown() {
    let shared = shared();
    let o = run(
        shared,
        &["scan", "--creds", &creds(), "--cert-dir", &cert_dir(shared), &shared.basic.reference("demo/oci:gone")],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("manifest unknown: demo/oci:gone is not in the registry"), "{}", stderr(&o));
}

#[test]
fn credentials_from_an_authfile_and_from_a_credential_helper() {
    let shared = shared();
    let dir = tempfile::tempdir().unwrap();
    let reference = shared.basic.reference("demo/oci:1");
    let auth = layerdig_tests::base64(creds().as_bytes());
    let file = dir.path().join("auth.json");
    std::fs::write(&file, format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, shared.basic.host)).unwrap();
    let o =
        run(shared, &["scan", "-q", "--authfile", file.to_str().unwrap(), "--cert-dir", &cert_dir(shared), &reference]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_clean(&o, std::slice::from_ref(&auth));
    // REGISTRY_AUTH_FILE, and a credential helper it names for the host.
    let helper = dir.path().join("docker-credential-layerdigtest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread host\n[ \"$1\" = get ] && [ \"$host\" = {} ] && echo '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n", shared.basic.host),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file2 = dir.path().join("helpers.json");
    std::fs::write(&file2, format!(r#"{{"credHelpers":{{"{}":"layerdigtest"}}}}"#, shared.basic.host)).unwrap();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let o = layerdig(shared)
        .env("REGISTRY_AUTH_FILE", &file2)
        .env("PATH", &path)
        .args(["scan", "-q", "--cert-dir", &cert_dir(shared), &reference])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_clean(&o, &[]);
}

#[test]
fn token_authentication_end_to_end_shows_no_token() {
    let shared = shared();
    let tokens = TokenServer::start(&shared.pki, USER, PASSWORD);
    let registry = Registry::start(&shared.pki, Auth::Token { realm: tokens.realm.clone() });
    registry.push(&pushed()[1].0, "team/app:1", &["--dest-cert-dir", &cert_dir(shared), "--dest-creds", &creds()]);
    let reference = registry.reference("team/app:1");
    let o = run(shared, &["scan", "-f", "jsonl", "--creds", &creds(), "--cert-dir", &cert_dir(shared), &reference]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let issued: Vec<String> = tokens.tokens.lock().unwrap().clone();
    assert!(!issued.is_empty());
    assert_clean(&o, &issued);
    let o = run(shared, &["scan", "--creds", &format!("{USER}:{WRONG}"), "--cert-dir", &cert_dir(shared), &reference]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unauthorized for team/app"), "{}", stderr(&o));
    assert_clean(&o, &tokens.tokens.lock().unwrap().clone());
}

#[test]
fn a_connection_cut_mid_blob_is_that_layers_error_and_the_rest_is_scanned() {
    let shared = shared();
    let plain = Registry::start(&shared.pki, Auth::PlainAnonymous);
    plain.push(&pushed()[1].0, "demo/oci:1", &["--dest-tls-verify=false"]);
    // The layer holding app/.env (layer 1): cut 2 KiB into its response.
    let layers = run(shared, &["layers", "-f", "json", "--tls-verify=false", &plain.reference("demo/oci:1")]);
    assert_eq!(code(&layers), 0, "{}", stderr(&layers));
    let doc: Value = serde_json::from_slice(&layers.stdout).unwrap();
    let digest = doc[0]["layers"][1]["digest"].as_str().unwrap().to_string();
    let proxy = CuttingProxy::start(&plain.host, &digest, 100);
    let reference = format!("docker://{}/demo/oci:1", proxy.host);
    let o = run(shared, &["scan", "-f", "json", "--tls-verify=false", &reference]);
    assert_eq!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["layer_index"], 1, "{errors:?}");
    assert_eq!(errors[0]["layer_digest"], digest.as_str());
    let paths: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().iter().filter_map(|l| l["path"].as_str()))
        .collect();
    assert!(paths.contains(&"app/settings.yml") && paths.contains(&"etc/ssl/private/tls.key"), "{paths:?}");
    assert!(!paths.contains(&"app/.env"), "{paths:?}");
}

fn image_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "image")
        .map(|v| v["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn sweep_finds_every_image_of_the_registry() {
    let shared = shared();
    let target = format!("docker://{}", shared.basic.host);
    let o = run(shared, &["sweep", "-q", "--creds", &creds(), "--cert-dir", &cert_dir(shared), &target]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_clean(&o, &[]);
    let mut seen = image_lines(&o);
    seen.sort();
    let mut want: Vec<String> = pushed().iter().map(|(_, rt, _)| shared.basic.reference(rt)).collect();
    want.push(shared.basic.reference("demo/oci:2"));
    want.sort();
    assert_eq!(seen, want, "{}", String::from_utf8_lossy(&o.stdout));
    // A prefix and the last tag only.
    let o = run(
        shared,
        &[
            "sweep",
            "-q",
            "--tags",
            "1",
            "--creds",
            &creds(),
            "--cert-dir",
            &cert_dir(shared),
            &format!("{target}/demo"),
        ],
    );
    let mut seen = image_lines(&o);
    seen.sort();
    // The last tag as the registry lists them (distribution 2.8: in its storage's order).
    let options = layerdig::registry::RegistryOptions {
        credentials: layerdig::registry::CredentialSource {
            creds: Some(layerdig::registry::Credentials::new(USER, PASSWORD)),
            authfile: Some(shared.home.path().join("none.json")),
        },
        cert_dir: Some(shared.pki.cert_dir.clone()),
        tls_verify: true,
    };
    let client = layerdig::registry::Client::new(&shared.basic.host, &options).unwrap();
    let last_oci = client.tags("demo/oci").unwrap().pop().unwrap();
    let want: Vec<String> = ["demo/docker:1".to_string(), format!("demo/oci:{last_oci}"), "demo/zstd:latest".into()]
        .iter()
        .map(|rt| shared.basic.reference(rt))
        .collect();
    assert_eq!(seen, want);
    // No credentials: the catalog is refused, said on stderr, exit 2.
    let o = run(shared, &["sweep", "-q", "--cert-dir", &cert_dir(shared), &target]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unauthorized for catalog"), "{}", stderr(&o));
}

#[test]
fn layers_and_ls_read_a_registry_image() {
    let shared = shared();
    let reference = shared.basic.reference("demo/oci:1");
    let o = run(shared, &["ls", "--deleted", "--creds", &creds(), "--cert-dir", &cert_dir(shared), &reference]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("app/.env"));
    assert_clean(&o, &[]);
}
