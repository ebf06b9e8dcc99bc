"""Scan many images on a Dask cluster, each distinct layer once.

Images built on the same base share most of their layers: a fleet of a hundred services on
three base images holds a few hundred distinct layers, not thousands. :func:`sweep` scans every
distinct layer once, on whichever worker is free, and then judges each image from its own
documents and the layer results it needs:

1. one ``layer_ids`` task per target (it opens the target's documents, never its layers) lists
   the target's layers by id (the digest) and size;
2. the layers are deduplicated by id across every target, and one ``scan_layer`` task is
   submitted per distinct layer, keyed by the layer id and the scan options (``pure``), so a
   layer that another sweep on the same cluster still holds is not scanned again either;
3. one ``resolve`` task per target receives the results of its layers (they travel from worker
   to worker, not through the client) and returns the target's ``Report``, the same report
   ``layerdig.scan(target, ...)`` gives.

>>> from dask.distributed import Client, LocalCluster               # doctest: +SKIP
>>> from layerdig.distributed import sweep                         # doctest: +SKIP
>>> with LocalCluster(n_workers=4, threads_per_worker=1) as cluster, Client(cluster) as client:
...     reports = sweep(["a.tar", "b.tar"], client=client, cache="/shared/layerdig-cache")
...     failing = [r for r in reports if r.gate and r.gate["result"] != "pass"]

Dask is an optional dependency (``pip install "layerdig[dask]"``); it is imported when
:func:`sweep` runs, not when this module is imported. Targets are opened by the workers, so each
must name the same image on every worker (an absolute path on shared storage, for instance).

A layer result holds the secrets found in the layer, unredacted: the scheduler and the workers
see them as they pass. Run the cluster where you would keep a report written with
``--show-secrets``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union

from layerdig import _native
from layerdig._native import Report, Rules

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["sweep"]

_StrPath = Union[str, "os.PathLike[str]"]
_RulesPath = Union[_StrPath, Sequence[_StrPath]]

_INSTALL_HINT = 'layerdig.distributed needs Dask\'s distributed scheduler: pip install "layerdig[dask]"'


def _dask_distributed() -> ModuleType:
    """The ``distributed`` package, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError(f"{_INSTALL_HINT} ({e})") from e
    return distributed


def sweep(
    targets: Iterable[_StrPath],
    *,
    client: Client,
    cache: _StrPath | None = None,
    platform: str | None = None,
    rules_path: _RulesPath | None = None,
    config: _StrPath | None = None,
    fail_on: str | None = None,
    baseline: _StrPath | None = None,
    now: str | None = None,
    show_secrets: bool = False,
    archive_depth: int | None = None,
    base: _StrPath | None = None,
) -> list[Report]:
    """Scan every target on the Dask cluster behind ``client``; one ``Report`` per target, in
    the order given.

    Each distinct layer (by digest) among all the targets is scanned once. ``cache`` is the
    layer-result cache directory of ``layerdig scan --cache``, as the workers name it: layers
    whose results it holds are read from it instead of scanned. It is a SQLite database, safe
    for the processes of one host: on a cluster of several hosts give each host its own, at the
    same local path (SQLite does not support one database shared across hosts over a network
    file system). ``rules_path`` is a
    rule file, or several, used on top of the built-in rules (``Rules`` objects do not pickle,
    so each worker builds the set from the files, once per process). ``platform``, ``config``,
    ``fail_on``, ``baseline``, ``now``, ``show_secrets``, ``archive_depth`` and ``base`` mean what
    they mean for ``layerdig.scan``; the paths among them are opened by the workers.

    Raises ``ImportError`` when Dask's distributed scheduler is not installed, ``TypeError`` when
    ``client`` is not a ``distributed.Client``, and the first error a task raised (a target that
    is not an image raises ``ImageFormatError``, a missing one ``OSError``, ...).
    """
    distributed = _dask_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client, not {type(client).__name__}")
    names = [os.fspath(t) for t in targets]
    if not names:
        return []
    cache_dir = os.fspath(cache) if cache is not None else None
    rule_files = _rule_files(rules_path)
    scan_options: dict[str, Any] = {"rules_path": rule_files, "archive_depth": archive_depth, "cache": cache_dir}

    # 1. The layers of each target, read on the workers (the targets are theirs to open).
    listings: list[list[tuple[str, int]]] = _gather(
        client, [client.submit(_layer_ids_task, name, platform, pure=False) for name in names]
    )

    # 2. Each distinct layer once, from the first target that has it; the largest first, so the
    #    longest scans do not start last.
    where: dict[str, tuple[str, int]] = {}
    for name, listing in zip(names, listings):
        for layer_id, size in listing:
            where.setdefault(layer_id, (name, size))
    # The rule files' versions as the client sees them (when it can), so a result made with an
    # older version of a file that the cluster still holds is not taken for this one.
    token = _options_token({**scan_options, "rules_stamps": _stamps(rule_files)})
    scanned: dict[str, Future[bytes]] = {
        layer_id: client.submit(
            _scan_layer_task,
            name,
            layer_id,
            platform,
            scan_options,
            key=f"layerdig-scan-layer-{layer_id}-{token}",
            pure=True,
            priority=size,
        )
        for layer_id, (name, size) in where.items()
    }

    # 3. Each target judged from its documents and its layers' results.
    resolve_options: dict[str, Any] = {
        "platform": platform,
        "rules_path": rule_files,
        "config": _path(config),
        "fail_on": fail_on,
        "baseline": _path(baseline),
        "now": now,
        "show_secrets": show_secrets,
        "archive_depth": archive_depth,
        "base": _path(base),
        "cache": cache_dir,
    }
    resolved = [
        client.submit(
            _resolve_task,
            name,
            {layer_id: scanned[layer_id] for layer_id, _ in listing},
            resolve_options,
            pure=False,
        )
        for name, listing in zip(names, listings)
    ]
    reports: list[Report] = _gather(client, resolved)
    return reports


def _gather(client: Client, futures: Sequence[Future[Any]]) -> Any:
    """The futures' results (the first error raised, as raised)."""
    return client.gather(futures)  # type: ignore[no-untyped-call]


def _path(p: _StrPath | None) -> str | None:
    return os.fspath(p) if p is not None else None


def _rule_files(rules_path: _RulesPath | None) -> tuple[str, ...]:
    if rules_path is None:
        return ()
    if isinstance(rules_path, (str, os.PathLike)):
        return (os.fspath(rules_path),)
    return tuple(os.fspath(p) for p in rules_path)


def _options_token(options: dict[str, Any]) -> str:
    """A short digest of the options a layer result depends on, for the task key: the same layer
    scanned with other rules is another result."""
    text = json.dumps(options, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the tasks (run on the workers) ---------------------------------------------------------


def _rules(files: tuple[str, ...]) -> Rules | None:
    """The built-in rules and the given files', compiled once per worker process and version of
    the files (a long-lived worker picks up a rule file changed between sweeps)."""
    if not files:
        return None
    stamps = _stamps(files)
    if any(mtime < 0 for _, mtime, _ in stamps):
        return _compiled.__wrapped__(stamps)  # raises the OSError naming the file
    return _compiled(stamps)


def _stamps(files: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """Each file with its modification time and size (-1 for a file that cannot be read)."""
    stamps = []
    for f in files:
        try:
            st = os.stat(f)
            stamps.append((f, st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((f, -1, -1))
    return tuple(stamps)


@functools.lru_cache(maxsize=8)
def _compiled(stamps: tuple[tuple[str, int, int], ...]) -> Rules:
    rules = Rules.builtin()
    for f, _, _ in stamps:
        rules = rules.extend_from_file(f)
    return rules


def _layer_ids_task(target: str, platform: str | None) -> list[tuple[str, int]]:
    return _native.layer_ids(target, platform=platform)


def _scan_layer_task(target: str, layer_id: str, platform: str | None, options: dict[str, Any]) -> bytes:
    return _native.scan_layer(
        target,
        layer_id,
        platform=platform,
        rules=_rules(options["rules_path"]),
        archive_depth=options["archive_depth"],
        cache=options["cache"],
    )


def _resolve_task(target: str, results: dict[str, bytes], options: dict[str, Any]) -> Report:
    return _native.resolve(
        target,
        results,
        platform=options["platform"],
        rules=_rules(options["rules_path"]),
        config=options["config"],
        fail_on=options["fail_on"],
        baseline=options["baseline"],
        now=options["now"],
        show_secrets=options["show_secrets"],
        archive_depth=options["archive_depth"],
        base=options["base"],
        cache=options["cache"],
    )
