"""How the engine records a failure instead of raising it: one line naming the error."""

from __future__ import annotations


def reason(err: BaseException) -> str:
    """The one-line reason recorded for a failure (``error`` columns and ``notes``).

    Parameters
    ----------
    err : BaseException

    Returns
    -------
    str
        ``"ExceptionType: message"``.

    Examples
    --------
    >>> reason(ValueError("no rows"))
    'ValueError: no rows'
    """
    return f"{type(err).__name__}: {err}"
