"""Benchmark: prepare Fashion-MNIST (70,000 images) with our batched Arrow builder and with a
reference builder that yields one Python dict per example, in the same process.

    python scripts/benchmarks/bench_prepare.py [--data-dir ../shared/data/fashion-mnist]

Targets: >= 3x faster with PNG images, >= 10x with ``image_format="array"``, peak memory
no higher than the per-example way. Each run gets a fresh cache folder. The reference runs
after ours, so any memory the allocator keeps from our run only raises the reference's baseline
(which makes its measured growth smaller, never ours).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
from pathlib import Path

import datasets
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import measure

import mnist_hf
from mnist_hf.sources import SPECS

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion-mnist"


class PerExampleReference(datasets.GeneratorBasedBuilder):
    """The classic loading-script way: one ``{"image": array, "label": int}`` per example."""

    BUILDER_CONFIGS = [datasets.BuilderConfig(name="png"), datasets.BuilderConfig(name="array")]

    def __init__(self, *args, data_dir_path: str, **kwargs):
        self.data_dir_path = data_dir_path
        super().__init__(*args, **kwargs)

    def _info(self):
        image = datasets.Array2D((28, 28), "uint8") if self.config.name == "array" else datasets.Image()
        names = list(SPECS["fashion_mnist"].class_names)
        return datasets.DatasetInfo(features=datasets.Features({"image": image, "label": datasets.ClassLabel(names=names)}))

    def _split_generators(self, dl_manager):
        d = self.data_dir_path
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"images": f"{d}/{p}-images-idx3-ubyte.gz",
                                                            "labels": f"{d}/{p}-labels-idx1-ubyte.gz"})
            for split, p in (("train", "train"), ("test", "t10k"))
        ]

    def _generate_examples(self, images, labels):
        # Read the way classic scripts do: gunzip, skip the header, frombuffer.
        with gzip.open(images, "rb") as f:
            x = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 28, 28)
        with gzip.open(labels, "rb") as f:
            y = np.frombuffer(f.read()[8:], dtype=np.uint8)
        for i in range(len(y)):
            yield i, {"image": x[i], "label": int(y[i])}


def run(fmt: str, data_dir: str, root: str, repeat: int):
    """Median time and largest peak over ``repeat`` alternating runs of each builder."""
    pairs = [run_once(fmt, data_dir, os.path.join(root, str(i))) for i in range(repeat)]
    ours = sorted((p[0] for p in pairs), key=lambda m: m.seconds)[repeat // 2]
    ref = sorted((p[1] for p in pairs), key=lambda m: m.seconds)[repeat // 2]
    ours.peak_bytes = max(p[0].peak_bytes for p in pairs)
    ref.peak_bytes = max(p[1].peak_bytes for p in pairs)
    return ours, ref


def run_once(fmt: str, data_dir: str, root: str):
    with measure() as ours:
        b = mnist_hf.api.builder("fashion_mnist", data_dir=data_dir, cache_dir=os.path.join(root, f"ours-{fmt}"),
                                 image_format=fmt, system_dirs=())
        b.download_and_prepare()
    assert b.as_dataset()["train"].num_rows == 60000
    with measure() as ref:
        r = PerExampleReference(config_name=fmt, cache_dir=os.path.join(root, f"ref-{fmt}"), data_dir_path=data_dir)
        r.download_and_prepare()
    assert r.as_dataset()["train"].num_rows == 60000
    return ours, ref


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--formats", nargs="+", default=["png", "array"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per builder; median time, largest peak")
    parser.add_argument("--cache-root", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the caches are written (default: /dev/shm, a RAM disk, so that disk "
                             "write-back noise does not swamp sub-second runs; both builders write there)")
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()
    print(f"datasets {datasets.__version__}, {os.cpu_count()} cores, 70,000 Fashion-MNIST images from {args.data_dir}")
    print("| image format | per-example (s) | ours (s) | speed-up | peak MB per-example | peak MB ours |")
    print("|---|---:|---:|---:|---:|---:|")
    ok = True
    print(f"caches under {args.cache_root or tempfile.gettempdir()}; median of {args.repeat} runs, largest peak")
    with tempfile.TemporaryDirectory(dir=args.cache_root) as root:
        for fmt in args.formats:
            ours, ref = run(fmt, args.data_dir, root, args.repeat)
            ratio = ref.seconds / ours.seconds
            target = 3 if fmt == "png" else 10
            ok &= ratio >= target and ours.peak_bytes <= ref.peak_bytes
            print(f"| {fmt} | {ref.seconds:.2f} | {ours.seconds:.2f} | {ratio:.1f}x (target {target}x) "
                  f"| {ref.peak_mb:.0f} | {ours.peak_mb:.0f} |")
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
