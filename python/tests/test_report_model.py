"""One report model: the CLI and the Python package print the same bytes for the same image and
policy, because both call the library's gate and printers; and the gate's fix-by deadlines."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import layerdig
from helpers import FIXTURES

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T12:00:00Z"

POLICY = """
fail_on = "high"

[severity]
"database.mysql-uri-password" = "medium"

[sla]
critical = "24h"
high = "7d"
medium = "30d"

[[allow]]
path = "etc/ssl/private/*"
reason = "test certificate, rotated by the platform"
"""


def cli() -> Path:
    """The `layerdig` binary `cargo test` built (run-tests.sh runs after it)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "layerdig"
    assert binary.is_file(), f"{binary} is missing: build the CLI first (cargo build -p layerdig-cli)"
    return binary


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(cli()), *args], cwd=cwd, capture_output=True, check=False)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


@pytest.mark.parametrize("form", ["demo.oci.tar", "demo.docker.tar"])
def test_cli_and_python_write_the_same_json_and_sarif(form: str, policy: Path, tmp_path: Path) -> None:
    image = str(FIXTURES / form)
    report = layerdig.scan(image, config=policy, now=NOW)
    for fmt, written in [("json", report.to_json(pretty=True)), ("sarif", report.to_sarif())]:
        out = run_cli("scan", "-f", fmt, "--config", str(policy), "--now", NOW, image, cwd=tmp_path)
        assert out.returncode == 1, out.stderr.decode()
        assert out.stdout.decode() == written + "\n", fmt
    # And the bytes say what the policy decided.
    doc = json.loads(report.to_json())
    assert doc["gate"]["result"] == "fail" and doc["gate"]["policy"] == str(policy)
    by_rule = {f["rule_id"]: f for f in doc["findings"]}
    assert by_rule["database.mysql-uri-password"]["severity"] == "medium"
    assert by_rule["database.mysql-uri-password"]["fails_gate"] is False
    assert by_rule["private_keys.rsa"]["suppressed"]["entry"] == 1
    assert by_rule["aws.access-key-id"]["sla"] == {
        "first_seen": NOW,
        "due": "2026-12-02T12:00:00Z",
        "state": "due",
    }
    assert doc["stats"]["duration_ms"] == 0


def test_python_objects_carry_the_verdict(policy: Path) -> None:
    report = layerdig.scan(FIXTURES / "demo.oci.tar", config=policy, now=NOW)
    assert report.gate is not None and report.gate["exit_code"] == 1
    rsa = next(f for f in report.findings if f.rule_id == "private_keys.rsa")
    assert rsa.suppressed is not None and rsa.fails_gate is False
    aws = next(f for f in report.findings if f.rule_id == "aws.access-key-id")
    assert aws.fails_gate is True and aws.sla is not None and aws.sla["state"] == "due"
    assert report.stats.duration_ms == 0


def test_overdue_gate_counts_from_the_baselines_first_seen(policy: Path, tmp_path: Path) -> None:
    image = str(FIXTURES / "demo.oci.tar")
    baseline = tmp_path / "baseline.json"
    made = run_cli("baseline", "--now", "2026-11-02T00:00:00Z", "-o", str(baseline), image, cwd=tmp_path)
    assert made.returncode == 0, made.stderr.decode()
    entries = json.loads(baseline.read_text())["findings"]
    assert entries and all(e["first_seen"] == "2026-11-02T00:00:00Z" for e in entries)
    # 29.5 days later every critical (24 h) and high (7 d) finding is overdue; mediums (30 d) are not.
    late = layerdig.scan(image, config=policy, baseline=baseline, now=NOW, fail_on="overdue")
    states = {f.rule_id: (f.severity, f.sla["state"] if f.sla else None, f.baselined) for f in late.findings}
    assert states["aws.access-key-id"] == ("critical", "overdue", True)
    assert states["database.mysql-uri-password"] == ("medium", "due", True)
    assert late.gate is not None and late.gate["result"] == "fail"
    out = run_cli(
        "scan", "-f", "json", "--config", str(policy), "--baseline", str(baseline),
        "--now", NOW, "--fail-on", "overdue", image, cwd=tmp_path,
    )
    assert out.returncode == 1 and out.stdout.decode() == late.to_json(pretty=True) + "\n"
    # Half a day after the baseline nothing is overdue yet: the overdue gate passes.
    early = layerdig.scan(image, config=policy, baseline=baseline, now="2026-11-02T12:00:00Z", fail_on="overdue")
    assert early.gate is not None and early.gate["result"] == "pass"
    assert all(f.fails_gate is False for f in early.findings)


def test_stats_count_the_verdicts(policy: Path) -> None:
    report = layerdig.scan(FIXTURES / "demo.oci.tar", config=policy, now=NOW)
    stats, findings = report.stats, report.findings
    assert stats.failing == sum(f.fails_gate is True for f in findings)
    assert 0 < stats.failing < stats.findings, "the allowed key and the medium do not fail"
    assert report.gate is not None and report.gate["failing"] == stats.failing
    assert stats.suppressed == sum(f.suppressed is not None for f in findings) == 1
    # Every planted secret is outside test fixtures and documentation.
    assert all(f.actionable for f in findings) and stats.by_disposition == {"actionable": len(findings)}
    assert (stats.baselined, stats.filtered, stats.overdue) == (0, 0, 0), "no baseline, nothing overdue yet"
    # Each attribute is the JSON field of its name.
    doc = stats.to_dict()
    assert {key: getattr(stats, key) for key in doc} == doc


FIRST_SEEN = "2026-11-01T00:00:00Z"
#: Four days after FIRST_SEEN: the criticals (24 h) are overdue, the highs (7 d) and mediums
#: (30 d) are not.
FOUR_DAYS_ON = "2026-11-05T00:00:00Z"


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    """Every finding of demo.oci.tar, first seen at FIRST_SEEN (written without the CLI)."""
    report = layerdig.scan(FIXTURES / "demo.oci.tar")
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps([{"fingerprint": f.fingerprint, "first_seen": FIRST_SEEN} for f in report]))
    return path


def test_stats_count_overdue_and_baselined_findings(policy: Path, baseline: Path, tmp_path: Path) -> None:
    image = FIXTURES / "demo.oci.tar"
    known = len(json.loads(baseline.read_text()))
    late = layerdig.scan(image, config=policy, baseline=baseline, now=FOUR_DAYS_ON, fail_on="overdue")
    stats = late.stats
    overdue = [f for f in late.findings if f.sla is not None and f.sla["state"] == "overdue"]
    assert {f.severity for f in overdue} == {"critical"}
    assert stats.overdue == len(overdue) == stats.by_severity["critical"] > 0
    # With deadlines, known findings stay in the report (and are counted as baselined).
    assert stats.baselined == stats.findings == known
    # The overdue gate fails the overdue findings the policy does not allow.
    assert stats.failing == sum(f.fails_gate is True for f in late.findings) == sum(f.suppressed is None for f in overdue)
    assert 0 < stats.failing < stats.overdue, "the allowed private key is overdue but does not fail"

    early = layerdig.scan(image, config=policy, baseline=baseline, now="2026-11-01T12:00:00Z", fail_on="overdue")
    assert (early.stats.overdue, early.stats.failing, early.stats.baselined) == (0, 0, known)

    # Without deadlines the baseline's findings are left out, and counted.
    plain = tmp_path / "plain.toml"
    plain.write_text('fail_on = "high"\n')
    quiet = layerdig.scan(image, config=plain, baseline=baseline, now=FOUR_DAYS_ON)
    assert quiet.findings == []
    assert (quiet.stats.findings, quiet.stats.baselined, quiet.stats.overdue, quiet.stats.failing) == (0, known, 0, 0)
    assert quiet.stats.filtered == 0


def test_iter_scan_stats_count_the_judged_findings(policy: Path, baseline: Path) -> None:
    image = FIXTURES / "demo.oci.tar"
    report = layerdig.scan(image, config=policy, baseline=baseline, now=FOUR_DAYS_ON, fail_on="overdue")
    it = layerdig.iter_scan(image, config=policy, baseline=baseline, now=FOUR_DAYS_ON, fail_on="overdue")
    streamed = list(it)
    assert it.stats is not None
    assert it.stats.failing == sum(f.fails_gate is True for f in streamed) > 0
    # One image, so nothing to merge: the same totals as scan() (severity overrides included).
    assert it.stats.by_severity == report.stats.by_severity and "medium" in it.stats.by_severity
    for key in ("findings", "by_status", "by_disposition", "suppressed", "failing", "baselined", "filtered", "overdue"):
        assert getattr(it.stats, key) == getattr(report.stats, key), key
