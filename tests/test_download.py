"""Downloads from a real HTTP server on 127.0.0.1.

Synthetic files that the spec is told to accept as the published ones run everywhere; the
real files in ../shared/data run where present (skipped with the reason otherwise).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib

import datasets
import numpy as np
import pytest
from helpers import FileServer, cache_is_clean, cache_leftovers, gz_files, make_idx_dir, verified_spec

import mnist_hf
from mnist_hf import ChecksumError, MirrorError, read_provenance
from mnist_hf.arrays import label_array
from mnist_hf.sources import SPECS

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

# The reason each kind of mirror failure must be reported with.
REASONS = {"404": "HTTP 404", "500": "HTTP 500", "stall": "timed out", "html": "HTML page",
           "wrong": "checksum mismatch"}


@pytest.fixture
def served(tmp_path, monkeypatch, online):
    """A server of synthetic Fashion-MNIST-shaped files that the spec accepts as the published ones;
    mirror "wrong" serves other well-formed IDX files under the same names."""
    arrays = make_idx_dir(tmp_path / "src")
    monkeypatch.setitem(SPECS, "fashion_mnist", verified_spec(SPECS["fashion_mnist"], tmp_path / "src"))
    make_idx_dir(tmp_path / "other", seed=1, classes=7)
    server = FileServer(gz_files(tmp_path / "src"))
    server.mirrors["wrong"] = gz_files(tmp_path / "other")
    server.stall_seconds = 4
    yield server, arrays
    server.close()


def _load(server, mirrors, tmp_path, **kw):
    return mnist_hf.load(
        "fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=[server.url(m) for m in mirrors],
        system_dirs=(), image_format="array", **kw,
    )


def _hits(server, mirror):
    return sum(n for path, n in server.hits.items() if path.startswith(f"/{mirror}/"))


def _reasons(message: str) -> dict[str, str]:
    """``{mirror: reason}`` from a MirrorError/ChecksumError listing."""
    return {line.split("/")[3]: line.split(": ", 1)[1] for line in message.splitlines() if line.startswith("  - ")}


@pytest.mark.parametrize("failure", sorted(REASONS))
def test_falls_back_to_the_next_mirror_and_says_why(served, tmp_path, caplog, failure):
    server, arrays = served
    if failure != "wrong":
        server.mirrors["bad"] = failure
    server.mirrors["good"] = "ok"
    bad = "wrong" if failure == "wrong" else "bad"
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        ds = _load(server, [bad, "good"], tmp_path, timeout=1.0)
    x, y = mnist_hf.to_numpy(ds["train"], normalize=False)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])
    assert _hits(server, bad) >= 4 and _hits(server, "good") >= 4  # every file tried there first
    warned = [r.getMessage() for r in caplog.records if server.url(bad) in r.getMessage()]
    assert len(warned) == 4 and all(REASONS[failure] in w for w in warned), warned
    assert {r["origin"].split("/")[3] for r in read_provenance(_builder_dir(tmp_path)).values()} == {"good"}


def _builder_dir(tmp_path):
    (info,) = (tmp_path / "cache").rglob("dataset_info.json")
    return info.parent


@pytest.mark.parametrize("failure", ["404", "stall", "html"])
def test_single_failing_mirror_names_the_reason(served, tmp_path, failure):
    server, _ = served
    server.mirrors["bad"] = failure
    with pytest.raises(MirrorError) as err:
        _load(server, ["bad"], tmp_path, timeout=1.0)
    assert REASONS[failure] in _reasons(str(err.value))["bad"]


def test_well_formed_wrong_file_is_rejected_by_checksum(served, tmp_path):
    """Another dataset's valid IDX labels under this one's name: it decompresses and parses, and
    only the checksum tells it apart."""
    server, _ = served
    wrong = server.mirrors["wrong"][TRAIN_LABELS]
    assert gzip.decompress(wrong) != gzip.decompress(server.files[TRAIN_LABELS])
    server.mirrors["only"] = {TRAIN_LABELS: wrong}
    with pytest.raises(ChecksumError) as err:
        _load(server, ["only"], tmp_path)
    reason = _reasons(str(err.value))["only"]
    assert TRAIN_LABELS in str(err.value)
    assert reason.startswith("checksum mismatch") and "corrupt" not in reason


@pytest.mark.real_data
def test_real_mnist_labels_under_the_fashion_name_are_rejected_by_checksum(fashion_server, shared_data, tmp_path):
    mnist_labels = (shared_data / "mnist" / TEST_LABELS).read_bytes()
    fashion_server.mirrors.update({"mixed": {TEST_LABELS: mnist_labels}, "good": "ok"})
    with pytest.raises(ChecksumError) as err:
        _load(fashion_server, ["mixed"], tmp_path)
    reason = _reasons(str(err.value))["mixed"]
    assert TEST_LABELS in str(err.value) and reason.startswith("checksum mismatch") and "corrupt" not in reason
    ds = _load(fashion_server, ["mixed", "good"], tmp_path)
    assert np.bincount(label_array(ds["test"])).tolist() == [1000] * 10
    assert fashion_server.hits[f"/good/{TEST_LABELS}"] >= 1


def test_recompressed_copy_is_accepted_by_content_hash(served, tmp_path):
    server, _ = served
    content = gzip.decompress(server.files[TRAIN_IMAGES])
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # another gzip wrapper: other level, no name
    recompressed = co.compress(content) + co.flush()
    assert recompressed != server.files[TRAIN_IMAGES]
    server.mirrors["recompressed"] = {TRAIN_IMAGES: recompressed}
    b = mnist_hf.builder("fashion_mnist", cache_dir=str(tmp_path / "cache"), system_dirs=(),
                         mirrors=server.url("recompressed"), image_format="array")  # one string: one mirror
    b.download_and_prepare()
    assert b.as_dataset()["train"].num_rows == 300
    record = read_provenance(b.cache_dir)
    assert record["train_images"]["verification"] == "content-sha256"
    assert record["train_labels"]["verification"] == "md5"


def test_second_prepare_makes_no_request(served, tmp_path):
    server, _ = served
    server.mirrors.update({"down": "404", "good": "ok"})
    _load(server, ["down", "good"], tmp_path)
    first = server.total_hits()
    assert first > 0
    _load(server, ["down", "good"], tmp_path)
    assert server.total_hits() == first
    # A new configuration re-prepares from the download cache, still without a request,
    # even though the first mirror (which failed) comes first in the list.
    ds = _load(server, ["down", "good"], tmp_path, validation_size=50)
    assert ds["validation"].num_rows == 50
    assert server.total_hits() == first


def test_all_mirrors_fail_lists_each_and_leaves_no_cache(served, tmp_path):
    server, _ = served
    corrupt = bytearray(server.files[TRAIN_IMAGES])
    corrupt[len(corrupt) // 2] ^= 1
    server.mirrors.update({"a": "404", "b": "500", "c": {TRAIN_IMAGES: bytes(corrupt)}, "d": "html"})
    with pytest.raises(MirrorError) as err:
        _load(server, ["a", "b", "c", "d"], tmp_path)
    msg = str(err.value)
    assert TRAIN_IMAGES in msg
    reasons = _reasons(msg)
    assert reasons["a"].startswith("HTTP 404")
    assert reasons["b"].startswith("HTTP 500")
    assert reasons["c"].startswith("checksum mismatch")
    assert reasons["d"].startswith("served an HTML page")
    assert "data_dir" in msg  # how to work offline
    assert cache_is_clean(tmp_path / "cache")
    # What may stay: verified downloads (none here: the first file failed), datasets' empty lock
    # files and an empty downloads folder; never the rejected archive.
    published = {f.md5 for f in SPECS["fashion_mnist"].files.values()}
    for left in cache_leftovers(tmp_path / "cache"):
        if left.endswith("(empty folder)"):
            assert left == "downloads/ (empty folder)"
        elif not left.endswith(".json"):
            assert hashlib.md5((tmp_path / "cache" / left).read_bytes()).hexdigest() in published, left


def test_empty_mirror_list_says_so(served, tmp_path):
    server, _ = served
    with pytest.raises(MirrorError, match="no mirrors to try"):
        mnist_hf.load("fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=[], system_dirs=())
    assert server.total_hits() == 0


def test_local_folder_mirror(served, tmp_path):
    """A mirror may be a folder; its failures are never reported as HTTP errors, and a rejected
    file there is the user's: it is not deleted."""
    server, _ = served
    folder = tmp_path / "folder"
    make_idx_dir(folder, seed=1, classes=7)  # well-formed, but not the published files
    (folder / TRAIN_IMAGES).unlink()
    with pytest.raises(MirrorError) as err:
        mnist_hf.load("fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=str(folder), system_dirs=())
    (line,) = [ln for ln in str(err.value).splitlines() if ln.startswith(f"  - {folder}/")]
    assert "HTTP" not in line and line.endswith("no such local file")
    for name in gz_files(tmp_path / "src"):
        (folder / name).write_bytes(server.mirrors["wrong"][name])
    with pytest.raises(ChecksumError):
        mnist_hf.load("fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=str(folder), system_dirs=())
    assert sorted(p.name for p in folder.iterdir()) == sorted(gz_files(tmp_path / "src"))
    for name, data in gz_files(tmp_path / "src").items():
        (folder / name).write_bytes(data)
    ds = mnist_hf.load("fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=str(folder), system_dirs=(),
                       image_format="array")
    assert ds["test"].num_rows == 60


@pytest.mark.real_data
def test_real_files_download_and_fall_back(fashion_server, tmp_path):
    fashion_server.mirrors.update({"down": "500", "good": "ok"})
    ds = _load(fashion_server, ["down", "good"], tmp_path)
    assert ds["train"].num_rows == 60000 and ds["test"].num_rows == 10000
    assert _hits(fashion_server, "down") >= 4


def test_download_ignores_the_callers_offline_settings(tmp_path, monkeypatch, request):
    """HF_HUB_OFFLINE=1 (read into datasets' config at import) must not turn the local-server
    tests into failures: the `online` fixture, which `served` uses, undoes it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    server, _ = request.getfixturevalue("served")
    server.mirrors["good"] = "ok"
    ds = _load(server, ["good"], tmp_path)
    assert ds["train"].num_rows == 300 and _hits(server, "good") >= 4
