import gzip
import io
import os
import struct

import numpy as np
import pytest
from helpers import peak_bytes
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


# Issue 10: what follows a complete gzip member. A gzip file is a series of members whose
# contents concatenate (RFC 1952 2.2, and `gzip -d` reads them all): a second complete member is
# data. Anything else after the last member, whatever its length, is trailing garbage, reported
# with the byte where the gzip data ends; zero padding too (Python's gzip silently skips it).
GZ = gzip.compress(GOOD, mtime=0)
STRAY = [b"\n", b"\r\n", b"x", b"junk", b"\x00" * 8, b"\x00" * 100, b"\x1f", b"this is not gzip",
         b"y" * 21, b"y" * 22, b"y" * 40, b"\x8b\x1f"]


@pytest.mark.parametrize("tail", STRAY + [b"z" * n for n in range(1, 30)], ids=repr)
def test_stray_bytes_after_gzip_are_trailing_garbage(tmp_path, tail):
    from mnist_hf.idx import iter_idx

    path = _write(tmp_path, "x.gz", GZ + tail)
    count = f"{len(tail)} byte{'' if len(tail) == 1 else 's'}"
    expected = f"trailing garbage: {count} after the end of the gzip data (at byte {len(GZ)}), not another gzip member"
    for read in (read_idx, lambda p: list(iter_idx(p, 2))):
        with pytest.raises(IDXFormatError) as err:
            read(path)
        assert expected in str(err.value)
        assert "truncated" not in str(err.value)
        assert path in str(err.value)


@pytest.mark.parametrize("tail, problem", [
    (b"\x1f\x8b", "are cut off"),
    (b"\x1f\x8b\x08", "are cut off"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 6, "are cut off"),  # a whole member header, nothing after it
    (gzip.compress(b"", mtime=0)[:15], "are cut off"),
    (b"\x1f\x8bnot a member at all", "are not one"),
])
def test_bytes_that_start_like_a_member_are_named_as_such(tmp_path, tail, problem):
    path = _write(tmp_path, "x.gz", GZ + tail)
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    message = str(err.value)
    where = f"{len(tail)} bytes after the end of the gzip data (at byte {len(GZ)})"
    assert f"trailing garbage: {where} start like another gzip member" in message
    assert problem in message


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5, 8, 11])
def test_concatenated_members_are_one_stream(tmp_path, cut):
    # Cuts inside the magic (2), between magic and sizes (4) and inside the sizes: the header
    # reader must keep reading across the member boundary.
    members = gzip.compress(GOOD[:cut], mtime=0) + gzip.compress(b"", mtime=0) + gzip.compress(GOOD[cut:], mtime=0)
    path = _write(tmp_path, "x.gz", members)
    np.testing.assert_array_equal(read_idx(path), np.arange(12, dtype=np.uint8).reshape(3, 4))
    from mnist_hf.idx import iter_idx, read_idx_header

    assert read_idx_header(path) == (np.dtype("uint8"), (3, 4))
    assert [b.tolist() for b in iter_idx(path, 2)] == [[[0, 1, 2, 3], [4, 5, 6, 7]], [[8, 9, 10, 11]]]


def test_two_whole_copies_are_too_much_data(tmp_path):
    with pytest.raises(IDXFormatError, match="trailing garbage: the gzip stream has bytes after the 12 declared"):
        read_idx(_write(tmp_path, "x.gz", GZ + GZ))


def test_second_member_cut_or_corrupt_after_its_data_started(tmp_path):
    first = gzip.compress(GOOD[:10], mtime=0)
    second = gzip.compress(GOOD[10:], mtime=0)
    where = f"gzip member 2 \\(which starts at byte {len(first)}\\)"
    with pytest.raises(IDXFormatError, match=f"truncated gzip stream: the file ends inside {where}"):
        read_idx(_write(tmp_path, "cut.gz", first + second[:-4]))
    bad_crc = bytearray(second)
    bad_crc[-6] ^= 0xFF
    with pytest.raises(IDXFormatError, match=f"corrupt gzip data in {where}"):
        read_idx(_write(tmp_path, "crc.gz", first + bytes(bad_crc)))


def test_first_member_problems_keep_their_names(tmp_path):
    for n in (1, 10, len(GZ) // 2, len(GZ) - 1):
        with pytest.raises(IDXFormatError, match="truncated gzip stream: the file ends before the compressed data does"):
            read_idx(_write(tmp_path, f"t{n}.gz", GZ[:n] if n > 1 else GZ[:2]))
    with pytest.raises(IDXFormatError, match="corrupt gzip data: "):
        read_idx(_write(tmp_path, "c.gz", GZ[:10] + b"\xff" * 30))


def test_lying_gzip_header_allocates_only_what_arrives(tmp_path):
    # 50 MB declared, 60 kB present: the deflate-ratio check lets it through (60 kB could hold
    # 66 MB), so only memory that follows the data keeps this from allocating 50 MB up front.
    import tracemalloc

    header = bytes([0, 0, 8, 2]) + struct.pack(">II", 1, 50_000_000)
    path = _write(tmp_path, "lie.gz", gzip.compress(header + np.random.default_rng(0).bytes(60_000), mtime=0))
    from mnist_hf.idx import iter_idx

    for read in (read_idx, lambda p: list(iter_idx(p, 1))):
        tracemalloc.start()
        with pytest.raises(IDXFormatError, match="holds only 60,000"):
            read(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 5 * 2**20


# Issue 11: the header reader reads exactly, the HTML sniffer is public.
class _Trickle(io.RawIOBase):
    """A stream that hands out one byte per read, as pipes and member boundaries may."""

    def __init__(self, data: bytes):
        self._data = memoryview(data)

    def readable(self):
        return True

    def readinto(self, b):
        if not self._data:
            return 0
        b[0] = self._data[0]
        self._data = self._data[1:]
        return 1


def test_read_full_keeps_reading_short_reads():
    from mnist_hf.idx import _read_full

    assert _read_full(_Trickle(b"abcdef"), 4) == b"abcd"
    assert _read_full(_Trickle(b"ab"), 4) == b"ab"


def test_looks_like_html_is_public_and_used_by_fetch():
    from mnist_hf import fetch, idx

    assert "looks_like_html" in idx.__all__
    assert idx.looks_like_html(b"\n<HTML><body>")
    assert not idx.looks_like_html(GOOD)
    assert fetch._looks_like_html is idx.looks_like_html


# Found by fuzzing (scripts/maintenance/fuzz_idx.py): ISA-L's own exception escaped for corrupt deflate data,
# and ISA-L accepts reserved gzip flag bits, which RFC 1952 2.3.1.2 says a decompressor must reject.
def test_corrupt_deflate_data_is_an_idx_error(tmp_path):
    body = bytearray(gzip.compress(np.random.default_rng(1).bytes(3000), mtime=0))
    body[12] ^= 0xFF
    from mnist_hf.idx import iter_idx, read_idx_header

    path = _write(tmp_path, "x.gz", bytes(body))
    for read in (read_idx, read_idx_header, lambda p: list(iter_idx(p, 2))):
        with pytest.raises(IDXFormatError, match="corrupt gzip data"):
            read(path)


@pytest.mark.parametrize("flag", [0x20, 0x40, 0x80])
def test_reserved_gzip_flags_are_rejected(tmp_path, flag):
    first = GZ[:3] + bytes([GZ[3] | flag]) + GZ[4:]
    with pytest.raises(IDXFormatError, match=f"corrupt gzip data: reserved header flag bits set \\(FLG 0x{flag:02X}\\)"):
        read_idx(_write(tmp_path, "first.gz", first))
    with pytest.raises(IDXFormatError, match="start like another gzip member but are not one \\(reserved header flag"):
        read_idx(_write(tmp_path, "second.gz", GZ + gzip.compress(b"", mtime=0)[:3] + bytes([flag]) + b"\x00" * 16))


def test_iter_idx_rejects_empty_blocks(tmp_path):
    from mnist_hf.idx import iter_idx

    with pytest.raises(ValueError, match="rows_per_block must be at least 1, got 0"):
        next(iter_idx(_write(tmp_path, "x", GOOD), 0))


# --- pinned by mutation testing (docs/mutation): exact messages, xz streams, reproducible bytes ---

def _xz_idx(tmp_path, tail=b"", n=20, name="a.xz"):
    import lzma

    array = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    data = lzma.compress(to_idx_bytes(array), format=lzma.FORMAT_XZ)
    (tmp_path / name).write_bytes(data + tail)
    return tmp_path / name, array, len(data)


def test_to_idx_bytes_refuses_a_0d_array_with_its_message():
    with pytest.raises(ValueError) as err:
        to_idx_bytes(np.array(5, dtype=np.uint8))
    assert str(err.value) == "IDX needs 1 to 255 dimensions, got 0"


def test_write_idx_gzip_has_no_timestamp_and_xz_wins_for_an_xz_name(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    header = (tmp_path / "a.gz").read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\0\0\0\0"  # mtime 0: the same bytes on every run
    write_idx(tmp_path / "b.xz", array, compress=True)
    assert (tmp_path / "b.xz").read_bytes().startswith(b"\xfd7zXZ\x00")
    np.testing.assert_array_equal(read_idx(tmp_path / "b.xz"), array)


def test_truncated_gzip_and_cut_off_second_member_messages(tmp_path):
    gz = gzip.compress(to_idx_bytes(np.arange(50, dtype=np.uint8)), mtime=0)
    (tmp_path / "cut.gz").write_bytes(gz[:-12])
    with pytest.raises(IDXFormatError) as err:
        read_idx(tmp_path / "cut.gz")
    assert err.value.problem == "truncated gzip stream: the file ends before the compressed data does"
    (tmp_path / "stray.gz").write_bytes(gz + b"\x1f\x8b\x08")
    with pytest.raises(IDXFormatError) as err:
        read_idx(tmp_path / "stray.gz")
    assert err.value.problem == (f"trailing garbage: 3 bytes after the end of the gzip data (at byte {len(gz):,}) "
                                 "start like another gzip member but are cut off")


def test_xz_concatenated_streams_padding_and_garbage(tmp_path):
    import lzma

    array = np.arange(40, dtype=np.uint8)
    raw = to_idx_bytes(array)
    two = lzma.compress(raw[:21], format=lzma.FORMAT_XZ) + lzma.compress(raw[21:], format=lzma.FORMAT_XZ)
    (tmp_path / "two.xz").write_bytes(two)
    np.testing.assert_array_equal(read_idx(tmp_path / "two.xz"), array)  # like xz -d: one content
    path, _, size = _xz_idx(tmp_path, b"XXXX")
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    assert err.value.problem == f"trailing garbage: 4 bytes after the end of the xz data (at byte {size:,})"
    path, _, size = _xz_idx(tmp_path, b"\0" * (1 << 18) + b"junk")  # garbage after more than a read of padding
    with pytest.raises(IDXFormatError, match="trailing garbage"):
        read_idx(path)
    path, _, size = _xz_idx(tmp_path)
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    assert err.value.problem == "truncated xz stream: the file ends before the compressed data does"


def test_xz_file_longer_than_one_read(tmp_path):
    path, array, size = _xz_idx(tmp_path, b"junk", n=300_000)  # random bytes: the xz data is > 256 KiB
    assert size > 1 << 18
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    assert err.value.problem == f"trailing garbage: 4 bytes after the end of the xz data (at byte {size:,})"
    path.write_bytes(path.read_bytes()[:-4])
    np.testing.assert_array_equal(read_idx(path), array)


def test_xz_second_stream_starting_just_before_a_read_boundary(tmp_path):
    import lzma

    array = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8)
    raw = to_idx_bytes(array)
    # random bytes are stored, not compressed, so the first stream's length follows the split point:
    # find the split where that stream ends 4 bytes before the first 256 KiB read does
    first = {len(s): s for s in (lzma.compress(raw[:k], format=lzma.FORMAT_XZ, preset=0)
                                 for k in range(262_040, 262_090))}
    assert (1 << 18) - 4 in first
    stream1 = first[(1 << 18) - 4]
    split = len(lzma.decompress(stream1))
    (tmp_path / "a.xz").write_bytes(stream1 + lzma.compress(raw[split:], format=lzma.FORMAT_XZ, preset=0))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.xz"), array)


# Issue 19: memory bounded by the bytes on disk, whatever a container declares.
def test_a_zip_entry_declaring_a_huge_size_allocates_only_what_arrives(tmp_path):
    import tracemalloc
    import zipfile

    from mnist_hf.archives import ZipMember

    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 1_000_000, 28, 28)  # 784 MB declared, 7,840 bytes present
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("m", header + bytes(7840))
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 16 + 784_000_000)  # the entry agrees with the header
    archive.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(IDXFormatError, match=r"a\.zip::m: header declares 784,000,000 bytes .* holds only 7,840"):
            read_idx(ZipMember(str(archive), "m"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # was 784 MB: a raw member's declared size was taken for its size on disk


def test_an_xz_stream_asking_for_a_huge_dictionary_is_refused(tmp_path):
    import lzma
    import zlib

    xz = bytearray(lzma.compress(to_idx_bytes(np.arange(10, dtype=np.uint8)), format=lzma.FORMAT_XZ))
    block = 12  # after the stream header: size byte, flags, filter 0x21 (LZMA2), 1 property byte, padding, CRC32
    assert xz[block : block + 4] == bytes([2, 0, 0x21, 1])
    xz[block + 4] = 40  # a dictionary of 4 GiB, which liblzma would allocate to decode 10 bytes
    xz[block + 8 : block + 12] = struct.pack("<I", zlib.crc32(xz[block : block + 8]))
    with pytest.raises(IDXFormatError, match="needs more than 128 MiB of memory to decompress"):
        read_idx(_write(tmp_path, "big-window.xz", bytes(xz)))


def test_a_zip_directory_asking_for_a_newer_zip_version_is_an_archive_error(tmp_path):
    # Found by the zip fuzzing: zipfile raised NotImplementedError("zip file version 14.8").
    import zipfile

    from mnist_hf.archives import ZipMember

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m", to_idx_bytes(np.arange(3, dtype=np.uint8)))
    data = bytearray(archive.read_bytes())
    data[data.rfind(b"PK\x01\x02") + 6] = 148  # "version needed to extract": 14.8
    archive.write_bytes(bytes(data))
    with pytest.raises(IDXFormatError, match=r"a\.zip: not a readable zip archive \(zip file version 14\.8\)"):
        read_idx(ZipMember(str(archive), "m"))


def test_xz_garbage_after_padding_and_a_second_stream_is_located_from_the_file_start(tmp_path):
    import lzma

    raw = to_idx_bytes(np.arange(40, dtype=np.uint8))
    one, two = (lzma.compress(part, format=lzma.FORMAT_XZ) for part in (raw[:21], raw[21:]))
    # The padding between the streams counts towards the position of the end of the data.
    path = _write(tmp_path, "padded.xz", one + b"\0" * 4 + two + b"junk")
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    end = len(one) + 4 + len(two)
    assert err.value.problem == f"trailing garbage: 4 bytes after the end of the xz data (at byte {end:,})"


@pytest.mark.parametrize("tail", [b"ab", b"\xfd7zXZ\x00"], ids=["garbage", "xz-magic"])
def test_xz_trailing_garbage_at_a_read_boundary_is_reported_without_reading_on(tmp_path, tail):
    import lzma
    import zipfile

    from mnist_hf.archives import ZipMember

    xz = lzma.compress(to_idx_bytes(np.arange(10, dtype=np.uint8)), format=lzma.FORMAT_XZ)
    # The tail ends exactly where the first 256 KiB read does, after zero bytes that are not stream
    # padding (2 more than a multiple of 4): garbage however the next read would go on.
    data = xz + bytes((1 << 18) - len(xz) - len(tail)) + tail + b"x" * 100
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("m", data)
    damaged = bytearray(archive.read_bytes())
    damaged[damaged.find(b"x" * 100)] = ord("y")  # a bad CRC, which zipfile reports only at the member's end
    archive.write_bytes(bytes(damaged))
    # Reading on past the garbage would report the damaged archive instead of the garbage found first.
    with pytest.raises(IDXFormatError) as err:
        read_idx(ZipMember(str(archive), "m"))
    assert err.value.problem == (f"trailing garbage: {len(data) - len(xz):,} bytes after the end of the xz data "
                                 f"(at byte {len(xz):,})")


def test_a_large_xz_file_is_read_in_bounded_pieces_of_compressed_data(tmp_path):
    import lzma
    import zlib

    from mnist_hf.idx import iter_idx

    # 16 MiB of random (incompressible) data: the file is as large as its content. Sixteen streams of the
    # same 1 MiB compress in a fraction of a second, where one 16 MiB stream would take seconds.
    piece = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8)
    header = bytes([0, 0, 8, 1]) + struct.pack(">I", 16 << 20)
    first, other = (lzma.compress(b, format=lzma.FORMAT_XZ, preset=0) for b in (header + piece.tobytes(), piece.tobytes()))
    path = _write(tmp_path, "big.xz", first + other * 15)
    assert os.path.getsize(path) > 16 << 20

    expected = 0
    for _ in range(16):
        expected = zlib.crc32(piece, expected)
    got = []

    def read_all():
        crc, count = 0, 0
        for block in iter_idx(path, 1 << 18):  # none is kept; a checksum (no copies) checks them
            crc, count = zlib.crc32(block, crc), count + len(block)
        got.append((crc, count))

    # iter_idx holds one 256 KiB block; the compressed bytes come 256 KiB at a time. Reading the rest of
    # the file at once would hold all 16 MiB of it.
    assert peak_bytes(read_all) < 4 << 20
    assert got == [(expected, 16 << 20)]


def test_megabytes_of_xz_stream_padding_are_read_in_bounded_pieces(tmp_path):
    import lzma

    array = np.arange(40, dtype=np.uint8)
    xz = lzma.compress(to_idx_bytes(array), format=lzma.FORMAT_XZ, preset=0)  # a 256 KiB dictionary
    path = _write(tmp_path, "padded.xz", xz + bytes(16 << 20))  # null stream padding, a multiple of 4: valid
    result = []
    # The padding is read (and skipped) a piece at a time: the rest of the file at once would hold 16 MiB.
    assert peak_bytes(lambda: result.append(read_idx(path))) < 4 << 20
    np.testing.assert_array_equal(result[0], array)


@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_data_past_the_declared_size_is_reported_before_what_follows_the_stream(tmp_path, compression):
    import lzma

    raw = to_idx_bytes(np.arange(40, dtype=np.uint8)) + b"EF"  # 2 bytes more than the header declares
    packed = gzip.compress(raw, mtime=0) if compression == "gzip" else lzma.compress(raw, format=lzma.FORMAT_XZ)
    path = _write(tmp_path, "a." + ("gz" if compression == "gzip" else "xz"), packed + b"junk")
    # The first byte after the declared data is the first problem. Asking the decompressor for more than
    # one byte lets it finish the stream and report the junk after it instead.
    with pytest.raises(IDXFormatError) as err:
        read_idx(path)
    assert err.value.problem == f"trailing garbage: the {compression} stream has bytes after the 40 declared"
