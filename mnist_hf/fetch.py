"""Find the IDX files of a dataset: a local folder, a system copy, or the mirrors.

Every file is checked against its published archive MD5 or, failing that, the SHA-256
of its decompressed content (the same data circulates recompressed). A download that
fails either check is deleted from the cache and the next mirror is tried.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import lzma
import os
import re
import urllib.parse
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from datasets import config as datasets_config
from datasets.utils.file_utils import hash_url_to_filename

from .idx import looks_like_html as _looks_like_html
from .sources import DatasetSpec, FileSpec

logger = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20
# The user information of a URL (``scheme://user:password@host``): everything between the
# scheme and the last ``@`` before the host ends.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@")


def redact(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``***``.

    Mirrors may carry a password (``http://alice:S3cretPw@host/``); no message, log line or
    record shows it.

    Parameters
    ----------
    text : str
        Any message.

    Returns
    -------
    str
        The message, each ``scheme://user:password@`` written ``scheme://***@``.

    Examples
    --------
    >>> redact("http://alice:S3cretPw@mirror.example/mnist/: HTTP 404")
    'http://***@mirror.example/mnist/: HTTP 404'
    >>> redact("https://mirror.example/a@b.gz")
    'https://mirror.example/a@b.gz'
    """
    return _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)


class MissingFilesError(FileNotFoundError):
    """A local folder lacks some of a dataset's files."""


class ChecksumError(ValueError):
    """Every mirror served a file, but none was the published archive or a copy of its content;
    the message lists each mirror and why."""


class MirrorError(ConnectionError):
    """Every mirror failed for one file; the message lists each mirror and why."""


@dataclass(frozen=True)
class Verification:
    """How a file's identity was established."""

    status: str  # "md5", "content-sha256" or "unverified"
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "unverified"


@dataclass(frozen=True)
class ResolvedFile:
    """A file ready to read: where it is, where it came from, and how it was verified."""

    spec: FileSpec
    path: str
    origin: str
    verification: Verification


class _ContentTooLong(Exception):
    """Raised by :func:`file_digest` past its ``limit``."""


def file_digest(path: str, algorithm: str, *, decompress: str | bool = False, limit: int | None = None) -> str:
    """Hex digest of a file's bytes, or of its decompressed bytes (``decompress`` ``"gzip"`` or
    ``True``, ``"xz"``), read in chunks; past ``limit`` bytes it stops (``_ContentTooLong``)."""
    h = hashlib.new(algorithm)
    opener = {"xz": lzma.open, False: open, "": open}.get(decompress, gzip.open)
    total = 0
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            total += len(chunk)
            if limit is not None and total > limit:
                raise _ContentTooLong(limit)
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str, spec: FileSpec, max_content: int | None = None) -> Verification:
    """Check ``path`` against ``spec``'s published MD5, then its content SHA-256.

    Content longer than ``max_content`` bytes (what the published row counts hold) cannot be
    the published one: hashing stops there, so a decompression bomb costs no more time than
    the real file.
    """
    md5 = file_digest(path, "md5")
    if md5 == spec.md5:
        return Verification("md5", f"archive md5 {md5} matches the published one")
    with open(path, "rb") as f:
        head = f.read(6)
    compression = "gzip" if head[:2] == b"\x1f\x8b" else "xz" if head == b"\xfd7zXZ\x00" else ""
    try:
        sha = file_digest(path, "sha256", decompress=compression, limit=max_content if compression else None)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        return Verification(
            "unverified", f"md5 {md5} is not the published {spec.md5}, and the {compression} data is corrupt ({e})"
        )
    except _ContentTooLong:
        return Verification(
            "unverified", f"md5 {md5} is not the published {spec.md5}, and the {compression} data decompresses to more "
            f"than the {max_content:,} bytes the published file holds (not read further)"
        )
    if spec.content_sha256 and sha == spec.content_sha256:
        return Verification(
            "content-sha256",
            f"archive md5 differs ({md5}), but the decompressed content's sha256 {sha[:16]}... matches "
            "the recorded one (a recompressed copy)",
        )
    expected = f"published md5 {spec.md5}" + (f" or content sha256 {spec.content_sha256[:16]}..." if spec.content_sha256 else "")
    return Verification("unverified", f"md5 {md5} / content sha256 {sha[:16]}... match neither the {expected}")


def local_path(directory: str, spec: FileSpec) -> str | None:
    """The path of ``spec``'s file in ``directory`` under any of its accepted names, or None."""
    for name in spec.local_names:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def local_paths(directory: str, dataset: DatasetSpec) -> dict[str, str]:
    """``{role: path}`` for all of a dataset's files in ``directory``; the error lists what is missing and found."""
    directory = os.path.expanduser(os.fspath(directory))
    if not os.path.isdir(directory):
        raise MissingFilesError(f"data_dir {directory!r} is not a directory")
    found, missing = {}, []
    for role, spec in dataset.files.items():
        path = local_path(directory, spec)
        if path is None:
            missing.append(" or ".join(spec.local_names[:2]))
        else:
            found[role] = path
    if missing:
        present = sorted(os.listdir(directory))
        raise MissingFilesError(
            f"data_dir {directory!r} lacks {len(missing)} file(s) of {dataset.name}: "
            + "; ".join(missing)
            + f". Found there: {', '.join(present) if present else 'nothing'}."
        )
    return found


def resolve_data_dir(directory: str, dataset: DatasetSpec, map_fn: Callable = map) -> dict[str, ResolvedFile]:
    """``{role: ResolvedFile}`` from a user's ``data_dir``; unverified files are used with a warning."""
    found = local_paths(directory, dataset)
    checks = map_fn(lambda role: verify_file(found[role], dataset.files[role], dataset.content_limit(role)), list(found))
    out = {}
    for (role, path), v in zip(found.items(), checks):
        if not v.ok:
            logger.warning("%s is not the published %s file (%s); using it as given", path, dataset.name, v.detail)
        out[role] = ResolvedFile(dataset.files[role], path, f"data_dir {directory}", v)
    return out


def resolve_system_dirs(dirs: Sequence[str], dataset: DatasetSpec) -> dict[str, ResolvedFile] | None:
    """Use a system copy (e.g. Debian's ``dataset-fashion-mnist``) when complete and verified."""
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        out = {}
        for role, spec in dataset.files.items():
            path = local_path(directory, spec)
            if path is None:
                break
            v = verify_file(path, spec, dataset.content_limit(role))
            if not v.ok:
                logger.warning("ignoring system copy %s: %s", path, v.detail)
                break
            out[role] = ResolvedFile(spec, path, f"system copy {directory}", v)
        else:
            return out
    return None


def _cache_path(dl_manager: Any, url: str) -> str:
    # Where datasets' download manager keeps ``url``; lets us drop a rejected download
    # and notice which mirror is already cached, without touching the network.
    cache_dir = dl_manager.download_config.cache_dir or datasets_config.DOWNLOADED_DATASETS_PATH
    return os.path.join(os.fspath(cache_dir), hash_url_to_filename(url))


def _is_remote(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


def _discard(path: str) -> None:
    for p in (path, path + ".json", path + ".incomplete", path + ".lock"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _describe(exc: BaseException, url: str) -> str:
    """A one-line reason, from the root of the chain (fsspec wraps HTTP errors in FileNotFoundError).

    At most 10 links of the chain are read (a chain may loop through ``__context__``).
    """
    chain = []
    while exc is not None and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    for e in chain:
        name = type(e).__name__
        if isinstance(e, TimeoutError) or "timeout" in name.lower():
            return f"timed out ({name})"
    for e in chain:
        status = getattr(e, "status", None) or getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int):
            message = getattr(e, "message", "") or ""
            return f"HTTP {status}" + (f" {redact(str(message))}" if message else "")
    root = chain[-1]
    if isinstance(root, FileNotFoundError):
        return "not found (HTTP 404)" if _is_remote(url) else "no such local file"
    text = redact(str(root).strip().splitlines()[0]) if str(root).strip() else ""
    # An error without a message (e.g. a bare ConnectionResetError) is named alone, not "Name: ".
    return f"{type(root).__name__}: {text[:160]}" if text else type(root).__name__


def _without_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@``, and the (decoded) user and password, if any."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    plain = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return plain, (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))


def _use_credentials(dl_manager: Any, credentials: tuple[str, str] | None) -> None:
    """Send a mirror's user and password as HTTP basic authentication, not in the URL.

    ``datasets`` and fsspec log the URL they fetch and keep it beside the download (``.json``);
    given without its user information, the password is in neither. Set before each mirror (and
    removed for one without), so no mirror receives another's password.
    """
    import aiohttp

    options = dl_manager.download_config.storage_options
    for protocol in ("http", "https"):
        http = dict(options.get(protocol, {}))
        client_kwargs = {k: v for k, v in http.get("client_kwargs", {}).items() if k != "auth"}
        if credentials is not None:
            client_kwargs["auth"] = aiohttp.BasicAuth(*credentials)
        http["client_kwargs"] = client_kwargs
        options[protocol] = http


def _check_download(path: str, spec: FileSpec, max_content: int | None = None) -> Verification:
    """The verification of a downloaded file; raises :class:`ChecksumError` when it is another file,
    :class:`MirrorError` when it is a web page (the server failed, the file may be fine)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if _looks_like_html(head):
        raise MirrorError("served an HTML page instead of the file (error page or captive portal)")
    verification = verify_file(path, spec, max_content)
    if not verification.ok:
        raise ChecksumError(f"checksum mismatch: {verification.detail}")
    return verification


_OFFLINE_HINT = (
    "To work offline, put the dataset's files (IDX files gzip, xz or raw; EMNIST's gzip.zip) in a folder and pass "
    "data_dir=... (CLI: --data-dir); to use another server, pass mirrors=[...] "
    "(CLI: --mirror URL)."
)


def download_file(dl_manager: Any, spec: FileSpec, mirrors: Sequence[str], max_content: int | None = None) -> ResolvedFile:
    """Download one file through ``dl_manager``, falling back along ``mirrors``.

    A mirror already in the download cache is tried first, so a second call makes no
    request. A mirror may also be a local folder (its files are checked, never deleted).

    Raises
    ------
    ChecksumError
        Every mirror served a file, none of them the published one.
    MirrorError
        Otherwise, when no mirror gave the file (or ``mirrors`` is empty); the message lists
        each mirror and why.
    """
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    if not mirrors:
        raise MirrorError(
            f"could not get {spec.filename}: no mirrors to try (mirrors is empty), no data_dir and "
            f"no verified system copy.\n{_OFFLINE_HINT}"
        )
    urls = [m if m.endswith(spec.filename) else m.rstrip("/") + "/" + spec.filename for m in mirrors]
    urls.sort(key=lambda u: not os.path.exists(_cache_path(dl_manager, _without_userinfo(u)[0])))  # stable: cached first
    failures, rejected = [], 0
    for url in urls:
        plain, credentials = _without_userinfo(url)
        _use_credentials(dl_manager, credentials)
        try:
            path = dl_manager.download(plain)
        except Exception as e:  # any HTTP error, timeout or connection failure: next mirror
            _discard(_cache_path(dl_manager, plain))
            failures.append((redact(url), _describe(e, url)))
            logger.warning("mirror failed for %s: %s", *failures[-1])
            continue
        try:
            return ResolvedFile(spec, path, redact(url), _check_download(path, spec, max_content))
        except (ChecksumError, MirrorError) as e:
            if _is_remote(url):  # a local mirror's file is the user's: never deleted
                _discard(path)
            rejected += isinstance(e, ChecksumError)
            failures.append((redact(url), str(e)))
            logger.warning("rejected download %s: %s", *failures[-1])
    lines = "\n".join(f"  - {url}: {why}" for url, why in failures)
    error = ChecksumError if rejected == len(failures) else MirrorError
    raise error(f"could not get {spec.filename} from any mirror:\n{lines}\n{_OFFLINE_HINT}")


def resolve_files(
    dataset: DatasetSpec,
    *,
    data_dir: str | None,
    system_dirs: Sequence[str],
    mirrors: Sequence[str],
    dl_manager: Any,
    timeout: float,
    map_fn: Callable = map,
) -> dict[str, ResolvedFile]:
    """Resolve every file: explicit ``data_dir``, else a system copy, else the mirrors.

    ``map_fn`` (e.g. an executor's ``map``) runs the local checksum work, which releases the GIL.
    """
    if data_dir:
        return resolve_data_dir(data_dir, dataset, map_fn)
    system = resolve_system_dirs(system_dirs, dataset)
    if system is not None:
        return system
    set_download_timeout(dl_manager, timeout)
    return {role: download_file(dl_manager, spec, mirrors, dataset.content_limit(role))
            for role, spec in dataset.files.items()}


def set_download_timeout(dl_manager: Any, timeout: float) -> None:
    """Make a stalled mirror fail after ``timeout`` seconds (datasets downloads through aiohttp)."""
    # Deferred: aiohttp is slow to import (datasets itself does not load it), and only a real
    # download needs it.
    import aiohttp

    options = dl_manager.download_config.storage_options
    for protocol in ("http", "https"):
        http = dict(options.get(protocol, {}))
        client_kwargs = dict(http.get("client_kwargs", {}))
        client_kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout))
        http["client_kwargs"] = client_kwargs
        options[protocol] = http

