"""Test helpers: the committed fixture images and what was planted in them, and builders for
synthetic images (layer tarballs and OCI layouts) written to a temporary directory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import layerdig

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "images"

#: Every committed form of the demo image and the format layerdig recognises it as.
FORMS = {
    "demo.docker.tar": "docker-archive",
    "demo.oci.tar": "oci-archive",
    "demo.zstd.oci": "oci-layout",
    "demo.umoci.oci": "oci-layout",
}


def planted() -> list[dict[str, Any]]:
    """Every secret the fixture script planted (values change with each rebuild)."""
    data = json.loads((FIXTURES / "planted.json").read_text())
    entries: list[dict[str, Any]] = data["planted"]
    return entries


def expected(p: dict[str, Any], form: str) -> tuple[str, int | None]:
    """(status, removed_in_layer) of a planted file in a fixture form (as the Rust tests)."""
    status: str = p["status"]
    if status.startswith("present"):
        if form == "demo.umoci.oci" and "deleted in layer 8" in status:
            return "deleted", 8
        return "present", None
    assert status in ("deleted", "overwritten"), status
    removed: int | None = p.get("removed_in_layer")
    return status, removed


def probe(secret: str) -> str:
    """A distinctive slice of a planted value (whole PEM blocks share their header lines)."""
    value = secret.strip()
    return value[60:100] if len(value) > 100 else value


def matches(found: str | None, planted_value: str) -> bool:
    """Whether a finding's secret is the planted value (or holds it, for whole-key rules)."""
    if found is None:
        return False
    value = planted_value.strip()
    return found == value or value in found or (len(found.strip()) > 200 and found.strip() in value)


class ReportCache:
    """Scans each fixture once per test session (per show_secrets)."""

    def __init__(self) -> None:
        self._reports: dict[tuple[str, bool], layerdig.Report] = {}

    def get(self, form: str, show_secrets: bool = False) -> layerdig.Report:
        key = (form, show_secrets)
        if key not in self._reports:
            self._reports[key] = layerdig.scan(FIXTURES / form, show_secrets=show_secrets)
        return self._reports[key]


# --- synthetic images ----------------------------------------------------------------------


def layer_tar(
    files: dict[str, bytes] | None = None,
    whiteouts: tuple[str, ...] = (),
) -> bytes:
    """A plain ustar layer: regular files, then `.wh.` whiteouts for the given paths."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in (files or {}).items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
        for path in whiteouts:
            parent, _, name = path.rpartition("/")
            info = tarfile.TarInfo(f"{parent}/.wh.{name}" if parent else f".wh.{name}")
            info.size = 0
            tar.addfile(info, io.BytesIO(b""))
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class SynthLayer:
    tar: bytes
    created_by: str
    gzip: bool = True


@dataclass
class SynthImage:
    layers: list[SynthLayer]
    env: list[str] = field(default_factory=list)
    platform: tuple[str, str] = ("linux", "amd64")


def write_oci(root: Path, images: list[SynthImage], *, truncate_layer: int | None = None) -> Path:
    """Write an OCI image layout holding `images` (one index entry each, with its platform).

    `truncate_layer` cuts the blob of that layer (of every image) in half, keeping the manifest's
    digest: a corrupt layer.
    """
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> tuple[str, int]:
        digest = sha256(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest, len(data)

    manifests = []
    for image in images:
        layer_descs = []
        for i, layer in enumerate(image.layers):
            blob = gzip.compress(layer.tar, compresslevel=1, mtime=0) if layer.gzip else layer.tar
            digest, size = put(blob)
            if truncate_layer == i:
                (blobs / digest.split(":")[1]).write_bytes(blob[: len(blob) // 2])
            media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if layer.gzip else "")
            layer_descs.append({"mediaType": media, "digest": digest, "size": size})
        history: list[dict[str, Any]] = [{"created_by": layer.created_by} for layer in image.layers]
        history += [{"created_by": f"/bin/sh -c #(nop) ENV {e}", "empty_layer": True} for e in image.env]
        config = {
            "architecture": image.platform[1],
            "os": image.platform[0],
            "config": {"Env": image.env, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer.tar) for layer in image.layers]},
            "history": history,
        }
        config_digest, config_size = put(json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": layer_descs,
        }
        manifest_digest, manifest_size = put(json.dumps(manifest).encode())
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"os": image.platform[0], "architecture": image.platform[1]},
            }
        )
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return root


def layer_blob(layout: Path, index: int) -> Path:
    """The blob file of layer `index` of the first image of an OCI layout `write_oci` wrote."""
    blobs = layout / "blobs" / "sha256"
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((blobs / manifest_digest.split(":")[1]).read_text())
    digest: str = manifest["layers"][index]["digest"]
    return blobs / digest.split(":")[1]


#: Fake but well-formed secrets for synthetic images (never valid anywhere).
AWS_KEY = "AKIAQ2XH7P3LMN4RT5VW"
AWS_KEY_2 = "AKIAB2C3D4E5F6G7H2J3"


def big_text_layer(path: Path, megabytes: int, seed: int = 7) -> Path:
    """A gzip layer tarball of `megabytes` MB of random-word text without secrets."""
    rng = random.Random(seed)
    words = (
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
        "ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco "
        "laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate"
    ).split()
    lines = [" ".join(rng.choices(words, k=rng.randint(6, 14))) + "\n" for _ in range(4000)]
    chunk_lines = (1 << 20) // 60  # about 1 MB of lines
    files = {}
    for i in range(megabytes // 4):
        files[f"var/log/app{i}.log"] = "".join("".join(rng.choices(lines, k=chunk_lines)) for _ in range(4)).encode()
    path.write_bytes(gzip.compress(layer_tar(files), compresslevel=1, mtime=0))
    return path


def all_text(report: layerdig.Report) -> Iterator[tuple[str, str]]:
    """Every textual rendering of a report, named."""
    yield "repr(report)", repr(report)
    yield "str(report)", str(report)
    yield "to_json", report.to_json()
    yield "to_json(pretty)", report.to_json(pretty=True)
    yield "to_sarif", report.to_sarif()
    yield "to_dict", repr(report.to_dict())
    for f in report.findings:
        yield f"repr({f.rule_id})", repr(f)
        yield f"str({f.rule_id})", str(f)
        yield f"{f.rule_id}.to_json", f.to_json()
        for loc in f.locations:
            yield f"repr(location of {f.rule_id})", repr(loc)
            yield f"location of {f.rule_id}.to_json", loc.to_json()
    for image in report.images:
        yield "image.to_json", image.to_json()
        for layer in image.layers:
            yield "repr(layer)", repr(layer)
