"""The builder on synthetic IDX folders: splits, formats, options and bad input."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import re
import shutil
import struct
import tracemalloc
import zlib

import datasets
import numpy as np
import pytest
from helpers import FileServer, cache_is_clean, cache_leftovers, gz_files, make_idx_dir, verified_spec
from sklearn.model_selection import train_test_split

import mnist_hf
from mnist_hf import DataValidationError, IDXFormatError, MissingFilesError, split_indices
from mnist_hf.idx import write_idx
from mnist_hf.sources import SPECS

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
    ds = _load(data_dir, tmp_path, validation_size=50, validation_strategy=strategy, image_format="array",
               validation_seed=7)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 250, "validation": 50, "test": 60}
    images = arrays["train-images-idx3-ubyte"]
    # Expected rows from an independent derivation, not from the function under test: the
    # positional rules by hand; the random rule as documented (train_test_split's test part).
    expected = {
        "tail": np.arange(250, 300),
        "head": np.arange(50),
        "random": np.sort(train_test_split(np.arange(300), test_size=50, random_state=7)[1]),
    }[strategy]
    xv, _ = mnist_hf.to_numpy(ds["validation"], normalize=False)
    xt, _ = mnist_hf.to_numpy(ds["train"], normalize=False)
    np.testing.assert_array_equal(xv, images[expected])
    np.testing.assert_array_equal(xt, np.delete(images, expected, axis=0))


def test_random_split_is_seeded_and_stratifiable():
    labels = np.repeat(np.arange(10), 30)
    a = split_indices(300, 50, "random", seed=1, labels=labels)[1]
    b = split_indices(300, 50, "random", seed=1, labels=labels)[1]
    c = split_indices(300, 50, "random", seed=2, labels=labels)[1]
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
                               b"\x00\x00\x08\x03" + struct.pack(">III", 60, 28, 28) + np.random.default_rng(0).bytes(999))),
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
    assert cache_leftovers(tmp_path / "cache") == []  # only datasets' empty lock files (docs/guide/reliability.md, "Bad input")


def test_missing_files_lists_what_was_found(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    (data_dir / "train-labels-idx1-ubyte.gz").unlink()
    (data_dir / "notes.txt").write_text("hi")
    with pytest.raises(MissingFilesError) as err:
        _load(data_dir, tmp_path)
    msg = str(err.value)
    assert "train-labels-idx1-ubyte.gz" in msg and "Found there:" in msg and "notes.txt" in msg


BAD_OPTIONS = {
    "validation_strategy": ({"validation_size": 5, "validation_strategy": "middle"}, "validation_strategy must be one of"),
    "image_format": ({"image_format": "jpeg"}, "image_format must be one of"),
    "size as bool": ({"validation_size": True}, "validation_size must be a non-negative integer"),
    "size negative": ({"validation_size": -1}, "validation_size must be a non-negative integer"),
    "size float": ({"validation_size": 5.5}, "validation_size must be a non-negative integer"),
    "seed as str": ({"validation_seed": "1"}, "validation_seed must be a non-negative integer"),
    "stratify with tail": ({"validation_size": 5, "stratify": True}, "stratify=True needs validation_strategy='random'"),
    "stratify as str": ({"stratify": "yes"}, "stratify must be True or False"),
    "timeout as str": ({"timeout": "5"}, "timeout must be a positive number of seconds"),
    "timeout zero": ({"timeout": 0}, "timeout must be a positive number of seconds"),
    "timeout nan": ({"timeout": float("nan")}, "timeout must be a positive number of seconds"),
    "mirrors as int": ({"mirrors": 5}, "mirrors must be a string or a sequence of strings"),
    "empty mirror": ({"mirrors": ["http://a/", ""]}, "mirrors holds an empty string"),
    "system_dirs as int": ({"system_dirs": 3}, "system_dirs must be a string or a sequence of strings"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
@pytest.mark.parametrize("how", ["builder", "class"])
def test_bad_options_are_a_clear_value_error(synthetic_dir, tmp_path, case, how):
    data_dir, _ = synthetic_dir
    options, message = BAD_OPTIONS[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        if how == "builder":
            mnist_hf.builder("mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), **options)
        else:
            mnist_hf.MnistFamily(config_name="mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"),
                                 **options)


def test_validation_size_beyond_the_pool(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    with pytest.raises(ValueError, match="between 1 and 299"):
        _load(data_dir, tmp_path, validation_size=300)
    assert cache_is_clean(tmp_path / "cache")


def test_options_normalised_numpy_integers_and_one_mirror_string(synthetic_dir, tmp_path):
    data_dir, arrays = synthetic_dir
    b = mnist_hf.builder("mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "c"), system_dirs=str(tmp_path),
                         validation_size=np.int64(20), validation_seed=np.uint8(3), validation_strategy="random",
                         stratify=np.bool_(True), timeout=np.float32(2), mirrors="http://host/path/")
    cfg = b.config
    assert (cfg.validation_size, cfg.validation_seed, cfg.stratify, cfg.timeout) == (20, 3, True, 2.0)
    assert type(cfg.validation_size) is int and type(cfg.stratify) is bool and type(cfg.timeout) is float
    assert cfg.mirrors == ("http://host/path/",) and cfg.system_dirs == (str(tmp_path),)
    b.download_and_prepare()
    assert b.as_dataset()["validation"].num_rows == 20


def test_options_are_validated_once_per_config(synthetic_dir, tmp_path, monkeypatch):
    """Validation runs at the one point every config passes (the builder's _create_builder_config):
    a predefined config as is, a copy with overrides (set by setattr, which skips __post_init__),
    and the default config."""
    data_dir, _ = synthetic_dir
    calls = []
    original = mnist_hf.MnistConfig.validate
    monkeypatch.setattr(mnist_hf.MnistConfig, "validate", lambda self: calls.append(self) or original(self))
    for name, options in (("mnist", {"validation_size": 5}), ("mnist", {}), (None, {"validation_size": 3})):
        calls.clear()
        b = mnist_hf.MnistFamily(config_name=name, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"), **options)
        assert calls == [b.config], (name, options)


def test_options_are_listed_once_with_defaults_and_help():
    fields = {f.name: f for f in dataclasses.fields(mnist_hf.MnistConfig)}
    listed = mnist_hf.options()
    assert list(listed) == ["validation_size", "validation_strategy", "validation_seed", "stratify", "image_format", "compat",
                            "mirrors", "system_dirs", "timeout"]
    for name, (default, text) in listed.items():
        assert default == fields[name].default and text and "\n" not in text
    # api.builder and api.load re-list none of them: their options go straight to MnistConfig.
    for fn in (mnist_hf.api.builder, mnist_hf.api.load):
        assert not set(inspect.signature(fn).parameters) & set(listed)



def test_the_config_docstring_documents_every_option_as_defined():
    # The docstring is written out (not generated at import); this keeps it in step with the fields.
    doc = inspect.getdoc(mnist_hf.MnistConfig)
    section = doc.split("Parameters\n----------\n")[1].split("\n\n")[0]
    entries = re.findall(r"^(\w+) : (.+), default (.+)\n    (.+)$", section, re.M)
    hints = {f.name: str(f.type) for f in dataclasses.fields(mnist_hf.MnistConfig)}
    assert [e[0] for e in entries] == list(mnist_hf.options())
    for name, type_, default, text in entries:
        value, help_text = mnist_hf.options()[name]
        assert (type_, default) == (hints[name], repr(value)), name
        assert text == help_text[:1].upper() + help_text[1:] + ".", name


def test_image_and_label_counts_are_compared_before_reading_data(synthetic_dir, tmp_path):
    """A small gzip of zeros whose header declares far more images than the labels: it must fail
    on the counts without allocating what the header declares."""
    data_dir, _ = synthetic_dir
    declared = 50_000  # 39 MB of pixels in a ~40 kB file (fewer than the 60,000 published: see test_bombs.py)
    header = b"\x00\x00\x08\x03" + struct.pack(">III", declared, 28, 28)
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(data_dir / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(co.compress(header))
        for _ in range(declared // 1000):
            f.write(co.compress(bytes(784 * 1000)))
        f.write(co.flush())
    tracemalloc.start()
    try:
        with pytest.raises(DataValidationError, match=r"holds 50,000 images but .* holds 300 labels"):
            _load(data_dir, tmp_path, image_format="array")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 1e6:.0f} MB for {declared * 784 / 1e6:.0f} MB declared"


def test_streamed_rows_match_the_in_memory_path(synthetic_dir, tmp_path, monkeypatch):
    """Verified archives are streamed in STREAM_ROWS blocks and validation rows picked per block
    with searchsorted; unverified files are read whole. Both must give the same rows."""
    data_dir, arrays = synthetic_dir
    options = dict(validation_size=60, validation_strategy="random", stratify=True, validation_seed=4,
                   image_format="array")
    monkeypatch.setattr(mnist_hf.MnistFamily, "STREAM_ROWS", 7)
    in_memory = _load(data_dir, tmp_path / "memory", **options)
    monkeypatch.setitem(SPECS, "mnist", verified_spec(SPECS["mnist"], data_dir))
    b = mnist_hf.builder("mnist", data_dir=str(data_dir), cache_dir=str(tmp_path / "stream"), system_dirs=(),
                         **options)
    b.download_and_prepare()
    assert {r["verification"] for r in mnist_hf.read_provenance(b.cache_dir).values()} == {"md5"}
    streamed = b.as_dataset()
    val_rows = split_indices(300, 60, "random", seed=4, labels=arrays["train-labels-idx1-ubyte"])[1]
    assert (val_rows % 7 == 0).any()  # a validation row starts a block: where searchsorted's side matters
    for split in ("train", "validation", "test"):
        xs, ys = mnist_hf.to_numpy(streamed[split], normalize=False)
        xm, ym = mnist_hf.to_numpy(in_memory[split], normalize=False)
        np.testing.assert_array_equal(xs, xm)
        np.testing.assert_array_equal(ys, ym)
    np.testing.assert_array_equal(mnist_hf.to_numpy(streamed["validation"], normalize=False)[0],
                                  arrays["train-images-idx3-ubyte"][val_rows])


def test_system_copy_is_used_when_verified_only(synthetic_dir, tmp_path, monkeypatch, online):
    """A system folder whose files don't all verify is ignored and the mirrors are used (the server
    is hit); once it verifies, it is used and the server is not."""
    data_dir, _ = synthetic_dir
    monkeypatch.setitem(SPECS, "mnist", verified_spec(SPECS["mnist"], data_dir))
    system = tmp_path / "system"
    shutil.copytree(data_dir, system)
    write_idx(system / "t10k-labels-idx1-ubyte.gz", np.zeros(60, np.uint8))  # well-formed, not the published file
    server = FileServer(gz_files(data_dir))
    server.mirrors["m"] = "ok"
    try:
        def load(cache):
            b = mnist_hf.builder("mnist", cache_dir=str(tmp_path / cache), system_dirs=[str(system)],
                                 mirrors=[server.url("m")], image_format="array")
            b.download_and_prepare()
            return {r["origin"] for r in mnist_hf.read_provenance(b.cache_dir).values()}

        assert load("c1") == {server.url("m") + name for name in gz_files(data_dir)}
        assert server.total_hits() >= 4
        shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", system)
        hits = server.total_hits()
        assert load("c2") == {f"system copy {system}"}
        assert server.total_hits() == hits
    finally:
        server.close()
