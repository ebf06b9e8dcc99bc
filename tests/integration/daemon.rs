//! Images where they live: the Engine API client against a real podman service
//! (`layerdig_tests::podman`) holding every committed fixture image.

use std::collections::BTreeSet;
use std::io::Read;

use layerdig::engine::{Client, Endpoint};
use layerdig::{DaemonErrorKind, Error, ErrorKind};
use layerdig_tests::podman::{LOADED, PodmanService};

fn client(service: &PodmanService) -> Client {
    Client::new(Endpoint::parse(&service.docker_host()).unwrap())
}

#[test]
fn the_service_answers_and_knows_every_fixture() {
    let service = PodmanService::shared();
    eprintln!("podman: fixtures copied in {:?}, service up in {:?}", service.load_time, service.start_time);
    let client = client(&service);
    client.ping().unwrap();
    for fixture in LOADED {
        let info = client.inspect(fixture.name).unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        assert!(info.id.starts_with("sha256:") && info.id.len() == 71, "{}: {info:?}", fixture.name);
        assert!(info.repo_tags.iter().any(|t| t == fixture.name), "{}: {info:?}", fixture.name);
    }
}

#[test]
fn the_export_streams_a_docker_save_tar() {
    let service = PodmanService::shared();
    let client = client(&service);
    for fixture in LOADED {
        let mut export = client.export(fixture.name).unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        let mut archive = tar::Archive::new(&mut export);
        let mut names = BTreeSet::new();
        let mut layer_tars = 0;
        for entry in archive.entries().unwrap_or_else(|e| panic!("{}: {e}", fixture.name)) {
            let mut entry = entry.unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
            let name = entry.path().unwrap().display().to_string();
            if name.ends_with(".tar") && !name.contains('/') {
                layer_tars += 1;
            }
            // Read every entry's bytes through the stream.
            std::io::copy(&mut entry, &mut std::io::sink()).unwrap();
            names.insert(name);
        }
        // Nothing follows the tar's end but padding.
        let mut rest = Vec::new();
        export.read_to_end(&mut rest).unwrap();
        assert!(rest.iter().all(|&b| b == 0), "{}: {} bytes after the tar", fixture.name, rest.len());
        assert!(names.contains("manifest.json"), "{}: {names:?}", fixture.name);
        let expected_layers = match fixture.file {
            "demo.umoci.oci" => 9,
            f if f.starts_with("demo") => 8,
            _ => 7,
        };
        assert_eq!(layer_tars, expected_layers, "{}: {names:?}", fixture.name);
    }
}

#[test]
fn an_image_the_engine_does_not_have_is_no_such_image() {
    let service = PodmanService::shared();
    let client = client(&service);
    let Err(e) = client.open("localhost/fixture/absent:1") else { panic!("an absent image opened") };
    assert_eq!(e.kind(), ErrorKind::NoSuchImage);
    assert!(e.is_incomplete());
    let text = e.to_string();
    assert!(
        text.starts_with("docker-daemon:localhost/fixture/absent:1: no such image localhost/fixture/absent:1"),
        "{text}"
    );
    assert!(matches!(client.inspect("localhost/fixture/absent:1"), Err(DaemonErrorKind::NoSuchImage { .. })));
    assert!(matches!(client.export("localhost/fixture/absent:1"), Err(DaemonErrorKind::NoSuchImage { .. })));
}

#[test]
fn no_socket_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::Unix(dir.path().join("nothing-listens-here.sock"));
    let Err(e) = Client::new(endpoint.clone()).open("localhost/fixture/demo-docker:1") else {
        panic!("opened through no socket")
    };
    let Error::Daemon { image, kind: DaemonErrorKind::Unreachable { endpoint: shown, .. } } = &e else {
        panic!("not unreachable: {e:?}")
    };
    assert_eq!(image, "docker-daemon:localhost/fixture/demo-docker:1");
    assert_eq!(shown, &endpoint.to_string());
    assert!(e.to_string().contains("cannot reach the Docker daemon at unix://"), "{e}");
    assert!(e.to_string().contains("is it running? set DOCKER_HOST"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unreachable);
}

/// Scan `docker-daemon:NAME` through the library, from `service`.
fn scan_daemon(service: &PodmanService, name: &str) -> layerdig::Report {
    let rules = layerdig::Rules::builtin();
    let scanner =
        layerdig::Scanner::builder().threads(2).daemon_host(Some(service.docker_host())).build(&rules).unwrap();
    let mut sink = layerdig::Collect::new();
    let input = layerdig::Input::parse(&format!("docker-daemon:{name}")).unwrap();
    assert_eq!(input, layerdig::Input::Daemon(name.to_string()));
    let stats = scanner.scan_input(&input, &mut sink).unwrap();
    sink.into_report(stats)
}

#[test]
fn every_name_form_reaches_the_image() {
    let service = PodmanService::shared();
    let name = "localhost/fixture/demo-docker:1";
    let info = client(&service).inspect(name).unwrap();
    let hex = info.id.strip_prefix("sha256:").unwrap();
    let repo_digest = info.repo_digests.first().expect("a repository digest").clone();
    let reference = scan_daemon(&service, name);
    assert!(reference.errors.is_empty(), "{:?}", reference.errors);
    assert_eq!(reference.images[0].format, "docker-daemon");
    assert_eq!(reference.images[0].layers.len(), 8);
    let fingerprints = |r: &layerdig::Report| r.findings.iter().map(|f| f.fingerprint.clone()).collect::<Vec<_>>();
    assert!(reference.findings.len() >= 8, "{:?}", fingerprints(&reference));
    for form in ["fixture/demo-docker:1", info.id.as_str(), &hex[..12], repo_digest.as_str()] {
        let report = scan_daemon(&service, form);
        assert!(report.errors.is_empty(), "{form}: {:?}", report.errors);
        assert_eq!(fingerprints(&report), fingerprints(&reference), "{form}");
        assert!(report.findings.iter().flat_map(|f| &f.locations).all(|l| l.image == format!("docker-daemon:{form}")));
    }
}
