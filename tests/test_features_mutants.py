"""splitters/features.py and splitters/datasets_io.py, pinned by mutation testing (docs/mutation).

split_dataset is checked through what the splitter receives (X, y, groups) and what comes back;
image_features through its parameters (get_params) and outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import splitters
from splitters import Flatten, TailSplit, image_features, split_dataset

datasets = pytest.importorskip("datasets")


class Recording:
    """A splitter that remembers what it was given; the last row is validation."""

    def __init__(self):
        self.calls = []

    def split(self, X, y=None, groups=None):
        self.calls.append((X, y, groups))
        n = len(X)
        yield np.arange(n - 1), np.array([n - 1])

    @property
    def X(self):
        return self.calls[-1][0]

    @property
    def y(self):
        return self.calls[-1][1]

    @property
    def groups(self):
        return self.calls[-1][2]


def _ds(n=4, **columns):
    return datasets.Dataset.from_dict(columns or {"x": np.arange(2.0 * n).reshape(n, 2).tolist()})


# --- split_dataset: label -----------------------------------------------------------------------

def test_missing_label_column_is_skipped_not_an_error():
    rec = Recording()
    parts = split_dataset(_ds(4), rec, "x")  # label="label" by default, but there is no such column
    assert rec.y is None
    assert parts["train"].num_rows == 3 and parts["validation"].num_rows == 1


def test_label_none_passes_no_y_even_when_a_label_column_exists():
    rec = Recording()
    split_dataset(_ds(x=[[0.0], [1.0], [2.0]], label=[5, 6, 7]), rec, "x", label=None)
    assert rec.y is None


def test_label_column_is_passed_as_y():
    rec = Recording()
    split_dataset(_ds(x=[[0.0], [1.0], [2.0]], target=[5, 6, 7]), rec, "x", label="target")
    np.testing.assert_array_equal(rec.y, [5, 6, 7])


def test_groups_column_is_passed_as_groups():
    rec = Recording()
    split_dataset(_ds(x=[[0.0], [1.0], [2.0]], writer=[4, 4, 9]), rec, "x", groups="writer")
    np.testing.assert_array_equal(rec.groups, [4, 4, 9])
    assert rec.y is None


def test_missing_groups_column_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"no column 'writer'; its columns are \['x'\]"):
        split_dataset(_ds(3), Recording(), "x", groups="writer")


# --- split_dataset: reading a column ------------------------------------------------------------

def test_column_keeps_its_arrow_dtype():
    ds = datasets.Dataset.from_dict({"x": np.arange(6, dtype=np.float32).reshape(3, 2)})
    rec = Recording()
    split_dataset(ds, rec, "x")
    assert rec.X.dtype == np.float32 and rec.X.shape == (3, 2)
    np.testing.assert_array_equal(rec.X, np.arange(6).reshape(3, 2))


def test_label_column_keeps_its_arrow_dtype():
    features = datasets.Features({"x": datasets.Value("float32"), "label": datasets.Value("float32")})
    ds = datasets.Dataset.from_dict({"x": [0.0, 1.0, 2.0], "label": [0.5, 1.5, 2.5]}, features=features)
    rec = Recording()
    split_dataset(ds, rec, "x")
    assert rec.y.dtype == np.float32
    np.testing.assert_array_equal(rec.y, [0.5, 1.5, 2.5])


def test_only_the_named_columns_are_decoded():
    # a broken image in a column nobody asked for does not stop the split
    features = datasets.Features({"img": datasets.Image(), "x": datasets.Value("float32"),
                                  "label": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"img": [{"bytes": b"not an image", "path": None}] * 3,
                                     "x": [0.0, 1.0, 2.0], "label": [0, 1, 0]}, features=features)
    rec = Recording()
    parts = split_dataset(ds, rec, "x")
    np.testing.assert_array_equal(rec.X, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(rec.y, [0, 1, 0])
    assert parts["validation"].num_rows == 1


# --- split_dataset: where X comes from ----------------------------------------------------------

def test_features_none_gives_an_index_column():
    rec = Recording()
    parts = split_dataset(_ds(5), rec)
    assert rec.X.shape == (5, 1)
    np.testing.assert_array_equal(rec.X[:, 0], np.arange(5))
    assert parts["validation"][:]["x"] == [[8.0, 9.0]]


def test_image_column_is_flattened_to_one_row_per_example():
    images = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    rec = Recording()
    split_dataset(datasets.Dataset.from_dict({"image": images}), rec, "image")
    assert rec.X.shape == (4, 6)
    np.testing.assert_array_equal(rec.X, images.reshape(4, 6))
    parts = split_dataset(datasets.Dataset.from_dict({"image": images}), TailSplit(val_size=1), "image")
    np.testing.assert_array_equal(parts["validation"].with_format("numpy")[:]["image"], images[3:])


def test_four_dimensional_column_is_flattened_too():
    images = np.arange(48, dtype=np.float32).reshape(3, 2, 4, 2)
    rec = Recording()
    split_dataset(datasets.Dataset.from_dict({"image": images}), rec, "image")
    np.testing.assert_array_equal(rec.X, images.reshape(3, 16))


def test_scalar_column_is_passed_as_is():
    rec = Recording()
    split_dataset(_ds(x=[3.0, 1.0, 2.0]), rec, "x")
    assert rec.X.shape == (3,)
    np.testing.assert_array_equal(rec.X, [3.0, 1.0, 2.0])


def test_callable_features_get_the_dataset():
    ds = _ds(4)
    seen = []

    def feats(d):
        seen.append(d)
        return [[10.0 * i] for i in range(d.num_rows)]

    rec = Recording()
    split_dataset(ds, rec, feats)
    assert seen == [ds]
    assert isinstance(rec.X, np.ndarray)
    np.testing.assert_array_equal(rec.X, [[0.0], [10.0], [20.0], [30.0]])


def test_array_features_are_used_as_given():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rec = Recording()
    parts = split_dataset(_ds(3), rec, X.tolist())
    assert isinstance(rec.X, np.ndarray)
    np.testing.assert_array_equal(rec.X, X)
    assert parts["validation"][:]["x"] == [[4.0, 5.0]]


def test_array_features_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="features has 2 rows but the dataset has 3"):
        split_dataset(_ds(3), Recording(), np.zeros((2, 2)))


# --- Flatten ------------------------------------------------------------------------------------

def test_flatten_scales_8_bit_images_to_unit_range_as_float32():
    images = np.array([[[0, 51], [102, 255]], [[255, 255], [0, 0]]], dtype=np.uint8)
    out = Flatten().fit_transform(images)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_allclose(out, [[0.0, 0.2, 0.4, 1.0], [1.0, 1.0, 0.0, 0.0]], rtol=1e-6)


def test_flatten_multiplies_by_a_custom_scale():
    out = Flatten(scale=0.5).transform(np.arange(12, dtype=np.int64).reshape(2, 3, 2))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.arange(12).reshape(2, 6) * 0.5)


# --- image_features -----------------------------------------------------------------------------

def test_image_features_defaults():
    params = image_features().get_params()
    assert params["pca__n_components"] == 50
    assert params["pca__svd_solver"] == "randomized"
    assert params["pca__random_state"] == 0
    assert params["flatten__scale"] == pytest.approx(1 / 255)
    assert [name for name, _ in image_features().steps] == ["flatten", "pca"]


def test_image_features_cosine_adds_a_normalize_step():
    pipe = image_features(3, metric="cosine", random_state=7)
    assert [name for name, _ in pipe.steps] == ["flatten", "pca", "normalize"]
    params = pipe.get_params()
    assert params["normalize__norm"] == "l2"
    assert params["pca__random_state"] == 7 and params["pca__n_components"] == 3


def test_image_features_passes_random_state_to_pca():
    assert image_features(4, random_state=123).get_params()["pca__random_state"] == 123
    assert image_features(4, random_state=None).get_params()["pca__random_state"] is None


def test_image_features_accepts_numpy_integers():
    pipe = image_features(np.int64(2))
    assert pipe.get_params()["pca__n_components"] == 2
    assert type(pipe.get_params()["pca__n_components"]) is int


@pytest.mark.parametrize("bad", [0, 2.0, True, "3"])
def test_image_features_refuses_a_bad_n_components_by_name(bad):
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        image_features(bad)


def test_image_features_refuses_an_unknown_metric_by_name():
    with pytest.raises(ValueError, match=r"metric must be 'euclidean' or 'cosine', got 'manhattan'"):
        image_features(2, metric="manhattan")


def test_image_features_is_reproducible_for_a_seed():
    images = np.random.default_rng(1).integers(0, 256, (30, 5, 5), dtype=np.uint8)
    a = image_features(3, random_state=4).fit_transform(images)
    b = image_features(3, random_state=4).fit_transform(images)
    assert a.shape == (30, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_public_names():
    assert splitters.Flatten is Flatten and splitters.image_features is image_features
