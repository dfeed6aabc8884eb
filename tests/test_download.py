"""Downloads from a real HTTP server on 127.0.0.1 serving the real files in ../shared/data."""

from __future__ import annotations

import gzip
import zlib

import pytest
from helpers import cache_is_clean

import mnist_hf
from mnist_hf import MirrorError

pytestmark = pytest.mark.real_data

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


def _load(server, mirrors, tmp_path, **kw):
    return mnist_hf.load(
        "fashion_mnist", cache_dir=str(tmp_path / "cache"), mirrors=[server.url(m) for m in mirrors],
        system_dirs=(), image_format="array", **kw,
    )


def _hits(server, mirror):
    return sum(n for path, n in server.hits.items() if path.startswith(f"/{mirror}/"))


@pytest.mark.parametrize("failure", ["404", "500", "stall", "html"])
def test_falls_back_to_the_next_mirror(fashion_server, tmp_path, failure):
    fashion_server.mirrors.update({"bad": failure, "good": "ok"})
    fashion_server.stall_seconds = 4
    ds = _load(fashion_server, ["bad", "good"], tmp_path, timeout=1.0)
    assert ds["train"].num_rows == 60000 and ds["test"].num_rows == 10000
    assert _hits(fashion_server, "bad") >= 4  # every file tried there first
    assert _hits(fashion_server, "good") >= 4


def test_corrupt_file_is_rejected_and_next_mirror_used(fashion_server, tmp_path):
    good = fashion_server.files[TRAIN_IMAGES]
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    mnist_test_images = (fashion_server.files["t10k-images-idx3-ubyte.gz"][:100])  # wrong file under the right name
    fashion_server.mirrors.update({
        "corrupt": {TRAIN_IMAGES: bytes(corrupt), "t10k-images-idx3-ubyte.gz": mnist_test_images},
        "good": "ok",
    })
    ds = _load(fashion_server, ["corrupt", "good"], tmp_path)
    assert ds["train"].num_rows == 60000
    assert fashion_server.hits[f"/good/{TRAIN_IMAGES}"] >= 1
    assert fashion_server.hits["/good/t10k-images-idx3-ubyte.gz"] >= 1
    # labels verified on the first mirror: never fetched from the second
    assert fashion_server.hits["/good/train-labels-idx1-ubyte.gz"] == 0


def test_recompressed_copy_is_accepted_by_content_hash(fashion_server, tmp_path):
    content = gzip.decompress(fashion_server.files[TRAIN_IMAGES])
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # another gzip wrapper: other level, no name
    recompressed = co.compress(content) + co.flush()
    assert recompressed != fashion_server.files[TRAIN_IMAGES]
    fashion_server.mirrors.update({"recompressed": {TRAIN_IMAGES: recompressed}})
    b = mnist_hf.api.builder("fashion_mnist", cache_dir=str(tmp_path / "cache"), system_dirs=(),
                             mirrors=[fashion_server.url("recompressed")], image_format="array")
    b.download_and_prepare()
    assert b.as_dataset()["train"].num_rows == 60000
    import json
    import os

    record = json.load(open(os.path.join(b.cache_dir, "mnist_hf_provenance.json")))
    assert record["train_images"]["verification"] == "content-sha256"
    assert record["train_labels"]["verification"] == "md5"


def test_second_prepare_makes_no_request(fashion_server, tmp_path):
    fashion_server.mirrors.update({"down": "404", "good": "ok"})
    _load(fashion_server, ["down", "good"], tmp_path)
    first = fashion_server.total_hits()
    assert first > 0
    _load(fashion_server, ["down", "good"], tmp_path)
    assert fashion_server.total_hits() == first
    # A new configuration re-prepares from the download cache, still without a request,
    # even though the first mirror (which failed) comes first in the list.
    ds = _load(fashion_server, ["down", "good"], tmp_path, validation_size=5000)
    assert ds["validation"].num_rows == 5000
    assert fashion_server.total_hits() == first


def test_all_mirrors_fail_lists_each_and_leaves_no_cache(fashion_server, tmp_path):
    corrupt = bytearray(fashion_server.files[TRAIN_IMAGES])
    corrupt[1000] ^= 1
    fashion_server.mirrors.update({"a": "404", "b": "500", "c": {TRAIN_IMAGES: bytes(corrupt)}})
    with pytest.raises(MirrorError) as err:
        _load(fashion_server, ["a", "b", "c"], tmp_path)
    msg = str(err.value)
    assert TRAIN_IMAGES in msg
    reasons = {line.split("/")[3]: line.split(": ", 1)[1] for line in msg.splitlines() if line.startswith("  - ")}
    assert reasons["a"].startswith("HTTP 404")
    assert reasons["b"].startswith("HTTP 500")
    assert reasons["c"].startswith("checksum mismatch")
    assert "data_dir" in msg  # how to work offline
    assert cache_is_clean(tmp_path / "cache")
    downloads = tmp_path / "cache" / "downloads"
    kept = [p for p in downloads.rglob("*") if p.is_file() and not p.name.endswith((".json", ".lock"))]
    # the rejected image archive never reached the cache (verified label files may stay)
    sizes = {p.stat().st_size for p in kept}
    assert len(corrupt) not in sizes
