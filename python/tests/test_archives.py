"""Archives inside layers (their secrets at inner paths, with segments) and the input's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import layerdig
from helpers import AWS_KEY, FIXTURES, SynthImage, SynthLayer, layer_tar, write_oci


def _planted() -> list[dict[str, object]]:
    data = json.loads((FIXTURES / "archives.planted.json").read_text())
    return list(data["planted"])


def test_inner_paths_and_segments() -> None:
    report = layerdig.scan(FIXTURES / "archives.oci", show_secrets=True)
    assert report.errors == []
    by_secret = {f.secret: f for f in report.findings if f.secret}
    war = next(p for p in _planted() if ".war!" in str(p["path"]))
    loc = by_secret[str(war["secret"])].locations[0]
    assert loc.path == war["path"]
    assert loc.path_segments == str(war["path"]).split("!")
    assert loc.layer_index == war["layer"]
    deleted = next(p for p in _planted() if p["status"] == "deleted")
    loc = by_secret[str(deleted["secret"])].locations[0]
    assert (loc.status, loc.removed_in_layer) == ("deleted", deleted["removed_in_layer"])
    assert loc.path_segments is not None and loc.path_segments[0] == "opt/legacy/old.jar"
    plain = next(p for p in _planted() if "!" not in str(p["path"]))
    assert by_secret[str(plain["secret"])].locations[0].path_segments is None
    # The JSON carries the same.
    doc = json.loads(report.to_json())
    paths = {tuple(l["path_segments"]) for f in doc["findings"] for l in f["locations"] if "path_segments" in l}
    assert tuple(str(war["path"]).split("!")) in paths


def test_archive_depth_zero_reads_archives_as_bytes() -> None:
    report = layerdig.scan(FIXTURES / "archives.oci", show_secrets=True, archive_depth=0)
    assert all("!" not in (l.path or "") for f in report.findings for l in f.locations)
    found = {f.secret for f in report.findings}
    jar = [p for p in _planted() if str(p["path"]).startswith("opt/app/app.jar!")]
    assert jar and all(p["secret"] not in found for p in jar)


def test_an_annotation_is_a_metadata_location(tmp_path: Path) -> None:
    layer = SynthLayer(layer_tar({"app/main.py": b"print('hi')\n"}), "COPY . /")
    root = write_oci(tmp_path / "annotated", [SynthImage([layer])])
    index = json.loads((root / "index.json").read_text())
    index["manifests"][0]["annotations"] = {"org.example.deploy-key": AWS_KEY}
    (root / "index.json").write_text(json.dumps(index))
    report = layerdig.scan(root, show_secrets=True)
    locs = [l for f in report.findings if f.secret == AWS_KEY for l in f.locations]
    meta = [l for l in locs if l.source == "metadata"]
    assert len(meta) == 1, locs
    assert meta[0].document == {
        "kind": "index",
        "name": "index.json",
        "field": "manifests[0].annotations.org.example.deploy-key",
    }
    assert meta[0].path is None and meta[0].layer_index is None
