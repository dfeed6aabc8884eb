"""Encode batches of 8-bit grayscale images as PNG, fast.

PIL spends about 80 us of Python overhead per ``save`` call, which dominates for 28x28
images. A grayscale PNG is a fixed layout (signature, IHDR, one IDAT, IEND), so we build
it directly, deflating with ISA-L (about 3x faster than zlib on these tiny images, for 5%
larger files) when available. PIL decodes the result; the tests check every pixel.

>>> import io, numpy as np
>>> from PIL import Image
>>> imgs = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
>>> png = encode_png_batch(imgs)
>>> np.array_equal(np.asarray(Image.open(io.BytesIO(png[1]))), imgs[1])
True
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

try:
    from isal.isal_zlib import compress as _deflate

    _LEVEL = 1  # ISA-L levels are 0-3
except ImportError:  # pragma: no cover
    _deflate, _LEVEL = zlib.compress, 6

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png_batch(images: np.ndarray) -> list[bytes]:
    """PNG bytes for each image of a ``(N, H, W)`` uint8 array (mode ``L``)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected a (N, H, W) uint8 array, got {images.dtype} of shape {images.shape}")
    n, h, w = images.shape
    # Filter type 0 ("None") byte in front of every row, for all images at once.
    scan = np.zeros((n, h, w + 1), dtype=np.uint8)
    scan[:, :, 1:] = images
    head = _SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    tail = _chunk(b"IEND", b"")
    return [head + _chunk(b"IDAT", _deflate(image.tobytes(), _LEVEL)) + tail for image in scan]
