"""How a fault a user can cause is told: one plain line and an exit code, never a traceback.

Shared by ``python -m mnist_hf`` and ``scripts/compare_splits.py``. Imports ``fetch``, ``push``
(for :class:`~mnist_hf.push.HubError`) and nothing above them.

>>> describe(ValueError("validation_size must be a non-negative integer"))
(2, 'validation_size must be a non-negative integer')
>>> describe(OSError(28, "No space left on device"), where="the cache folder /data/cache")
(7, 'the cache folder /data/cache: No space left on device (errno 28): the disk is full; free some space or write elsewhere')
"""

from __future__ import annotations

import errno

from .fetch import MirrorError, MissingFilesError, redact
from .push import HubError

#: Exit codes beyond 0 (done) and 1 (a bug: a traceback, please report it).
EXIT_CODES = {"input": 2, "auth": 3, "permission": 4, "network": 5, "hub": 6, "filesystem": 7}
# IDXFormatError, DataValidationError, ChecksumError and card.CardError are ValueErrors.
USER_ERRORS = (ValueError, MissingFilesError, MirrorError)
_FILESYSTEM = {
    errno.ENOSPC: "the disk is full; free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EROFS: "the folder is read-only (datasets takes a lock file there even to read a prepared "
                 "dataset); give a folder you can write to",
    errno.EACCES: "no permission; give a folder you can write to",
    errno.EPERM: "not permitted; give a folder you can write to",
    errno.ENOTDIR: "a file stands where a folder is needed",
    errno.EEXIST: "a file stands where a folder is needed",
    errno.EISDIR: "a folder stands where a file is needed",
    errno.ENAMETOOLONG: "the name is too long",
}


def _unwrapped(exc: BaseException) -> BaseException:
    # datasets wraps what goes wrong while writing a split (a full disk) in DatasetGenerationError.
    while type(exc).__name__ == "DatasetGenerationError" and (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def describe(exc: BaseException, where: str = "") -> tuple[int, str] | None:
    """The exit code and the one line for a fault a user can cause, or None for anything else (a bug).

    Parameters
    ----------
    exc : BaseException
        What was raised.
    where : str
        What was being written, for a filesystem fault whose error names no file
        (a full disk: ``"the cache folder /data/cache"``).

    Returns
    -------
    (int, str) or None
        A code of :data:`EXIT_CODES` and the message (without ``error:``), secrets redacted.
    """
    exc = _unwrapped(exc)
    if isinstance(exc, HubError):
        return EXIT_CODES[exc.kind], str(exc)
    if isinstance(exc, USER_ERRORS):
        return EXIT_CODES["input"], redact(str(exc))
    if isinstance(exc, OSError) and exc.errno in _FILESYSTEM:
        name = exc.filename if exc.filename is not None else where
        text = f"{exc.strerror or errno.errorcode[exc.errno]} (errno {exc.errno}): {_FILESYSTEM[exc.errno]}"
        return EXIT_CODES["filesystem"], redact(f"{name}: {text}" if name else text)
    return None
