"""Archives inside layers: the archives fixture's secrets at their inner paths, with segments."""

from __future__ import annotations

import json

import layerdig
from helpers import FIXTURES


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
