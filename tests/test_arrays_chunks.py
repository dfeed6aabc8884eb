"""The read path on Arrow tables of several chunks, built here: uneven chunks that are slices of one
buffer (non-zero offsets), columns chunked differently, a sliced table, a memory-mapped Arrow file,
and indices mappings that cross chunk boundaries. A prepared split of the synthetic IDX files is
one chunk, so without these only the real files (60,000 rows, written in batches) would show a
wrong chunk offset."""

import io
from itertools import pairwise

import datasets
import numpy as np
import pyarrow as pa
import pytest
from datasets.table import InMemoryTable
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from mnist_hf.arrays import image_array, label_array, to_numpy
from mnist_hf.png import _fast_rows, _ihdr, encode_png_batch

N, H, W = 23, 3, 5
BOUNDS = [0, 1, 5, 6, 13, 23]  # chunks of 1, 4, 1, 7 and 10 rows
LABEL_BOUNDS = [0, 9, 10, 23]  # the label column chunked elsewhere


def _pil_png(image: np.ndarray) -> bytes:
    # A text chunk before the pixels: not the layout the fast decoder takes, so these rows go to the
    # general decoder, between fast ones, and must still land in their own places.
    info = PngInfo()
    info.add_text("Comment", "written by PIL")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


@pytest.fixture(scope="module", params=["array", "png"])
def source(request):
    """One single-chunk table with distinct images and labels, and the arrays it holds."""
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, size=(N, H, W), dtype=np.uint8)
    images[:, 0, 0] = np.arange(N)  # every image different, whatever the random draw
    labels = np.arange(100, 100 + N, dtype=np.int64)
    if request.param == "array":
        column, feature = list(images), datasets.Array2D((H, W), "uint8")
    else:
        pngs = encode_png_batch(images)
        for i in (3, 6, 14, 22):
            pngs[i] = _pil_png(images[i])
            assert not _fast_rows(np.frombuffer(pngs[i], np.uint8), np.array([0]), np.array([len(pngs[i])]),
                                  _ihdr(H, W))[0]
        column, feature = [{"bytes": p, "path": None} for p in pngs], datasets.Image()
    features = datasets.Features({"image": feature, "label": datasets.Value("int64")})
    table = datasets.Dataset.from_dict({"image": column, "label": labels}, features=features).data.table
    assert table.column("image").num_chunks == 1
    return table, features, images, labels


def _pieces(column: pa.ChunkedArray, bounds: list[int]) -> pa.ChunkedArray:
    # Zero-copy slices of the one chunk: each piece keeps the shared buffers and has its own offset.
    whole = column.chunk(0)
    return pa.chunked_array([whole.slice(a, b - a) for a, b in pairwise(bounds)], type=column.type)


def _chunked(table: pa.Table) -> pa.Table:
    return pa.Table.from_arrays([_pieces(table.column("image"), BOUNDS), _pieces(table.column("label"), LABEL_BOUNDS)],
                                schema=table.schema)


def _dataset(table: pa.Table, features) -> datasets.Dataset:
    return datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features))


def _layouts(table, features, tmp_path):
    """(dataset, rows of the source it holds) for each way of chunking."""
    chunked = _chunked(table)
    assert [len(c) for c in chunked.column("image").chunks] == [1, 4, 1, 7, 10]
    assert [c.offset for c in chunked.column("image").chunks] == [0, 1, 5, 6, 13]
    yield "chunks", _dataset(chunked, features), np.arange(N)
    # A slice of the chunked table: its first chunk starts inside a piece, its last ends inside one.
    yield "sliced", _dataset(chunked.slice(3, 15), features), np.arange(3, 18)
    yield "batches", _dataset(pa.Table.from_batches(table.to_batches(max_chunksize=4)), features), np.arange(N)
    # Written as record batches and memory-mapped back, as datasets stores a prepared split.
    path = str(tmp_path / "chunked.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in chunked.combine_chunks().to_batches(max_chunksize=6):
            writer.write_batch(batch)
    mapped = datasets.Dataset.from_file(path)
    assert mapped.data.column("image").num_chunks == 4
    yield "arrow-file", mapped, np.arange(N)


# Rows picked through an indices mapping, on both sides of every chunk boundary, unsorted and repeated.
PICKS = {
    "boundaries": [0, 1, 4, 5, 6, 12, 13, 22],
    "unsorted": [22, 5, 0, 13, 6, 1, 12, 4, 21, 7],
    "repeated": [5, 5, 1, 1, 13, 5],
    "one-row-chunks": [5, 0],
}


def _check(ds, rows, images, labels, **kwargs):
    for normalize in (False, True):
        x, y = to_numpy(ds, normalize=normalize, **kwargs)
        expected = images[rows]
        np.testing.assert_array_equal(x, expected.astype(np.float32) / np.float32(255) - np.float32(0.5)
                                      if normalize else expected)
        np.testing.assert_array_equal(y, labels[rows])
    np.testing.assert_array_equal(image_array(ds), images[rows])
    np.testing.assert_array_equal(label_array(ds), labels[rows])


@pytest.mark.parametrize("threads", [1, 2])
def test_every_chunked_layout_reads_as_the_source(source, tmp_path, threads):
    table, features, images, labels = source
    for name, ds, rows in _layouts(table, features, tmp_path):
        assert ds.num_rows == len(rows), name
        # batch_size 2: tasks split the chunks further, so task and chunk boundaries differ.
        _check(ds, rows, images, labels, batch_size=2, num_threads=threads)
        _check(ds, rows, images, labels)


@pytest.mark.parametrize("pick", PICKS.values(), ids=PICKS.keys())
def test_indices_mappings_across_chunks(source, tmp_path, pick):
    table, features, images, labels = source
    for name, ds, rows in _layouts(table, features, tmp_path):
        chosen = [i for i in pick if i < len(rows)]
        sub = ds.select(chosen)
        assert sub._indices is not None or len(chosen) < 2, name
        _check(sub, rows[chosen], images, labels, batch_size=3, num_threads=2)


def test_contiguous_selection_and_shuffle_of_a_chunked_table(source):
    table, features, images, labels = source
    ds = _dataset(_chunked(table), features)
    _check(ds.select(range(4, 19)), np.arange(4, 19), images, labels, batch_size=2)
    shuffled = ds.shuffle(seed=5)
    rows = np.asarray(shuffled._indices.column(0).to_numpy())
    assert sorted(rows.tolist()) == list(range(N))
    _check(shuffled, rows, images, labels, batch_size=4, num_threads=2)
