"""scan() against the committed fixture images: every planted secret at its path, layer and
status in every form (the same expectations as the Rust tests), the configuration and history
secret, redaction, options, and the report's shape."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from helpers import AWS_KEY, FIXTURES, FORMS, ReportCache, all_text, expected, layer_tar, matches, planted, probe

import layerdig


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_planted_secret_with_its_layer_and_status(reports: ReportCache, form: str) -> None:
    report = reports.get(form, show_secrets=True)
    assert report.errors == [], [str(e) for e in report.errors]
    layer_count = 9 if form == "demo.umoci.oci" else 8
    assert [image.format for image in report.images] == [FORMS[form]]
    assert len(report.images[0].layers) == layer_count
    for p in planted():
        found = [(f, loc) for f in report.findings if matches(f.secret, p["secret"]) for loc in f.locations]
        assert found, f"{form}: planted secret {probe(p['secret'])[:4]}… not found"
        if "path" in p:
            status, removed = expected(p, form)
            hits = [(f, loc) for f, loc in found if loc.path == p["path"] and loc.layer_index == p["layer"]]
            assert hits, f"{form}: {p['path']} layer {p['layer']} not among {[(loc.path, loc.layer_index) for _, loc in found]}"
            f, loc = hits[0]
            assert (loc.status, loc.removed_in_layer) == (status, removed), f"{form}: {p['path']} ({f.rule_id})"
            assert loc.source == "file"
            assert loc.line is not None and loc.line >= 1
            assert loc.column is not None and loc.column >= 1
            assert loc.span is not None and loc.span[0] < loc.span[1]
            assert (loc.layer_digest or "").startswith("sha256:")
            assert loc.created_by
            assert loc.image == str(FIXTURES / form)
            assert f.best_status == status
        else:
            # The image config's Env, and the ENV instruction in the build history (and, in
            # umoci's layout, the pre-repack config it left behind, which nothing references;
            # in a docker save archive, the legacy <id>/json that repeats the config).
            sources = {loc.source for _, loc in found}
            left_behind = {"metadata"} if form in ("demo.umoci.oci", "demo.docker.tar") else set()
            assert sources == {"config", "history"} | left_behind, sources
            env = [loc for _, loc in found if loc.source == "config"]
            assert env[0].config_key is not None and env[0].config_key.startswith("Env")
            assert env[0].status is None and env[0].layer_index is None
            assert found[0][0].best_status is None


def test_layers_carry_their_instruction(reports: ReportCache) -> None:
    layers = reports.get("demo.oci.tar").images[0].layers
    assert [layer.index for layer in layers] == list(range(8))
    assert "rm /app/.env" in (layers[2].created_by or "")
    assert "rm -rf /root/.ssh" in (layers[5].created_by or "")
    for layer in layers:
        assert (layer.digest or "").startswith("sha256:") and (layer.diff_id or "").startswith("sha256:")
        assert layer.compression == "gzip"
        assert layer.size > 0 and layer.uncompressed_size >= layer.size // 2
    assert layers[2].deleted == 1 and layers[1].files == 2


@pytest.mark.parametrize("form", sorted(FORMS))
def test_secrets_stay_hidden_unless_asked(reports: ReportCache, form: str) -> None:
    report = reports.get(form, show_secrets=False)
    assert report.findings and all(f.secret is None for f in report.findings)
    assert all("chars)" in f.redacted for f in report.findings)
    texts = dict(all_text(report))
    texts["pickle"] = pickle.dumps(report).decode("latin-1")
    texts["pickle findings"] = pickle.dumps(report.findings).decode("latin-1")
    for p in planted():
        needle = probe(p["secret"])
        for name, text in texts.items():
            assert needle not in text, f"{form}: {name} leaks {needle[:4]}…"


def test_shown_secrets_are_the_planted_values(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar", show_secrets=True)
    secrets = [f.secret for f in report.findings]
    assert "AKIA" in repr([f.secret for f in report.findings])
    for p in planted():
        assert any(matches(s, p["secret"]) for s in secrets), probe(p["secret"])[:4]
    # Even with secrets shown, repr() of a finding does not print them.
    for f in report.findings:
        assert f.secret is not None and f.secret not in repr(f)


def test_forms_agree_on_fingerprints(reports: ReportCache) -> None:
    prints = {form: {f.fingerprint for f in reports.get(form)} for form in FORMS}
    assert len(set(map(frozenset, prints.values()))) == 1, prints


def test_report_shape(reports: ReportCache) -> None:
    report = reports.get("demo.zstd.oci")
    assert repr(report) == f"Report(images=1, findings={len(report.findings)}, errors=0)"
    assert len(report) == len(report.findings) == report.stats.findings
    assert list(report) == report.findings
    assert report.findings[0] is report.findings[0], "findings are built once"
    severities = ["critical", "high", "medium", "low"]
    ranks = [severities.index(f.severity) for f in report.findings]
    assert ranks == sorted(ranks), "most severe first"
    stats = report.stats
    assert (stats.images, stats.layers, stats.errors, stats.incomplete) == (1, 8, 0, False)
    assert stats.files > 0 and stats.bytes > 0 and stats.uncompressed_bytes > stats.bytes
    assert sum(stats.by_severity.values()) == stats.findings
    assert stats.by_status["deleted"] >= 1 and stats.by_status["config"] == 1
    assert stats.duration_ms >= 0
    image = report.images[0]
    assert image.path == str(FIXTURES / "demo.zstd.oci")
    assert image.platform == "linux/amd64"
    assert image.tags == ["latest"]
    assert (image.digest or "").startswith("sha256:")
    assert all(layer.compression == "zstd" and layer.platform == "linux/amd64" for layer in image.layers)


def test_json_keeps_the_contract_names(reports: ReportCache) -> None:
    doc = json.loads(reports.get("demo.oci.tar").to_json())
    assert set(doc) == {"images", "findings", "errors", "stats", "gate"}
    assert {"path", "format", "digest", "platform", "layers"} <= set(doc["images"][0])
    assert {"index", "digest", "diff_id", "media_type", "size", "created_by"} <= set(doc["images"][0]["layers"][0])
    finding = doc["findings"][0]
    assert {"rule_id", "rule_name", "severity", "confidence", "fingerprint", "redacted", "locations"} <= set(finding)
    assert "secret" not in finding
    loc = finding["locations"][0]
    for key in ("image", "source", "config_key", "layer_index", "layer_digest", "created_by", "path", "line", "column", "status", "removed_in_layer", "disposition"):
        assert key in loc, key
    pretty = reports.get("demo.oci.tar").to_json(pretty=True)
    assert "\n" in pretty and json.loads(pretty) == doc
    assert reports.get("demo.oci.tar").to_dict() == doc


def test_sarif(reports: ReportCache) -> None:
    report = reports.get("demo.oci.tar")
    sarif = json.loads(report.to_sarif())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "layerdig"
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert rule_ids == {f.rule_id for f in report.findings}
    results = run["results"]
    assert len(results) == sum(len(f.locations) for f in report.findings)
    assert {r["partialFingerprints"]["secretFingerprint/v1"] for r in results} == {f.fingerprint for f in report.findings}
    deleted = [r for r in results if r["properties"]["status"] == "deleted"]
    assert deleted and all(r["properties"]["removedInLayer"] is not None for r in deleted)
    assert run["invocations"][0]["executionSuccessful"] is True


def test_platform_option() -> None:
    image = FIXTURES / "demo.oci.tar"
    assert layerdig.scan(image, platform="linux/amd64").images[0].platform == "linux/amd64"
    with pytest.raises(layerdig.ImageFormatError, match="no image for platform linux/arm64") as e:
        layerdig.scan(image, platform="linux/arm64")
    assert str(image) in str(e.value)
    with pytest.raises(ValueError, match="os/arch"):
        layerdig.scan(image, platform="amd64")


def test_threads_option(reports: ReportCache) -> None:
    image = FIXTURES / "demo.docker.tar"
    one = layerdig.scan(image, threads=1)
    assert [f.fingerprint for f in one] == [f.fingerprint for f in reports.get("demo.docker.tar")]
    with pytest.raises(ValueError, match="threads"):
        layerdig.scan(image, threads=0)


def test_custom_rules_are_used(tmp_path: Path) -> None:
    image = tmp_path / "layer.tar"
    image.write_bytes(layer_tar({"etc/app.conf": b"token = acme_0123456789abcdef0123\n"}))
    assert not any(f.rule_id == "acme.token" for f in layerdig.scan(image))
    rules = layerdig.Rules.builtin().extend(layerdig.Rules.from_yaml(ACME_RULES, "acme.yaml"))
    report = layerdig.scan(image, rules=rules, show_secrets=True)
    acme = [f for f in report.findings if f.rule_id == "acme.token"]
    assert len(acme) == 1 and acme[0].secret == "acme_0123456789abcdef0123"
    assert acme[0].rule_name == "Acme API token" and acme[0].severity == "high"
    # SARIF names the custom rule from the rule set the scan used.
    names = {r["id"]: r["shortDescription"]["text"] for r in json.loads(report.to_sarif())["runs"][0]["tool"]["driver"]["rules"]}
    assert names["acme.token"] == "Acme API token"


def test_a_deleted_synthetic_secret(deleted_key_image: Path) -> None:
    report = layerdig.scan(deleted_key_image, show_secrets=True)
    (f,) = [f for f in report.findings if f.secret == AWS_KEY]
    (loc,) = f.locations
    assert (loc.path, loc.layer_index, loc.status, loc.removed_in_layer, loc.removed_by) == ("app/.env", 0, "deleted", 1, "whiteout")
    assert loc.disposition == "actionable" and f.actionable
    assert loc.created_by == "COPY app/ /app/"


def test_scan_accepts_str_and_pathlike(reports: ReportCache) -> None:
    as_str = layerdig.scan(str(FIXTURES / "demo.oci.tar"))
    assert [f.fingerprint for f in as_str] == [f.fingerprint for f in reports.get("demo.oci.tar")]


ACME_RULES = r"""
provider: Acme
rules:
  - id: acme.token
    name: Acme API token
    severity: high
    keywords: [acme_]
    pattern: '\b(acme_[0-9a-f]{20})\b'
    examples: ['acme_0123456789abcdef0123', 'key=acme_fedcba9876543210fedc']
    negative_examples: ['acme_xyz']
"""
