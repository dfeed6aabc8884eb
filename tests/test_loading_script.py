"""mnist_hf as a local loading script, the datasets 3.x way (run by `make test-ds3`)."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from helpers import REPO, cache_is_clean, make_emnist_zip, make_qmnist_dir
from packaging.version import Version

import splitters
from mnist_hf.arrays import label_array
from mnist_hf.idx import write_idx

pytestmark = pytest.mark.loading_script

if Version(datasets.__version__) >= Version("4"):
    pytest.skip(
        f"datasets {datasets.__version__} has no loading scripts; `make test-ds3` runs these on 3.6",
        allow_module_level=True,
    )

SCRIPT = str(REPO / "mnist_hf")


def _images(split):
    return np.stack([np.asarray(im) for im in split["image"]])


def test_load_dataset_with_script(synthetic_dir, tmp_path):
    data_dir, arrays = synthetic_dir
    ds = datasets.load_dataset(SCRIPT, "mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                               trust_remote_code=True, system_dirs=())
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 300, "test": 60}
    np.testing.assert_array_equal(_images(ds["test"]), arrays["t10k-images-idx3-ubyte"])
    assert ds["test"]["label"] == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert isinstance(ds["train"].features["image"], datasets.Image)


def test_script_options_validation_and_array(synthetic_dir, tmp_path):
    data_dir, arrays = synthetic_dir
    ds = datasets.load_dataset(SCRIPT, "kmnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                               trust_remote_code=True, system_dirs=(), validation_size=40,
                               validation_strategy="head", image_format="array")
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 260, "validation": 40, "test": 60}
    np.testing.assert_array_equal(np.asarray(ds["validation"].with_format("numpy")["image"]),
                                  arrays["train-images-idx3-ubyte"][:40])


def test_script_imports_the_shared_split_rule(tmp_path):
    """The script imports splitters.rules (an installed package, as a loading script may): its
    stratified random split is the splitter's."""
    rng = np.random.default_rng(5)
    labels = rng.choice(10, size=200, p=np.linspace(1, 4, 10) / np.linspace(1, 4, 10).sum()).astype(np.uint8)
    labels[:20] = np.arange(20) % 10
    images = np.zeros((200, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(200)
    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    for prefix, n in (("train", 200), ("t10k", 30)):
        write_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz", images[:n])
        write_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz", labels[:n])
    ds = datasets.load_dataset(SCRIPT, "mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                               trust_remote_code=True, system_dirs=(), validation_size=37, validation_strategy="random",
                               stratify=True, validation_seed=11, image_format="array")
    _, val = next(splitters.RandomSplit(val_size=37, stratify=True, random_state=11).split(np.zeros((200, 1)), labels))
    got = np.asarray(ds["validation"].with_format("numpy")["image"])[:, 0, 0]
    np.testing.assert_array_equal(got, val)


def test_script_rejects_bad_options_with_a_clear_error(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    for options, message in (({"timeout": "5"}, "timeout must be a positive number"),
                             ({"validation_size": True}, "validation_size must be a non-negative integer"),
                             ({"validation_size": 5, "stratify": True}, "stratify=True needs")):
        with pytest.raises(ValueError, match=message):
            datasets.load_dataset(SCRIPT, "mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                                  trust_remote_code=True, system_dirs=(), **options)


def test_script_bad_file_gives_clear_error(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    (data_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"<html>captive portal</html>")
    with pytest.raises(ValueError, match="HTML page") as err:
        datasets.load_dataset(SCRIPT, "mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                              trust_remote_code=True, system_dirs=())
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)
    assert cache_is_clean(tmp_path / "c")


@pytest.mark.real_data
def test_script_on_real_fashion_mnist(shared_data, tmp_path):
    ds = datasets.load_dataset(SCRIPT, "fashion_mnist", data_dir=str(shared_data / "fashion-mnist"),
                               cache_dir=str(tmp_path / "c"), trust_remote_code=True, system_dirs=(),
                               image_format="array")
    assert ds["train"].num_rows == 60000 and ds["test"].num_rows == 10000
    assert np.bincount(label_array(ds["test"])).tolist() == [1000] * 10


def test_script_loads_qmnist_with_metadata_and_test_views(tmp_path):
    arrays = make_qmnist_dir(tmp_path / "q", n_train=100)
    ds = datasets.load_dataset(SCRIPT, "qmnist", data_dir=str(tmp_path / "q"), cache_dir=str(tmp_path / "c"),
                               trust_remote_code=True, system_dirs=(), image_format="array")
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 100, "test": 60000, "test10k": 10000, "test50k": 50000}
    assert ds["train"].column_names == ["image", "label", "hsf_series", "writer_id", "writer_digit_index",
                                        "nist_class_code", "nist_index", "duplicate"]
    np.testing.assert_array_equal(label_array(ds["test50k"], "writer_id"), arrays["test"][1][10000:, 2])
    np.testing.assert_array_equal(np.asarray(ds["test10k"].with_format("numpy")["image"]), arrays["test"][0][:10000])
    compat = datasets.load_dataset(SCRIPT, "qmnist", data_dir=str(tmp_path / "q"), cache_dir=str(tmp_path / "c"),
                                   trust_remote_code=True, system_dirs=(), image_format="array", compat=True)
    assert compat["train"].column_names == ["image", "label"]


def test_script_loads_emnist_from_the_zip_upright(tmp_path):
    arrays = make_emnist_zip(tmp_path / "e" / "gzip.zip", rows={"letters": (52, 26), "balanced": (47, 10)})
    ds = datasets.load_dataset(SCRIPT, "emnist_letters", data_dir=str(tmp_path / "e"), cache_dir=str(tmp_path / "c"),
                               trust_remote_code=True, system_dirs=(), image_format="array")
    upright, stored = arrays["letters"]["test"]
    np.testing.assert_array_equal(np.asarray(ds["test"].with_format("numpy")["image"]), upright)
    assert ds["test"]["label"] == (stored.astype(int) - 1).tolist()
    assert ds["test"].features["label"].names == list("abcdefghijklmnopqrstuvwxyz")
