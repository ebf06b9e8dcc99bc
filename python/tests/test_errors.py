"""The exception hierarchy, and problems reported inside a report rather than raised."""

from __future__ import annotations

import errno
import json
import pickle
from pathlib import Path

import pytest
from helpers import AWS_KEY, SynthImage, SynthLayer, layer_tar, write_oci

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

