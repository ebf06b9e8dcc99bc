"""iter_scan(): a real iterator over findings pushed from a background scan."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import AWS_KEY, AWS_KEY_2, FIXTURES, FORMS, ReportCache, SynthImage, SynthLayer, layer_tar, write_oci

import layerdig


@pytest.mark.parametrize("form", sorted(FORMS))
def test_yields_the_same_findings_as_scan(reports: ReportCache, form: str) -> None:
    it = layerdig.iter_scan(FIXTURES / form)
    assert isinstance(it, layerdig.ScanIterator)
    assert iter(it) is it
    streamed = list(it)
    report = reports.get(form)
    assert sorted(f.fingerprint for f in streamed) == sorted(f.fingerprint for f in report)
    assert {f: [loc.to_dict() for loc in f.locations] for f in streamed} == {f: [loc.to_dict() for loc in f.locations] for f in report}
    # Exhausted: the rest of the report is there, and next() keeps raising StopIteration.
    assert it.stats is not None and it.stats.findings == len(streamed) and it.stats.layers == report.stats.layers
    assert it.images == report.images
    assert it.errors == []
    assert repr(it) == "<ScanIterator done: 1 images, 0 errors so far>"
    with pytest.raises(StopIteration):
        next(it)


def test_options_are_passed_through() -> None:
    it = layerdig.iter_scan(FIXTURES / "demo.oci.tar", show_secrets=True, threads=1, platform="linux/amd64", rules=layerdig.Rules.builtin())
    assert any(f.secret for f in it)
    assert all(f.secret is None for f in layerdig.iter_scan(FIXTURES / "demo.oci.tar"))


def test_opening_errors_raise_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        layerdig.iter_scan(tmp_path / "missing.tar")
    (tmp_path / "notes.txt").write_text("hello\n" * 200)
    with pytest.raises(layerdig.ImageFormatError):
        layerdig.iter_scan(tmp_path / "notes.txt")
    with pytest.raises(layerdig.ImageFormatError):
        layerdig.iter_scan(FIXTURES / "demo.oci.tar", platform="linux/s390x")
    with pytest.raises(ValueError):
        layerdig.iter_scan(FIXTURES / "demo.oci.tar", threads=0)


def test_findings_of_every_image_stream_in(tmp_path: Path) -> None:
    # A multi-platform layout: the findings of each image come with their own locations.
    amd = SynthImage([SynthLayer(layer_tar({"a/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY a")])
    arm = SynthImage([SynthLayer(layer_tar({"b/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY_2}\n".encode()}), "COPY b")], platform=("linux", "arm64"))
    layout = write_oci(tmp_path / "multi", [amd, arm])
    streamed = list(layerdig.iter_scan(layout, show_secrets=True))
    by_secret = {f.secret: f.locations[0] for f in streamed}
    assert by_secret[AWS_KEY].platform == "linux/amd64" and by_secret[AWS_KEY].path == "a/.env"
    assert by_secret[AWS_KEY_2].platform == "linux/arm64" and by_secret[AWS_KEY_2].path == "b/.env"
    only_arm = list(layerdig.iter_scan(layout, show_secrets=True, platform="linux/arm64"))
    assert [f.secret for f in only_arm] == [AWS_KEY_2]


def test_close_and_drop_stop_early() -> None:
    it = layerdig.iter_scan(FIXTURES / "demo.umoci.oci")
    first = next(it)
    assert isinstance(first, layerdig.Finding)
    it.close()
    with pytest.raises(StopIteration):
        next(it)
    assert it.stats is None, "stopped before the end"
    it.close()  # twice is fine

    # Dropping a half-read iterator does not hang or leak a blocked thread.
    for _ in range(5):
        half = layerdig.iter_scan(FIXTURES / "demo.oci.tar")
        next(half)
        del half
        gc.collect()


def test_problems_arrive_as_errors(tmp_path: Path) -> None:
    layers = [
        SynthLayer(layer_tar({"etc/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY env"),
        SynthLayer(layer_tar({"x/data": b"y" * 100_000}), "COPY data"),
    ]
    layout = write_oci(tmp_path / "broken", [SynthImage(layers)], truncate_layer=1)
    it = layerdig.iter_scan(layout)
    found = list(it)
    assert any(f.rule_id == "aws.access-key-id" for f in found), "the good layer is still scanned"
    assert it.errors and any(e.layer_index == 1 and e.incomplete for e in it.errors)
    assert it.stats is not None and it.stats.incomplete


def test_threads_can_share_one_iterator() -> None:
    it = layerdig.iter_scan(FIXTURES / "demo.docker.tar")

    def drain(_: int) -> list[layerdig.Finding]:
        out = []
        for f in it:
            out.append(f)
        return out

    with ThreadPoolExecutor(3) as pool:
        parts = list(pool.map(drain, range(3)))
    got = [f for part in parts for f in part]
    assert sorted(f.fingerprint for f in got) == sorted(f.fingerprint for f in layerdig.scan(FIXTURES / "demo.docker.tar"))


def test_is_a_lazy_generator_replacement() -> None:
    def severities(path: Path) -> Iterator[str]:
        for f in layerdig.iter_scan(path):
            yield f.severity

    assert set(severities(FIXTURES / "demo.zstd.oci")) <= {"critical", "high", "medium", "low"}
