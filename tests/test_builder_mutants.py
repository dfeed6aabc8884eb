"""The builder's details, pinned down on tiny inputs: option checks and their messages, header
and label checks, how rows are split, streamed, batched and stored, provenance, QMNIST's
metadata and test views, EMNIST's archive and transposed images (tests/test_mnist_hf.py covers
the main paths; these catch what it lets through)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest
from helpers import FileServer, gz_files, make_emnist_zip, make_idx_dir, make_qmnist_dir, verified_spec
from PIL import Image

import mnist_hf
from mnist_hf import DataValidationError, MnistConfig, MnistFamily, split_indices
from mnist_hf import mnist_hf as mh
from mnist_hf.idx import write_idx
from mnist_hf.sources import SPECS

U8 = np.dtype(np.uint8)
I32 = np.dtype(np.int32)
QMNIST_METADATA = ["hsf_series", "writer_id", "writer_digit_index", "nist_class_code", "nist_index", "duplicate"]


def _raises(error, message, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` raises ``error`` whose text is exactly ``message``."""
    with pytest.raises(error) as err:
        fn(*args, **kwargs)
    assert str(err.value) == message
    return err.value


def _builder(tmp_path, name="mnist", **kw):
    return MnistFamily(config_name=name, cache_dir=str(tmp_path / "cache"), **kw)


# --- options ---------------------------------------------------------------------------------


def test_option_helper_keeps_the_default_and_the_help_text():
    f = mh._option(5, "five rows")
    assert f.default == 5
    assert dict(f.metadata) == {"help": "five rows"}


CONFIG_MESSAGES = {
    "blank data_dir": ({"data_dir": "  "}, "data_dir is an empty string: give the folder that holds the files, or "
                       "leave data_dir out to use a system copy or the mirrors"),
    "negative size": ({"validation_size": -1},
                      "validation_size must be a non-negative integer (a count of rows), got -1"),
    "negative seed": ({"validation_seed": -3}, "validation_seed must be a non-negative integer (a seed), got -3"),
    "stratify by position": ({"validation_size": 5, "validation_strategy": "head", "stratify": True},
                             "stratify=True needs validation_strategy='random' (got 'head', which takes rows by "
                             "position)"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_MESSAGES))
def test_config_validation_messages_name_the_option_and_what_it_takes(case):
    options, message = CONFIG_MESSAGES[case]
    _raises(ValueError, message, MnistConfig(name="mnist", **options).validate)


@pytest.mark.parametrize("timeout", [0.25, 1, 1.5])
def test_any_positive_timeout_is_accepted_even_below_a_second(timeout):
    cfg = MnistConfig(name="mnist", timeout=timeout)
    cfg.validate()
    assert cfg.timeout == float(timeout) and type(cfg.timeout) is float


BAD_TEXT = "/data/caf\udce9"  # a folder name whose byte 0xE9 the file system could not decode


def _utf8_message(name, text):
    return (f"{name} {text!r} is not valid UTF-8 (the name holds bytes the file system could not decode): "
            "rename it or give another path")


@pytest.mark.parametrize(("name", "shape"), [("data_dir", "str"), ("data_dir", "path")] + [
    (name, shape) for name in ("mirrors", "system_dirs") for shape in ("str", "path", "list", "tuple")])
def test_paths_that_are_not_utf8_are_refused_naming_the_option(tmp_path, name, shape):
    value = {"str": BAD_TEXT, "path": Path(BAD_TEXT), "list": ["/data/fine", BAD_TEXT],
             "tuple": ("/data/fine", Path(BAD_TEXT))}[shape]
    _raises(ValueError, _utf8_message(name, BAD_TEXT), _builder, tmp_path, **{name: value})


def test_a_mirror_that_is_no_string_is_an_option_error_not_a_type_error(tmp_path):
    _raises(ValueError, "mirrors must be a string or a sequence of strings, got [5]", _builder, tmp_path, mirrors=[5])


def test_valid_utf8_paths_pass(tmp_path):
    b = _builder(tmp_path, data_dir=str(tmp_path / "café"), mirrors=["http://host/é/"], system_dirs=(Path("/ü"),))
    assert b.config.mirrors == ("http://host/é/",) and b.config.system_dirs == ("/ü",)


# --- split_indices ---------------------------------------------------------------------------


def test_split_sizes_one_and_all_but_one_are_allowed():
    train, val = split_indices(5, 1, "tail")
    assert (train.tolist(), val.tolist()) == ([0, 1, 2, 3], [4])
    train, val = split_indices(5, 4, "head")
    assert (train.tolist(), val.tolist()) == ([4], [0, 1, 2, 3])
    assert train.dtype.kind == "i"


@pytest.mark.parametrize("size", [0, 5, -1])
def test_split_size_outside_the_pool_is_refused_before_any_rule(size):
    _raises(ValueError, f"validation_size must be between 1 and 4 (the train split has 5 rows), got {size}",
            split_indices, 5, size, "tail")


def test_stratified_split_bounds_are_inclusive():
    labels = np.repeat(np.arange(3), 4)  # 12 rows, 3 classes: validation_size 3..9
    for size in (3, 9):
        train, val = split_indices(12, size, "random", seed=0, labels=labels)
        assert len(val) == size and len(train) == 12 - size
        assert set(labels[val]) == set(labels[train]) == {0, 1, 2}
        assert sorted(train.tolist() + val.tolist()) == list(range(12))


@pytest.mark.parametrize(("size", "left"), [(2, 2), (10, 2), (1, 1), (11, 1)])
def test_stratified_split_too_small_a_side_says_how_many_rows_are_left(size, left):
    labels = np.repeat(np.arange(3), 4)
    message = (f"validation_size={size} with stratify=True leaves {left} row(s) on one side for 3 classes: a "
               "stratified split needs a row of each class on both sides (validation_size between 3 and 9)")
    _raises(ValueError, message, split_indices, 12, size, "random", seed=0, labels=labels)


def test_the_rules_own_errors_are_prefixed_with_the_options():
    labels = np.array([0] * 10 + [1])  # class 1 has one row: scikit-learn refuses to stratify
    with pytest.raises(ValueError) as err:
        split_indices(11, 3, "random", seed=0, labels=labels)
    assert str(err.value).startswith("validation_size=3, stratify=True: The least populated class")
    with pytest.raises(ValueError) as err:
        split_indices(10, 2, "middle")
    assert str(err.value).startswith("validation_size=2, stratify=False: unknown strategy")


# --- headers ---------------------------------------------------------------------------------


def _meta(n_train=300, n_test=60, labels=((U8, None), (U8, None)), images=U8, shape=(28, 28)):
    out = {}
    for part, n, (ldtype, lshape) in (("train", n_train, labels[0]), ("test", n_test, labels[1])):
        out[f"{part}_images"] = (images, (n, *shape))
        out[f"{part}_labels"] = (ldtype, lshape or (n,))
    return out


SOURCES = {role: (f"/d/{role}.gz", True) for role in ("train_images", "train_labels", "test_images", "test_labels")}


def test_headers_at_exactly_the_published_counts_pass():
    mh._check_headers(_meta(60000, 10000), SOURCES, SPECS["mnist"])


@pytest.mark.parametrize("what", ["images", "labels"])
def test_headers_declaring_more_rows_than_published_name_the_file_and_the_counts(what):
    meta = _meta(300, 60)
    dtype, shape = meta[f"train_{what}"]
    meta[f"train_{what}"] = (dtype, (60001, *shape[1:]))
    message = (f"/d/train_{what}.gz: the header declares 60,001 {what}, more than the 60,000 mnist publishes for "
               "its train split; nothing more was read")
    _raises(DataValidationError, message, mh._check_headers, meta, SOURCES, SPECS["mnist"])


def test_image_shape_message_gives_height_then_width():
    spec = dataclasses.replace(SPECS["mnist"], image_shape=(28, 32))
    message = "/d/train_images.gz: expected images of shape (N, 28, 32), got (300, 28, 28)"
    _raises(DataValidationError, message, mh._check_headers, _meta(), SOURCES, spec)


def test_images_must_be_unsigned_bytes():
    message = "/d/train_images.gz: expected unsigned bytes (type 0x08), got int32"
    _raises(DataValidationError, message, mh._check_headers, _meta(images=I32), SOURCES, SPECS["mnist"])


@pytest.mark.parametrize(("dtype", "shape"), [(U8, (300, 1)), (np.dtype(np.float32), (300,)), (I32, (300, 8))])
def test_single_column_labels_must_be_1d_integers(dtype, shape):
    message = f"/d/train_labels.gz: expected a 1-D array of integer labels, got {dtype} of shape {shape}"
    _raises(DataValidationError, message, mh._check_headers, _meta(labels=((dtype, shape), (U8, None))), SOURCES,
            SPECS["mnist"])


def test_qmnist_labels_of_eight_integer_columns_pass():
    for dtype in (I32, U8, np.dtype(np.int64)):
        meta = _meta(600, 60000, labels=((dtype, (600, 8)), (dtype, (60000, 8))))
        mh._check_headers(meta, SOURCES, SPECS["qmnist"])


@pytest.mark.parametrize(("dtype", "shape"), [(I32, (600, 4)), (I32, (600,)), (np.dtype(np.float64), (600, 8))])
def test_qmnist_labels_of_another_width_or_type_are_refused(dtype, shape):
    meta = _meta(600, 60000, labels=((dtype, shape), (I32, (60000, 8))))
    message = (f"/d/train_labels.gz: expected integer labels of shape (N, 8) (class and metadata columns), got "
               f"{dtype} of shape {shape}")
    _raises(DataValidationError, message, mh._check_headers, meta, SOURCES, SPECS["qmnist"])


def test_a_two_column_label_spec_checks_its_width():
    spec = dataclasses.replace(SPECS["qmnist"], label_width=2)
    meta = _meta(600, 60000, labels=((I32, (600, 8)), (I32, (60000, 2))))
    message = ("/d/train_labels.gz: expected integer labels of shape (N, 2) (class and metadata columns), got "
               "int32 of shape (600, 8)")
    _raises(DataValidationError, message, mh._check_headers, meta, SOURCES, spec)


def test_count_mismatch_names_both_files():
    meta = _meta()
    meta["test_labels"] = (U8, (59,))
    message = "test split: /d/test_images.gz holds 60 images but /d/test_labels.gz holds 59 labels"
    _raises(DataValidationError, message, mh._check_headers, meta, SOURCES, SPECS["mnist"])


# --- labels ----------------------------------------------------------------------------------


def test_class_labels_keep_every_column_as_int64():
    stored = np.arange(40, dtype=np.int32).reshape(5, 8) % 10
    out = mh._class_labels(stored, "/q", SPECS["qmnist"])
    assert out.dtype == np.int64 and out.shape == (5, 8)
    np.testing.assert_array_equal(out, stored)
    one = mh._class_labels(np.array([3, 0, 9], np.uint8), "/m", SPECS["mnist"])
    assert one.dtype == np.int64 and one.tolist() == [[3], [0], [9]]


def test_labels_out_of_range_count_only_the_bad_ones():
    message = "/m: 1 label(s) outside 0..9 for mnist (first bad value: 10)"
    _raises(DataValidationError, message, mh._class_labels, np.array([0, 9, 10, 5]), "/m", SPECS["mnist"])


def test_offset_labels_are_shifted_down_to_class_indices():
    out = mh._class_labels(np.array([1, 26, 13], np.uint8), "/e", SPECS["emnist_letters"])
    assert out[:, 0].tolist() == [0, 25, 12]


# --- reading the parts -----------------------------------------------------------------------


def _mnist_sources(directory, verified):
    spec = SPECS["mnist"]
    return {role: (str(directory / f.filename), verified) for role, f in spec.files.items()}


def test_unverified_train_images_are_read_and_checked_test_images_streamed(tmp_path):
    arrays = make_idx_dir(tmp_path / "idx", n_train=30, n_test=10)
    sources = _mnist_sources(tmp_path / "idx", False)
    images, labels = mh._read_parts(sources, SPECS["mnist"])
    assert isinstance(images["train"], np.ndarray)
    np.testing.assert_array_equal(images["train"], arrays["train-images-idx3-ubyte"])
    assert images["test"] == sources["test_images"][0]
    assert labels["train"][:, 0].tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert labels["test"].shape == (10, 1)


def test_verified_images_are_streamed_not_read(tmp_path):
    make_idx_dir(tmp_path / "idx", n_train=30, n_test=10)
    sources = _mnist_sources(tmp_path / "idx", True)
    images, _ = mh._read_parts(sources, SPECS["mnist"])
    assert images == {"train": sources["train_images"][0], "test": sources["test_images"][0]}


QMNIST_FILES = {"train_images": "qmnist-train-images-idx3-ubyte.gz", "train_labels": "qmnist-train-labels-idx2-int.gz",
                "test_images": "qmnist-test-images-idx3-ubyte.gz", "test_labels": "qmnist-test-labels-idx2-int.gz"}


def _small_qmnist():
    """QMNIST with a 60-row test part: test10k its rows 0..9, test50k its rows 10..59."""
    return dataclasses.replace(SPECS["qmnist"], split_sizes={"train": 600, "test": 60, "test10k": 10, "test50k": 50},
                               views={"test10k": ("test", 0, 10), "test50k": ("test", 10, 60)})


def test_views_ending_at_the_last_row_pass_and_a_short_part_is_named(tmp_path):
    make_qmnist_dir(tmp_path / "q", n_train=20, n_test=60)
    sources = {role: (str(tmp_path / "q" / name), False) for role, name in QMNIST_FILES.items()}
    _, labels = mh._read_parts(sources, _small_qmnist())
    assert labels["test"].shape == (60, 8)
    write_idx(tmp_path / "q" / QMNIST_FILES["test_images"], np.zeros((50, 28, 28), np.uint8))
    write_idx(tmp_path / "q" / QMNIST_FILES["test_labels"], np.zeros((50, 8), np.int32))
    message = (f"{sources['test_labels'][0]}: the test part has 50 rows, but the test50k split is its rows 10..59: "
               "not the published file")
    _raises(DataValidationError, message, mh._read_parts, sources, _small_qmnist())


# --- QMNIST end to end: metadata columns, compat, test views --------------------------------


@pytest.fixture
def small_qmnist(tmp_path, monkeypatch):
    arrays = make_qmnist_dir(tmp_path / "q", n_train=20, n_test=60)
    monkeypatch.setitem(SPECS, "qmnist", _small_qmnist())
    return tmp_path / "q", arrays


def _prepare(name, tmp_path, cache, **kw):
    b = mnist_hf.builder(name, cache_dir=str(tmp_path / cache), system_dirs=(), **kw)
    b.download_and_prepare()
    return b, b.as_dataset()


@pytest.mark.parametrize("image_format", ["array", "png"])
def test_qmnist_metadata_columns_and_test_views(small_qmnist, tmp_path, image_format):
    directory, arrays = small_qmnist
    _, ds = _prepare("qmnist", tmp_path, "c", data_dir=str(directory), image_format=image_format)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 20, "test": 60, "test10k": 10, "test50k": 50}
    features = ds["train"].features
    assert list(features) == ["image", "label", *QMNIST_METADATA]
    assert all(features[c] == datasets.Value("int32") for c in QMNIST_METADATA)
    test_images, test_labels = arrays["test"]
    for split, rows in (("test", slice(0, 60)), ("test10k", slice(0, 10)), ("test50k", slice(10, 60))):
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        np.testing.assert_array_equal(x, test_images[rows])
        np.testing.assert_array_equal(y, test_labels[rows, 0])
        table = ds[split].data.table
        for i, name in enumerate(QMNIST_METADATA, start=1):
            assert table.column(name).type == pa.int32()
            assert table.column(name).to_pylist() == test_labels[rows, i].tolist(), (split, name)


def test_qmnist_compat_has_image_and_label_only(small_qmnist, tmp_path):
    directory, arrays = small_qmnist
    b, ds = _prepare("qmnist", tmp_path, "c", data_dir=str(directory), image_format="array", compat=True)
    assert list(b.info.features) == ["image", "label"]
    assert ds["train"].column_names == ["image", "label"]
    assert ds["train"]["label"] == arrays["train"][1][:, 0].tolist()


def test_info_carries_the_spec_texts(tmp_path):
    spec = SPECS["qmnist"]
    info = _builder(tmp_path, "qmnist").info
    assert (info.description, info.homepage, info.license, info.citation) == (
        spec.description, spec.homepage, spec.license, spec.citation)
    assert isinstance(info.features["image"], datasets.Image)
    assert isinstance(_builder(tmp_path, "qmnist", image_format="array").info.features["image"], datasets.Array2D)


# --- EMNIST end to end: one archive, transposed images, offset labels ------------------------


@pytest.mark.parametrize("verified", [False, True])
def test_emnist_members_of_the_archive_come_out_upright(tmp_path, monkeypatch, verified):
    directory = tmp_path / "e"
    made = make_emnist_zip(directory / "gzip.zip", rows={"letters": (30, 12)})["letters"]
    if verified:
        monkeypatch.setitem(SPECS, "emnist_letters", verified_spec(SPECS["emnist_letters"], directory))
    b, ds = _prepare("emnist_letters", tmp_path, "c", data_dir=str(directory), image_format="array",
                     validation_size=5)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 25, "validation": 5, "test": 12}
    for split, (part, rows) in {"train": ("train", slice(0, 25)), "validation": ("train", slice(25, 30)),
                                "test": ("test", slice(0, 12))}.items():
        images, stored = made[part]
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        np.testing.assert_array_equal(x, images[rows])
        np.testing.assert_array_equal(y, stored[rows].astype(np.int64) - 1)
    record = mnist_hf.read_provenance(b.cache_dir)
    assert list(record) == ["archive"] and record["archive"]["file"] == "gzip.zip"
    assert record["archive"]["verification"] == ("md5" if verified else "unverified")


# --- provenance ------------------------------------------------------------------------------


def test_provenance_records_every_file_in_an_indented_json(tmp_path):
    make_idx_dir(tmp_path / "idx", n_train=30, n_test=10)
    b, _ = _prepare("mnist", tmp_path, "c", data_dir=str(tmp_path / "idx"), image_format="array")
    record = mnist_hf.read_provenance(b.cache_dir)
    spec = SPECS["mnist"]
    assert list(record) == list(spec.files)
    for role, entry in record.items():
        name = spec.files[role].filename
        assert list(entry) == ["file", "path", "origin", "verification", "detail"]
        assert entry["file"] == name and entry["path"] == str(tmp_path / "idx" / name)
        assert entry["origin"] == f"data_dir {tmp_path / 'idx'}" and entry["verification"] == "unverified"
        assert entry["detail"].startswith("md5 ") and spec.files[role].md5 in entry["detail"]
    text = (Path(b.cache_dir) / mh.PROVENANCE_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(record, indent=2)


def test_reading_provenance_where_there_is_none_names_the_folder(tmp_path):
    message = f"{tmp_path} holds no mnist_hf_provenance.json: not a dataset prepared by mnist_hf"
    _raises(FileNotFoundError, message, mnist_hf.read_provenance, tmp_path)


# --- where files come from -------------------------------------------------------------------


class SpyPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that remembers the size asked for and counts submitted tasks."""

    made: list[SpyPool] = []

    def __init__(self, max_workers=None, *args, **kwargs):
        super().__init__(max_workers, *args, **kwargs)
        self.requested = max_workers
        self.submitted = 0
        SpyPool.made.append(self)

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def spy_pool(monkeypatch):
    SpyPool.made = []
    monkeypatch.setattr(mh, "ThreadPoolExecutor", SpyPool)
    return SpyPool


def test_options_reach_the_file_resolver(tmp_path, monkeypatch, spy_pool):
    make_idx_dir(tmp_path / "idx", n_train=30, n_test=10)
    seen = {}
    real = mh.resolve_files

    def spy(spec, **kwargs):
        seen.update(kwargs, pool=kwargs["map_fn"].__self__)
        return real(spec, **kwargs)

    monkeypatch.setattr(mh, "resolve_files", spy)
    _prepare("mnist", tmp_path, "c", data_dir=str(tmp_path / "idx"), image_format="array", timeout=2.5,
             mirrors=["http://host/m/"])
    assert seen["timeout"] == 2.5 and seen["mirrors"] == ("http://host/m/",) and seen["system_dirs"] == ()
    assert seen["data_dir"] == str(tmp_path / "idx")
    assert isinstance(seen["pool"], SpyPool) and seen["pool"].requested == 4  # checksums on 4 threads


def test_the_specs_system_folders_are_searched_when_none_are_given(tmp_path, monkeypatch):
    make_idx_dir(tmp_path / "sys", n_train=30, n_test=10)
    spec = verified_spec(SPECS["mnist"], tmp_path / "sys")
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(spec, system_dirs=(str(tmp_path / "none"),
                                                                               str(tmp_path / "sys"))))
    b = mnist_hf.builder("mnist", cache_dir=str(tmp_path / "c"), mirrors=["http://127.0.0.1:9/"], image_format="array")
    b.download_and_prepare()
    assert {r["origin"] for r in mnist_hf.read_provenance(b.cache_dir).values()} == {f"system copy {tmp_path / 'sys'}"}


def test_the_specs_mirrors_are_used_when_none_are_given(tmp_path, monkeypatch, online):
    make_idx_dir(tmp_path / "idx", n_train=30, n_test=10)
    server = FileServer(gz_files(tmp_path / "idx"))
    server.mirrors["m"] = "ok"
    try:
        spec = verified_spec(SPECS["mnist"], tmp_path / "idx")
        monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(spec, mirrors=(server.url("m"),), system_dirs=()))
        b = mnist_hf.builder("mnist", cache_dir=str(tmp_path / "c"), image_format="array")
        b.download_and_prepare()
        origins = {r["origin"] for r in mnist_hf.read_provenance(b.cache_dir).values()}
        assert origins == {server.url("m") + name for name in gz_files(tmp_path / "idx")}
    finally:
        server.close()


# --- row blocks ------------------------------------------------------------------------------


def _blocks(b, images, labels, indices):
    with ThreadPoolExecutor(2) as pool:
        return [(x.copy(), y.copy()) for x, y in b._row_blocks(images, labels, indices, pool)]


def _numbered(n):
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(n)
    images[:, 3, 1] = 200  # not symmetric: a transposition shows
    return images


def test_in_memory_rows_come_in_blocks_of_stream_rows(tmp_path):
    b = _builder(tmp_path, system_dirs=())
    b.STREAM_ROWS = 4
    images, labels = _numbered(10), np.arange(10).reshape(10, 1)
    blocks = _blocks(b, images, labels, None)
    assert [len(y) for _, y in blocks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), images)
    np.testing.assert_array_equal(np.concatenate([y for _, y in blocks]), labels)
    blocks = _blocks(b, images, labels, np.array([1, 2, 9]))
    assert [y[:, 0].tolist() for _, y in blocks] == [[1, 2, 9]]
    np.testing.assert_array_equal(blocks[0][0], images[[1, 2, 9]])


def test_streamed_rows_skip_blocks_without_selected_rows(tmp_path):
    b = _builder(tmp_path, system_dirs=())
    b.STREAM_ROWS = 4
    images, labels = _numbered(10), np.arange(10).reshape(10, 1)
    write_idx(tmp_path / "images.gz", images)
    blocks = _blocks(b, str(tmp_path / "images.gz"), labels, np.array([0, 1, 9]))
    assert [y[:, 0].tolist() for _, y in blocks] == [[0, 1], [9]]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), images[[0, 1, 9]])


def test_transposed_specs_turn_every_block_upright(tmp_path):
    b = _builder(tmp_path, "emnist_digits", system_dirs=())
    b.STREAM_ROWS = 4
    upright = _numbered(6)
    blocks = _blocks(b, np.ascontiguousarray(upright.transpose(0, 2, 1)), np.zeros((6, 1)), None)
    out = np.concatenate([x for x, _ in blocks])
    np.testing.assert_array_equal(out, upright)
    assert all(x.flags["C_CONTIGUOUS"] for x, _ in blocks)


def test_prefetching_an_empty_iterator_yields_nothing():
    with ThreadPoolExecutor(1) as pool:
        assert list(mh._prefetched(iter([]), pool)) == []
        assert list(mh._prefetched(iter([1, 2, 3]), pool)) == [1, 2, 3]


# --- tables ----------------------------------------------------------------------------------


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.mark.parametrize(("cpus", "workers"), [(2, 2), (3, 3), (None, 1)])
def test_png_tables_are_numbered_in_order_in_writer_batches_with_a_bounded_queue(tmp_path, monkeypatch, spy_pool,
                                                                                 cpus, workers):
    b = _builder(tmp_path, system_dirs=(), writer_batch_size=3)
    # datasets swaps the builder module's ``os`` for a patched copy when a builder is made: patch that one.
    monkeypatch.setattr(mh.os, "cpu_count", lambda: cpus)
    images, labels = _numbered(20), (np.arange(20) % 10).reshape(20, 1)
    gen = b._generate_tables(images, labels, None)
    first = next(gen)
    (pool,) = spy_pool.made
    assert pool.requested == workers + 1  # one encoder per CPU, plus one to prefetch streamed blocks
    assert pool.submitted == 2 * workers + 1  # at most 2 batches per worker wait when one is written
    out = [first, *gen]
    assert [k for k, _ in out] == list(range(7))
    assert [t.num_rows for _, t in out] == [3] * 6 + [2]
    table = pa.concat_tables([t for _, t in out])
    assert table.schema == b.info.features.arrow_schema
    assert table.column("label").to_pylist() == labels[:, 0].tolist()
    decoded = np.stack([_decode(r["bytes"]) for r in table.column("image").to_pylist()])
    np.testing.assert_array_equal(decoded, images)
    assert table.column("image").combine_chunks().field("path").null_count == 20


def test_default_writer_batch_is_a_thousand_rows(tmp_path):
    b = _builder(tmp_path, system_dirs=())
    b._writer_batch_size = None
    images, labels = _numbered(3), np.zeros((3, 1), np.int64)
    out = list(b._generate_tables(images, labels, None))
    assert [(k, t.num_rows) for k, t in out] == [(0, 3)]


def test_array_tables_one_per_block(tmp_path, spy_pool):
    b = _builder(tmp_path, system_dirs=(), image_format="array", writer_batch_size=3)
    b.STREAM_ROWS = 4
    images, labels = _numbered(10), (np.arange(10) % 10).reshape(10, 1)
    out = list(b._generate_tables(images, labels, np.array([0, 2, 3, 5, 9])))
    assert [(k, t.num_rows) for k, t in out] == [(0, 4), (1, 1)]
    table = pa.concat_tables([t for _, t in out])
    assert isinstance(table.schema.field("image").type, pa.ExtensionType)
    assert np.asarray(table.column("image").to_pylist(), np.uint8).tolist() == images[[0, 2, 3, 5, 9]].tolist()


def test_qmnist_tables_carry_int32_metadata_unless_compat(tmp_path):
    stored = np.arange(24, dtype=np.int64).reshape(3, 8)
    storage = mh._array2d_storage(_numbered(3))
    full = _builder(tmp_path, "qmnist", image_format="array")._table(storage, stored)
    assert full.column_names == ["image", "label", *QMNIST_METADATA]
    for i, name in enumerate(QMNIST_METADATA, start=1):
        assert full.column(name).type == pa.int32() and full.column(name).to_pylist() == stored[:, i].tolist()
    compat = _builder(tmp_path, "qmnist", image_format="array", compat=True)._table(storage, stored)
    assert compat.column_names == ["image", "label"] and compat.column("label").to_pylist() == [0, 8, 16]


def test_png_storage_is_the_image_feature_storage_even_when_empty():
    expected = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert datasets.Image().pa_type == expected
    for pngs in ([], [b"\x89PNG"]):
        storage = mh._png_storage(pngs)
        assert storage.type == expected and len(storage) == len(pngs)


@pytest.mark.parametrize("shape", [(2, 3, 1), (2, 1, 3), (3, 2, 2)])
def test_array2d_storage_nests_rows_of_pixels(shape):
    images = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    storage = mh._array2d_storage(images)
    storage.validate(full=True)
    assert storage.to_pylist() == images.tolist()
    assert len(storage.values) == shape[0] * shape[1]
    assert re.fullmatch(r"list<item: list<item: uint8>>", str(storage.type))


def test_provenance_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    # JSON is UTF-8 (RFC 8259). A record holding non-ASCII text (a hand-edited detail, or one
    # written by a tool without ensure_ascii) must read back unchanged on a machine whose locale
    # encoding is not UTF-8 (Windows' cp1252, a Latin-1 locale). Simulate such a locale: an
    # open() in text mode without an encoding decodes as cp1252 here, so only an explicit
    # UTF-8 reads "données" back (cp1252 would give "donnÃ©es").
    import builtins

    def locale_open(file, mode="r", *args, encoding=None, **kwargs):
        if "b" not in mode and encoding is None:
            encoding = "cp1252"
        return builtins.open(file, mode, *args, encoding=encoding, **kwargs)

    monkeypatch.setattr(mh, "open", locale_open, raising=False)
    record = {"train_images": {"file": "x.gz", "path": "/données/x.gz", "origin": "data_dir /données",
                               "verification": "unverified", "detail": "md5 vérifié"}}
    (tmp_path / mh.PROVENANCE_FILE).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    assert mnist_hf.read_provenance(tmp_path) == record
