"""Fuzzing the IDX reader: mutated files, an independent decoder that judges the reader's answers,
and the check of one case. Used by tests/test_fuzz_idx.py (a bounded, seeded run in CI) and
scripts/maintenance/fuzz_idx.py (a long run with a time budget); the generator lives only here.

A case is a file: a base array (synthetic, or a slice of the real files), encoded as raw IDX,
as gzip (one or more members, any level, optional header fields, or the published archive
itself), as xz (one or more streams, any check, null padding), or as the one member of a zip
archive (stored or deflated, raw IDX or gzip inside, as EMNIST's), with up to three mutations of
the IDX bytes and/or the container's bytes. Everything is drawn from
``numpy.random.default_rng((seed, index))``, so ``(seed, index)`` reproduces a case.

The decoder here shares no code with ``mnist_hf``: CPython's zlib instead of ISA-L, its lzma and
zipfile (read whole, a byte at a time, not streamed), the IDX header parsed with ``struct``, and
the rules written down from the formats:

* a gzip file is one or more complete members, their contents concatenated (RFC 1952, 2.2);
  anything else after a member (zero padding too) makes the file invalid;
* an xz file is one or more complete streams, each optionally followed by null stream padding
  of a multiple of four bytes (the xz format, 2.2); anything else after a stream is invalid;
* a zip member is read only when stored or deflated and not encrypted (bzip2 and LZMA members
  decompress without bound in one read), and must pass zipfile's CRC and size checks;
* IDX: two zero bytes, a known type code, at least one dimension, no dimension of size 0, and
  exactly the declared amount of data after the header.

The reader must return exactly the decoded array for a valid file and raise ``IDXFormatError``
naming the file for an invalid one: never another exception, never more memory than
:func:`memory_bound`, never a hang (a watchdog ends the process after ``CASE_SECONDS``).
"""

from __future__ import annotations

import faulthandler
import gzip
import io
import lzma
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_hf.archives import ZipMember
from mnist_hf.idx import IDXFormatError, iter_idx, read_idx, read_idx_header

#: IDX type codes, from the format's description (not from mnist_hf.idx).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
HTML = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--")
CASE_SECONDS = 60  # watchdog: a case that takes this long is a hang (cases take milliseconds)
MIB = 1 << 20
XZ_MAGIC = b"\xfd7zXZ\x00"
MEMBER = "gzip/emnist-fuzz-train-images-idx3-ubyte.gz"  # the member a zip case's reader opens


# ---------------------------------------------------------------------------------------------
# Bases: what gets mutated


@dataclass(frozen=True)
class Base:
    """A starting point: the IDX bytes, and a published gzip wrapper of them if there is one.

    ``raw`` is None for a prefix of a published archive (only gzip-level mutations apply).
    """

    name: str
    raw: bytes | None
    gz: bytes | None = None


def encode_idx(array: np.ndarray, code: int | None = None) -> bytes:
    """IDX bytes of ``array``, written from the format description."""
    array = np.asarray(array)
    if code is None:
        code = next(c for c, t in IDX_TYPES.items() if np.dtype(t).newbyteorder("=") == array.dtype.newbyteorder("="))
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_TYPES[code]).tobytes()


def synthetic_bases() -> list[Base]:
    """Small arrays of every type code and 1 to 4 dimensions, special floats included."""
    rng = np.random.default_rng(20251127)
    floats = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38, -1.5, 2.0], np.float32)
    arrays = {
        "labels": (np.arange(97) % 10).astype(np.uint8),
        "images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "sparse-images": np.where(rng.random((5, 28, 28)) < 0.8, 0, 255).astype(np.uint8),
        "one": np.array([7], np.uint8),
        "int8": rng.integers(-128, 128, (9, 3), dtype=np.int8),
        "int16": rng.integers(-(2**15), 2**15, (4, 5), dtype=np.int16),
        "int32": rng.integers(-(2**31), 2**31, (3, 2, 2), dtype=np.int32),
        "float32": floats.reshape(3, 3),
        "float64": np.concatenate([floats.astype(np.float64), rng.normal(size=7)]).reshape(2, 8),
        "4d": rng.integers(0, 256, (2, 1, 3, 2), dtype=np.uint8),
        "zeros": np.zeros((40, 28, 28), np.uint8),  # deflates ~1000:1
    }
    return [Base(name, encode_idx(a)) for name, a in arrays.items()]


def real_bases(shared_data: Path) -> list[Base]:
    """The real small files whole (with their published gzip wrappers), slices of the image
    files, and a prefix of a big published archive (a real header that declares far more)."""
    bases = []
    for path in sorted(shared_data.glob("*/*labels*.gz")):
        published = path.read_bytes()
        bases.append(Base(f"{path.parent.name}/{path.name}", gzip.decompress(published), published))
    for path in sorted(shared_data.glob("*/t10k-images*.gz")):
        images = np.frombuffer(gzip.decompress(path.read_bytes())[16:], np.uint8).reshape(-1, 28, 28)
        bases.append(Base(f"{path.parent.name}/{path.name}[:12]", encode_idx(images[:12])))
        bases.append(Base(f"{path.parent.name}/{path.name}[5000:5005]", encode_idx(images[5000:5005])))
    big = shared_data / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    if big.exists():
        with open(big, "rb") as f:
            bases.append(Base(f"{big.parent.name}/{big.name} (first 40 kB)", None, f.read(40_000)))
    return bases


# ---------------------------------------------------------------------------------------------
# Encoding and mutations


def gzip_member(data: bytes, rng: np.random.Generator) -> bytes:
    """One gzip member, header fields drawn at random (FNAME, FCOMMENT, FEXTRA, FHCRC)."""
    flags, fields = 0, b""
    if rng.random() < 0.3:
        extra = rng.bytes(int(rng.integers(0, 12)))
        flags |= 4
        fields += struct.pack("<H", len(extra)) + extra
    if rng.random() < 0.4:
        flags |= 8
        fields += b"train-images-idx3-ubyte\x00"
    if rng.random() < 0.2:
        flags |= 16
        fields += b"a comment\x00"
    head = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", int(rng.integers(0, 2**32))) + b"\x00\x03"
    if rng.random() < 0.2:
        head = head[:3] + bytes([flags | 2]) + head[4:]
        fields += struct.pack("<H", zlib.crc32(head + fields) & 0xFFFF)
    level = int(rng.integers(0, 10))
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    return head + fields + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def gzip_members(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` as 1 to 4 gzip members split at random points (empty members possible)."""
    parts = int(rng.choice([1, 1, 1, 2, 3, 4]))
    cuts = sorted(int(c) for c in rng.integers(0, len(data) + 1, parts - 1))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    return b"".join(gzip_member(p, rng) for p in pieces)


def _header_len(raw: bytes) -> int:
    return 4 + 4 * raw[3] if len(raw) >= 4 else len(raw)


def _flip(data: bytes, rng: np.random.Generator, lo: int = 0, hi: int | None = None) -> bytes:
    lo = max(lo, 0)
    hi = len(data) if hi is None else min(hi, len(data))
    if hi <= lo:
        return data
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(lo, hi))
        out[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _cut(data: bytes, rng: np.random.Generator) -> bytes:
    if not data:
        return data
    choice = rng.random()
    if choice < 0.3:
        return data[: len(data) - int(rng.integers(1, min(len(data), 24) + 1))]  # near the end
    return data[: int(rng.integers(0, len(data)))]


def _stray(rng: np.random.Generator) -> bytes:
    kind = int(rng.integers(0, 9))
    n = int(rng.integers(1, 40))
    return [
        b"\n", b"\r\n", b"\x00" * n, rng.bytes(n), b"\x1f\x8b" + rng.bytes(int(rng.integers(0, 30))),
        b"\x1f", b"junk after the data\n", b"<html><body>404</body></html>", b"\x1f\x8b\x08\x00" + b"\x00" * 6,
    ][kind]


def _insert(data: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, len(data) + 1))
    return data[:i] + rng.bytes(int(rng.integers(1, 9))) + data[i:]


def _delete(data: bytes, rng: np.random.Generator) -> bytes:
    if not data:
        return data
    i = int(rng.integers(0, len(data)))
    return data[:i] + data[i + int(rng.integers(1, 9)) :]


def _set_dim(raw: bytes, rng: np.random.Generator) -> bytes:
    ndim = raw[3] if len(raw) >= 4 else 0
    if not ndim or len(raw) < 4 + 4 * ndim:
        return raw
    k = int(rng.integers(0, ndim))
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    d = dims[k]
    # A lie a gzip file could hold (2 to 1,000 times the file's size), so that memory matters.
    others = max(1, int(np.prod(dims[:k] + dims[k + 1 :], dtype=object)) * np.dtype(IDX_TYPES.get(raw[2], ">u1")).itemsize)
    plausible = int(len(raw) * rng.uniform(2, 1000)) // others
    choices = [0, 1, max(d - 1, 0), d + 1, 2 * d, plausible, plausible, 2**31, 2**32 - 1, int(rng.integers(0, 2**32))]
    value = int(rng.choice(choices))
    return raw[: 4 + 4 * k] + struct.pack(">I", value % 2**32) + raw[8 + 4 * k :]


def _reshape(raw: bytes, rng: np.random.Generator) -> bytes:
    """A different but consistent header: the same elements, another factorisation (valid)."""
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_TYPES or not raw[3] or len(raw) < 4 + 4 * raw[3]:
        return raw
    ndim = raw[3]
    total = int(np.prod(struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim]), dtype=object))
    if not 0 < total < 2**32:
        return raw
    dims = []
    rest = total
    for _ in range(int(rng.integers(0, 3))):
        divisors = [f for f in range(1, min(rest, 64) + 1) if rest % f == 0]
        f = int(rng.choice(divisors))
        dims.append(f)
        rest //= f
    dims = [rest, *dims]
    return bytes([0, 0, raw[2], len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + raw[4 + 4 * ndim :]


def _retype(raw: bytes, rng: np.random.Generator) -> bytes:
    code = int(rng.choice([*IDX_TYPES, 0x00, 0x01, 0x07, 0x0A, 0x0F, 0x10, 0xFF]))
    return raw[:2] + bytes([code]) + raw[3:] if len(raw) >= 4 else raw


def _set_ndim(raw: bytes, rng: np.random.Generator) -> bytes:
    if len(raw) < 4:
        return raw
    ndim = int(rng.choice([0, max(raw[3] - 1, 0), raw[3] + 1, 255, int(rng.integers(0, 256))]))
    return raw[:3] + bytes([ndim % 256]) + raw[4:]


def _magic(raw: bytes, rng: np.random.Generator) -> bytes:
    i = int(rng.integers(0, 2))
    return raw[:i] + bytes([int(rng.integers(1, 256))]) + raw[i + 1 :] if len(raw) > i else raw


IDX_MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "idx-flip-header": lambda b, r: _flip(b, r, 0, _header_len(b)),
    "idx-flip-data": lambda b, r: _flip(b, r, _header_len(b)),
    "idx-dimension": _set_dim,
    "idx-reshape": _reshape,
    "idx-type": _retype,
    "idx-ndim": _set_ndim,
    "idx-magic": _magic,
    "idx-truncate": _cut,
    "idx-append": lambda b, r: b + _stray(r),
    "idx-insert": _insert,
    "idx-delete": _delete,
}


def _gz_flags(gz: bytes, rng: np.random.Generator) -> bytes:
    if len(gz) < 4:
        return gz
    return gz[:3] + bytes([gz[3] | (1 << int(rng.integers(0, 8)))]) + gz[4:]


def _gz_method(gz: bytes, rng: np.random.Generator) -> bytes:
    return gz[:2] + bytes([int(rng.integers(0, 256))]) + gz[3:] if len(gz) >= 3 else gz


def _gz_member(gz: bytes, rng: np.random.Generator) -> bytes:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return gz + gzip.compress(b"", mtime=0)  # valid: an empty member adds nothing
    if kind == 1:
        return gz + gz  # the data twice
    if kind == 2:
        return gz + gzip.compress(rng.bytes(int(rng.integers(1, 50))), mtime=0)
    return gz + _flip(gzip.compress(rng.bytes(30), mtime=0), rng)


GZIP_MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "gz-flip-header": lambda b, r: _flip(b, r, 0, 12),
    "gz-flip-body": lambda b, r: _flip(b, r, 10, len(b) - 8),
    "gz-flip-trailer": lambda b, r: _flip(b, r, len(b) - 8),
    "gz-truncate": _cut,
    "gz-stray-tail": lambda b, r: b + _stray(r),
    "gz-another-member": _gz_member,
    "gz-insert": _insert,
    "gz-delete": _delete,
    "gz-flag-bit": _gz_flags,
    "gz-method": _gz_method,
}


def xz_streams(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` as 1 to 3 xz streams (random check and preset), null padding of a multiple of
    4 bytes possibly after each (valid)."""
    parts = int(rng.choice([1, 1, 1, 2, 3]))
    cuts = sorted(int(c) for c in rng.integers(0, len(data) + 1, parts - 1))
    out = b""
    for a, b in zip([0, *cuts], [*cuts, len(data)]):
        check = [lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256][int(rng.integers(0, 4))]
        out += lzma.compress(data[a:b], format=lzma.FORMAT_XZ, check=check, preset=int(rng.integers(0, 7)))
        out += b"\x00" * (4 * int(rng.choice([0, 0, 0, 1, 2])))
    return out


def _xz_tail(xz: bytes, rng: np.random.Generator) -> bytes:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return xz + b"\x00" * int(rng.integers(1, 13))  # valid only for a multiple of 4
    if kind == 1:
        return xz + lzma.compress(b"", format=lzma.FORMAT_XZ)  # valid: an empty stream adds nothing
    if kind == 2:
        return xz + lzma.compress(rng.bytes(int(rng.integers(1, 50))), format=lzma.FORMAT_XZ)
    return xz + _flip(lzma.compress(rng.bytes(30), format=lzma.FORMAT_XZ), rng)


XZ_MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "xz-flip-header": lambda b, r: _flip(b, r, 0, 12),
    "xz-flip-body": lambda b, r: _flip(b, r, 12, len(b) - 12),
    "xz-flip-footer": lambda b, r: _flip(b, r, len(b) - 12),
    "xz-truncate": _cut,
    "xz-stray-tail": lambda b, r: b + _stray(r),
    "xz-padding-or-stream": _xz_tail,
    "xz-insert": _insert,
    "xz-delete": _delete,
}


def zip_archive(content: bytes, rng: np.random.Generator) -> bytes:
    """A zip archive holding ``content`` as :data:`MEMBER` (stored or deflated), sometimes with
    another member before it."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.7 else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        if rng.random() < 0.2:
            z.writestr("gzip/emnist-fuzz-mapping.txt", b"0 48\n1 49\n")
        z.writestr(MEMBER, content)
    return buf.getvalue()


def _zip_entries(data: bytes) -> tuple[int, int] | None:
    """Offsets of the member's local header and of its central directory entry (the last one), if found."""
    at = data.find(MEMBER.encode())
    local = data.rfind(b"PK\x03\x04", 0, at) if at >= 0 else -1
    central = data.rfind(b"PK\x01\x02")
    return (local, central) if local >= 0 and central >= 0 else None


def _zip_field(data: bytes, local_at: int, central_at: int, size: int, *, value: int | None = None,
               mask: int = 0) -> bytes:
    """Set ``value`` in (or OR ``mask`` into) a little-endian field of the member's local and central entries."""
    entries = _zip_entries(data)
    if entries is None:
        return data
    out = bytearray(data)
    for offset in (entries[0] + local_at, entries[1] + central_at):
        if offset + size <= len(out):
            old = int.from_bytes(out[offset : offset + size], "little")
            new = (old if value is None else value) | mask
            out[offset : offset + size] = (new % 2 ** (8 * size)).to_bytes(size, "little")
    return bytes(out)


def _zip_method(data: bytes, rng: np.random.Generator) -> bytes:
    return _zip_field(data, 8, 10, 2, value=int(rng.choice([0, 8, 9, 12, 14, 93, 99])))


def _zip_encrypt(data: bytes, rng: np.random.Generator) -> bytes:
    return _zip_field(data, 6, 8, 2, mask=1)


def _zip_size(data: bytes, rng: np.random.Generator) -> bytes:
    # The member's declared uncompressed size: a lie either way, or a huge one.
    entries = _zip_entries(data)
    if entries is None:
        return data
    real = int.from_bytes(data[entries[1] + 24 : entries[1] + 28], "little")
    value = int(rng.choice([0, max(real - 1, 0), real + 1, 2 * real, 1000 * real, 2**32 - 1]))
    return _zip_field(data, 22, 24, 4, value=value)


def _zip_region(data: bytes, rng: np.random.Generator, region: str) -> bytes:
    entries = _zip_entries(data)
    if entries is None:
        return _flip(data, rng)
    local, central = entries
    lo, hi = {"local": (local, local + 30 + len(MEMBER)), "data": (local + 30 + len(MEMBER), central),
              "directory": (central, len(data))}[region]
    return _flip(data, rng, lo, hi)


ZIP_MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "zip-flip-local-header": lambda b, r: _zip_region(b, r, "local"),
    "zip-flip-data": lambda b, r: _zip_region(b, r, "data"),
    "zip-flip-directory": lambda b, r: _zip_region(b, r, "directory"),
    "zip-truncate": _cut,
    "zip-stray-tail": lambda b, r: b + _stray(r),
    "zip-method": _zip_method,
    "zip-encrypted": _zip_encrypt,
    "zip-declared-size": _zip_size,
}
CONTAINERS = {".gz": GZIP_MUTATIONS, ".xz": XZ_MUTATIONS, ".zip": ZIP_MUTATIONS}


@dataclass
class Case:
    """One fuzz case: the file's bytes and how they were made."""

    seed: int
    index: int
    base: str
    steps: list[str]
    data: bytes
    suffix: str  # "", ".gz", ".xz" or ".zip": the container (the reader goes by content; a zip case is read
    # as its member MEMBER)

    @property
    def label(self) -> str:
        return f"seed={self.seed} case={self.index} base={self.base} steps={'+'.join(self.steps) or 'none'}"


def make_case(bases: list[Base], seed: int, index: int) -> Case:
    """Case ``index`` of the run seeded ``seed``: the same arguments give the same bytes."""
    rng = np.random.default_rng((seed, index))
    base = bases[int(rng.integers(0, len(bases)))]
    steps: list[str] = []
    if rng.random() < 0.02:
        data = [b"", b"  <!DOCTYPE html><html>403</html>", b"\n<HTML>"][int(rng.integers(0, 3))]
        return Case(seed, index, base.name, ["special"], data, "")
    n_mutations = int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
    raw = base.raw
    encoding = rng.random()
    if raw is None or (base.gz is not None and encoding < 0.2):
        data, suffix = base.gz, ".gz"
        steps.append("published-gzip")
        raw_steps = 0
    else:
        raw_steps = int(rng.integers(0, n_mutations + 1))
        for _ in range(raw_steps):
            name = str(rng.choice(list(IDX_MUTATIONS)))
            raw = IDX_MUTATIONS[name](raw, rng)
            steps.append(name)
        if encoding < 0.45:
            return Case(seed, index, base.name, [*steps, "raw"], raw, "")
        suffix = ".gz" if encoding < 0.75 else ".xz" if encoding < 0.87 else ".zip"
        if suffix == ".gz":
            data = gzip_members(raw, rng)
        elif suffix == ".xz":
            data = xz_streams(raw, rng)
        else:
            inner = gzip_members(raw, rng) if rng.random() < 0.5 else raw
            data = zip_archive(inner, rng)
            steps.append("gzip" if inner is not raw else "raw")
        steps.append(suffix[1:])
    mutations = CONTAINERS[suffix]
    for _ in range(n_mutations - raw_steps):
        name = str(rng.choice(list(mutations)))
        data = mutations[name](data, rng)
        steps.append(name)
    return Case(seed, index, base.name, steps, data, suffix)


# ---------------------------------------------------------------------------------------------
# The independent decoder


@dataclass
class Expected:
    """What a file holds according to the format alone."""

    array: np.ndarray | None  # the data (native byte order) when the file is valid, else None
    header: tuple[np.dtype, tuple[int, ...]] | None  # what the (decodable prefix of the) data declares
    present: int  # bytes of IDX data the file actually yields (up to the first gzip error)
    why: str  # why the file is invalid ("" when valid)


def _gunzip(data: bytes) -> tuple[bytes, str]:
    """All members' contents, and "" or why the gzip data is invalid. On an error the output
    so far is kept to the byte (for the header and the memory bound)."""
    out, rest = [], data
    while True:
        d, pos = zlib.decompressobj(wbits=31), 0
        while pos < len(rest) and not d.eof:
            chunk = rest[pos : pos + 4096]
            saved = d.copy()
            try:
                out.append(d.decompress(chunk))
                pos += len(chunk)
            except zlib.error:
                # Redo the failing chunk a byte at a time: keep what decodes before the error.
                d = saved
                for byte in range(pos, pos + len(chunk)):
                    try:
                        out.append(d.decompress(rest[byte : byte + 1]))
                    except zlib.error as e:
                        return b"".join(out), f"corrupt gzip ({e})"
                    if d.eof:
                        pos = byte + 1
                        break
        if not d.eof:
            out.append(d.flush())
            return b"".join(out), "truncated gzip"
        rest = d.unused_data + rest[pos:]
        if not rest:
            return b"".join(out), ""
        if not rest.startswith(b"\x1f\x8b"):
            return b"".join(out), "trailing garbage after a gzip member"


def _unxz(data: bytes) -> tuple[bytes, str]:
    """All streams' contents, and "" or why the xz data is invalid; on an error the output so far
    is kept to the byte."""
    out: list[bytes] = []
    rest = data
    while True:
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            out.append(d.decompress(rest))
            rest = d.unused_data
        except lzma.LZMAError:
            return b"".join(out + _unxz_prefix(rest)), f"corrupt xz ({_xz_error(rest)})"
        if not d.eof:
            return b"".join(out), "truncated xz"
        stripped = rest.lstrip(b"\x00")
        padding, rest = len(rest) - len(stripped), stripped
        if padding % 4 or (rest and not rest.startswith(XZ_MAGIC)):
            return b"".join(out), "trailing garbage after an xz stream"
        if not rest:
            return b"".join(out), ""


def _xz_error(stream: bytes) -> str:
    try:
        lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(stream)
    except lzma.LZMAError as e:
        return str(e)
    return "?"


def _unxz_prefix(stream: bytes) -> list[bytes]:
    """What a corrupt xz stream yields before its error, to the byte: a byte of input and a byte of
    output at a time (a call that raises loses the output it made, and a reader that asks for less
    output may stop before the corrupt part)."""
    out: list[bytes] = []
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    for byte in range(len(stream)):
        chunk = stream[byte : byte + 1]
        while True:
            try:
                piece = d.decompress(chunk, 1)
            except lzma.LZMAError:
                return out
            out.append(piece)
            chunk = b""
            if d.eof or d.needs_input:
                break
        if d.eof:
            break
    return out


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data) and shift < 63:
        byte = data[at]
        value, at, shift = value | (byte & 0x7F) << shift, at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    raise ValueError("bad varint")


def xz_window(data: bytes) -> int:
    """The largest LZMA2 dictionary any intact xz block header in ``data`` declares (the xz
    format, 3.1): what liblzma allocates to decode it, whatever the data expands to."""
    window, at = 0, data.find(XZ_MAGIC)
    while at >= 0:
        block = at + 12
        size = (data[block] + 1) * 4 if block < len(data) and data[block] else 0
        header = data[block : block + size]
        if size and len(header) == size and zlib.crc32(header[:-4]) == struct.unpack("<I", header[-4:])[0]:
            try:
                pos = 2
                for flag in (0x40, 0x80):  # compressed and uncompressed sizes, when present
                    if header[1] & flag:
                        _, pos = _varint(header, pos)
                for _ in range((header[1] & 3) + 1):
                    filter_id, pos = _varint(header, pos)
                    n_props, pos = _varint(header, pos)
                    if filter_id == 0x21 and n_props == 1 and header[pos] <= 40:
                        v = header[pos]
                        window = max(window, 2**32 - 1 if v == 40 else (2 | (v & 1)) << (v // 2 + 11))
                    pos += n_props
            except (ValueError, IndexError):
                pass
        at = data.find(XZ_MAGIC, at + 1)
    return window


def _unzip(data: bytes) -> tuple[bytes, str]:
    """The content of :data:`MEMBER`, and "" or why it cannot be read; read a byte at a time,
    so that what comes out before an error is kept to the byte."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = archive.getinfo(MEMBER)
    except Exception as e:  # any failure to find the member: the archive is unreadable
        return b"", f"zip: no readable member ({type(e).__name__})"
    if info.flag_bits & 1:
        return b"", "zip: encrypted member"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return b"", f"zip: compression method {info.compress_type}"
    out = bytearray()
    try:
        with archive.open(info) as f:
            while byte := f.read(1):
                out += byte
    except Exception as e:  # a bad CRC, corrupt deflate data, a member cut short, ...
        return bytes(out), f"zip: corrupt member ({type(e).__name__})"
    return bytes(out), ""


def expected(data: bytes, container: str = "") -> Expected:
    """Decode ``data`` with the rules above, without mnist_hf; ``container`` ``".zip"`` reads the
    member :data:`MEMBER` of the archive ``data``, then judges its content like a file's."""
    zip_problem = ""
    if container == ".zip":
        data, zip_problem = _unzip(data)
    if not data:
        return Expected(None, None, 0, zip_problem or "empty")
    if data.lstrip().lower().startswith(HTML):
        return Expected(None, None, 0, zip_problem or "html")
    if data[:2] == b"\x1f\x8b":
        content, problem = _gunzip(data)
    elif data[:6] == XZ_MAGIC:
        content, problem = _unxz(data)
    else:
        content, problem = data, ""
    # Either may be what a streaming reader meets first (a member's CRC is checked at its end).
    why = "; ".join(w for w in (zip_problem, problem) if w)
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in IDX_TYPES or content[3] == 0:
        return Expected(None, None, len(content), why or "bad magic / type / ndim")
    ndim = content[3]
    if len(content) < 4 + 4 * ndim:
        return Expected(None, None, len(content), why or "short header")
    shape = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    if 0 in shape:
        return Expected(None, None, len(content), why or "zero dimension")
    dtype = np.dtype(IDX_TYPES[content[2]])
    header = (dtype.newbyteorder("="), shape)
    body = content[4 + 4 * ndim :]
    need = dtype.itemsize * int(np.prod(shape, dtype=object))
    if why or len(body) != need:
        return Expected(None, header, len(body), why or f"{len(body)} data bytes for {need} declared")
    array = np.frombuffer(body, dtype).byteswap().view(dtype.newbyteorder("=")).reshape(shape)
    return Expected(array, header, len(body), "")


def memory_bound(size: int, compressed: bool, exp: Expected, window: int = 0) -> int:
    """The most a read may allocate: a raw file's data is checked against its size, so at
    most its size; compressed data (gzip, xz, anything in a zip archive, whose entry only
    declares its size) at most 3 x what the stream yields, or 8 x the file size (the first
    allocation), whichever is larger; plus 2 MiB for buffers (1 MiB of output at a time,
    256 kB of input); plus, for xz, the decoder's dictionary (``window``, from the block
    headers: a fixed cost of the file, however little or much it expands to)."""
    if not compressed:
        return size + 2 * MIB
    return max(MIB, 8 * size, 3 * exp.present) + 2 * MIB + window


# ---------------------------------------------------------------------------------------------
# Checking one case


@dataclass
class Report:
    """How the readers answered one case: outcome kinds, and failures (empty when all is well)."""

    outcomes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _kind(message: str) -> str:
    """A short name for a rejection, for the tallies."""
    for key in ("trailing garbage", "truncated gzip", "corrupt gzip", "truncated xz", "corrupt xz", "zip member",
                "zip archive", "HTML", "empty", "wrong magic", "unknown element type", "0 dimensions", "has size 0",
                "inside the header", "inside the 4-byte", "more than this gzip stream can hold", "holds only"):
        if key in message:
            return key
    return "other"


# The reader's container-level messages and what the decoder must have found for each. (The
# reader may also meet an IDX-level problem first, in data decoded before a container error: not
# checked.)
# A member that ends early inside its 8-byte trailer is "truncated" to ISA-L, which waits for the
# whole trailer, and "corrupt" to zlib, which checks the CRC first: both are true.
_VERDICTS = {
    "truncated gzip stream": ("truncated gzip", "corrupt gzip"),
    "not another gzip member": ("trailing garbage after a gzip member",),
    "start like another gzip member but are cut off": ("truncated gzip", "corrupt gzip"),
    "start like another gzip member but are not one": ("corrupt gzip",),
    "corrupt gzip data": ("corrupt gzip",),
    "truncated xz stream": ("truncated xz",),
    "corrupt xz data": ("corrupt xz",),
    "after the end of the xz data": ("trailing garbage after an xz stream",),
    "zip member": ("zip",),
    "zip archive": ("zip",),
}


def _agrees(message: str, why: str) -> bool:
    for phrase, verdict in _VERDICTS.items():
        if phrase in message:
            return any(part.startswith(verdict) for part in why.split("; "))
    return True


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _run(fn: Callable[[], object]) -> tuple[object, BaseException | None, int]:
    """``fn()``'s result or exception, and its peak traced memory above the start (bytes)."""
    faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        return fn(), None, tracemalloc.get_traced_memory()[1] - start
    except Exception as e:  # the check sorts out which exceptions are allowed
        return None, e, tracemalloc.get_traced_memory()[1] - start
    finally:
        faulthandler.cancel_dump_traceback_later()


def check_case(case: Case, path: Path, rows_per_block: int | None = None) -> Report:
    """Write ``case`` to ``path`` and run ``read_idx``, ``read_idx_header`` and ``iter_idx`` on it.

    ``tracemalloc`` must be tracing. Returns the outcomes (``"array"``, ``"header"`` or the kind
    of rejection) and any failure: another exception type, an IDXFormatError that does not name
    the file, a valid file rejected, an invalid one accepted, a wrong array, too much memory.
    """
    path.write_bytes(case.data)
    exp = expected(case.data, case.suffix)
    zipped = case.suffix == ".zip"
    compressed = zipped or case.data[:2] == b"\x1f\x8b" or case.data[:6] == XZ_MAGIC
    bound = memory_bound(len(case.data), compressed, exp, xz_window(case.data))
    target = ZipMember(str(path), MEMBER) if zipped else path
    report = Report()
    # A few rows per block, but at most ~50 blocks: label files have 10,000 rows.
    rows = rows_per_block or max(1 + case.index % 7, (exp.header[1][0] // 50) if exp.header else 0)

    def _iter_checked():
        got = 0
        for block in iter_idx(target, rows):
            if exp.array is not None and not _same(block, exp.array[got : got + len(block)]):
                return "wrong block"
            got += len(block)
        return got

    for name, fn in (("read_idx", lambda: read_idx(target)), ("read_idx_header", lambda: read_idx_header(target)),
                     ("iter_idx", _iter_checked)):
        result, error, peak = _run(fn)
        problem, outcome = _verdict(name, result, error, exp, str(path), compressed)
        if outcome:
            report.outcomes.append(outcome)
        if peak > bound:
            problem = (problem + "; " if problem else "") + f"peak memory {peak:,} bytes above the bound {bound:,}"
        if problem:
            report.failures.append(f"{case.label}: {name} {problem}")
    return report


def _verdict(name: str, result: object, error: BaseException | None, exp: Expected, path: str,
             compressed: bool) -> tuple[str | None, str | None]:
    """What is wrong with reader ``name``'s answer (None when right), and the outcome to tally."""
    if error is not None:
        message = str(error)
        if not isinstance(error, IDXFormatError):
            return f"raised {type(error).__name__}: {error}", _kind(message)
        if path not in message:
            return f"message does not name the file: {error}", _kind(message)
        if exp.array is not None:
            return f"rejected a valid file: {error}", _kind(message)
        if not _agrees(message, exp.why):
            return f"says {message.split(': ', 1)[-1]!r}, but the decoder found: {exp.why}", _kind(message)
        return None, _kind(message)
    if name == "read_idx":
        if exp.array is None:
            return f"accepted an invalid file ({exp.why}): got {result.dtype} {result.shape}", "array"
        return (None if _same(result, exp.array) else "returned a different array than the decoder"), "array"
    if name == "read_idx_header":
        # Only the header is read: compressed data whose trouble lies further on may pass, but
        # the answer must be what its data declares; a raw file's size is checked exactly.
        if exp.array is None and (not compressed or exp.header is None):
            return f"accepted an invalid file ({exp.why}): got {result}", "header"
        return (None if result == exp.header else f"returned {result}, the data declares {exp.header}"), "header"
    if exp.array is None:
        return f"accepted an invalid file ({exp.why}): {result}", None
    return (None if result == len(exp.array) else f"blocks differ from the decoder ({result})"), None


def run_cases(bases: list[Base], seed: int, indices, workdir: Path, *, deadline: float | None = None,
              on_failure: Callable[[Case, Report], None] | None = None) -> tuple[int, dict[str, int], list[str]]:
    """Check cases ``indices`` (stopping at ``deadline``, a ``time.monotonic()`` value).
    Returns (cases tried, outcome tallies, failures)."""
    tallies: dict[str, int] = {}
    failures: list[str] = []
    tried = 0
    own_tracing = not tracemalloc.is_tracing()
    if own_tracing:
        tracemalloc.start()
    try:
        for index in indices:
            if deadline is not None and time.monotonic() > deadline:
                break
            case = make_case(bases, seed, index)
            # If the watchdog ends the process, these two files are the reproducer.
            (workdir / "case.txt").write_text(case.label + "\n")
            report = check_case(case, workdir / f"case{case.suffix}")
            tried += 1
            for outcome in report.outcomes:
                tallies[outcome] = tallies.get(outcome, 0) + 1
            if report.failures:
                failures.extend(report.failures)
                if on_failure is not None:
                    on_failure(case, report)
    finally:
        if own_tracing:
            tracemalloc.stop()
    return tried, tallies, failures
