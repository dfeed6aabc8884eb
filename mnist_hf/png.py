"""Encode and decode batches of 8-bit grayscale images as PNG, fast.

PIL spends about 80 us of Python overhead per ``save`` call, which dominates for 28x28
images. A grayscale PNG is a fixed layout (signature, IHDR, one IDAT, IEND), so we build
it directly, deflating with ISA-L (about 3x faster than zlib on these tiny images, for 5%
larger files) when available. PIL decodes the result; the tests check every pixel.

Decoding takes the same shortcut backwards: a PNG in exactly that layout (8-bit grayscale,
not interlaced, one IDAT, filter type 0 on every row) is inflated directly and the filter
bytes dropped; any other image (palette, RGB, 16-bit, interlaced, several IDATs, other
filter types, other formats PIL reads) goes through PIL and gives the same pixels.

>>> import io, numpy as np
>>> from PIL import Image
>>> imgs = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
>>> png = encode_png_batch(imgs)
>>> np.array_equal(np.asarray(Image.open(io.BytesIO(png[1]))), imgs[1])
True
>>> np.array_equal(decode_png_batch(png), imgs)
True
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np

try:
    from isal.isal_zlib import compress as _deflate
    from isal.isal_zlib import decompress as _inflate
    from isal.isal_zlib import error as _inflate_error

    _LEVEL = 1  # ISA-L levels are 0-3
except ImportError:  # pragma: no cover
    _deflate, _inflate, _inflate_error, _LEVEL = zlib.compress, zlib.decompress, zlib.error, 6

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png_batch(images: np.ndarray) -> list[bytes]:
    """PNG bytes for each image of a ``(N, H, W)`` uint8 array (mode ``L``)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8 or 0 in images.shape[1:]:  # PNG needs H, W >= 1
        raise ValueError(f"expected a (N, H, W) uint8 array, got {images.dtype} of shape {images.shape}")
    n, h, w = images.shape
    # Filter type 0 ("None") byte in front of every row, for all images at once.
    scan = np.zeros((n, h, w + 1), dtype=np.uint8)
    scan[:, :, 1:] = images
    head = _SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    tail = _chunk(b"IEND", b"")
    return [head + _chunk(b"IDAT", _deflate(image.tobytes(), _LEVEL)) + tail for image in scan]


# Byte layout of the PNGs written above: signature and IHDR (33 bytes), IDAT length and type
# (8), the zlib stream, the IDAT CRC (4), IEND (12).
_IDAT_START = 33
_DATA_START = 41
_IEND = _chunk(b"IEND", b"")
_FIXED = _DATA_START + 4 + len(_IEND)


def _ihdr(height: int, width: int) -> bytes:
    return _SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


def _fast_shape(png: bytes) -> tuple[int, int] | None:
    """(H, W) when ``png`` starts like the PNGs :func:`encode_png_batch` writes."""
    if len(png) < _FIXED:
        return None
    width, height = struct.unpack(">II", png[16:24])
    return (height, width) if png[:_IDAT_START] == _ihdr(height, width) else None


def _first_shape(png: bytes, position: int) -> tuple[int, int]:
    """(H, W) of the first image, from its decoded pixels: the output array is allocated from it, and
    a header alone may declare 2**31 x 2**31 pixels. Within PIL's pixel limit, the fast path decodes it."""
    from PIL import Image

    shape = _fast_shape(png)
    if shape is not None and shape[0] * shape[1] <= (Image.MAX_IMAGE_PIXELS or float("inf")):
        return decode_pngs(png, np.zeros(1, np.int64), np.array([len(png)]), shape=shape, positions=position).shape[1:]
    return _decode_general(png, position).shape


def decode_png_batch(pngs: Sequence[bytes], *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Decode PNG images to one ``(N, H, W)`` uint8 array.

    Parameters
    ----------
    pngs : sequence of bytes
        Encoded images (PNG, or anything else PIL reads), all of one size.
    shape : tuple of int, optional
        ``(H, W)`` of every image; by default that of the first one.

    Returns
    -------
    numpy.ndarray
        ``(N, H, W)`` uint8 pixels.

    Raises
    ------
    ValueError
        An image that cannot be decoded, has another size, is in colour or has transparent pixels
        (see :func:`pil_to_gray`); the message gives its position.

    Examples
    --------
    >>> import numpy as np
    >>> imgs = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    >>> decode_png_batch(encode_png_batch(imgs)).tolist() == imgs.tolist()
    True
    """
    lengths = np.fromiter(map(len, pngs), dtype=np.int64, count=len(pngs))
    ends = np.cumsum(lengths)
    return decode_pngs(b"".join(pngs), ends - lengths, ends, shape=shape)


def decode_pngs(buffer, starts: np.ndarray, ends: np.ndarray, *, shape: tuple[int, int] | None = None,
                out: np.ndarray | None = None, positions=0) -> np.ndarray:
    """Decode the images stored at ``buffer[starts[i]:ends[i]]`` (the layout of an Arrow binary
    column: no copy of the encoded bytes is made).

    Parameters
    ----------
    buffer : bytes-like
        Encoded images, back to back.
    starts, ends : numpy.ndarray
        Where each image begins and ends in ``buffer``.
    shape : tuple of int, optional
        ``(H, W)`` of every image; by default that of the first one.
    out : numpy.ndarray, optional
        A ``(N, H, W)`` uint8 array to write the pixels into.
    positions : int or numpy.ndarray
        How error messages number the images: the number of the first (the rest follow on), or
        one number per image.

    Returns
    -------
    numpy.ndarray
        ``out``, or a new ``(N, H, W)`` uint8 array.

    Raises
    ------
    ValueError
        As :func:`decode_png_batch`.

    Examples
    --------
    >>> import numpy as np
    >>> pngs = encode_png_batch(np.zeros((3, 2, 2), np.uint8))
    >>> ends = np.cumsum([len(p) for p in pngs])
    >>> decode_pngs(b"".join(pngs), ends - [len(p) for p in pngs], ends).shape
    (3, 2, 2)
    """
    view = memoryview(buffer).cast("B")
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n = len(starts)
    if shape is None:
        if n == 0:
            raise ValueError("no images: pass shape")
        shape = _first_shape(bytes(view[starts[0]:ends[0]]), _position(positions, 0))
    h, w = shape
    if out is None:
        out = np.empty((n, h, w), dtype=np.uint8)
    elif out.shape != (n, h, w) or out.dtype != np.uint8:
        raise ValueError(f"out must be a ({n}, {h}, {w}) uint8 array, got {out.dtype} of shape {out.shape}")
    if n == 0:
        return out

    fast = _fast_rows(np.frombuffer(view, dtype=np.uint8), starts, ends, _ihdr(h, w))
    rows = np.flatnonzero(fast)
    spans = list(zip((starts[rows] + _DATA_START).tolist(), (ends[rows] - 4 - len(_IEND)).tolist()))
    try:
        raw = [_inflate(view[s:e]) for s, e in spans]
    except (_inflate_error, zlib.error):
        raw = [_inflate_or_none(view[s:e]) for s, e in spans]
    row_bytes = h * (w + 1)
    lengths = np.fromiter((-1 if r is None else len(r) for r in raw), dtype=np.int64, count=len(raw))
    good = lengths == row_bytes
    if not good.all():
        # A whole zlib stream too short for the header is a corrupt image, which PIL would fill with
        # zeros without a word; bytes past the last row PIL ignores, and a stream that does not
        # inflate goes to PIL, which names the problem.
        short = np.flatnonzero((lengths >= 0) & (lengths < row_bytes))
        if len(short):
            i = short[0]
            raise ValueError(f"image {_position(positions, int(rows[i]))} is corrupt: its pixel data holds "
                             f"{lengths[i]:,} bytes where its {h}x{w} header needs {row_bytes:,}")
        raw = [r for r, g in zip(raw, good) if g]
        rows = rows[good]
    if len(rows):
        scan = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(len(rows), h, w + 1)
        unfiltered = ~scan[:, :, 0].any(axis=1)
        if len(rows) == n and unfiltered.all():
            out[...] = scan[:, :, 1:]
        else:
            out[rows[unfiltered]] = scan[unfiltered, :, 1:]
            rows = rows[unfiltered]
    slow = np.ones(n, dtype=bool)
    slow[rows] = False
    for i in np.flatnonzero(slow).tolist():
        pixels = _decode_general(bytes(view[starts[i]:ends[i]]), _position(positions, i))
        if pixels.shape != (h, w):
            raise ValueError(f"image {_position(positions, i)} is {pixels.shape[0]}x{pixels.shape[1]}, "
                             f"the others {h}x{w}: all images must have one size")
        out[i] = pixels
    return out


def _position(positions, i: int) -> int:
    return int(positions[i]) if isinstance(positions, np.ndarray) else positions + i


def _inflate_or_none(data) -> bytes | None:
    try:
        return _inflate(data)
    except (_inflate_error, zlib.error):
        return None  # PIL decodes it (a stream it can read), or names the problem


def _fast_rows(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, head: bytes) -> np.ndarray:
    """Which images have exactly the layout written by :func:`encode_png_batch`, checked for all
    images at once: the same 33-byte signature + IHDR (same size, 8-bit gray, no interlace), one
    IDAT whose declared length reaches exactly to a closing IEND."""
    fast = ends - starts >= _FIXED
    cand = np.flatnonzero(fast)
    top = data[starts[cand, None] + np.arange(_DATA_START)]
    ok = (top[:, :_IDAT_START] == np.frombuffer(head, np.uint8)).all(axis=1)
    ok &= (top[:, _IDAT_START + 4:_DATA_START] == np.frombuffer(b"IDAT", np.uint8)).all(axis=1)
    length = top[:, _IDAT_START:_IDAT_START + 4].astype(np.int64) @ np.array([1 << 24, 1 << 16, 1 << 8, 1])
    ok &= ends[cand] - starts[cand] == _FIXED + length
    tail = data[ends[cand, None] - len(_IEND) + np.arange(len(_IEND))]
    ok &= (tail == np.frombuffer(_IEND, np.uint8)).all(axis=1)
    fast[cand] = ok
    return fast


def _decode_general(data: bytes, index: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return pil_to_gray(im)
    except ValueError as e:
        raise ValueError(f"image {index}: {e}") from None
    except (OSError, SyntaxError, struct.error, zlib.error, Image.DecompressionBombError) as e:
        raise ValueError(f"image {index} cannot be decoded ({type(e).__name__}: {e})") from None


def pil_to_gray(image) -> np.ndarray:
    """8-bit grayscale pixels of a PIL image, refusing what would change the data.

    Gray images pass (16-bit ones scaled to 8 bits, ``round(v * 255 / 65535)``, the inverse of
    the usual ``v * 257``); palette, RGB(A) and gray+alpha images pass when every pixel is a
    gray and opaque; colour or transparent images are refused rather than silently mixed down.

    Parameters
    ----------
    image : PIL.Image.Image
        A decoded image.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint8 pixels.

    Raises
    ------
    ValueError
        A colour image, transparent pixels, or a mode with no grayscale meaning (e.g. CMYK).

    Examples
    --------
    >>> from PIL import Image
    >>> pil_to_gray(Image.new("RGB", (2, 1), (7, 7, 7))).tolist()
    [[7, 7]]
    >>> pil_to_gray(Image.new("RGB", (2, 1), (7, 0, 0)))
    Traceback (most recent call last):
    ...
    ValueError: is a colour image (mode RGB): convert it to grayscale first (e.g. Image.convert('L'))
    """
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.uint8)
    if mode == "1":
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        v = np.asarray(image).astype(np.int64)
        if v.size and (v.min() < 0 or v.max() > 65535):
            raise ValueError(f"has pixel values outside 0..65535 (mode {mode})")
        return ((v * 255 + 32767) // 65535).astype(np.uint8)
    if mode in ("P", "PA", "RGB", "RGBA", "LA", "La", "RGBa"):
        rgba = np.asarray((image.convert("LA") if mode == "La" else image).convert("RGBA"))  # Pillow: no La -> RGBA
        if (rgba[..., 3] != 255).any():
            raise ValueError(f"has transparent pixels (mode {mode}): flatten it onto a background first")
        if (rgba[..., 0] != rgba[..., 1]).any() or (rgba[..., 1] != rgba[..., 2]).any():
            raise ValueError(f"is a colour image (mode {mode}): convert it to grayscale first (e.g. Image.convert('L'))")
        return np.ascontiguousarray(rgba[..., 0])
    raise ValueError(f"has mode {mode}, which has no 8-bit grayscale equivalent")
