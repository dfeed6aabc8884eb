"""Members of a zip archive (EMNIST's ``gzip.zip``), read in place as streams.

A member is named by :class:`ZipMember` and opened with :func:`open_member`; nothing is
unpacked to disk, and a corrupt archive or member surfaces as :class:`ArchiveError`.

>>> import os, tempfile, zipfile
>>> path = os.path.join(tempfile.mkdtemp(), "a.zip")
>>> with zipfile.ZipFile(path, "w") as z:
...     z.writestr("gzip/x.txt", b"hello")
>>> with open_member(ZipMember(path, "gzip/x.txt")) as (f, size):
...     f.read(), size
(b'hello', 5)
"""

from __future__ import annotations

import lzma
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["ArchiveError", "ZipMember", "open_member"]


class ArchiveError(ValueError):
    """A zip archive cannot be read, lacks a member, or a member's data is corrupt.

    ``where`` names the archive (or ``archive::member``), ``problem`` says what is wrong.
    """

    def __init__(self, where: str, problem: str):
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ZipMember:
    """One file inside a zip archive.

    Parameters
    ----------
    archive : str
        Path of the zip file.
    name : str
        The member's name inside it (``"gzip/emnist-letters-train-labels-idx1-ubyte.gz"``).

    Examples
    --------
    >>> str(ZipMember("/data/gzip.zip", "gzip/a.gz"))
    '/data/gzip.zip::gzip/a.gz'
    """

    archive: str
    name: str

    def __str__(self) -> str:
        # How errors name it: the archive a user has, then the member inside.
        return f"{self.archive}::{self.name}"


_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}
# What zipfile raises for a damaged member while reading it: a bad CRC, corrupt deflate data, a
# member cut short (LZMAError too, should a member get past the method check).
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)
# What zipfile raises for a damaged directory or header besides BadZipFile (found by fuzzing: a
# name that is not valid UTF-8 raises UnicodeDecodeError, a flipped "version needed" byte
# NotImplementedError, a short field struct.error).
_PARSE_ERRORS = (zipfile.BadZipFile, ValueError, EOFError, struct.error, OverflowError, NotImplementedError)


class _Reader:
    """A member's stream whose read errors (bad CRC, corrupt deflate data) are ArchiveErrors.

    ``stored_size`` is the member's compressed size as it lies in the archive (at most the
    archive's size), the bytes its data can come from, whatever its entry declares.
    """

    def __init__(self, f: BinaryIO, where: str, stored_size: int):
        self._f, self._where, self.stored_size = f, where, stored_size

    def _guard(self, call, *args):
        try:
            return call(*args)
        except _READ_ERRORS as e:
            raise ArchiveError(self._where, f"corrupt zip member ({e})") from None

    def read(self, n: int = -1) -> bytes:
        return self._guard(self._f.read, n)

    def readinto(self, view) -> int:
        return self._guard(self._f.readinto, view)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._guard(self._f.seek, offset, whence)


@contextmanager
def open_member(member: ZipMember) -> Iterator[tuple[BinaryIO, int]]:
    """Open ``member`` for reading, as a stream, with its uncompressed size.

    Parameters
    ----------
    member : ZipMember
        The archive and the member's name.

    Yields
    ------
    (file object, int)
        A binary stream with ``read``, ``readinto`` and ``seek`` (and ``stored_size``, the
        member's compressed bytes in the archive), and the member's size in bytes as its entry
        declares it.

    Raises
    ------
    ArchiveError
        The archive cannot be opened or is not a zip file, the member is missing (the message
        lists a few that are there) or encrypted, or its data is corrupt (raised while reading).

    Examples
    --------
    >>> open_member(ZipMember("/nonexistent.zip", "a")).__enter__()
    Traceback (most recent call last):
    ...
    mnist_hf.archives.ArchiveError: /nonexistent.zip: cannot open the zip archive: No such file or directory
    """
    archive = os.fspath(member.archive)
    try:
        zf = zipfile.ZipFile(archive)
    except OSError as e:
        raise ArchiveError(archive, f"cannot open the zip archive: {e.strerror or e}") from None
    except _PARSE_ERRORS as e:
        raise ArchiveError(archive, f"not a readable zip archive ({e})") from None
    with zf:
        try:
            info = zf.getinfo(member.name)
        except KeyError:
            names = zf.namelist()
            shown = ", ".join(names[:5]) + (f", ... ({len(names)} members)" if len(names) > 5 else "")
            raise ArchiveError(
                archive, f"the zip archive has no member {member.name!r} (it holds {shown or 'nothing'})"
            ) from None
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # zipfile decompresses a whole bzip2 or LZMA chunk per read, whatever size was asked
            # for: a few hundred bytes can become gigabytes at once. EMNIST's archive is deflate.
            method = _METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise ArchiveError(str(member), f"the zip member is compressed with {method}; only stored and deflate "
                               "members are read")
        if info.flag_bits & 0x1:
            # zipfile would ask for a password (RuntimeError); EMNIST's archive has none.
            raise ArchiveError(str(member), "the zip member is encrypted (password-protected): not a published archive")
        try:
            f = zf.open(info)
        except (*_READ_ERRORS, *_PARSE_ERRORS, RuntimeError) as e:
            raise ArchiveError(str(member), f"cannot open the zip member ({e})") from None
        with f:
            yield _Reader(f, str(member), min(info.compress_size, os.path.getsize(archive))), info.file_size
