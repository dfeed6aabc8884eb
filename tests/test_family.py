"""QMNIST (with its writer metadata), QMNIST's nist files and EMNIST, on synthetic files in the exact
published formats, served by a local HTTP server as the real ones would be (no QMNIST or EMNIST
file is available offline)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import string
import tracemalloc
import zipfile

import datasets
import numpy as np
import pytest
from helpers import (
    EMNIST_SIZES,
    FileServer,
    all_files,
    cache_is_clean,
    make_emnist_zip,
    make_nist_dir,
    make_qmnist_dir,
    verified_spec,
)

import mnist_hf
import splitters
from mnist_hf import DataValidationError, IDXFormatError, read_provenance
from mnist_hf.arrays import label_array
from mnist_hf.idx import iter_idx, read_idx, write_idx
from mnist_hf.sources import SPECS

METADATA = ["hsf_series", "writer_id", "writer_digit_index", "nist_class_code", "nist_index", "duplicate"]
EMNIST = [name for name in SPECS if name.startswith("emnist_")]


def _builder_dir(tmp_path):
    (info,) = (tmp_path / "cache").rglob("dataset_info.json")
    return info.parent


def _column(ds, name):
    return label_array(ds, name)


@pytest.fixture(scope="module")
def qmnist_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("qmnist")
    return directory, make_qmnist_dir(directory)


@pytest.fixture
def qmnist_server(qmnist_files, monkeypatch, online):
    directory, arrays = qmnist_files
    monkeypatch.setitem(SPECS, "qmnist", verified_spec(SPECS["qmnist"], directory))
    server = FileServer(all_files(directory))
    server.mirrors["ok"] = "ok"
    server.mirrors["gone"] = "404"
    yield server, arrays
    server.close()


def _load(name, server, tmp_path, mirrors=("ok",), **kw):
    return mnist_hf.load(name, cache_dir=str(tmp_path / "cache"), mirrors=[server.url(m) for m in mirrors],
                         system_dirs=(), image_format=kw.pop("image_format", "array"), **kw)


# --- QMNIST ----------------------------------------------------------------------------------


def test_qmnist_download_checksum_decode_metadata_and_test_views(qmnist_server, tmp_path):
    server, arrays = qmnist_server
    ds = _load("qmnist", server, tmp_path, mirrors=("gone", "ok"))
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 600, "test": 60000, "test10k": 10000, "test50k": 50000}
    features = ds["train"].features
    assert list(features) == ["image", "label", *METADATA]
    assert all(features[c] == datasets.Value("int32") for c in METADATA)
    assert features["label"].names == [str(d) for d in range(10)]
    for split, part, rows in (("train", "train", slice(None)), ("test", "test", slice(None)),
                              ("test10k", "test", slice(0, 10000)), ("test50k", "test", slice(10000, 60000))):
        images, labels = arrays[part]
        x, y = mnist_hf.to_numpy(ds[split], normalize=False)
        np.testing.assert_array_equal(x, images[rows])
        np.testing.assert_array_equal(y, labels[rows, 0])
        for c in SPECS["qmnist"].metadata:
            np.testing.assert_array_equal(_column(ds[split], c.name), labels[rows, c.index], err_msg=c.name)
    provenance = read_provenance(_builder_dir(tmp_path))
    assert {r["verification"] for r in provenance.values()} == {"md5"}
    assert {r["origin"].split("/")[3] for r in provenance.values()} == {"ok"}  # after the 404 mirror


def test_qmnist_compat_gives_image_and_label_only(qmnist_server, tmp_path):
    server, arrays = qmnist_server
    ds = _load("qmnist", server, tmp_path, compat=True, validation_size=100, validation_strategy="random",
               stratify=True)
    assert list(ds["train"].features) == ["image", "label"]
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 500, "validation": 100, "test": 60000,
                                                    "test10k": 10000, "test50k": 50000}
    # stratified on the class column of the 8-column label file
    assert np.bincount(label_array(ds["validation"])).tolist() == [10] * 10


def test_qmnist_rejects_a_wrong_checksum_and_a_bad_compat(qmnist_files, tmp_path, online):
    directory, _ = qmnist_files
    server = FileServer(all_files(directory))  # the synthetic files, against the real published MD5s
    server.mirrors["ok"] = "ok"
    try:
        with pytest.raises(mnist_hf.ChecksumError, match="checksum mismatch"):
            _load("qmnist", server, tmp_path)
    finally:
        server.close()
    assert cache_is_clean(tmp_path / "cache")
    with pytest.raises(ValueError, match="compat must be True or False, got 'yes'"):
        mnist_hf.builder("qmnist", compat="yes")


def test_qmnist_writer_groups_feed_the_group_split(qmnist_server, tmp_path):
    """split_dataset takes a column name as groups: whole writers go to validation."""
    server, _ = qmnist_server
    train = _load("qmnist", server, tmp_path)["train"]
    parts = splitters.split_dataset(train, splitters.GroupSplit(val_size=100, random_state=0), groups="writer_id")
    tr, va = (set(_column(parts[k], "writer_id").tolist()) for k in ("train", "validation"))
    assert va and tr and not tr & va
    assert parts["validation"].num_rows == 100 and parts["train"].num_rows == 500


def test_qmnist_label_file_with_wrong_width_or_short_test(tmp_path):
    directory = tmp_path / "q"
    make_qmnist_dir(directory, n_train=50, n_test=10001)
    with pytest.raises(DataValidationError, match=r"test part has 10,001 rows, but the test50k split"):
        mnist_hf.load("qmnist", data_dir=str(directory), cache_dir=str(tmp_path / "c"), image_format="array")
    write_idx(directory / "qmnist-train-labels-idx2-int.gz", np.zeros((50, 7), np.int32))
    with pytest.raises(DataValidationError, match=r"expected integer labels of shape \(N, 8\).*\(50, 7\)"):
        mnist_hf.load("qmnist", data_dir=str(directory), cache_dir=str(tmp_path / "c2"), image_format="array")
    assert cache_is_clean(tmp_path / "c") and cache_is_clean(tmp_path / "c2")


# --- QMNIST's nist files (xz) ------------------------------------------------------------------


def test_nist_xz_files_download_and_decode(tmp_path, monkeypatch, online):
    images, labels = make_nist_dir(tmp_path / "src")
    monkeypatch.setitem(SPECS, "nist", verified_spec(SPECS["nist"], tmp_path / "src"))
    server = FileServer(all_files(tmp_path / "src"))
    server.mirrors["ok"] = "ok"
    try:
        ds = _load("nist", server, tmp_path, validation_size=90)
    finally:
        server.close()
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 810, "validation": 90}
    x, y = mnist_hf.to_numpy(ds["validation"], normalize=False)
    np.testing.assert_array_equal(x, images[-90:])
    np.testing.assert_array_equal(_column(ds["validation"], "hsf_series"), labels[-90:, 1])


def test_xz_idx_reading_and_its_errors(tmp_path):
    path = tmp_path / "a.xz"
    data = np.arange(2 * 3 * 4, dtype=np.int32).reshape(6, 4)
    write_idx(path, data)
    np.testing.assert_array_equal(read_idx(path), data)
    np.testing.assert_array_equal(np.concatenate(list(iter_idx(path, 4))), data)
    raw = path.read_bytes()
    (tmp_path / "two.xz").write_bytes(raw + b"\0" * 4)  # stream padding is allowed
    np.testing.assert_array_equal(read_idx(tmp_path / "two.xz"), data)
    for name, body, message in (("cut.xz", raw[:-10], "truncated xz stream|corrupt xz data"),
                                ("junk.xz", raw + b"junk", r"trailing garbage: 4 bytes after the end of the xz data"),
                                ("flip.xz", raw[:40] + bytes([raw[40] ^ 0xFF]) + raw[41:], "corrupt xz data")):
        (tmp_path / name).write_bytes(body)
        with pytest.raises(IDXFormatError, match=message) as err:
            read_idx(tmp_path / name)
        assert name in str(err.value)


# --- EMNIST ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emnist_zip(tmp_path_factory):
    directory = tmp_path_factory.mktemp("emnist")
    return directory, make_emnist_zip(directory / "gzip.zip")


@pytest.fixture
def emnist_server(emnist_zip, monkeypatch, online):
    directory, arrays = emnist_zip
    for name in EMNIST:
        monkeypatch.setitem(SPECS, name, verified_spec(SPECS[name], directory))
    server = FileServer(all_files(directory))
    server.mirrors["ok"] = "ok"
    server.mirrors["down"] = "500"
    yield server, arrays
    server.close()


def test_emnist_class_names_match_the_published_splits():
    names = {n.removeprefix("emnist_"): SPECS[n].class_names for n in EMNIST}
    digits, upper, lower = list(string.digits), list(string.ascii_uppercase), list(string.ascii_lowercase)
    assert list(names["byclass"]) == sorted(string.digits + string.ascii_letters) == digits + upper + lower
    assert list(names["bymerge"]) == list(names["balanced"]) == digits + upper + list("abdefghnqrt")
    assert list(names["letters"]) == lower and SPECS["emnist_letters"].label_offset == 1
    assert list(names["digits"]) == list(names["mnist"]) == digits
    assert {k: len(v) for k, v in names.items()} == {k: v[0] for k, v in EMNIST_SIZES.items()}
    assert {n: SPECS[n].split_sizes["train"] + SPECS[n].split_sizes["test"] for n in EMNIST}["emnist_byclass"] == 814255


@pytest.mark.parametrize("name", EMNIST)
def test_emnist_every_split_from_the_one_archive(emnist_server, tmp_path, name):
    server, arrays = emnist_server
    split = name.removeprefix("emnist_")
    ds = _load(name, server, tmp_path, mirrors=("down", "ok"))
    for part in ("train", "test"):
        upright, stored = arrays[split][part]
        x, y = mnist_hf.to_numpy(ds[part], normalize=False)
        np.testing.assert_array_equal(x, upright)  # stored transposed, returned upright
        np.testing.assert_array_equal(y, stored - SPECS[name].label_offset)
    assert ds["train"].features["label"].names == list(SPECS[name].class_names)
    assert [p.name for p in (tmp_path / "cache").rglob("*emnist*.gz")] == []  # members read in place


def test_emnist_images_come_out_upright_as_png(emnist_server, tmp_path):
    """The asymmetric glyph (an L: stroke down column 6, foot along row 23) survives PNG encoding upright."""
    server, arrays = emnist_server
    ds = _load("emnist_letters", server, tmp_path, image_format="png")
    image = np.asarray(ds["test"][3]["image"])
    assert image[4:24, 6].min() == 255 and image[23, 6:14].min() == 255
    assert not (image[6, 4:24] == 255).all()  # transposed, the stroke would run along row 6
    np.testing.assert_array_equal(image, arrays["letters"]["test"][0][3])
    assert ds["test"][3]["label"] == (3 % 26)
    assert ds["test"].features["label"].int2str(ds["test"][3]["label"]) == "d"


def test_emnist_letters_label_zero_is_rejected(tmp_path):
    make_emnist_zip(tmp_path / "d" / "gzip.zip", rows={"letters": (30, 10)})
    with zipfile.ZipFile(tmp_path / "d" / "gzip.zip") as z:
        members = {n: z.read(n) for n in z.namelist()}
    bad = tmp_path / "bad" / "gzip.zip"
    bad.parent.mkdir()
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            if n.endswith("letters-test-labels-idx1-ubyte.gz"):
                write_idx(tmp_path / "zero.gz", np.zeros(10, np.uint8))
                data = (tmp_path / "zero.gz").read_bytes()
            z.writestr(n, data)
    with pytest.raises(DataValidationError, match=r"gzip.zip::gzip/emnist-letters-test-labels.*outside 1\.\.26"):
        mnist_hf.load("emnist_letters", data_dir=str(bad.parent), cache_dir=str(tmp_path / "c"), image_format="array")
    assert cache_is_clean(tmp_path / "c")


def test_emnist_missing_or_corrupt_member_names_the_archive_and_member(tmp_path):
    make_emnist_zip(tmp_path / "d" / "gzip.zip", rows={"digits": (30, 10)})
    with pytest.raises(IDXFormatError, match=r"gzip.zip: the zip archive has no member 'gzip/emnist-mnist-train"):
        mnist_hf.load("emnist_mnist", data_dir=str(tmp_path / "d"), cache_dir=str(tmp_path / "c"))
    # a flipped byte inside a stored member: zip's CRC catches it
    stored = tmp_path / "s" / "gzip.zip"
    make_emnist_zip(stored, rows={"digits": (30, 10)}, compression=zipfile.ZIP_STORED)
    data = bytearray(stored.read_bytes())
    with zipfile.ZipFile(stored) as z:
        info = z.getinfo("gzip/emnist-digits-train-images-idx3-ubyte.gz")
    at = info.header_offset + 30 + len(info.filename) + info.compress_size - 20  # inside the member's data
    data[at] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IDXFormatError, match=r"emnist-digits-train-images-idx3-ubyte.gz: (corrupt|truncated)"):
        mnist_hf.load("emnist_digits", data_dir=str(stored.parent), cache_dir=str(tmp_path / "c2"))
    assert cache_is_clean(tmp_path / "c2")


LETTERS_IMAGES = "gzip/emnist-letters-train-images-idx3-ubyte.gz"


def _rewrite_member(path, name, edit):
    """Apply ``edit(data, info, local_header_offset, central_entry_offset)`` to the archive's bytes."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    central = next(i for i in range(len(data)) if data.startswith(b"PK\x01\x02", i)
                   and data[i + 46 : i + 46 + len(name)] == name.encode())
    edit(data, info, info.header_offset, central)
    path.write_bytes(bytes(data))


def _encrypt(data, info, local, central):
    data[local + 6] |= 1  # general purpose flag bit 0, in the local header and the directory
    data[central + 8] |= 1


def _corrupt_deflate(data, info, local, central):
    start = local + 30 + len(info.filename) + len(info.extra)
    data[start] = 0xFF  # a deflate block type 3 (reserved): zlib.error at once, before any CRC check


def _bzip2(path):
    # Rewrite the archive with the member compressed by bzip2 (zip method 12).
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content, compress_type=zipfile.ZIP_BZIP2 if name == LETTERS_IMAGES else None)


@pytest.mark.parametrize("damage, problem", [
    ("encrypted", "the zip member is encrypted (password-protected): not a published archive"),
    ("corrupt deflate", "corrupt zip member (Error -3 while decompressing data: invalid block type)"),
    ("bzip2", "the zip member is compressed with bzip2; only stored and deflate members are read"),
])
def test_emnist_member_faults_are_one_plain_line_naming_the_member(tmp_path, capsys, damage, problem):
    # Issue 19, case 2: an encrypted member ended prepare with RuntimeError's traceback (exit 1); a
    # bzip2 member could expand to gigabytes in one read.
    from mnist_hf.__main__ import main

    archive = tmp_path / "d" / "gzip.zip"
    make_emnist_zip(archive, rows={"letters": (52, 26)})
    if damage == "bzip2":
        _bzip2(archive)
    else:
        _rewrite_member(archive, LETTERS_IMAGES, _encrypt if damage == "encrypted" else _corrupt_deflate)
    code = main(["prepare", "emnist_letters", "--data-dir", str(archive.parent), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {archive}::{LETTERS_IMAGES}: {problem}\n", err
    assert cache_is_clean(tmp_path / "c")


def test_a_zip_member_name_that_is_not_utf8_is_an_archive_error(tmp_path):
    # Found by the zip fuzzing: zipfile decodes a name flagged UTF-8 and raised UnicodeDecodeError.
    archive = tmp_path / "d" / "gzip.zip"
    make_emnist_zip(archive, rows={"letters": (52, 26)})

    def bad_name(data, info, local, central):
        data[local + 7] |= 0x08  # the UTF-8 name flag (bit 11), local header only
        data[local + 30 + 5] = 0xED  # a byte that starts no valid UTF-8 sequence here

    _rewrite_member(archive, LETTERS_IMAGES, bad_name)
    with pytest.raises(IDXFormatError, match=r"gzip.zip::gzip/emnist-letters-train-images.*cannot open the zip member"):
        read_idx(mnist_hf.archives.ZipMember(str(archive), LETTERS_IMAGES))


def test_emnist_streams_with_bounded_memory(tmp_path, monkeypatch):
    """A verified archive's images are streamed in 5,000-row blocks (3.9 MB): memory is a few blocks
    (decompressing, transposing, writing), far below the 78 MB of pixels, whatever their number."""
    n = 100_000
    make_emnist_zip(tmp_path / "d" / "gzip.zip", rows={"digits": (n, 10)})
    monkeypatch.setitem(SPECS, "emnist_digits", verified_spec(SPECS["emnist_digits"], tmp_path / "d"))
    b = mnist_hf.builder("emnist_digits", data_dir=str(tmp_path / "d"), cache_dir=str(tmp_path / "c"),
                         image_format="array")
    tracemalloc.start()
    try:
        b.download_and_prepare()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert b.as_dataset("train").num_rows == n
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB for {n * 784 / 2**20:.1f} MiB of pixels"


# --- published checksums ----------------------------------------------------------------------------


def test_every_recorded_checksum_has_the_right_shape():
    """A mistyped real checksum (wrong length, a non-hex character, upper case) fails here."""
    for name, spec in SPECS.items():
        for role, f in spec.files.items():
            assert re.fullmatch(r"[0-9a-f]{32}", f.md5), (name, role, f.md5)
            assert f.content_sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.content_sha256), (name, role)
            assert f.size is None or f.size > 0
    assert SPECS["qmnist"].files["test_labels"].md5 == "5b5b05890a5e13444e108efe57b788aa"
    assert {SPECS[n].files["archive"].md5 for n in EMNIST} == {"58c8d27c78d21e728a6bc7b3cc06412e"}


def test_checksum_shape_check_catches_a_typo():
    typo = dataclasses.replace(SPECS["qmnist"].files["train_images"], md5="ed72d4157d28c017586c42bc6afe637")
    assert not re.fullmatch(r"[0-9a-f]{32}", typo.md5)
    assert hashlib.md5(b"").hexdigest() != typo.md5


# --- export ------------------------------------------------------------------------------------------


def test_export_lists_the_new_configs_with_their_metadata(qmnist_files, tmp_path):
    from huggingface_hub import DatasetCard

    from mnist_hf.export import export

    directory, arrays = qmnist_files
    make_emnist_zip(tmp_path / "e" / "gzip.zip", rows={"letters": (52, 26)})
    out = tmp_path / "out"
    export("qmnist", out, data_dir=str(directory), cache_dir=str(tmp_path / "c"), image_format="array")
    export("emnist_letters", out, data_dir=str(tmp_path / "e"), cache_dir=str(tmp_path / "c"))
    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert [c["config_name"] for c in meta["configs"]] == ["emnist_letters", "qmnist"]
    (qinfo,) = [i for i in meta["dataset_info"] if i["config_name"] == "qmnist"]
    assert {s["name"]: s["num_examples"] for s in qinfo["splits"]} == {
        "train": 600, "test": 60000, "test10k": 10000, "test50k": 50000}
    assert [f["name"] for f in qinfo["features"]] == ["image", "label", *METADATA]
    assert "`writer_id`: NIST writer ID" in card.text and "Cold Case" in card.text and "EMNIST" in card.text
    back = datasets.load_dataset(str(out), "qmnist", split="test50k")
    np.testing.assert_array_equal(label_array(back, "hsf_series"), arrays["test"][1][10000:, 1])
    letters = datasets.load_dataset(str(out), "emnist_letters", split="test")
    assert letters.features["label"].names[:3] == ["a", "b", "c"]


# --- writer-population comparison (compare-splits: mnist_compare/cli.py) --------------------------------


def _compare_script():
    from mnist_compare import cli

    return cli


def test_compare_pool_and_test_from_different_writer_populations(qmnist_files, tmp_path, capsys, monkeypatch):
    directory, arrays = qmnist_files
    script = _compare_script()
    seen = {}
    original = splitters.compare_strategies

    def spy(X, y, X_test, y_test, **kw):
        seen.update(n=len(X), n_test=len(X_test), groups=kw["groups"])
        return original(X, y, X_test, y_test, **kw)

    monkeypatch.setattr(script.splitters, "compare_strategies", spy)
    out = tmp_path / "r"
    argv = ["--dataset", "qmnist", "--data-dir", str(directory), "--cache-dir", str(tmp_path / "c"),
            "--pool-where", "hsf_series=0,1", "--test-where", "hsf_series=4", "--group-column", "writer_id",
            "--strategies", "random", "group", "--models", "lda", "naive_bayes", "--repeats", "1",
            "--val-size", "2000", "--n-components", "5", "--n-jobs", "1", "--out", str(out)]
    assert script.main(argv) == 0
    labels = np.concatenate([arrays["train"][1], arrays["test"][1]])
    students = labels[:, 1] == 4
    assert seen["n"] == (~students).sum() and seen["n_test"] == students.sum()
    np.testing.assert_array_equal(seen["groups"], labels[~students, 2])  # writers of the pool rows, in order
    printed = capsys.readouterr().out
    assert "pool hsf_series in [0, 1]; test hsf_series in [4]" in printed
    assert "group" in printed and (out / "report.md").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--strategies", "group"], "the group strategy needs --group-column"),
    (["--pool-where", "hsf_series"], "expected COLUMN=V"),
    (["--pool-where", "hsf_series=a"], "expected COLUMN=V"),
    (["--test-where", "hsf_series=4", "--target-images", "x.gz"], "don't combine them"),
])
def test_compare_metadata_options_are_checked(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        _compare_script().parse_args(["--dataset", "qmnist", *extra])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_compare_unknown_or_overlapping_metadata(qmnist_files, tmp_path):
    directory, _ = qmnist_files
    base = ["--dataset", "qmnist", "--data-dir", str(directory), "--cache-dir", str(tmp_path / "c"),
            "--models", "lda", "--repeats", "1", "--n-jobs", "1", "--out", str(tmp_path / "r")]
    script = _compare_script()
    with pytest.raises(SystemExit, match="the dataset has no column 'writer'; its columns are"):
        script.main([*base, "--test-where", "writer=4"])
    with pytest.raises(SystemExit, match="rows are in both the pool and the test set"):
        script.main([*base, "--pool-where", "hsf_series=0,4", "--test-where", "hsf_series=4"])
    with pytest.raises(SystemExit, match="no row is in the test set"):
        script.main([*base, "--test-where", "hsf_series=3"])
