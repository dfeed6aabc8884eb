"""Shared fixtures: synthetic IDX folders, the real data in ../shared, a local HTTP server.
Plain helpers (no fixtures) are in helpers.py."""

from __future__ import annotations

from pathlib import Path

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
def fashion_server(shared_data: Path):
    files = {p.name: p.read_bytes() for p in (shared_data / "fashion-mnist").glob("*.gz")}
    server = FileServer(files)
    yield server
    server.close()
