"""Shared fixtures: synthetic IDX folders, the real data in ../shared, a local HTTP server.
Plain helpers (no fixtures) are in helpers.py."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import datasets
import huggingface_hub.constants
import pytest
from helpers import REPO, SHARED_DATA, FileServer, make_idx_dir
from tqdm import tqdm

# The IDX fuzzer lives beside its long-run tool (scripts/maintenance/fuzzing.py, fuzz_idx.py), so that
# nothing under scripts/ imports from tests/; the tests import it by name from there.
sys.path.insert(0, str(REPO / "scripts" / "maintenance"))

# Mutation testing (scripts/maintenance/mutation.sh) forks every mutant's run from one process: tqdm's default
# lock is a multiprocessing semaphore shared by all of them, and a run stopped while holding it
# leaves every later progress bar waiting forever (false timeouts). A thread lock is per process.
tqdm.set_lock(threading.RLock())
tqdm.monitor_interval = 0  # nor a monitor thread that may hold a lock when the process forks


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
