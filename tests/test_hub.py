"""Export to Parquet + dataset card, load back, and push through a faked Hub API."""

from __future__ import annotations

import builtins
import errno
import fnmatch
import hashlib
import inspect
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import create_autospec

import datasets
import numpy as np
import pytest
from huggingface_hub import DatasetCard, DatasetCardData, HfApi
from test_export_atomic import _sizes, _state

import mnist_hf
from mnist_hf import card as card_module
from mnist_hf import push
from mnist_hf.__main__ import main
from mnist_hf.export import LOCK, export
from mnist_hf.export import _refers_to as refers_to
from mnist_hf.sources import SPECS


def _pixels_and_labels(ds):
    return mnist_hf.to_numpy(ds, normalize=False)


def _assert_same_rows(a, b):
    xa, ya = _pixels_and_labels(a)
    xb, yb = _pixels_and_labels(b)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(xa, xb)


def _round_trip_real(shared_data, tmp_path, image_format):
    opts = {"data_dir": str(shared_data / "fashion-mnist"), "cache_dir": str(tmp_path / "cache"), "system_dirs": (),
            "validation_size": 5000, "validation_strategy": "random", "stratify": True, "image_format": image_format}
    out = tmp_path / "out"
    export("fashion_mnist", out, **opts)
    built = mnist_hf.load("fashion_mnist", **opts)
    back = datasets.load_dataset(str(out), "fashion_mnist", cache_dir=str(tmp_path / "lb"))
    assert set(back) == set(built) == {"train", "validation", "test"}
    for split in built:
        assert back[split].features == built[split].features
        assert back[split].num_rows == built[split].num_rows
        _assert_same_rows(back[split], built[split])
    streamed = datasets.load_dataset(str(out), "fashion_mnist", streaming=True)
    first = list(streamed["test"].take(50))
    x, y = _pixels_and_labels(built["test"].select(range(50)))
    np.testing.assert_array_equal([r["label"] for r in first], y)
    np.testing.assert_array_equal(np.stack([np.asarray(r["image"], dtype=np.uint8) for r in first]), x)


@pytest.mark.real_data
@pytest.mark.parametrize("image_format", ["png", "array"])
def test_round_trip_real_fashion_mnist(shared_data, tmp_path, image_format):
    _round_trip_real(shared_data, tmp_path, image_format)


@pytest.mark.loading_script  # runs in the datasets 3.6 environment too
@pytest.mark.real_data
def test_round_trip_real_fashion_mnist_on_this_datasets(shared_data, tmp_path):
    _round_trip_real(shared_data, tmp_path, "png")


def _synthetic_opts(synthetic_dir, tmp_path, **kw):
    data_dir, _ = synthetic_dir
    return {"data_dir": str(data_dir), "cache_dir": str(tmp_path / "cache"), "system_dirs": (), **kw}


def test_configs_accumulate_and_card_names_everything(synthetic_dir, tmp_path):
    from huggingface_hub import DatasetCard

    out = tmp_path / "out"
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=30))
    mnist_bytes = {p: p.read_bytes() for p in (out / "mnist").rglob("*") if p.is_file()}
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path, image_format="array"))
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path))  # re-export replaces, keeps mnist
    assert {p: p.read_bytes() for p in (out / "mnist").rglob("*") if p.is_file()} == mnist_bytes
    assert len(list((out / "kmnist").iterdir())) == 1  # the replaced version is gone

    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert {c["config_name"] for c in meta["configs"]} == {"mnist", "kmnist"}
    assert meta["task_categories"] == ["image-classification"]
    assert 'load_dataset("out", "kmnist")  # from the folder' in card.text  # the folder, not a placeholder
    assert "REPO_OR_FOLDER" not in card.text and str(tmp_path) not in card.text
    assert sorted(meta["license"]) == ["cc-by-sa-3.0", "cc-by-sa-4.0"]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in infos["mnist"]["splits"]} == {"train": 270, "validation": 30, "test": 60}
    assert {s["name"] for s in infos["kmnist"]["splits"]} == {"train", "test"}
    # every declared data_files pattern matches files, and every parquet file is declared
    declared = set()
    for c in meta["configs"]:
        for df in c["data_files"]:
            matched = set(out.glob(df["path"]))
            assert matched, df
            declared |= matched
    assert declared == set(out.rglob("*.parquet"))
    assert card.text.count("<!-- config: kmnist -->") == 1 and "<!-- config: mnist -->" in card.text
    assert "do **not** match the published checksums" in card.text  # synthetic files, said plainly
    assert "the first" not in card.text and "the last 30 rows" in card.text
    ds = datasets.load_dataset(str(out), "kmnist", cache_dir=str(tmp_path / "lb"))
    built = mnist_hf.load("kmnist", **_synthetic_opts(synthetic_dir, tmp_path))
    _assert_same_rows(ds["test"], built["test"])


def test_export_failure_leaves_previous_export_intact(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    data_dir, _ = synthetic_dir
    (data_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(mnist_hf.IDXFormatError):
        export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names the synced files through /proc (Linux)")
def test_export_writes_the_documented_layout_and_syncs_it(synthetic_dir, tmp_path, monkeypatch):
    opts = _synthetic_opts(synthetic_dir, tmp_path, validation_size=10)
    built = mnist_hf.load("mnist", **opts)
    out = tmp_path / "a" / "b" / "out"  # created with its parents
    # the staging folder is inside the export folder (one filesystem, so the version folder moves in by a
    # rename), never in the system's temporary folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    written, synced = [], []
    real_to_parquet, real_fsync = datasets.Dataset.to_parquet, os.fsync

    def to_parquet(self, path, *args, **kwargs):
        written.append(Path(path))
        return real_to_parquet(self, path, *args, **kwargs)

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(datasets.Dataset, "to_parquet", to_parquet)
    monkeypatch.setattr(os, "fsync", fsync)
    max_shard_bytes = built["train"].data.nbytes // 3 + 1  # train in 3 shards, the smaller splits in one
    result = export("mnist", out, max_shard_bytes=max_shard_bytes, **opts)

    assert (result.out_dir, result.config) == (out, "mnist")
    version = result.files[0].parent
    shards = ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
              "validation-00000-of-00001.parquet", "test-00000-of-00001.parquet"]
    assert result.files == [version / s for s in shards] + [Path("README.md")]
    assert result.splits == {"train": 290, "validation": 10, "test": 60}
    assert result.sizes == {rel: (out / rel).stat().st_size for rel in result.files}
    assert sorted(p.name for p in (out / version).iterdir()) == sorted(shards)
    digest = hashlib.sha256()
    for name in sorted(shards):
        digest.update(name.encode() + b"\0" + (out / version / name).read_bytes())
    assert version == Path("mnist", digest.hexdigest()[:12])
    # staged in one folder under OUT_DIR/.CONFIG-XXXXXXXX, gone afterwards
    assert {p.name for p in written} == set(shards) and len({p.parent for p in written}) == 1
    data, staging = written[0].parent, written[0].parent.parent
    assert staging.parent == out and re.fullmatch(r"\.mnist-[a-z0-9_]{8}", staging.name) and not staging.exists()
    # every shard and the card reach the disk before the card is swapped in, and so do the renames
    assert {str(data / s) for s in shards} | {str(staging / "README.md"), str(out / "mnist"), str(out)} <= set(synced)
    back = datasets.load_dataset(str(out), "mnist", cache_dir=str(tmp_path / "lb"))
    for split in ("train", "validation", "test"):  # shards hold consecutive rows: the order is kept
        _assert_same_rows(back[split], built[split])


def test_an_export_touches_only_what_it_owns_and_repairs_what_an_interrupted_one_left(synthetic_dir, tmp_path,
                                                                                        monkeypatch, caplog):
    root = tmp_path / "x"
    out = root / "out"
    first = export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    old = out / first.files[0].parent
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=20))
    assert not old.exists()
    # an interrupted cleanup left half of the first version behind, unreferenced
    old.mkdir()
    (old / "train-00000-of-00001.parquet").write_bytes(b"half")
    # the owner edited the card: a configuration without data files, one that is no folder name, and words
    # that are not ASCII; and keeps files of their own next to the export
    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    meta["configs"] += [{"config_name": "notes", "data_files": []},
                        {"config_name": "..", "data_files": [{"split": "train", "path": "nothing/*.parquet"}]}]
    (out / "README.md").write_text(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{card.text}Thanks: café, 東京.\n",
                                   encoding="utf-8")
    (out / "notes").mkdir()
    (out / "notes" / "mine.csv").write_text("mine")
    (root / "beside.txt").write_text("mine too")
    # a prepared cache from before the builder kept a record of its sources
    records = list((tmp_path / "cache").rglob("mnist_hf_provenance.json"))
    assert records
    for record in records:
        record.unlink()
    real_open = builtins.open

    def ascii_locale_open(file, mode="r", *args, **kwargs):  # as under LC_ALL=C: text files default to ASCII
        if sys._getframe(1).f_globals.get("__name__") in ("mnist_hf.export", "mnist_hf.card") and "b" not in mode and not args:
            kwargs["encoding"] = kwargs.get("encoding") or "ascii"
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", ascii_locale_open)
    result = export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    monkeypatch.setattr(builtins, "open", real_open)

    assert out / result.files[0].parent == old and _state(out) == _sizes(10)  # the half folder was replaced
    assert [p.name for p in (out / "mnist").iterdir()] == [old.name]
    assert (out / "notes" / "mine.csv").read_text() == "mine" and (root / "beside.txt").read_text() == "mine too"
    card = DatasetCard.load(out / "README.md")
    assert [c["config_name"] for c in card.data.to_dict()["configs"]] == ["..", "mnist", "notes"]
    assert card.text.endswith("Thanks: café, 東京.\n")
    assert "converted from the original IDX files." in card.text  # no record: no claim about checksums


def test_a_failed_export_reports_its_own_error_even_when_the_cleanup_fails_too(synthetic_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path))
    real_rmdir = os.rmdir

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    def rmdir(path, *args, **kwargs):  # the staging folder cannot be removed either
        if re.fullmatch(r"\.mnist-[a-z0-9_]{8}", os.path.basename(path)):
            raise PermissionError(13, "Permission denied", path)
        return real_rmdir(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(datasets.Dataset, "to_parquet", disk_full)
        m.setattr(os, "rmdir", rmdir)
        with pytest.raises(OSError, match="No space left on device"):
            export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    assert _state(out) == _sizes(0)
    assert [p.name for p in out.iterdir() if p.name.startswith(".mnist-")]  # left behind, for the next export
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    assert _state(out) == _sizes(10) and not [p for p in out.iterdir() if p.name.startswith(".mnist-")]


# --- the dataset card, piece by piece (no build: fake configurations and tiny in-memory splits) -----

def _cfg(name="mnist", **kw):
    return SimpleNamespace(**{"name": name, "validation_size": 0, "validation_strategy": "tail", "validation_seed": 42,
                              "stratify": False, "compat": False, "image_format": "png", **kw})


def _tiny_prepared(name="mnist", rows=None, image_format="png", provenance=None, **cfg):
    features = datasets.Features({"image": datasets.Array2D((28, 28), "uint8"),
                                  "label": datasets.ClassLabel(names=list(SPECS[name].class_names))})
    splits = {split: datasets.Dataset.from_dict({"image": [np.zeros((28, 28), np.uint8)] * n, "label": [0] * n},
                                                features=features)
              for split, n in (rows or {"train": 3, "test": 2}).items()}
    return card_module.Prepared(_cfg(name, image_format=image_format, **cfg), splits, provenance or {})


REST = "; `train` holds the rest, in the original order. `test` is the published test set."


@pytest.mark.parametrize("options, sentence", [
    ({}, "No validation split: `train` and `test` as published."),
    ({"validation_size": 5000}, "`validation` holds the last 5,000 rows of the published training set (strategy `tail`)"
                                + REST),
    ({"validation_size": 10, "validation_strategy": "head"},
     "`validation` holds the first 10 rows of the published training set (strategy `head`)" + REST),
    ({"validation_size": 1234, "validation_strategy": "random", "validation_seed": 7},
     "`validation` holds 1,234 rows drawn at random (seed 7) from the published training set (strategy `random`)"
     + REST),
    ({"validation_size": 1234, "validation_strategy": "random", "validation_seed": 7, "stratify": True},
     "`validation` holds 1,234 rows drawn at random (seed 7, stratified by label) from the published training set "
     "(strategy `random`)" + REST),
])
def test_card_says_how_the_validation_split_was_made(options, sentence):
    cfg = _cfg()
    vars(cfg).update(options)
    assert card_module._validation_note(cfg) == sentence


@pytest.mark.parametrize("statuses, words", [
    ((), "the original IDX files"),  # a cache prepared before the builder kept a record
    (("md5", "md5"), "the original IDX files, each checked against its published MD5 or the SHA-256 of its content "
                     "before conversion"),
    (("md5", "content-sha256"), "the original IDX files, each checked against its published MD5 or the SHA-256 of its "
                                "content before conversion"),
    (("content-sha256",), "the original IDX files, each checked against its published MD5 or the SHA-256 of its "
                          "content before conversion"),
    (("md5", "unverified"), "IDX files that do **not** match the published checksums (a local or modified copy)"),
])
def test_card_says_whether_the_source_files_were_verified(statuses, words):
    provenance = {f"file{i}": {"verification": s} for i, s in enumerate(statuses)}
    assert card_module._provenance_note(provenance) == words


def test_card_lists_metadata_columns_only_where_there_are_any():
    qmnist = SPECS["qmnist"]
    note = card_module._metadata_note(_cfg("qmnist"), qmnist)
    assert note.startswith("\n- Metadata (int32, from the label files): `hsf_series`: NIST HSF series")
    assert note.count("; `") == len(qmnist.metadata) - 1 >= 2 and note.endswith(qmnist.metadata[-1].description + ".")
    assert all(f"`{c.name}`: {c.description}" in note for c in qmnist.metadata)
    assert card_module._metadata_note(_cfg("qmnist", compat=True), qmnist) == ""  # compat: image and label only
    assert card_module._metadata_note(_cfg("mnist"), SPECS["mnist"]) == ""
    section = card_module._section(_tiny_prepared("qmnist"))
    assert "`9`." + note + "\n- Validation: No validation split" in section


def test_size_categories_follow_the_hubs_bounds():
    # the Hub's size_categories tags: n<1K, 1K<n<10K, 10K<n<100K, 100K<n<1M, 1M<n<10M, ...
    assert [card_module._size_category(n) for n in (0, 999, 1000, 9_999, 10_000, 99_999, 100_000, 999_999, 1_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "10K<n<100K", "100K<n<1M", "100K<n<1M", "n>1M"]


@pytest.mark.parametrize("image_format, words", [("png", "PNG (`datasets.Image`)"),
                                                 ("array", "28x28 uint8 arrays (`datasets.Array2D`)")])
def test_card_section_describes_rows_features_and_use(image_format, words):
    prepared = _tiny_prepared("fashion_mnist", rows={"train": 1234, "test": 5}, image_format=image_format,
                              provenance={"x": {"verification": "md5"}})
    section = card_module._section(prepared)
    assert section.startswith("<!-- config: fashion_mnist -->\n## `fashion_mnist`\n")
    assert section.endswith("<!-- end config: fashion_mnist -->\n")
    assert "- Rows: `train` 1,234, `test` 5. Features: `image` as " + words + "; `label` as `ClassLabel`" in section
    assert "`T-shirt/top`, `Trouser`, `Pullover`," in section
    assert "- Source: https://github.com/zalandoresearch/fashion-mnist; converted from the original IDX files, each" \
        in section
    assert "- Validation: No validation split" in section and "- Licence: `mit`." in section
    assert 'load_dataset("REPO_OR_FOLDER", "fashion_mnist")' in section
    assert 'load_dataset("me/fm", "fashion_mnist")\n' in card_module._section(prepared, "me/fm")
    # A plain export names its folder, never a local path, and says what replaces it once pushed.
    folder = card_module._section(prepared, folder="fm_export")
    assert ('load_dataset("fm_export", "fashion_mnist")  # from the folder\'s parent; once pushed, '
            'the Hub repository\n') in folder
    assert 'load_dataset("me/fm", "fashion_mnist")\n' in card_module._section(prepared, "me/fm", "fm_export")


CARD_BY_HAND = """---
license: other
configs:
  config_name: kmnist
  data_files:
  - split: train
    path: kmnist/abc/train-*.parquet
dataset_info:
- config_name: kmnist
  splits:
  - name: train
    num_examples: 60000
  - name: test
    num_examples: 10000
- config_name: notes
---
# My MNIST collection

Words of the owner, kept.

<!-- config: mnist -->
an old mnist section
<!-- end config: mnist -->
<!-- config: kmnist -->
kmnist, untouched
<!-- end config: kmnist -->
Closing words, kept too.
"""


def test_card_merges_with_a_card_written_by_hand(tmp_path):
    (tmp_path / "README.md").write_text(CARD_BY_HAND)
    meta, text = card_module.load_card(tmp_path / "README.md")  # one entry as a mapping, as the Hub accepts
    prepared = _tiny_prepared("mnist", rows={"train": 3, "test": 2})
    card = DatasetCard(card_module.card_text(meta, text, prepared, "mnist/0123456789ab", "README.md"))
    meta = card.data.to_dict()
    assert [c["config_name"] for c in meta["configs"]] == ["kmnist", "mnist"]
    assert meta["configs"][1] == {"config_name": "mnist", "data_files": [
        {"split": "train", "path": "mnist/0123456789ab/train-*.parquet"},
        {"split": "test", "path": "mnist/0123456789ab/test-*.parquet"}]}
    assert [i["config_name"] for i in meta["dataset_info"]] == ["kmnist", "mnist", "notes"]
    info = meta["dataset_info"][1]
    nbytes = {split: d.data.nbytes for split, d in prepared.dataset.items()}
    assert info["splits"] == [{"name": "train", "num_bytes": nbytes["train"], "num_examples": 3},
                              {"name": "test", "num_bytes": nbytes["test"], "num_examples": 2}]
    assert info["dataset_size"] == nbytes["train"] + nbytes["test"]
    assert info["features"] == [{"name": "image", "dtype": {"array2_d": {"shape": [28, 28], "dtype": "uint8"}}},
                                {"name": "label", "dtype": {"class_label": {"names": {str(i): str(i) for i in range(10)}}}}]
    assert meta["license"] == ["cc-by-sa-3.0", "cc-by-sa-4.0"]
    assert meta["size_categories"] == ["10K<n<100K"]  # the largest configuration decides: kmnist's 70,000 rows
    assert meta["task_categories"] == ["image-classification"]
    assert meta["pretty_name"] == "MNIST family (kmnist, mnist, notes)"
    assert card.text.startswith("# My MNIST collection\n\nWords of the owner, kept.\n\n<!-- config: mnist -->\n## `mnist`")
    assert "an old mnist section" not in card.text
    assert "<!-- config: kmnist -->\nkmnist, untouched\n<!-- end config: kmnist -->\nClosing words, kept too.\n" \
        in card.text


def test_a_new_card_has_the_family_heading_then_the_section():
    card = DatasetCard(card_module.card_text({}, None, _tiny_prepared("mnist"), "mnist/0123456789ab", "README.md"))
    meta = card.data.to_dict()
    assert meta["license"] == "cc-by-sa-3.0" and meta["size_categories"] == ["n<1K"]
    assert meta["pretty_name"] == "MNIST family (mnist)"
    assert card.text.startswith("# MNIST-family datasets\n\nImage classification datasets in MNIST's format, converted "
                                "from their original IDX files by the `mnist-hf` builder (Parquet, one folder per "
                                "configuration).\n\n<!-- config: mnist -->\n")
    assert card.text.count("<!-- config: mnist -->") == 1
    # a section appended to a card's own text comes after exactly one blank line
    for own in ("# Notes by X", "# Notes with a line break  "):  # only newlines go: two spaces are a Markdown <br>
        card = DatasetCard(card_module.card_text({}, own + "\n\n\n\n", _tiny_prepared("mnist"), "mnist/0123456789ab", "x"))
        assert card.text.startswith(own + "\n\n<!-- config: mnist -->\n")


@pytest.mark.parametrize("header, key", [
    ("configs: just-a-string", "configs"),
    ("configs:\n- data_files: x/*.parquet", "configs"),
    ("configs:\n- just-a-string", "configs"),
    ("dataset_info:\n- splits: []", "dataset_info"),
])
def test_a_card_whose_entries_have_no_config_name_is_refused(tmp_path, header, key):
    path = tmp_path / "README.md"
    path.write_text(f"---\n{header}\n---\n# a card\n")
    with pytest.raises(card_module.CardError) as e:
        card_module.load_card(path)
    assert str(e.value) == f"{path}: `{key}` in the card's YAML header is not a list of entries with a config_name"
    with pytest.raises(card_module.CardError, match=r"^me/x/README\.md on the Hub: `"):
        card_module.load_card(path, "me/x/README.md on the Hub")


def test_a_card_that_does_not_parse_is_refused_with_the_parsers_words(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\npretty_name: 'unbalanced\nlicense: mit\n---\n# a card\n")
    with pytest.raises(card_module.CardError) as e:
        card_module.load_card(path)
    message = str(e.value)
    assert message.startswith(f"{path}: the dataset card's YAML header does not parse (")
    assert message.endswith("); fix it or remove the card, nothing was changed")
    assert "\n" not in message and "  " not in message and "while scanning a quoted scalar" in message
    assert card_module.load_card(tmp_path / "none.md") == ({}, None)


def test_data_files_patterns_in_every_form_the_hub_accepts():
    patterns = card_module.data_file_patterns
    assert patterns("a/*.parquet") == ["a/*.parquet"]
    assert patterns(["a/*.parquet", "b/*.parquet"]) == ["a/*.parquet", "b/*.parquet"]
    assert patterns({"split": "train", "path": "a/*.parquet"}) == ["a/*.parquet"]
    assert patterns([{"split": "train", "path": "a/*.parquet"}, {"split": "test", "path": ["b/1", "b/2"]},
                     {"split": "x"}, 3]) == ["a/*.parquet", "b/1", "b/2"]
    assert patterns(None) == [] and patterns({"split": "train", "path": 3}) == []  # was a TypeError
    meta = {"configs": [{"config_name": "mnist", "data_files": [{"split": "train", "path": "mnist/abc/train-*"}]},
                        {"config_name": "kmnist", "data_files": "kmnist/def/*.parquet"}]}
    assert refers_to(meta, "mnist", "mnist/abc") and refers_to(meta, "kmnist", "kmnist/def")
    assert not refers_to(meta, "mnist", "mnist/ab")  # a folder, not a name prefix
    assert not refers_to(meta, "mnist", "kmnist/def") and not refers_to({}, "mnist", "mnist/abc")


# --- push, against a fake Hub held to HfApi's real signatures ----------------------------------

TOKEN = "hf_SECRETtoken1234567890"
REPO = "my-lab/mnist-family"


def _http_error(status, message=None, cls=None):
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    return (cls or HfHubHTTPError)(message or f"{status} Client Error for url {request.url}",
                                   response=httpx2.Response(status, request=request))


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=lambda: {".gitattributes": b"*.parquet filter=lfs\n"})


def _matches(path: str, pattern: str) -> bool:
    # data_files globs: `*` stays within one folder, as on the Hub
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


class FakeHub:
    """The Hub as seen through ``HfApi``: ``api`` is ``create_autospec(HfApi, instance=True)``, so a
    call with a wrong argument fails as it would on the real class; the remote is one file tree per
    (repo_type, repo_id), and a commit's card is parsed and checked as the Hub does."""

    METHODS = ("whoami", "repo_exists", "create_repo", "list_repo_files", "hf_hub_download", "create_commit",
               "delete_repo")

    def __init__(self, downloads: Path, user: str = "me", orgs: tuple[str, ...] | None = ("my-lab",)):
        self.downloads, self.user, self.orgs = downloads, user, orgs
        self.repos: dict[tuple[str, str], Repo] = {}
        self.fail: dict[str, BaseException] = {}
        self.calls: list[str] = []
        self.commits: list[str] = []
        self.tokens: list = []
        self.timeouts: list = []  # huggingface_hub's client-wide timeout, as each request saw it
        self.api = create_autospec(HfApi, instance=True)
        for name in self.METHODS:
            getattr(self.api, name).side_effect = self._answer(name)
        self.cls = create_autospec(HfApi)
        self.cls.side_effect = self._construct

    def _construct(self, *args, **kwargs):
        self.tokens.append(inspect.signature(HfApi).bind(*args, **kwargs).arguments.get("token"))
        return self.api

    def _answer(self, name):
        signature = inspect.signature(getattr(HfApi, name))

        def answer(*args, **kwargs):
            from huggingface_hub import get_session

            self.calls.append(name)
            self.timeouts.append(getattr(get_session(), "timeout", None))
            if name in self.fail:
                raise self.fail[name]
            bound = signature.bind(None, *args, **kwargs)
            bound.apply_defaults()
            return getattr(self, "_" + name)(**{k: v for k, v in bound.arguments.items() if k != "self"})

        return answer

    def repo(self, repo_id, repo_type="dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def _get(self, repo_id, repo_type):
        key = (repo_type or "model", repo_id)  # HfApi's default repo_type is a model
        if key not in self.repos:
            raise _http_error(404, f"404 Repository Not Found for {key}")
        return self.repos[key]

    def _whoami(self, **kw):
        # a token of a user in no organisation: the Hub may leave "orgs" out
        return {"name": self.user, **({"orgs": [{"name": o} for o in self.orgs]} if self.orgs is not None else {})}

    def _repo_exists(self, repo_id, repo_type, **kw):
        return (repo_type or "model", repo_id) in self.repos

    def _create_repo(self, repo_id, repo_type, private, exist_ok, **kw):
        key = (repo_type or "model", repo_id)
        if key in self.repos and not exist_ok:
            raise _http_error(409, "409 Conflict: You already created this repo")
        self.repos.setdefault(key, Repo(private=bool(private)))

    def _list_repo_files(self, repo_id, repo_type, **kw):
        return sorted(self._get(repo_id, repo_type).files)

    def _hf_hub_download(self, repo_id, filename, repo_type, **kw):
        from huggingface_hub.errors import RemoteEntryNotFoundError

        files = self._get(repo_id, repo_type).files
        if filename not in files:
            raise _http_error(404, f"404 Entry Not Found: {filename}", RemoteEntryNotFoundError)
        path = self.downloads / f"{len(self.calls)}-{Path(filename).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[filename])
        return str(path)

    def _create_commit(self, repo_id, operations, commit_message, repo_type, **kw):
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        repo = self._get(repo_id, repo_type)
        files = dict(repo.files)
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                if op.path_in_repo not in files:
                    raise _http_error(404, f"404 cannot delete {op.path_in_repo}: not in the repository")
                del files[op.path_in_repo]
            else:
                assert isinstance(op, CommitOperationAdd)
                source = op.path_or_fileobj
                files[op.path_in_repo] = source if isinstance(source, bytes) else Path(source).read_bytes()
        if "README.md" in files:  # the Hub rejects a commit whose card metadata is invalid
            meta = DatasetCard(files["README.md"].decode()).data.to_dict()
            for config in meta.get("configs", []):
                for df in config["data_files"]:
                    if not any(_matches(f, df["path"]) for f in files):
                        raise _http_error(400, f"400 Bad Request: data_files {df['path']} match nothing")
        repo.files = files
        self.commits.append(commit_message)

    def _delete_repo(self, repo_id, repo_type, missing_ok, **kw):
        self._get(repo_id, repo_type)
        del self.repos[(repo_type or "model", repo_id)]

    def materialize(self, folder: Path, repo_id=REPO) -> Path:
        for rel, data in self.repo(repo_id).files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        return folder


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    import huggingface_hub

    hub = FakeHub(tmp_path / "downloads")
    monkeypatch.setattr(huggingface_hub, "HfApi", hub.cls)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    # No saved login either: the machine's own (HF_HOME/token) is never read by a test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    return hub


def _push_args(synthetic_dir, tmp_path, *extra, config="mnist"):
    data_dir, _ = synthetic_dir
    return ["push", config, REPO, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            "--system-dir", str(tmp_path / "none"), *extra]


def _export_locally(synthetic_dir, tmp_path, folder, config="mnist", **kw):
    data_dir, _ = synthetic_dir
    return export(config, tmp_path / folder, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                  system_dirs=(str(tmp_path / "none"),), **kw)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != LOCK}


@pytest.mark.parametrize("private", [True, False])
def test_push_uploads_exactly_the_export_in_one_commit(fake_hub, synthetic_dir, tmp_path, capsys, caplog, monkeypatch,
                                                       private):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert main(_push_args(synthetic_dir, tmp_path, "--validation-size", "20", *(["--private"] if private else []))) == 0
    out = capsys.readouterr()
    assert fake_hub.tokens == [TOKEN]
    assert list(fake_hub.repos) == [("dataset", REPO)]  # a dataset repository, nothing else
    assert fake_hub.repo(REPO).private is private
    assert fake_hub.commits == ["Add mnist (train: 280, validation: 20, test: 60)"]
    # a repository just created holds no card to merge and no old files to delete: not listed
    assert fake_hub.calls == ["whoami", "repo_exists", "create_repo", "create_commit"]
    local = _tree(_export_locally(synthetic_dir, tmp_path, "local", validation_size=20).out_dir)
    remote = fake_hub.repo(REPO).files
    assert set(remote) == set(local) | {".gitattributes"}
    assert all(remote[rel] == data for rel, data in local.items() if rel.endswith(".parquet"))
    back = datasets.load_dataset(str(fake_hub.materialize(tmp_path / "remote")), "mnist", cache_dir=str(tmp_path / "lb"))
    assert {k: v.num_rows for k, v in back.items()} == {"train": 280, "validation": 20, "test": 60}
    assert TOKEN not in out.out + out.err + caplog.text
    # a second configuration merges with the card already on the Hub; the first one's files stay
    before = {k: v for k, v in remote.items() if k.startswith("mnist/")}
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, config="kmnist")) == 0
    remote = fake_hub.repo(REPO).files
    assert {k: v for k, v in remote.items() if k.startswith("mnist/")} == before
    meta = DatasetCard(remote["README.md"].decode()).data.to_dict()
    assert {c["config_name"] for c in meta["configs"]} == {"mnist", "kmnist"}
    assert fake_hub.repo(REPO).private is private  # an existing repository keeps its visibility


def test_repush_leaves_exactly_the_new_files_of_that_config(fake_hub, synthetic_dir, tmp_path):
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, "--validation-size", "20")) == 0
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, config="kmnist")) == 0
    kmnist = {k: v for k, v in fake_hub.repo(REPO).files.items() if k.startswith("kmnist/")}
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 0  # no validation split now
    remote = fake_hub.repo(REPO).files
    new = _tree(_export_locally(synthetic_dir, tmp_path, "local").out_dir)
    assert sorted(k for k in remote if k.startswith("mnist/")) == sorted(k for k in new if k.startswith("mnist/"))
    assert not any("validation" in k for k in remote if k.startswith("mnist/"))
    assert {k: v for k, v in remote.items() if k.startswith("kmnist/")} == kmnist
    assert ".gitattributes" in remote
    assert len(fake_hub.commits) == 3  # one per push, deletions included
    back = datasets.load_dataset(str(fake_hub.materialize(tmp_path / "remote")), "mnist", cache_dir=str(tmp_path / "lb"))
    assert {k: v.num_rows for k, v in back.items()} == {"train": 300, "test": 60}


def test_dry_run_writes_and_lists_without_calling_the_hub(fake_hub, synthetic_dir, tmp_path, capsys):
    dry = tmp_path / "dry"
    assert main(_push_args(synthetic_dir, tmp_path, "--dry-run", str(dry), config="kmnist")) == 0
    out = capsys.readouterr().out
    assert "nothing uploaded" in out and "train-00000-of-00001.parquet" in out and "README.md" in out
    assert list(dry.glob("kmnist/*/test-00000-of-00001.parquet")) and [p.name for p in dry.iterdir() if p.is_dir()] == [
        "kmnist"]
    assert fake_hub.calls == [] and fake_hub.tokens == []
    # the card can be copied as it is: its example names the repository, and small files are in KB
    card = (dry / "README.md").read_text(encoding="utf-8")
    assert f'load_dataset("{REPO}", "kmnist")' in card and "REPO_OR_FOLDER" not in card
    assert "README.md  (" in out and " KB)" in out and "(0.0 MB)" not in out


def test_file_sizes_read_in_kb_below_a_tenth_of_a_megabyte():
    from mnist_hf.__main__ import format_size

    assert [format_size(n) for n in (0, 500, 102_000, 2**20 // 10 + 1, 5 * 2**20)] == [
        "0.0 KB", "0.5 KB", "99.6 KB", "0.1 MB", "5.0 MB"]


@pytest.mark.parametrize("setup, code, fragment", [
    ({}, 3, "no token: pass --token, set HF_TOKEN or log in with `hf auth login` (a token with write access)"),
    ({"whoami": "401"}, 3, "rejected the token"),
    ({"create_commit": "403"}, 4, "no write access to my-lab/mnist-family"),
    ({"create_commit": "network"}, 5, "could not reach the Hugging Face Hub"),
    ({"repo_exists": "timeout"}, 5, "did not answer within 60 s; the push did not complete"),
    ({"create_repo": "500"}, 6, "HTTP 500: 500 Server Error (request by Bearer ***)"),
    ({"create_commit": "other"}, 6, "push failed: RuntimeError: upload refused for Bearer ***"),
])
def test_push_errors_are_plain_and_never_show_the_token(fake_hub, synthetic_dir, tmp_path, capsys, caplog, setup,
                                                        code, fragment):
    caplog.set_level(logging.DEBUG)
    for name, kind in setup.items():
        fake_hub.fail[name] = {
            "network": ConnectionError(f"Connection refused (token {TOKEN})"),
            "timeout": TimeoutError(f"timed out (token {TOKEN})"),
            "other": RuntimeError(f"upload refused for Bearer {TOKEN}"),
            "500": _http_error(500, f"500 Server Error (request by Bearer {TOKEN})"),
        }.get(kind) or _http_error(int(kind))
    args = _push_args(synthetic_dir, tmp_path) + ([] if not setup else ["--token", TOKEN])
    assert main(args) == code
    out = capsys.readouterr()
    assert fragment in out.err
    if not setup:
        assert out.err.endswith(f"\nerror: {fragment}\n") and out.err.count("error:") == 1  # the data was prepared first
    assert "Traceback" not in out.err
    assert TOKEN not in out.out + out.err + caplog.text
    if code in (5, 6):  # the error text, token and all, went through the scrubber into the log
        logged = [r.getMessage() for r in caplog.records if r.name == "mnist_hf.push"]
        assert len(logged) == 1 and logged[0].startswith(f"push to {REPO} failed: ") and "***" in logged[0]
    if "create_commit" in setup:  # the repository this push created is removed again
        assert "delete_repo" in fake_hub.calls and not fake_hub.repos


@pytest.mark.parametrize("orgs, member_of", [(("my-lab", "b-team"), "b-team, my-lab"), (None, "no organisation")])
def test_push_to_someone_elses_namespace(fake_hub, synthetic_dir, tmp_path, capsys, orgs, member_of):
    fake_hub.orgs = orgs
    data_dir, _ = synthetic_dir
    code = main(["push", "mnist", "somebody-else/mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--token", TOKEN])
    assert code == 4
    err = capsys.readouterr().err
    assert f"somebody-else/mnist belongs to 'somebody-else', and this token is 'me''s (member of: {member_of})" in err
    assert TOKEN not in err
    assert "create_repo" not in fake_hub.calls and "create_commit" not in fake_hub.calls


@pytest.mark.parametrize("with_token", [True, False])
@pytest.mark.parametrize("damage, fragment", [("missing", "t10k-labels-idx1-ubyte"), ("truncated", "truncated")])
def test_push_with_bad_local_data_is_bad_input_before_any_hub_call(fake_hub, synthetic_dir, tmp_path, capsys, damage,
                                                                   fragment, with_token):
    # Without a token too (issue 19, case 9: that was exit 3, "no token"): the data is checked first.
    data_dir, _ = synthetic_dir
    labels = data_dir / "t10k-labels-idx1-ubyte.gz"
    if damage == "missing":
        labels.unlink()
    else:
        labels.write_bytes(labels.read_bytes()[:-8])
    assert main(_push_args(synthetic_dir, tmp_path, *(["--token", TOKEN] if with_token else []))) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Hub" not in err and "token" not in err and "Traceback" not in err
    assert fake_hub.calls == [] and not fake_hub.repos


@pytest.mark.parametrize("given, env, saved, used", [
    ("hf_given", "hf_env", "hf_saved", "hf_given"),
    (None, "hf_env", "hf_saved", "hf_env"),
    (None, None, "hf_saved", "hf_saved"),
])
def test_the_token_is_found_as_the_hugging_face_tools_find_it(fake_hub, synthetic_dir, tmp_path, monkeypatch,
                                                              given, env, saved, used):
    # Issue 19, case 7: a token saved by `hf auth login` (HF_HOME/token) was ignored ("no token", exit 3).
    import huggingface_hub

    token_file = tmp_path / "hf-home" / "token"
    token_file.parent.mkdir()
    token_file.write_text(saved)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(token_file))
    if env:
        monkeypatch.setenv("HF_TOKEN", env)
    assert main(_push_args(synthetic_dir, tmp_path, *(["--token", given] if given else []))) == 0
    assert fake_hub.tokens == [used]


class WhoamiServer:
    """A Hub at 127.0.0.1 that records the Authorization header of each whoami and rejects every token (401)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.authorizations = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/api/whoami"):  # huggingface_hub may ask other things first
                    seen.append(self.headers.get("Authorization"))
                body = b'{"error": "Invalid credentials in Authorization header"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _hub_env(tmp_path, endpoint, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE")}
    return {**env, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), **extra}


@pytest.mark.parametrize("logged_in", [True, False])
def test_a_saved_login_in_hf_home_is_used_by_the_command_line(synthetic_dir, tmp_path, logged_in):
    server = WhoamiServer()
    saved = "hf_savedByLogin0123456789"
    if logged_in:
        (tmp_path / "hf").mkdir()
        (tmp_path / "hf" / "token").write_text(saved + "\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "mnist_hf", *_push_args(synthetic_dir, tmp_path)],
                              env=_hub_env(tmp_path, server.url), capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and saved not in proc.stdout + proc.stderr
    if logged_in:  # sent to the Hub, which rejected it: the saved token was the one used
        assert server.authorizations == [f"Bearer {saved}"] and "rejected the token" in proc.stderr
    else:
        assert server.authorizations == [] and "no token" in proc.stderr


def test_push_with_a_broken_card_on_the_hub_changes_nothing(fake_hub, synthetic_dir, tmp_path, capsys):
    fake_hub.repos[("dataset", REPO)] = Repo(private=False)
    fake_hub.repo(REPO).files["README.md"] = b"---\npretty_name: 'unbalanced\n---\n# a card\n"
    before = dict(fake_hub.repo(REPO).files)
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 2
    err = capsys.readouterr().err
    assert f"{REPO}/README.md on the Hub: the dataset card's YAML header does not parse" in err
    assert "Traceback" not in err
    assert fake_hub.repo(REPO).files == before and not fake_hub.commits


@pytest.mark.parametrize("orgs", [("my-lab",), None])
def test_push_to_a_bare_name_goes_to_the_tokens_own_namespace(fake_hub, synthetic_dir, tmp_path, orgs):
    fake_hub.orgs = orgs
    args = _push_args(synthetic_dir, tmp_path, "--token", TOKEN)
    args[args.index(REPO)] = "mnist-family"
    assert main(args) == 0
    assert list(fake_hub.repos) == [("dataset", "mnist-family")] and len(fake_hub.commits) == 1


def test_every_hub_request_waits_at_most_the_hub_timeout(fake_hub, synthetic_dir, tmp_path):
    from huggingface_hub import get_session

    def limits(timeout):  # connect, read, write, pool
        return timeout.connect, timeout.read, timeout.write, timeout.pool

    session = get_session()
    before = session.timeout
    session.timeout = 11.0  # the caller's own setting, to be given back
    try:
        assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, "--hub-timeout", "2.5")) == 0
        assert len(fake_hub.timeouts) >= 4 and {limits(t) for t in fake_hub.timeouts} == {(2.5,) * 4}
        assert limits(get_session().timeout) == (11.0,) * 4
        fake_hub.fail["create_commit"] = ConnectionError("down")
        assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, "--hub-timeout", "7", config="kmnist")) == 5
        assert limits(fake_hub.timeouts[-1]) == (7.0,) * 4 and limits(get_session().timeout) == (11.0,) * 4
    finally:
        session.timeout = before


def test_an_old_huggingface_hub_without_a_client_timeout_is_said_and_the_push_goes_on(fake_hub, synthetic_dir,
                                                                                      tmp_path, caplog, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_session", lambda: SimpleNamespace())  # requests.Session: no timeout
    monkeypatch.setattr(huggingface_hub, "__version__", "0.36.0")
    caplog.set_level(logging.WARNING, logger="mnist_hf.push")
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 0
    assert [r.getMessage() for r in caplog.records if r.name == "mnist_hf.push"] == [
        "huggingface_hub 0.36.0 cannot bound Hub requests; --hub-timeout needs huggingface_hub >= 1.0"]
    assert len(fake_hub.commits) == 1


@pytest.mark.parametrize("failing", ["whoami", "repo_exists", "create_commit"])
def test_a_failed_push_to_an_existing_repository_leaves_it_as_it_was(fake_hub, synthetic_dir, tmp_path, capsys,
                                                                      failing):
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 0
    before = dict(fake_hub.repo(REPO).files)
    fake_hub.fail[failing] = RuntimeError("refused")
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, config="kmnist")) == 6
    assert "push failed: RuntimeError: refused" in capsys.readouterr().err
    assert fake_hub.repo(REPO).files == before and "delete_repo" not in fake_hub.calls


def test_when_removing_the_new_repository_fails_too_the_first_error_is_the_one_reported(fake_hub, synthetic_dir,
                                                                                        tmp_path, capsys):
    fake_hub.fail["create_commit"] = ConnectionError("down")
    fake_hub.fail["delete_repo"] = RuntimeError("cannot delete either")
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 5
    err = capsys.readouterr().err
    assert "could not reach the Hugging Face Hub" in err and "cannot delete" not in err
    assert fake_hub.calls[-1] == "delete_repo"


def test_push_from_python_makes_a_public_repository_unless_told(fake_hub, synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    result = push.push("mnist", REPO, token=TOKEN, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"), system_dirs=())
    assert fake_hub.repo(REPO).private is False and result.splits == {"train": 300, "test": 60}
    assert {t.read for t in fake_hub.timeouts} == {push.DEFAULT_HUB_TIMEOUT}


class Timeout(OSError):
    """Named as requests' timeout, which huggingface_hub < 1.0 raised."""


def _status_error(status, message):
    import httpx2

    request = httpx2.Request("PUT", "https://cas.example/xorbs")
    return httpx2.HTTPStatusError(message, request=request, response=httpx2.Response(status, request=request))


@pytest.mark.parametrize("make_error, kind, message", [
    (lambda: _http_error(401), "auth",
     "the Hub rejected the token (HTTP 401): check HF_TOKEN or --token, and that it has write access"),
    (lambda: _http_error(403), "permission",
     f"no write access to {REPO} (HTTP 403): it may belong to someone else, or the token is read-only"),
    (lambda: _http_error(404, f"404 Not Found (Bearer {TOKEN})\nmore lines\nof detail"), "hub",
     "the Hub answered HTTP 404: 404 Not Found (Bearer ***)"),
    (lambda: ConnectionError(f"refused {TOKEN}"), "network", "could not reach the Hugging Face Hub ({endpoint}; no "
     "network?); the push did not complete. Use --dry-run DIR to see what would be sent."),
    (lambda: __import__("httpx2").ConnectError("refused"), "network", "could not reach the Hugging Face Hub "
     "({endpoint}; no network?); the push did not complete. Use --dry-run DIR to see what would be sent."),
    (lambda: TimeoutError(), "network", "the Hugging Face Hub ({endpoint}) did not answer within 2.5 s; the push did not "
     "complete. Retry later, or raise --hub-timeout."),
    (lambda: __import__("httpx2").ReadTimeout("slow"), "network", "the Hugging Face Hub ({endpoint}) did not answer "
     "within 2.5 s; the push did not complete. Retry later, or raise --hub-timeout."),
    (lambda: Timeout("slow"), "network", "the Hugging Face Hub ({endpoint}) did not answer within 2.5 s; the push did "
     "not complete. Retry later, or raise --hub-timeout."),
    (lambda: OSError(f"disk full near {TOKEN}"), "hub", "push failed: OSError: disk full near ***"),
    # an HTTP answer huggingface_hub does not attribute to the Hub (a proxy, a storage server) is not called one
    (lambda: _status_error(502, f"502 Bad Gateway (Bearer {TOKEN})"), "hub",
     "push failed: HTTPStatusError: 502 Bad Gateway (Bearer ***)"),
])
def test_hub_errors_are_told_apart_in_plain_words(make_error, kind, message):
    from huggingface_hub import constants

    error = push._classify(make_error(), REPO, TOKEN, 2.5)
    assert (error.kind, str(error)) == (kind, message.format(endpoint=constants.ENDPOINT))
    assert push._classify(RuntimeError("no token to hide"), REPO, None, 1).args == ("push failed: RuntimeError: no token "
                                                                                  "to hide",)


class SilentServer:
    """A real TCP socket that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                self.connections.append(self.sock.accept()[0])
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.connections:
            c.close()


def test_push_to_a_hub_that_never_answers_times_out(synthetic_dir, tmp_path):
    server = SilentServer()
    url = server.url
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
        env.update(HF_ENDPOINT=url, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"))
        # bounded here too, so the test fails instead of hanging if the timeout is not applied
        proc = subprocess.run([sys.executable, "-m", "mnist_hf", *_push_args(synthetic_dir, tmp_path),
                               "--hub-timeout", "1"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert proc.returncode == 5, proc.stderr
    assert f"({url}) did not answer within 1 s" in proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout
    assert server.connections  # it did reach the socket


class DripServer(SilentServer):
    """Answers every request, one byte every ``interval`` seconds: each read is quick, the answer endless."""

    def __init__(self, interval: float = 1.5):
        self.interval = interval
        self.first_request: float | None = None
        super().__init__()

    def _accept(self):
        while not self.closed:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        conn.recv(65536)
        self.first_request = self.first_request or time.monotonic()
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000
        for byte in answer:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return
            time.sleep(self.interval)


def test_a_hub_that_drips_its_answer_is_given_up_on_at_the_deadline(synthetic_dir, tmp_path):
    # Issue 19, case 4: each read came within the timeout, so the push ran past 90 s.
    server = DripServer()
    url = server.url
    try:
        proc = subprocess.run([sys.executable, "-m", "mnist_hf", *_push_args(synthetic_dir, tmp_path),
                               "--hub-timeout", "3"], env=_hub_env(tmp_path, url, HF_TOKEN=TOKEN),
                              capture_output=True, text=True, timeout=60)
        ended = time.monotonic()
    finally:
        server.close()
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.splitlines()[-1] == (f"error: the Hugging Face Hub ({url}) did not answer within 3 s; the "
                                            "push did not complete. Retry later, or raise --hub-timeout.")
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout
    # Two requests meet the server (huggingface_hub's own registry fetch, then whoami), each given up at 3 s.
    assert server.first_request is not None and ended - server.first_request < 2 * 3 + 3, ended - server.first_request


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "-inf"])
def test_a_bad_hub_timeout_is_refused_before_any_work(fake_hub, synthetic_dir, tmp_path, capsys, value):
    # Issue 19, case 4: these failed only after the data was prepared (exit 6, or 5 for 0).
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, f"--hub-timeout={value}")) == 2
    err = capsys.readouterr().err
    assert err == f"error: --hub-timeout must be a positive number of seconds, got {float(value)!r}\n"
    assert fake_hub.calls == [] and not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="hub_timeout must be a positive number of seconds"):
        push.push("mnist", REPO, token=TOKEN, hub_timeout=float(value), data_dir=str(tmp_path / "none"))


# --- the per-request deadline, in process: a real httpx2 and a fake inner transport ------------------------------
# The drip-server test above runs in a subprocess, where nothing can be attributed to single lines; these pin each
# piece of _DeadlineTransport and _progress_stream. httpx2 is imported inside the tests, as above (it comes with
# huggingface_hub >= 1.0 only).

class FakeTransport:
    """An httpx transport: reads the request body as httpx does, then answers, fails, or stalls until closed."""

    def __init__(self, answer=None, error=None, delay=0.05, stall=False):
        self.answer, self.error, self.delay, self.stall = answer, error, delay, stall
        self.closed = threading.Event()
        self.requests, self.bodies, self.threads = [], [], []
        self.pool_info = "the inner transport's own attribute"

    def handle_request(self, request):
        self.requests.append(request)
        self.threads.append(threading.current_thread())
        self.bodies.append(b"".join(request.stream))
        time.sleep(self.delay)  # so the caller is still waiting when it first looks at the clock
        if self.stall:  # gives up only once closed (bounded, so a missing deadline fails the test instead of hanging)
            if not self.closed.wait(3):
                raise AssertionError("the stalled transport was never closed")
            raise OSError("connection closed under the request")
        if self.error is not None:
            raise self.error
        return self.answer

    def close(self):
        self.closed.set()


def _response(size: int, content_length: bool = True):
    """A 200 answer of ``size`` bytes, streamed, with or without a Content-Length; ``read`` says whether it was read."""
    import httpx2

    read = []

    class Body(httpx2.SyncByteStream):
        def __iter__(self):
            read.append(True)
            yield b"x" * size

    headers = {"Content-Length": str(size)} if content_length else {}
    return httpx2.Response(200, headers=headers, stream=Body()), read


def _deadline(inner, seconds=0.3):
    import httpx2

    return push._DeadlineTransport(inner, seconds, httpx2)


@pytest.mark.parametrize("size, content_length, read_in_full", [
    (2, True, True),
    (0, False, True),  # no Content-Length (a chunked answer): read in full
    (push._ANSWER_IN_FULL, True, True),  # the largest answer read in full
    (push._ANSWER_IN_FULL + 1, True, False),  # a download: left to stream, with httpx's per-read timeouts
])
def test_a_deadline_transport_returns_the_answer_read_in_full_only_when_small(size, content_length, read_in_full):
    import httpx2

    answer, read = _response(size, content_length)
    inner = FakeTransport(answer)
    request = httpx2.Request("POST", "https://hub.example/api", content=b"the body")
    assert _deadline(inner).handle_request(request) is answer
    # the inner transport got this very request, its body intact, on the request's own worker thread
    assert inner.requests == [request] and inner.bodies == [b"the body"]
    assert bool(read) is read_in_full and answer.is_stream_consumed is read_in_full
    if read_in_full:
        assert answer.content == b"x" * size
    # the worker is named for a thread dump, and a daemon: a request abandoned at the deadline must not keep the
    # process from exiting
    (worker,) = inner.threads
    assert worker is not threading.current_thread()
    assert worker.name == "mnist_hf hub request" and worker.daemon is True
    assert not inner.closed.is_set()


def test_a_deadline_transport_hands_the_inner_transports_error_to_the_caller_unchanged():
    import httpx2

    request = httpx2.Request("GET", "https://hub.example/api/whoami-v2")
    error = httpx2.ConnectError("refused", request=request)
    with pytest.raises(httpx2.ConnectError) as e:
        _deadline(FakeTransport(error=error)).handle_request(request)
    assert e.value is error  # the same object, so huggingface_hub and _classify see what httpx raised

    class Broken(httpx2.SyncByteStream):  # an error reading the answer (in the worker) is handed over the same way
        def __iter__(self):
            raise httpx2.ReadError("connection reset", request=request)
            yield b""

    with pytest.raises(httpx2.ReadError, match="connection reset"):
        _deadline(FakeTransport(httpx2.Response(200, stream=Broken()))).handle_request(request)


def test_a_stalled_request_is_given_up_at_the_deadline_and_its_connections_closed():
    import httpx2

    inner = FakeTransport(stall=True)
    request = httpx2.Request("GET", "https://hub.example/api/whoami-v2")
    start = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout) as e:
        _deadline(inner, 0.25).handle_request(request)
    waited = time.monotonic() - start
    # a ReadTimeout, so _classify says "did not answer within"; it names the seconds and carries the request
    assert str(e.value) == "no complete answer within 0.25 s" and e.value.request is request
    assert inner.closed.is_set()  # the pool is closed, so the stalled connection is not reused
    assert 0.25 <= waited < 2, waited  # not before the deadline; loosely after it


def test_an_upload_that_keeps_making_progress_is_not_cut_off_at_the_deadline():
    import httpx2

    def slow_body():  # each pause well within the deadline, the whole upload well past it
        for i in range(8):
            time.sleep(0.1)
            yield b"chunk%d;" % i

    answer, _ = _response(2)
    inner = FakeTransport(answer)
    request = httpx2.Request("PUT", "https://hub.example/upload", content=slow_body())
    start = time.monotonic()
    assert _deadline(inner, 0.5).handle_request(request) is answer
    assert time.monotonic() - start > 0.5  # the upload did outlast the deadline
    assert inner.bodies == [b"".join(b"chunk%d;" % i for i in range(8))] and not inner.closed.is_set()


def test_the_progress_stream_notes_each_chunk_and_the_end_and_closes_what_it_wraps():
    import httpx2

    class Upload:
        closed = False

        def __iter__(self):
            for chunk in (b"a", b"b"):
                time.sleep(0.02)
                yield chunk
            time.sleep(0.02)

        def close(self):
            self.closed = True

    upload = Upload()
    progress = push._progress_stream(httpx2, upload)
    assert isinstance(progress, httpx2.SyncByteStream)  # httpx accepts it as a request body
    seen = [progress.last]
    chunks = []
    for chunk in progress:
        chunks.append(chunk)
        seen.append(progress.last)
    seen.append(progress.last)
    assert chunks == [b"a", b"b"]
    assert all(isinstance(t, float) for t in seen)
    assert seen[0] < seen[1] < seen[2] < seen[3] <= time.monotonic()  # each chunk, then the end, moves it on
    assert not upload.closed
    progress.close()
    assert upload.closed
    push._progress_stream(httpx2, [b"a plain list, no close"]).close()  # nothing to close: fine


def test_a_deadline_transport_passes_other_attributes_through_to_the_inner_one():
    inner = FakeTransport()
    assert _deadline(inner).pool_info == "the inner transport's own attribute"


# --- the remaining pieces of push, export and card ---------------------------------------------------------------

def test_a_token_lookup_that_fails_is_an_auth_error_saying_why(monkeypatch):
    import huggingface_hub

    def failing_exchange():  # HF_OIDC_RESOURCE set and the identity provider refused
        raise RuntimeError("token exchange refused by https://alice:S3cretPw@idp.example/token")

    monkeypatch.setattr(huggingface_hub, "get_token", failing_exchange)
    with pytest.raises(push.HubError) as e:
        push._find_token(None)
    assert e.value.kind == "auth"  # exit code 3, as for a missing token
    assert str(e.value) == "could not get a token: RuntimeError: token exchange refused by https://***@idp.example/token"
    assert push._find_token(TOKEN) == TOKEN  # a token given is used without asking


@pytest.mark.parametrize("value", [True, False, "60", None])
def test_a_hub_timeout_that_is_not_a_number_is_refused(value):
    # True is an int to Python, but `--hub-timeout` / hub_timeout=True is a mistake, not one second
    with pytest.raises(ValueError, match=r"^hub_timeout must be a positive number of seconds, got "):
        push.check_hub_timeout(value)


def test_a_hub_timeout_below_one_second_is_accepted():
    assert push.check_hub_timeout(0.5) == 0.5 and push.check_hub_timeout(1) == 1.0
    assert isinstance(push.check_hub_timeout(3), float)


def test_the_pushed_card_names_the_repository_in_its_example(fake_hub, synthetic_dir, tmp_path):
    # the card on the Hub is read there: its load_dataset example names the repository, not the temporary folder
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 0
    card = fake_hub.repo(REPO).files["README.md"].decode()
    assert f'load_dataset("{REPO}", "mnist")\n' in card
    assert "from the folder" not in card and "REPO_OR_FOLDER" not in card


@pytest.mark.parametrize("under", ["", "out"])
def test_an_export_folder_that_is_a_file_is_refused_with_a_complete_os_error(tmp_path, under):
    from mnist_hf.export import check_folder

    (tmp_path / "file").write_text("not a folder")
    path = tmp_path / "file" / under if under else tmp_path / "file"
    with pytest.raises(NotADirectoryError) as e:
        check_folder(path)
    # the usual OSError fields, so the command line prints "[Errno 20] Not a directory: 'PATH'" like the OS would
    assert (e.value.errno, e.value.strerror, e.value.filename) == (errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    assert str(e.value) == f"[Errno {errno.ENOTDIR}] {os.strerror(errno.ENOTDIR)}: {str(path)!r}"


def test_a_card_broken_while_the_export_waited_for_the_lock_is_named_as_the_caller_asked(tmp_path, monkeypatch):
    from mnist_hf import export as export_module

    out = tmp_path / "out"
    remove_stale = export_module._remove_stale_staging

    def someone_edits_the_card_meanwhile(folder):  # after the first check, before the read under the lock
        (folder / "README.md").write_text("---\nconfigs: just-a-string\n---\n# edited by hand\n")
        remove_stale(folder)

    monkeypatch.setattr(export_module, "_remove_stale_staging", someone_edits_the_card_meanwhile)
    with pytest.raises(card_module.CardError) as e:
        export_module.commit_export(out, _tiny_prepared("mnist"), export_module.MAX_SHARD_BYTES,
                                    where="me/x/README.md on the Hub")
    assert str(e.value).startswith("me/x/README.md on the Hub: `configs` in the card's YAML header")
    assert not (out / "mnist").exists()  # and nothing was written


@pytest.mark.parametrize("key", ["dataset_info", "configs"])
def test_card_text_names_the_card_when_its_entries_are_not_entries(key):
    # card_text checks the metadata it is given, as load_card does, and names the card as told
    meta = {key: [{"no config_name": 1}]}
    with pytest.raises(card_module.CardError) as e:
        card_module.card_text(meta, None, _tiny_prepared("mnist"), "mnist/0123456789ab", "me/x/README.md on the Hub")
    assert str(e.value) == (f"me/x/README.md on the Hub: `{key}` in the card's YAML header is not a list of entries "
                            "with a config_name")
