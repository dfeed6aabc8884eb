"""Peak memory and time of preparing EMNIST byclass (814,255 images) from a synthetic ``gzip.zip`` of
realistic size, laid out as NIST publishes it (no EMNIST file is available offline).

    python scripts/benchmarks/bench_emnist.py [--scale 1.0] [--image-format array png] [--work DIR]

The archive holds byclass's four members at the published row counts (times ``--scale``), images
stored transposed with about 250 random pixels each (so they compress about as much as the real
ones: the real 536 MB archive holds about 2 million images), written in chunks. The builder is
told the archive's MD5, as for the published file, so it streams the images in 5,000-row blocks.
Peak = the larger of resident-memory growth and the tracemalloc peak (benchlib.measure).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import measure

import mnist_hf
from mnist_hf.fetch import file_digest
from mnist_hf.idx import to_idx_bytes
from mnist_hf.sources import SPECS

CHUNK = 50_000  # images generated and compressed at a time


def _images(n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 6:22, 6:22] = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
    return x


def write_archive(path: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """A ``gzip.zip`` with EMNIST byclass's members, written chunk by chunk (bounded memory)."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for part, n in (("train", n_train), ("test", n_test)):
            name = f"gzip/emnist-byclass-{part}-images-idx3-ubyte.gz"
            with z.open(name, "w", force_zip64=True) as member, \
                    gzip.GzipFile(fileobj=member, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write(b"\x00\x00\x08\x03" + np.array([n, 28, 28], ">u4").tobytes())  # IDX header: uint8, 3-D
                for lo in range(0, n, CHUNK):
                    gz.write(_images(min(CHUNK, n - lo), rng).tobytes())
            labels = rng.integers(0, 62, n, dtype=np.uint8)
            z.writestr(f"gzip/emnist-byclass-{part}-labels-idx1-ubyte.gz", gzip.compress(to_idx_bytes(labels), 1))
        z.writestr("gzip/emnist-byclass-mapping.txt", "".join(f"{k} {48 + k}\n" for k in range(62)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the published row counts")
    p.add_argument("--image-format", nargs="+", default=["array"], choices=["array", "png"])
    p.add_argument("--work", help="folder for the archive and the caches (default: a temporary one)")
    args = p.parse_args(argv)
    spec = SPECS["emnist_byclass"]
    n_train, n_test = (round(spec.split_sizes[k] * args.scale) for k in ("train", "test"))
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_emnist_"))
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    archive = data / "gzip.zip"
    if not archive.exists():
        write_archive(archive, n_train, n_test)
    md5 = file_digest(str(archive), "md5")
    SPECS["emnist_byclass"] = dataclasses.replace(
        spec, files={"archive": dataclasses.replace(spec.files["archive"], md5=md5)})
    print(f"archive {archive}: {archive.stat().st_size / 2**20:,.0f} MiB, byclass {n_train:,} + {n_test:,} rows, "
          f"{(n_train + n_test) * 784 / 2**20:,.0f} MiB of pixels")
    print("| image_format | s | images/s | peak MB | RSS growth MB | tracemalloc peak MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for fmt in args.image_format:
        b = mnist_hf.builder("emnist_byclass", data_dir=str(data), cache_dir=str(work / f"cache-{fmt}"),
                             image_format=fmt)
        with measure(trace=True) as m:
            b.download_and_prepare()
        rows = sum(s.num_examples for s in b.info.splits.values())
        assert rows == n_train + n_test, rows
        print(f"| {fmt} | {m.seconds:.1f} | {rows / m.seconds:,.0f} | {m.peak_bytes / 2**20:.0f} | "
              f"{m.rss_bytes / 2**20:.0f} | {m.traced_bytes / 2**20:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
