"""Plain helpers shared by the tests (fixtures live in conftest.py): synthetic IDX folders,
the location of the real data, a local HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from mnist_hf.idx import write_idx
from mnist_hf.sources import DatasetSpec

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MNIST_HF_SHARED_DATA", REPO.parent / "shared" / "data"))


def make_idx_dir(directory: Path, *, n_train: int = 300, n_test: int = 60, classes: int = 10, seed: int = 0,
                 compress: bool = True) -> dict[str, np.ndarray]:
    """Write a synthetic MNIST-shaped dataset; labels cycle so every class is present."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % classes).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % classes).astype(np.uint8),
    }
    for name, arr in arrays.items():
        write_idx(directory / (name + (".gz" if compress else "")), arr)
    return arrays


def cache_is_clean(cache_dir: Path) -> bool:
    """No prepared or half-prepared dataset: no arrow files, no .incomplete folders."""
    if not cache_dir.exists():
        return True
    bad = [p for p in cache_dir.rglob("*") if p.suffix == ".arrow" or p.name.endswith(".incomplete")
           or p.name == "dataset_info.json"]
    return not bad


def cache_leftovers(cache_dir: Path) -> list[str]:
    """Everything left in a cache after a failed prepare except datasets' empty lock files and
    the folders holding them (datasets keeps lock files by design; see README "Bad input")."""
    if not cache_dir.exists():
        return []
    left = []
    for p in sorted(cache_dir.rglob("*")):
        if p.is_dir():
            if not any(p.iterdir()):
                left.append(f"{p.relative_to(cache_dir)}/ (empty folder)")
        elif not (p.name.endswith(".lock") and p.stat().st_size == 0):
            left.append(str(p.relative_to(cache_dir)))
    return left


def verified_spec(spec: DatasetSpec, directory: Path) -> DatasetSpec:
    """``spec`` with the published MD5s replaced by those of the files in ``directory``, so
    synthetic files count as the published ones (verified, hence streamed)."""
    files = {}
    for role, f in spec.files.items():
        data = (directory / f.filename).read_bytes()
        files[role] = dataclasses.replace(f, size=len(data), md5=hashlib.md5(data).hexdigest(),
                                          content_sha256=hashlib.sha256(gzip.decompress(data)).hexdigest())
    return dataclasses.replace(spec, files=files)


def gz_files(directory: Path) -> dict[str, bytes]:
    """``{name: bytes}`` of the gzip files in ``directory`` (what a FileServer serves)."""
    return {p.name: p.read_bytes() for p in directory.glob("*.gz")}


class FileServer:
    """A real HTTP server on 127.0.0.1 with per-mirror behaviours, counting every hit.

    URL layout: ``/<mirror>/<filename>`` where ``mirrors[mirror]`` is one of
    ``"ok"``, ``"404"``, ``"500"``, ``"stall"``, ``"html"`` or a dict ``{filename: bytes}``
    overriding what is served for some files (corrupt or recompressed copies).
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.mirrors: dict[str, object] = {}
        self.hits: Counter[str] = Counter()
        self.stall_seconds = 5.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _respond(self, with_body: bool):
                server.hits[self.path] += 1
                parts = self.path.strip("/").split("/", 1)
                mirror, name = (parts + [""])[:2]
                mode = server.mirrors.get(mirror)
                if mode == "500":
                    return self.send_error(500)
                if mode == "stall":
                    time.sleep(server.stall_seconds)
                    try:
                        return self.send_error(504)
                    except (BrokenPipeError, ConnectionResetError):  # the client gave up, as intended
                        return None
                if mode in ("404", None) or (mode != "html" and name not in server.files):
                    return self.send_error(404)
                if mode == "html":
                    body = b"<!DOCTYPE html><html><body>Access denied</body></html>"
                elif isinstance(mode, dict) and name in mode:
                    body = mode[name]
                else:
                    body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self):
                self._respond(True)

            def do_HEAD(self):
                self._respond(False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, mirror: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{mirror}/"

    def total_hits(self) -> int:
        return sum(self.hits.values())

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
