"""Downloads from a real HTTP server on 127.0.0.1.

Synthetic files that the spec is told to accept as the published ones run everywhere; the
real files in ../shared/data run where present (skipped with the reason otherwise).
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import itertools
import logging
import lzma
import os
import warnings
import zlib

import aiohttp
import datasets
import numpy as np
import pytest
from helpers import FileServer, cache_is_clean, cache_leftovers, gz_files, make_idx_dir, peak_bytes, verified_spec

import mnist_hf
from mnist_hf import ChecksumError, MirrorError, fetch, read_provenance
from mnist_hf.arrays import label_array
from mnist_hf.idx import to_idx_bytes
from mnist_hf.sources import SPECS, FileSpec

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


def _with_password(url: str) -> str:
    return url.replace("http://", "http://alice:S3cretPw@")


def test_a_password_in_a_mirror_url_is_never_shown(served, tmp_path, capsys, caplog):
    # Issue 19, case 6: the URL was printed whole in errors, warnings and the provenance record.
    from mnist_hf.__main__ import main

    server, _ = served
    server.mirrors.update({"a": "404", "b": "500", "c": "html", "good": "ok"})
    server.authorization = "Basic " + base64.b64encode(b"alice:S3cretPw").decode()  # sent, as a header
    caplog.set_level(logging.DEBUG)
    mirrors = [arg for m in ("a", "b", "c", "good") for arg in ("--mirror", _with_password(server.url(m)))]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert main(["prepare", "fashion_mnist", "--cache-dir", str(tmp_path / "cache"), *mirrors,
                     "--system-dir", str(tmp_path / "none"), "--image-format", "array"]) == 0
        code = main(["prepare", "fashion_mnist", "--cache-dir", str(tmp_path / "c2"), *mirrors[:6],
                     "--system-dir", str(tmp_path / "none")])
        assert main(["prepare", "fashion_mnist", "--cache-dir", str(tmp_path / "c3"), "--mirror",
                     _with_password(server.url("a")), "--mirror", " "]) == 2
    out = capsys.readouterr()
    assert code == 2 and "could not get" in out.err
    shown = out.out + out.err + caplog.text + " ".join(str(w.message) for w in warned)
    shown += "".join(p.read_text() for p in (tmp_path / "cache").rglob("mnist_hf_provenance.json"))
    assert "S3cretPw" not in shown and "alice" not in shown
    assert "http://***@127.0.0.1" in out.err and "http://***@127.0.0.1" in caplog.text  # what the user is told
    assert f"from http://***@127.0.0.1:{server.httpd.server_port}/good/" in out.out


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


# --- Unit tests of mnist_hf/fetch.py: fast, one small file each ----------------------------------

def _idx_content(seed: int = 0) -> bytes:
    return to_idx_bytes(np.random.default_rng(seed).integers(0, 256, (5, 28, 28), dtype=np.uint8))


def _xz(data: bytes, **kw) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, **kw)


@pytest.mark.parametrize("decompress", [False, "", True, "gzip", "xz"])
def test_file_digest_of_the_file_or_of_its_content(tmp_path, decompress):
    content = _idx_content()
    stored = {False: content, "": content, True: gzip.compress(content), "gzip": gzip.compress(content),
              "xz": _xz(content)}[decompress]
    path = tmp_path / "f"
    path.write_bytes(stored)
    assert fetch.file_digest(str(path), "sha256", decompress=decompress) == hashlib.sha256(content).hexdigest()
    assert fetch.file_digest(str(path), "md5") == hashlib.md5(stored).hexdigest()


def test_file_digest_reads_files_larger_than_one_chunk(tmp_path):
    content = np.random.default_rng(3).bytes(5 * 2**20 + 7)
    (tmp_path / "big.gz").write_bytes(gzip.compress(content, compresslevel=1))
    assert fetch.file_digest(str(tmp_path / "big.gz"), "sha256", decompress=True) == hashlib.sha256(content).hexdigest()


# The same IDX content stored as published (gzip), recompressed, in xz and raw.
def _stored_forms(content: bytes) -> dict[str, bytes]:
    return {
        "published": gzip.compress(content, compresslevel=9, mtime=0),
        "gzip": gzip.compress(content, compresslevel=1, mtime=12345),
        "xz": _xz(content, check=lzma.CHECK_CRC32),
        "xz-other": _xz(content, preset=0),
        "raw": content,
    }


def _spec(content: bytes, *, with_sha: bool = True) -> FileSpec:
    published = _stored_forms(content)["published"]
    return FileSpec("test_images", "t10k-images-idx3-ubyte.gz", len(published), hashlib.md5(published).hexdigest(),
                    hashlib.sha256(content).hexdigest() if with_sha else None)


def test_verify_file_accepts_the_published_archive_by_md5(tmp_path):
    content = _idx_content()
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(_stored_forms(content)["published"])
    spec = _spec(content)
    v = fetch.verify_file(str(path), spec)
    assert (v.status, v.ok) == ("md5", True)
    assert v.detail == f"archive md5 {spec.md5} matches the published one"


@pytest.mark.parametrize("form", ["gzip", "xz", "xz-other", "raw"])
def test_verify_file_accepts_a_copy_of_the_content_by_sha256(tmp_path, form):
    content = _idx_content()
    data = _stored_forms(content)[form]
    path = tmp_path / "copy"
    path.write_bytes(data)
    v = fetch.verify_file(str(path), _spec(content))
    assert (v.status, v.ok) == ("content-sha256", True)
    sha = hashlib.sha256(content).hexdigest()
    assert v.detail == (f"archive md5 differs ({hashlib.md5(data).hexdigest()}), but the decompressed content's "
                        f"sha256 {sha[:16]}... matches the recorded one (a recompressed copy)")


@pytest.mark.parametrize("form", ["gzip", "xz", "raw"])
def test_verify_file_without_a_recorded_content_hash_needs_the_md5(tmp_path, form):
    content = _idx_content()
    data = _stored_forms(content)[form]
    path = tmp_path / "copy"
    path.write_bytes(data)
    spec = _spec(content, with_sha=False)
    v = fetch.verify_file(str(path), spec)
    assert (v.status, v.ok) == ("unverified", False)
    sha = hashlib.sha256(content).hexdigest()
    assert v.detail == (f"md5 {hashlib.md5(data).hexdigest()} / content sha256 {sha[:16]}... match neither the "
                        f"published md5 {spec.md5}")


@pytest.mark.parametrize("form", ["published", "xz", "raw"])
def test_verify_file_rejects_other_content(tmp_path, form):
    content, other = _idx_content(), _idx_content(seed=1)
    data = _stored_forms(other)[form]
    path = tmp_path / "other"
    path.write_bytes(data)
    spec = _spec(content)
    v = fetch.verify_file(str(path), spec)
    assert (v.status, v.ok) == ("unverified", False)
    other_sha = hashlib.sha256(other).hexdigest()
    assert v.detail == (f"md5 {hashlib.md5(data).hexdigest()} / content sha256 {other_sha[:16]}... match neither "
                        f"the published md5 {spec.md5} or content sha256 {spec.content_sha256[:16]}...")


@pytest.mark.parametrize("form, kind", [("gzip", "gzip"), ("xz", "xz")])
def test_verify_file_says_which_compressed_data_is_corrupt(tmp_path, form, kind):
    content = _idx_content()
    data = _stored_forms(content)[form]
    path = tmp_path / "truncated"
    path.write_bytes(data[: len(data) // 2])
    spec = _spec(content)
    v = fetch.verify_file(str(path), spec)
    assert (v.status, v.ok) == ("unverified", False)
    md5 = hashlib.md5(data[: len(data) // 2]).hexdigest()
    prefix = f"md5 {md5} is not the published {spec.md5}, and the {kind} data is corrupt ("
    assert v.detail.startswith(prefix) and v.detail.endswith(")") and len(v.detail) > len(prefix) + 1


@pytest.mark.parametrize("form", ["gzip", "xz"])
def test_verify_file_stops_hashing_content_longer_than_the_published_file(tmp_path, form, monkeypatch):
    # A decompression bomb is not hashed to its end: past what the published rows hold it cannot be
    # the published content (issue 19, case 1).
    content = _idx_content()
    data = _stored_forms(content + bytes(4 * 2**20))[form]
    path = tmp_path / "long"
    path.write_bytes(data)
    chunks = []
    real = fetch.file_digest

    def counting(*args, **kwargs):
        chunks.append(kwargs.get("limit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fetch, "file_digest", counting)
    v = fetch.verify_file(str(path), _spec(content), max_content=len(content) + 10)
    assert (v.status, v.ok) == ("unverified", False)
    assert v.detail == (f"md5 {hashlib.md5(data).hexdigest()} is not the published {_spec(content).md5}, and the "
                        f"{form} data decompresses to more than the {len(content) + 10:,} bytes the published file "
                        "holds (not read further)")
    assert chunks == [None, len(content) + 10]
    assert fetch.verify_file(str(path), _spec(content)).detail.startswith(f"md5 {hashlib.md5(data).hexdigest()} / ")


def test_content_limit_is_what_the_published_rows_hold():
    mnist, qmnist = SPECS["mnist"], SPECS["qmnist"]
    assert mnist.content_limit("train_images") == 16 + 60000 * 784
    assert mnist.content_limit("test_labels") >= 8 + 10000
    assert qmnist.content_limit("test_labels") >= 12 + 60000 * 8 * 4
    assert SPECS["emnist_letters"].content_limit("archive") is None


class _Status(Exception):
    """An HTTP error carrying its status on ``.response.status_code`` (requests' and httpx's layout)."""

    def __init__(self, code):
        super().__init__(f"{code} error")
        self.response = type("Response", (), {"status_code": code})()


class ReadTimeout(OSError):
    """Named like requests' timeout, which is not a TimeoutError subclass."""


class Stalled(TimeoutError):
    """A TimeoutError whose name does not say so."""


def _chain(*excs: BaseException, explicit: bool = False) -> BaseException:
    """``excs[0]`` raised while handling ``excs[1]``, itself while handling ``excs[2]``, ..."""
    for outer, inner in itertools.pairwise(excs):
        if explicit:
            outer.__cause__ = inner
        else:
            outer.__context__ = inner
    return excs[0]


HTTP = "http://mirror.example/data/t10k-images-idx3-ubyte.gz"


@pytest.mark.parametrize("exc, url, reason", [
    (TimeoutError(), HTTP, "timed out (TimeoutError)"),
    (Stalled(), HTTP, "timed out (Stalled)"),
    (ReadTimeout("read timed out"), HTTP, "timed out (ReadTimeout)"),
    (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), HTTP, "timed out (ServerTimeoutError)"),
    (_chain(FileNotFoundError(HTTP), ValueError("x"), ReadTimeout()), HTTP, "timed out (ReadTimeout)"),
    (_chain(FileNotFoundError(HTTP), aiohttp.ClientResponseError(None, (), status=500, message="Internal Server Error")),
     HTTP, "HTTP 500 Internal Server Error"),
    (_chain(FileNotFoundError(HTTP), aiohttp.ClientResponseError(None, (), status=404, message="Not Found"),
            explicit=True), HTTP, "HTTP 404 Not Found"),
    (aiohttp.ClientResponseError(None, (), status=503, message=""), HTTP, "HTTP 503"),
    (_chain(FileNotFoundError(HTTP), _Status(502)), HTTP, "HTTP 502"),
    (_Status(429), HTTP, "HTTP 429"),
    (FileNotFoundError(HTTP), HTTP, "not found (HTTP 404)"),
    (FileNotFoundError("/data/x.gz"), "/data/t10k-images-idx3-ubyte.gz", "no such local file"),
    (FileNotFoundError("x"), "file:///data/t10k-images-idx3-ubyte.gz", "no such local file"),
    (_chain(OSError("wrapper"), FileNotFoundError("gone")), HTTP, "not found (HTTP 404)"),
    (ConnectionRefusedError("[Errno 111] Connection refused"), HTTP,
     "ConnectionRefusedError: [Errno 111] Connection refused"),
    (_chain(RuntimeError("outer"), ConnectionResetError("  reset by peer\nsecond line  ")), HTTP,
     "ConnectionResetError: reset by peer"),
    (ValueError("x" * 200), HTTP, "ValueError: " + "x" * 160),
    (ConnectionResetError(), HTTP, "ConnectionResetError"),
    (ValueError("   "), HTTP, "ValueError"),
])
def test_describe_names_the_reason_from_the_root_of_the_chain(exc, url, reason):
    assert fetch._describe(exc, url) == reason


def test_describe_prefers_the_explicit_cause_over_the_context():
    exc = RuntimeError("wrapper")
    exc.__cause__ = aiohttp.ClientResponseError(None, (), status=500, message="Internal Server Error")
    exc.__context__ = ValueError("what was being handled")
    assert fetch._describe(exc, HTTP) == "HTTP 500 Internal Server Error"


def test_describe_looks_ten_links_deep_and_survives_a_cycle():
    # Links 0-9 are read; a timeout at link 10 is beyond the documented depth.
    deep = _chain(*[ValueError(f"link {i}") for i in range(10)], TimeoutError())
    assert fetch._describe(deep, HTTP) == "ValueError: link 9"
    within = _chain(*[ValueError(f"link {i}") for i in range(9)], TimeoutError())
    assert fetch._describe(within, HTTP) == "timed out (TimeoutError)"
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert fetch._describe(a, HTTP) in ("ValueError: a", "ValueError: b")


@pytest.mark.parametrize("url, remote", [
    ("http://h/x.gz", True), ("https://h/x.gz", True), ("s3://bucket/x.gz", True),
    ("file:///data/x.gz", False), ("/data/x.gz", False), ("data/x.gz", False),
])
def test_is_remote(url, remote):
    assert fetch._is_remote(url) is remote


def test_discard_removes_a_download_and_its_side_files_only(tmp_path):
    base = tmp_path / "abc123"
    for suffix in ("", ".json", ".incomplete", ".lock"):
        (tmp_path / f"abc123{suffix}").write_bytes(b"x")
    (tmp_path / "abc123.keep").write_bytes(b"x")
    (tmp_path / "other.json").write_bytes(b"x")
    fetch._discard(str(base))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc123.keep", "other.json"]
    fetch._discard(str(base))  # nothing left to remove: no error
    (tmp_path / "abc123.lock").write_bytes(b"x")
    fetch._discard(str(base))  # only some side files present
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc123.keep", "other.json"]


@pytest.mark.parametrize("padding, html", [(0, True), (507, True), (508, False), (600, False)])
def test_html_is_sniffed_in_the_first_512_bytes(tmp_path, padding, html):
    """A page whose ``<html`` tag starts in the first 512 bytes is a failed download (MirrorError);
    anything else is judged by its checksum (ChecksumError)."""
    path = tmp_path / "page"
    path.write_bytes(b" " * padding + b"<html><body>Access denied</body></html>")
    with pytest.raises(MirrorError if html else ChecksumError) as err:
        fetch._check_download(str(path), _spec(_idx_content()))
    expected = "served an HTML page" if html else "checksum mismatch: md5 "
    assert str(err.value).startswith(expected)


def test_check_download_returns_the_verification(tmp_path):
    content = _idx_content()
    path = tmp_path / "copy"
    path.write_bytes(_stored_forms(content)["xz"])
    v = fetch._check_download(str(path), _spec(content))
    assert v.status == "content-sha256"


# --- download_file against a local server --------------------------------------------------------

NAME = "t10k-images-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def one_file_server():
    content = _idx_content()
    server = FileServer({NAME: _stored_forms(content)["published"]})
    yield server, content
    server.close()


@pytest.fixture
def unit_server(one_file_server, online):
    server, content = one_file_server
    server.mirrors.clear()
    server.hits.clear()
    return server, _spec(content)


def _manager(cache_dir) -> datasets.DownloadManager:
    return datasets.DownloadManager(download_config=datasets.DownloadConfig(cache_dir=str(cache_dir)))


def _mirror_hits(server, mirror):
    return sum(n for path, n in server.hits.items() if path.startswith(f"/{mirror}/"))


def test_download_file_returns_the_verified_download(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors["a"] = "ok"
    manager = _manager(tmp_path / "cache")
    got = fetch.download_file(manager, spec, [server.url("a")])
    assert got.spec is spec
    assert got.origin == server.url("a") + NAME
    assert got.verification.status == "md5"
    assert open(got.path, "rb").read() == server.files[NAME]
    assert got.path == fetch._cache_path(manager, got.origin)  # where datasets keeps it
    assert got.path.startswith(str(tmp_path / "cache"))


@pytest.mark.parametrize("form", ["trailing slash", "no slash", "file url", "name ending in X"])
def test_download_file_builds_the_url_from_each_mirror_form(unit_server, tmp_path, form):
    server, spec = unit_server
    mirror = "mirror-X" if form == "name ending in X" else "m"
    server.mirrors[mirror] = "ok"
    base = server.url(mirror)  # ends with "/"
    given = {"trailing slash": base, "no slash": base.rstrip("/"), "file url": base + NAME,
             "name ending in X": base}[form]
    got = fetch.download_file(_manager(tmp_path / "cache"), spec, given)  # one string: one mirror
    assert got.origin == base + NAME
    assert server.hits[f"/{mirror}/{NAME}"] >= 1


def test_download_file_tries_mirrors_in_the_given_order(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors.update({"b": "ok", "a": "ok", "c": "ok"})
    got = fetch.download_file(_manager(tmp_path / "cache"), spec, [server.url("b"), server.url("a"), server.url("c")])
    assert got.origin == server.url("b") + NAME
    assert _mirror_hits(server, "a") == _mirror_hits(server, "c") == 0


def test_download_file_tries_a_cached_mirror_first(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors.update({"a": "ok", "b": "ok", "c": "ok"})
    manager = _manager(tmp_path / "cache")
    fetch.download_file(manager, spec, [server.url("b")])
    server.hits.clear()
    got = fetch.download_file(manager, spec, [server.url("a"), server.url("b"), server.url("c")])
    assert got.origin == server.url("b") + NAME
    assert _mirror_hits(server, "a") == _mirror_hits(server, "c") == 0


def test_download_file_falls_back_and_logs_each_failure(unit_server, tmp_path, caplog):
    server, spec = unit_server
    server.mirrors.update({"down": "404", "broken": "500", "wrong": {NAME: gzip.compress(_idx_content(seed=1))},
                           "page": "html", "good": "ok"})
    urls = [server.url(m) + NAME for m in ("down", "broken", "wrong", "page", "good")]
    manager = _manager(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        got = fetch.download_file(manager, spec, [server.url(m) for m in ("down", "broken", "wrong", "page", "good")])
    assert got.origin == urls[-1] and got.verification.status == "md5"
    messages = [r.getMessage() for r in caplog.records if r.name == "mnist_hf.fetch"]
    assert messages[0] == f"mirror failed for {urls[0]}: HTTP 404 Not Found"
    assert messages[1] == f"mirror failed for {urls[1]}: HTTP 500 Internal Server Error"
    assert messages[2].startswith(f"rejected download {urls[2]}: checksum mismatch: md5 ")
    assert messages[3] == (f"rejected download {urls[3]}: served an HTML page instead of the file (error page or "
                           "captive portal)")
    assert len(messages) == 4
    # The rejected downloads are gone from the cache; the good one stays.
    for url in urls[2:4]:
        assert not any(os.path.exists(fetch._cache_path(manager, url) + s) for s in ("", ".json", ".incomplete"))
    assert os.path.exists(got.path)


def test_download_file_lists_every_mirror_when_all_fail(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors.update({"down": "404", "wrong": {NAME: gzip.compress(_idx_content(seed=1))}})
    folder = tmp_path / "folder"
    folder.mkdir()
    mirrors = [server.url("down"), server.url("wrong"), str(folder)]
    with pytest.raises(MirrorError) as err:
        fetch.download_file(_manager(tmp_path / "cache"), spec, mirrors)
    lines = str(err.value).split("\n")
    assert lines[0] == f"could not get {NAME} from any mirror:"
    assert lines[1] == f"  - {server.url('down')}{NAME}: HTTP 404 Not Found"
    assert lines[2].startswith(f"  - {server.url('wrong')}{NAME}: checksum mismatch: md5 ")
    assert lines[3] == f"  - {folder}/{NAME}: no such local file"
    assert lines[4].startswith("To work offline,") and "data_dir=" in lines[4]
    assert len(lines) == 5


def test_download_file_only_failures_is_a_mirror_error(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors["down"] = "404"
    with pytest.raises(MirrorError) as err:
        fetch.download_file(_manager(tmp_path / "cache"), spec, [server.url("down")])
    assert not isinstance(err.value, ChecksumError)


@pytest.mark.parametrize("n_wrong", [1, 2])
def test_download_file_only_wrong_files_is_a_checksum_error(unit_server, tmp_path, n_wrong):
    server, spec = unit_server
    wrong = [f"wrong{i}" for i in range(n_wrong)]
    for i, mirror in enumerate(wrong):
        server.mirrors[mirror] = {NAME: gzip.compress(_idx_content(seed=i + 1))}
    with pytest.raises(ChecksumError) as err:
        fetch.download_file(_manager(tmp_path / "cache"), spec, [server.url(m) for m in wrong])
    assert len(_reasons(str(err.value))) == n_wrong


def test_download_file_keeps_a_rejected_file_of_a_local_mirror(unit_server, tmp_path):
    _, spec = unit_server
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / NAME).write_bytes(gzip.compress(_idx_content(seed=1)))
    (folder / (NAME + ".json")).write_text("{}")
    with pytest.raises(ChecksumError):
        fetch.download_file(_manager(tmp_path / "cache"), spec, [str(folder)])
    assert sorted(p.name for p in folder.iterdir()) == [NAME, NAME + ".json"]


def test_download_file_with_no_mirrors(unit_server, tmp_path):
    server, spec = unit_server
    for mirrors in ([], ()):
        with pytest.raises(MirrorError) as err:
            fetch.download_file(_manager(tmp_path / "cache"), spec, mirrors)
        assert str(err.value).startswith(f"could not get {NAME}: no mirrors to try (mirrors is empty), no data_dir")
    assert server.total_hits() == 0


def test_cache_path_defaults_to_datasets_download_folder():
    manager = datasets.DownloadManager(download_config=datasets.DownloadConfig())
    path = fetch._cache_path(manager, HTTP)
    assert os.path.dirname(path) == str(datasets.config.DOWNLOADED_DATASETS_PATH)
    assert path != fetch._cache_path(manager, HTTP + "2")


def test_set_download_timeout_limits_connect_and_read_only(tmp_path):
    manager = _manager(tmp_path)
    options = manager.download_config.storage_options
    options["https"] = {"client_kwargs": {"trust_env": True}, "block_size": 0}
    options["http"] = {"client_kwargs": {"timeout": "mine"}}
    fetch.set_download_timeout(manager, 7.5)
    https = options["https"]
    assert https["block_size"] == 0 and https["client_kwargs"]["trust_env"] is True
    assert https["client_kwargs"]["timeout"] == aiohttp.ClientTimeout(total=None, connect=7.5, sock_read=7.5)
    assert options["http"]["client_kwargs"] == {"timeout": "mine"}  # the caller's own timeout is kept


def test_resolve_files_downloads_every_file_with_the_timeout(unit_server, tmp_path):
    server, spec = unit_server
    server.mirrors["a"] = "ok"
    dataset = dataclasses.replace(SPECS["fashion_mnist"], files={"test_images": spec})
    manager = _manager(tmp_path / "cache")
    out = fetch.resolve_files(dataset, data_dir=None, system_dirs=[str(tmp_path / "absent")],
                              mirrors=[server.url("a")], dl_manager=manager, timeout=3.0)
    assert list(out) == ["test_images"]
    assert out["test_images"].origin == server.url("a") + NAME and out["test_images"].spec is spec
    timeout = manager.download_config.storage_options["http"]["client_kwargs"]["timeout"]
    assert (timeout.connect, timeout.sock_read) == (3.0, 3.0)


# --- Limits, credentials and content limits along every path (mutation testing) ------------------

def test_file_digest_limit_allows_exactly_limit_bytes_and_counts_every_chunk(tmp_path):
    # The limit is what the published rows hold: content of exactly that size is the published
    # size and must be hashed; one byte more, even spread over two chunks, must stop.
    content = np.random.default_rng(4).bytes(2**20 + 2**19)
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(content, compresslevel=1))
    digest = fetch.file_digest(str(path), "sha256", decompress="gzip", limit=len(content))
    assert digest == hashlib.sha256(content).hexdigest()
    with pytest.raises(fetch._ContentTooLong) as err:
        fetch.file_digest(str(path), "sha256", decompress="gzip", limit=len(content) - 1)
    assert str(err.value) == str(len(content) - 1)  # the error says which limit was passed


def test_verify_file_hashes_an_uncompressed_file_whatever_max_content(tmp_path):
    # Only decompression can turn a small file into a long read; a raw file is judged by its
    # content hash, never reported as decompressing past the limit.
    other = _idx_content(seed=1)
    path = tmp_path / "raw"
    path.write_bytes(other)
    spec = _spec(_idx_content())
    v = fetch.verify_file(str(path), spec, max_content=100)
    assert (v.status, v.ok) == ("unverified", False)
    assert v.detail.startswith(f"md5 {hashlib.md5(other).hexdigest()} / content sha256 "
                               f"{hashlib.sha256(other).hexdigest()[:16]}... match neither")


@pytest.mark.parametrize("source", ["data_dir", "system copy", "mirror"])
def test_every_source_stops_reading_content_past_the_published_rows(unit_server, tmp_path, caplog, source):
    # Each way resolve_files finds a file must hand the dataset's content limit down to the
    # checksum, or a decompression bomb from that source is read to its end (issue 19, case 1).
    server, spec = unit_server
    content = _idx_content()
    dataset = dataclasses.replace(SPECS["fashion_mnist"], files={"test_images": spec},
                                  split_sizes={"train": 60000, "test": 5})
    assert dataset.content_limit("test_images") == len(content)
    bomb = gzip.compress(content + bytes(2**20))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / NAME).write_bytes(bomb)
    server.mirrors.update({"bomb": {NAME: bomb}, "good": "ok"})
    too_long = f"decompresses to more than the {len(content):,} bytes the published file holds (not read further)"
    kw = {"data_dir": None, "system_dirs": [], "mirrors": [server.url("good")],
          "dl_manager": _manager(tmp_path / "cache"), "timeout": 3.0}
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        if source == "data_dir":
            out = fetch.resolve_files(dataset, **{**kw, "data_dir": str(folder)})
            assert out["test_images"].verification.detail.endswith(too_long)  # used as given, with the reason
        elif source == "system copy":
            out = fetch.resolve_files(dataset, **{**kw, "system_dirs": [str(folder)]})
            assert out["test_images"].origin == server.url("good") + NAME
        else:
            with pytest.raises(ChecksumError) as err:
                fetch.resolve_files(dataset, **{**kw, "mirrors": [server.url("bomb")]})
            assert too_long in _reasons(str(err.value))["bomb"]
    warned = [r.getMessage() for r in caplog.records if r.name == "mnist_hf.fetch"]
    ending = too_long + ("); using it as given" if source == "data_dir" else "")
    assert len(warned) == 1 and warned[0].endswith(ending), warned


@pytest.mark.parametrize("userinfo, sent", [
    ("alice:p@ss", b"alice:p@ss"),  # an unencoded "@" in the password: the host follows the last one
    (":S3cretPw", b":S3cretPw"),  # no user name: sent empty
    ("alice", b"alice:"),  # no password: sent empty
])
def test_download_file_sends_the_mirrors_user_information_as_basic_auth(unit_server, tmp_path, userinfo, sent):
    server, spec = unit_server
    server.mirrors["a"] = "ok"
    server.authorization = "Basic " + base64.b64encode(sent).decode()
    try:
        manager = _manager(tmp_path / "cache")
        url = server.url("a").replace("http://", f"http://{userinfo}@")
        got = fetch.download_file(manager, spec, [url])
    finally:
        server.authorization = None  # the server is shared by the module's tests
    assert got.origin == server.url("a").replace("http://", "http://***@") + NAME
    assert got.path == fetch._cache_path(manager, server.url("a") + NAME)  # cached under the plain URL


def test_download_file_sends_no_password_to_a_later_mirror_without_one(unit_server, tmp_path):
    # The server wants alice's password on every request: the mirror given without it must not
    # inherit it from the mirror tried before, so it is refused.
    server, spec = unit_server
    server.mirrors.update({"down": "404", "good": "ok"})
    server.authorization = "Basic " + base64.b64encode(b"alice:S3cretPw").decode()
    try:
        with pytest.raises(MirrorError) as err:
            fetch.download_file(_manager(tmp_path / "cache"), spec,
                                [_with_password(server.url("down")), server.url("good")])
    finally:
        server.authorization = None
    reasons = _reasons(str(err.value))
    assert reasons["down"].startswith("HTTP 404") and reasons["good"].startswith("HTTP 401")


def test_use_credentials_sets_and_clears_auth_for_http_and_https(tmp_path):
    # An https mirror gets its password through the "https" storage options, as an http one
    # through "http"; a mirror without credentials clears both, keeping the caller's other options.
    manager = _manager(tmp_path)
    options = manager.download_config.storage_options
    options["https"] = {"client_kwargs": {"trust_env": True}, "block_size": 0}
    fetch._use_credentials(manager, ("alice", "S3cretPw"))
    for protocol in ("http", "https"):
        assert tuple(options[protocol]["client_kwargs"]["auth"])[:2] == ("alice", "S3cretPw")
    fetch._use_credentials(manager, None)
    assert options["https"] == {"client_kwargs": {"trust_env": True}, "block_size": 0}
    assert options["http"] == {"client_kwargs": {}}


def test_a_decompression_bomb_is_hashed_in_bounded_memory(tmp_path):
    # 64 MiB of zeros gzip to 64 KiB: reading the content at once to check its length would hold it
    # all; chunks of _HASH_CHUNK keep the peak near one chunk, whatever the archive decompresses to.
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(bytes(64 * 2**20), compresslevel=9))

    def digest():
        with pytest.raises(fetch._ContentTooLong):
            fetch.file_digest(str(path), "sha256", decompress="gzip", limit=2**20)

    assert peak_bytes(digest) < 8 * 2**20
