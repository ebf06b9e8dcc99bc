"""The exception hierarchy, and problems reported inside a report rather than raised."""

from __future__ import annotations

import errno
import gzip
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import AWS_KEY, AWS_KEY_2, FIXTURES, SynthImage, SynthLayer, layer_blob, layer_tar, write_oci

import layerdig


def test_hierarchy() -> None:
    assert issubclass(layerdig.LayerdigError, Exception)
    assert issubclass(layerdig.ImageFormatError, layerdig.LayerdigError)
    assert issubclass(layerdig.RuleError, layerdig.LayerdigError)
    assert issubclass(layerdig.LayerdigWarning, UserWarning)
    assert not issubclass(layerdig.LayerdigError, OSError)
    for cls in (layerdig.LayerdigError, layerdig.ImageFormatError, layerdig.RuleError, layerdig.LayerdigWarning):
        assert cls.__module__ == "layerdig" and getattr(layerdig, cls.__name__) is cls
        assert cls.__doc__


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "image.tar"
    with pytest.raises(FileNotFoundError) as e:
        layerdig.scan(missing)
    assert isinstance(e.value, OSError)
    assert e.value.errno == errno.ENOENT
    assert e.value.filename == str(missing)
    assert str(missing) in str(e.value)
    for call in (layerdig.layers, layerdig.files, layerdig.iter_scan):
        with pytest.raises(FileNotFoundError):
            call(missing)


def test_text_file_is_image_format_error(tmp_path: Path) -> None:
    text = tmp_path / "README.txt"
    text.write_text("this is not a container image\n" * 40)
    with pytest.raises(layerdig.ImageFormatError) as e:
        layerdig.scan(text)
    assert str(text) in str(e.value) and "not a container image" in str(e.value)
    assert isinstance(e.value, layerdig.LayerdigError)
    # An exception pickles, as errors cross process pools too.
    back = pickle.loads(pickle.dumps(e.value))
    assert type(back) is layerdig.ImageFormatError and str(back) == str(e.value)


def test_malformed_layout_is_image_format_error(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text("{ not json")
    with pytest.raises(layerdig.ImageFormatError, match="OCI layout"):
        layerdig.scan(layout)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": []}))
    with pytest.raises(layerdig.ImageFormatError, match="no image manifests"):
        layerdig.layers(layout)


def test_corrupt_layer_is_reported_not_raised(tmp_path: Path) -> None:
    layers = [
        SynthLayer(layer_tar({"app/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY app"),
        SynthLayer(layer_tar({"srv/blob.bin": bytes(range(256)) * 400}), "COPY blob"),
    ]
    layout = write_oci(tmp_path / "img", [SynthImage(layers)], truncate_layer=1)
    report = layerdig.scan(layout)
    assert [f.rule_id for f in report] == ["aws.access-key-id"], "the good layer is scanned"
    assert report.errors, "the truncated layer is reported"
    error = next(e for e in report.errors if e.incomplete)
    assert error.image == str(layout) and error.layer_index == 1
    assert (error.layer_digest or "").startswith("sha256:")
    # The message names the image and the layer (and the path, when the problem is at one).
    assert str(layout) in error.message and "layer 1" in error.message
    assert error.path is None or error.path in error.message
    assert str(error) == error.message
    # What kind of problem it is, and what to do about it, as the CLI's JSON and hints say.
    assert error.kind == "corrupt" and error.to_dict()["kind"] == "corrupt"
    assert isinstance(error.hint, str) and "damaged" in error.hint
    assert report.stats.incomplete and report.stats.errors == len(report.errors)
    sarif = json.loads(report.to_sarif())
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_directory_is_scanned_as_a_root_filesystem(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "deploy.env").write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
    report = layerdig.scan(root)
    assert report.images[0].format == "directory"
    assert [loc.path for f in report for loc in f.locations] == ["etc/deploy.env"]



def two_key_layers(root: Path) -> Path:
    """An OCI layout whose two layers each hold an AWS key."""
    layers = [
        SynthLayer(layer_tar({"app/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY app"),
        SynthLayer(layer_tar({"srv/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY_2}\n".encode()}), "COPY srv"),
    ]
    return write_oci(root, [SynthImage(layers)])


def test_missing_blob_is_reported_with_its_kind_and_hint(tmp_path: Path) -> None:
    layout = two_key_layers(tmp_path / "img")
    layer_blob(layout, 1).unlink()
    report = layerdig.scan(layout)
    assert [loc.path for f in report for loc in f.locations] == ["app/.env"], "layer 0 is scanned"
    [error] = report.errors
    assert (error.kind, error.layer_index, error.incomplete) == ("missing_blob", 1, True)
    assert isinstance(error.hint, str) and "export the image again" in error.hint
    assert report.stats.incomplete


def test_digest_mismatch_is_reported_and_the_layer_still_read(tmp_path: Path) -> None:
    layout = two_key_layers(tmp_path / "img")
    # Other bytes under the blob's name: neither the blob nor the diff_id digest matches.
    changed = layer_tar({"srv/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY_2}\n# edited\n".encode()})
    layer_blob(layout, 1).write_bytes(gzip.compress(changed, mtime=0))
    report = layerdig.scan(layout)
    assert sorted(loc.path or "" for f in report for loc in f.locations) == ["app/.env", "srv/.env"]
    # The other bytes are another size too.
    assert report.errors and {e.kind for e in report.errors} == {"digest_mismatch", "size_mismatch"}
    assert all(e.layer_index == 1 and not e.incomplete for e in report.errors)
    hint = report.errors[0].hint
    assert isinstance(hint, str) and "compare digests" in hint
    assert all(e.hint == hint for e in report.errors)
    assert not report.stats.incomplete
    # Integrity is part of the verdict: the gate fails with exit 2, unless the policy allows it.
    assert report.gate is not None
    assert (report.gate["result"], report.gate["integrity"], report.gate["exit_code"]) == ("integrity", "mismatch", 2)
    policy = tmp_path / "layerdig.toml"
    policy.write_text('[integrity]\nallow_digest_mismatch = true\nreason = "re-compressed by the mirror"\n')
    allowed = layerdig.scan(layout, config=policy)
    assert allowed.gate is not None
    assert (allowed.gate["result"], allowed.gate["integrity"]) == ("fail", "allowed")


def test_error_kind_round_trips_and_defaults_to_other() -> None:
    base = {"image": "x.tar", "layer_index": 2, "layer_digest": None, "path": None, "incomplete": True, "message": "m"}
    old = layerdig.ErrorReport.from_json(json.dumps(base))
    assert (old.kind, old.hint) == ("other", None), "a report written before kinds existed"
    blob = layerdig.ErrorReport.from_json(json.dumps({**base, "kind": "missing_blob"}))
    assert blob.kind == "missing_blob" and blob.hint is not None
    assert pickle.loads(pickle.dumps(blob)).kind == "missing_blob"
    assert blob != old
    with pytest.raises(ValueError, match="not a layerdig error report"):
        layerdig.ErrorReport.from_json(json.dumps({**base, "kind": "no_such_kind"}))


@pytest.mark.parametrize("call", [layerdig.scan, layerdig.iter_scan, layerdig.layers, layerdig.files])
def test_no_image_for_the_platform_is_image_format_error(call: Callable[..., object]) -> None:
    with pytest.raises(layerdig.ImageFormatError, match="no image for platform linux/s390x"):
        call(FIXTURES / "demo.oci.tar", platform="linux/s390x")
