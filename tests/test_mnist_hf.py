"""The builder on synthetic IDX folders: splits, formats, options and bad input."""

from __future__ import annotations

import gzip
import shutil
import struct

import datasets
import numpy as np
import pytest
from helpers import cache_is_clean, make_idx_dir

import mnist_hf
from mnist_hf import DataValidationError, IDXFormatError, MissingFilesError, split_indices
from mnist_hf.idx import write_idx

NO_SYSTEM = {"system_dirs": ()}


def _load(data_dir, tmp_path, **kw):
    return mnist_hf.load("mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), **NO_SYSTEM, **kw)


@pytest.mark.parametrize("image_format", ["png", "array"])
def test_splits_match_the_idx_files(synthetic_dir, tmp_path, image_format):
    data_dir, arrays = synthetic_dir
    ds = _load(data_dir, tmp_path, image_format=image_format)
    assert set(ds) == {"train", "test"}
    assert ds["train"].num_rows == 300 and ds["test"].num_rows == 60
    x, y = mnist_hf.to_numpy(ds["train"], normalize=False)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    assert ds["train"].features["label"].names == [str(i) for i in range(10)]
    expected = datasets.Image if image_format == "png" else datasets.Array2D
    assert isinstance(ds["train"].features["image"], expected)


@pytest.mark.parametrize("strategy", ["tail", "head", "random"])
def test_validation_strategies(synthetic_dir, tmp_path, strategy):
    data_dir, arrays = synthetic_dir
    ds = _load(data_dir, tmp_path, validation_size=50, validation_strategy=strategy, image_format="array")
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 250, "validation": 50, "test": 60}
    train_idx, val_idx = split_indices(300, 50, strategy, seed=0)
    xv, _ = mnist_hf.to_numpy(ds["validation"], normalize=False)
    xt, _ = mnist_hf.to_numpy(ds["train"], normalize=False)
    np.testing.assert_array_equal(xv, arrays["train-images-idx3-ubyte"][val_idx])
    np.testing.assert_array_equal(xt, arrays["train-images-idx3-ubyte"][train_idx])
    if strategy == "tail":
        assert val_idx.tolist() == list(range(250, 300))
    if strategy == "head":
        assert val_idx.tolist() == list(range(50))


def test_random_split_is_seeded_and_stratifiable():
    labels = np.repeat(np.arange(10), 30)
    a = split_indices(300, 50, "random", seed=1, labels=labels, stratify=True)[1]
    b = split_indices(300, 50, "random", seed=1, labels=labels, stratify=True)[1]
    c = split_indices(300, 50, "random", seed=2, labels=labels, stratify=True)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    counts = np.bincount(labels[a], minlength=10)
    assert counts.min() >= 4 and counts.max() <= 6


def test_formats_numpy_torch_and_normalisation(synthetic_dir, tmp_path):
    data_dir, arrays = synthetic_dir
    ds = _load(data_dir, tmp_path)
    x, y = mnist_hf.to_numpy(ds["test"])
    assert x.dtype == np.float32 and x.min() >= -0.5 and x.max() <= 0.5
    np.testing.assert_allclose(x, arrays["t10k-images-idx3-ubyte"] / 255.0 - 0.5, atol=1e-6)
    batch = ds["test"].with_format("numpy")[:4]
    assert batch["image"].shape == (4, 28, 28) and batch["image"].dtype == np.uint8
    torch = pytest.importorskip("torch", reason="torch is installed by `make test`; needed for with_format('torch')")
    tb = ds["test"].with_format("torch")[:4]
    # datasets' torch formatter gives images channel-first, as torchvision expects.
    assert tb["image"].shape == (4, 1, 28, 28) and tb["label"].dtype == torch.int64
    ta = _load(data_dir, tmp_path / "arr", image_format="array")["test"].with_format("torch")[:4]
    assert ta["image"].shape == (4, 28, 28)
    assert torch.equal(ta["image"], tb["image"][:, 0])


def test_raw_and_dotted_file_names(tmp_path):
    arrays = make_idx_dir(tmp_path / "raw", compress=False)
    for p in (tmp_path / "raw").iterdir():
        p.rename(p.with_name(p.name.replace("-idx", ".idx")))
    ds = _load(tmp_path / "raw", tmp_path, image_format="array")
    assert ds["train"].num_rows == len(arrays["train-labels-idx1-ubyte"])


def test_second_load_reuses_the_cache(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    _load(data_dir, tmp_path, image_format="array")
    shutil.rmtree(data_dir)  # a second prepare must not need the files again
    ds = _load(data_dir, tmp_path, image_format="array")
    assert ds["train"].num_rows == 300


def test_builder_class_directly(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    b = mnist_hf.MnistFamily(config_name="kmnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                             system_dirs=(), validation_size=10)
    b.download_and_prepare()
    ds = b.as_dataset()
    assert ds["validation"].num_rows == 10
    assert ds["train"].features["label"].names[0] == "o"
    assert b.info.citation.startswith("@online{clanuwat2018deep")


# --- bad input: a clear error, and nothing left in the cache -----------------------------------

def _corrupt(data_dir, name, data: bytes):
    (data_dir / name).write_bytes(data)


BAD_CASES = {
    "html": (lambda d, a: _corrupt(d, "train-images-idx3-ubyte.gz", b"<html><body>403</body></html>"),
             IDXFormatError, "HTML page"),
    "empty": (lambda d, a: _corrupt(d, "t10k-labels-idx1-ubyte.gz", b""), IDXFormatError, "empty"),
    "truncated gzip": (lambda d, a: _corrupt(d, "train-images-idx3-ubyte.gz",
                                             (d / "train-images-idx3-ubyte.gz").read_bytes()[:5000]),
                       IDXFormatError, "truncated gzip"),
    "wrong magic": (lambda d, a: _corrupt(d, "t10k-labels-idx1-ubyte.gz", gzip.compress(b"\x12\x34\x08\x01" + b"\0" * 64)),
                    IDXFormatError, "wrong magic"),
    "unknown type": (lambda d, a: _corrupt(d, "t10k-labels-idx1-ubyte.gz", gzip.compress(b"\x00\x00\x07\x01\x00\x00\x00\x01x")),
                     IDXFormatError, "unknown element type"),
    "declared too large": (lambda d, a: _corrupt(d, "t10k-images-idx3-ubyte.gz", gzip.compress(
                               b"\x00\x00\x08\x03" + struct.pack(">III", 10, 28, 28) + np.random.default_rng(0).bytes(999))),
                           IDXFormatError, "holds only 999"),
    "label out of range": (lambda d, a: write_idx(
                               d / "train-labels-idx1-ubyte.gz",
                               np.where(np.arange(300) == 7, 10, a["train-labels-idx1-ubyte"]).astype(np.uint8)),
                           DataValidationError, "outside 0..9"),
    "count mismatch": (lambda d, a: write_idx(d / "t10k-labels-idx1-ubyte.gz", a["t10k-labels-idx1-ubyte"][:-1]),
                       DataValidationError, "holds 60 images but"),
    "wrong image shape": (lambda d, a: write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((60, 32, 32), np.uint8)),
                          DataValidationError, "shape (N, 28, 28)"),
    "missing file": (lambda d, a: (d / "t10k-images-idx3-ubyte.gz").unlink(), MissingFilesError,
                     "lacks 1 file(s) of mnist: t10k-images-idx3-ubyte.gz"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
@pytest.mark.parametrize("image_format", ["png", "array"])
def test_bad_input_gives_clear_error_and_clean_cache(synthetic_dir, tmp_path, case, image_format):
    data_dir, arrays = synthetic_dir
    breaker, error, fragment = BAD_CASES[case]
    breaker(data_dir, arrays)
    with pytest.raises(error) as err:
        _load(data_dir, tmp_path, image_format=image_format)
    assert fragment in str(err.value)
    if error is not MissingFilesError:
        assert str(data_dir) in str(err.value)  # names the file
    assert cache_is_clean(tmp_path / "cache")


def test_missing_files_lists_what_was_found(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    (data_dir / "train-labels-idx1-ubyte.gz").unlink()
    (data_dir / "notes.txt").write_text("hi")
    with pytest.raises(MissingFilesError) as err:
        _load(data_dir, tmp_path)
    msg = str(err.value)
    assert "train-labels-idx1-ubyte.gz" in msg and "Found there:" in msg and "notes.txt" in msg


def test_bad_options_are_rejected(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    with pytest.raises(ValueError, match="validation_strategy"):
        _load(data_dir, tmp_path, validation_size=5, validation_strategy="middle")
    with pytest.raises(ValueError, match="image_format"):
        _load(data_dir, tmp_path, image_format="jpeg")
    with pytest.raises(ValueError, match="between 1 and 299"):
        _load(data_dir, tmp_path, validation_size=300)
    assert cache_is_clean(tmp_path / "cache")


def test_system_copy_is_used_when_verified_only(synthetic_dir, tmp_path, monkeypatch):
    """A system folder whose files don't verify is ignored (and the download path is taken)."""
    data_dir, _ = synthetic_dir
    from mnist_hf.fetch import resolve_system_dirs
    from mnist_hf.sources import SPECS

    assert resolve_system_dirs([str(data_dir)], SPECS["mnist"]) is None
