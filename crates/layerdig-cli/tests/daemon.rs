//! `layerdig scan docker-daemon:NAME` against a real podman API service holding every committed
//! fixture image (`layerdig_tests::podman`): the same findings as a scan of the fixture file,
//! and clear errors (exit 2) for an absent image and an absent engine.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use layerdig_tests::podman::{LOADED, PodmanService, comparable};
use serde_json::Value;

fn layerdig() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerdig"));
    cmd.env_remove("NO_COLOR")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .current_dir(std::env::temp_dir());
    cmd
}

fn fixture_path(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name).display().to_string()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), stderr(o))
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a person sees: the human report (stdout, where it lists problems) and stderr.
fn shown(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o))
}

#[test]
fn every_fixture_in_the_engine_has_the_findings_of_its_file() {
    let service = PodmanService::shared();
    eprintln!("podman: fixtures copied in {:?}, service up in {:?}", service.load_time, service.start_time);
    for fixture in LOADED {
        let file =
            layerdig().args(["scan", "-f", "json", "--no-config", &fixture_path(fixture.file)]).output().unwrap();
        let engine = layerdig()
            .env("DOCKER_HOST", service.docker_host())
            .args(["scan", "-f", "json", "--no-config", &format!("docker-daemon:{}", fixture.name)])
            .output()
            .unwrap();
        let (file_json, engine_json) = (json(&file), json(&engine));
        assert_eq!(engine_json["errors"], serde_json::json!([]), "{}: {}", fixture.name, stderr(&engine));
        // demo.docker.tar is what podman itself exported: every location matches, digests and
        // documents too. The others are compared on what survives a re-export.
        let digests = fixture.file == "demo.docker.tar";
        let (want_findings, want_layers) = comparable(&file_json, digests);
        let (got_findings, got_layers) = comparable(&engine_json, digests);
        assert!(want_findings.len() >= 8, "{}: {want_findings:#?}", fixture.file);
        assert_eq!(
            got_findings.symmetric_difference(&want_findings).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{}: findings differ between the file and the engine",
            fixture.name
        );
        assert_eq!(got_layers, want_layers, "{}", fixture.name);
        assert_eq!(engine.status.code(), file.status.code(), "{}: {}", fixture.name, stderr(&engine));
        assert_eq!(engine.status.code(), Some(1), "{}: the planted secrets fail the gate", fixture.name);
    }
}

#[test]
fn daemon_host_overrides_docker_host() {
    let service = PodmanService::shared();
    let dir = tempfile::tempdir().unwrap();
    let out = layerdig()
        .env("DOCKER_HOST", format!("unix://{}", dir.path().join("wrong.sock").display()))
        .args(["scan", "-f", "json", "--no-config", "--daemon-host", &service.docker_host()])
        .arg("docker-daemon:localhost/fixture/demo-docker:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(json(&out)["findings"].as_array().is_some_and(|f| !f.is_empty()));
}

#[test]
fn an_absent_image_is_a_clear_error_and_exit_2() {
    let service = PodmanService::shared();
    let out = layerdig()
        .env("DOCKER_HOST", service.docker_host())
        .args(["scan", "--no-config", "docker-daemon:localhost/fixture/absent:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = shown(&out);
    assert!(
        err.contains("docker-daemon:localhost/fixture/absent:1: no such image localhost/fixture/absent:1"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
}

#[test]
fn no_engine_is_a_clear_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("podman.sock");
    let out = layerdig()
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args(["scan", "--no-config", "docker-daemon:app:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = shown(&out);
    assert!(
        err.contains(&format!("docker-daemon:app:1: cannot reach the Docker daemon at unix://{}", socket.display())),
        "{err}"
    );
    assert!(err.contains("is it running? set DOCKER_HOST"), "{err}");
}
