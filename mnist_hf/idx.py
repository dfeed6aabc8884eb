"""Read and write IDX files, the format of MNIST and its relatives.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the data in C order, big-endian.
Files are usually gzip-compressed; :func:`read_idx` accepts both.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.idx.gz")
>>> write_idx(path, np.arange(6, dtype=np.int32).reshape(2, 3))
>>> read_idx(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Union

import numpy as np

try:  # ISA-L's gzip decompresses about twice as fast as zlib; same format, same errors.
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency, but keep working without it
    _gzip = gzip

PathLike = Union[str, "os.PathLike[str]"]

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
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes cannot
# hold more than this many bytes: a header that claims more is a lie we catch at once.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20


class IDXFormatError(ValueError):
    """An IDX file is malformed; the message names the file and what is wrong."""

    def __init__(self, path: PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip().lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--"))


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _parse_header(stream: BinaryIO, path: PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse the magic number and sizes from ``stream``; return ``(dtype, shape)``."""
    magic = _read_exactly(stream, 4)
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
    raw_sizes = _read_exactly(stream, 4 * ndim)
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


@contextmanager
def _open_idx(path: str) -> Iterator[tuple[BinaryIO, int, str, bool]]:
    """Open an IDX file, gzip or raw, after the checks that need no parsing.

    Yields ``(stream, limit, what, exact)``: ``limit`` bounds the bytes the stream can hold
    (exactly, for a raw file), ``what`` names it in messages. Gzip failures inside the block
    become :class:`IDXFormatError`.
    """
    try:
        size = os.path.getsize(path)
        f = open(path, "rb")
    except OSError as e:
        raise IDXFormatError(path, f"cannot open: {e.strerror or e}") from None
    with f:
        head = f.read(512)
        if not head:
            raise IDXFormatError(path, "file is empty (0 bytes)")
        if _looks_like_html(head):
            raise IDXFormatError(
                path,
                "this is an HTML page, not IDX data: the server answered with a web page "
                "(an error such as 403/404, or a captive portal) instead of the file",
            )
        f.seek(0)
        if not head.startswith(_GZIP_MAGIC):
            yield f, size, "file", True
            return
        try:
            with _gzip.GzipFile(fileobj=f, mode="rb") as gz:
                yield gz, size * _MAX_DEFLATE_RATIO, "gzip stream", False
        except EOFError:
            raise IDXFormatError(path, "truncated gzip stream: the file ends before the compressed data does") from None
        except (gzip.BadGzipFile, zlib.error, OSError, ValueError) as e:
            if isinstance(e, IDXFormatError):
                raise
            if _garbage_after_first_member(path):
                raise IDXFormatError(path, "trailing garbage: bytes after the end of the gzip stream") from None
            raise IDXFormatError(path, f"corrupt gzip data: {e}") from None


def _checked_header(stream: BinaryIO, path: str, limit: int, what: str, exact: bool) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse the header and check the declared size against what the file can hold."""
    dtype, shape = _parse_header(stream, path)
    header_len = 4 + 4 * len(shape)
    need = _data_bytes(dtype, shape)
    if exact:
        have = limit - header_len
        if have < need:
            raise IDXFormatError(
                path, f"header declares {need:,} bytes of data for shape {shape}, but the file holds only {have:,}"
            )
        if have > need:
            raise IDXFormatError(path, f"trailing garbage: {have - need:,} bytes after the {need:,} declared")
    elif need + header_len > limit:
        raise IDXFormatError(
            path,
            f"header declares shape {shape} of {dtype.name} ({need:,} bytes of data), "
            f"more than this {what} can hold",
        )
    return dtype, shape, need


def _fill(stream: BinaryIO, out: np.ndarray) -> int:
    """Read into ``out``'s memory until full or end of stream; return the bytes read."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    got = 0
    while got < len(view):
        n = stream.readinto(view[got : got + _CHUNK])
        if not n:
            break
        got += n
    return got


def _check_end(stream: BinaryIO, path: str, need: int, what: str) -> None:
    try:
        extra = stream.read(1)
    except (OSError, zlib.error, ValueError):
        extra = b"?"  # bytes after the gzip member that are not another gzip member
    if extra:
        raise IDXFormatError(path, f"trailing garbage: the {what} has bytes after the {need:,} declared")


def _native(array: np.ndarray) -> np.ndarray:
    if array.dtype.itemsize > 1 and array.dtype.byteorder not in "=|":
        # In place: no second copy of the data.
        return array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
    return array


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian numpy array.

    The header is checked against the file's size before any allocation, so a corrupt
    header that claims terabytes fails at once. Any problem raises :class:`IDXFormatError`.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(p, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(p)
    array([3, 1, 4], dtype=uint8)
    """
    path = os.fspath(path)
    with _open_idx(path) as (stream, limit, what, exact):
        dtype, shape, need = _checked_header(stream, path, limit, what, exact)
        out = np.empty(shape, dtype=dtype)
        got = _fill(stream, out)
        if got < need:
            raise IDXFormatError(
                path, f"header declares {need:,} bytes of data for shape {shape}, but the {what} holds only {got:,}"
            )
        _check_end(stream, path, need, what)
    return _native(out)


def read_idx_header(path: PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """The (native) dtype and shape an IDX file declares, checked against its size.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> write_idx(p, np.zeros((4, 2, 2), np.uint8))
    >>> read_idx_header(p)
    (dtype('uint8'), (4, 2, 2))
    """
    path = os.fspath(path)
    with _open_idx(path) as (stream, limit, what, exact):
        dtype, shape, _ = _checked_header(stream, path, limit, what, exact)
    return dtype.newbyteorder("="), shape


def iter_idx(path: PathLike, rows_per_block: int) -> Iterator[np.ndarray]:
    """Read an IDX file in blocks of ``rows_per_block`` rows (the first axis), with the same
    checks as :func:`read_idx`; memory stays at one block.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> write_idx(p, np.arange(5, dtype=np.int16))
    >>> [b.tolist() for b in iter_idx(p, 2)]
    [[0, 1], [2, 3], [4]]
    """
    path = os.fspath(path)
    with _open_idx(path) as (stream, limit, what, exact):
        dtype, shape, need = _checked_header(stream, path, limit, what, exact)
        got = 0
        for lo in range(0, shape[0], rows_per_block):
            block = np.empty((min(rows_per_block, shape[0] - lo), *shape[1:]), dtype=dtype)
            n = _fill(stream, block)
            got += n
            if n < block.nbytes:
                raise IDXFormatError(
                    path, f"header declares {need:,} bytes of data for shape {shape}, but the {what} holds only {got:,}"
                )
            yield _native(block)
        _check_end(stream, path, need, what)


def _garbage_after_first_member(path: str) -> bool:
    """Error path only: does a complete gzip member end before the file does, followed by
    bytes that are not another member? (Readers that read ahead report this as corruption.)"""
    d = zlib.decompressobj(wbits=31)
    try:
        with open(path, "rb") as f:
            while not d.eof:
                chunk = f.read(_CHUNK)
                if not chunk:
                    return False
                while chunk and not d.eof:  # bounded output: never inflate a bomb in one go
                    d.decompress(chunk, _CHUNK)
                    chunk = d.unconsumed_tail
            rest = d.unused_data + f.read(2)
    except zlib.error:
        return False
    return bool(rest) and not rest.startswith(_GZIP_MAGIC)


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
    """Write ``array`` to ``path`` as IDX; gzip when ``compress`` or the name ends in ``.gz``."""
    data = to_idx_bytes(array)
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(data)
