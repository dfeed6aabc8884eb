"""Push an export to the Hugging Face Hub: one commit per configuration, the data checked first.

Imports ``export`` and ``card`` of this package; the Hub is reached through ``huggingface_hub``
only, imported when a push starts.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from .card import CARD, CardError
from .export import MAX_SHARD_BYTES, ExportResult, commit_export, export, prepare
from .fetch import redact

logger = logging.getLogger(__name__)

DEFAULT_HUB_TIMEOUT = 60.0

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


def _scrub(text: str, token: str | None) -> str:
    text = redact(text)
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


def check_hub_timeout(value: Any, name: str = "hub_timeout") -> float:
    """``value`` as seconds, refused unless a positive finite number.

    Parameters
    ----------
    value : float
        The timeout given.
    name : str
        How the message names the option (the command line says ``--hub-timeout``).

    Returns
    -------
    float
        The seconds.

    Raises
    ------
    ValueError
        For 0, a negative number, NaN, infinity, a bool or anything not a number.

    Examples
    --------
    >>> check_hub_timeout(2)
    2.0
    >>> check_hub_timeout(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: hub_timeout must be a positive number of seconds, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


# Answers up to this size are read on the request's worker thread, so their whole body falls
# within the deadline; a larger one (a file download) streams with per-read timeouts.
_ANSWER_IN_FULL = 1 << 20


class _DeadlineTransport:
    """Wraps a transport of huggingface_hub's HTTP client (httpx) to give each request one deadline.

    httpx's timeouts bound each network operation, so a server that drips a byte every second
    never trips them and holds a request for ever. Here a request runs on a worker thread and
    the caller gives up ``seconds`` after the last byte of the request was sent (or after the
    sending last made progress, for a large upload), the answer included; the connection pool
    is then closed, so the stalled connection is not reused.
    """

    def __init__(self, inner: Any, seconds: float, httpx: Any):
        self._inner, self._seconds, self._httpx = inner, seconds, httpx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def handle_request(self, request: Any) -> Any:
        progress = _progress_stream(self._httpx, request.stream)
        request.stream = progress
        box: dict[str, Any] = {}
        worker = threading.Thread(target=self._send, args=(request, box), name="mnist_hf hub request", daemon=True)
        worker.start()
        while worker.is_alive():
            left = progress.last + self._seconds - time.monotonic()
            if left <= 0:
                self._inner.close()
                raise self._httpx.ReadTimeout(f"no complete answer within {self._seconds:g} s", request=request)
            worker.join(min(left, 0.5))
        if "error" in box:
            raise box["error"]
        return box["response"]

    def _send(self, request: Any, box: dict[str, Any]) -> None:
        try:
            response = self._inner.handle_request(request)
            length = response.headers.get("content-length", "")
            if not (length.isdigit() and int(length) > _ANSWER_IN_FULL):
                response.read()
            box["response"] = response
        except BaseException as e:  # handed to the caller's thread, which raises it
            box["error"] = e


def _progress_stream(httpx: Any, stream: Any) -> Any:
    """``stream`` (a request body) noting when it last advanced: when a chunk has been written."""

    class Progress(httpx.SyncByteStream):
        def __init__(self):
            self.last = time.monotonic()

        def __iter__(self):
            for chunk in stream:
                self.last = time.monotonic()
                yield chunk
            self.last = time.monotonic()

        def close(self):
            if hasattr(stream, "close"):
                stream.close()

    return Progress()


@contextmanager
def _hub_timeout(seconds: float) -> Iterator[None]:
    """One deadline for every request on huggingface_hub's shared HTTP client (it waits forever by
    default): ``seconds`` for each network operation, and for each request as a whole.

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
    previous = session.timeout, getattr(session, "_transport", None), getattr(session, "_mounts", None)
    session.timeout = seconds
    # httpx has no public hook for a total deadline: the client's transports (the default one and
    # any proxy's) are wrapped for the push, and given back after.
    httpx = sys.modules.get(type(session).__module__.partition(".")[0])
    if previous[1] is not None and isinstance(previous[2], dict) and hasattr(httpx, "SyncByteStream"):
        session._transport = _DeadlineTransport(previous[1], seconds, httpx)
        session._mounts = {k: v if v is None else _DeadlineTransport(v, seconds, httpx) for k, v in previous[2].items()}
    try:
        yield
    finally:
        session.timeout = previous[0]
        if previous[1] is not None:
            session._transport, session._mounts = previous[1], previous[2]


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
        Hub token with write access; default: as the Hugging Face tools find it
        (``huggingface_hub.get_token()``: ``$HF_TOKEN``, then the token saved by
        ``hf auth login``). Never printed or logged.
    private : bool, default False
        Create the repository as private (an existing repository keeps its visibility).
    dry_run : str or os.PathLike, optional
        Instead of uploading, export to this folder (what would be sent).
    hub_timeout : float, default 60
        Seconds within which every Hub request must be answered in full (a positive number).
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
        Bad options or input files, before any Hub call (and before the token is looked for).

    Examples
    --------
    >>> push("fashion_mnist", "me/fashion-mnist", token="hf_...", private=True)   # doctest: +SKIP
    """
    hub_timeout = check_hub_timeout(hub_timeout)
    if dry_run is not None:
        return export(config, dry_run, repo_id=repo_id, **options)
    prepared = prepare(config, options)  # bad local data is the caller's error, found before the token or the Hub
    token = _find_token(token)

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    created = False
    with _hub_timeout(hub_timeout):
        try:
            _check_namespace(api, repo_id)
            created = not api.repo_exists(repo_id, repo_type="dataset")
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            return _upload(api, repo_id, prepared, [] if created else api.list_repo_files(repo_id, repo_type="dataset"))
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


def _find_token(token: str | None) -> str:
    # huggingface_hub's own order (HF_TOKEN, then the saved login), so a user who logged in once
    # is logged in here too.
    from huggingface_hub import get_token

    try:
        token = token or get_token()
    except Exception as e:  # HF_OIDC_RESOURCE set and the token exchange failed: it says why
        raise HubError(f"could not get a token: {type(e).__name__}: {redact(str(e))}", "auth") from None
    if not token:
        raise HubError("no token: pass --token, set HF_TOKEN or log in with `hf auth login` (a token with write "
                       "access)", "auth")
    return token


def _check_namespace(api: Any, repo_id: str) -> None:
    me = api.whoami()
    orgs = sorted(o["name"] for o in me.get("orgs", []) if o.get("name"))
    namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
    if namespace not in {me.get("name"), *orgs}:
        raise HubError(f"{repo_id} belongs to {namespace!r}, and this token is {me.get('name')!r}'s "
                       f"(member of: {', '.join(orgs) or 'no organisation'})", "permission")


def _upload(api: Any, repo_id: str, prepared: Any, remote: list[str]) -> ExportResult:
    """One commit: the configuration's new files and the merged card, and every other file under ``CONFIG/`` deleted."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    config = prepared.config.name
    with tempfile.TemporaryDirectory() as tmp:
        if CARD in remote:  # merge with the card already there (other configurations)
            shutil.copy(api.hf_hub_download(repo_id, CARD, repo_type="dataset"), Path(tmp) / CARD)
        result = commit_export(Path(tmp), prepared, MAX_SHARD_BYTES, where=f"{repo_id}/{CARD} on the Hub",
                               repo_id=repo_id)
        sent = {rel.as_posix() for rel in result.files}
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(Path(tmp) / p)) for p in sorted(sent)]
        operations += [CommitOperationDelete(path_in_repo=p) for p in remote
                       if p.startswith(f"{config}/") and p not in sent]
        rows = ", ".join(f"{k}: {v}" for k, v in result.splits.items())
        api.create_commit(repo_id, operations, commit_message=f"Add {config} ({rows})", repo_type="dataset")
    return result
