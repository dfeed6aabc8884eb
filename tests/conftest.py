"""Shared fixtures: synthetic IDX folders, the real data in ../shared, a local HTTP server.
Plain helpers (no fixtures) are in helpers.py."""

from __future__ import annotations

from pathlib import Path

import datasets
import huggingface_hub.constants
import pytest
from helpers import SHARED_DATA, FileServer, make_idx_dir


@pytest.fixture
def synthetic_dir(tmp_path: Path):
    arrays = make_idx_dir(tmp_path / "idx")
    return tmp_path / "idx", arrays


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real IDX files not found at {SHARED_DATA} (set MNIST_HF_SHARED_DATA or lay out ../shared/data)")
    return SHARED_DATA


@pytest.fixture
def online(monkeypatch):
    """Downloads from the local server work whatever the caller's offline settings
    (HF_HUB_OFFLINE=1 is read into datasets' config at import time)."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(datasets.config, name, False, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def fashion_server(shared_data: Path, online):
    files = {p.name: p.read_bytes() for p in (shared_data / "fashion-mnist").glob("*.gz")}
    server = FileServer(files)
    yield server
    server.close()
