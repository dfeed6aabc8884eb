"""A split's images and labels as numpy arrays, read from its Arrow buffers in bulk.

On datasets 4 and 5 ``dataset["label"]`` is a lazy column that numpy walks row by row (seconds
for 60,000 rows). Here the label column is one buffer copy; Array2D images are the flat
``uint8`` values under Arrow's ``list<list<uint8>>`` storage, viewed with ``np.frombuffer``
(the table is memory-mapped, so the only copy is the returned array); PNG images are decoded
in batches on worker threads (:func:`mnist_hf.png.decode_pngs`). A dataset with an indices
mapping (``select``, ``shuffle``, ``train_test_split``) is read through the mapping, without
writing a flattened copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from .png import decode_pngs, pil_to_gray


def to_numpy(dataset, *, normalize: bool = True, batch_size: int = 4096,
             num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a split as numpy arrays.

    Parameters
    ----------
    dataset : datasets.Dataset
        A split with an ``image`` column (``Image`` or ``Array2D``) and a ``label`` column, e.g.
        ``mnist_hf.load(...)["train"]``, also after ``select`` / ``shuffle``.
    normalize : bool
        Pixels as float32 ``x / 255 - 0.5`` in [-0.5, 0.5] (the textbook chapter's
        normalisation); otherwise as stored (uint8).
    batch_size : int
        Images decoded per task on the worker threads (PNG only).
    num_threads : int, optional
        Worker threads decoding PNG images; default: the number of CPUs (at most 8).

    Returns
    -------
    images : numpy.ndarray
        ``(N, H, W)``, float32 when ``normalize`` else the stored dtype (uint8).
    labels : numpy.ndarray
        ``(N,)`` int64.

    Raises
    ------
    ValueError
        A missing ``image`` or ``label`` column, missing values, images of different sizes, or
        an image that cannot be decoded or is in colour (see :func:`mnist_hf.png.pil_to_gray`).

    Examples
    --------
    >>> import datasets, numpy as np
    >>> ds = datasets.Dataset.from_dict(
    ...     {"image": [np.full((2, 2), 255, np.uint8), np.zeros((2, 2), np.uint8)], "label": [1, 0]},
    ...     features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8"), "label": datasets.Value("int64")}))
    >>> x, y = to_numpy(ds)
    >>> x.dtype, float(x.max()), y.tolist()
    (dtype('float32'), 0.5, [1, 0])
    >>> x, y = to_numpy(ds.select([1]), normalize=False)
    >>> x.tolist(), y.tolist()
    ([[[0, 0], [0, 0]]], [0])
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return image_array(dataset, normalize=normalize, batch_size=batch_size, num_threads=num_threads), label_array(dataset)


def label_array(dataset, column: str = "label") -> np.ndarray:
    """The ``label`` column as an int64 array (one buffer copy, no loop over rows).

    Parameters
    ----------
    dataset : datasets.Dataset
        A split with that column.
    column : str
        The column name.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` int64.

    Raises
    ------
    ValueError
        No such column, or missing values in it.

    Examples
    --------
    >>> import datasets
    >>> label_array(datasets.Dataset.from_dict({"label": [3, 1, 2]}).select([2, 0])).tolist()
    [2, 3]
    """
    values = _column(dataset, column)
    if values.null_count:
        raise ValueError(f"column {column!r} has {values.null_count} missing values")
    labels = np.array(values.to_numpy(), dtype=np.int64)  # a copy: one chunk's view is read-only
    rows = _rows(dataset)
    return labels if rows is None else labels[rows]


def image_array(dataset, *, normalize: bool = False, batch_size: int = 4096,
                num_threads: int | None = None, column: str = "image") -> np.ndarray:
    """The image column as one ``(N, H, W)`` array; see :func:`to_numpy` (whose
    ``images`` this is, but uint8 by default).

    Examples
    --------
    >>> import datasets, numpy as np
    >>> ds = datasets.Dataset.from_dict({"image": [np.eye(2, dtype=np.uint8)]},
    ...     features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8")}))
    >>> image_array(ds).tolist()
    [[[1, 0], [0, 1]]]
    """
    import datasets

    feature = dataset.features.get(column)
    values = _column(dataset, column)
    rows = _rows(dataset)
    if isinstance(feature, datasets.Image):
        return _png_images(feature, values, rows, normalize, batch_size, num_threads)
    if isinstance(feature, (datasets.Array2D, datasets.Array3D, datasets.Array4D, datasets.Array5D)):
        return _array_images(values, tuple(feature.shape), np.dtype(feature.dtype), rows, normalize, column)
    raise ValueError(f"column {column!r} holds {type(feature).__name__}, not images (Image or Array2D)")


def _column(dataset, name: str) -> pa.ChunkedArray:
    if name not in dataset.column_names:
        raise ValueError(f"the dataset has no {name!r} column (columns: {', '.join(dataset.column_names)})")
    return dataset.data.column(name)


def _rows(dataset) -> np.ndarray | None:
    """The rows of the underlying table, in order, when the dataset has an indices mapping."""
    indices = getattr(dataset, "_indices", None)
    if indices is None:
        return None
    return np.asarray(indices.column(0).to_numpy(), dtype=np.int64)


def _out(n: int, shape: tuple[int, ...], dtype: np.dtype, normalize: bool) -> np.ndarray:
    return np.empty((n, *shape), dtype=np.float32 if normalize else dtype)


def _store(out: np.ndarray, where, block: np.ndarray, normalize: bool) -> None:
    """``out[where] = block``, normalised on the way when asked (``x / 255 - 0.5`` in float32, in
    place, in blocks that stay in cache)."""
    if not normalize:
        out[where] = block
        return
    if not isinstance(where, slice):
        converted = block.astype(np.float32)
        converted /= np.float32(255)
        converted -= np.float32(0.5)
        out[where] = converted
        return
    target = out[where]
    for a in range(0, len(target), 1024):
        part = target[a:a + 1024]
        np.copyto(part, block[a:a + 1024])
        part /= np.float32(255)
        part -= np.float32(0.5)


def _array_images(values: pa.ChunkedArray, shape: tuple[int, ...], dtype: np.dtype, rows, normalize: bool,
                  column: str) -> np.ndarray:
    if normalize and dtype != np.uint8:
        raise ValueError(f"normalize=True needs uint8 pixels; column {column!r} holds {dtype}: pass normalize=False")
    views = [_flat_view(chunk, shape, dtype, column) for chunk in values.chunks]
    n = len(values) if rows is None else len(rows)
    out = _out(n, shape, dtype, normalize)
    if rows is None:
        start = 0
        for view in views:
            _store(out, slice(start, start + len(view)), view, normalize)
            start += len(view)
        return out
    for where, chunk, local in _gather_plan(rows, [len(v) for v in views]):
        _store(out, where, views[chunk][local], normalize)
    return out


def _flat_view(chunk: pa.Array, shape: tuple[int, ...], dtype: np.dtype, column: str) -> np.ndarray:
    """A zero-copy ``(rows, *shape)`` view of one chunk of an ArrayND column."""
    storage = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
    if storage.null_count:
        raise ValueError(f"column {column!r} has {storage.null_count} missing images")
    flat = storage
    # flatten() honours slice offsets, so a sliced chunk gives just its own values.
    while pa.types.is_list(flat.type) or pa.types.is_large_list(flat.type) or pa.types.is_fixed_size_list(flat.type):
        flat = flat.flatten()
    if flat.null_count or len(flat) != len(storage) * int(np.prod(shape)):
        raise ValueError(f"column {column!r} holds ragged or missing pixel values where {shape} arrays were declared")
    return flat.to_numpy(zero_copy_only=False).view(dtype).reshape(len(storage), *shape)


def _gather_plan(rows: np.ndarray, chunk_lengths: list[int], block: int = 2048) -> Iterator[tuple]:
    """For an indices mapping over a chunked table: ``(where, chunk, local_rows)`` triples, in
    blocks of output rows so that temporaries stay small."""
    bounds = np.cumsum([0, *chunk_lengths])
    if len(rows) and (rows.min() < 0 or rows.max() >= bounds[-1]):
        raise ValueError(f"the indices mapping points outside the table's {bounds[-1]} rows")
    for a in range(0, len(rows), block):
        part = rows[a:a + block]
        which = np.searchsorted(bounds, part, side="right") - 1
        for chunk in np.unique(which).tolist():
            pos = np.flatnonzero(which == chunk)
            where = slice(a + pos[0], a + pos[-1] + 1) if pos[-1] - pos[0] + 1 == len(pos) else a + pos
            yield where, chunk, part[pos] - bounds[chunk]


def _binary_layout(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, offsets, missing) of a binary array, as zero-copy numpy views."""
    _, offsets_buf, data_buf = chunk.buffers()
    kind = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=kind)[chunk.offset:chunk.offset + len(chunk) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    missing = chunk.is_null().to_numpy(zero_copy_only=False)
    return data, offsets, missing


def _png_images(feature, values: pa.ChunkedArray, rows, normalize: bool, batch_size: int,
                num_threads: int | None) -> np.ndarray:
    layouts = []
    for chunk in values.chunks:
        encoded = chunk.field("bytes")
        if pa.types.is_large_binary(encoded.type) or pa.types.is_binary(encoded.type):
            data, offsets, missing = _binary_layout(encoded)
            # A null entry (None) may leave bytes in the child array underneath: the entry's own
            # validity decides, and such an image goes the way of one without bytes, to be named.
            layouts.append((data, offsets, missing | chunk.is_null().to_numpy(zero_copy_only=False)))
        else:
            raise ValueError(f"image column stores {encoded.type}, expected binary PNG bytes")
    lengths = [len(o) - 1 for _, o, _ in layouts]
    n = sum(lengths) if rows is None else len(rows)

    tasks, by_path = _png_tasks(layouts, lengths, rows, batch_size)
    shape = _png_shape(feature, values, layouts, tasks, by_path)
    out = _out(n, shape, np.dtype(np.uint8), normalize)

    def run(task):
        where, c, local = task
        if not len(local):
            return
        data, offsets, _ = layouts[c]
        positions = where.start if isinstance(where, slice) else where
        pixels = decode_pngs(data, offsets[local], offsets[local + 1], shape=shape, positions=positions)
        _store(out, where, pixels, normalize)

    workers = num_threads or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, tasks))
    else:
        for task in tasks:
            run(task)
    for position, c, local in by_path:
        pixels = _by_path(feature, values.chunk(c), local, position)
        if pixels.shape != shape:
            raise ValueError(f"image {position} is {pixels.shape}, the others {shape}: all images must have one size")
        _store(out, slice(position, position + 1), pixels[None], normalize)
    return out


def _png_tasks(layouts, lengths: list[int], rows, batch_size: int) -> tuple[list, list]:
    """The decoding tasks ``(where, chunk, local rows)``, each up to ``batch_size`` images of one
    chunk written to ``out[where]``, and the images stored by path, ``(position, chunk, local)``."""
    tasks, by_path = [], []
    if rows is None:
        start = 0
        for c, length in enumerate(lengths):
            for a in range(0, length, batch_size):
                b = min(a + batch_size, length)
                tasks.append((slice(start + a, start + b), c, np.arange(a, b)))
            start += length
    else:
        tasks = list(_gather_plan(rows, lengths, block=batch_size))
    # Images stored by path (no bytes) are opened by datasets, one by one, after the rest.
    for i, (where, c, local) in enumerate(tasks):
        missing = layouts[c][2][local]
        if missing.any():
            positions = np.arange(where.start, where.stop) if isinstance(where, slice) else where
            by_path.extend(zip(positions[missing].tolist(), [c] * int(missing.sum()), local[missing].tolist()))
            tasks[i] = (positions[~missing], c, local[~missing])
    return tasks, by_path


def _png_shape(feature, values, layouts, tasks, by_path) -> tuple[int, int]:
    for where, c, local in tasks:
        if len(local):
            data, offsets, _ = layouts[c]
            first = where.start if isinstance(where, slice) else int(where[0])
            i = int(local[0])
            return decode_pngs(data, offsets[i:i + 1], offsets[i + 1:i + 2], positions=first).shape[1:]
    if by_path:
        position, c, local = by_path[0]
        return _by_path(feature, values.chunk(c), local, position).shape
    # Nothing selected: the size of the table's first stored image, so that an empty selection
    # still has the split's image shape.
    for data, offsets, missing in layouts:
        present = np.flatnonzero(~missing)
        if len(present):
            i = int(present[0])
            return decode_pngs(data, offsets[i:i + 1], offsets[i + 1:i + 2]).shape[1:]
    return (0, 0)


def _by_path(feature, chunk: pa.StructArray, local: int, position: int) -> np.ndarray:
    path = chunk.field("path")[local].as_py() if chunk[local].is_valid else None
    if path is None:
        raise ValueError(f"image {position} is missing (neither bytes nor path)")
    try:
        image = feature.decode_example({"path": path, "bytes": None})
        return pil_to_gray(image)
    except ValueError as e:
        raise ValueError(f"image {position} ({path}): {e}") from None
    except OSError as e:
        raise ValueError(f"image {position} ({path}) cannot be read: {e}") from None
