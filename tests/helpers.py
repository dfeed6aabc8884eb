"""Plain helpers shared by the tests (fixtures live in conftest.py): synthetic IDX folders,
the location of the real data, a local HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import io
import lzma
import os
import sys
import threading
import time
import tracemalloc
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from mnist_hf.idx import to_idx_bytes, write_idx
from mnist_hf.sources import DatasetSpec
from splitters.base import ValidationSplitter

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MNIST_HF_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_script(path: str, *, register: bool = False):
    """``scripts/PATH.py`` as a module (the scripts are not a package): ``"shifts"``,
    ``"benchmarks/bench_estimates"``. With ``register`` it is kept in ``sys.modules`` under its
    file's name, so other scripts' ``from NAME import ...`` get it."""
    name = path.rpartition("/")[2]
    if register and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{path}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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


def peak_bytes(call) -> int:
    """The most memory (bytes, as tracemalloc sees Python and numpy allocations) held during ``call()``."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def cache_is_clean(cache_dir: Path) -> bool:
    """No prepared or half-prepared dataset: no arrow files, no .incomplete folders."""
    if not cache_dir.exists():
        return True
    bad = [p for p in cache_dir.rglob("*") if p.suffix == ".arrow" or p.name.endswith(".incomplete")
           or p.name == "dataset_info.json"]
    return not bad


def cache_leftovers(cache_dir: Path) -> list[str]:
    """Everything left in a cache after a failed prepare except datasets' empty lock files and
    the folders holding them (datasets keeps lock files by design; see docs/guide/reliability.md, "Bad input")."""
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


def _content(name: str, data: bytes) -> bytes | None:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".xz"):
        return lzma.decompress(data)
    return None  # a zip archive: only its MD5 identifies it


def verified_spec(spec: DatasetSpec, directory: Path) -> DatasetSpec:
    """``spec`` with the published MD5s replaced by those of the files in ``directory``, so
    synthetic files count as the published ones (verified, hence streamed)."""
    files = {}
    for role, f in spec.files.items():
        data = (directory / f.filename).read_bytes()
        content = _content(f.filename, data)
        files[role] = dataclasses.replace(f, size=len(data), md5=hashlib.md5(data).hexdigest(),
                                          content_sha256=hashlib.sha256(content).hexdigest() if content else None)
    return dataclasses.replace(spec, files=files)


def gz_files(directory: Path) -> dict[str, bytes]:
    """``{name: bytes}`` of the gzip files in ``directory`` (what a FileServer serves)."""
    return {p.name: p.read_bytes() for p in directory.glob("*.gz")}


def all_files(directory: Path) -> dict[str, bytes]:
    """``{name: bytes}`` of every file in ``directory`` (gz, xz, zip)."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def numbered_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` mostly blank 28x28 images (they compress like real ones) that say which row they are:
    pixels (0, 0) and (0, 1) hold the row number, a few random strokes the rest."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256 % 256
    images[:, 10:18, 5] = rng.integers(1, 256, (n, 8), dtype=np.uint8)
    return images


def qmnist_labels(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 8)`` int32 rows in QMNIST's label layout: class, HSF series, writer ID, the digit's
    index for its writer, NIST class code, global NIST index, duplicate, unused. Writers 0-610
    are HSF 0/1 (employees), 2100-2599 HSF 4 (students); each writes 10 consecutive digits."""
    rng = np.random.default_rng(seed)
    cls = (np.arange(n) + rng.integers(0, 10)) % 10
    writer_no = np.arange(n) // 10
    student = writer_no % 3 == 2
    writer = np.where(student, 2100 + writer_no % 500, writer_no % 611)
    hsf = np.where(student, 4, np.where(writer < 300, 0, 1))
    rows = [cls, hsf, writer, np.arange(n) % 10, 0x30 + cls, rng.permutation(281770)[:n] if n <= 281770
            else np.arange(n) % 281770, np.zeros(n, int), np.zeros(n, int)]
    return np.stack(rows, axis=1).astype(np.int32)


QMNIST_FILES = {"train": ("qmnist-train-images-idx3-ubyte.gz", "qmnist-train-labels-idx2-int.gz"),
                "test": ("qmnist-test-images-idx3-ubyte.gz", "qmnist-test-labels-idx2-int.gz")}


def make_qmnist_dir(directory: Path, *, n_train: int = 600, n_test: int = 60000) -> dict[str, tuple]:
    """QMNIST's four files as published (gzip; images type 0x08, labels type 0x0C with 8 columns).
    Returns ``{part: (images, labels)}``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for seed, (part, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = numbered_images(n, seed), qmnist_labels(n, seed)
        write_idx(directory / QMNIST_FILES[part][0], images)
        write_idx(directory / QMNIST_FILES[part][1], labels)
        out[part] = images, labels
    return out


def make_nist_dir(directory: Path, *, n: int = 900) -> tuple[np.ndarray, np.ndarray]:
    """QMNIST's ``nist`` files as published: xz-compressed, labels with 8 int32 columns."""
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = numbered_images(n, 7), qmnist_labels(n, 7)
    write_idx(directory / "xnist-images-idx3-ubyte.xz", images)
    write_idx(directory / "xnist-labels-idx2-int.xz", labels)
    return images, labels


def upright_images(n: int, seed: int = 0) -> np.ndarray:
    """Images of an asymmetric glyph (a capital L: a long left stroke, a short foot) plus the
    row number at (0, 0)/(0, 1) and noise: any transposition or flip shows."""
    images = numbered_images(n, seed)
    images[:, 4:24, 6] = 255  # the stroke, down the left
    images[:, 23, 6:14] = 255  # the foot, to the right at the bottom
    return images


EMNIST_SIZES = {"byclass": (62, 0), "bymerge": (47, 0), "balanced": (47, 0), "letters": (26, 1),
                "digits": (10, 0), "mnist": (10, 0)}


def make_emnist_zip(path: Path, *, rows: dict[str, tuple[int, int]] | None = None,
                    compression: int = zipfile.ZIP_DEFLATED) -> dict[str, dict[str, tuple]]:
    """EMNIST's ``gzip.zip`` as published: members ``gzip/emnist-{split}-{part}-{images-idx3|labels-idx1}-ubyte.gz``
    (gzip IDX, images stored transposed: column by column) and ``gzip/emnist-{split}-mapping.txt``.
    ``rows`` gives ``{split: (n_train, n_test)}`` (default: 300/60 for every split). Returns
    ``{split: {part: (upright images, stored labels)}}``."""
    rows = rows or {split: (300, 60) for split in EMNIST_SIZES}
    out: dict[str, dict[str, tuple]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as z:
        for i, (split, sizes) in enumerate(rows.items()):
            classes, offset = EMNIST_SIZES[split]
            out[split] = {}
            for j, (part, n) in enumerate(zip(("train", "test"), sizes)):
                upright = upright_images(n, 10 * i + j)
                labels = (np.arange(n) % classes + offset).astype(np.uint8)
                for kind, array in (("images-idx3", upright.transpose(0, 2, 1)), ("labels-idx1", labels)):
                    buf = io.BytesIO()
                    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
                        gz.write(to_idx_bytes(array))
                    z.writestr(f"gzip/emnist-{split}-{part}-{kind}-ubyte.gz", buf.getvalue())
                out[split][part] = upright, labels
            z.writestr(f"gzip/emnist-{split}-mapping.txt",
                       "".join(f"{k + offset} {48 + k}\n" for k in range(classes)))
    return out


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
        self.authorization: str | None = None  # when set, the Authorization header every request must carry
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _respond(self, with_body: bool):
                server.hits[self.path] += 1
                if server.authorization is not None and self.headers.get("Authorization") != server.authorization:
                    return self.send_error(401)
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


class DropClass(ValidationSplitter):
    """A validation splitter that puts every row of class 2 into validation (its own ``split()``, so
    not the engine's fast path): the training part never sees that class."""

    def __init__(self, val_size=0.1):
        self.val_size = val_size

    def split(self, X, y=None, groups=None):
        val = np.flatnonzero(np.asarray(y) == 2)
        yield np.setdiff1d(np.arange(len(X)), val), val
