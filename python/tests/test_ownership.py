"""Who owns each file: findings in a package's files as it installed them are third_party."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from helpers import AWS_KEY, SynthImage, SynthLayer, layer_tar, write_oci

import layerdig


def record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_owner_and_verdict_of_package_files(tmp_path: Path) -> None:
    installed = f'DEFAULT_KEY = "{AWS_KEY}"\n'.encode()
    original = b"def helper():\n    return 1\n"
    changed = original + f'KEY = "{AWS_KEY}"\n'.encode()
    site = "usr/lib/python3/dist-packages"
    record = (
        f"examplelib/__init__.py,sha256={record_hash(installed)},{len(installed)}\n"
        f"examplelib/helpers.py,sha256={record_hash(original)},{len(original)}\n"
    ).encode()
    tar = layer_tar(
        {
            f"{site}/examplelib/__init__.py": installed,
            f"{site}/examplelib/helpers.py": changed,
            f"{site}/examplelib-2.0.dist-info/RECORD": record,
        }
    )
    image = write_oci(tmp_path / "img", [SynthImage([SynthLayer(tar, "RUN pip install examplelib")])])
    report = layerdig.scan(image)
    by_path = {loc.path: loc for f in report.findings for loc in f.locations}
    owned = by_path[f"{site}/examplelib/__init__.py"]
    assert owned.disposition == "third_party"
    assert owned.owner == {"ecosystem": "python", "package": "examplelib", "version": "2.0", "verdict": "verified"}
    modified = by_path[f"{site}/examplelib/helpers.py"]
    assert modified.disposition == "actionable"
    assert modified.owner is not None and modified.owner["verdict"] == "modified"
    assert modified.owner["expected"] == "sha256:" + hashlib.sha256(original).hexdigest()
    assert modified.owner["actual"] == "sha256:" + hashlib.sha256(changed).hexdigest()
    assert modified.to_dict()["owner"] == modified.owner
