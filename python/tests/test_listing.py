"""layers() and files(): what each layer holds and what became of every file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from helpers import AWS_KEY, FIXTURES, FORMS, ReportCache, SynthImage, SynthLayer, expected, layer_tar, planted, write_oci

import layerdig


@pytest.mark.parametrize("form", sorted(FORMS))
def test_layers_of_every_form(reports: ReportCache, form: str) -> None:
    layers = layerdig.layers(FIXTURES / form)
    count = 9 if form == "demo.umoci.oci" else 8
    assert [layer.index for layer in layers] == list(range(count))
    assert all((layer.digest or "").startswith("sha256:") for layer in layers)
    assert all((layer.diff_id or "").startswith("sha256:") for layer in layers)
    assert all(layer.platform == "linux/amd64" for layer in layers)
    compression = {"demo.docker.tar": "none", "demo.oci.tar": "gzip", "demo.zstd.oci": "zstd", "demo.umoci.oci": "gzip"}[form]
    assert {layer.compression for layer in layers} == {compression}
    assert "rm /app/.env" in (layers[2].created_by or "")
    assert (layers[1].files, layers[2].deleted, layers[5].deleted) == (2, 1, 1)
    if form == "demo.umoci.oci":
        assert layers[8].created_by == "umoci repack" and layers[8].deleted == 1
    # The same layers a scan reports.
    assert [layer.to_dict() for layer in layers] == [layer.to_dict() for layer in reports.get(form).images[0].layers]
    media = layers[0].media_type
    assert media is None if form == "demo.docker.tar" else (media or "").startswith("application/vnd.oci.image.layer")
    # Every byte of every layer accounted for: the tar stream, and a compressed blob.
    for layer in layers:
        account = layer.account
        stream = sum(account[k] for k in ("content", "metadata", "padding", "hidden", "unread"))
        assert stream == layer.uncompressed_size, (layer.index, account)
        assert account["hidden"] == account["unread"] == account["framing_hidden"] == 0
        if layer.compression == "none":
            assert account["compressed"] == 0
        else:
            assert account["compressed"] == layer.size
        assert layer.to_dict()["account"] == account
    # Layer 1 holds two small files: their bytes are its content.
    assert 0 < layers[1].account["content"] < 4096
    # umoci repack leaves the old manifest and config behind: blobs nothing references.
    image = reports.get(form).images[0]
    if form == "demo.umoci.oci":
        assert image.input is not None
        assert (image.input["referenced"], image.input["unreferenced"]) == (11, 2)
        assert len(image.input["unreferenced_digests"]) == 2
    elif form == "demo.docker.tar":
        assert image.input is None


def test_layers_options() -> None:
    image = FIXTURES / "demo.oci.tar"
    assert layerdig.layers(image, platform="linux/amd64", threads=1) == layerdig.layers(image)
    with pytest.raises(layerdig.ImageFormatError):
        layerdig.layers(image, platform="windows/amd64")
    with pytest.raises(ValueError):
        layerdig.layers(image, threads=0)
    with pytest.raises(FileNotFoundError):
        layerdig.layers(FIXTURES / "nope.tar")


def test_layer_instructions_are_redacted_unless_asked(tmp_path: Path) -> None:
    instruction = f"/bin/sh -c AWS_ACCESS_KEY_ID={AWS_KEY} ./deploy.sh"
    layout = write_oci(tmp_path / "img", [SynthImage([SynthLayer(layer_tar({"deploy.sh": b"echo hi\n"}), instruction)])])
    (layer,) = layerdig.layers(layout)
    assert layer.created_by is not None and AWS_KEY not in layer.created_by
    assert "[REDACTED AKIA… (20 chars)]" in layer.created_by
    assert AWS_KEY not in repr(layer) and AWS_KEY not in layer.to_json()
    (shown,) = layerdig.layers(layout, show_secrets=True)
    assert shown.created_by == instruction


def test_scan_redacts_instructions_of_layers_without_file_findings(tmp_path: Path) -> None:
    instruction = f"/bin/sh -c AWS_ACCESS_KEY_ID={AWS_KEY} ./deploy.sh"
    layout = write_oci(tmp_path / "img", [SynthImage([SynthLayer(layer_tar({"deploy.sh": b"echo hi\n"}), instruction)])])
    report = layerdig.scan(layout)
    assert any(loc.source == "history" for f in report for loc in f.locations)
    assert AWS_KEY not in report.to_json()


@pytest.mark.parametrize("form", sorted(FORMS))
def test_files_every_planted_file_with_its_status(form: str) -> None:
    records = layerdig.files(FIXTURES / form)
    assert all(isinstance(r, layerdig.FileRecord) for r in records)
    for p in planted():
        if "path" not in p:
            continue
        (record,) = [r for r in records if r.path == p["path"] and r.layer_index == p["layer"]]
        assert (record.status, record.removed_in_layer) == expected(p, form), p["path"]
        assert record.kind == "file" and record.size > 0
        assert record.platform == "linux/amd64"
    assert {r.kind for r in records} >= {"file", "symlink"}


def test_files_status_filter() -> None:
    image = FIXTURES / "demo.umoci.oci"
    every = layerdig.files(image)
    for status in ("present", "deleted", "overwritten"):
        some = layerdig.files(image, status)
        assert some == [r for r in every if r.status == status]
        assert some, status
    deleted = {r.path for r in layerdig.files(image, status="deleted")}
    assert {"app/.env", "root/.ssh/id_ed25519", "etc/ssl/private/tls.key"} <= deleted
    (env,) = [r for r in layerdig.files(image, "deleted") if r.path == "app/.env"]
    assert (env.removed_by, env.removed_in_layer) == ("whiteout", 2)
    assert repr(env) == "FileRecord(path='app/.env', layer_index=1, kind='file', status='deleted', removed_in_layer=2)"
    overwritten = [r for r in every if r.status == "overwritten"]
    assert [(r.path, r.layer_index, r.removed_by) for r in overwritten] == [("app/settings.yml", 6, "rewritten")]
    with pytest.raises(ValueError, match="unknown status 'gone'"):
        layerdig.files(image, "gone")  # type: ignore[arg-type]


def test_files_options_and_errors(tmp_path: Path) -> None:
    image = FIXTURES / "demo.zstd.oci"
    assert layerdig.files(image, platform="linux/amd64", threads=1) == layerdig.files(image)
    with pytest.raises(FileNotFoundError):
        layerdig.files(tmp_path / "gone")
    (tmp_path / "text").write_text("just text\n" * 100)
    with pytest.raises(layerdig.ImageFormatError):
        layerdig.files(tmp_path / "text")


def test_problems_are_warnings(tmp_path: Path) -> None:
    layers = [
        SynthLayer(layer_tar({"a/one": b"1" * 50_000}), "COPY one"),
        SynthLayer(layer_tar({"b/two": b"2" * 50_000}), "COPY two"),
    ]
    layout = write_oci(tmp_path / "broken", [SynthImage(layers)], truncate_layer=1)
    with pytest.warns(layerdig.LayerdigWarning) as caught:
        listed = layerdig.layers(layout)
    assert len(listed) == 2
    messages = [str(w.message) for w in caught]
    assert any(str(layout) in m and "layer 1" in m for m in messages), messages
    with pytest.warns(layerdig.LayerdigWarning):
        records = layerdig.files(layout)
    assert any(r.path == "a/one" for r in records), "the good layer is still listed"
    # Warnings are ordinary: they can be turned into errors, or silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("error", layerdig.LayerdigWarning)
        with pytest.raises(layerdig.LayerdigWarning):
            layerdig.files(layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", layerdig.LayerdigWarning)
        assert len(layerdig.layers(layout)) == 2
