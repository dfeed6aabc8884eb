"""The read path's less travelled roads, built here from small Arrow tables: images stored by path
among PNG bytes, odd-sized or unreadable images and the image each error names, empty selections
of PNG splits, storage layouts datasets does not write itself (large binary, fixed-size lists),
blocks longer than the normaliser's 1024-row steps, and the defaults of the torch helpers and of
load/builder."""

from __future__ import annotations

import sys

import datasets
import numpy as np
import pyarrow as pa
import pytest
from datasets.features.features import Array2DExtensionType
from datasets.table import InMemoryTable
from helpers import make_idx_dir
from PIL import Image

import mnist_hf
from mnist_hf.arrays import image_array, label_array, to_numpy
from mnist_hf.png import encode_png_batch

PNG = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})


def _normalized(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255) - np.float32(0.5)


def _array_features(shape, dtype="uint8") -> datasets.Features:
    return datasets.Features({"image": datasets.Array2D(shape, dtype), "label": datasets.Value("int64")})


def _images(n: int, h: int, w: int, seed: int) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 256, (n, h, w), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256  # every image different
    return images


def _png_dataset(entries: list, labels=None) -> datasets.Dataset:
    """A PNG split from ``entries``: bytes (stored as such), a path (str) or None (no image)."""
    column = [{"bytes": e, "path": None} if isinstance(e, bytes) else e for e in entries]
    labels = list(range(len(entries))) if labels is None else labels
    return datasets.Dataset.from_dict({"image": column, "label": labels}, features=PNG)


def _png_table_dataset(pngs: list[bytes]) -> datasets.Dataset:
    """A PNG split built straight from Arrow arrays (faster than from_dict for thousands of rows)."""
    image = pa.StructArray.from_arrays([pa.array(pngs, pa.binary()), pa.nulls(len(pngs), pa.string())],
                                       names=["bytes", "path"])
    table = pa.Table.from_arrays([image, pa.array(np.arange(len(pngs)))], names=["image", "label"])
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=PNG))


def _declared(table: pa.Table, features: datasets.Features) -> datasets.Dataset:
    """A split whose stored layout is not the one datasets writes for ``features`` (as read from a
    file written by other tools): the table as it is, with ``features`` declared."""
    ds = datasets.Dataset(InMemoryTable(table))
    ds.info.features = features
    return ds


def _save_png(path, image: np.ndarray | Image.Image) -> str:
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path, format="PNG")
    return str(path)


def _concatenated(*parts: datasets.Dataset) -> datasets.Dataset:
    ds = datasets.concatenate_datasets(list(parts))
    assert ds.data.column("image").num_chunks == len(parts)
    return ds


# --- labels, batch sizes, threads --------------------------------------------------------------

def test_labels_of_any_integer_type_come_back_as_int64():
    ds = datasets.Dataset.from_dict({"label": [3, 1, 2]}, features=datasets.Features({"label": datasets.Value("int32")}))
    assert ds.data.column("label").type == pa.int32()
    y = label_array(ds)
    assert y.dtype == np.int64 and y.tolist() == [3, 1, 2]
    y = label_array(ds.select([2, 0]))
    assert y.dtype == np.int64 and y.tolist() == [2, 3]
    images = _images(3, 2, 2, 0)
    arrays = datasets.Dataset.from_dict({"image": list(images), "label": [7, 8, 9]},
                                        features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8"),
                                                                    "label": datasets.Value("uint8")}))
    x, y = to_numpy(arrays, normalize=False)
    assert y.dtype == np.int64 and y.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(x, images)


@pytest.mark.parametrize("kind", ["array", "png"])
def test_a_batch_size_of_one_is_allowed(kind):
    images = _images(5, 3, 4, 1)
    if kind == "array":
        ds = datasets.Dataset.from_dict({"image": list(images), "label": list(range(5))}, features=_array_features((3, 4)))
    else:
        ds = _png_dataset(encode_png_batch(images))
    for sub, rows in ((ds, np.arange(5)), (ds.select([4, 0, 2]), np.array([4, 0, 2]))):
        for threads in (None, 1, 2):
            x, y = to_numpy(sub, normalize=False, batch_size=1, num_threads=threads)
            np.testing.assert_array_equal(x, images[rows])
            np.testing.assert_array_equal(y, rows)
            np.testing.assert_array_equal(image_array(sub, batch_size=1, num_threads=threads), images[rows])


def test_normalising_blocks_longer_than_1024_rows():
    """One chunk of 2,500 rows is normalised in steps: every row of every step is written once."""
    images = _images(2500, 2, 3, 2)
    ds = datasets.Dataset.from_dict({"image": list(images), "label": list(range(2500))}, features=_array_features((2, 3)))
    assert ds.data.column("image").num_chunks == 1
    x, y = to_numpy(ds)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, _normalized(images))
    np.testing.assert_array_equal(y, np.arange(2500))
    x = to_numpy(ds.select(range(1, 2500)))[0]  # a sliced table
    np.testing.assert_array_equal(x, _normalized(images[1:]))


def test_many_small_batches_on_several_threads():
    """3,000 PNGs in batches of 64 on four threads: each row is decoded and normalised once."""
    images = _images(3000, 4, 4, 20)
    ds = _png_table_dataset(encode_png_batch(images))
    x, y = to_numpy(ds, batch_size=64, num_threads=4)
    np.testing.assert_array_equal(x, _normalized(images))
    np.testing.assert_array_equal(y, np.arange(3000))


# --- Array2D columns: errors name the column, other storage layouts ------------------------------

def test_array_errors_name_the_column():
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    ds = datasets.Dataset.from_dict({"pixels": list(values)},
                                    features=datasets.Features({"pixels": datasets.Array2D((2, 3), "float32")}))
    with pytest.raises(ValueError, match=r"^normalize=True needs uint8 pixels; column 'pixels' holds float32: "
                                         r"pass normalize=False$"):
        image_array(ds, column="pixels", normalize=True)
    np.testing.assert_array_equal(image_array(ds, column="pixels"), values)

    missing = datasets.Dataset.from_dict({"image": [np.zeros((2, 2), np.uint8), None], "label": [0, 1]},
                                         features=_array_features((2, 2)))
    with pytest.raises(ValueError, match=r"^column 'image' has 1 missing images$"):
        to_numpy(missing)


def _extension_dataset(storage: pa.Array, shape=(2, 2)) -> datasets.Dataset:
    features = _array_features(shape)
    column = pa.ExtensionArray.from_storage(Array2DExtensionType(shape, "uint8"), storage)
    table = pa.Table.from_arrays([column, pa.array(np.arange(len(storage)))], names=["image", "label"])
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features))


@pytest.mark.parametrize("rows", [
    [[[1, 2], [3, 4]], [[5, 6], [7, 8, 9]]],  # one row too long: ragged, no missing value
    [[[1, 2], [3, 4]], [[5, 6], [7, None]]],  # a missing pixel
], ids=["ragged", "missing-pixel"])
def test_ragged_or_missing_pixels_are_refused(rows):
    ds = _extension_dataset(pa.array(rows, pa.list_(pa.list_(pa.uint8()))))
    message = r"^column 'image' holds ragged or missing pixel values where \(2, 2\) arrays were declared$"
    for normalize in (False, True):
        with pytest.raises(ValueError, match=message):
            to_numpy(ds, normalize=normalize)


@pytest.mark.parametrize("layout", ["list", "large_list", "fixed_size_list"])
def test_plain_nested_list_storage_reads_as_declared(layout):
    """A column of plain nested lists (not datasets' extension array), declared Array2D."""
    images = _images(4, 2, 3, 3)
    if layout == "fixed_size_list":
        inner = pa.FixedSizeListArray.from_arrays(pa.array(images.ravel()), 3)
        column = pa.FixedSizeListArray.from_arrays(inner, 2)
    else:
        make = pa.large_list if layout == "large_list" else pa.list_
        column = pa.array(images.tolist(), make(make(pa.uint8())))
    table = pa.Table.from_arrays([column, pa.array(np.arange(4))], names=["image", "label"])
    ds = _declared(table, _array_features((2, 3)))
    x, y = to_numpy(ds, normalize=False)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(to_numpy(ds)[0], _normalized(images))
    np.testing.assert_array_equal(y, np.arange(4))


def test_boolean_arrays_pass_through():
    masks = _images(3, 2, 2, 4) >= 128
    ds = datasets.Dataset.from_dict({"image": list(masks), "label": [0, 1, 2]}, features=_array_features((2, 2), "bool"))
    x, _ = to_numpy(ds, normalize=False)
    assert x.dtype == np.bool_
    np.testing.assert_array_equal(x, masks)
    np.testing.assert_array_equal(image_array(ds.select([2, 0])), masks[[2, 0]])


@pytest.mark.parametrize("kind", ["array", "png"])
def test_an_indices_mapping_past_the_end_is_refused(kind):
    """A mapping that points at row N of an N-row table (several chunks) is refused by name."""
    images = _images(3, 2, 2, 5)
    if kind == "array":
        one = datasets.Dataset.from_dict({"image": list(images), "label": [0, 1, 2]}, features=_array_features((2, 2)))
    else:
        one = _png_dataset(encode_png_batch(images))
    table = pa.concat_tables([one.data.table.slice(0, 1), one.data.table.slice(1, 2)])
    assert table.column("image").num_chunks == 2
    for past in ([0, 3], [3]):
        indices = InMemoryTable(pa.table({"indices": pa.array(past, pa.uint64())}))
        ds = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=one.features), indices_table=indices)
        with pytest.raises(ValueError, match=r"^the indices mapping points outside the table's 3 rows$"):
            to_numpy(ds)
    ok = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=one.features),
                          indices_table=InMemoryTable(pa.table({"indices": pa.array([2, 0], pa.uint64())})))
    np.testing.assert_array_equal(to_numpy(ok, normalize=False)[0], images[[2, 0]])


# --- PNG columns: storage layouts, sizes, the image an error names ---------------------------------

def test_large_binary_png_bytes():
    images = _images(3, 4, 5, 6)
    pngs = encode_png_batch(images)
    image = pa.StructArray.from_arrays([pa.array(pngs, pa.large_binary()), pa.nulls(3, pa.string())],
                                       names=["bytes", "path"])
    table = pa.Table.from_arrays([image, pa.array([0, 1, 2])], names=["image", "label"])
    for ds, rows in ((_declared(table, PNG), [0, 1, 2]), (_declared(table.slice(1), PNG), [1, 2])):
        np.testing.assert_array_equal(image_array(ds), images[rows])
        np.testing.assert_array_equal(to_numpy(ds)[0], _normalized(images[rows]))


def test_png_bytes_of_another_type_are_refused():
    image = pa.StructArray.from_arrays([pa.array(["not bytes"]), pa.nulls(1, pa.string())], names=["bytes", "path"])
    ds = _declared(pa.Table.from_arrays([image, pa.array([0])], names=["image", "label"]), PNG)
    with pytest.raises(ValueError, match=r"^image column stores string, expected binary PNG bytes$"):
        to_numpy(ds)


def test_an_odd_sized_png_in_a_later_batch_is_named():
    """With a batch per image, the second image is decoded on its own: it must still be checked
    against the first image's size."""
    pngs = [encode_png_batch(_images(1, 3, 4, 7))[0], encode_png_batch(_images(1, 5, 6, 8))[0]]
    ds = _png_dataset(pngs)
    for threads in (1, 2):
        with pytest.raises(ValueError, match=r"^image 1 is 5x6, the others 3x4: all images must have one size$"):
            to_numpy(ds, batch_size=1, num_threads=threads)


def test_odd_sized_png_behind_a_mapping_is_named():
    """An odd-sized image in the first chunk, picked last by a mapping: the error names it."""
    odd = _png_dataset([encode_png_batch(_images(1, 5, 6, 9))[0]])
    good = _png_dataset(encode_png_batch(_images(2, 3, 4, 10)))
    sub = _concatenated(odd, good).select([1, 2, 0])
    with pytest.raises(ValueError, match=r"^image 2 is 5x6, the others 3x4: all images must have one size$"):
        to_numpy(sub, batch_size=1)


def test_odd_sized_png_after_the_default_batch_is_named():
    """4,096 images (the default batch) from the second chunk, then an odd one from the first."""
    odd = _png_table_dataset(encode_png_batch(_images(1, 5, 6, 11)))
    good = _png_table_dataset(encode_png_batch(np.zeros((4096, 2, 3), np.uint8)))
    sub = _concatenated(odd, good).select([*range(1, 4097), 0])
    message = r"^image 4096 is 5x6, the others 2x3: all images must have one size$"
    with pytest.raises(ValueError, match=message):
        to_numpy(sub)
    with pytest.raises(ValueError, match=message):
        image_array(sub)


def test_a_corrupt_first_png_behind_a_mapping_is_named():
    """The image that sets the size is corrupt: the error names its place in the selection."""
    pngs = encode_png_batch(_images(3, 3, 4, 12))
    first = _png_dataset([b"\x89PNG not really", pngs[0]])
    second = _png_dataset(pngs[1:])
    sub = _concatenated(first, second).select([2, 0, 3, 1])  # first chunk's rows at places 1 and 3
    with pytest.raises(ValueError, match=r"^image 1 cannot be decoded"):
        to_numpy(sub)


def test_empty_selection_of_a_png_split_has_the_first_stored_image_size(tmp_path):
    """The size comes from the first image stored as bytes (not one stored by path, not the second)."""
    path = _save_png(tmp_path / "by_path.png", np.zeros((7, 8), np.uint8))
    pngs = [encode_png_batch(_images(1, 3, 4, 13))[0], encode_png_batch(_images(1, 5, 6, 14))[0],
            encode_png_batch(_images(2, 6, 5, 14))[0]]
    ds = _png_dataset([path, *pngs])
    empty = ds.filter(lambda label: False, input_columns="label")
    assert empty.num_rows == 0 and empty.data.num_rows == 4  # an empty mapping over the whole table
    x, y = to_numpy(empty)
    assert x.shape == (0, 3, 4) and x.dtype == np.float32 and y.shape == (0,)
    assert image_array(empty).shape == (0, 3, 4)
    only_path = _png_dataset([path]).filter(lambda label: False, input_columns="label")
    assert image_array(only_path).shape == (0, 0, 0)  # nothing stored as bytes: no size to tell


# --- PNG columns: images stored by path -------------------------------------------------------

@pytest.fixture
def mixed(tmp_path):
    """Four images: by path, bytes, bytes, by path."""
    images = _images(4, 3, 4, 15)
    pngs = encode_png_batch(images)
    entries = [_save_png(tmp_path / "0.png", images[0]), pngs[1], pngs[2], _save_png(tmp_path / "3.png", images[3])]
    return _png_dataset(entries), images


def test_images_by_path_and_by_bytes_land_in_their_places(mixed):
    ds, images = mixed
    for batch_size in (1, 2, 3, 4096):
        x, y = to_numpy(ds, normalize=False, batch_size=batch_size)
        np.testing.assert_array_equal(x, images, err_msg=str(batch_size))
        np.testing.assert_array_equal(y, np.arange(4))
        np.testing.assert_array_equal(to_numpy(ds, batch_size=batch_size)[0], _normalized(images))
    for rows in ([3, 1, 0], [1, 0], [0], [3]):
        np.testing.assert_array_equal(to_numpy(ds.select(rows))[0], _normalized(images[rows]), err_msg=str(rows))


def test_images_by_path_behind_a_mapping_over_chunks(mixed):
    ds, images = mixed
    both = _concatenated(ds, ds)
    for rows in ([0, 4, 3], [7, 1, 4, 0, 2], [4, 0]):  # rows of one chunk at places that do not follow on
        for batch_size in (2, 4096):
            x, y = to_numpy(both.select(rows), batch_size=batch_size)
            np.testing.assert_array_equal(x, _normalized(images[np.array(rows) % 4]), err_msg=str(rows))
            np.testing.assert_array_equal(y, np.array(rows) % 4)


def test_a_single_image_by_path(mixed):
    ds, images = mixed
    for rows in ([0], [3]):
        np.testing.assert_array_equal(image_array(ds.select(rows)), images[rows])
        np.testing.assert_array_equal(to_numpy(ds.select(rows))[0], _normalized(images[rows]))


def _raw_png_dataset(pngs: list[bytes | None], paths: list[str | None]) -> datasets.Dataset:
    """A PNG split written by other tools: entries whose bytes and path are both null are allowed."""
    image = pa.StructArray.from_arrays([pa.array(pngs, pa.binary()), pa.array(paths, pa.string())],
                                       names=["bytes", "path"])
    table = pa.Table.from_arrays([image, pa.array(np.arange(len(pngs)))], names=["image", "label"])
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=PNG))


def test_an_image_with_neither_bytes_nor_path_is_named():
    pngs = encode_png_batch(_images(2, 3, 4, 16))
    with pytest.raises(ValueError, match=r"^image 1 is missing \(neither bytes nor path\)$"):
        to_numpy(_raw_png_dataset([pngs[0], None, pngs[1]], [None, None, None]))
    with pytest.raises(ValueError, match=r"^image 0 is missing \(neither bytes nor path\)$"):
        to_numpy(_raw_png_dataset([None, pngs[0]], [None, None]).select([0]))


def test_a_missing_image_among_others_is_named_missing():
    png = encode_png_batch(_images(1, 3, 4, 18))[0]
    with pytest.raises(ValueError, match=r"^image 1 is missing"):
        to_numpy(_png_dataset([png, None]))


def test_a_null_entry_with_bytes_left_underneath_is_missing_not_decoded():
    # Another tool may null an entry and leave its child values: the entry's validity decides.
    pngs = encode_png_batch(_images(2, 3, 4, 19))
    image = pa.StructArray.from_arrays([pa.array(pngs, pa.binary()), pa.array(["a.png", "b.png"])],
                                       names=["bytes", "path"], mask=pa.array([False, True]))
    table = pa.Table.from_arrays([image, pa.array([0, 1])], names=["image", "label"])
    ds = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=PNG))
    with pytest.raises(ValueError, match=r"^image 1 is missing"):
        to_numpy(ds)


def test_images_by_path_that_cannot_be_used_are_named(tmp_path):
    png = encode_png_batch(_images(1, 3, 4, 17))[0]
    colour = _save_png(tmp_path / "colour.png", Image.new("RGB", (4, 3), (200, 10, 10)))
    not_png = tmp_path / "text.png"
    not_png.write_text("not an image")
    odd = _save_png(tmp_path / "odd.png", np.zeros((5, 6), np.uint8))
    cases = [
        (colour, rf"^image 1 \({colour}\): is a colour image \(mode RGB\)"),
        (str(not_png), rf"^image 1 \({not_png}\) cannot be read: "),
        (odd, r"^image 1 is \(5, 6\), the others \(3, 4\): all images must have one size$"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            to_numpy(_png_dataset([png, path]))
    # The first image, stored by path, sets the size: its errors are named too.
    with pytest.raises(ValueError, match=rf"^image 0 \({colour}\): is a colour image"):
        to_numpy(_png_dataset([colour, png]))


# --- torch helpers ----------------------------------------------------------------------------

def _numbered(n: int) -> datasets.Dataset:
    images = (np.arange(n) % 256).astype(np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    return datasets.Dataset.from_dict({"image": list(images), "label": list(range(n))}, features=_array_features((2, 2)))


def test_torch_install_hint_is_exact(monkeypatch):
    from mnist_hf.torch_data import TorchBatches, torch_dataset

    ds = _numbered(3)  # before hiding torch: datasets looks for it when it builds a split
    monkeypatch.setitem(sys.modules, "torch", None)
    for make in (TorchBatches, torch_dataset):
        with pytest.raises(ImportError, match=r"^this helper needs PyTorch: pip install 'mnist-hf\[torch\]' "
                                              r"\(or torch itself\)$"):
            make(ds)


def test_torch_dataset_defaults_to_stored_pixels():
    torch = pytest.importorskip("torch")
    from mnist_hf.torch_data import torch_dataset

    ds = _numbered(3)
    for td in (torch_dataset(ds), torch_dataset(ds, normalize=False)):
        image, label = td[2]
        assert image.dtype == torch.uint8 and tuple(image.shape) == (1, 2, 2)
        assert image.flatten().tolist() == [2, 2, 2, 2] and int(label) == 2
    image, _ = torch_dataset(ds, normalize=True)[2]
    assert image.dtype == torch.float32


def test_torch_batches_defaults_and_settings():
    torch = pytest.importorskip("torch")
    from mnist_hf.torch_data import TorchBatches

    ds = _numbered(300)
    batches = TorchBatches(ds)
    assert len(batches) == 2
    sizes = [len(y) for _, y in batches]
    assert sizes == [256, 44]
    x, _ = next(iter(batches))
    assert x.dtype == torch.uint8
    ones = TorchBatches(_numbered(5), batch_size=1, shuffle=False)
    assert len(ones) == 5
    assert [y.tolist() for _, y in ones] == [[0], [1], [2], [3], [4]]
    b = TorchBatches(ds, 16, shuffle=False, seed=7, normalize=True, drop_last=True)
    assert (b.batch_size, b.shuffle, b.seed, b.normalize, b.drop_last) == (16, False, 7, True, True)
    d = TorchBatches(ds, 16)
    assert (d.shuffle, d.seed, d.normalize, d.drop_last) == (True, None, False, False)
    assert b.images.dtype == torch.uint8 and tuple(b.images.shape) == (300, 1, 2, 2)


# --- load and builder pass the name and the download mode on ------------------------------------

def test_builder_and_load_use_the_name_given(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    b = mnist_hf.builder("kmnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "b"), system_dirs=())
    assert b.config.name == "kmnist"
    ds = mnist_hf.load("kmnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"), system_dirs=(),
                       image_format="array")
    assert ds["train"].features["label"].names[0] == "o"  # KMNIST's classes, not MNIST's digits


def test_load_passes_the_download_mode_on(tmp_path):
    options = {"data_dir": str(tmp_path / "idx"), "cache_dir": str(tmp_path / "cache"), "system_dirs": (),
               "image_format": "array"}
    first = make_idx_dir(tmp_path / "idx", n_train=20, n_test=10, seed=1)
    x, _ = to_numpy(mnist_hf.load("mnist", **options)["test"], normalize=False)
    np.testing.assert_array_equal(x, first["t10k-images-idx3-ubyte"])
    second = make_idx_dir(tmp_path / "idx", n_train=20, n_test=10, seed=2)  # new files in the same place
    x, _ = to_numpy(mnist_hf.load("mnist", **options)["test"], normalize=False)
    np.testing.assert_array_equal(x, first["t10k-images-idx3-ubyte"])  # the prepared copy, as cached
    x, _ = to_numpy(mnist_hf.load("mnist", download_mode="force_redownload", **options)["test"], normalize=False)
    np.testing.assert_array_equal(x, second["t10k-images-idx3-ubyte"])


# --- PNG decoding threads: the number asked for, or the CPUs (at most 8), and none for one task ----

class _SpyPool:
    """Stands in for ThreadPoolExecutor in mnist_hf.arrays: records the pool size asked for and
    runs the tasks in order on the calling thread (deterministic, no threads needed)."""

    made: list[int | None] = []

    def __init__(self, max_workers=None):
        _SpyPool.made.append(max_workers)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items):
        return map(fn, items)


@pytest.fixture
def spy_png_pool(monkeypatch):
    import mnist_hf.arrays as arrays

    _SpyPool.made = []
    monkeypatch.setattr(arrays, "ThreadPoolExecutor", _SpyPool)
    return _SpyPool.made


def test_png_worker_threads_are_the_number_asked_for(monkeypatch, spy_png_pool):
    """num_threads reaches the decoder through to_numpy and image_array: 1 means no pool at all
    (decoding on the caller's thread), n means a pool of exactly n, whatever the CPU count."""
    import mnist_hf.arrays as arrays

    monkeypatch.setattr(arrays.os, "cpu_count", lambda: 4)  # the default would be a pool of 4
    images = _images(4, 3, 4, 21)
    ds = _png_dataset(encode_png_batch(images))
    for read in (lambda **kw: to_numpy(ds, normalize=False, **kw)[0], lambda **kw: image_array(ds, **kw)):
        for threads, pools in ((1, []), (2, [2]), (3, [3])):
            spy_png_pool.clear()
            np.testing.assert_array_equal(read(batch_size=1, num_threads=threads), images)  # 4 tasks
            assert spy_png_pool == pools, threads


def test_png_worker_threads_default_to_the_cpus_up_to_eight(monkeypatch, spy_png_pool):
    """Without num_threads: a pool of one thread per CPU, at most 8; an unknown CPU count means
    one CPU, so no pool."""
    import mnist_hf.arrays as arrays

    images = _images(3, 3, 4, 22)
    ds = _png_dataset(encode_png_batch(images))
    for cpus, pools in ((4, [4]), (16, [8]), (8, [8]), (None, []), (1, [])):
        monkeypatch.setattr(arrays.os, "cpu_count", lambda cpus=cpus: cpus)
        spy_png_pool.clear()
        np.testing.assert_array_equal(image_array(ds, batch_size=1), images)
        assert spy_png_pool == pools, cpus


def test_a_single_png_task_is_decoded_without_a_pool(spy_png_pool):
    """One task (all images in one batch) is decoded on the caller's thread; two tasks on two
    threads use a pool."""
    images = _images(3, 3, 4, 23)
    ds = _png_dataset(encode_png_batch(images))
    np.testing.assert_array_equal(image_array(ds, batch_size=3, num_threads=2), images)
    assert spy_png_pool == []
    np.testing.assert_array_equal(image_array(ds, batch_size=2, num_threads=2), images)  # 2 tasks
    assert spy_png_pool == [2]


def test_an_object_without_an_indices_attribute_reads_as_its_table():
    """Rows are looked up through ``_indices`` only when the object has one: a table-backed
    stand-in for a Dataset (features, column_names, data, but no ``_indices``) reads as is."""
    from types import SimpleNamespace

    images = _images(3, 2, 2, 24)
    ds = datasets.Dataset.from_dict({"image": list(images), "label": [5, 6, 7]}, features=_array_features((2, 2)))
    view = SimpleNamespace(features=ds.features, column_names=ds.column_names, data=ds.data)
    x, y = to_numpy(view, normalize=False)
    np.testing.assert_array_equal(x, images)
    assert y.tolist() == [5, 6, 7]
