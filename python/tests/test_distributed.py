"""layerdig.distributed.sweep on a real Dask cluster (two worker processes): the same findings as
layerdig.scan for every committed fixture image, each layer shared by several targets scanned
once, and the persistent cache shared through ``cache=`` used by the next sweep."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dask.distributed import Client, LocalCluster, get_task_stream
from helpers import AWS_KEY, AWS_KEY_2, FIXTURES, SynthImage, SynthLayer, layer_blob, layer_tar, write_oci

import layerdig
from layerdig.distributed import sweep

SCAN_LAYER = "layerdig-scan-layer-"
NOW = "2026-12-01T00:00:00Z"

ACME = r"""
provider: Acme
rules:
  - id: acme.token
    name: Acme API token
    severity: medium
    keywords: [acme_]
    pattern: '\b(acme_[0-9a-f]{20})\b'
    examples: ['acme_0123456789abcdef0123']
"""
ACME_TOKEN = "acme_0123456789abcdef0123"


def fixture_targets() -> list[Path]:
    """Every committed fixture image: the *.tar archives and the OCI layout directories."""
    images = sorted(FIXTURES.glob("*.tar")) + sorted(p for p in FIXTURES.iterdir() if (p / "oci-layout").is_file())
    assert len(images) >= 7, images
    return images


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
    )
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def findings(report: layerdig.Report) -> list[tuple[Any, ...]]:
    """What a finding is and where: rule, fingerprint and each location's place and status."""
    return sorted(
        (
            f.rule_id,
            f.fingerprint,
            f.severity,
            f.fails_gate,
            tuple(
                sorted(
                    (loc.image, loc.source, loc.path or "", loc.config_key or "", loc.status or "", loc.layer_index or -1)
                    for loc in f.locations
                )
            ),
        )
        for f in report.findings
    )


def scan_layer_keys(stream: list[dict[str, Any]]) -> list[str]:
    """The keys of the scan_layer tasks a task stream recorded, one entry per run."""
    keys = [str(task["key"]) for task in stream]
    return [k for k in keys if k.startswith(SCAN_LAYER)]


def wait_until_forgotten(client: Client) -> None:
    """Wait until the scheduler has released the previous sweep's layer results, so the next
    sweep scans (or reads the cache) rather than reusing them from memory."""

    def held(dask_scheduler: Any) -> int:
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith(SCAN_LAYER))

    deadline = time.monotonic() + 30
    while client.run_on_scheduler(held):  # type: ignore[no-untyped-call]
        assert time.monotonic() < deadline, "the scheduler still holds the first sweep's layer results after 30 s"
        time.sleep(0.05)


@dataclass
class FixtureSweep:
    targets: list[Path]
    reports: list[layerdig.Report]
    scan_layer_keys: list[str]


@pytest.fixture(scope="module")
def fixture_sweep(client: Client) -> FixtureSweep:
    """Every fixture image swept once, with the tasks the cluster ran."""
    targets = fixture_targets()
    with get_task_stream(client) as stream:
        reports = sweep(targets, client=client, show_secrets=True, now=NOW)
    return FixtureSweep(targets, reports, scan_layer_keys(stream.data))


def test_sweep_gives_what_scan_gives_for_every_fixture(fixture_sweep: FixtureSweep) -> None:
    targets, reports = fixture_sweep.targets, fixture_sweep.reports
    assert len(reports) == len(targets)
    for target, report in zip(targets, reports):
        alone = layerdig.scan(target, show_secrets=True, now=NOW)
        assert report.errors == [], (target, [str(e) for e in report.errors])
        assert [image.path for image in report.images] == [str(target)]
        assert [[layer.digest for layer in image.layers] for image in report.images] == [
            [layer.digest for layer in image.layers] for image in alone.images
        ]
        assert findings(report) == findings(alone), target
        assert [f.secret for f in sorted(report.findings, key=lambda f: f.fingerprint)] == [
            f.secret for f in sorted(alone.findings, key=lambda f: f.fingerprint)
        ]
        assert report.gate == alone.gate, target
        assert report.stats.findings == alone.stats.findings > 0
        assert report.stats.layers == alone.stats.layers


def test_shared_layers_are_scanned_once(fixture_sweep: FixtureSweep) -> None:
    listings = [layerdig.layer_ids(t) for t in fixture_sweep.targets]
    total = sum(len(listing) for listing in listings)
    distinct = {layer_id for listing in listings for layer_id, _ in listing}
    # demo.oci.tar and demo.umoci.oci hold the same eight gzip layers: sharing is real here.
    assert len(distinct) <= total - 8, (len(distinct), total)
    keys = fixture_sweep.scan_layer_keys
    assert len(keys) == len(set(keys)) == len(distinct), (len(keys), len(set(keys)), len(distinct))
    assert {k[len(SCAN_LAYER) :].rsplit("-", 1)[0] for k in keys} == distinct
    assert sum(r.stats.layers for r in fixture_sweep.reports) == total


def synthetic_family(root: Path) -> list[Path]:
    """Four images on one base layer (an AWS key), each with a layer of its own; the last adds
    an Acme token only a custom rule finds."""
    base = SynthLayer(layer_tar({"etc/app.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY app.env /etc/")
    images = []
    for i in range(4):
        own = {f"srv/service{i}.txt": f"service {i}\n".encode()}
        if i == 2:
            own["srv/legacy.env"] = f"OLD_KEY={AWS_KEY_2}\n".encode()
        if i == 3:
            own["srv/acme.cfg"] = f"token={ACME_TOKEN}\n".encode()
        layer = SynthLayer(layer_tar(own), f"COPY service{i} /srv/")
        images.append(write_oci(root / f"service{i}", [SynthImage([base, layer])]))
    return images


def tamper(blob: Path) -> None:
    """Change a blob's bytes, keeping its size: read, it no longer hashes to its digest."""
    data = bytearray(blob.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    blob.write_bytes(bytes(data))


def test_the_cache_dir_is_used_by_the_next_sweep(client: Client, tmp_path: Path) -> None:
    targets = synthetic_family(tmp_path / "images")
    cache = tmp_path / "cache"
    cache.mkdir()
    wait_until_forgotten(client)
    with get_task_stream(client) as stream:
        cold = sweep(targets, client=client, cache=cache)
    assert len(scan_layer_keys(stream.data)) == 5  # the shared base and four layers of their own
    assert [r.errors for r in cold] == [[], [], [], []]
    assert (cache / "layers.sqlite").is_file(), sorted(p.name for p in cache.iterdir())
    assert [findings(r) for r in cold] == [findings(layerdig.scan(t)) for t in targets]

    # Change every layer's bytes (same size): a layer read now fails its digest check.
    for t in targets:
        for i in range(2):
            tamper(layer_blob(t, i))
    wait_until_forgotten(client)
    uncached = sweep(targets, client=client)
    assert all(any(e.kind == "digest_mismatch" for e in r.errors) for r in uncached), [
        [e.kind for e in r.errors] for r in uncached
    ]
    # The next sweep with the cache reads no layer: each one's result comes from the cache (the
    # digest names the bytes that were checked when the result was stored).
    wait_until_forgotten(client)
    with get_task_stream(client) as stream:
        warm = sweep(targets, client=client, cache=cache)
    assert len(scan_layer_keys(stream.data)) == 5
    assert [r.errors for r in warm] == [[], [], [], []], [[str(e) for e in r.errors] for r in warm]
    assert [findings(r) for r in warm] == [findings(r) for r in cold]
    assert [r.stats.layers_from_cache for r in warm] == [2, 2, 2, 2]
    assert {f.rule_id for f in warm[0].findings} >= {"aws.access-key-id"}
    assert len(warm[2].findings) == len(warm[0].findings) + 1


def test_rules_by_path(client: Client, tmp_path: Path) -> None:
    targets = synthetic_family(tmp_path / "images")
    rule_file = tmp_path / "acme.yaml"
    rule_file.write_text(ACME)
    plain = sweep(targets, client=client)
    assert "acme.token" not in {f.rule_id for r in plain for f in r.findings}
    custom = sweep(targets, client=client, rules_path=rule_file, show_secrets=True)
    (acme,) = [f for f in custom[3].findings if f.rule_id == "acme.token"]
    assert acme.secret == ACME_TOKEN
    assert [loc.path for loc in acme.locations] == ["srv/acme.cfg"]
    rules = layerdig.Rules.builtin().extend_from_file(rule_file)
    assert findings(custom[3]) == findings(layerdig.scan(targets[3], rules=rules))


def test_a_rule_file_changed_between_sweeps_is_read_again(client: Client, tmp_path: Path) -> None:
    targets = synthetic_family(tmp_path / "images")[3:]
    rule_file = tmp_path / "acme.yaml"
    rule_file.write_text(ACME)
    (first,) = sweep(targets, client=client, rules_path=[rule_file])
    assert [f.severity for f in first.findings if f.rule_id == "acme.token"] == ["medium"]
    rule_file.write_text(ACME.replace("severity: medium", "severity: high"))
    os.utime(rule_file, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    (second,) = sweep(targets, client=client, rules_path=[rule_file])
    assert [f.severity for f in second.findings if f.rule_id == "acme.token"] == ["high"]
    with pytest.raises(FileNotFoundError):
        sweep(targets, client=client, rules_path=tmp_path / "missing.yaml")


def test_policy_and_gate_travel_with_the_sweep(client: Client, tmp_path: Path) -> None:
    targets = synthetic_family(tmp_path / "images")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(f'["{layerdig.scan(targets[0]).findings[0].fingerprint}"]')
    reports = sweep(targets, client=client, baseline=baseline, fail_on="critical")
    for target, report in zip(targets, reports):
        alone = layerdig.scan(target, baseline=baseline, fail_on="critical")
        assert findings(report) == findings(alone)
        assert report.gate == alone.gate
        assert report.stats.baselined == alone.stats.baselined == 1
    # Left: the second AWS key (critical: fails) and the Acme token as a generic assignment
    # (medium: below the threshold).
    assert [len(r.findings) for r in reports] == [0, 0, 1, 1]
    assert [r.stats.failing for r in reports] == [0, 0, 1, 0]


def test_inputs_without_layer_ids_are_scanned_by_their_resolve_task(client: Client, tmp_path: Path) -> None:
    """A plain directory has no layers to share: its resolve task scans it whole."""
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    (root / "app" / ".env").write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
    assert layerdig.layer_ids(root) == []
    (report,) = sweep([root], client=client)
    assert findings(report) == findings(layerdig.scan(root))
    assert [f.rule_id for f in report.findings] == ["aws.access-key-id"]


def test_errors_are_raised_as_raised(client: Client, tmp_path: Path) -> None:
    assert sweep([], client=client) == []
    with pytest.raises(FileNotFoundError):
        sweep([tmp_path / "missing.tar"], client=client)
    not_an_image = tmp_path / "README.txt"
    not_an_image.write_text("this is not a container image\n" * 40)
    with pytest.raises(layerdig.ImageFormatError, match="not a container image"):
        sweep([FIXTURES / "demo.oci.tar", not_an_image], client=client)


def test_client_must_be_a_dask_client() -> None:
    with pytest.raises(TypeError, match="distributed.Client"):
        sweep([FIXTURES / "demo.oci.tar"], client=object())  # type: ignore[arg-type]


def test_without_dask_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "layerdig\[dask\]"'):
        sweep([FIXTURES / "demo.oci.tar"], client=object())  # type: ignore[arg-type]
