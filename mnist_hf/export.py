"""Export prepared splits as Parquet shards with a dataset card, atomically.

Layout (several configurations can share one folder or repository)::

    OUT_DIR/README.md                                     dataset card: YAML metadata + description
    OUT_DIR/CONFIG/VERSION/SPLIT-00000-of-00001.parquet   one folder per configuration

``VERSION`` is the first 12 hex digits of the SHA-256 of the configuration's Parquet files (their
names in sorted order, each followed by a NUL byte and the file's bytes), and the card's
``configs`` entry names it in its ``data_files``. That makes the card the single commit point of
an export: the new version folder is moved in next to the old one (nothing
refers to it yet), the card is replaced with one atomic ``os.replace``, and only then is the
old version removed. A failure or a kill at any moment leaves either the old export or the new
one, card and data agreeing. The new state is built in a staging folder ``OUT_DIR/.CONFIG-XXXXXXXX``
while a lock (``OUT_DIR/.mnist_hf-export.lock``, an OS lock released when its process dies)
is held, so a staging folder found while holding the lock belongs to a dead export and is removed.

``load_dataset(OUT_DIR, CONFIG)`` reads it back on every version of ``datasets``. Imports ``api``,
``mnist_hf`` and ``card`` of this package; ``push`` builds on it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from .api import builder
from .card import CARD, Prepared, card_meta, card_text, data_file_patterns, load_card
from .mnist_hf import read_provenance
from .sources import SPECS

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 256 * 2**20
LOCK = ".mnist_hf-export.lock"
_STAGING = re.compile(r"\.(?:" + "|".join(map(re.escape, SPECS)) + r")-[a-z0-9_]{8}")


@dataclass
class ExportResult:
    """What :func:`export` wrote.

    Attributes
    ----------
    out_dir : Path
        The export folder.
    config : str
        The configuration written.
    files : list of Path
        The configuration's Parquet files and the card, relative to ``out_dir``.
    splits : dict
        Rows per split.
    sizes : dict
        Bytes per file of ``files``, kept for after a temporary folder is gone.
    """

    out_dir: Path
    config: str
    files: list[Path] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    sizes: dict[Path, int] = field(default_factory=dict)


def prepare(config: str, options: dict[str, Any]) -> Prepared:
    """Prepare a configuration (once, in the cache) and gather what an export needs.

    Parameters
    ----------
    config : str
        A name in ``mnist_hf.SPECS``.
    options : dict
        Builder options, as for :func:`mnist_hf.load`.

    Returns
    -------
    Prepared
        The resolved configuration, its splits and where its files came from.
    """
    b = builder(config, **options)
    b.download_and_prepare()
    try:
        provenance = read_provenance(b.cache_dir)
    except FileNotFoundError:  # a cache prepared before the builder kept a record
        provenance = {}
    return Prepared(b.config, b.as_dataset(), provenance)


def _fsync(path: Path) -> None:
    # Directories are synced too (POSIX), so a rename survives a power cut, not only a kill.
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_shards(ds: Any, folder: Path, max_shard_bytes: int) -> list[str]:
    names = []
    for split, d in ds.items():
        n = max(1, math.ceil(d.data.nbytes / max_shard_bytes))
        for i in range(n):
            name = f"{split}-{i:05d}-of-{n:05d}.parquet"
            d.shard(num_shards=n, index=i, contiguous=True).to_parquet(str(folder / name))
            _fsync(folder / name)
            names.append(name)
    return names


def _digest(folder: Path, names: list[str]) -> str:
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode() + b"\0")
        with open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(2**20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def _refers_to(meta: dict[str, Any], config: str, folder: str) -> bool:
    entries = [c for c in meta.get("configs", []) if c.get("config_name") == config]
    return any(p.startswith(folder + "/") for c in entries for p in data_file_patterns(c.get("data_files")))


def _remove_stale_staging(out: Path) -> None:
    # Only called with the lock held: every export stages under it, so these are dead exports'.
    for p in out.iterdir():
        if _STAGING.fullmatch(p.name) and p.is_dir():
            logger.info("removing %s, left by an interrupted export", p)
            shutil.rmtree(p)


def _remove_unreferenced(out: Path, meta: dict[str, Any]) -> None:
    """Delete files in each configuration's folder that the card does not refer to (old versions,
    leftovers of interrupted exports, the flat layout of earlier releases)."""
    for entry in meta.get("configs", []):
        folder, patterns = out / str(entry["config_name"]), data_file_patterns(entry.get("data_files"))
        if not patterns or not re.fullmatch(r"[\w-]+", folder.name) or not folder.is_dir():
            continue  # only folders laid out as this module writes them
        keep = {p.resolve() for pattern in patterns for p in out.glob(pattern)}
        for root, dirs, files in os.walk(folder, topdown=False):
            for name in files:
                if (Path(root) / name).resolve() not in keep:
                    os.unlink(Path(root) / name)
            for name in dirs:
                if not any((Path(root) / name).iterdir()):
                    os.rmdir(Path(root) / name)


def commit_export(out: Path, prepared: Prepared, max_shard_bytes: int, where: str | None = None,
                  repo_id: str | None = None) -> ExportResult:
    """Write a prepared configuration into ``out`` (see the module docstring for the protocol).

    Parameters
    ----------
    out : pathlib.Path
        The export folder (created if needed).
    prepared : Prepared
        What to write.
    max_shard_bytes : int
        Largest Arrow size of one Parquet shard.
    where : str, optional
        How errors name the card already in ``out`` (default: its path).
    repo_id : str, optional
        The Hub repository the export is for, named in the card's ``load_dataset`` example.

    Returns
    -------
    ExportResult
        The files written, relative to ``out``.
    """
    name = prepared.config.name
    card_path = out / CARD
    load_card(card_path, where)  # a card that does not parse stops the export before anything is touched
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(out / LOCK):
        _remove_stale_staging(out)
        meta, text = load_card(card_path, where)  # again: another export may have committed meanwhile
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
        try:
            data = staging / "data"
            os.mkdir(data)  # not mkdtemp's 0700: the folder is moved into the export as it is
            shards = _write_shards(prepared.dataset, data, max_shard_bytes)
            version = f"{name}/{_digest(data, shards)}"
            new_card = card_text(meta, text, prepared, version, where or str(card_path), repo_id,
                                 folder=out.resolve().name)
            with open(staging / CARD, "w", encoding="utf-8") as f:
                f.write(new_card)
                f.flush()
                os.fsync(f.fileno())
            os.makedirs(out / name, exist_ok=True)
            if not (_refers_to(meta, name, version) and (out / version).is_dir()):  # else: these very bytes, in use
                if (out / version).exists():  # unreferenced, so possibly half-deleted by an interrupted cleanup
                    shutil.rmtree(out / version)
                os.rename(data, out / version)  # not yet referenced: the old card still describes the export
                _fsync(out / name)
            os.replace(staging / CARD, card_path)  # the commit point
            _fsync(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_unreferenced(out, card_meta(new_card))
    files = [Path(version) / s for s in shards] + [Path(CARD)]
    return ExportResult(out, name, files=files, splits={k: v.num_rows for k, v in prepared.dataset.items()},
                        sizes={rel: (out / rel).stat().st_size for rel in files})


def export(config: str, out_dir: str | os.PathLike, *, max_shard_bytes: int = MAX_SHARD_BYTES,
           repo_id: str | None = None, **options: Any) -> ExportResult:
    """Prepare a configuration and write it to a folder as Parquet shards plus a dataset card.

    Other configurations already exported to ``out_dir`` stay; re-exporting a configuration
    replaces it. The folder holds either the previous export or the new one at every moment
    (see the module docstring), so a failed or killed export leaves the previous one loadable.

    Parameters
    ----------
    config : str
        any name in ``mnist_hf.SPECS`` (``"mnist"``, ``"fashion_mnist"``, ``"qmnist"``,
        ``"emnist_letters"``, ...).
    out_dir : str or os.PathLike
        The export folder (created if needed).
    max_shard_bytes : int, default 256 MiB
        Largest Arrow size of one Parquet shard.
    repo_id : str, optional
        The Hub repository the folder is meant for (``push --dry-run``): the card's
        ``load_dataset`` example names it instead of the folder.
    **options
        Builder options, as for :func:`mnist_hf.load` (``data_dir``, ``cache_dir``,
        ``validation_size``, ...).

    Returns
    -------
    ExportResult
        The files written, relative to ``out_dir``, and the rows per split.

    Raises
    ------
    CardError
        ``out_dir/README.md`` exists but does not parse; nothing is changed.
    ValueError, OSError
        Bad options or input files (``IDXFormatError``, ``MissingFilesError``, ...), raised
        before anything in ``out_dir`` is touched.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from mnist_hf import write_idx
    >>> tmp = Path(tempfile.mkdtemp())
    >>> for part, n in (("train", 20), ("t10k", 10)):
    ...     write_idx(tmp / f"{part}-images-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))
    ...     write_idx(tmp / f"{part}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    >>> result = export("mnist", tmp / "out", data_dir=str(tmp), cache_dir=str(tmp / "cache"),
    ...                 system_dirs=(), validation_size=5)                    # doctest: +ELLIPSIS
    >>> result.splits
    {'train': 15, 'validation': 5, 'test': 10}
    >>> sorted(p.name for p in result.files)
    ['README.md', 'test-00000-of-00001.parquet', 'train-00000-of-00001.parquet', 'validation-00000-of-00001.parquet']
    """
    check_folder(out_dir)
    return commit_export(Path(out_dir), prepare(config, options), max_shard_bytes, repo_id=repo_id)


def check_folder(path: str | os.PathLike) -> None:
    """Refuse, before any work, an export folder that is a file or lies under one.

    Parameters
    ----------
    path : str or os.PathLike
        The export folder; it need not exist yet.

    Raises
    ------
    NotADirectoryError
        Naming the path.

    Examples
    --------
    >>> check_folder("/dev/null/out")
    Traceback (most recent call last):
    ...
    NotADirectoryError: [Errno 20] Not a directory: '/dev/null/out'
    """
    for folder in (Path(path), *Path(path).parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
            return
