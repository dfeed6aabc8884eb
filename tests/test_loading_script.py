"""mnist_hf as a local loading script, the datasets 3.x way (run by `make test-ds3`)."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
from helpers import REPO, cache_is_clean
from packaging.version import Version

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
    assert np.bincount(ds["test"]["label"]).tolist() == [1000] * 10
