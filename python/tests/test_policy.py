"""scan(config=...) and iter_scan(config=...): the layerdig.toml policy file the CLI reads."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from helpers import FIXTURES

import layerdig

DEMO = FIXTURES / "demo.oci.tar"
SEVERITY_ORDER = ["critical", "high", "medium", "low"]


@pytest.fixture(scope="module")
def plain() -> layerdig.Report:
    return layerdig.scan(DEMO)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layerdig.toml"
    path.write_text(text)
    return path


def aws_rule(report: layerdig.Report) -> str:
    return next(f.rule_id for f in report if f.redacted.startswith("AKIA"))


def test_severity_override(tmp_path: Path, plain: layerdig.Report) -> None:
    rule = aws_rule(plain)
    before = next(f.severity for f in plain if f.rule_id == rule)
    target = "low" if before != "low" else "critical"
    report = layerdig.scan(DEMO, config=write(tmp_path, f'[severity]\n"{rule}" = "{target}"\n'))
    overridden = [f for f in report if f.rule_id == rule]
    assert overridden and all(f.severity == target for f in overridden)
    others = {f.fingerprint: f.severity for f in report if f.rule_id != rule}
    assert others == {f.fingerprint: f.severity for f in plain if f.rule_id != rule}
    # Still most severe first, and counted under the new severity.
    ranks = [SEVERITY_ORDER.index(f.severity) for f in report]
    assert ranks == sorted(ranks)
    assert report.stats.by_severity.get(target, 0) >= len(overridden)
    # Nothing is suppressed by a policy without allow entries.
    assert all(f.suppressed is None for f in report)


def test_allow_by_rule_and_by_path_glob(tmp_path: Path, plain: layerdig.Report) -> None:
    rule = aws_rule(plain)
    config = write(
        tmp_path,
        f'[[allow]]\nrule = "{rule}"\nreason = "rotated"\n\n'
        '[[allow]]\npath = "/root/.ssh/**"\nreason = "throwaway key"\nexpires = 2999-12-31\n',
    )
    report = layerdig.scan(DEMO, config=str(config))
    assert len(report) == len(plain), "suppressed findings are kept, marked"
    by_rule = [f for f in report if f.rule_id == rule]
    assert by_rule
    for f in by_rule:
        assert f.suppressed is not None
        assert (f.suppressed.entry, f.suppressed.reason, f.suppressed.expires) == (1, "rotated", None)
        assert all(loc.suppressed == f.suppressed for loc in f.locations)
    ssh = [f for f in report if any((loc.path or "").startswith("root/.ssh/") for loc in f.locations)]
    assert ssh
    for f in ssh:
        for loc in f.locations:
            if (loc.path or "").startswith("root/.ssh/"):
                assert loc.suppressed is not None
                assert (loc.suppressed.entry, loc.suppressed.reason, loc.suppressed.expires) == (
                    2,
                    "throwaway key",
                    "2999-12-31",
                )
    untouched = [f for f in report if f not in by_rule and f not in ssh]
    assert untouched
    assert all(f.suppressed is None and all(loc.suppressed is None for loc in f.locations) for f in untouched)
    # The JSON form is the CLI's: `suppressed` on suppressed locations and fully suppressed
    # findings; it survives to_json / from_json and pickling.
    first = by_rule[0]
    d = first.to_dict()
    assert d["suppressed"] == {"entry": 1, "reason": "rotated"}
    assert all(loc["suppressed"]["entry"] == 1 for loc in d["locations"])
    back = layerdig.Finding.from_json(first.to_json())
    assert back.suppressed == first.suppressed
    assert [loc.suppressed for loc in back.locations] == [loc.suppressed for loc in first.locations]
    assert pickle.loads(pickle.dumps(report)).to_dict() == report.to_dict()
    assert "suppressed" not in plain.findings[0].to_dict()
    # SARIF leaves out what the policy allows, as the CLI's does.
    assert report.to_sarif().count(rule) < plain.to_sarif().count(rule)


def test_iter_scan_applies_the_policy(tmp_path: Path, plain: layerdig.Report) -> None:
    rule = aws_rule(plain)
    config = write(tmp_path, f'[severity]\n"{rule}" = "low"\n\n[[allow]]\nrule = "{rule}"\nreason = "rotated"\n')
    found = list(layerdig.iter_scan(DEMO, config=config))
    mine = [f for f in found if f.rule_id == rule]
    assert mine and all(f.severity == "low" and f.suppressed is not None for f in mine)
    assert all(f.suppressed is None for f in found if f.rule_id != rule)


def test_expired_entry_does_not_suppress(tmp_path: Path) -> None:
    config = write(tmp_path, '[[allow]]\npath = "app/**"\nreason = "was fine last year"\nexpires = 2020-01-31\n')
    with pytest.warns(layerdig.LayerdigWarning, match=r"entry 1 .*expired on 2020-01-31"):
        report = layerdig.scan(DEMO, config=config)
    assert any(loc.path and loc.path.startswith("app/") for f in report for loc in f.locations)
    assert all(loc.suppressed is None for f in report for loc in f.locations)
    # The same entry, not yet expired, suppresses.
    config = write(tmp_path, '[[allow]]\npath = "app/**"\nreason = "until the rebuild"\nexpires = "2999-01-31"\n')
    report = layerdig.scan(DEMO, config=config)
    assert any(loc.suppressed is not None for f in report for loc in f.locations)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[allow]]\nrule = "aws.*"\n', "`reason` is required"),
        ('[[allow]]\nreason = "why"\n', "at least one of"),
        ('[[allow]]\npath = "a/["\nreason = "r"\n', "bad path glob"),
        ('[[allow]]\nfingerprint = "abc"\nreason = "r"\n', "64 hex digits"),
        ('[[allow]]\nrule = "x"\nreason = "r"\nexpires = "next year"\n', "must be a date"),
        ('fail_on = "severe"\n', "fail_on"),
        ('[[alow]]\nrule = "x"\n', "unknown field"),
    ],
)
def test_invalid_policy_raises_policy_error(tmp_path: Path, text: str, message: str) -> None:
    config = write(tmp_path, text)
    with pytest.raises(layerdig.PolicyError) as info:
        layerdig.scan(DEMO, config=config)
    assert isinstance(info.value, layerdig.LayerdigError)
    assert message in str(info.value) and str(config) in str(info.value)
    with pytest.raises(layerdig.PolicyError):
        layerdig.iter_scan(DEMO, config=config)


def test_missing_policy_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        layerdig.scan(DEMO, config=tmp_path / "nope.toml")
