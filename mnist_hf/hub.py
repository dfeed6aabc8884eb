"""Export prepared splits as Parquet with a dataset card, and push them to the Hugging Face Hub.

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

``load_dataset(OUT_DIR, CONFIG)`` reads it back on every version of ``datasets``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from filelock import FileLock

from .api import builder
from .mnist_hf import read_provenance
from .sources import SPECS

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 256 * 2**20
DEFAULT_HUB_TIMEOUT = 60.0
CARD = "README.md"
LOCK = ".mnist_hf-export.lock"
_STAGING = re.compile(r"\.(?:" + "|".join(map(re.escape, SPECS)) + r")-[a-z0-9_]{8}")
_SECTION = re.compile(r"<!-- config: (?P<name>[\w-]+) -->.*?<!-- end config: (?P=name) -->\n?", re.S)
_SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]

HubErrorKind = Literal["auth", "permission", "network", "hub"]


class HubError(RuntimeError):
    """A push failed; ``kind`` says which way.

    Parameters
    ----------
    message : str
        A plain message for the user; never contains the token.
    kind : {"auth", "permission", "network", "hub"}
        Missing or rejected token, no write access, Hub unreachable or not answering in time,
        any other Hub error.

    Examples
    --------
    >>> HubError("no token", "auth").kind
    'auth'
    """

    def __init__(self, message: str, kind: HubErrorKind):
        super().__init__(message)
        self.kind = kind


class CardError(ValueError):
    """The dataset card already in the export folder (or repository) cannot be read.

    Examples
    --------
    >>> str(CardError("out/README.md: the YAML header does not parse"))
    'out/README.md: the YAML header does not parse'
    """


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


@dataclass
class _Prepared:
    """A prepared configuration: the builder's resolved config, its splits and provenance."""

    config: Any  # MnistConfig
    dataset: Any  # DatasetDict
    provenance: dict[str, Any]


def _prepare(config: str, options: dict[str, Any]) -> _Prepared:
    b = builder(config, **options)
    b.download_and_prepare()
    try:
        provenance = read_provenance(b.cache_dir)
    except FileNotFoundError:  # a cache prepared before the builder kept a record
        provenance = {}
    return _Prepared(b.config, b.as_dataset(), provenance)


# --- the dataset card ---------------------------------------------------------------------------

def _size_category(n: int) -> str:
    for bound, name in _SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>1M"


def _validation_note(cfg: Any) -> str:
    size = cfg.validation_size
    if not size:
        return "No validation split: `train` and `test` as published."
    how = {
        "tail": f"the last {size:,} rows of the published training set",
        "head": f"the first {size:,} rows of the published training set",
        "random": f"{size:,} rows drawn at random (seed {cfg.validation_seed}"
        + (", stratified by label" if cfg.stratify else "") + ") from the published training set",
    }[cfg.validation_strategy]
    return (f"`validation` holds {how} (strategy `{cfg.validation_strategy}`); `train` holds the rest, in the "
            "original order. `test` is the published test set.")


def _provenance_note(provenance: dict[str, Any]) -> str:
    statuses = {r["verification"] for r in provenance.values()}
    if not provenance:
        return "the original IDX files"
    if statuses <= {"md5", "content-sha256"}:
        return ("the original IDX files, each checked against its published MD5 or the SHA-256 of its "
                "content before conversion")
    return "IDX files that do **not** match the published checksums (a local or modified copy)"


def _metadata_note(cfg: Any, spec: Any) -> str:
    if cfg.compat or not spec.metadata:
        return ""
    return "\n- Metadata (int32, from the label files): " + "; ".join(
        f"`{c.name}`: {c.description}" for c in spec.metadata) + "."


def _section(prepared: _Prepared) -> str:
    cfg = prepared.config
    spec = SPECS[cfg.name]
    sizes = ", ".join(f"`{k}` {v.num_rows:,}" for k, v in prepared.dataset.items())
    image = ("PNG (`datasets.Image`)" if cfg.image_format == "png"
             else "28x28 uint8 arrays (`datasets.Array2D`)")
    return f"""<!-- config: {cfg.name} -->
## `{cfg.name}`

{spec.description}

- Source: {spec.homepage}; converted from {_provenance_note(prepared.provenance)}.
- Rows: {sizes}. Features: `image` as {image}; `label` as `ClassLabel` with names
  {", ".join(f"`{n}`" for n in spec.class_names)}.{_metadata_note(cfg, spec)}
- Validation: {_validation_note(cfg)}
- Licence: `{spec.license}`.

```python
from datasets import load_dataset
ds = load_dataset("REPO_OR_FOLDER", "{cfg.name}")
```

```bibtex
{spec.citation}
```
<!-- end config: {cfg.name} -->
"""


def _entries(meta: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = meta.get(key, [])
    value = [value] if isinstance(value, dict) else value  # the Hub accepts one entry as a mapping
    if not isinstance(value, list) or not all(isinstance(v, dict) and "config_name" in v for v in value):
        raise CardError(f"{where}: `{key}` in the card's YAML header is not a list of entries with a config_name")
    return value


def _load_card(path: Path, where: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The card's metadata and text (``({}, None)`` when there is none); CardError if it doesn't parse."""
    from huggingface_hub import DatasetCard

    where = where or str(path)
    if not path.exists():
        return {}, None
    try:
        card = DatasetCard.load(path)
    except (yaml.YAMLError, ValueError) as e:
        detail = " ".join(str(e).split())
        raise CardError(f"{where}: the dataset card's YAML header does not parse ({detail}); "
                        "fix it or remove the card, nothing was changed") from None
    meta = card.data.to_dict()
    for key in ("dataset_info", "configs"):
        _entries(meta, key, where)
    return meta, card.text


def _card_meta(text: str) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    return DatasetCard(text).data.to_dict()


def _patterns(data_files: Any) -> list[str]:
    """The path patterns of a ``configs`` entry's ``data_files``, in any of the forms the Hub accepts
    (anything else in a hand-edited card, a number say, names no file)."""
    items = data_files if isinstance(data_files, list) else [data_files]
    out: list[str] = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        out += [p for p in (path if isinstance(path, list) else [path]) if isinstance(p, str)]
    return out


def _card_text(meta: dict[str, Any], text: str | None, prepared: _Prepared, data_dir: str, where: str) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    name, ds = prepared.config.name, prepared.dataset
    info = {
        "config_name": name,
        "features": next(iter(ds.values())).features._to_yaml_list(),
        "splits": [{"name": split, "num_bytes": int(d.data.nbytes), "num_examples": d.num_rows}
                   for split, d in ds.items()],
        "dataset_size": int(sum(d.data.nbytes for d in ds.values())),
    }
    entry = {"config_name": name,
             "data_files": [{"split": split, "path": f"{data_dir}/{split}-*.parquet"} for split in ds]}
    infos = [i for i in _entries(meta, "dataset_info", where) if i["config_name"] != name] + [info]
    entries = [c for c in _entries(meta, "configs", where) if c["config_name"] != name] + [entry]
    names = [i["config_name"] for i in infos]
    licenses = sorted({SPECS[n].license for n in names if n in SPECS})
    total = max(sum(s["num_examples"] for s in i.get("splits", [])) for i in infos)
    meta = {**meta,
            "license": licenses[0] if len(licenses) == 1 else licenses,
            "task_categories": ["image-classification"],
            "size_categories": [_size_category(total)],
            "pretty_name": "MNIST family (" + ", ".join(sorted(names)) + ")",
            "dataset_info": sorted(infos, key=lambda i: i["config_name"]),
            "configs": sorted(entries, key=lambda c: c["config_name"])}
    body = text if text is not None else (
        "# MNIST-family datasets\n\nImage classification datasets in MNIST's format, converted from their "
        "original IDX files by the `mnist-hf` builder (Parquet, one folder per configuration).\n\n"
    )
    section = _section(prepared)
    body = _SECTION.sub(lambda m: section if m.group("name") == name else m.group(0), body)
    if f"<!-- config: {name} -->" not in body:
        body = body.rstrip("\n") + "\n\n" + section
    return str(DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{body}"))


# --- writing the export ------------------------------------------------------------------------

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
    return any(p.startswith(folder + "/") for c in entries for p in _patterns(c.get("data_files")))


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
        folder, patterns = out / str(entry["config_name"]), _patterns(entry.get("data_files"))
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


def _commit_export(out: Path, prepared: _Prepared, max_shard_bytes: int, where: str | None = None) -> ExportResult:
    """Write a prepared configuration into ``out`` (see the module docstring for the protocol)."""
    name = prepared.config.name
    card_path = out / CARD
    _load_card(card_path, where)  # a card that does not parse stops the export before anything is touched
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(out / LOCK):
        _remove_stale_staging(out)
        meta, text = _load_card(card_path, where)  # again: another export may have committed meanwhile
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
        try:
            data = staging / "data"
            os.mkdir(data)  # not mkdtemp's 0700: the folder is moved into the export as it is
            shards = _write_shards(prepared.dataset, data, max_shard_bytes)
            version = f"{name}/{_digest(data, shards)}"
            new_card = _card_text(meta, text, prepared, version, where or str(card_path))
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
        _remove_unreferenced(out, _card_meta(new_card))
    files = [Path(version) / s for s in shards] + [Path(CARD)]
    return ExportResult(out, name, files=files, splits={k: v.num_rows for k, v in prepared.dataset.items()},
                        sizes={rel: (out / rel).stat().st_size for rel in files})


def export(config: str, out_dir: str | os.PathLike, *, max_shard_bytes: int = MAX_SHARD_BYTES,
           **options: Any) -> ExportResult:
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
    return _commit_export(Path(out_dir), _prepare(config, options), max_shard_bytes)


# --- pushing ---------------------------------------------------------------------------------

def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def _is_network_error(exc: BaseException) -> bool:
    # httpx / httpx2 (huggingface_hub >= 1.0) and requests (older) raise their own classes; their
    # names are stable across those libraries, so no import of either is needed.
    names = {c.__name__ for c in type(exc).__mro__}
    return isinstance(exc, (ConnectionError, TimeoutError)) or bool(names & {"TransportError", "Timeout"})


def _classify(exc: BaseException, repo_id: str, token: str | None, timeout: float) -> HubError:
    from huggingface_hub.errors import HfHubHTTPError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, HfHubHTTPError) and status == 401:
        return HubError("the Hub rejected the token (HTTP 401): check HF_TOKEN or --token, and that it has write "
                        "access", "auth")
    if isinstance(exc, HfHubHTTPError) and status == 403:
        return HubError(f"no write access to {repo_id} (HTTP 403): it may belong to someone else, "
                        "or the token is read-only", "permission")
    if isinstance(exc, HfHubHTTPError) and status is not None:
        return HubError(_scrub(f"the Hub answered HTTP {status}: {str(exc).splitlines()[0]}", token), "hub")
    if _is_network_error(exc):
        from huggingface_hub import constants

        if any("Timeout" in c.__name__ for c in type(exc).__mro__):  # TimeoutError, ReadTimeout, ...
            return HubError(f"the Hugging Face Hub ({constants.ENDPOINT}) did not answer within {timeout:g} s; "
                            "the push did not complete. Retry later, or raise --hub-timeout.", "network")
        return HubError(f"could not reach the Hugging Face Hub ({constants.ENDPOINT}; no network?); "
                        "the push did not complete. Use --dry-run DIR to see what would be sent.", "network")
    return HubError(_scrub(f"push failed: {type(exc).__name__}: {exc}", token), "hub")


@contextmanager
def _hub_timeout(seconds: float) -> Iterator[None]:
    """Bound every request on huggingface_hub's shared HTTP client (it waits forever by default).

    Per-request timeouts that huggingface_hub sets itself (downloads) still apply; uploads of
    file contents through hf_xet use hf_xet's own timeouts.
    """
    import huggingface_hub
    from huggingface_hub import get_session

    session = get_session()
    if not hasattr(session, "timeout"):  # huggingface_hub < 1.0 (requests): no client-wide timeout
        logger.warning("huggingface_hub %s cannot bound Hub requests; --hub-timeout needs huggingface_hub >= 1.0",
                       huggingface_hub.__version__)
        yield
        return
    previous = session.timeout
    session.timeout = seconds
    try:
        yield
    finally:
        session.timeout = previous


def push(config: str, repo_id: str, *, token: str | None = None, private: bool = False,
         dry_run: str | os.PathLike | None = None, hub_timeout: float = DEFAULT_HUB_TIMEOUT,
         **options: Any) -> ExportResult:
    """Export a configuration and upload it to a Hub dataset repository in one commit.

    The data is prepared and checked before the Hub is contacted. The commit adds the
    configuration's files and the merged card and deletes every other file under ``CONFIG/``,
    so the repository holds exactly the new export of that configuration; other configurations
    are untouched. A repository this call created is deleted again if the upload fails.

    Parameters
    ----------
    config : str
        any name in ``mnist_hf.SPECS`` (``"mnist"``, ``"fashion_mnist"``, ``"qmnist"``,
        ``"emnist_letters"``, ...).
    repo_id : str
        ``namespace/name`` of the dataset repository; the namespace must be the token's user or
        one of its organisations.
    token : str, optional
        Hub token with write access; default ``$HF_TOKEN``. Never printed or logged.
    private : bool, default False
        Create the repository as private (an existing repository keeps its visibility).
    dry_run : str or os.PathLike, optional
        Instead of uploading, export to this folder (what would be sent).
    hub_timeout : float, default 60
        Seconds any Hub request may wait for an answer.
    **options
        Builder options, as for :func:`export`.

    Returns
    -------
    ExportResult
        What was uploaded (files relative to the repository root).

    Raises
    ------
    HubError
        With ``kind`` "auth", "permission", "network" or "hub" and a plain message.
    CardError
        The card already in the repository does not parse.
    ValueError, OSError
        Bad options or input files, before any Hub call.

    Examples
    --------
    >>> push("fashion_mnist", "me/fashion-mnist", token="hf_...", private=True)   # doctest: +SKIP
    """
    token = token or os.environ.get("HF_TOKEN")
    if dry_run is not None:
        return export(config, dry_run, **options)
    if not token:
        raise HubError("no token: pass --token or set HF_TOKEN (a token with write access)", "auth")
    prepared = _prepare(config, options)  # bad local data is the caller's error, found before any Hub call

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi(token=token)
    created = False
    with _hub_timeout(hub_timeout):
        try:
            me = api.whoami()
            orgs = sorted(o["name"] for o in me.get("orgs", []) if o.get("name"))
            namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
            if namespace not in {me.get("name"), *orgs}:
                raise HubError(f"{repo_id} belongs to {namespace!r}, and this token is {me.get('name')!r}'s "
                               f"(member of: {', '.join(orgs) or 'no organisation'})", "permission")
            created = not api.repo_exists(repo_id, repo_type="dataset")
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            remote = [] if created else api.list_repo_files(repo_id, repo_type="dataset")
            with tempfile.TemporaryDirectory() as tmp:
                if CARD in remote:  # merge with the card already there (other configurations)
                    shutil.copy(api.hf_hub_download(repo_id, CARD, repo_type="dataset"), Path(tmp) / CARD)
                result = _commit_export(Path(tmp), prepared, MAX_SHARD_BYTES, where=f"{repo_id}/{CARD} on the Hub")
                sent = {rel.as_posix() for rel in result.files}
                operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(Path(tmp) / p)) for p in sorted(sent)]
                operations += [CommitOperationDelete(path_in_repo=p) for p in remote
                               if p.startswith(f"{config}/") and p not in sent]
                rows = ", ".join(f"{k}: {v}" for k, v in result.splits.items())
                api.create_commit(repo_id, operations, commit_message=f"Add {config} ({rows})", repo_type="dataset")
            return result
        except (HubError, CardError):
            raise
        except Exception as e:
            logger.debug("push to %s failed: %s", repo_id, _scrub(repr(e), token))
            if created:
                try:
                    api.delete_repo(repo_id, repo_type="dataset")
                except Exception:
                    pass  # best effort; the original error is the one to report
            raise _classify(e, repo_id, token, hub_timeout) from None
