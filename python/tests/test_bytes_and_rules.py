"""scan_bytes() and Rules: one buffer through the detectors; building and extending rule sets."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from helpers import AWS_KEY, FIXTURES

import layerdig

ACME = r"""
provider: Acme
rules:
  - id: acme.token
    name: Acme API token
    severity: medium
    keywords: [acme_]
    pattern: '\b(acme_[0-9a-f]{20})\b'
    examples: ['acme_0123456789abcdef0123', 'key=acme_fedcba9876543210fedc']
    negative_examples: ['acme_xyz']
"""
ACME_TOKEN = "acme_0123456789abcdef0123"


def test_scan_bytes_finds_and_places_secrets() -> None:
    data = f"# settings\nAWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()
    (f,) = layerdig.scan_bytes(data, path="app/.env")
    assert (f.rule_id, f.severity, f.secret) == ("aws.access-key-id", "critical", None)
    (loc,) = f.locations
    assert (loc.path, loc.line, loc.column, loc.layer_index, loc.image, loc.status) == ("app/.env", 2, 19, None, "", None)
    assert loc.span is not None and data[loc.span[0] : loc.span[1]] == AWS_KEY.encode()
    assert AWS_KEY not in repr(f) and AWS_KEY not in f.to_json()
    (shown,) = layerdig.scan_bytes(data, path="app/.env", show_secrets=True)
    assert shown.secret == AWS_KEY and shown == f


def test_a_secret_read_through_a_decoder_says_its_encoding() -> None:
    encoded = base64.b64encode(f"AWS_ACCESS_KEY_ID={AWS_KEY}".encode()).decode()
    data = f"kind: Secret\ndata:\n  env: {encoded}\n".encode()
    (f,) = layerdig.scan_bytes(data, path="deploy/secret.yaml", show_secrets=True)
    assert (f.rule_id, f.secret) == ("aws.access-key-id", AWS_KEY)
    (loc,) = f.locations
    assert (loc.encoding, loc.line) == ("base64", 3)
    assert loc.to_dict()["encoding"] == "base64"
    (plain,) = layerdig.scan_bytes(f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode(), path="app/.env")
    assert plain.locations[0].encoding is None and "encoding" not in plain.locations[0].to_dict()


def test_scan_bytes_inputs_and_paths() -> None:
    data = f"key: {AWS_KEY}\n".encode()
    assert layerdig.scan_bytes(bytearray(data)) == layerdig.scan_bytes(data)
    assert layerdig.scan_bytes(data)[0].locations[0].path == "-"
    assert layerdig.scan_bytes(b"") == [] and layerdig.scan_bytes(b"nothing to see here\n") == []
    # The path matters: under a test directory a secret is a fixture, not an action item.
    (fixture,) = layerdig.scan_bytes(data, path="src/tests/fixtures/creds.yml")
    assert fixture.locations[0].disposition == "test_fixture" and not fixture.actionable
    with pytest.raises(TypeError):
        layerdig.scan_bytes("text is not bytes")  # type: ignore[arg-type]


def test_scan_bytes_with_rules() -> None:
    text = f"token={ACME_TOKEN}\n".encode()
    assert "acme.token" not in {f.rule_id for f in layerdig.scan_bytes(text)}
    rules = layerdig.Rules.from_yaml(ACME)
    (f,) = layerdig.scan_bytes(text, rules=rules, show_secrets=True)
    assert (f.rule_id, f.secret, f.severity) == ("acme.token", ACME_TOKEN, "medium")


def test_builtin_rules() -> None:
    rules = layerdig.Rules.builtin()
    ids = rules.ids()
    assert len(rules) == len(ids) > 50
    assert len(set(ids)) == len(ids)
    assert "aws.access-key-id" in rules and "github.personal-access-token" in ids
    assert "no.such-rule" not in rules
    assert repr(rules) == f"<Rules: {len(rules)} rules>"


def test_rules_from_file_and_extend(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME)
    acme = layerdig.Rules.from_file(path)
    assert acme.ids() == ["acme.token"] and len(acme) == 1
    assert layerdig.Rules.from_file(str(path)).ids() == acme.ids()
    builtin = layerdig.Rules.builtin()
    both = builtin.extend_from_file(path)
    assert len(both) == len(builtin) + 1 and both.ids()[-1] == "acme.token"
    assert "acme.token" not in builtin, "extending makes a new rule set"
    assert builtin.extend(acme).ids() == both.ids()
    image = tmp_path / "layer.tar"
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        content = f"ACME={ACME_TOKEN}\n".encode()
        info = tarfile.TarInfo("srv/app.env")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    image.write_bytes(buf.getvalue())
    assert [f.rule_id for f in layerdig.scan(image, rules=both)] == ["acme.token"]
    assert [f.rule_id for f in layerdig.scan(image, rules=acme)] == ["acme.token"]


def test_rule_errors(tmp_path: Path) -> None:
    with pytest.raises(layerdig.RuleError, match=r"bad\.yaml"):
        layerdig.Rules.from_yaml("provider: x\nrules: [{id: a, name: A}]\n", origin="bad.yaml")
    with pytest.raises(layerdig.RuleError, match="not valid|expected|invalid|missing|unknown|did not find"):
        layerdig.Rules.from_yaml("provider: [unclosed\n")
    broken = ACME.replace(r"'\b(acme_[0-9a-f]{20})\b'", "'(acme_[0-9a-f'")
    with pytest.raises(layerdig.RuleError, match="acme.token"):
        layerdig.Rules.from_yaml(broken, "broken.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("provider: nope\nrules:\n  - id: x\n    name: X\n    severity: apocalyptic\n    pattern: '(x)'\n")
    with pytest.raises(layerdig.RuleError, match=str(path)) as e:
        layerdig.Rules.builtin().extend_from_file(path)
    assert isinstance(e.value, layerdig.LayerdigError)
    dup = tmp_path / "dup.yaml"
    dup.write_text(ACME)
    with pytest.raises(layerdig.RuleError, match="duplicate rule id"):
        layerdig.Rules.from_file(dup).extend_from_file(dup)
    with pytest.raises(layerdig.RuleError, match="duplicate rule id"):
        layerdig.Rules.from_yaml(ACME).extend(layerdig.Rules.from_yaml(ACME))
    with pytest.raises(FileNotFoundError) as missing:
        layerdig.Rules.from_file(tmp_path / "missing.yaml")
    assert missing.value.filename == str(tmp_path / "missing.yaml")
    with pytest.raises(FileNotFoundError):
        layerdig.Rules.builtin().extend_from_file(tmp_path / "missing.yaml")
    with pytest.raises(IsADirectoryError):
        layerdig.Rules.from_file(FIXTURES)
