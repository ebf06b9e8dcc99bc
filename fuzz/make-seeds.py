#!/usr/bin/env python3
"""Build the seed corpora in fuzz/corpus/ from the fixture images and the rule examples.

Run from the repository root: python3 fuzz/make-seeds.py

Big blobs (the fixtures' 1-2 MiB base layer) are swapped for a small layer so that every seed
stays small and quick to run; their digests then no longer match, which is one more case for the
scanner to report. Needs Python 3 with PyYAML.
"""

import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import tarfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMAGES = ROOT / "fixtures" / "images"
CORPUS = ROOT / "fuzz" / "corpus"
BIG = 64 << 10  # blobs above this are replaced or skipped
# Seeds name no real third-party hosts: an input with a domain name other than an example one
# is left out (a few rule examples carry real service hosts; the fuzzer does not need them).
DOMAIN = re.compile(rb"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|dev|io|net|org)\b", re.I)
EXAMPLE_HOST = re.compile(rb"example|acme|internal|localhost", re.I)


def write(target, data):
    if any(not EXAMPLE_HOST.search(b".".join(m.group(0).split(b".")[-2:])) for m in DOMAIN.finditer(data)):
        return
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    (out / name).write_bytes(data)


def members(tar_path):
    """(TarInfo, bytes or None) for every member of a tar file."""
    with tarfile.open(tar_path) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            yield m, data


def rebuild(items, small):
    """A tar of `items` with every file bigger than BIG replaced by `small`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for m, data in items:
            if data is not None and len(data) > BIG:
                data = small
            if data is not None:
                m.size = len(data)
                t.addfile(m, io.BytesIO(data))
            else:
                t.addfile(m)
    return buf.getvalue()


def dir_items(root):
    """(TarInfo, bytes or None) for a directory tree, as `tar -C root .` would store it."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        info = tarfile.TarInfo(rel)
        info.mtime = 1_700_000_000
        if path.is_dir():
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            yield info, None
        else:
            info.mode = 0o644
            yield info, path.read_bytes()


def plain_layers():
    """The small uncompressed layer tars of the docker-archive fixture."""
    out = []
    for m, data in members(IMAGES / "demo.docker.tar"):
        if data is not None and m.name.endswith(".tar") and len(data) <= BIG:
            out.append(data)
    return out


def compressed_layers():
    """The small gzip and zstd layer blobs of the OCI fixtures."""
    out = []
    for m, data in members(IMAGES / "demo.oci.tar"):
        if data is not None and data[:2] == b"\x1f\x8b" and len(data) <= BIG:
            out.append(data)
    for path in sorted((IMAGES / "demo.zstd.oci" / "blobs" / "sha256").iterdir()):
        data = path.read_bytes()
        if data[:4] == b"\x28\xb5\x2f\xfd" and len(data) <= BIG:
            out.append(data)
    return out


def open_image_seeds():
    plain = plain_layers()
    gz = [b for b in compressed_layers() if b[:2] == b"\x1f\x8b"]
    small_gz = min(gz, key=len)
    small_plain = min(plain, key=len)
    write("open_image", rebuild(members(IMAGES / "demo.oci.tar"), small_gz))
    write("open_image", rebuild(members(IMAGES / "demo.docker.tar"), small_plain))
    for layout in ("demo.zstd.oci", "demo.umoci.oci"):
        write("open_image", rebuild(dir_items(IMAGES / layout), small_gz))
    for blob in plain[:2] + compressed_layers()[:2]:
        write("open_image", blob)


def walk_layer_seeds():
    for blob in compressed_layers():
        write("walk_layer", b"\x00" + blob)
    for tar in plain_layers():
        for mode in (b"\x00", b"\x01", b"\x02"):
            write("walk_layer", mode + tar)


def detect_seeds():
    rules = IMAGES.parent.parent / "crates" / "layerdig" / "src" / "detect" / "rules"
    for path in sorted(rules.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for rule in doc.get("rules", []):
            for example in rule.get("examples", [])[:2]:
                write("detect", b"app/config.env\n" + example.encode())
    # Whole files from the fixture's layers, under their own paths.
    for blob in compressed_layers():
        if blob[:2] != b"\x1f\x8b":
            continue
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as t:
            for m in t.getmembers():
                if m.isfile() and 0 < m.size <= 16 << 10:
                    write("detect", m.name.encode() + b"\n" + t.extractfile(m).read())
    # Config strings: every Env entry, label and created_by of the fixture's config.
    for m, data in members(IMAGES / "demo.oci.tar"):
        if data is None or not data.startswith(b"{"):
            continue
        doc = json.loads(data)
        if "rootfs" not in doc:
            continue
        config = doc.get("config", {})
        for i, env in enumerate(config.get("Env") or []):
            write("detect", f"Env[{i}]\n{env}".encode())
        for k, v in (config.get("Labels") or {}).items():
            write("detect", f"Labels.{k}\n{v}".encode())
        for i, h in enumerate(doc.get("history", [])):
            if "created_by" in h:
                write("detect", f"history[{i}].created_by\n{h['created_by']}".encode())


if __name__ == "__main__":
    open_image_seeds()
    walk_layer_seeds()
    detect_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = list((CORPUS / target).iterdir())
        print(target, len(files), "files", sum(f.stat().st_size for f in files), "bytes")
