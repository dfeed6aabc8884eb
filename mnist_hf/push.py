"""Push an export to the Hugging Face Hub: one commit per configuration, the data checked first.

Imports ``export`` and ``card`` of this package; the Hub is reached through ``huggingface_hub``
only, imported when a push starts.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from .card import CARD, CardError
from .export import MAX_SHARD_BYTES, ExportResult, commit_export, export, prepare

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
    prepared = prepare(config, options)  # bad local data is the caller's error, found before any Hub call

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
                result = commit_export(Path(tmp), prepared, MAX_SHARD_BYTES, where=f"{repo_id}/{CARD} on the Hub")
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
