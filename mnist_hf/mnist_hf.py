"""Hugging Face ``datasets`` builder for the MNIST family (MNIST, Fashion-MNIST, KMNIST, QMNIST
with its writer metadata, and EMNIST's six splits).

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
import math
import numbers
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

# The split rules live in the installed ``splitters`` package (an absolute import, which a
# datasets 3.x loading script may make), so the builder and the splitters pick the same rows.
from splitters.rules import RULES, validation_rows

# Each sibling is imported here directly: datasets 3.x copies only the local modules a
# loading script imports itself.
from .archives import ZipMember
from .fetch import ResolvedFile, redact, resolve_files
from .idx import iter_idx, read_idx, read_idx_header
from .png import encode_png_batch
from .sources import SPECS, DatasetSpec

VALIDATION_STRATEGIES = tuple(RULES)
IMAGE_FORMATS = ("png", "array")
PROVENANCE_FILE = "mnist_hf_provenance.json"


class DataValidationError(ValueError):
    """The IDX files parse but do not make a valid dataset (counts, labels, shapes)."""


def _option(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class MnistConfig(datasets.BuilderConfig):
    """One dataset of the family, plus how to split and store it.

    This class is the one definition of the builder's options: their names, defaults, a
    one-line description each (field metadata ``"help"``; :func:`options` lists them, and a
    test keeps the Parameters section below in step with them) and their validation
    (:meth:`validate`, run once for every config a builder creates).

    Parameters
    ----------
    validation_size : int, default 0
        Rows carved from train into validation (0: no validation split).
    validation_strategy : str, default 'tail'
        Which training rows: the last (tail), the first (head) or random.
    validation_seed : int, default 0
        Seed of the random validation draw.
    stratify : bool, default False
        With validation_strategy='random', keep each class's share in both parts.
    image_format : str, default 'png'
        How images are stored: png (datasets.Image) or array (Array2D uint8).
    compat : bool, default False
        Image and label only, without QMNIST's metadata columns (torchvision's compat=True).
    mirrors : Sequence[str] | None, default None
        Base URLs (or folders) tried in order, replacing the built-in list; one string is one mirror.
    system_dirs : Sequence[str] | None, default None
        Folders holding a system copy, replacing the built-in list; one string is one folder.
    timeout : float, default 60.0
        Seconds before a stalled mirror is abandoned.

    Examples
    --------
    >>> MnistConfig(name="mnist", validation_size=5000).validation_strategy
    'tail'
    >>> sorted(options())[:3]
    ['compat', 'image_format', 'mirrors']
    """

    # name: type = _option(default, one-line help); nothing else states these defaults.
    validation_size: int = _option(0, "rows carved from train into validation (0: no validation split)")
    validation_strategy: str = _option("tail", "which training rows: the last (tail), the first (head) or random")
    validation_seed: int = _option(0, "seed of the random validation draw")
    stratify: bool = _option(False, "with validation_strategy='random', keep each class's share in both parts")
    image_format: str = _option("png", "how images are stored: png (datasets.Image) or array (Array2D uint8)")
    compat: bool = _option(
        False, "image and label only, without QMNIST's metadata columns (torchvision's compat=True)"
    )
    mirrors: Sequence[str] | None = _option(
        None, "base URLs (or folders) tried in order, replacing the built-in list; one string is one mirror"
    )
    system_dirs: Sequence[str] | None = _option(
        None, "folders holding a system copy, replacing the built-in list; one string is one folder"
    )
    timeout: float = _option(60.0, "seconds before a stalled mirror is abandoned")

    def validate(self) -> None:
        """Check every option and normalise it in place (numpy integers to int, one string to one mirror).

        Raises
        ------
        ValueError
            Naming the option, what it got and what it takes.

        Examples
        --------
        >>> c = MnistConfig(name="mnist", mirrors="http://host/mnist/")
        >>> c.validate(); c.mirrors
        ('http://host/mnist/',)
        >>> MnistConfig(name="mnist", validation_size=True).validate()
        Traceback (most recent call last):
        ...
        ValueError: validation_size must be a non-negative integer (a count of rows), got True
        """
        if self.data_dir is not None and not os.fspath(self.data_dir).strip():
            raise ValueError("data_dir is an empty string: give the folder that holds the files, or leave data_dir "
                             "out to use a system copy or the mirrors")
        if self.validation_strategy not in VALIDATION_STRATEGIES:
            raise ValueError(
                f"validation_strategy must be one of {VALIDATION_STRATEGIES}, got {self.validation_strategy!r}"
            )
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}")
        self.validation_size = _integer("validation_size", self.validation_size, "a count of rows")
        self.validation_seed = _integer("validation_seed", self.validation_seed, "a seed")
        for name in ("stratify", "compat"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r}")
            setattr(self, name, bool(value))
        if self.stratify and self.validation_strategy != "random":
            raise ValueError(
                f"stratify=True needs validation_strategy='random' (got {self.validation_strategy!r}, "
                "which takes rows by position)"
            )
        self.mirrors = _strings("mirrors", self.mirrors)
        self.system_dirs = _strings("system_dirs", self.system_dirs)
        t = self.timeout
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real) or not (math.isfinite(t) and t > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {t!r}")
        self.timeout = float(t)

    @property
    def spec(self) -> DatasetSpec:
        """The :class:`~mnist_hf.sources.DatasetSpec` this config's name refers to."""
        try:
            return SPECS[self.name]
        except KeyError:
            raise ValueError(f"unknown dataset {self.name!r}; choose one of {sorted(SPECS)}") from None


def _integer(name: str, value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer ({what}), got {value!r}")
    return int(value)


def _strings(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        value = (value,)
    try:
        items = tuple(os.fspath(v) for v in value)
    except TypeError:
        raise ValueError(redact(f"{name} must be a string or a sequence of strings, got {value!r}")) from None
    if any(not v.strip() for v in items):
        raise ValueError(redact(f"{name} holds an empty string: {items!r}"))
    return items


def _check_utf8(kwargs: dict[str, Any]) -> None:
    """Paths and URLs must be text that encodes: a folder name with bytes that are not UTF-8
    reaches Python as surrogates, which no config id, JSON record or URL can hold."""
    for name in ("data_dir", "mirrors", "system_dirs"):
        value = kwargs.get(name)
        for item in (value,) if isinstance(value, (str, os.PathLike)) else value if isinstance(value, (list, tuple)) else ():
            text = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
            try:
                if isinstance(text, str):
                    text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(redact(f"{name} {text!r} is not valid UTF-8 (the name holds bytes the file system "
                                        "could not decode): rename it or give another path")) from None


def options() -> dict[str, tuple[Any, str]]:
    """The builder's options: ``{name: (default, one-line description)}``, read from :class:`MnistConfig`.

    Returns
    -------
    dict
        One entry per option, in declaration order (``datasets.BuilderConfig``'s own fields excluded).

    Examples
    --------
    >>> default, text = options()["timeout"]
    >>> text
    'seconds before a stalled mirror is abandoned'
    """
    return {f.name: (f.default, f.metadata["help"]) for f in fields(MnistConfig) if "help" in f.metadata}


def read_provenance(cache_dir: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Where each file of a prepared dataset came from and how it was verified.

    Parameters
    ----------
    cache_dir : str or os.PathLike
        The prepared dataset's folder (``builder.cache_dir``).

    Returns
    -------
    dict
        ``{role: {"file", "path", "origin", "verification", "detail"}}``; ``verification`` is
        ``"md5"``, ``"content-sha256"`` or ``"unverified"``.

    Raises
    ------
    FileNotFoundError
        When ``cache_dir`` holds no record (not prepared by this builder).

    Examples
    --------
    >>> import tempfile
    >>> read_provenance(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... holds no mnist_hf_provenance.json: not a dataset prepared by mnist_hf
    """
    path = os.path.join(os.fspath(cache_dir), PROVENANCE_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{os.fspath(cache_dir)} holds no {PROVENANCE_FILE}: not a dataset prepared by mnist_hf"
        ) from None


def split_indices(
    n: int,
    size: int,
    strategy: str,
    *,
    seed: int | None = None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, validation)`` row indices for a pool of ``n`` rows.

    The rules are :mod:`splitters.rules`', so :class:`splitters.RandomSplit` with
    ``random_state=seed`` picks the same validation rows.

    Parameters
    ----------
    n : int
        Rows in the training pool.
    size : int
        Validation rows, ``1 .. n - 1``.
    strategy : {"tail", "head", "random"}
        The rule.
    seed : int, optional
        Seed of the ``"random"`` draw.
    labels : numpy.ndarray, optional
        Given, the ``"random"`` draw is stratified by these classes.

    Returns
    -------
    tuple of numpy.ndarray
        Train and validation row indices, sorted.

    Raises
    ------
    ValueError
        ``size`` outside ``1 .. n - 1``, an unknown strategy, or labels with a positional rule.

    Examples
    --------
    >>> [a.tolist() for a in split_indices(5, 2, "tail")]
    [[0, 1, 2], [3, 4]]
    >>> [a.tolist() for a in split_indices(5, 2, "head")]
    [[2, 3, 4], [0, 1]]
    """
    if not 0 < size < n:
        raise ValueError(f"validation_size must be between 1 and {n - 1} (the train split has {n} rows), got {size}")
    if labels is not None:
        k = len(np.unique(labels))
        if not k <= size <= n - k:
            raise ValueError(f"validation_size={size} with stratify=True leaves {min(size, n - size)} row(s) on one "
                             f"side for {k} classes: a stratified split needs a row of each class on both sides "
                             f"(validation_size between {k} and {n - k})")
    try:
        val = validation_rows(strategy, n, size, random_state=seed, labels=labels)
    except ValueError as e:  # scikit-learn's words about the draw, e.g. a class of one row
        raise ValueError(f"validation_size={size}, stratify={labels is not None}: {e}") from None
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def _idx_sources(spec: DatasetSpec, files: dict[str, ResolvedFile]) -> dict[str, tuple[str | ZipMember, bool]]:
    """``{role: (where to read it, verified)}`` for every IDX file of the parts; an archive's members
    are as verified as the archive."""
    if spec.members:
        archive = files["archive"]
        return {role: (ZipMember(archive.path, name), archive.verification.ok) for role, name in spec.members.items()}
    return {role: (f.path, f.verification.ok) for role, f in files.items()}


def _check_headers(
    meta: dict[str, tuple[np.dtype, tuple[int, ...]]],
    sources: dict[str, tuple[str | ZipMember, bool]],
    spec: DatasetSpec,
) -> None:
    """Shapes, types and counts from the headers (``meta[role] = (dtype, shape)``), before any data is read.

    No file may declare more rows than the configuration publishes for its part, and the image
    and label counts of a part must agree, so memory and disk stay bounded by the published
    sizes, whatever an archive would expand to (a decompression bomb fails here, unread).
    """
    for part in spec.parts:
        (idtype, ishape), (ldtype, lshape) = meta[f"{part}_images"], meta[f"{part}_labels"]
        ipath, lpath = sources[f"{part}_images"][0], sources[f"{part}_labels"][0]
        for path, shape, what in ((ipath, ishape, "images"), (lpath, lshape, "labels")):
            if shape[0] > spec.split_sizes[part]:
                raise DataValidationError(
                    f"{path}: the header declares {shape[0]:,} {what}, more than the {spec.split_sizes[part]:,} "
                    f"{spec.name} publishes for its {part} split; nothing more was read"
                )
        if len(ishape) != 3 or ishape[1:] != spec.image_shape:
            raise DataValidationError(
                f"{ipath}: expected images of shape (N, {spec.image_shape[0]}, {spec.image_shape[1]}), got {ishape}"
            )
        if idtype != np.uint8:
            raise DataValidationError(f"{ipath}: expected unsigned bytes (type 0x08), got {idtype}")
        if spec.label_width == 1 and (len(lshape) != 1 or ldtype.kind not in "iu"):
            raise DataValidationError(
                f"{lpath}: expected a 1-D array of integer labels, got {ldtype} of shape {lshape}"
            )
        if spec.label_width > 1 and (lshape[1:] != (spec.label_width,) or ldtype.kind not in "iu"):
            raise DataValidationError(
                f"{lpath}: expected integer labels of shape (N, {spec.label_width}) (class and metadata "
                f"columns), got {ldtype} of shape {lshape}"
            )
        if ishape[0] != lshape[0]:
            raise DataValidationError(
                f"{part} split: {ipath} holds {ishape[0]:,} images but {lpath} holds {lshape[0]:,} labels"
            )


def _class_labels(labels: np.ndarray, path: str | ZipMember, spec: DatasetSpec) -> np.ndarray:
    """A label file's rows as an ``(N, label_width)`` int64 array, column 0 the class index
    (the stored label minus ``spec.label_offset``), after checking the classes' range."""
    labels = labels.reshape(len(labels), -1)
    classes = labels[:, 0]
    lo, hi = spec.label_offset, spec.label_offset + len(spec.class_names) - 1
    if classes.size and (classes.min() < lo or classes.max() > hi):
        bad = classes[(classes < lo) | (classes > hi)]
        raise DataValidationError(
            f"{path}: {bad.size:,} label(s) outside {lo}..{hi} for {spec.name} "
            f"(first bad value: {int(bad[0])})"
        )
    out = labels.astype(np.int64)
    out[:, 0] -= spec.label_offset
    return out


def _read_parts(
    sources: dict[str, tuple[str | ZipMember, bool]], spec: DatasetSpec
) -> tuple[dict[str, np.ndarray | str | ZipMember], dict[str, np.ndarray]]:
    """Each part's images (an array, or where to stream them from) and class labels, all checked.

    The headers come first: counts that disagree fail before any data is read. An image file
    that matched a published checksum is the published data: its header is enough, and it is
    streamed while writing. Any other image file is read and checked in full first.
    """
    meta = {role: read_idx_header(src) for role, (src, _) in sources.items()}
    _check_headers(meta, sources, spec)
    labels = {}
    for part in spec.parts:
        src = sources[f"{part}_labels"][0]
        labels[part] = _class_labels(read_idx(src), src, spec)
    images = {}
    for part in spec.parts:
        src, verified = sources[f"{part}_images"]
        data = src if verified else read_idx(src)
        images[part] = data if part == "train" else src  # checked; streamed again, not held meanwhile
    for view, (part, start, stop) in spec.views.items():
        if stop > len(labels[part]):
            raise DataValidationError(
                f"{sources[f'{part}_labels'][0]}: the {part} part has {len(labels[part]):,} rows, but the "
                f"{view} split is its rows {start:,}..{stop - 1:,}: not the published file"
            )
    return images, labels


def _named_splits(cfg: MnistConfig, images: dict, labels: dict[str, np.ndarray]) -> list[tuple]:
    """``(split name, images, labels, row indices or None)`` for every split the config makes."""
    spec = cfg.spec
    splits = []
    if cfg.validation_size:
        train_idx, val_idx = split_indices(
            len(labels["train"]), cfg.validation_size, cfg.validation_strategy,
            seed=cfg.validation_seed, labels=labels["train"][:, 0] if cfg.stratify else None,
        )
        splits.append((datasets.Split.TRAIN, images["train"], labels["train"], train_idx))
        splits.append((datasets.Split.VALIDATION, images["train"], labels["train"], val_idx))
    else:
        splits.append((datasets.Split.TRAIN, images["train"], labels["train"], None))
    splits += [(datasets.Split(part), images[part], labels[part], None) for part in spec.parts[1:]]
    splits += [(datasets.Split(view), images[part], labels[part], np.arange(start, stop))
               for view, (part, start, stop) in spec.views.items()]
    return splits


def _prefetched(iterator: Iterator, pool: ThreadPoolExecutor) -> Iterator:
    """Iterate with the next item computed on ``pool`` meanwhile (decompression releases the GIL)."""
    it = iter(iterator)
    future = pool.submit(next, it, None)
    while True:
        item = future.result()
        if item is None:
            return
        future = pool.submit(next, it, None)
        yield item


class MnistFamily(datasets.ArrowBasedBuilder):
    """Builder for the MNIST family (MNIST, Fashion-MNIST, KMNIST, QMNIST, NIST, EMNIST) from their IDX files.

    >>> b = MnistFamily(config_name="fashion_mnist", validation_size=5000)  # doctest: +SKIP
    >>> b.download_and_prepare(); ds = b.as_dataset()                        # doctest: +SKIP
    """

    BUILDER_CONFIG_CLASS = MnistConfig
    BUILDER_CONFIGS = [MnistConfig(name=name, description=spec.description) for name, spec in SPECS.items()]
    DEFAULT_CONFIG_NAME = "mnist"
    DEFAULT_WRITER_BATCH_SIZE = 1000

    def _create_builder_config(self, *args: Any, **kwargs: Any) -> tuple[MnistConfig, str]:
        # Every way of making a config ends here (datasets 3.6 and 5 alike): a new MnistConfig,
        # or a copy of a predefined one with overrides set by setattr, which skips __post_init__.
        _check_utf8(kwargs)  # before datasets quotes them into the config id
        config, config_id = super()._create_builder_config(*args, **kwargs)
        config.validate()
        return config, config_id

    def _info(self) -> datasets.DatasetInfo:
        spec = self.config.spec
        if self.config.image_format == "array":
            image = datasets.Array2D(shape=spec.image_shape, dtype="uint8")
        else:
            image = datasets.Image()
        features = {"image": image, "label": datasets.ClassLabel(names=list(spec.class_names))}
        if not self.config.compat:
            features.update({c.name: datasets.Value("int32") for c in spec.metadata})
        return datasets.DatasetInfo(
            description=spec.description,
            features=datasets.Features(features),
            homepage=spec.homepage,
            license=spec.license,
            citation=spec.citation,
        )

    def _split_generators(self, dl_manager):
        # Everything is checked before the first row is written, so a bad file fails with its
        # own message and leaves no partial dataset behind.
        files = self._resolve_files(dl_manager)
        images, labels = _read_parts(_idx_sources(self.config.spec, files), self.config.spec)
        splits = _named_splits(self.config, images, labels)
        self._write_provenance(files)
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"images": im, "labels": lb, "indices": idx})
            for name, im, lb, idx in splits
        ]

    def _resolve_files(self, dl_manager) -> dict[str, ResolvedFile]:
        cfg, spec = self.config, self.config.spec
        with ThreadPoolExecutor(max_workers=4) as pool:
            return resolve_files(
                spec,
                data_dir=cfg.data_dir,
                system_dirs=spec.system_dirs if cfg.system_dirs is None else cfg.system_dirs,
                mirrors=spec.mirrors if cfg.mirrors is None else cfg.mirrors,
                dl_manager=dl_manager,
                timeout=cfg.timeout,
                map_fn=pool.map,  # checksums release the GIL
            )

    def _write_provenance(self, files: dict[str, ResolvedFile]) -> None:
        # Read back by read_provenance(), beside it in this module.
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

    STREAM_ROWS = 5000  # rows decompressed at a time when streaming an archive (3.9 MB)

    def _row_blocks(self, images: np.ndarray | str | ZipMember, labels: np.ndarray, indices: np.ndarray | None,
                    pool: ThreadPoolExecutor) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(images, labels) blocks of the selected rows (all, or sorted ``indices``), in order, upright."""
        blocks = self._stored_blocks(images, labels, indices, pool)
        if not self.config.spec.transposed:
            yield from blocks
            return
        for block, lab in blocks:  # EMNIST stores each image column by column
            yield np.ascontiguousarray(block.transpose(0, 2, 1)), lab

    def _stored_blocks(self, images: np.ndarray | str | ZipMember, labels: np.ndarray, indices: np.ndarray | None,
                       pool: ThreadPoolExecutor) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if isinstance(images, np.ndarray):
            n = len(labels) if indices is None else len(indices)
            for lo in range(0, n, self.STREAM_ROWS):
                rows = slice(lo, lo + self.STREAM_ROWS) if indices is None else indices[lo : lo + self.STREAM_ROWS]
                yield images[rows], labels[rows]
            return
        lo = 0
        for block in _prefetched(iter_idx(images, self.STREAM_ROWS), pool):
            hi = lo + len(block)
            if indices is None:
                yield block, labels[lo:hi]
            else:
                a, b = np.searchsorted(indices, [lo, hi])
                if b > a:
                    yield block[indices[a:b] - lo], labels[indices[a:b]]
            lo = hi

    def _generate_tables(self, images: np.ndarray | str | ZipMember, labels: np.ndarray,
                         indices: np.ndarray | None) -> Iterator:
        batch = self._writer_batch_size or self.DEFAULT_WRITER_BATCH_SIZE
        workers = os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers + 1) as pool:
            blocks = self._row_blocks(images, labels, indices, pool)
            if self.config.image_format == "array":
                # No per-row work: one table per block, the writer splits it into batches.
                for i, (block, lab) in enumerate(blocks):
                    yield i, self._table(_array2d_storage(block), lab)
                return
            # Deflate releases the GIL, so worker threads encode the next batches while this
            # thread hands finished ones to the Arrow writer; at most 2 per worker wait, which
            # keeps memory flat.
            pending: deque = deque()
            i = 0
            for block, lab in blocks:
                for lo in range(0, len(lab), batch):
                    pending.append((i, lab[lo : lo + batch], pool.submit(encode_png_batch, block[lo : lo + batch])))
                    i += 1
                    if len(pending) > 2 * workers:
                        j, done, future = pending.popleft()
                        yield j, self._table(_png_storage(future.result()), done)
            while pending:
                j, done, future = pending.popleft()
                yield j, self._table(_png_storage(future.result()), done)

    def _table(self, image_storage: pa.Array, labels: np.ndarray) -> pa.Table:
        # Built in the exact target schema, so the writer has nothing to cast. ``labels`` is
        # (n, label_width): the class, then the label file's other columns.
        schema = self.info.features.arrow_schema
        image_type = schema.field("image").type
        if isinstance(image_type, pa.ExtensionType):
            image_storage = pa.ExtensionArray.from_storage(image_type, image_storage)
        columns = [image_storage, pa.array(labels[:, 0])]
        if not self.config.compat:
            columns += [pa.array(labels[:, c.index].astype(np.int32)) for c in self.config.spec.metadata]
        return pa.Table.from_arrays(columns, schema=schema)


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
