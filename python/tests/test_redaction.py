"""Secrets stay secret: reprs, strings, JSON, pickles, exceptions and warnings show only the
redacted form unless show_secrets=True, and reprs not even then."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
from helpers import AWS_KEY, FIXTURES, ReportCache, SynthImage, SynthLayer, all_text, layer_tar, planted, probe, write_oci

import layerdig

NEEDLES = [probe(p["secret"]) for p in planted()]


def assert_hidden(name: str, text: str, needles: list[str] = NEEDLES) -> None:
    for needle in needles:
        assert needle not in text, f"{name} shows {needle[:4]}…"


def test_reprs_never_show_a_secret_even_when_kept(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar", show_secrets=True)
    assert any(f.secret for f in report), "the secrets are kept"
    texts: dict[str, str] = {"repr(report)": repr(report), "str(report)": str(report), "repr(findings)": repr(report.findings)}
    for f in report:
        texts[f"repr({f.rule_id})"] = repr(f)
        texts[f"str({f.rule_id})"] = str(f)
        texts[f"repr(locations of {f.rule_id})"] = repr(f.locations)
    texts["repr(images)"] = repr(report.images)
    texts["repr(stats)"] = repr(report.stats)
    for name, text in texts.items():
        assert_hidden(name, text)


def test_hidden_findings_have_no_secret_anywhere_after_a_round_trip(reports: ReportCache) -> None:
    report = reports.get("demo.umoci.oci", show_secrets=False)
    for f in report:
        d = f.to_dict()
        assert "secret" not in d and f.secret is None
        for back in (layerdig.Finding.from_json(f.to_json()), pickle.loads(pickle.dumps(f))):
            assert back.secret is None and back.redacted == f.redacted and back == f
            assert "secret" not in back.to_dict()
    back = pickle.loads(pickle.dumps(report))
    assert all(f.secret is None for f in back)
    for name, text in all_text(back):
        assert_hidden(f"unpickled {name}", text)


def test_streamed_and_in_memory_scans_keep_secrets_hidden(tmp_path: Path) -> None:
    streamed = list(layerdig.iter_scan(FIXTURES / "demo.docker.tar"))
    assert streamed
    for item in streamed:
        assert_hidden(f"iter_scan item {item!r}", repr(item) + item.to_json())
    data = f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()
    (found,) = layerdig.scan_bytes(data, path="app/.env")
    assert found.secret is None
    assert_hidden("scan_bytes", repr(found) + str(found) + found.to_json() + repr(found.to_dict()), [AWS_KEY])
    records = layerdig.files(FIXTURES / "demo.oci.tar")
    assert_hidden("files()", repr(records) + "".join(r.to_json() for r in records))


def blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":")[1]


def with_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    """An OCI layout of one layer whose config blob is replaced by `config`."""
    layout = write_oci(tmp_path / "img", [SynthImage([SynthLayer(layer_tar({"app/main.py": b"print(1)\n"}), "COPY . /app")])])
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(layout, index["manifests"][0]["digest"]).read_bytes())
    blob(layout, manifest["config"]["digest"]).write_text(json.dumps(config))
    return layout


def test_a_config_that_does_not_parse_is_reported_without_its_values(tmp_path: Path) -> None:
    # Env as a string, not a list: the parser's message used to quote the value.
    layout = with_config(tmp_path, {"config": {"Env": f"AWS_ACCESS_KEY_ID={AWS_KEY}"}})
    report = layerdig.scan(layout)
    (error,) = [e for e in report.errors if "not a valid image config" in e.message]
    assert 'string "AWS_… (38 chars)"' in error.message, error.message
    texts = dict(all_text(report))
    texts.update({"str(error)": str(error), "repr(error)": repr(error), "error.to_json": error.to_json()})
    for name, text in texts.items():
        assert_hidden(name, text, [AWS_KEY])
    for call in (layerdig.layers, layerdig.files):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call(layout)
        assert any(issubclass(w.category, layerdig.LayerdigWarning) for w in caught)
        assert_hidden(f"warnings of {call.__name__}()", " ".join(str(w.message) for w in caught), [AWS_KEY])


def test_exceptions_about_a_damaged_image_do_not_quote_it(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": f"AWS_ACCESS_KEY_ID={AWS_KEY}"}))
    for call in (layerdig.scan, layerdig.layers, layerdig.files):
        with pytest.raises(layerdig.ImageFormatError) as e:
            call(layout)
        assert "index.json" in str(e.value)
        back = pickle.loads(pickle.dumps(e.value))
        assert_hidden(f"{call.__name__}() error", f"{e.value} {e.value!r} {e.value.args!r} {back!r}", [AWS_KEY])
