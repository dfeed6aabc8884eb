"""The real published files in ../shared/data (skipped, with the reason, where absent)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FileServer
from sklearn.model_selection import train_test_split

import mnist_hf
from mnist_hf import MirrorError, read_idx
from mnist_hf.arrays import label_array
from mnist_hf.fetch import verify_file
from mnist_hf.sources import SPECS

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def fashion(shared_data, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return mnist_hf.load("fashion_mnist", data_dir=str(shared_data / "fashion-mnist"), cache_dir=str(cache),
                         system_dirs=())


def test_fashion_sizes_and_class_balance(fashion):
    assert fashion["train"].num_rows == 60000 and fashion["test"].num_rows == 10000
    assert np.bincount(label_array(fashion["train"])).tolist() == [6000] * 10
    assert np.bincount(label_array(fashion["test"])).tolist() == [1000] * 10
    assert fashion["train"].features["label"].names[0] == "T-shirt/top"


def test_fashion_pixels_identical_to_idx(fashion, shared_data):
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = mnist_hf.to_numpy(fashion[split], normalize=False)
        np.testing.assert_array_equal(x, read_idx(shared_data / "fashion-mnist" / f"{prefix}-images-idx3-ubyte.gz"))
        np.testing.assert_array_equal(y, read_idx(shared_data / "fashion-mnist" / f"{prefix}-labels-idx1-ubyte.gz"))


def test_fashion_files_verify_by_md5(shared_data):
    for role, spec in SPECS["fashion_mnist"].files.items():
        v = verify_file(str(shared_data / "fashion-mnist" / spec.filename), spec)
        assert v.status == "md5", (role, v.detail)


def test_mnist_test_files_match_published_checksums(shared_data):
    specs = SPECS["mnist"].files
    for role in ("test_images", "test_labels", "train_labels"):
        path = str(shared_data / "mnist" / specs[role].filename)
        assert verify_file(path, specs[role]).status == "md5"
    images = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz").shape == (60000,)


def test_mnist_download_path_verifies_what_exists(shared_data, tmp_path, online):
    """MNIST through the download path: three real files verify; the missing training images
    (not available offline) fail on every mirror with a message naming each."""
    files = {p.name: p.read_bytes() for p in (shared_data / "mnist").glob("*.gz")}
    server = FileServer(files)
    server.mirrors.update({"m1": "ok", "m2": "500"})
    try:
        with pytest.raises(MirrorError) as err:
            mnist_hf.load("mnist", cache_dir=str(tmp_path / "c"), system_dirs=(),
                          mirrors=[server.url("m1"), server.url("m2")], image_format="array")
    finally:
        server.close()
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "HTTP 404" in msg and "HTTP 500" in msg


def test_streamed_validation_split_matches_idx(shared_data, tmp_path):
    """Verified archives are streamed while writing; a random stratified validation split must
    still hold exactly the right rows."""
    ds = mnist_hf.load("fashion_mnist", data_dir=str(shared_data / "fashion-mnist"), cache_dir=str(tmp_path),
                       system_dirs=(), image_format="array", validation_size=5000, validation_strategy="random",
                       stratify=True, validation_seed=3)
    images = read_idx(shared_data / "fashion-mnist" / "train-images-idx3-ubyte.gz")
    labels = read_idx(shared_data / "fashion-mnist" / "train-labels-idx1-ubyte.gz")
    # The documented rule (sklearn's stratified train_test_split with the seed), not split_indices itself.
    train_idx, val_idx = (np.sort(a) for a in train_test_split(np.arange(60000), test_size=5000, random_state=3,
                                                               stratify=labels))
    for split, idx in (("train", train_idx), ("validation", val_idx)):
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        np.testing.assert_array_equal(x, images[idx])
        np.testing.assert_array_equal(y, labels[idx])
    assert np.bincount(label_array(ds["validation"])).tolist() == [500] * 10


def test_verified_system_copy_is_used_without_downloading(shared_data, tmp_path, capsys):
    """The Debian-style system copy comes before the mirrors (none given here: no network needed)."""
    b = mnist_hf.builder("fashion_mnist", cache_dir=str(tmp_path), system_dirs=[str(shared_data / "fashion-mnist")],
                             mirrors=[], image_format="array")
    b.download_and_prepare()
    assert b.as_dataset()["test"].num_rows == 10000
    record = mnist_hf.read_provenance(b.cache_dir)
    assert {r["origin"] for r in record.values()} == {f"system copy {shared_data / 'fashion-mnist'}"}
    assert {r["verification"] for r in record.values()} == {"md5"}
