"""Memory and disk bounded by what a configuration publishes, never by what an archive expands to
(issue 19, case 1): decompression bombs in every container the builder reads (gzip, xz, a zip
member raw or gzip) are refused from their headers, and data at the published size is read
within that size plus a fixed margin."""

from __future__ import annotations

import dataclasses
import gzip
import lzma
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import cache_is_clean, peak_bytes

import mnist_hf
from mnist_hf import DataValidationError
from mnist_hf.sources import SPECS

MIB = 1 << 20
ZEROS = 1 << 24  # one compressed member: 16 MiB of zeros


def _header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def _gzip(header: bytes, n_zeros: int, fill: int = 0) -> bytes:
    # Concatenated members are one content (gzip -d): a bomb of any size in milliseconds.
    whole, rest = divmod(n_zeros, ZEROS)
    block = gzip.compress(bytes([fill]) * ZEROS, mtime=0)
    return gzip.compress(header, mtime=0) + block * whole + gzip.compress(bytes([fill]) * rest, mtime=0)


def _xz(header: bytes, n_zeros: int) -> bytes:
    whole, rest = divmod(n_zeros, ZEROS)
    block = lzma.compress(bytes(ZEROS), format=lzma.FORMAT_XZ, preset=1)
    return lzma.compress(header, format=lzma.FORMAT_XZ) + block * whole + lzma.compress(bytes(rest), format=lzma.FORMAT_XZ)


def _mnist(folder: Path, n: int) -> None:
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(_gzip(_header(8, (n, 28, 28)), n * 784))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(_gzip(_header(8, (n,)), n))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(_gzip(_header(8, (10, 28, 28)), 7840))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(_gzip(_header(8, (10,)), 10))


def _nist(folder: Path, n: int) -> None:
    folder.mkdir()
    (folder / "xnist-images-idx3-ubyte.xz").write_bytes(_xz(_header(8, (n, 28, 28)), n * 784))
    (folder / "xnist-labels-idx2-int.xz").write_bytes(_xz(_header(0x0C, (n, 8)), n * 32))


def _emnist(member_format: str):
    def make(folder: Path, n: int) -> None:
        folder.mkdir()
        members = {"train-images-idx3": (_header(8, (n, 28, 28)), n * 784, 0),
                   "train-labels-idx1": (_header(8, (n,)), n, 1),  # letters: labels 1..26
                   "test-images-idx3": (_header(8, (10, 28, 28)), 7840, 0),
                   "test-labels-idx1": (_header(8, (10,)), 10, 1)}
        with zipfile.ZipFile(folder / "gzip.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for name, (header, size, fill) in members.items():
                with z.open(f"gzip/emnist-letters-{name}-ubyte.gz", "w", force_zip64=True) as f:
                    if member_format == "gzip":
                        f.write(_gzip(header, size, fill))
                    else:  # the raw IDX bytes as the member (deflated by the zip itself)
                        f.write(header)
                        for lo in range(0, size, ZEROS):
                            f.write(bytes([fill]) * min(ZEROS, size - lo))
    return make


CONTAINERS = {"gzip": ("mnist", _mnist), "xz": ("nist", _nist), "zip": ("emnist_letters", _emnist("raw")),
              "gzip in zip": ("emnist_letters", _emnist("gzip"))}


def _load(config, data_dir, tmp_path):
    return mnist_hf.load(config, data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), system_dirs=(),
                         image_format="array")


def test_every_configuration_publishes_its_row_counts():
    for name, spec in SPECS.items():
        assert set(spec.parts) <= set(spec.split_sizes), name
        for view, (part, start, stop) in spec.views.items():
            assert spec.split_sizes[view] == stop - start and stop <= spec.split_sizes[part], (name, view)
        roles = spec.members or spec.files
        assert {r for r in roles} == {f"{p}_{k}" for p in spec.parts for k in ("images", "labels")}, name
        assert all(spec.content_limit(role) > spec.split_sizes[role.rpartition("_")[0]] for role in roles), name
    assert SPECS["nist"].split_sizes == {"train": 402953}
    assert SPECS["qmnist"].split_sizes["test"] == 60000 and SPECS["emnist_byclass"].split_sizes["train"] == 697932


@pytest.mark.parametrize("container", CONTAINERS)
def test_a_bomb_is_refused_from_its_header(container, tmp_path):
    # The files: 1,000,000 images of zeros (784 MB) in 744 kB of gzip, 114 kB of xz or a 2 kB
    # zip were prepared, at a peak of 1.3 to 1.7 GB and 784 MB of Arrow in the cache.
    config, make = CONTAINERS[container]
    make(tmp_path / "bomb", 1_000_000)
    published = SPECS[config].split_sizes["train"]

    def load():
        with pytest.raises(DataValidationError) as e:
            _load(config, tmp_path / "bomb", tmp_path)
        message = str(e.value)
        assert "images-idx3" in message and "1,000,000 images" in message and f"{published:,}" in message, message

    assert peak_bytes(load) < 16 * MIB
    assert cache_is_clean(tmp_path / "cache")


@pytest.mark.parametrize("container", CONTAINERS)
def test_data_at_the_published_size_is_read_within_it(container, tmp_path, monkeypatch):
    # A smaller published count, so the test stays quick; the rule is the same at any size.
    config, make = CONTAINERS[container]
    n = 100_000
    spec = SPECS[config]
    monkeypatch.setitem(SPECS, config, dataclasses.replace(spec, split_sizes={**spec.split_sizes, "train": n}))
    make(tmp_path / "full", n)
    peak = peak_bytes(lambda: _load(config, tmp_path / "full", tmp_path))
    pixels, labels = n * 784, n * 8 * spec.label_width * 2  # the labels: as stored, and as int64 classes
    assert peak < pixels + labels + 16 * MIB, f"peak {peak / MIB:.1f} MiB for {pixels / MIB:.1f} MiB of pixels"
    ds = mnist_hf.load(config, data_dir=str(tmp_path / "full"), cache_dir=str(tmp_path / "cache"), system_dirs=(),
                       image_format="array")
    assert ds["train"].num_rows == n and not np.any(mnist_hf.to_numpy(ds["train"].select(range(5)), normalize=False)[0])
