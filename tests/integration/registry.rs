//! Images read where they live: real `docker-registry` instances (TLS with a CA made by
//! openssl, htpasswd or token authentication, one plain and anonymous behind a proxy that cuts
//! a blob), filled by `skopeo copy` from the committed fixtures.

use std::io::Read;
use std::sync::OnceLock;

use layerdig::registry::{Client, CredentialSource, Credentials, RegistryErrorKind, RegistryOptions};
use layerdig_tests::fixtures;
use layerdig_tests::registry::{Auth, CuttingProxy, Pki, Registry, TokenServer, require_all};

pub(crate) const USER: &str = "tester";
/// The registry's password: every test that reads output checks it is not there.
pub(crate) const PASSWORD: &str = "pw-Zq8vR3xLm2Kt9";

/// The fixtures pushed, as (skopeo source, repository:tag, the fixture file to compare with).
pub(crate) fn pushed() -> Vec<(String, &'static str, &'static str)> {
    let f = |name: &str| fixtures().join(name).display().to_string();
    vec![
        (format!("docker-archive:{}", f("demo.docker.tar")), "demo/docker:1", "demo.docker.tar"),
        (format!("oci-archive:{}", f("demo.oci.tar")), "demo/oci:1", "demo.oci.tar"),
        (format!("oci:{}:latest", f("demo.zstd.oci")), "demo/zstd:latest", "demo.zstd.oci"),
        (format!("oci:{}:latest", f("demo.umoci.oci")), "demo/umoci:latest", "demo.umoci.oci"),
        (format!("docker-archive:{}", f("archives.docker.tar")), "archives/docker:1", "archives.docker.tar"),
        (format!("oci:{}:1", f("archives.oci")), "archives/oci:1", "archives.oci"),
    ]
}

/// The registries every test shares: started once, filled once.
pub(crate) struct Shared {
    pub(crate) pki: Pki,
    /// TLS + htpasswd, with every fixture.
    pub(crate) basic: Registry,
    _dir: tempfile::TempDir,
}

pub(crate) fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        require_all();
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::new(dir.path());
        let basic = Registry::start(&pki, Auth::Htpasswd { user: USER, password: PASSWORD });
        let creds = format!("{USER}:{PASSWORD}");
        let cert_dir = pki.cert_dir.display().to_string();
        let args = ["--dest-cert-dir", &cert_dir, "--dest-creds", &creds];
        for (source, repo_tag, _) in pushed() {
            basic.push(&source, repo_tag, &args);
        }
        // The same image recompressed with zstd on the way in.
        let zstd_args = [&args[..], &["--dest-compress-format", "zstd", "--dest-compress"]].concat();
        basic.push(
            &format!("docker-archive:{}", fixtures().join("demo.docker.tar").display()),
            "demo/recompressed:zstd",
            &zstd_args,
        );
        Shared { pki, basic, _dir: dir }
    })
}

pub(crate) fn options(shared: &Shared, creds: Option<(&str, &str)>) -> RegistryOptions {
    RegistryOptions {
        credentials: CredentialSource {
            creds: creds.map(|(u, p)| Credentials::new(u, p)),
            // No file of the machine's: the tests say what they mean.
            authfile: Some(shared.pki.dir.join("no-such-auth.json")),
        },
        cert_dir: Some(shared.pki.cert_dir.clone()),
        tls_verify: true,
    }
}

#[test]
fn basic_auth_over_tls_reads_manifests_configs_blobs_tags_and_the_catalog() {
    let shared = shared();
    let client = Client::new(&shared.basic.host, &options(shared, Some((USER, PASSWORD)))).unwrap();
    let by_tag = client.manifest("demo/oci", "1").unwrap();
    assert!(by_tag.media_type.contains("manifest"), "{}", by_tag.media_type);
    let by_digest = client.manifest("demo/oci", &by_tag.digest.to_string()).unwrap();
    assert_eq!(by_digest.bytes, by_tag.bytes);
    let manifest: serde_json::Value = serde_json::from_slice(&by_tag.bytes).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().parse().unwrap();
    let config = client.blob_bytes("demo/oci", &config_digest, 1 << 20).unwrap();
    assert!(String::from_utf8_lossy(&config).contains("SLACK_TOKEN"));
    let layer = &manifest["layers"][1];
    let mut bytes = Vec::new();
    client
        .blob_reader("demo/oci", &layer["digest"].as_str().unwrap().parse().unwrap())
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes.len() as u64, layer["size"].as_u64().unwrap());
    assert_eq!(layerdig_tests::sha256(&bytes), layer["digest"].as_str().unwrap());
    assert_eq!(client.tags("demo/oci").unwrap(), ["1"]);
    let catalog = client.catalog().unwrap();
    for (_, repo_tag, _) in pushed() {
        assert!(catalog.iter().any(|r| repo_tag.starts_with(&format!("{r}:"))), "{repo_tag} not in {catalog:?}");
    }
}

#[test]
fn wrong_or_missing_credentials_are_unauthorized_without_the_password() {
    let shared = shared();
    for creds in [Some((USER, "wrong-password-Xy7")), None] {
        let client = Client::new(&shared.basic.host, &options(shared, creds)).unwrap();
        let err = client.manifest("demo/oci", "1").unwrap_err();
        assert!(matches!(err, RegistryErrorKind::Unauthorized { .. }), "{err:?}");
        let shown = format!("{err} {err:?} {client:?}");
        assert!(shown.contains("unauthorized for demo/oci: check --creds or --authfile"), "{shown}");
        assert!(!shown.contains("wrong-password-Xy7") && !shown.contains(PASSWORD), "{shown}");
    }
}

#[test]
fn an_untrusted_certificate_is_named() {
    let shared = shared();
    let mut opts = options(shared, Some((USER, PASSWORD)));
    opts.cert_dir = Some(shared.pki.dir.join("empty-cert-dir"));
    std::fs::create_dir_all(opts.cert_dir.as_ref().unwrap()).unwrap();
    let err = Client::new(&shared.basic.host, &opts).unwrap().manifest("demo/oci", "1").unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, RegistryErrorKind::Tls { .. }), "{err:?}");
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    // Verification off: the same registry reads.
    opts.tls_verify = false;
    Client::new(&shared.basic.host, &opts).unwrap().manifest("demo/oci", "1").unwrap();
}

#[test]
fn a_missing_tag_or_blob_is_unknown() {
    let shared = shared();
    let client = Client::new(&shared.basic.host, &options(shared, Some((USER, PASSWORD)))).unwrap();
    let err = client.manifest("demo/oci", "no-such-tag").unwrap_err();
    assert_eq!(err.to_string(), "manifest unknown: demo/oci:no-such-tag is not in the registry");
    let err = client.manifest("no/such/repo", "1").unwrap_err();
    assert!(matches!(err, RegistryErrorKind::ManifestUnknown { .. }), "{err:?}");
    let missing = layerdig_tests::sha256(b"nothing");
    let err = client.blob_bytes("demo/oci", &missing.parse().unwrap(), 1 << 20).unwrap_err();
    assert!(err.to_string().starts_with("blob unknown: demo/oci@sha256:"), "{err}");
}

#[test]
fn token_authentication_fetches_and_caches_tokens_per_scope() {
    let shared = shared();
    let tokens = TokenServer::start(&shared.pki, USER, PASSWORD);
    let registry = Registry::start(&shared.pki, Auth::Token { realm: tokens.realm.clone() });
    let creds = format!("{USER}:{PASSWORD}");
    let cert_dir = shared.pki.cert_dir.display().to_string();
    registry.push(
        &format!("oci-archive:{}", fixtures().join("demo.oci.tar").display()),
        "team/app:1",
        &["--dest-cert-dir", &cert_dir, "--dest-creds", &creds],
    );
    let before = tokens.issued.load(std::sync::atomic::Ordering::SeqCst);
    let client = Client::new(&registry.host, &options(shared, Some((USER, PASSWORD)))).unwrap();
    let manifest = client.manifest("team/app", "1").unwrap();
    let value: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let config = value["config"]["digest"].as_str().unwrap().parse().unwrap();
    client.blob_bytes("team/app", &config, 1 << 20).unwrap();
    assert_eq!(client.tags("team/app").unwrap(), ["1"]);
    assert_eq!(
        tokens.issued.load(std::sync::atomic::Ordering::SeqCst) - before,
        1,
        "one token for repository:team/app:pull, reused"
    );
    assert_eq!(client.catalog().unwrap(), ["team/app"]);
    let wrong = Client::new(&registry.host, &options(shared, Some((USER, "not-it")))).unwrap();
    let err = wrong.manifest("team/app", "1").unwrap_err();
    assert!(matches!(err, RegistryErrorKind::Unauthorized { .. }), "{err:?}");
    let shown = format!("{err} {err:?} {client:?}");
    for token in tokens.tokens.lock().unwrap().iter() {
        assert!(!shown.contains(token.as_str()));
    }
    assert!(!shown.contains(PASSWORD));
}

#[test]
fn a_connection_cut_mid_blob_is_an_error_of_that_read() {
    let shared = shared();
    let plain = Registry::start(&shared.pki, Auth::PlainAnonymous);
    plain.push(
        &format!("oci-archive:{}", fixtures().join("demo.oci.tar").display()),
        "demo/oci:1",
        &["--dest-tls-verify=false"],
    );
    let opts = RegistryOptions { tls_verify: false, ..options(shared, None) };
    let client = Client::new(&plain.host, &opts).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&client.manifest("demo/oci", "1").unwrap().bytes).unwrap();
    let digest = manifest["layers"][0]["digest"].as_str().unwrap().to_string();
    let proxy = CuttingProxy::start(&plain.host, &digest, 4096);
    let client = Client::new(&proxy.host, &opts).unwrap();
    let mut reader = client.blob_reader("demo/oci", &digest.parse().unwrap()).unwrap();
    let mut bytes = Vec::new();
    let err = reader.read_to_end(&mut bytes).unwrap_err();
    assert!(bytes.len() <= 4096, "{} bytes", bytes.len());
    assert_eq!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst), 1, "{err}");
    // Verification on: no fall back to plain HTTP.
    let strict = Client::new(&plain.host, &options(shared, None)).unwrap();
    assert!(strict.manifest("demo/oci", "1").is_err());
}

/// (rule, fingerprint, source, path, status, layer index) of every file, config and history
/// location: what must not depend on where the image was read from. (Hidden data and metadata
/// documents differ by construction: skopeo compresses a docker archive's layers on the way
/// in, and a registry has no `index.json` of its own.)
pub(crate) type Seen =
    std::collections::BTreeSet<(String, String, String, Option<String>, Option<String>, Option<usize>)>;

pub(crate) fn seen(report: &layerdig::Report) -> Seen {
    let mut out = Seen::new();
    for f in &report.findings {
        for l in &f.locations {
            if matches!(l.source, layerdig::Source::File | layerdig::Source::Config | layerdig::Source::History) {
                out.insert((
                    f.rule_id.clone(),
                    f.fingerprint.clone(),
                    l.source.as_str().to_string(),
                    l.path.clone(),
                    l.status.map(|s| format!("{s:?}")),
                    l.layer_index,
                ));
            }
        }
    }
    out
}

pub(crate) fn scanner(options: RegistryOptions) -> layerdig::Scanner {
    layerdig::Scanner::builder().registry(options).build(&layerdig::Rules::builtin()).unwrap()
}

pub(crate) fn scan(scanner: &layerdig::Scanner, input: &str) -> layerdig::Report {
    let input = layerdig::Input::parse(input).unwrap();
    let mut sink = layerdig::Collect::new();
    let stats = scanner.scan_input(&input, &mut sink).unwrap();
    sink.into_report(stats)
}

#[test]
fn every_fixture_read_from_the_registry_has_the_findings_it_has_as_a_file() {
    let shared = shared();
    let scanner = scanner(options(shared, Some((USER, PASSWORD))));
    let mut cases: Vec<(String, String)> = pushed()
        .into_iter()
        .map(|(_, repo_tag, file)| (shared.basic.reference(repo_tag), fixtures().join(file).display().to_string()))
        .collect();
    cases.push((
        shared.basic.reference("demo/recompressed:zstd"),
        fixtures().join("demo.docker.tar").display().to_string(),
    ));
    for (reference, file) in cases {
        let remote = scan(&scanner, &reference);
        let local = scan(&scanner, &file);
        assert!(remote.errors.is_empty(), "{reference}: {:?}", remote.errors);
        assert_eq!(remote.images.len(), 1, "{reference}");
        assert_eq!(remote.images[0].format, "registry", "{reference}");
        assert_eq!(remote.images[0].layers.len(), local.images[0].layers.len(), "{reference}");
        let (r, l) = (seen(&remote), seen(&local));
        assert!(!l.is_empty(), "{file} has findings");
        assert_eq!(r, l, "{reference} against {file}");
    }
}

#[test]
fn a_pinned_digest_reads_the_same_image() {
    let shared = shared();
    let opts = options(shared, Some((USER, PASSWORD)));
    let digest = Client::new(&shared.basic.host, &opts).unwrap().manifest("demo/oci", "1").unwrap().digest;
    let scanner = scanner(opts);
    let by_tag = scan(&scanner, &shared.basic.reference("demo/oci:1"));
    let by_digest = scan(&scanner, &shared.basic.reference(&format!("demo/oci@{digest}")));
    assert!(by_digest.errors.is_empty(), "{:?}", by_digest.errors);
    assert_eq!(seen(&by_tag), seen(&by_digest));
}

#[test]
fn scanner_errors_name_the_image_and_say_what_to_do() {
    let shared = shared();
    let wrong =
        scan(&scanner(options(shared, Some((USER, "wrong-password-Xy7")))), &shared.basic.reference("demo/oci:1"));
    assert_eq!(wrong.errors.len(), 1, "{:?}", wrong.errors);
    let e = &wrong.errors[0];
    assert_eq!(e.kind, layerdig::ErrorKind::Unauthorized);
    assert!(e.incomplete);
    assert_eq!(
        e.message,
        format!("docker://{}/demo/oci:1: unauthorized for demo/oci: check --creds or --authfile", shared.basic.host)
    );
    let missing = scan(&scanner(options(shared, Some((USER, PASSWORD)))), &shared.basic.reference("demo/oci:nope"));
    assert_eq!(missing.errors[0].kind, layerdig::ErrorKind::NotFound);
    assert!(
        missing.errors[0].message.ends_with("manifest unknown: demo/oci:nope is not in the registry"),
        "{:?}",
        missing.errors
    );
}
