"""The IDX reader under fuzzing (issue 10): seeded, bounded runs of the mutated files that
scripts/maintenance/fuzzing.py makes, judged by its independent decoder. scripts/maintenance/fuzz_idx.py runs the same
generator for as long as you like."""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import tracemalloc
import zipfile
from collections import Counter

import numpy as np
import pytest
from fuzzing import (
    MEMBER,
    Base,
    check_case,
    encode_idx,
    expected,
    make_case,
    real_bases,
    run_cases,
    synthetic_bases,
    xz_window,
)
from helpers import cache_is_clean, make_idx_dir

import mnist_hf
from mnist_hf import DataValidationError, IDXFormatError, MissingFilesError

SEED = 20261127
# Every kind of outcome the synthetic run must reach, so a generator that stops producing one
# (or a reader that stops reporting it) is noticed rather than silently passing.
KINDS = ["array", "header", "trailing garbage", "truncated gzip", "corrupt gzip", "truncated xz", "corrupt xz",
         "zip member", "zip archive", "wrong magic", "unknown element type", "holds only",
         "more than this gzip stream can hold", "has size 0", "0 dimensions", "inside the header", "HTML", "empty"]


def test_fuzz_synthetic_files(tmp_path):
    tried, tallies, failures = run_cases(synthetic_bases(), SEED, range(2500), tmp_path)
    assert tried == 2500
    assert not failures, f"{len(failures)} failures, first ones:\n" + "\n".join(failures[:20])
    assert not [k for k in KINDS if tallies.get(k, 0) < 3], tallies


@pytest.mark.real_data
def test_fuzz_real_files(shared_data, tmp_path):
    bases = real_bases(shared_data)
    assert len(bases) == 9
    tried, tallies, failures = run_cases(bases, SEED, range(800), tmp_path)
    assert not failures, f"{len(failures)} failures, first ones:\n" + "\n".join(failures[:20])
    assert tallies["array"] > 50 and tallies["corrupt gzip"] > 50


def test_cases_are_reproducible_and_cover_every_container():
    bases = synthetic_bases()
    assert make_case(bases, 7, 123).data == make_case(bases, 7, 123).data
    assert len({make_case(bases, 7, i).data for i in range(50)}) > 30  # unmutated raw files repeat
    cases = [make_case(bases, SEED, i) for i in range(2500)]
    containers = Counter(c.suffix for c in cases)
    assert min(containers[s] for s in ("", ".gz", ".xz", ".zip")) > 200, containers
    steps = Counter(step for c in cases for step in c.steps)
    for name in ("zip-encrypted", "zip-method", "zip-declared-size", "zip-flip-data", "xz-padding-or-stream", "xz-flip-body"):
        assert steps[name] >= 5, (name, steps)


def test_decoder_follows_the_format():
    # The judge must be right, or the fuzzing proves nothing.
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    raw = encode_idx(array)
    gz = gzip.compress(raw, mtime=0)
    np.testing.assert_array_equal(expected(raw).array, array)
    np.testing.assert_array_equal(expected(gzip.compress(raw[:5]) + gzip.compress(raw[5:])).array, array)
    assert expected(gz + b"\n").why == "trailing garbage after a gzip member"
    assert expected(gz + b"\x00" * 8).why == "trailing garbage after a gzip member"
    assert expected(gz + b"\x1f\x8b").why == "truncated gzip"
    assert expected(gz[:-3]).why == "truncated gzip"
    assert expected(gz[:3] + b"\xe0" + gz[4:]).why.startswith("corrupt gzip")  # reserved flag bits
    assert expected(raw + b"x").why == "25 data bytes for 24 declared"
    bad_type = expected(raw[:2] + b"\x0a" + raw[3:])
    assert bad_type.array is None and bad_type.header is None
    # What decodes before an error is kept to the byte (header and memory bound rely on it).
    cut = expected(gzip.compress(raw, compresslevel=0)[:-30])
    assert cut.header == (np.dtype("int16"), (3, 4)) and cut.why == "truncated gzip"


def test_decoder_follows_the_xz_and_zip_formats():
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    raw = encode_idx(array)
    xz = lzma.compress(raw, format=lzma.FORMAT_XZ)
    for valid in (xz, xz + b"\x00" * 8, lzma.compress(raw[:5]) + b"\x00" * 4 + lzma.compress(raw[5:]),
                  xz + lzma.compress(b"")):
        np.testing.assert_array_equal(expected(valid).array, array)
    assert expected(xz + b"\x00" * 3).why == "trailing garbage after an xz stream"  # padding: a multiple of 4
    assert expected(xz + b"junk").why == "trailing garbage after an xz stream"
    assert expected(xz[:-5]).why == "truncated xz"
    assert expected(xz[:20] + bytes([xz[20] ^ 0xFF]) + xz[21:]).why.startswith("corrupt xz")
    assert xz_window(xz) == 8 << 20 and xz_window(lzma.compress(raw, preset=1)) == 1 << 20 and xz_window(raw) == 0

    def zipped(content, **kw):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MEMBER, content, **kw)
        return buf.getvalue()

    for content in (raw, gzip.compress(raw)):
        np.testing.assert_array_equal(expected(zipped(content), ".zip").array, array)
    assert expected(zipped(raw, compress_type=zipfile.ZIP_BZIP2), ".zip").why == "zip: compression method 12"
    data = zipped(raw)
    central = data.rfind(b"PK\x01\x02")
    encrypted = data[:6] + b"\x01" + data[7:central + 8] + b"\x01" + data[central + 9:]
    assert expected(encrypted, ".zip").why == "zip: encrypted member"
    assert expected(data[:-30], ".zip").why.startswith("zip: no readable member")
    # A wrong CRC in both entries: found at the member's end, after what came before was read
    # (zipfile inflates 4 kB at a time, so a longer member shows its header first).
    data = zipped(encode_idx(np.arange(6000, dtype=np.int16).reshape(2000, 3)))
    bad_crc, central = bytearray(data), data.rfind(b"PK\x01\x02")
    bad_crc[data.find(b"PK\x03\x04") + 14] ^= 1
    bad_crc[central + 16] ^= 1
    broken = expected(bytes(bad_crc), ".zip")
    assert broken.why == "zip: corrupt member (BadZipFile)" and broken.header == (np.dtype("int16"), (2000, 3))


@pytest.mark.parametrize("bad_reader, complaint", [
    (lambda path: np.zeros(3, np.uint8), "accepted an invalid file"),
    (lambda path: (_ for _ in ()).throw(ValueError("boom")), "raised ValueError"),
    (lambda path: (_ for _ in ()).throw(IDXFormatError("elsewhere", "x")), "does not name the file"),
    (lambda path: np.zeros(40 * 2**20, np.uint8)[:3], "peak memory"),
])
def test_the_check_catches_a_wrong_reader(monkeypatch, tmp_path, bad_reader, complaint):
    import fuzzing

    def reader(path):
        return bad_reader(path)

    monkeypatch.setattr(fuzzing, "read_idx", reader)
    case = make_case([Base("x", b"\x00\x00\x08\x01\x00\x00\x00\x02ab")], 0, 0)
    case.data = b"\x00\x00\x08\x01\x00\x00\x00\x02abc"  # one byte too many: invalid
    tracemalloc.start()
    try:
        report = check_case(case, tmp_path / "x")
    finally:
        tracemalloc.stop()
    assert any(complaint in f for f in report.failures), report.failures


def test_a_rejected_valid_file_and_a_wrong_array_are_caught(monkeypatch, tmp_path):
    import fuzzing

    case = make_case([Base("x", b"")], 0, 0)
    case.data = encode_idx(np.arange(4, dtype=np.uint8))
    tracemalloc.start()
    try:
        monkeypatch.setattr(fuzzing, "read_idx", lambda path: np.arange(1, 5, dtype=np.uint8))
        assert any("different array" in f for f in check_case(case, tmp_path / "x").failures)
        monkeypatch.setattr(fuzzing, "read_idx", lambda path: (_ for _ in ()).throw(IDXFormatError(path, "no")))
        assert any("rejected a valid file" in f for f in check_case(case, tmp_path / "x").failures)
    finally:
        tracemalloc.stop()


# The builder on a small synthetic folder with one mutated file: only the documented errors,
# naming the file, and nothing prepared left in the cache.
BUILDER_CASES = 60


def test_fuzz_builder_validation(tmp_path):
    pristine = tmp_path / "pristine"
    arrays = make_idx_dir(pristine, n_train=30, n_test=10)
    names = sorted(arrays)
    outcomes = {}
    for index in range(BUILDER_CASES):
        name = names[index % len(names)]
        case = make_case([Base(name, encode_idx(arrays[name]))], SEED, index)
        data_dir, cache = tmp_path / f"d{index}", tmp_path / f"cache{index}"
        shutil.copytree(pristine, data_dir)
        target = data_dir / f"{name}.gz"
        target.write_bytes(case.data)
        try:
            mnist_hf.load("mnist", data_dir=str(data_dir), cache_dir=str(cache), system_dirs=(), image_format="array")
        except (IDXFormatError, DataValidationError, MissingFilesError) as e:
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
            assert cache_is_clean(cache), case.label
            assert not isinstance(e, MissingFilesError), f"{case.label}: {e}"  # every file is there
            assert str(target) in str(e) or (isinstance(e, DataValidationError) and str(data_dir) in str(e)), (
                f"{case.label}: {e}")
            if isinstance(e, IDXFormatError):
                assert expected(case.data).array is None, f"{case.label}: rejected a valid file: {e}"
        else:
            outcomes["built"] = outcomes.get("built", 0) + 1
            assert expected(case.data).array is not None, f"{case.label}: built from an invalid file"
        finally:
            shutil.rmtree(data_dir)
            shutil.rmtree(cache, ignore_errors=True)
    assert outcomes.get("IDXFormatError", 0) > 10 and outcomes.get("DataValidationError", 0) > 0, outcomes
