"""The read path: to_numpy from Arrow buffers, the PNG batch decoder, the torch helpers. Every fast
path is checked pixel for pixel against the IDX files (or the arrays the PNGs were made from)."""

from __future__ import annotations

import io
import struct
import sys
import zlib

import datasets
import numpy as np
import pytest
from PIL import Image

import mnist_hf
from mnist_hf import read_idx
from mnist_hf.arrays import image_array, label_array
from mnist_hf.png import decode_png_batch, decode_pngs, encode_png_batch

NO_SYSTEM = {"system_dirs": ()}
PNG_FEATURES = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})


def _load(data_dir, tmp_path, image_format):
    return mnist_hf.load("mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / image_format),
                         image_format=image_format, **NO_SYSTEM)


def _normalized(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255) - np.float32(0.5)


@pytest.fixture(params=["png", "array"])
def prepared(request, synthetic_dir, tmp_path):
    data_dir, arrays = synthetic_dir
    return _load(data_dir, tmp_path, request.param), arrays


# --- to_numpy on prepared splits --------------------------------------------------------------

def test_to_numpy_matches_the_idx_files(prepared):
    ds, arrays = prepared
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        assert x.dtype == np.uint8 and y.dtype == np.int64 and x.flags.writeable and y.flags.writeable
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
        xn, yn = mnist_hf.to_numpy(ds[split], batch_size=7, num_threads=2)  # many tasks on two threads
        assert xn.dtype == np.float32
        np.testing.assert_array_equal(xn, _normalized(images))
        np.testing.assert_array_equal(yn, labels)


def test_to_numpy_reads_buffers_not_rows(prepared, monkeypatch):
    """On datasets 4/5 row access (dataset[...], formatted columns) walks rows one by one in Python;
    the read path must not use it."""
    ds, arrays = prepared

    def refuse(*args, **kwargs):
        raise AssertionError("to_numpy went through the per-row formatting path")

    monkeypatch.setattr(datasets.Dataset, "__getitem__", refuse)
    monkeypatch.setattr(datasets.Dataset, "with_format", refuse)
    monkeypatch.setattr(datasets.Dataset, "__iter__", refuse)
    x, y = mnist_hf.to_numpy(ds["test"], normalize=False)
    np.testing.assert_array_equal(x, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y, arrays["t10k-labels-idx1-ubyte"])


@pytest.mark.parametrize("how", ["shuffle", "select-unsorted", "select-repeats", "select-range", "select-empty",
                                 "filter", "concatenate", "train_test_split"])
def test_indices_mappings_slices_and_chunks(prepared, how):
    ds, arrays = prepared
    train = ds["train"]
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    rows = None
    if how == "shuffle":
        sub = train.shuffle(seed=3)
    elif how == "select-unsorted":
        rows = np.random.default_rng(0).permutation(len(labels))[:77]
        sub = train.select(rows)
    elif how == "select-repeats":
        rows = np.array([5, 5, 299, 0, 5, 120])
        sub = train.select(rows)
    elif how == "select-range":  # contiguous: datasets slices the table (offsets) instead of mapping
        rows = np.arange(13, 250)
        sub = train.select(range(13, 250))
    elif how == "select-empty":
        rows = np.arange(0)
        sub = train.select([])
    elif how == "filter":
        sub = train.filter(lambda y: y % 3 == 1, input_columns="label")
        rows = np.flatnonzero(labels % 3 == 1)
    elif how == "concatenate":  # several tables, several chunks, one of them sliced
        sub = datasets.concatenate_datasets([train.select(range(100, 300)), ds["test"], train.select([4, 2])])
        images = np.concatenate([images[100:300], arrays["t10k-images-idx3-ubyte"], images[[4, 2]]])
        labels = np.concatenate([labels[100:300], arrays["t10k-labels-idx1-ubyte"], labels[[4, 2]]])
        rows = np.arange(len(labels))
    else:
        sub = train.train_test_split(test_size=0.25, seed=1)["test"]
    if rows is None:
        rows = np.asarray(sub._indices.column(0).to_numpy())
        assert len(rows) == sub.num_rows
    for normalize in (False, True):
        x, y = mnist_hf.to_numpy(sub, normalize=normalize, batch_size=16)
        expected = images[rows]
        if sub.data.num_rows == 0 and isinstance(sub.features["image"], datasets.Image):
            expected = expected.reshape(0, 0, 0)  # no PNG left to tell the size
        np.testing.assert_array_equal(x, _normalized(expected) if normalize else expected)
        np.testing.assert_array_equal(y, labels[rows])
    assert x.shape[0] == sub.num_rows


def test_empty_split_keeps_the_image_shape():
    ds = datasets.Dataset.from_dict({"image": [np.zeros((3, 4), np.uint8)], "label": [0]},
                                    features=datasets.Features({"image": datasets.Array2D((3, 4), "uint8"),
                                                                "label": datasets.Value("int64")}))
    x, y = mnist_hf.to_numpy(ds.select([]), normalize=False)
    assert x.shape == (0, 3, 4) and y.shape == (0,)


def test_other_array_dtypes_pass_through_and_refuse_normalize():
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    ds = datasets.Dataset.from_dict({"image": list(values), "label": [0, 1]},
                                    features=datasets.Features({"image": datasets.Array2D((2, 3), "float32"),
                                                                "label": datasets.Value("int64")}))
    x, _ = mnist_hf.to_numpy(ds, normalize=False)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, values)
    with pytest.raises(ValueError, match="normalize=True needs uint8"):
        mnist_hf.to_numpy(ds)


def test_bad_input_gets_a_clear_error():
    plain = datasets.Dataset.from_dict({"pixels": [[1, 2]], "label": [0]})
    with pytest.raises(ValueError, match=r"no 'image' column .*columns: pixels, label"):
        mnist_hf.to_numpy(plain)
    not_images = datasets.Dataset.from_dict({"image": [1], "label": [0]})
    with pytest.raises(ValueError, match="'image' holds Value, not images"):
        mnist_hf.to_numpy(not_images)
    missing = datasets.Dataset.from_dict({"label": [1, None]})
    with pytest.raises(ValueError, match="'label' has 1 missing values"):
        label_array(missing)
    pngs = encode_png_batch(np.zeros((1, 2, 2), np.uint8))
    ds = datasets.Dataset.from_dict({"image": [{"bytes": pngs[0], "path": None}], "label": [0]}, features=PNG_FEATURES)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        mnist_hf.to_numpy(ds, batch_size=0)


# --- foreign PNGs: everything the fast decoder does not handle goes through PIL ----------------

def _pil_png(image: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **save)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(ihdr: bytes, idats: list[bytes]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(_chunk(b"IDAT", d) for d in idats) + _chunk(b"IEND", b"")


def _gray_ihdr(img: np.ndarray, interlace: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", img.shape[1], img.shape[0], 8, 0, 0, 0, interlace)


def _filtered(img: np.ndarray, kind: int) -> bytes:
    """Rows filtered with PNG filter 1 (Sub) or 2 (Up)."""
    rows = []
    previous = np.zeros(img.shape[1], np.uint8)
    for row in img:
        f = row - (np.concatenate([[0], row[:-1]]).astype(np.uint8) if kind == 1 else previous)
        rows.append(bytes([kind]) + f.astype(np.uint8).tobytes())
        previous = row
    return zlib.compress(b"".join(rows))


def _adam7(img: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit grayscale PNG; PIL reads these but cannot write them."""
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = img[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    return _png(_gray_ihdr(img, interlace=1), [zlib.compress(raw)])


def _split_idat(png: bytes) -> bytes:
    """The same image with its IDAT data spread over three IDAT chunks."""
    (length,) = struct.unpack(">I", png[33:37])
    data = png[41:41 + length]
    k = len(data) // 3
    return png[:33] + b"".join(_chunk(b"IDAT", part) for part in (data[:k], data[k:2 * k], data[2 * k:])) + png[-12:]


def _foreign(img: np.ndarray) -> dict[str, bytes]:
    gray_palette = Image.fromarray(img, "P")
    gray_palette.putpalette([v for i in range(256) for v in (i, i, i)])
    ours = encode_png_batch(img[None])[0]
    return {
        "pil-adaptive-filters": _pil_png(Image.fromarray(img, "L")),
        "pil-optimize": _pil_png(Image.fromarray(img, "L"), optimize=True),
        "filter-sub": _png(_gray_ihdr(img), [_filtered(img, 1)]),
        "filter-up": _png(_gray_ihdr(img), [_filtered(img, 2)]),
        "palette": _pil_png(gray_palette),
        "rgb-gray": _pil_png(Image.fromarray(np.stack([img] * 3, axis=-1), "RGB")),
        "rgba-opaque": _pil_png(Image.fromarray(np.stack([img] * 3 + [np.full_like(img, 255)], axis=-1), "RGBA")),
        "16-bit": _pil_png(Image.fromarray(img.astype(np.uint16) * 257)),
        "interlaced": _adam7(img),
        "several-idat": _split_idat(ours),
        "1-bit": _pil_png(Image.fromarray(img >= 128).convert("1")),
    }


def test_foreign_pngs_give_the_same_pixels(synthetic_dir):
    _, arrays = synthetic_dir
    images = arrays["t10k-images-idx3-ubyte"][:11]
    for i, (kind, png) in enumerate(_foreign(images[0]).items()):
        expected = (images[0] >= 128) * np.uint8(255) if kind == "1-bit" else images[0]
        with Image.open(io.BytesIO(png)) as im:  # the fixture really is that kind of PNG
            assert kind != "16-bit" or im.mode.startswith("I"), im.mode
            assert kind != "interlaced" or im.info.get("interlace") == 1
        np.testing.assert_array_equal(decode_png_batch([png])[0], expected, err_msg=kind)
        # In a split, mixed with our own PNGs, across batches and threads.
        ours = encode_png_batch(images)
        mixed = ours[:i] + [png] + ours[i + 1:]
        ds = datasets.Dataset.from_dict({"image": [{"bytes": b, "path": None} for b in mixed], "label": list(range(11))},
                                        features=PNG_FEATURES)
        want = images.copy()
        want[i] = expected
        x, y = mnist_hf.to_numpy(ds, normalize=False, batch_size=3, num_threads=2)
        np.testing.assert_array_equal(x, want, err_msg=kind)
        np.testing.assert_array_equal(y, np.arange(11))
        xs, ys = mnist_hf.to_numpy(ds.shuffle(seed=i))  # through an indices mapping, normalised
        np.testing.assert_array_equal(xs[ys == i][0], _normalized(expected), err_msg=kind)


def test_pil_written_grayscale_pngs_really_use_other_filters(synthetic_dir):
    """So that the fallback is exercised: PIL filters rows adaptively (not type 0 everywhere)."""
    img = synthetic_dir[1]["t10k-images-idx3-ubyte"][0]
    png = _foreign(img)["pil-adaptive-filters"]
    scan = zlib.decompress(png[41:41 + struct.unpack(">I", png[33:37])[0]])
    assert any(scan[r * 29] != 0 for r in range(28))


@pytest.mark.parametrize("image, message", [
    (Image.new("RGB", (28, 28), (200, 10, 10)), r"image 1: is a colour image \(mode RGB\)"),
    (Image.new("RGBA", (28, 28), (9, 9, 9, 100)), "image 1: has transparent pixels"),
    (Image.new("L", (27, 28)), "image 1 is 28x27, the others 28x28"),
])
def test_colour_transparent_or_misfit_pngs_are_refused(image, message):
    pngs = [encode_png_batch(np.zeros((1, 28, 28), np.uint8))[0], _pil_png(image)]
    with pytest.raises(ValueError, match=message):
        decode_png_batch(pngs)
    ds = datasets.Dataset.from_dict({"image": [{"bytes": b, "path": None} for b in pngs], "label": [0, 1]},
                                    features=PNG_FEATURES)
    with pytest.raises(ValueError, match=message):
        mnist_hf.to_numpy(ds)
    # Positions are those of the dataset as given: here the bad image comes third, gathered from
    # two chunks in turn.
    twice = datasets.concatenate_datasets([ds, ds]).select([0, 2, 1, 3])
    with pytest.raises(ValueError, match=message.replace("image 1", "image 2")):
        mnist_hf.to_numpy(twice)


def test_corrupt_png_names_the_image():
    good = encode_png_batch((np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28))
    bad = bytearray(good[1])
    bad[45:60] = b"\xff" * 15  # inside the zlib stream: the fast path fails, PIL reports it
    with pytest.raises(ValueError, match="image 1 cannot be decoded"):
        decode_png_batch([good[0], bytes(bad)])
    with pytest.raises(ValueError, match="image 0 cannot be decoded"):
        decode_png_batch([b"not a png at all"])


def test_decode_pngs_spans_and_out_argument():
    imgs = np.random.default_rng(1).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    pngs = encode_png_batch(imgs)
    buffer = b"junk" + b"".join(pngs)
    ends = 4 + np.cumsum([len(p) for p in pngs])
    starts = ends - [len(p) for p in pngs]
    out = np.empty((3, 4, 3), np.uint8)
    assert decode_pngs(buffer, starts[[4, 0, 2]], ends[[4, 0, 2]], out=out) is out
    np.testing.assert_array_equal(out, imgs[[4, 0, 2]])
    with pytest.raises(ValueError, match=r"out must be a \(2, 4, 3\) uint8 array"):
        decode_pngs(buffer, starts[:2], ends[:2], out=out)


def test_images_stored_by_path(tmp_path, synthetic_dir):
    imgs = synthetic_dir[1]["t10k-images-idx3-ubyte"][:4]
    paths = []
    for i, img in enumerate(imgs):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(img).save(paths[-1])
    ds = datasets.Dataset.from_dict({"image": paths, "label": [0, 1, 2, 3]}, features=PNG_FEATURES)
    assert ds.data.column("image").chunk(0).field("bytes").null_count == 4  # really by path
    np.testing.assert_array_equal(image_array(ds), imgs)
    np.testing.assert_array_equal(image_array(ds.select([3, 1])), imgs[[3, 1]])


# --- torch -----------------------------------------------------------------------------------

def _as_pairs(x: np.ndarray, y: np.ndarray) -> list[tuple[int, bytes]]:
    return sorted(zip(y.tolist(), (row.tobytes() for row in x)))


def test_torch_batches_give_every_image_and_label_once_per_epoch(prepared):
    torch = pytest.importorskip("torch", reason="torch is an optional extra (installed in .venv by `make test`)")
    from mnist_hf.torch_data import TorchBatches, torch_dataset

    ds, arrays = prepared
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    batches = TorchBatches(ds["train"], batch_size=64, seed=0)
    assert len(batches) == 5
    epochs = []
    for _ in range(2):
        xs, ys = zip(*batches)
        assert [len(b) for b in ys] == [64, 64, 64, 64, 44]
        assert xs[0].shape == (64, 1, 28, 28) and xs[0].dtype == torch.uint8 and ys[0].dtype == torch.int64
        x, y = torch.cat(xs)[:, 0].numpy(), torch.cat(ys).numpy()
        assert _as_pairs(x, y) == _as_pairs(images, labels)
        epochs.append(y)
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch
    again = [y.numpy() for _, y in TorchBatches(ds["train"], batch_size=64, seed=0)]
    np.testing.assert_array_equal(np.concatenate(again), epochs[0])  # reproducible from the seed

    x, y = next(iter(TorchBatches(ds["train"].select(range(10)), batch_size=10, shuffle=False, normalize=True)))
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x[:, 0].numpy(), _normalized(images[:10]))
    np.testing.assert_array_equal(x[:, 0].numpy(), mnist_hf.to_numpy(ds["train"].select(range(10)))[0])
    assert len(TorchBatches(ds["train"], batch_size=64, drop_last=True)) == 4

    td = torch_dataset(ds["test"].shuffle(seed=2), normalize=True)
    rows = np.asarray(ds["test"].shuffle(seed=2)._indices.column(0).to_numpy())
    image, label = td[7]
    np.testing.assert_array_equal(image[0].numpy(), _normalized(arrays["t10k-images-idx3-ubyte"][rows[7]]))
    assert int(label) == arrays["t10k-labels-idx1-ubyte"][rows[7]]


def test_torch_batches_bad_batch_size(prepared):
    pytest.importorskip("torch", reason="torch is an optional extra (installed in .venv by `make test`)")
    from mnist_hf.torch_data import TorchBatches

    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        TorchBatches(prepared[0]["test"], batch_size=0)


def test_torch_helpers_say_how_to_install_torch(prepared, monkeypatch):
    from mnist_hf.torch_data import TorchBatches, torch_dataset

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    for make in (TorchBatches, torch_dataset):
        with pytest.raises(ImportError, match=r"pip install 'mnist-hf\[torch\]'"):
            make(prepared[0]["test"])


# --- the real files ---------------------------------------------------------------------------

@pytest.mark.real_data
@pytest.mark.parametrize("image_format", ["array", "png"])
def test_real_fashion_mnist_both_formats(shared_data, tmp_path, image_format):
    folder = shared_data / "fashion-mnist"
    ds = mnist_hf.load("fashion_mnist", data_dir=str(folder), cache_dir=str(tmp_path), image_format=image_format,
                       **NO_SYSTEM)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
    shuffled = ds["train"].shuffle(seed=0).select(range(5000))
    rows = np.asarray(shuffled._indices.column(0).to_numpy())
    x, y = mnist_hf.to_numpy(shuffled)
    np.testing.assert_array_equal(x, _normalized(read_idx(folder / "train-images-idx3-ubyte.gz")[rows]))
    np.testing.assert_array_equal(y, read_idx(folder / "train-labels-idx1-ubyte.gz")[rows])
