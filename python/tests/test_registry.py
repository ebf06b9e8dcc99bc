"""scan() on images in a real registry: Debian's docker-registry over TLS (a CA made by
openssl) with htpasswd authentication, filled by skopeo from the committed fixtures."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import layerdig
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
USER, PASSWORD = "tester", "pw-Py4Lk8Qs2Mx6"


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"the registry tests need {tool}: apt-get install {package}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    for tool, package in [
        ("docker-registry", "docker-registry"),
        ("skopeo", "skopeo"),
        ("openssl", "openssl"),
        ("htpasswd", "apache2-utils"),
    ]:
        _need(tool, package)
    d = tmp_path_factory.mktemp("registry")

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, cwd=d, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=layerdig py CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext")  # fmt: skip
    certs = d / "certs"
    certs.mkdir()
    shutil.copy(d / "ca.crt", certs / "ca.crt")
    (d / "htpasswd").write_bytes(run("htpasswd", "-Bbn", USER, PASSWORD).stdout)
    host = f"127.0.0.1:{_free_port()}"
    (d / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {d / 'data'}\n"
        f"http:\n  addr: {host}\n  tls:\n    certificate: {d / 'server.crt'}\n    key: {d / 'server.key'}\n"
        f"auth:\n  htpasswd:\n    realm: test\n    path: {d / 'htpasswd'}\n"
    )
    proc = subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(d / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", int(host.split(":")[1])), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.05)
        (d / "policy.json").write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
        run("skopeo", "copy", "--quiet", "--policy", str(d / "policy.json"), "--dest-cert-dir", str(certs),
            "--dest-creds", f"{USER}:{PASSWORD}", f"oci-archive:{FIXTURES / 'demo.oci.tar'}",
            f"docker://{host}/demo/oci:1")  # fmt: skip
        yield host, certs
    finally:
        proc.terminate()
        proc.wait()


def _locations(report: layerdig.Report) -> set[tuple[str, str | None, int | None]]:
    return {
        (f.rule_id, loc.path, loc.layer_index)
        for f in report.findings
        for loc in f.locations
        if loc.source in ("file", "config", "history")
    }


def test_scan_reads_a_registry_image_as_its_file(registry: tuple[str, Path], tmp_path: Path) -> None:
    host, certs = registry
    remote = layerdig.scan(
        f"docker://{host}/demo/oci:1",
        creds=f"{USER}:{PASSWORD}",
        cert_dir=certs,
        authfile=tmp_path / "none.json",
    )
    assert remote.errors == []
    local = layerdig.scan(FIXTURES / "demo.oci.tar")
    assert _locations(remote) == _locations(local) != set()


def test_wrong_credentials_and_untrusted_certificates_are_errors(
    registry: tuple[str, Path], tmp_path: Path
) -> None:
    host, certs = registry
    ref = f"docker://{host}/demo/oci:1"
    wrong = layerdig.scan(ref, creds=f"{USER}:nope-Zx9", cert_dir=certs, authfile=tmp_path / "none.json")
    assert [e.kind for e in wrong.errors] == ["unauthorized"]
    assert "unauthorized for demo/oci: check --creds or --authfile" in wrong.errors[0].message
    assert "nope-Zx9" not in repr(wrong.errors) + wrong.to_json()
    untrusted = layerdig.scan(ref, creds=f"{USER}:{PASSWORD}", authfile=tmp_path / "none.json")
    assert "UnknownIssuer" in untrusted.errors[0].message
    unverified = layerdig.scan(ref, creds=f"{USER}:{PASSWORD}", tls_verify=False, authfile=tmp_path / "none.json")
    assert unverified.errors == []
    with pytest.raises(ValueError) as raised:
        layerdig.scan(ref, creds="no-colon-secret")
    assert "no-colon-secret" not in str(raised.value)
