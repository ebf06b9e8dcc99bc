#!/usr/bin/env python3
"""Sweeps of many images that share base layers: the layer cache cold and warm, and a Dask
cluster of two worker processes against one process.

The images are generated (nothing large is committed): BASES families, each a base of two layers
(an "OS" layer and a "runtime" layer of text files, a few MB each), and SERVICES images per
family, each the base plus one layer of its own holding a planted fake key. Every image is its
own OCI layout directory, as an export of a registry would be: the base blobs are copied into
each, byte for byte, so the images share layer digests, not files.

    python3 benches/dask_sweep.py --layerdig target/release/layerdig [--workdir DIR] [--runs 3]

needs the Python package with its Dask extra installed in the running interpreter
(``pip install "./python[dask]"``) for the Dask and one-process rows. Prints a Markdown table;
each row is the median of ``--runs`` runs (the cache is emptied before each cold run).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BASES = 3
SERVICES = 8  # per base: 24 images
OS_MB = 6
RUNTIME_MB = 3
SERVICE_MB = 1

WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris "
    "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse "
    "config value path user group install package library module function return import class"
).split()


def text(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choices(WORDS, k=rng.randint(6, 14))) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def text_layer(rng: random.Random, prefix: str, megabytes: int) -> bytes:
    """A layer of 64 KiB text files adding up to `megabytes` MB."""
    files = {f"{prefix}/file{i:04}.txt": text(rng, 64 << 10) for i in range(megabytes * 16)}
    return layer_tar(files)


def fake_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_oci(root: Path, layers: list[tuple[bytes, bytes, str]]) -> None:
    """An OCI layout with one image: `layers` are (tar, gzip blob, created_by)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> tuple[str, int]:
        digest = sha256(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest, len(data)

    descs = []
    for _, blob, _ in layers:
        digest, size = put(blob)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar) for tar, _, _ in layers]},
        "history": [{"created_by": created_by} for _, _, created_by in layers],
    }
    config_digest, config_size = put(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": descs,
    }
    manifest_digest, manifest_size = put(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size}
        ],
    }
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))


def generate(images_dir: Path, services: int, os_mb: int = OS_MB, runtime_mb: int = RUNTIME_MB, service_mb: int = SERVICE_MB) -> list[Path]:
    rng = random.Random(20261202)
    targets = []
    for b in range(BASES):
        os_tar = text_layer(rng, f"usr/share/base{b}", os_mb)
        runtime_tar = text_layer(rng, f"opt/runtime{b}", runtime_mb)
        base = [
            (os_tar, gzip.compress(os_tar, compresslevel=1, mtime=0), f"ADD base{b}.tar /"),
            (runtime_tar, gzip.compress(runtime_tar, compresslevel=1, mtime=0), f"COPY runtime{b} /opt/"),
        ]
        for s in range(services):
            files = {f"srv/app{b}-{s}/data{i}.txt": text(rng, 64 << 10) for i in range(service_mb * 16)}
            files[f"srv/app{b}-{s}/.env"] = f"AWS_ACCESS_KEY_ID={fake_key(rng)}\n".encode()
            own = layer_tar(files)
            root = images_dir / f"base{b}-service{s}"
            write_oci(root, base + [(own, gzip.compress(own, compresslevel=1, mtime=0), f"COPY app{s} /srv/")])
            targets.append(root)
    return targets


def median_time(runs: int, before: Callable[[], None], fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layerdig", required=True, help="the layerdig binary to run")
    parser.add_argument("--workdir", help="where to generate the images (default: a temporary directory)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true", help="only the CLI rows")
    parser.add_argument("--services", type=int, default=SERVICES, help=f"images per base (default {SERVICES})")
    parser.add_argument("--os-mb", type=int, default=OS_MB, help=f"MB of each base's first layer (default {OS_MB})")
    parser.add_argument("--runtime-mb", type=int, default=RUNTIME_MB, help=f"MB of each base's second layer (default {RUNTIME_MB})")
    parser.add_argument("--service-mb", type=int, default=SERVICE_MB, help=f"MB of each image's own layer (default {SERVICE_MB})")
    args = parser.parse_args()

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="layerdig-bench-"))
    images_dir = work / "images"
    cache = work / "cache"
    if images_dir.exists():
        shutil.rmtree(images_dir)
    targets = generate(images_dir, args.services, args.os_mb, args.runtime_mb, args.service_mb)
    stored = sum(f.stat().st_size for f in images_dir.rglob("*") if f.is_file())
    distinct = 2 * BASES + BASES * args.services
    total = 3 * len(targets)
    print(f"{len(targets)} images, {total} layers ({distinct} distinct), {stored / 2**20:.0f} MiB stored", file=sys.stderr)

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir()

    def nothing() -> None:
        pass

    def cli(*extra: str) -> Callable[[], None]:
        def run() -> None:
            cmd = [args.layerdig, "sweep", str(images_dir), "-q", "--no-config", "-o", str(work / "out.jsonl"), *extra]
            status = subprocess.run(cmd, check=False).returncode
            if status not in (0, 1):
                raise SystemExit(f"{' '.join(cmd)}: exit {status}")

        return run

    def cli_scan_each(*extra: str) -> Callable[[], None]:
        def run() -> None:
            for t in targets:
                cmd = [args.layerdig, "scan", str(t), "-q", "--no-config", "-f", "json", "-o", str(work / "out.json"), *extra]
                status = subprocess.run(cmd, check=False).returncode
                if status not in (0, 1):
                    raise SystemExit(f"{' '.join(cmd)}: exit {status}")

        return run

    rows: list[tuple[str, float]] = []
    rows.append(("`layerdig sweep DIR` (no persistent cache)", median_time(args.runs, nothing, cli())))
    rows.append(("`layerdig sweep DIR --cache C`, cold", median_time(args.runs, empty_cache, cli("--cache", str(cache)))))
    rows.append(("`layerdig sweep DIR --cache C`, warm", median_time(args.runs, nothing, cli("--cache", str(cache)))))
    rows.append(("`layerdig scan IMAGE` for each image (no cache)", median_time(args.runs, nothing, cli_scan_each())))
    rows.append(
        ("`layerdig scan IMAGE --cache C` for each image, cold", median_time(args.runs, empty_cache, cli_scan_each("--cache", str(cache))))
    )
    rows.append(
        ("`layerdig scan IMAGE --cache C` for each image, warm", median_time(args.runs, nothing, cli_scan_each("--cache", str(cache))))
    )

    if not args.no_dask:
        import layerdig
        from dask.distributed import Client, LocalCluster

        from layerdig.distributed import sweep

        layerdig.Rules.builtin()
        rows.append(
            (
                "one Python process: `layerdig.scan(t, threads=1)` for each image",
                median_time(args.runs, nothing, lambda: [layerdig.scan(t, threads=1) for t in targets]),
            )
        )
        rows.append(
            (
                "one Python process: `layerdig.scan(t)` for each image (all cores)",
                median_time(args.runs, nothing, lambda: [layerdig.scan(t) for t in targets]),
            )
        )
        started = time.perf_counter()
        with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
        ) as cluster, Client(cluster) as client:
            start_up = time.perf_counter() - started
            sweep(targets[:1], client=client)  # import layerdig and compile the rules in each worker

            def dask_sweep(use_cache: bool) -> Callable[[], None]:
                def run() -> None:
                    reports = sweep(targets, client=client, cache=cache if use_cache else None)
                    assert len(reports) == len(targets)

                return run

            def forget() -> None:
                _wait_until_forgotten(client)

            def forget_and_empty() -> None:
                _wait_until_forgotten(client)
                empty_cache()

            rows.append(("Dask, 2 worker processes: `sweep(targets)`", median_time(args.runs, forget, dask_sweep(False))))
            rows.append(
                ("Dask, 2 worker processes: `sweep(targets, cache=C)`, cold", median_time(args.runs, forget_and_empty, dask_sweep(True)))
            )
            rows.append(("Dask, 2 worker processes: `sweep(targets, cache=C)`, warm", median_time(args.runs, forget, dask_sweep(True))))
        print(f"LocalCluster start-up: {start_up:.1f} s", file=sys.stderr)

    print(f"| run ({len(targets)} images, {total} layers, {distinct} distinct, {stored / 2**20:.0f} MiB) | seconds |")
    print("|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    return 0


def _wait_until_forgotten(client: object) -> None:
    """Let the scheduler release one sweep's layer results before the next run times itself."""

    def held(dask_scheduler: object) -> int:
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("layerdig-scan-layer-"))  # type: ignore[attr-defined]

    deadline = time.monotonic() + 30
    while client.run_on_scheduler(held) and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
