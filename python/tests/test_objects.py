"""The result classes: attributes, to_dict/to_json/from_json, equality and hashing, repr, and
pickling (every protocol, and through a real process pool)."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, ReportCache, planted, probe

import layerdig

PROTOCOLS = range(pickle.DEFAULT_PROTOCOL - 2, pickle.HIGHEST_PROTOCOL + 1)


def everything(report: layerdig.Report) -> list[Any]:
    """One object of every result class."""
    finding = report.findings[0]
    image = report.images[0]
    return [report, finding, finding.locations[0], image, image.layers[0], report.stats]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickle_round_trip(reports: ReportCache, protocol: int) -> None:
    report = reports.get("demo.umoci.oci", show_secrets=True)
    for obj in everything(report):
        back = pickle.loads(pickle.dumps(obj, protocol=protocol))
        assert type(back) is type(obj)
        assert back == obj
        assert back.to_dict() == obj.to_dict()
    back = pickle.loads(pickle.dumps(report, protocol=protocol))
    assert [f.secret for f in back.findings] == [f.secret for f in report.findings]
    assert [loc.status for f in back.findings for loc in f.locations] == [loc.status for f in report.findings for loc in f.locations]


def test_pickle_of_error_and_file_records(tmp_path: Path) -> None:
    records = layerdig.files(FIXTURES / "demo.oci.tar", "deleted")
    assert pickle.loads(pickle.dumps(records)) == records
    error = layerdig.ErrorReport.from_json(
        json.dumps({"image": "x.tar", "layer_index": 3, "layer_digest": None, "path": "a/b", "incomplete": True, "message": "x.tar: layer 3, path /a/b: boom"})
    )
    back = pickle.loads(pickle.dumps(error))
    assert back == error and str(back) == "x.tar: layer 3, path /a/b: boom"
    assert (back.image, back.layer_index, back.layer_digest, back.path, back.incomplete) == ("x.tar", 3, None, "a/b", True)
    assert repr(back) == "ErrorReport(message='x.tar: layer 3, path /a/b: boom', incomplete=True)"


def test_reports_cross_a_process_pool() -> None:
    # The scan runs in worker processes; the reports come back pickled.
    forms = ["demo.oci.tar", "demo.zstd.oci"]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        remote = list(pool.map(layerdig.scan, [FIXTURES / f for f in forms]))
    for form, report in zip(forms, remote):
        assert isinstance(report, layerdig.Report)
        local = layerdig.scan(FIXTURES / form)
        assert [f.fingerprint for f in report] == [f.fingerprint for f in local]
        assert report.images == local.images


def test_finding_attributes(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar")
    by_rule = {f.rule_id: f for f in report}
    aws = by_rule["aws.access-key-id"]
    assert aws.rule_name == "AWS access key ID"
    assert (aws.severity, aws.detector, aws.secret, aws.note) == ("critical", "rule", None, None)
    assert aws.confidence in ("high", "medium", "low")
    assert len(aws.fingerprint) == 64 and int(aws.fingerprint, 16) >= 0
    assert aws.redacted.startswith("AKIA") and aws.redacted.endswith("(20 chars)")
    assert aws.best_status == "deleted" and aws.actionable
    assert repr(aws) == (
        f"Finding(rule_id='aws.access-key-id', severity='critical', redacted={aws.redacted!r}, "
        f"best_status='deleted', locations=1, fingerprint={aws.fingerprint[:12]!r})"
    )
    slack = next(f for f in report if {"config", "history"} <= {loc.source for loc in f.locations})
    assert slack.best_status is None and "best_status" not in repr(slack)


def test_location_attributes(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar")
    loc = next(f for f in report if f.rule_id == "aws.access-key-id").locations[0]
    assert (loc.source, loc.path, loc.layer_index, loc.status, loc.removed_in_layer, loc.removed_by) == (
        "file",
        "app/.env",
        1,
        "deleted",
        2,
        "whiteout",
    )
    assert loc.platform is None or loc.platform == "linux/amd64"
    assert loc.config_key is None and loc.disposition == "actionable"
    assert loc.image == str(FIXTURES / "demo.oci.tar")
    assert repr(loc) == f"Location(source='file', layer_index=1, path='app/.env', line={loc.line}, status='deleted', removed_in_layer=2)"
    history = next(l for f in report for l in f.locations if l.source == "history")
    assert history.config_key is not None and history.config_key.startswith("history[")
    assert repr(history).startswith("Location(source='history'")
    assert loc.span is not None
    d = loc.to_dict()
    assert (d["path"], d["status"], d["layer_index"]) == ("app/.env", "deleted", 1)
    assert d["span"] == {"start": loc.span[0], "end": loc.span[1]}


def test_findings_equal_and_hash_by_fingerprint(reports: ReportCache) -> None:
    hidden = reports.get("demo.oci.tar", show_secrets=False)
    shown = reports.get("demo.oci.tar", show_secrets=True)
    # The same secrets, shown or not, are equal findings: a set dedupes them.
    assert set(hidden.findings) == set(shown.findings)
    assert len(set(hidden.findings) | set(shown.findings)) == len(hidden.findings)
    other_form = reports.get("demo.docker.tar")
    assert set(other_form.findings) == set(hidden.findings)
    a, b = hidden.findings[0], hidden.findings[1]
    assert a != b and hash(a) != hash(b)
    assert a != "not a finding"
    # Locations, images, layers and stats compare by value.
    assert hidden.images[0].layers[0] == shown.images[0].layers[0]
    assert len({loc for f in hidden for loc in f.locations}) == sum(len(f.locations) for f in hidden)
    assert hash(hidden.stats) == hash(layerdig.Stats.from_json(hidden.stats.to_json()))


def test_to_dict_and_from_json_round_trip(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar", show_secrets=True)
    for obj in everything(report):
        text = obj.to_json()
        assert json.loads(text) == obj.to_dict()
        assert type(obj).from_json(text) == obj
    with pytest.raises(ValueError, match="not JSON"):
        layerdig.Finding.from_json("{")
    with pytest.raises(ValueError, match="not a layerdig finding"):
        layerdig.Finding.from_json('{"rule_id": 3}')
    finding = report.findings[0].to_dict()
    assert finding["secret"] == report.findings[0].secret
    assert {"rule_id", "rule_name", "severity", "confidence", "detector", "fingerprint", "redacted", "locations"} <= set(finding)


def test_report_from_cli_json(reports: ReportCache) -> None:
    # The JSON the CLI writes reads back into a Report (here: our own, as the CLI shares it).
    report = reports.get("demo.zstd.oci")
    back = layerdig.Report.from_json(report.to_json(pretty=True))
    assert back == report and hash(back) == hash(report)
    assert json.loads(back.to_sarif())["runs"][0]["results"]


def test_images_layers_and_stats_repr(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar")
    image = report.images[0]
    assert repr(image) == f"Image(path={str(FIXTURES / 'demo.oci.tar')!r}, format='oci-archive', digest={image.digest!r}, layers=8)"
    layer = image.layers[2]
    assert repr(layer).startswith(f"Layer(index=2, digest={layer.digest!r}, size={layer.size}, created_by='/bin/sh -c rm /app/.env')")
    assert repr(report.stats).startswith("Stats(images=1, layers=8, files=")


def test_no_secret_in_any_pickled_object(reports: ReportCache) -> None:
    report = reports.get("demo.umoci.oci", show_secrets=False)
    blobs = [pickle.dumps(obj) for obj in everything(report)] + [pickle.dumps(f) for f in report]
    for p in planted():
        for blob in blobs:
            assert probe(p["secret"]).encode() not in blob


def test_classes_are_immutable(reports: ReportCache) -> None:
    f = reports.get("demo.oci.tar").findings[0]
    with pytest.raises(AttributeError):
        f.secret = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        layerdig.Finding()
