"""scan() of an image in a container engine (docker-daemon:NAME): a real podman API service,
started here with its storage in a temporary directory, holding the demo fixture. Fails, never
skips, when podman or skopeo is missing or the service does not come up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FIXTURES

import layerdig

NAME = "localhost/fixture/demo-docker:1"


def _ping(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DOCKER_HOST of a podman service holding demo.docker.tar as NAME; stopped afterwards."""
    for tool in ("podman", "skopeo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install {tool}): the daemon tests need it")
    top = tmp_path_factory.mktemp("podman")
    root, runroot, tmp, sock = top / "root", top / "runroot", top / "tmp", top / "podman.sock"
    tmp.mkdir()
    copy = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            f"docker-archive:{FIXTURES / 'demo.docker.tar'}",
            f"containers-storage:[vfs@{root}+{runroot}]{NAME}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    if copy.returncode != 0:
        pytest.fail(f"skopeo copy failed: {copy.stderr}")
    log = open(top / "service.log", "wb")  # noqa: SIM115 (closed below, after the service)
    service = subprocess.Popen(
        [
            "podman",
            f"--root={root}",
            f"--runroot={runroot}",
            f"--tmpdir={tmp}",
            "--storage-driver=vfs",
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
            "system",
            "service",
            "--time=0",
            f"unix://{sock}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not _ping(sock):
            if service.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"podman system service did not come up: {(top / 'service.log').read_text()}")
            time.sleep(0.05)
        yield f"unix://{sock}"
    finally:
        service.kill()
        service.wait()
        log.close()


def comparable(report: layerdig.Report) -> set[tuple[object, ...]]:
    """What an engine's export shares with the file it was loaded from (see docs/engines.md)."""
    return {
        (f.rule_id, f.fingerprint, loc.source, loc.path, loc.line, loc.status, loc.layer_index, loc.removed_in_layer)
        for f in report.findings
        for loc in f.locations
        if loc.source in ("file", "config", "history")
    }


def test_an_image_in_the_engine_has_the_findings_of_its_file(podman: str) -> None:
    from_file = layerdig.scan(FIXTURES / "demo.docker.tar")
    from_engine = layerdig.scan(f"docker-daemon:{NAME}", daemon_host=podman)
    assert from_engine.errors == [], [str(e) for e in from_engine.errors]
    assert comparable(from_engine) == comparable(from_file)
    assert len(from_engine.images[0].layers) == 8


def test_docker_host_is_read_when_no_daemon_host_is_given(podman: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman)
    report = layerdig.scan(f"docker-daemon:{NAME}")
    assert report.errors == []
    assert report.findings


def test_an_absent_image_or_engine_is_a_clear_error(podman: str, tmp_path: Path) -> None:
    report = layerdig.scan("docker-daemon:localhost/fixture/absent:1", daemon_host=podman)
    assert [e.kind for e in report.errors] == ["no_such_image"]
    assert "no such image localhost/fixture/absent:1" in report.errors[0].message
    assert report.stats.incomplete
    report = layerdig.scan(f"docker-daemon:{NAME}", daemon_host=f"unix://{tmp_path / 'none.sock'}")
    assert [e.kind for e in report.errors] == ["unreachable"]
    assert "cannot reach the Docker daemon at unix://" in report.errors[0].message
