"""PNG encoding and decoding pinned down where the other PNG tests leave room (found by mutation
testing of mnist_hf/png.py): the exact bytes the encoder writes, which images take the documented
fast path (the encoder's own layout is inflated directly and never reaches PIL; everything else
does), images that merely look like that layout, the ``shape`` and offset arguments, and the modes
:func:`pil_to_gray` accepts or refuses. Synthetic images only; PIL is the independent oracle."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mnist_hf.png import decode_png_batch, decode_pngs, encode_png_batch, pil_to_gray

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_open = Image.open  # the real one: the fixture below replaces Image.open while a test runs


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk after the signature, each CRC checked."""
    assert png[:8] == _SIGNATURE
    found, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        assert png[at + 8 + length:at + 12 + length] == struct.pack(">I", zlib.crc32(kind + data)), kind
        found.append((kind, data))
        at += 12 + length
    assert at == len(png)
    return found


def _scanlines(image: np.ndarray, filters: list[int] | None = None) -> bytes:
    """Rows of an 8-bit image, each behind its filter byte: 0 (None), 1 (Sub) or 2 (Up)."""
    out, prior = b"", np.zeros(image.shape[1], np.uint8)
    for row, kind in zip(image, filters or [0] * len(image)):
        predictor = {0: np.zeros_like(row), 1: np.concatenate([[0], row[:-1]]).astype(np.uint8), 2: prior}[kind]
        out += bytes([kind]) + (row - predictor).astype(np.uint8).tobytes()
        prior = row
    return out


def _png(height: int, width: int, scanlines: bytes, *, fields: bytes = b"\x08\x00\x00\x00\x00",
         ihdr: bytes = b"IHDR", idat: bytes = b"IDAT") -> bytes:
    """The encoder's layout (signature, IHDR, one IDAT, IEND) around any scanlines and header fields."""
    return (_SIGNATURE + _chunk(ihdr, struct.pack(">II", width, height) + fields)
            + _chunk(idat, zlib.compress(scanlines)) + _IEND)


def _pil(data: bytes) -> np.ndarray:
    with _open(io.BytesIO(data)) as im:
        return np.asarray(im)


def _saved(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def pil_reads(monkeypatch):
    """The encoded images the decoder gives to PIL, in order (PIL still decodes them)."""
    seen = []

    def open_and_record(fp, *args, **kwargs):
        seen.append(fp.getvalue() if isinstance(fp, io.BytesIO) else fp)
        return _open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", open_and_record)
    return seen


# --- what the encoder writes ------------------------------------------------------------------

def test_encoder_writes_signature_gray_header_one_idat_and_iend():
    images = _random((2, 3, 5))
    for png, image in zip(encode_png_batch(images), images):
        (k1, header), (k2, data), (k3, end) = _chunks(png)
        # 8-bit, colour type 0 (gray), compression 0 (deflate), filter method 0, no interlace
        assert (k1, header) == (b"IHDR", struct.pack(">IIBBBBB", 5, 3, 8, 0, 0, 0, 0))
        assert (k2, zlib.decompress(data)) == (b"IDAT", _scanlines(image))
        assert (k3, end) == (b"IEND", b"")
        assert png.endswith(_IEND)


@pytest.mark.parametrize("shape", [(1, 0, 5), (2, 5, 0), (1, 0, 0)])
def test_encoder_refuses_images_without_pixels(shape):
    # PNG needs a width and a height of at least 1: PIL cannot open such a file.
    with pytest.raises(ValueError, match=r"expected a \(N, H, W\) uint8 array"):
        encode_png_batch(np.zeros(shape, np.uint8))


def test_encoder_accepts_a_batch_of_no_images():
    assert encode_png_batch(np.zeros((0, 4, 3), np.uint8)) == []


# --- the fast path: the encoder's layout never reaches PIL --------------------------------------

def test_pngs_in_the_encoders_layout_never_reach_pil(pil_reads):
    images = _random((6, 28, 28), seed=1)
    pngs = encode_png_batch(images)
    decoded = decode_png_batch(pngs)
    assert decoded.dtype == np.uint8 and decoded.shape == (6, 28, 28)
    np.testing.assert_array_equal(decoded, images)
    np.testing.assert_array_equal(decode_png_batch(pngs[3:], shape=(28, 28)), images[3:])
    # Spans out of order in a buffer that starts with something else.
    buffer = b"not an image" + b"".join(pngs)
    ends = 12 + np.cumsum([len(p) for p in pngs])
    starts = ends - [len(p) for p in pngs]
    order = [5, 2, 0, 4]
    np.testing.assert_array_equal(decode_pngs(buffer, starts[order], ends[order]), images[order])
    assert pil_reads == []


def test_a_16_mib_idat_still_takes_the_fast_path(pil_reads):
    # Random pixels barely compress: an IDAT of more than 2**24 bytes, so each of the four bytes
    # of its big-endian length counts.
    image = _random((1, 4160, 4100), seed=2)
    (png,) = encode_png_batch(image)
    assert len(png) > 1 << 24 and all(png[33:37]), png[33:37].hex()
    np.testing.assert_array_equal(decode_png_batch([png]), image)
    assert pil_reads == []


def test_in_a_mixed_batch_only_the_foreign_image_reaches_pil(pil_reads):
    images = _random((4, 3, 5), seed=3)
    pngs = encode_png_batch(images)
    pngs[2] = _saved(Image.fromarray(images[2]), "BMP")  # another format: other header, no IDAT, no IEND
    np.testing.assert_array_equal(decode_png_batch(pngs), images)
    assert pil_reads == [pngs[2]]


def test_an_image_in_another_format_first_gives_the_shape():
    images = _random((3, 3, 5), seed=4)
    pngs = encode_png_batch(images)
    pngs[0] = _saved(Image.fromarray(images[0]), "BMP")  # its bytes 16-24 are no PNG width and height
    np.testing.assert_array_equal(decode_png_batch(pngs), images)
    np.testing.assert_array_equal(decode_png_batch(pngs[:1] * 2), images[[0, 0]])


# --- images that only look like the encoder's layout -------------------------------------------

def _lookalikes() -> dict[str, bytes]:
    image = _random((3, 4), seed=5)
    ours = encode_png_batch(image[None])[0]
    rows = _scanlines(image)
    renamed = ours[:37] + _chunk(b"idat", ours[41:-16])[4:] + ours[-12:]  # same bytes, data chunk renamed
    return {
        "too short for a PNG": b"GIF89a",
        "every header byte wrong": bytes(b ^ 0xFF for b in ours[:33]) + ours[33:],
        "data chunk not IDAT": renamed,
        "header chunk not IHDR": _png(3, 4, rows, ihdr=b"ihdr"),
        "bit depth 9": _png(3, 4, rows, fields=b"\x09\x00\x00\x00\x00"),
        "colour type 1": _png(3, 4, rows, fields=b"\x08\x01\x00\x00\x00"),
        "filter method 1": _png(3, 4, rows, fields=b"\x08\x00\x00\x01\x00"),
        "scanlines one byte short": _png(3, 4, rows[:-1]),
        "scanlines two bytes a row short": _png(3, 4, rows[:-6]),
    }


@pytest.mark.parametrize("kind", _lookalikes().keys())
def test_lookalikes_of_the_encoders_layout_are_errors_naming_the_image(kind):
    bad = _lookalikes()[kind]
    with pytest.raises(Exception):  # noqa: B017 - PIL's own verdict, whatever its type
        _pil(bad)
    good = encode_png_batch(_random((1, 3, 4), seed=6))[0]
    with pytest.raises(ValueError, match=r"^image 1 (cannot be decoded \([A-Za-z]+Error: |is corrupt: )"):
        decode_png_batch([good, bad])


def test_an_unreadable_image_names_the_error_pil_raised():
    with pytest.raises(ValueError, match=r"image 0 cannot be decoded \(UnidentifiedImageError: cannot identify image"):
        decode_png_batch([b"no image here, but long enough to be looked at by the fast path" * 2])


@pytest.mark.parametrize("extra", [1, 3, 15], ids=["one byte", "one per row", "a whole image"])
def test_bytes_after_the_last_row_are_ignored_as_pil_does(extra):
    image = _random((3, 4), seed=7)
    png = _png(3, 4, _scanlines(image) + bytes(range(1, extra + 1)))
    np.testing.assert_array_equal(_pil(png), image)
    np.testing.assert_array_equal(decode_png_batch([png]), image[None])


def test_rows_filtered_behind_a_zero_first_pixel_decode_as_pil_does():
    # The first pixel of each row is 0, so Sub and Up leave 0 there: only the filter bytes
    # tell these rows from unfiltered ones.
    image = _random((5, 6), seed=8)
    image[:, 0] = 0
    png = _png(5, 6, _scanlines(image, [0, 1, 2, 1, 2]))
    np.testing.assert_array_equal(_pil(png), image)
    np.testing.assert_array_equal(decode_png_batch([png]), image[None])
    np.testing.assert_array_equal(decode_png_batch([png] + encode_png_batch(image[None])), np.stack([image, image]))


def test_interlaced_single_column_image_decodes_as_pil_does():
    # Adam7 with one column: passes 1, 3, 5 and 7 hold one pixel per row each, so the data has
    # the length of a plain image but its rows in pass order.
    image = np.arange(1, 10, dtype=np.uint8).reshape(9, 1) * 20
    raw = b""
    for y0, dy in ((0, 8), (4, 8), (2, 4), (1, 2)):
        raw += b"".join(b"\x00" + row.tobytes() for row in image[y0::dy])
    assert len(raw) == 9 * 2
    png = _png(9, 1, raw, fields=b"\x08\x00\x00\x00\x01")
    np.testing.assert_array_equal(_pil(png), image)
    np.testing.assert_array_equal(decode_png_batch([png]), image[None])


# --- the shape and offset arguments -------------------------------------------------------------

def test_an_empty_batch_needs_a_shape():
    with pytest.raises(ValueError, match=r"^no images: pass shape$"):
        decode_png_batch([])
    empty = decode_png_batch([], shape=(3, 4))
    assert empty.shape == (0, 3, 4) and empty.dtype == np.uint8


def test_the_shape_argument_is_checked_against_every_image():
    pngs = encode_png_batch(_random((2, 3, 4), seed=9))
    with pytest.raises(ValueError, match=r"^image 0 is 3x4, the others 4x3: all images must have one size$"):
        decode_png_batch(pngs, shape=(4, 3))
    # Even a shape no PNG can have (widths stop at 2**31 - 1) is a plain size mismatch.
    with pytest.raises(ValueError, match=r"^image 0 is 3x4, the others 0x2147483648"):
        decode_png_batch(pngs, shape=(0, 1 << 31))


@pytest.mark.parametrize("dtype", [np.uint64, np.uint32, np.int32, list])
def test_offsets_may_come_in_any_integer_type(dtype):
    images = _random((3, 4, 5), seed=10)
    pngs = encode_png_batch(images)
    ends = 7 + np.cumsum([len(p) for p in pngs])
    starts = ends - [len(p) for p in pngs]
    convert = (lambda a: a.tolist()) if dtype is list else (lambda a: a.astype(dtype))
    decoded = decode_pngs(b"leading" + b"".join(pngs), convert(starts), convert(ends))
    np.testing.assert_array_equal(decoded, images)


# --- pil_to_gray: modes ------------------------------------------------------------------------

def test_integer_pixels_are_scaled_from_16_to_8_bits_as_uint8():
    values = np.array([[0, 128, 129, 385, 386, 65535]], np.int32)
    image = Image.fromarray(values)
    assert image.mode == "I"
    gray = pil_to_gray(image)
    assert gray.dtype == np.uint8 and gray.tolist() == [[0, 0, 1, 1, 2, 255]]
    with _open(io.BytesIO(_saved(Image.fromarray(values.astype(np.uint16))))) as png16:
        assert png16.mode.startswith("I")
        gray = pil_to_gray(png16)
    assert gray.dtype == np.uint8 and gray.tolist() == [[0, 0, 1, 1, 2, 255]]


@pytest.mark.parametrize("values", [[-1, 0, 65535], [0, 65535, 65536]], ids=["below 0", "above 65535"])
def test_integer_pixels_outside_16_bits_are_refused(values):
    with pytest.raises(ValueError, match=r"^has pixel values outside 0\.\.65535 \(mode I\)$"):
        pil_to_gray(Image.fromarray(np.array([values], np.int32)))


def _gray_modes() -> dict[str, Image.Image]:
    gray = np.array([[0, 50, 255], [7, 128, 200]], np.uint8)
    opaque = np.full_like(gray, 255)
    la = Image.fromarray(np.stack([gray, opaque], axis=-1), "LA")
    rgba = Image.fromarray(np.stack([gray, gray, gray, opaque], axis=-1), "RGBA")
    return {"LA": la, "La": la.convert("La"), "PA": la.convert("PA"), "RGBa": rgba.convert("RGBa"),
            "RGBA": rgba, "RGB": rgba.convert("RGB"), "P": la.convert("P")}


@pytest.mark.parametrize("mode", _gray_modes().keys())
def test_opaque_gray_images_pass_in_every_mode_with_colour_or_alpha(mode):
    image = _gray_modes()[mode]
    assert image.mode == mode
    gray = pil_to_gray(image)
    assert gray.dtype == np.uint8 and gray.tolist() == [[0, 50, 255], [7, 128, 200]]


def test_gray_with_alpha_png_decodes_when_opaque():
    la = _gray_modes()["LA"]
    png = _saved(la)
    with _open(io.BytesIO(png)) as im:
        assert im.mode == "LA"
    np.testing.assert_array_equal(decode_png_batch([png]), [[[0, 50, 255], [7, 128, 200]]])


@pytest.mark.parametrize("mode", ["La", "PA", "RGBa"])
def test_transparent_pixels_are_refused_in_premultiplied_and_palette_modes(mode):
    la = Image.fromarray(np.array([[[9, 255], [9, 100]]], np.uint8), "LA")
    if mode == "PA":  # Pillow's LA -> PA conversion drops the alpha
        image = Image.new("PA", (2, 1))
        image.putpalette([9, 9, 9] * 256)
        image.putdata([(0, 255), (0, 100)])
    else:
        image = la.convert(mode) if mode == "La" else la.convert("RGBA").convert("RGBa")
    with pytest.raises(ValueError, match=rf"^has transparent pixels \(mode {mode}\)"):
        pil_to_gray(image)


@pytest.mark.parametrize("colour", [(200, 10, 10), (10, 200, 10), (10, 10, 200), (10, 200, 200)])
def test_a_colour_pixel_is_refused_whichever_channel_differs(colour):
    pixels = np.full((2, 3, 3), 10, np.uint8)
    pixels[1, 2] = colour
    with pytest.raises(ValueError, match=r"^is a colour image \(mode RGB\): convert it to grayscale first"):
        pil_to_gray(Image.fromarray(pixels, "RGB"))


def test_modes_with_no_gray_meaning_are_refused():
    with pytest.raises(ValueError, match=r"^has mode CMYK, which has no 8-bit grayscale equivalent$"):
        pil_to_gray(Image.new("CMYK", (2, 2)))


def test_the_first_image_takes_the_fast_path_up_to_pils_pixel_limit_inclusive(pil_reads, monkeypatch):
    # The size of the first image is believed from its header only as far as PIL would decode it.
    images = _random((2, 2, 3), seed=9)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6)
    np.testing.assert_array_equal(decode_png_batch(encode_png_batch(images)), images)
    assert pil_reads == []
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5)
    with pytest.warns(Image.DecompressionBombWarning):  # PIL's own word for 6 pixels against a limit of 5
        np.testing.assert_array_equal(decode_png_batch(encode_png_batch(images)), images)
    assert len(pil_reads) == 1  # the first image, for its size


def test_a_tall_narrow_header_beyond_pils_limit_is_pils_verdict_not_an_allocation():
    # 2**31 - 1 rows of 2 pixels: the limit is on rows x columns, whatever their shape.
    head = _png(2**31 - 1, 2, b"\0\0\0")
    with pytest.raises(ValueError, match=r"^image 0 cannot be decoded \(DecompressionBombError"):
        decode_png_batch([head])


def test_encoder_deflates_at_isal_level_1_not_its_default_level_2():
    # The module deflates with ISA-L at level 1, its fastest; ISA-L's default level is 2, which
    # writes other bytes once an image is a few KB (28x28 images happen to come out the same).
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    image = _random((1, 100, 100), seed=5) * (_random((1, 100, 100), seed=6) < 51)  # 80% black
    (png,) = encode_png_batch(image)
    (_, _), (kind, data), (_, _) = _chunks(png)
    scanlines = _scanlines(image[0])
    assert isal_zlib.compress(scanlines, 1) != isal_zlib.compress(scanlines, 2)  # the test can tell
    assert (kind, data) == (b"IDAT", isal_zlib.compress(scanlines, 1))


def test_an_empty_batch_encodes_to_no_pngs_even_2_31_pixels_wide():
    # No image, so no memory: the header is still packed, with the width as an unsigned 32-bit
    # field (PNG's own), so a width of 2**31 is no error.
    assert encode_png_batch(np.zeros((0, 1, 2**31), np.uint8)) == []


def test_a_zlib_stream_cut_short_by_the_idat_length_is_not_read_on_into_the_crc_and_iend():
    # A stored (uncompressed) zlib stream of pixels summing to 65520, so its Adler-32 ends in two
    # zero bytes: the IDAT declares all but its last 6 bytes (the last two pixels and the
    # checksum), which follow as the IDAT CRC and, with the zeros that start IEND, complete it.
    # Only the IDAT's own bytes are pixel data: the image is truncated, as PIL says.
    pixels = np.zeros(16 * 17, np.uint8)
    pixels[:256], pixels[-1] = 255, 240
    scanlines = _scanlines(pixels.reshape(16, 17))
    stream = zlib.compress(scanlines, 0)
    assert zlib.adler32(scanlines) & 0xFFFF == 0 and stream[-2:] == b"\0\0"
    data = stream[:-6]
    png = (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 17, 16, 8, 0, 0, 0, 0))
           + struct.pack(">I", len(data)) + b"IDAT" + data + stream[-6:-2] + _IEND)
    with pytest.raises(ValueError, match=r"^image 0 cannot be decoded \(OSError: image file is truncated"):
        decode_png_batch([png])
    with pytest.raises(ValueError, match=r"^image 1 cannot be decoded \(OSError: image file is truncated"):
        decode_png_batch([encode_png_batch(np.zeros((1, 16, 17), np.uint8))[0], png], shape=(16, 17))


def test_a_one_shot_iterator_of_pngs_is_refused_not_consumed():
    # The batch is walked twice (lengths, then the bytes): an iterator would be empty the second
    # time, so it is refused up front (it has no len) rather than misread as empty images.
    pngs = encode_png_batch(np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="has no len"):
        decode_png_batch(iter(pngs))
