"""Reading a zip member through open_member's reader: n bytes at a time, and seeking from the start,
the current position and the end, for stored and deflated members alike."""

import zipfile

import pytest

from mnist_hf.archives import ZipMember, open_member

MEMBER = "gzip/emnist-digits-test-labels-idx1-ubyte.gz"
PAYLOAD = bytes(range(256)) * 40 + b"the end."  # 10,248 bytes, compressible


@pytest.fixture(params=[zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def member(request, tmp_path):
    path = tmp_path / "gzip.zip"
    with zipfile.ZipFile(path, "w", compression=request.param) as z:
        z.writestr("gzip/other.txt", b"not this one")
        z.writestr(MEMBER, PAYLOAD)
    return ZipMember(str(path), MEMBER)


def test_read_returns_at_most_the_bytes_asked_for(member):
    with open_member(member) as (f, size):
        assert size == len(PAYLOAD)
        assert f.read(5) == PAYLOAD[:5]
        assert f.read(0) == b""
        assert f.read(1000) == PAYLOAD[5:1005]


def test_reading_in_chunks_gives_the_member_piece_by_piece(member):
    with open_member(member) as (f, _):
        chunks = list(iter(lambda: f.read(1000), b""))
    assert [len(c) for c in chunks] == [1000] * 10 + [248]
    assert b"".join(chunks) == PAYLOAD


def test_read_without_a_size_returns_the_rest(member):
    with open_member(member) as (f, _):
        f.read(10)
        assert f.read() == PAYLOAD[10:]
        assert f.read(-1) == b""


def test_seek_from_the_start(member):
    with open_member(member) as (f, _):
        assert f.seek(300) == 300
        assert f.read(4) == PAYLOAD[300:304]
        assert f.seek(7, 0) == 7
        assert f.read(3) == PAYLOAD[7:10]


def test_seek_from_the_current_position(member):
    with open_member(member) as (f, _):
        f.read(100)
        assert f.seek(50, 1) == 150
        assert f.read(4) == PAYLOAD[150:154]
        assert f.seek(-54, 1) == 100  # backwards too
        assert f.read(2) == PAYLOAD[100:102]


def test_seek_from_the_end(member):
    with open_member(member) as (f, _):
        assert f.seek(-8, 2) == len(PAYLOAD) - 8
        assert f.read() == b"the end."
        assert f.seek(0, 2) == len(PAYLOAD)
        assert f.read(1) == b""
