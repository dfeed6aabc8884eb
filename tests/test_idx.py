import gzip
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnist_hf.idx import TYPE_CODES, IDXFormatError, read_idx, to_idx_bytes, write_idx

NATIVE = [np.dtype(d.str.replace(">", "=")).newbyteorder("=") for d in TYPE_CODES.values()]


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(NATIVE),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6),
    compress=st.booleans(),
    data=st.data(),
)
def test_round_trip_every_type_code(tmp_path_factory, dtype, shape, compress, data):
    array = data.draw(hnp.arrays(dtype, shape, elements=None if dtype.kind != "f" else {"allow_nan": False}))
    path = tmp_path_factory.mktemp("rt") / ("x.idx" + (".gz" if compress else ""))
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") or back.dtype.str[1:] == array.dtype.str[1:]
    assert back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_header_layout_is_big_endian():
    raw = to_idx_bytes(np.array([[1, 2]], dtype=np.int32))
    assert raw[:4] == bytes([0, 0, 0x0C, 2])
    assert struct.unpack(">II", raw[4:12]) == (1, 2)
    assert raw[12:] == b"\x00\x00\x00\x01\x00\x00\x00\x02"


def _write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


GOOD = to_idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    "name, data, fragment",
    [
        ("empty", b"", "empty"),
        ("html", b"  <!DOCTYPE html><html><body>403 Forbidden</body></html>", "HTML page"),
        ("html.gz", b"<html><head><title>Login</title></head></html>", "HTML page"),
        ("magic", b"\x01\x02\x08\x01" + b"\x00" * 8, "wrong magic"),
        ("typecode", bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 2) + b"ab", "unknown element type code 0x0A"),
        ("zerodim", bytes([0, 0, 8, 2]) + struct.pack(">II", 3, 0), "size 0"),
        ("ndim0", bytes([0, 0, 8, 0]), "0 dimensions"),
        ("short-header", bytes([0, 0, 8, 3]) + struct.pack(">I", 2), "inside the header"),
        ("short-magic", b"\x00\x00", "magic number"),
        ("short-data", GOOD[:-3], "holds only 9"),
        ("trailing", GOOD + b"junk", "trailing garbage"),
        ("huge", bytes([0, 0, 8, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**16) + b"\x00" * 16,
         "but the file holds only 16"),
    ],
)
def test_bad_raw_files(tmp_path, name, data, fragment):
    path = _write(tmp_path, name, data)
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    assert fragment in str(err.value)
    assert path in str(err.value)


def test_gzip_problems(tmp_path):
    gz = gzip.compress(GOOD, mtime=0)
    truncated = _write(tmp_path, "trunc.gz", gz[: len(gz) // 2])
    with pytest.raises(IDXFormatError, match="truncated gzip"):
        read_idx(truncated)
    garbage = _write(tmp_path, "garbage.gz", gz + b"this is not gzip")
    with pytest.raises(IDXFormatError, match="trailing garbage"):
        read_idx(garbage)
    inner_trailing = _write(tmp_path, "inner.gz", gzip.compress(GOOD + b"x", mtime=0))
    with pytest.raises(IDXFormatError, match="trailing garbage"):
        read_idx(inner_trailing)
    flipped = bytearray(gz)
    flipped[-6] ^= 0xFF  # CRC
    with pytest.raises(IDXFormatError, match="gzip"):
        read_idx(_write(tmp_path, "crc.gz", bytes(flipped)))


def test_terabyte_header_in_gzip_fails_without_allocating(tmp_path):
    header = bytes([0, 0, 0x0E, 3]) + struct.pack(">III", 2**31, 2**31, 2**10)  # 2^75 bytes
    path = _write(tmp_path, "tb.gz", gzip.compress(header + b"\x00" * 64))
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(IDXFormatError, match="more than this gzip stream can hold"):
        read_idx(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 2**20


def test_missing_file_names_it(tmp_path):
    with pytest.raises(IDXFormatError, match="cannot open") as err:
        read_idx(tmp_path / "nope")
    assert os.fspath(tmp_path / "nope") in str(err.value)


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="no IDX type code"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint32))


def test_iter_idx_blocks_and_errors(tmp_path):
    from mnist_hf.idx import iter_idx, read_idx_header

    array = np.arange(7 * 3, dtype=np.int32).reshape(7, 3)
    path = tmp_path / "x.gz"
    write_idx(path, array)
    np.testing.assert_array_equal(np.concatenate(list(iter_idx(path, 3))), array)
    assert read_idx_header(path) == (np.dtype("int32"), (7, 3))
    gz = path.read_bytes()
    truncated = _write(tmp_path, "t.gz", gz[: len(gz) - 20])
    with pytest.raises(IDXFormatError, match="gzip"):
        list(iter_idx(truncated, 3))
    short = _write(tmp_path, "short", to_idx_bytes(array)[:-5])
    with pytest.raises(IDXFormatError, match="holds only"):
        read_idx_header(short)
