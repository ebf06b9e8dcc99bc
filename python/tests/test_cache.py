"""Layer results as values (layer_ids, scan_layer, resolve) and the persistent cache (cache=)."""

from __future__ import annotations

from pathlib import Path

import layerdig
import pytest
from helpers import FIXTURES


def _found(report: layerdig.Report) -> list[tuple[str, str, str | None, str | None, int | None]]:
    return sorted(
        (f.rule_id, f.fingerprint, loc.path, loc.status, loc.layer_index)
        for f in report.findings
        for loc in f.locations
    )


@pytest.mark.parametrize("form", ["demo.docker.tar", "demo.oci.tar", "demo.zstd.oci"])
def test_resolving_from_layer_results_gives_the_scan(form: str) -> None:
    path = FIXTURES / form
    ids = layerdig.layer_ids(path)
    assert ids and all(i.startswith("sha256:") and size >= 0 for i, size in ids)
    results = {i: layerdig.scan_layer(path, i) for i, _ in ids}
    assert all(isinstance(b, bytes) and b[:4] == b"LDLR" for b in results.values())
    resolved = layerdig.resolve(path, results, now="2026-12-01")
    scanned = layerdig.scan(path, now="2026-12-01")
    assert _found(resolved) == _found(scanned)
    assert _found(scanned), "the fixture has findings"
    # Every layer's result was used: no layer bytes were read to resolve.
    assert resolved.stats.bytes == 0
    assert resolved.stats.layers_from_cache == len(ids)


def test_a_corrupt_layer_result_is_refused() -> None:
    path = FIXTURES / "demo.oci.tar"
    layer_id, _ = layerdig.layer_ids(path)[0]
    data = bytearray(layerdig.scan_layer(path, layer_id))
    data[-1] ^= 0xFF
    with pytest.raises(ValueError, match="checksum"):
        layerdig.resolve(path, {layer_id: bytes(data)})
    with pytest.raises(layerdig.ImageFormatError):
        layerdig.scan_layer(path, "sha256:" + "0" * 64)


def test_a_warm_scan_reads_no_layer_and_finds_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = FIXTURES / "demo.docker.tar"
    cold = layerdig.scan(path, cache=cache, now="2026-12-01")
    assert cold.stats.layers_from_cache == 0 and cold.stats.bytes > 0
    warm = layerdig.scan(path, cache=cache, now="2026-12-01")
    assert warm.stats.layers_from_cache == warm.stats.layers == cold.stats.layers
    assert warm.stats.bytes == 0
    assert _found(warm) == _found(cold)
    # A damaged database file is set aside and rebuilt; the scan is whole, and says so.
    (cache / "layers.sqlite").write_bytes(b"not a database at all" * 100)
    again = layerdig.scan(path, cache=cache, now="2026-12-01")
    assert _found(again) == _found(cold)
    assert any("rebuilt" in e.message for e in again.errors)
    assert not again.stats.incomplete
