"""Hugging Face ``datasets`` builder for the MNIST family (MNIST, Fashion-MNIST, KMNIST).

Two ways in:

* datasets 4 and 5, through the builder class (loading scripts were removed in 4.0)::

      >>> import mnist_hf                                           # doctest: +SKIP
      >>> ds = mnist_hf.load("fashion_mnist", validation_size=5000)  # doctest: +SKIP

* datasets 3.x, as a local loading script::

      >>> load_dataset("path/to/mnist_hf", "fashion_mnist", trust_remote_code=True)  # doctest: +SKIP

The builder reads the four IDX files once, validates them, and writes Arrow tables in
batches of ``writer_batch_size`` rows (not one Python dict per example).

About ``validation_size=5000``: the classic textbook recipe *says* it holds out "the
final 5,000" training images, while its code takes the *first* 5,000. Use
``validation_strategy="tail"`` for the former and ``"head"`` for the latter.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import datasets
import numpy as np
import pyarrow as pa

# Each sibling is imported here directly: datasets 3.x copies only the local modules a
# loading script imports itself.
from .fetch import ResolvedFile, locate_local, resolve_files
from .idx import read_idx
from .png import encode_png_batch
from .sources import ROLES, SPECS, DatasetSpec

VALIDATION_STRATEGIES = ("tail", "head", "random")
IMAGE_FORMATS = ("png", "array")
PROVENANCE_FILE = "mnist_hf_provenance.json"


class DataValidationError(ValueError):
    """The IDX files parse but do not make a valid dataset (counts, labels, shapes)."""


@dataclass
class MnistConfig(datasets.BuilderConfig):
    """One dataset of the family, plus how to split and store it.

    Args:
        validation_size: rows carved from ``train`` into ``validation`` (0: no validation split).
        validation_strategy: ``"tail"`` (last rows), ``"head"`` (first rows) or ``"random"``.
        validation_seed: seed for ``"random"``.
        stratify: for ``"random"``, keep each class's share in both parts.
        image_format: ``"png"`` (``datasets.Image``) or ``"array"`` (``Array2D`` uint8).
        mirrors: base URLs to try in order, replacing the built-in list.
        system_dirs: folders holding a system copy, replacing the built-in list.
        timeout: seconds before a stalled mirror is abandoned.
    """

    validation_size: int = 0
    validation_strategy: str = "tail"
    validation_seed: int = 0
    stratify: bool = False
    image_format: str = "png"
    mirrors: Sequence[str] | None = None
    system_dirs: Sequence[str] | None = None
    timeout: float = 60.0

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Check the options; datasets sets overrides with ``setattr``, so the builder calls this too."""
        if self.validation_strategy not in VALIDATION_STRATEGIES:
            raise ValueError(
                f"validation_strategy must be one of {VALIDATION_STRATEGIES}, got {self.validation_strategy!r}"
            )
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}")
        if not isinstance(self.validation_size, (int, np.integer)) or self.validation_size < 0:
            raise ValueError(f"validation_size must be a non-negative integer, got {self.validation_size!r}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout!r}")

    @property
    def spec(self) -> DatasetSpec:
        try:
            return SPECS[self.name]
        except KeyError:
            raise ValueError(f"unknown dataset {self.name!r}; choose one of {sorted(SPECS)}") from None


def split_indices(
    n: int,
    size: int,
    strategy: str = "tail",
    *,
    seed: int = 0,
    labels: np.ndarray | None = None,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, validation)`` row indices for a pool of ``n`` rows.

    >>> [a.tolist() for a in split_indices(5, 2, "tail")]
    [[0, 1, 2], [3, 4]]
    >>> [a.tolist() for a in split_indices(5, 2, "head")]
    [[2, 3, 4], [0, 1]]
    """
    if not 0 < size < n:
        raise ValueError(f"validation_size must be between 1 and {n - 1} (the train split has {n} rows), got {size}")
    everything = np.arange(n)
    if strategy == "tail":
        return everything[: n - size], everything[n - size :]
    if strategy == "head":
        return everything[size:], everything[:size]
    if strategy == "random":
        from sklearn.model_selection import train_test_split

        train, val = train_test_split(
            everything, test_size=size, random_state=seed, stratify=labels if stratify else None
        )
        return np.sort(train), np.sort(val)
    raise ValueError(f"unknown validation_strategy {strategy!r}; choose one of {VALIDATION_STRATEGIES}")


def _check_arrays(arrays: dict[str, np.ndarray], files: dict[str, ResolvedFile], spec: DatasetSpec) -> None:
    num_classes = len(spec.class_names)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        ipath, lpath = files[f"{part}_images"].path, files[f"{part}_labels"].path
        if images.ndim != 3 or images.shape[1:] != spec.image_shape:
            raise DataValidationError(
                f"{ipath}: expected images of shape (N, {spec.image_shape[0]}, {spec.image_shape[1]}), got {images.shape}"
            )
        if images.dtype != np.uint8:
            raise DataValidationError(f"{ipath}: expected unsigned bytes (type 0x08), got {images.dtype}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise DataValidationError(
                f"{lpath}: expected a 1-D array of integer labels, got {labels.dtype} of shape {labels.shape}"
            )
        if len(images) != len(labels):
            raise DataValidationError(
                f"{part} split: {ipath} holds {len(images):,} images but {lpath} holds {len(labels):,} labels"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)]
            raise DataValidationError(
                f"{lpath}: {bad.size:,} label(s) outside 0..{num_classes - 1} for {spec.name} "
                f"(first bad value: {int(bad[0])})"
            )


class MnistFamily(datasets.ArrowBasedBuilder):
    """Builder for MNIST, Fashion-MNIST and KMNIST from their IDX files.

    >>> b = MnistFamily(config_name="fashion_mnist", validation_size=5000)  # doctest: +SKIP
    >>> b.download_and_prepare(); ds = b.as_dataset()                        # doctest: +SKIP
    """

    BUILDER_CONFIG_CLASS = MnistConfig
    BUILDER_CONFIGS = [MnistConfig(name=name, description=spec.description) for name, spec in SPECS.items()]
    DEFAULT_CONFIG_NAME = "mnist"
    DEFAULT_WRITER_BATCH_SIZE = 1000

    def _info(self) -> datasets.DatasetInfo:
        self.config.validate()
        spec = self.config.spec
        if self.config.image_format == "array":
            image = datasets.Array2D(shape=spec.image_shape, dtype="uint8")
        else:
            image = datasets.Image()
        return datasets.DatasetInfo(
            description=spec.description,
            features=datasets.Features(
                {"image": image, "label": datasets.ClassLabel(names=list(spec.class_names))}
            ),
            homepage=spec.homepage,
            license=spec.license,
            citation=spec.citation,
        )

    def _split_generators(self, dl_manager):
        spec = self.config.spec
        cfg = self.config
        with ThreadPoolExecutor(max_workers=4) as pool:
            # Local files can be decompressed while their checksums are computed (both
            # release the GIL); downloads must verify before anything reads them.
            early = {}
            if cfg.data_dir:
                early = {role: pool.submit(read_idx, path) for role, path in locate_local(cfg.data_dir, spec).items()}
            files = resolve_files(
                spec,
                data_dir=cfg.data_dir,
                system_dirs=spec.system_dirs if cfg.system_dirs is None else cfg.system_dirs,
                mirrors=spec.mirrors if cfg.mirrors is None else cfg.mirrors,
                dl_manager=dl_manager,
                timeout=cfg.timeout,
                map_fn=pool.map,
            )
            # Read and validate everything before the first row is written, so a bad file
            # fails with its own message and leaves no partial dataset behind.
            pending = {role: early.get(role) or pool.submit(read_idx, files[role].path) for role in ROLES}
            arrays = {role: future.result() for role, future in pending.items()}
        _check_arrays(arrays, files, spec)

        train_images, train_labels = arrays["train_images"], arrays["train_labels"]
        splits = []
        if cfg.validation_size:
            train_idx, val_idx = split_indices(
                len(train_labels), cfg.validation_size, cfg.validation_strategy,
                seed=cfg.validation_seed, labels=train_labels, stratify=cfg.stratify,
            )
            splits.append((datasets.Split.TRAIN, train_images, train_labels, train_idx))
            splits.append((datasets.Split.VALIDATION, train_images, train_labels, val_idx))
        else:
            splits.append((datasets.Split.TRAIN, train_images, train_labels, None))
        # The test images were only read to validate them: they are read again when their
        # turn comes (0.02 s), so they don't sit in memory while train is written.
        del arrays["test_images"]
        splits.append((datasets.Split.TEST, files["test_images"].path, arrays["test_labels"], None))
        self._write_provenance(files)
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"images": im, "labels": lb, "indices": idx})
            for name, im, lb, idx in splits
        ]

    def _write_provenance(self, files: dict[str, ResolvedFile]) -> None:
        record = {
            role: {
                "file": f.spec.filename,
                "path": f.path,
                "origin": f.origin,
                "verification": f.verification.status,
                "detail": f.verification.detail,
            }
            for role, f in files.items()
        }
        os.makedirs(self._output_dir, exist_ok=True)
        with open(os.path.join(self._output_dir, PROVENANCE_FILE), "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2)

    def _generate_tables(self, images: np.ndarray | str, labels: np.ndarray, indices: np.ndarray | None) -> Iterator:
        if isinstance(images, str):  # validated in _split_generators, read again now
            images = read_idx(images)
        n = len(labels) if indices is None else len(indices)
        batch = self._writer_batch_size or self.DEFAULT_WRITER_BATCH_SIZE
        batches = [slice(s, min(s + batch, n)) for s in range(0, n, batch)]

        def rows(sel: slice):
            return sel if indices is None else indices[sel]

        if self.config.image_format == "array":
            # No per-row work here: one table per 10 batches, the writer splits it.
            for i, start in enumerate(range(0, n, 10 * batch)):
                sel = rows(slice(start, min(start + 10 * batch, n)))
                yield i, self._table(_array2d_storage(images[sel]), labels[sel])
            return
        # Deflate releases the GIL, so worker threads encode the next batches while this
        # thread hands finished ones to the Arrow writer; at most 2 per worker wait, which
        # keeps memory flat.
        workers = os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque = deque()
            for i, sel in enumerate(batches):
                pending.append((i, sel, pool.submit(encode_png_batch, images[rows(sel)])))
                if len(pending) > 2 * workers:
                    j, done, future = pending.popleft()
                    yield j, self._table(_png_storage(future.result()), labels[rows(done)])
            while pending:
                j, done, future = pending.popleft()
                yield j, self._table(_png_storage(future.result()), labels[rows(done)])

    def _table(self, image_storage: pa.Array, labels: np.ndarray) -> pa.Table:
        # Built in the exact target schema, so the writer has nothing to cast.
        schema = self.info.features.arrow_schema
        image_type = schema.field("image").type
        if isinstance(image_type, pa.ExtensionType):
            image_storage = pa.ExtensionArray.from_storage(image_type, image_storage)
        label_array = pa.array(labels.astype(np.int64, copy=False))
        return pa.Table.from_arrays([image_storage, label_array], schema=schema)


def _png_storage(pngs: list[bytes]) -> pa.StructArray:
    """The Arrow storage of ``datasets.Image``: a struct of PNG bytes and a null path."""
    return pa.StructArray.from_arrays(
        [pa.array(pngs, type=pa.binary()), pa.nulls(len(pngs), type=pa.string())], names=["bytes", "path"]
    )


def _array2d_storage(images: np.ndarray) -> pa.ListArray:
    """Nested lists over the pixel buffer without copying; the writer wraps them in Array2D."""
    n, h, w = images.shape
    pixels = pa.array(np.ascontiguousarray(images).reshape(-1))
    rows = pa.ListArray.from_arrays(pa.array(np.arange(0, n * h * w + 1, w, dtype=np.int32)), pixels)
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * h + 1, h, dtype=np.int32)), rows)
