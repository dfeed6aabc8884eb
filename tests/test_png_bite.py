"""PNG decoding judged against PIL on images the fast path must not take at face value: rows
filtered with the other four PNG filter types (after an unfiltered first row), a filter byte
that is not a filter type, and 16-bit pixels whose 8-bit value needs rounding."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mnist_hf.png import decode_png_batch, encode_png_batch

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filtered(image: np.ndarray, filters: list[int]) -> bytes:
    """The scanlines of an 8-bit gray image, row r filtered with ``filters[r]`` (PNG spec, section 9)."""
    out = bytearray()
    prior = [0] * image.shape[1]
    for row, kind in zip(image.tolist(), filters):
        line = []
        for x, v in enumerate(row):
            left = row[x - 1] if x else 0
            upleft = prior[x - 1] if x else 0
            predictor = {0: 0, 1: left, 2: prior[x], 3: (left + prior[x]) // 2,
                         4: _paeth(left, prior[x], upleft)}.get(kind, 0)
            line.append((v - predictor) % 256)
        out += bytes([kind, *line])
        prior = row
    return bytes(out)


def _png(image: np.ndarray, filters: list[int]) -> bytes:
    """The layout the fast decoder recognises (signature, 8-bit gray IHDR, one IDAT, IEND), so
    only the filter bytes can send the image to PIL."""
    h, w = image.shape
    return (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(_filtered(image, filters))) + _chunk(b"IEND", b""))


def _pil(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im)


# Row 0 unfiltered in every case: a decoder that looks at the first filter byte only sees a
# plain image and returns the filtered bytes as pixels.
FILTER_ROWS = {
    "every type": [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
    "last row only": [0] * 9 + [1],
    "second row only": [0, 4] + [0] * 8,
}


@pytest.mark.parametrize("filters", FILTER_ROWS.values(), ids=FILTER_ROWS.keys())
def test_rows_with_other_filter_types_decode_as_pil_does(filters):
    rng = np.random.default_rng(len(filters) + sum(filters))
    image = rng.integers(1, 256, size=(len(filters), 7), dtype=np.uint8)
    png = _png(image, filters)
    np.testing.assert_array_equal(_pil(png), image)  # the test's own filtering is right
    np.testing.assert_array_equal(decode_png_batch([png]), image[None])


def test_filtered_image_among_fast_ones_keeps_every_image_in_place():
    rng = np.random.default_rng(1)
    images = rng.integers(1, 256, size=(4, 5, 6), dtype=np.uint8)
    pngs = encode_png_batch(images)
    pngs[2] = _png(images[2], [0, 0, 3, 0, 2])
    np.testing.assert_array_equal(decode_png_batch(pngs), images)


def test_a_later_row_with_no_valid_filter_type_is_an_error_naming_the_image():
    image = np.full((3, 4), 9, np.uint8)
    bad = _png(image, [0, 0, 7])  # 7: no such filter type (0-4)
    with pytest.raises(OSError):
        _pil(bad)
    with pytest.raises(ValueError, match="image 1 cannot be decoded"):
        decode_png_batch([_png(image, [0, 0, 0]), bad])


def _png16(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_16_bit_pixels_are_rounded_to_the_nearest_8_bit_value():
    # Every 16-bit value once: most are not multiples of 257, where ``v >> 8`` (truncation) and
    # rounding v * 255 / 65535 part ways (e.g. 255 -> 1, not 0).
    values = np.arange(65536, dtype=np.int64).reshape(256, 256)
    png = _png16(values)
    read = _pil(png).astype(np.int64)
    np.testing.assert_array_equal(read, values)  # PIL reads back exactly the values written
    expected = np.floor(read * 255 / 65535 + 0.5).astype(np.uint8)  # no ties: 65535 / 255 = 257 is odd
    assert (expected != read >> 8).sum() > 16000  # a quarter of the values tell the two apart
    np.testing.assert_array_equal(decode_png_batch([png])[0], expected)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (128, 0), (129, 1), (255, 1), (385, 1), (386, 2),
                                                 (65407, 255), (65406, 254), (65535, 255)])
def test_16_bit_values_at_the_rounding_boundaries(value, expected):
    # round(v / 257): the boundary between k and k + 1 lies at 257 k + 128.5.
    assert decode_png_batch([_png16(np.full((2, 2), value))])[0].tolist() == [[expected] * 2] * 2


def _declaring(height: int, width: int) -> bytes:
    """A PNG whose header declares ``height`` x ``width`` pixels and whose data holds one row."""
    return (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * (width + 1) if width < 4096 else b"\0")) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("height, width", [(2**31 - 1, 2**31 - 1), (20000, 20000), (5, 3)])
def test_a_header_declaring_a_size_its_data_does_not_hold_is_an_error_naming_the_image(height, width):
    # The output array is allocated from the first image's size: a header is not believed before
    # its image decodes, or 2**31 x 2**31 pixels ends in MemoryError instead of this message.
    good = encode_png_batch(np.zeros((1, 2, 3), np.uint8))[0]
    with pytest.raises(ValueError, match=r"^image 0 (cannot be decoded|is corrupt)"):
        decode_png_batch([_declaring(height, width), good])
    with pytest.raises(ValueError, match=r"^image 1 (cannot be decoded|is corrupt|is \d+x\d+, the others)"):
        decode_png_batch([good, _declaring(height, width)])


def test_pixel_data_shorter_than_the_header_says_is_corrupt_not_zeros():
    # PIL fills what a short stream lacks with zeros, silently; the decoder names the image.
    image = np.arange(15, dtype=np.uint8).reshape(5, 3)
    whole = _png(image, [0] * 5)
    short = (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 5, 8, 0, 0, 0, 0))
             + _chunk(b"IDAT", zlib.compress(_filtered(image, [0] * 5)[:-4])) + _chunk(b"IEND", b""))
    assert decode_png_batch([whole, whole]).tolist() == [image.tolist()] * 2
    with pytest.raises(ValueError, match=r"^image 1 is corrupt: its pixel data holds 16 bytes where its "
                                         r"5x3 header needs 20$"):
        decode_png_batch([whole, short])


def test_an_empty_pixel_stream_is_corrupt_and_numbered_as_the_caller_numbers_images():
    from mnist_hf.png import decode_pngs

    empty = (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0))
             + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b""))
    good = encode_png_batch(np.zeros((1, 2, 3), np.uint8))[0]
    with pytest.raises(ValueError, match=r"^image 1 is corrupt: its pixel data holds 0 bytes where its 2x3 header needs 8$"):
        decode_png_batch([good, empty])
    # The first image sets the size, and its errors carry the caller's numbering too.
    ends = np.array([len(empty)])
    with pytest.raises(ValueError, match=r"^image 7 is corrupt"):
        decode_pngs(empty, ends - len(empty), ends, positions=7)


def test_pils_pixel_limit_switched_off_still_decodes(monkeypatch):
    # PIL's documented way to lift its limit is MAX_IMAGE_PIXELS = None.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    images = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert decode_png_batch(encode_png_batch(images)).tolist() == images.tolist()


@pytest.mark.parametrize("height, width", [(2**31, 3), (3, 2**31), (2**32 - 1, 2**32 - 1)])
def test_a_header_beyond_pngs_own_limits_is_an_error_naming_the_image(height, width):
    # PNG allows at most 2**31 - 1 rows and columns; a header that says more is still one plain line.
    with pytest.raises(ValueError, match=r"^image 0 cannot be decoded"):
        decode_png_batch([_declaring(height, width)])
