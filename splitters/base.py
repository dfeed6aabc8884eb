"""The contract every validation splitter follows: scikit-learn's cross-validator API.

A splitter carves a validation part out of a training pool. ``split(X, y, groups)`` yields
``(train_indices, validation_indices)`` (sorted int64 arrays), ``get_n_splits()`` says how
many, and constructor parameters are stored under their own names, so ``repr``,
``get_params``, ``set_params`` and ``sklearn.base.clone`` work and any splitter can be
passed as ``cv=`` to ``GridSearchCV`` or ``cross_val_score``.

Input rules, written once here: strategies that only count rows (``needs_features = False``:
tail, head, random, group) accept any 2-D ``X``, including NaN/inf values and scipy sparse
matrices, as scikit-learn's own splitters do; strategies that measure distances
(``needs_features = True``) need a dense, finite, numeric ``X``. pandas columns with nullable
dtypes (``Float64``, ``Int64``) are read as floats with ``pd.NA`` as NaN.

>>> import numpy as np
>>> from splitters import TailSplit
>>> train, val = next(TailSplit(val_size=2).split(np.zeros((5, 1))))
>>> train.tolist(), val.tolist()
([0, 1, 2], [3, 4])
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state


class SplitSizeWarning(UserWarning):
    """A strategy could not make the validation part exactly the requested size."""


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int: any integer type (``int``, ``np.int64``, ...) but not ``bool``.

    Parameters
    ----------
    value : int
        The value to check.
    name : str
        The argument's name, for the error message.
    minimum : int, default=1
        The smallest allowed value.

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    ValueError
        If ``value`` is not an integer or is below ``minimum``.

    Examples
    --------
    >>> check_int(np.int64(3), "repeats")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def resolve_size(val_size: float, n_samples: int) -> int:
    """Validation rows for ``val_size`` (a count, or a fraction in (0, 1)) of ``n_samples``.

    Fractions round to the nearest row.

    Parameters
    ----------
    val_size : int or float
        A row count (any integer type), or a fraction strictly between 0 and 1.
    n_samples : int
        Rows in the pool.

    Returns
    -------
    int
        The number of validation rows, from 1 to ``n_samples - 1``.

    Raises
    ------
    ValueError
        If ``val_size`` is not a number or gives no rows or the whole pool.

    Examples
    --------
    >>> resolve_size(0.25, 10), resolve_size(3, 10), resolve_size(np.int64(3), 10)
    (2, 3, 3)
    """
    if isinstance(val_size, bool) or not isinstance(val_size, numbers.Real):
        raise ValueError(f"val_size must be a count or a fraction, got {val_size!r}")
    if isinstance(val_size, numbers.Integral):
        n_val = int(val_size)
        if not 0 < n_val < n_samples:
            raise ValueError(f"val_size={n_val} must be at least 1 and less than the pool size ({n_samples})")
        return n_val
    if not 0.0 < float(val_size) < 1.0:
        raise ValueError(f"val_size as a fraction must lie strictly between 0 and 1, got {val_size}")
    n_val = round(float(val_size) * n_samples)
    if not 0 < n_val < n_samples:
        raise ValueError(f"val_size={val_size} of {n_samples} samples gives {n_val} rows; need 1 to {n_samples - 1}")
    return n_val


def _from_pandas(X, name: str):
    """pandas with nullable (extension) dtypes as float64 with NaN; anything else unchanged."""
    import pandas as pd

    dtypes = [X.dtype] if isinstance(X, pd.Series) else list(X.dtypes)
    if not any(isinstance(d, pd.api.extensions.ExtensionDtype) for d in dtypes):
        return X
    try:
        return X.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; its columns have dtypes {sorted({str(d) for d in dtypes})}") from None


def check_X(X, *, need_features: bool, name: str = "X"):
    """X as a 2-D array, never a copy of the caller's data unless a dtype conversion needs one.

    Parameters
    ----------
    X : array-like, pandas DataFrame or scipy sparse matrix of shape (n_samples, n_features)
        The pool (or another feature matrix).
    need_features : bool
        Whether the caller looks at the values: then ``X`` must be dense, numeric and finite.
        Otherwise only its row count matters and a sparse matrix is returned as is.
    name : str, default="X"
        The argument's name, for error messages.

    Returns
    -------
    numpy.ndarray or scipy sparse matrix
        The validated matrix.

    Raises
    ------
    ValueError
        If ``X`` is missing, not 2-D, empty, or (with ``need_features``) sparse, not numeric,
        or holds NaN or infinite values.

    Examples
    --------
    >>> check_X([[1.0, 2.0]], need_features=True).shape
    (1, 2)
    """
    if X is None:
        raise ValueError(f"{name} is required (n_samples, n_features)")
    if type(X).__module__.startswith("scipy.sparse"):
        if need_features:
            raise ValueError(f"{name} is a scipy sparse matrix; this strategy computes distances on the feature "
                             f"values and needs a dense array: pass {name}.toarray()")
        arr = X
    else:
        if type(X).__module__.startswith("pandas"):
            X = _from_pandas(X, name)
        arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if need_features:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).any(axis=1).sum())
            raise ValueError(f"{name} contains NaN or infinite values in {bad} row(s); impute or drop them first")
    return arr


def check_labels(values, n_samples: int, name: str, of: str = "X") -> np.ndarray | None:
    """``y`` or ``groups`` as a 1-D array with one entry per row, or ``None``.

    Parameters
    ----------
    values : array-like of shape (n_samples,) or None
        Labels or group ids.
    n_samples : int
        Rows of ``X``.
    name : str
        The argument's name, for error messages.
    of : str, default="X"
        The name of the matrix whose rows the entries belong to.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    ValueError
        If the shape is wrong, an entry is ``None``, or entries cannot be compared with each other.

    Examples
    --------
    >>> check_labels([1, 2], 2, "y").tolist()
    [1, 2]
    """
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n_samples:
        raise ValueError(f"{name} must be 1-D with one entry per row of {of} ({n_samples}), got shape {arr.shape}")
    if arr.dtype == object:
        missing = int(sum(v is None for v in arr))
        if missing:
            raise ValueError(f"{name} has {missing} missing (None) entries; every row needs a value")
        try:
            np.unique(arr)
        except TypeError:
            kinds = sorted({type(v).__name__ for v in arr})
            raise ValueError(f"{name} mixes values that cannot be compared ({', '.join(kinds)}); use one type") from None
    return arr


class ValidationSplitter(BaseEstimator):
    """Base class: subclasses implement ``_validation_indices(X, y, groups, n_val, rng)``.

    ``needs_features`` says whether the strategy looks at the values of ``X`` (and so
    rejects NaN and sparse matrices) or only at its row count.
    """

    needs_features = False
    n_splits = 1

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, validation_indices)`` ``get_n_splits()`` times."""
        X = check_X(X, need_features=self.needs_features)
        self.check_arrays()
        yield from self.split_checked(X, y, groups)

    def check_arrays(self) -> None:
        """Validate the array-valued parameters (e.g. ``X_target``), once.

        Raises
        ------
        ValueError
            On a bad array parameter (what a subclass's ``_check_arrays`` refuses).

        Examples
        --------
        >>> from splitters import TailSplit
        >>> TailSplit(val_size=2).check_arrays()  # no array parameter: nothing to check
        """
        self._check_arrays()

    def _check_arrays(self) -> None:
        """Subclasses with array-valued parameters override this hook; a no-op here."""

    def split_checked(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`split` after validation: ``X`` went through :func:`check_X` and the array-valued
        parameters through :meth:`check_arrays`. Callers that validated once (the comparison
        engine) use it so a large ``X`` is not scanned again for every strategy and repeat.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Already checked by :func:`check_X`.
        y, groups : array-like of shape (n_samples,), optional

        Yields
        ------
        train, validation : ndarray of int64

        Raises
        ------
        ValueError
            On a bad ``y``, ``groups`` or ``val_size`` for this pool.

        Examples
        --------
        >>> from splitters import HeadSplit
        >>> [v.tolist() for _, v in HeadSplit(val_size=1).split_checked(np.zeros((3, 1)))]
        [[0]]
        """
        n = X.shape[0]
        y = check_labels(y, n, "y")
        groups = check_labels(groups, n, "groups")
        n_val = resolve_size(self.val_size, n)
        self._check_inputs(X, y, groups, n_val)
        rng = check_random_state(getattr(self, "random_state", None))
        for _ in range(self.get_n_splits()):
            picked = np.asarray(self._validation_indices(X, y, groups, n_val, rng), dtype=np.int64)
            val = np.unique(picked)
            if len(val) != len(picked) or (len(val) and not 0 <= val[0] <= val[-1] < n):
                raise RuntimeError(f"{type(self).__name__} picked {len(picked)} validation rows but only {len(val)} "
                                   f"distinct ones within 0..{n - 1}; please report this with the data's shape")
            mask = np.ones(n, dtype=bool)
            mask[val] = False
            yield np.flatnonzero(mask).astype(np.int64), val

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of ``(train, validation)`` pairs ``split`` yields."""
        return check_int(getattr(self, "n_splits", 1), "n_splits")

    def _check_inputs(self, X, y, groups, n_val) -> None:
        """Strategy-specific checks; raise ValueError with a plain message."""

    def _validation_indices(self, X, y, groups, n_val, rng) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _warn_size(name: str, got: int, wanted: int, rule: str) -> None:
        if got != wanted:
            # The warning points at the first caller outside this package: ``split`` (a generator
            # delegating to ``split_checked``), ``split_checked`` and the comparison engine reach here
            # through different depths, so no fixed stacklevel can (``skip_file_prefixes``, from
            # Python 3.12 on, could). Walked here, not in a helper, so that the first frame is this one.
            frame, level = sys._getframe(0), 1
            while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
                frame, level = frame.f_back, level + 1
            warnings.warn(f"{name}: validation has {got} rows, not the {wanted} requested ({rule})",
                          SplitSizeWarning, stacklevel=level)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
