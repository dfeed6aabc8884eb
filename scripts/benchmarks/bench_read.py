"""Benchmark: reading prepared Fashion-MNIST back into arrays and tensors, in one process.

    python scripts/benchmarks/bench_read.py [--data-dir ../shared/data/fashion-mnist] [--repeat 3]

Cases, run in interleaved rounds (every case once per round; the median is reported):

1. the floor: gunzip + ``np.frombuffer`` of the four IDX files;
2. ``to_numpy`` of train and test, both image formats: the per-row implementation this
   project had before (copied below as the naive reference) and ours;
3. a training epoch: the 60,000 training images in shuffled batches of 256 as torch tensors,
   normalised ``x / 255 - 0.5``: ``mnist_hf.TorchBatches``, torchvision's ``FashionMNIST`` with a
   ``DataLoader`` (num_workers 0 and 2; the same IDX files in its folder layout), and plain
   ``ds.with_format("torch")`` batch access;
4. the comparison script's load stage: ``mnist_hf.load(..., image_format="array")`` and
   ``to_numpy`` of train and test (uint8), warm cache.

Targets: to_numpy of both splits at most 2x the floor (array format) and at most 2 s (PNG);
an epoch at least 3x torchvision's best images/s; the load stage under 2 s; to_numpy's peak
memory at most the returned arrays + 20%. torchvision and the ``with_format`` rows are skipped
with a note when torchvision is not installed (``make bench`` builds a venv that has it).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import datasets
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import measure

import mnist_hf
from mnist_hf.torch_data import TorchBatches

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion-mnist"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BATCH = 256


def naive_to_numpy(dataset, *, normalize: bool = True, batch_size: int = 10000):
    """mnist_hf.to_numpy as it was before the Arrow read path (the reference)."""
    images = np.empty((dataset.num_rows,) + _naive_image_shape(dataset), dtype=np.uint8)
    is_png = isinstance(dataset.features["image"], datasets.Image)
    numpy_view = dataset.with_format("numpy")
    for start in range(0, dataset.num_rows, batch_size):
        stop = min(start + batch_size, dataset.num_rows)
        batch = numpy_view[start:stop]["image"]
        if is_png and (not isinstance(batch, np.ndarray) or batch.dtype == object):
            batch = np.stack([np.asarray(im) for im in batch])
        images[start:stop] = batch
    # The per-row Column read is the point of this reference: it is what the old to_numpy paid.
    labels = np.asarray(dataset.with_format("numpy")["label"], dtype=np.int64)
    if not normalize:
        return images, labels
    out = images.astype(np.float32)
    out /= 255.0
    out -= 0.5
    return out, labels


def _naive_image_shape(dataset):
    feature = dataset.features["image"]
    if isinstance(feature, datasets.Array2D):
        return tuple(feature.shape)
    return np.asarray(dataset.with_format("numpy")[0]["image"]).shape


def floor(data_dir: Path) -> dict[str, np.ndarray]:
    """The classic read: gunzip, skip the header, frombuffer."""
    out = {}
    for name in FILES:
        with gzip.open(data_dir / f"{name}.gz", "rb") as f:
            raw = f.read()
        header = 16 if "images" in name else 8
        arr = np.frombuffer(raw, dtype=np.uint8, offset=header)
        out[name] = arr.reshape(-1, 28, 28) if "images" in name else arr
    return out


def both_splits(to_numpy, ds, **kw):
    return [to_numpy(ds[split], **kw) for split in ("train", "test")]


def epoch_ours(batches) -> int:
    seen = 0
    for _, y in batches:
        seen += len(y)
    return seen


def epoch_loader(loader) -> int:
    seen = 0
    for _, y in loader:
        seen += len(y)
    return seen


def epoch_with_format(tds, seed: int) -> int:
    import torch

    order = torch.randperm(tds.num_rows, generator=torch.Generator().manual_seed(seed)).tolist()
    seen = 0
    for a in range(0, len(order), BATCH):
        batch = tds[order[a:a + BATCH]]
        x = batch["image"].to(torch.float32).div_(255).sub_(0.5)
        seen += len(x)
    return seen


def _one_thread(fn):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def torchvision_root(data_dir: Path, root: Path):
    """torchvision's FashionMNIST folder layout, with the same IDX files (decompressed, as it expects)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        with gzip.open(data_dir / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def _pairs(x: np.ndarray, y: np.ndarray):
    return sorted(zip(y.tolist(), (row.tobytes() for row in x.reshape(len(x), -1))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--repeat", type=int, default=3, help="rounds; median time, largest peak")
    parser.add_argument("--cache-root", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the prepared datasets live (default /dev/shm, as bench_prepare.py)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow per-row reference")
    return parser.parse_args(argv)


def _torchvision():
    """(torchvision, its FashionMNIST transform), or (None, None) when it is not installed."""
    try:
        import torchvision
        from torchvision import transforms
    except ImportError:
        return None, None
    return torchvision, transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (1.0,))])


def build_cases(ds, data_dir: Path, tmp: Path, load_kw: dict, skip_naive: bool, tv) -> tuple[dict, TorchBatches]:
    """({case name: (function returning the result, images it handles, memory tracked?)}, the shared batches)."""
    import torch

    n_all = 70000
    cases = {"floor: gunzip + frombuffer, 4 files": (lambda: floor(data_dir), n_all, True)}
    for fmt in ("array", "png"):
        if not skip_naive:
            cases[f"to_numpy {fmt}, train+test: naive (per row)"] = (
                lambda fmt=fmt: both_splits(naive_to_numpy, ds[fmt]), n_all, True)
        cases[f"to_numpy {fmt}, train+test: ours"] = (lambda fmt=fmt: both_splits(mnist_hf.to_numpy, ds[fmt]), n_all, True)
        cases[f"to_numpy {fmt}, train+test: ours, uint8"] = (
            lambda fmt=fmt: both_splits(mnist_hf.to_numpy, ds[fmt], normalize=False), n_all, True)

    batches = TorchBatches(ds["array"]["train"], BATCH, seed=0, normalize=True)
    cases["epoch: TorchBatches (after reading once)"] = (lambda: epoch_ours(batches), 60000, False)
    for fmt in ("array", "png"):
        cases[f"epoch: TorchBatches {fmt}, incl. reading the split"] = (
            lambda fmt=fmt: epoch_ours(TorchBatches(ds[fmt]["train"], BATCH, seed=1, normalize=True)), 60000, False)
    if tv is not None:
        for workers in (0, 2):
            cases[f"epoch: torchvision FashionMNIST + DataLoader, num_workers={workers}"] = (
                lambda w=workers: epoch_loader(torch.utils.data.DataLoader(tv, batch_size=BATCH, shuffle=True,
                                                                           num_workers=w)), 60000, False)
        # DataLoader workers run torch single-threaded; give the in-process loader that chance too.
        cases["epoch: torchvision FashionMNIST + DataLoader, num_workers=0, torch.set_num_threads(1)"] = (
            lambda: _one_thread(lambda: epoch_loader(torch.utils.data.DataLoader(tv, batch_size=BATCH, shuffle=True))),
            60000, False)
    for fmt in ("array", "png"):
        tds = ds[fmt]["train"].with_format("torch")
        cases[f"epoch: ds.with_format('torch') batches, {fmt}"] = (lambda tds=tds: epoch_with_format(tds, 0), 60000, False)

    def load_stage(to_numpy):
        d = mnist_hf.load("fashion_mnist", cache_dir=str(tmp / "array"), image_format="array", **load_kw)
        return both_splits(to_numpy, d, normalize=False)

    cases["load stage (compare_splits.py), warm: ours"] = (lambda: load_stage(mnist_hf.to_numpy), n_all, True)
    if not skip_naive:
        cases["load stage (compare_splits.py), warm: naive"] = (lambda: load_stage(naive_to_numpy), n_all, True)
    return cases, batches


def run_rounds(cases: dict, repeat: int):
    """Timed rounds without tracemalloc (it slows every Python allocation down), then one traced run
    of each case that returns arrays, for its peak. Returns (timings, returned bytes, traced peaks)."""
    results = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (fn, _, _) in cases.items():
            with measure() as m:
                out = fn()
            del out
            results[name].append(m)
    sizes, traced = {}, {}
    for name, (fn, _, tracked) in cases.items():
        if tracked:
            with measure(trace=True) as m:
                out = fn()
            sizes[name], traced[name] = _nbytes(out), m.traced_bytes
            del out
    return results, sizes, traced


def print_table(cases, results, sizes, traced) -> None:
    floor_s = _median(results, "floor: gunzip + frombuffer, 4 files")
    tv_best = _torchvision_best(cases, results)
    print("| case | s | images/s | x floor | x torchvision (epoch) | tracemalloc peak MB | RSS growth MB "
          "(anonymous) | returned MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ms in results.items():
        s, n = _median(results, name), cases[name][1]
        rate = n / s
        vs_tv = f"{rate / tv_best:.1f}x" if tv_best and name.startswith("epoch") else ""
        peak = f"{traced[name] / 2**20:.0f}" if name in traced else ""
        rss = f"{max(m.rss_bytes for m in ms) / 2**20:.0f} ({max(m.anon_bytes for m in ms) / 2**20:.0f})"
        returned = f"{sizes[name] / 2**20:.0f}" if name in sizes else ""
        print(f"| {name} | {s:.3f} | {rate:,.0f} | {s / floor_s:.2f} | {vs_tv} | {peak} | {rss} | {returned} |")


def check_targets(cases, results, sizes, traced) -> bool:
    """Print each target as met or MISSED; True when all are met."""
    verdicts = []

    def target(ok, text):
        verdicts.append(ok)
        print(("met:    " if ok else "MISSED: ") + text)

    floor_s = _median(results, "floor: gunzip + frombuffer, 4 files")
    for fmt, limit, what in (("array", 2 * floor_s, "2x the floor"), ("png", 2.0, "2 s")):
        s = _median(results, f"to_numpy {fmt}, train+test: ours")
        target(s <= limit, f"to_numpy {fmt}, both splits: {s:.3f} s (target <= {what} = {limit:.3f} s)")
        for name in (f"to_numpy {fmt}, train+test: ours", f"to_numpy {fmt}, train+test: ours, uint8"):
            peak = traced[name]
            target(peak <= 1.2 * sizes[name], f"{name}: tracemalloc peak {peak / 2**20:.0f} MB "
                                              f"(target <= 1.2 x {sizes[name] / 2**20:.0f} MB returned)")
    ours_rate = 60000 / _median(results, "epoch: TorchBatches (after reading once)")
    tv_best = _torchvision_best(cases, results)
    if tv_best:
        target(ours_rate >= 3 * tv_best, f"epoch: {ours_rate:,.0f} images/s vs torchvision's best "
                                         f"{tv_best:,.0f} ({ours_rate / tv_best:.1f}x, target 3x)")
        incl = 60000 / _median(results, "epoch: TorchBatches array, incl. reading the split")
        print(f"        (reading the split included: {incl / tv_best:.1f}x)")
    else:
        print("not measured: torchvision is not installed (make bench builds .venv-bench with it)")
    s = _median(results, "load stage (compare_splits.py), warm: ours")
    target(s < 2.0, f"load stage, warm: {s:.3f} s (target < 2 s)")
    print("targets met" if all(verdicts) else "TARGETS MISSED")
    return all(verdicts)


def _median(results, name) -> float:
    return statistics.median(m.seconds for m in results[name])


def _torchvision_best(cases, results) -> float | None:
    rates = [cases[n][1] / _median(results, n) for n in results if n.startswith("epoch: torchvision")]
    return max(rates, default=None)


def main(argv=None) -> int:
    args = parse_args(argv)
    datasets.disable_progress_bars()
    data_dir = Path(args.data_dir)
    import torch

    torchvision, transform = _torchvision()
    print(f"datasets {datasets.__version__}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__ if torchvision else 'not installed'}, {os.cpu_count()} cores; "
          f"Fashion-MNIST from {data_dir}; median of {args.repeat} interleaved rounds")

    with tempfile.TemporaryDirectory(dir=args.cache_root) as tmp:
        tmp = Path(tmp)
        load_kw = dict(data_dir=str(data_dir), system_dirs=())
        ds = {fmt: mnist_hf.load("fashion_mnist", cache_dir=str(tmp / fmt), image_format=fmt, **load_kw)
              for fmt in ("array", "png")}
        tv = None
        if torchvision is not None:
            tv_root = torchvision_root(data_dir, tmp / "torchvision")
            tv = torchvision.datasets.FashionMNIST(str(tv_root), train=True, download=False, transform=transform)
        cases, batches = build_cases(ds, data_dir, tmp, load_kw, args.skip_naive, tv)
        check(ds, floor(data_dir), batches, tv, transform)
        results, sizes, traced = run_rounds(cases, args.repeat)

    print_table(cases, results, sizes, traced)
    return 0 if check_targets(cases, results, sizes, traced) else 1


def _nbytes(out) -> int:
    if isinstance(out, np.ndarray):
        return out.nbytes
    if isinstance(out, dict):
        return sum(_nbytes(v) for v in out.values())
    if isinstance(out, (list, tuple)):
        return sum(_nbytes(v) for v in out)
    return 0


def check(ds, reference, batches, tv, transform) -> None:
    """Every way gives the same pixels and labels as the IDX files (one epoch's multiset for the
    shuffled ones)."""
    import torch

    for fmt in ("array", "png"):
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x, y = mnist_hf.to_numpy(ds[fmt][split], normalize=False)
            assert np.array_equal(x, reference[f"{prefix}-images-idx3-ubyte"]), (fmt, split)
            assert np.array_equal(y, reference[f"{prefix}-labels-idx1-ubyte"]), (fmt, split)
    normalized = reference["train-images-idx3-ubyte"].astype(np.float32) / np.float32(255) - np.float32(0.5)
    want = _pairs(normalized, reference["train-labels-idx1-ubyte"])
    xs, ys = zip(*batches)
    assert _pairs(torch.cat(xs).numpy(), torch.cat(ys).numpy()) == want, "TorchBatches"
    if tv is not None:
        xs, ys = zip(*torch.utils.data.DataLoader(tv, batch_size=BATCH, shuffle=True))
        assert _pairs(torch.cat(xs).numpy(), torch.cat(ys).numpy()) == want, "torchvision"
    print("checked: to_numpy (both formats, both splits), TorchBatches" + (" and torchvision" if tv is not None else "")
          + " give the IDX files' pixels and labels")


if __name__ == "__main__":
    sys.exit(main())
