"""layerdig: find leaked secrets in every layer of a container image, including deleted ones.

A ``RUN rm /app/.env`` does not remove the file from an image: it stays in the lower layer's
tarball for anyone who pulls the image. layerdig reads every layer, finds the secrets, and says
where each one is (layer, instruction, path, line) and whether it is still visible in the final
image or only recoverable from history.

>>> import layerdig
>>> report = layerdig.scan("image.tar")                         # doctest: +SKIP
>>> for f in report.findings:                                   # doctest: +SKIP
...     for loc in f.locations:
...         print(f.rule_id, f.redacted, loc.layer_index, loc.path, loc.status)

Every scan runs in Rust with the GIL released, so a thread pool scans images in parallel.
"""

from layerdig._native import (
    ErrorReport,
    FileRecord,
    Finding,
    Image,
    ImageFormatError,
    Layer,
    LayerdigError,
    LayerdigWarning,
    Location,
    PolicyError,
    Report,
    RuleError,
    Rules,
    ScanIterator,
    Stats,
    Suppression,
    __version__,
    files,
    iter_scan,
    layer_ids,
    layers,
    resolve,
    scan,
    scan_bytes,
    scan_layer,
)

__all__ = [
    "ErrorReport",
    "FileRecord",
    "Finding",
    "Image",
    "ImageFormatError",
    "Layer",
    "LayerdigError",
    "LayerdigWarning",
    "Location",
    "PolicyError",
    "Report",
    "RuleError",
    "Rules",
    "ScanIterator",
    "Stats",
    "Suppression",
    "__version__",
    "files",
    "iter_scan",
    "layers",
    "scan",
    "scan_bytes",
    "layer_ids",
    "resolve",
    "scan_layer",
]
