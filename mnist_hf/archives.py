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

import os
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


class _Reader:
    """A member's stream whose read errors (bad CRC, corrupt deflate data) are ArchiveErrors."""

    def __init__(self, f: BinaryIO, where: str):
        self._f, self._where = f, where

    def _guard(self, call, *args):
        try:
            return call(*args)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
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
        A binary stream with ``read``, ``readinto`` and ``seek``, and the member's size in bytes.

    Raises
    ------
    ArchiveError
        The archive cannot be opened or is not a zip file, the member is missing (the message
        lists a few that are there), or its data is corrupt (raised while reading).

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
    except zipfile.BadZipFile as e:
        raise ArchiveError(archive, f"not a readable zip archive ({e})") from None
    except OSError as e:
        raise ArchiveError(archive, f"cannot open the zip archive: {e.strerror or e}") from None
    with zf:
        try:
            info = zf.getinfo(member.name)
        except KeyError:
            names = zf.namelist()
            shown = ", ".join(names[:5]) + (f", ... ({len(names)} members)" if len(names) > 5 else "")
            raise ArchiveError(
                archive, f"the zip archive has no member {member.name!r} (it holds {shown or 'nothing'})"
            ) from None
        try:
            f = zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, OSError) as e:
            raise ArchiveError(str(member), f"cannot open the zip member ({e})") from None
        with f:
            yield _Reader(f, str(member)), info.file_size
