"""Fixtures shared by the tests (helpers live in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import AWS_KEY, ReportCache, SynthImage, SynthLayer, layer_tar, write_oci


@pytest.fixture(scope="session")
def reports() -> ReportCache:
    """Each fixture form scanned once per session (per show_secrets)."""
    return ReportCache()


@pytest.fixture
def deleted_key_image(tmp_path: Path) -> Path:
    """Two layers: the first writes an AWS key to app/.env, the second deletes it."""
    base = SynthLayer(layer_tar({"app/.env": f"AWS_ACCESS_KEY_ID={AWS_KEY}\n".encode()}), "COPY app/ /app/")
    upper = SynthLayer(layer_tar(whiteouts=("app/.env",)), "RUN rm /app/.env")
    return write_oci(tmp_path / "deleted", [SynthImage([base, upper])])
