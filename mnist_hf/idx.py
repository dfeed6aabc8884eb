"""Read and write IDX files, the format of MNIST and its relatives.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the data in C order, big-endian.
Files are usually gzip-compressed (QMNIST's ``nist`` files: xz); :func:`read_idx` accepts gzip, xz
and raw files, and members of a zip archive (:class:`~mnist_hf.archives.ZipMember`). A gzip file may hold several
members, read one after another as ``gzip -d`` does; any other bytes after the gzip data (zero
padding too) are an error, reported with the byte where the gzip data ends.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.idx.gz")
>>> write_idx(path, np.arange(6, dtype=np.int32).reshape(2, 3))
>>> read_idx(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Union

import numpy as np

from .archives import ArchiveError, ZipMember, open_member

try:  # ISA-L inflates about 1.5x faster than zlib, with the same decompressobj interface.
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a dependency, but keep working without it
    _zlib = zlib

__all__ = [
    "TYPE_CODES",
    "IDXFormatError",
    "iter_idx",
    "looks_like_html",
    "read_idx",
    "read_idx_header",
    "to_idx_bytes",
    "write_idx",
]

PathLike = Union[str, "os.PathLike[str]", ZipMember]

#: IDX type code -> big-endian numpy dtype.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes cannot
# hold more than this many bytes: a header that claims more is a lie we catch at once.
_MAX_DEFLATE_RATIO = 1100
# IDX data deflates 1.8:1 (Fashion-MNIST) to 4.8:1 (MNIST images). Gzip data gets this many
# times the file's size at first, so real files need one allocation; a header that lies is
# only believed as far as data actually arrives (see _read_bytes).
_FIRST_RATIO = 8
_CHUNK = 1 << 20  # bytes per read, and the least first allocation for gzip data
_IN_CHUNK = 1 << 18  # compressed bytes handed to the decompressor at a time
# An xz header chooses the decoder's dictionary (up to 4 GiB); xz -9 needs 65 MiB. A stream asking
# for more is refused rather than allowed to grow memory with the data it expands to.
_XZ_MEMLIMIT = 128 << 20


class IDXFormatError(ValueError):
    """An IDX file is malformed; the message names the file and what is wrong."""

    def __init__(self, path: PathLike, problem: str):
        self.path = _name(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _name(path: PathLike) -> str:
    """How messages name a file: its path, or ``archive::member``."""
    return str(path) if isinstance(path, ZipMember) else os.fspath(path)


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a file are an HTML (or XML) page rather than data.

    Servers and captive portals answer a failed download with a web page; this catches it
    before the page is parsed as IDX or gzip.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (a few hundred are plenty).

    Returns
    -------
    bool
        True when ``head``, after leading whitespace, starts with a doctype, ``<html``,
        ``<head``, ``<body``, an XML declaration or an HTML comment (any case).

    Examples
    --------
    >>> looks_like_html(b"  <!DOCTYPE html><html><body>404</body></html>")
    True
    >>> looks_like_html(b"\\x1f\\x8b\\x08\\x00")
    False
    """
    start = head.lstrip().lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--"))


def _read_full(stream: BinaryIO, n: int) -> bytes:
    """``n`` bytes from ``stream``, fewer only if it ends first.

    ``readinto`` may return fewer bytes than asked (a gzip member boundary, a pipe), so this
    keeps reading until it has ``n`` or the stream is exhausted.
    """
    buf = bytearray(n)
    got = 0
    with memoryview(buf) as view:
        while got < n:
            with view[got:] as rest:
                k = stream.readinto(rest)
            if not k:
                break
            got += k
    return bytes(buf[:got])


def _parse_header(stream: BinaryIO, path: PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse the magic number and sizes from ``stream``; return ``(dtype, shape)``."""
    magic = _read_full(stream, 4)
    if len(magic) < 4:
        raise IDXFormatError(path, f"file ends inside the 4-byte magic number ({len(magic)} bytes)")
    if magic[:2] != b"\x00\x00":
        raise IDXFormatError(
            path, f"wrong magic number 0x{magic.hex()}: an IDX file starts with two zero bytes"
        )
    code, ndim = magic[2], magic[3]
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise IDXFormatError(path, f"unknown element type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise IDXFormatError(path, "header declares 0 dimensions")
    raw_sizes = _read_full(stream, 4 * ndim)
    if len(raw_sizes) < 4 * ndim:
        raise IDXFormatError(path, f"file ends inside the header ({ndim} dimension sizes declared)")
    shape = struct.unpack(f">{ndim}I", raw_sizes)
    if 0 in shape:
        raise IDXFormatError(path, f"dimension {shape.index(0)} has size 0 (shape {shape})")
    return TYPE_CODES[code], shape


def _data_bytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    n = dtype.itemsize
    for s in shape:
        n *= s  # Python ints: no overflow for absurd headers
    return n


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class _GzipStream:
    """The decompressed content of a gzip file, read in bounded pieces through ``readinto``.

    A gzip file is a series of members whose contents follow one another (RFC 1952, section
    2.2; ``gzip -d`` reads them all), so a second complete member is more data, not an error.
    Anything else after a member, zero padding included, is trailing garbage. The decompressor
    says where each member ends (``eof``, ``unused_data``), so every message can say exactly
    what follows the gzip data and where.
    """

    def __init__(self, f: BinaryIO, path: str, size: int):
        self._f, self._path, self._size = f, path, size
        self._read = 0  # compressed bytes read from the file so far
        self._pending = b""  # read but not yet taken by the decompressor
        self._member, self._start, self._member_out = 1, 0, 0
        self._d = _zlib.decompressobj(wbits=31)
        self._done = False

    def readinto(self, view: memoryview) -> int:
        """Decompress up to ``len(view)`` bytes into ``view``; 0 only at the clean end of the file."""
        while not self._done and len(view):
            at_end = False
            if not self._pending:
                first = self._read == 0
                self._pending = self._f.read(_IN_CHUNK)
                self._read += len(self._pending)
                at_end = not self._pending
                if first:
                    self._check_flags(self._pending)  # later members: in _next_member
            try:
                out = self._d.decompress(self._pending, len(view))
            except _zlib.error as e:
                raise self._broken(f"{e}") from None
            self._pending = self._d.unconsumed_tail
            self._member_out += len(out)
            if self._d.eof:
                self._next_member(self._d.unused_data)
            if out:
                view[: len(out)] = out
                return len(out)
            if at_end and not self._d.eof:
                # Nothing left to read and nothing more came out: the member is cut off.
                raise self._broken(None)
        return 0

    def _next_member(self, rest: bytes) -> None:
        end = self._read - len(rest)
        while len(rest) < 4:  # the magic and the flags byte
            more = self._f.read(_IN_CHUNK)
            if not more:
                break
            self._read += len(more)
            rest += more
        if not rest:
            self._done = True
            return
        if not rest.startswith(_GZIP_MAGIC):
            raise IDXFormatError(
                self._path,
                f"trailing garbage: {_count(self._size - end, 'byte')} after the end of the gzip data (at byte {end:,}), "
                "not another gzip member",
            )
        self._member, self._start, self._member_out = self._member + 1, end, 0
        self._d = _zlib.decompressobj(wbits=31)
        self._pending = rest
        self._check_flags(rest)

    def _check_flags(self, head: bytes) -> None:
        # RFC 1952 2.3.1.2: a decompressor must reject reserved flag bits; zlib does, ISA-L
        # ignores them (found by scripts/maintenance/fuzz_idx.py).
        if len(head) >= 4 and head[3] & 0xE0:
            raise self._broken(f"reserved header flag bits set (FLG 0x{head[3]:02X})")

    def _broken(self, error: str | None) -> IDXFormatError:
        """The error for a member that is cut off (``error`` None) or fails to decompress."""
        if self._member == 1:
            if error is None:
                return IDXFormatError(self._path, "truncated gzip stream: the file ends before the compressed data does")
            return IDXFormatError(self._path, f"corrupt gzip data: {error}")
        if self._member_out == 0:
            # Bytes after a complete stream that merely start with the gzip magic: most likely
            # stray bytes, possibly a second member cut short; say what they are, not a guess.
            problem = "are cut off" if error is None else f"are not one ({error})"
            return IDXFormatError(
                self._path,
                f"trailing garbage: {self._size - self._start:,} bytes after the end of the gzip data "
                f"(at byte {self._start:,}) start like another gzip member but {problem}",
            )
        where = f"gzip member {self._member} (which starts at byte {self._start:,})"
        if error is None:
            return IDXFormatError(self._path, f"truncated gzip stream: the file ends inside {where}")
        return IDXFormatError(self._path, f"corrupt gzip data in {where}: {error}")


class _XzStream:
    """The decompressed content of an xz file (QMNIST's ``nist`` files), read in bounded pieces.

    Like ``xz -d``: several concatenated streams are one content, and null stream padding (a
    multiple of 4 bytes) may follow a stream; anything else after the data is trailing garbage.
    """

    def __init__(self, f: BinaryIO, path: str, size: int):
        self._f, self._path, self._size = f, path, size
        self._read = 0
        self._pending = b""  # input of a next stream, already read
        self._d = _xz_decompressor()
        self._done = False

    def readinto(self, view: memoryview) -> int:
        """Decompress up to ``len(view)`` bytes into ``view``; 0 only at the clean end of the file."""
        while not self._done and len(view):
            data = b""
            if self._d.needs_input:
                data, self._pending = self._pending or self._f.read(_IN_CHUNK), b""
                self._read += len(data)
                if not data:
                    raise IDXFormatError(self._path, "truncated xz stream: the file ends before the compressed data does")
            try:
                out = self._d.decompress(data, len(view))
            except lzma.LZMAError as e:
                if "memory usage limit" in str(e).lower():
                    raise IDXFormatError(self._path, f"the xz stream needs more than {_XZ_MEMLIMIT >> 20} MiB of "
                                         "memory to decompress (more than xz -9 uses): not a published file") from None
                raise IDXFormatError(self._path, f"corrupt xz data: {e}") from None
            if self._d.eof:
                self._next_stream(self._d.unused_data)
            if out:
                view[: len(out)] = out
                return len(out)
        return 0

    def _next_stream(self, rest: bytes) -> None:
        """After a stream: null stream padding (a multiple of 4 bytes), then another stream or the end."""
        self._read -= len(rest)  # counted again when handed back as _pending
        end = self._read
        padding = 0
        while True:
            stripped = rest.lstrip(b"\0")
            padding, rest = padding + len(rest) - len(stripped), stripped
            if len(rest) >= len(_XZ_MAGIC) or (rest and not _XZ_MAGIC.startswith(rest)):
                break
            more = self._f.read(_IN_CHUNK)
            if not more:
                break
            rest += more
        if rest.startswith(_XZ_MAGIC) and padding % 4 == 0:
            self._read += padding
            self._d = _xz_decompressor()
            self._pending = rest
            return
        if rest or padding % 4:
            raise IDXFormatError(
                self._path,
                f"trailing garbage: {_count(self._size - end, 'byte')} after the end of the xz data (at byte {end:,})",
            )
        self._done = True


def _xz_decompressor() -> lzma.LZMADecompressor:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=_XZ_MEMLIMIT)


@dataclass(frozen=True)
class _Source:
    """An open IDX file: ``stream`` has ``readinto``; ``size`` is the file's size (a zip member's as
    its entry declares it); ``compression`` is ``"gzip"``, ``"xz"`` or ``""``; ``stored`` is the
    bytes on disk the data comes from, None when that is ``size`` itself (a plain file)."""

    path: str
    stream: BinaryIO
    size: int
    compression: str
    stored: int | None = None

    @property
    def what(self) -> str:
        return f"{self.compression} stream" if self.compression else "file"

    def first_allocation(self, n: int) -> int:
        """Bytes to allocate first when reading ``n`` declared bytes (see :func:`_read_bytes`).

        Only a plain raw file's size is a fact (checked against the header); decompressed data,
        and a zip member whose entry declares its size, get a first allocation in proportion to
        the bytes on disk, and grow as data arrives.
        """
        if not self.compression and self.stored is None:
            return n
        return min(n, max(_CHUNK, _FIRST_RATIO * (self.size if self.stored is None else self.stored)))


@contextmanager
def _open_idx(path: PathLike) -> Iterator[_Source]:
    """Open an IDX file (gzip, xz or raw; a path or a zip member) after the checks that need no parsing.

    Gzip and xz problems surface as :class:`IDXFormatError` from the stream itself, and so do a
    zip archive's (:class:`~mnist_hf.archives.ArchiveError`, also while reading).
    """
    if isinstance(path, ZipMember):
        try:
            with open_member(path) as (f, size), _source(str(path), f, size, f.stored_size) as src:
                yield src
        except ArchiveError as e:
            raise IDXFormatError(e.where, e.problem) from None
        return
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        f = open(path, "rb")
    except OSError as e:
        raise IDXFormatError(path, f"cannot open: {e.strerror or e}") from None
    with f, _source(path, f, size) as src:
        yield src


@contextmanager
def _source(path: str, f: BinaryIO, size: int, stored: int | None = None) -> Iterator[_Source]:
    head = f.read(512)
    if not head:
        raise IDXFormatError(path, "file is empty (0 bytes)")
    if looks_like_html(head):
        raise IDXFormatError(
            path,
            "this is an HTML page, not IDX data: the server answered with a web page "
            "(an error such as 403/404, or a captive portal) instead of the file",
        )
    f.seek(0)
    if head.startswith(_GZIP_MAGIC):
        yield _Source(path, _GzipStream(f, path, size), size, "gzip", stored)
    elif head.startswith(_XZ_MAGIC):
        yield _Source(path, _XzStream(f, path, size), size, "xz", stored)
    else:
        yield _Source(path, f, size, "", stored)


def _checked_header(src: _Source) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse the header and check the declared size against what the file can hold."""
    path = src.path
    dtype, shape = _parse_header(src.stream, path)
    header_len = 4 + 4 * len(shape)
    need = _data_bytes(dtype, shape)
    if not src.compression and src.stored is None:  # a plain raw file: its size is a fact
        have = src.size - header_len
        if have < need:
            raise IDXFormatError(
                path, f"header declares {need:,} bytes of data for shape {shape}, but the file holds only {have:,}"
            )
        if have > need:
            raise IDXFormatError(path, f"trailing garbage: {have - need:,} bytes after the {need:,} declared")
    elif src.compression == "gzip" and need + header_len > src.size * _MAX_DEFLATE_RATIO:
        raise IDXFormatError(
            path,
            f"header declares shape {shape} of {dtype.name} ({need:,} bytes of data), "
            f"more than this {src.what} can hold",
        )
    return dtype, shape, need


def _read_bytes(src: _Source, n: int) -> np.ndarray:
    """Up to ``n`` bytes from ``src`` (fewer only at its end), as a uint8 array.

    A raw file's size was checked against ``n``, so ``n`` bytes are allocated. A gzip (or xz) header
    may declare far more than the stream holds (the deflate-ratio check alone allows 1,100
    times the file's size), so such data starts at :meth:`_Source.first_allocation` and
    doubles only as data arrives: memory stays below ``max(first, 2 * bytes present)``, and
    never above ``n``.
    """
    buf = np.empty(src.first_allocation(n), np.uint8)
    got = 0
    while got < n:
        if got == len(buf):
            # In place (realloc): the old block is not held beside the new one, as a copy would.
            buf.resize(min(n, 2 * len(buf)), refcheck=False)
        with memoryview(buf) as whole, whole[got : got + _CHUNK] as view:
            k = src.stream.readinto(view)
        if not k:
            break
        got += k
    return buf if got == len(buf) else buf[:got]


def _check_end(src: _Source, need: int) -> None:
    if _read_full(src.stream, 1):
        raise IDXFormatError(src.path, f"trailing garbage: the {src.what} has bytes after the {need:,} declared")


def _native(array: np.ndarray) -> np.ndarray:
    if array.dtype.itemsize > 1 and array.dtype.byteorder not in "=|":
        # In place: no second copy of the data.
        return array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
    return array


def _short(src: _Source, need: int, shape: tuple[int, ...], got: int) -> IDXFormatError:
    return IDXFormatError(
        src.path, f"header declares {need:,} bytes of data for shape {shape}, but the {src.what} holds only {got:,}"
    )


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian numpy array.

    The header is checked against the file's size before any allocation, so a corrupt
    header that claims terabytes fails at once; for gzip data, memory grows with the data
    that actually arrives, never with what the header merely declares.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip when it starts with the gzip magic, raw IDX otherwise. A gzip file
        may hold several members (their contents are concatenated, as ``gzip -d`` does).

    Returns
    -------
    numpy.ndarray
        The data, with the declared shape and the type code's dtype in native byte order.

    Raises
    ------
    IDXFormatError
        The file cannot be opened, is empty or an HTML page, has a bad header, holds less
        or more data than declared, or is a truncated or corrupt gzip stream, or has bytes
        after it. The message names the file and the problem.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(p, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(p)
    array([3, 1, 4], dtype=uint8)
    """
    with _open_idx(path) as src:
        dtype, shape, need = _checked_header(src)
        data = _read_bytes(src, need)
        if len(data) < need:
            raise _short(src, need, shape, len(data))
        _check_end(src, need)
    return _native(data.view(dtype).reshape(shape))


def read_idx_header(path: PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape an IDX file declares, checked against its size.

    Only the header is read (and, for gzip, decompressed). A raw file's size must match the
    declared data exactly; a gzip file must be able to hold it.

    Parameters
    ----------
    path : str or os.PathLike
        The file, gzip or raw.

    Returns
    -------
    (numpy.dtype, tuple of int)
        The element type in native byte order, and the shape.

    Raises
    ------
    IDXFormatError
        As :func:`read_idx`, for the problems visible from the header and the file size.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> write_idx(p, np.zeros((4, 2, 2), np.uint8))
    >>> read_idx_header(p)
    (dtype('uint8'), (4, 2, 2))
    """
    with _open_idx(path) as src:
        dtype, shape, _ = _checked_header(src)
    return dtype.newbyteorder("="), shape


def iter_idx(path: PathLike, rows_per_block: int) -> Iterator[np.ndarray]:
    """Read an IDX file in blocks of rows (the first axis), with the checks of :func:`read_idx`.

    Memory stays at one block. The checks that need the whole file (the data ends where
    declared, the gzip stream is intact to its end) run after the last block.

    Parameters
    ----------
    path : str or os.PathLike
        The file, gzip or raw.
    rows_per_block : int
        Rows per block; the last block may be shorter.

    Yields
    ------
    numpy.ndarray
        Consecutive blocks of shape ``(rows, *shape[1:])``, native byte order.

    Raises
    ------
    IDXFormatError
        As :func:`read_idx`; possibly after some blocks were yielded.
    ValueError
        ``rows_per_block`` is below 1.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> write_idx(p, np.arange(5, dtype=np.int16))
    >>> [b.tolist() for b in iter_idx(p, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if rows_per_block < 1:
        raise ValueError(f"rows_per_block must be at least 1, got {rows_per_block}")
    with _open_idx(path) as src:
        dtype, shape, need = _checked_header(src)
        row_bytes = need // shape[0]
        got = 0
        for lo in range(0, shape[0], rows_per_block):
            rows = min(rows_per_block, shape[0] - lo)
            block = _read_bytes(src, rows * row_bytes)
            got += len(block)
            if len(block) < rows * row_bytes:
                raise _short(src, need, shape, got)
            yield _native(block.view(dtype).reshape(rows, *shape[1:]))
        _check_end(src, need)


def to_idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX bytes (uncompressed).

    >>> import numpy as np
    >>> to_idx_bytes(np.zeros((1, 2), np.uint8)).hex()
    '0000080200000001000000020000'
    """
    array = np.asarray(array)
    codes = [c for c, d in TYPE_CODES.items() if d.kind == array.dtype.kind and d.itemsize == array.dtype.itemsize]
    if not codes:
        raise ValueError(f"dtype {array.dtype} has no IDX type code")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    code, dtype = codes[0], TYPE_CODES[codes[0]]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` to ``path`` as IDX; gzip when ``compress`` or the name ends in ``.gz``, xz
    when the name ends in ``.xz``."""
    data = to_idx_bytes(array)
    if os.fspath(path).endswith(".xz") and compress is not False:
        data = lzma.compress(data, format=lzma.FORMAT_XZ)
        compress = False
    elif compress is None:
        compress = os.fspath(path).endswith(".gz")
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(data)
