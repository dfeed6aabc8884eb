"""A zip member whose deflate stream is corrupt: the error is the project's, and names the member."""

import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from mnist_hf.archives import ArchiveError, ZipMember, open_member
from mnist_hf.idx import IDXFormatError, read_idx, to_idx_bytes

MEMBER = "gzip/emnist-letters-train-images-idx3-ubyte"


def _corrupt_zip(path: Path, payload: bytes) -> Path:
    """A zip holding ``payload`` deflated as MEMBER, with its deflate stream damaged so that
    inflating it fails (zlib.error), not just its CRC check."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(MEMBER, payload)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(MEMBER)
    data = bytearray(path.read_bytes())
    name_len, extra_len = np.frombuffer(data[info.header_offset + 26:info.header_offset + 30], "<u2").tolist()
    start = info.header_offset + 30 + name_len + extra_len
    # The first block's header: its type bits (1-2) set to 3, a type deflate reserves (RFC 1951, 3.2.3).
    data[start] |= 0b110
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z, pytest.raises(zlib.error):
        z.read(MEMBER)  # the case under test: the standard library lets zlib's error escape
    return path


@pytest.fixture
def corrupt(tmp_path):
    # Compressible, as image files are, so the member is deflated rather than stored.
    images = (np.arange(200 * 28 * 28) % 7 * 30).astype(np.uint8).reshape(200, 28, 28)
    return _corrupt_zip(tmp_path / "gzip.zip", to_idx_bytes(images))


@pytest.mark.parametrize("how", ["read", "readinto", "chunks"])
def test_corrupt_deflate_data_is_an_archive_error_naming_the_member(corrupt, how):
    member = ZipMember(str(corrupt), MEMBER)
    with pytest.raises(ArchiveError) as caught, open_member(member) as (f, size):
        if how == "read":
            f.read()
        elif how == "readinto":
            f.readinto(bytearray(size))
        else:
            while f.read(4096):
                pass
    assert caught.value.where == f"{corrupt}::{MEMBER}"
    assert MEMBER in str(caught.value) and "corrupt" in caught.value.problem


@pytest.mark.parametrize("packed", [False, True], ids=["raw-idx", "gzip-idx"])
def test_reading_the_corrupt_member_as_idx_names_the_member(tmp_path, packed):
    # EMNIST's members are gzip files: the gzip reader sits on top of the zip member's stream.
    payload = to_idx_bytes((np.arange(50 * 28 * 28) % 5 * 50).astype(np.uint8).reshape(50, 28, 28))
    path = _corrupt_zip(tmp_path / "gzip.zip", gzip.compress(payload) if packed else payload)
    with pytest.raises(IDXFormatError) as caught:
        read_idx(ZipMember(str(path), MEMBER))
    assert caught.value.path == f"{path}::{MEMBER}" and "corrupt" in caught.value.problem
    assert not isinstance(caught.value.__cause__, zlib.error)
