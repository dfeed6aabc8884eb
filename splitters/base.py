"""The contract every validation splitter follows: scikit-learn's cross-validator API.

A splitter carves a validation part out of a training pool. ``split(X, y, groups)`` yields
``(train_indices, validation_indices)`` (sorted int64 arrays), ``get_n_splits()`` says how
many, and constructor parameters are stored under their own names, so ``repr``,
``get_params``, ``set_params`` and ``sklearn.base.clone`` work and any splitter can be
passed as ``cv=`` to ``GridSearchCV`` or ``cross_val_score``.

>>> import numpy as np
>>> from splitters import TailSplit
>>> train, val = next(TailSplit(val_size=2).split(np.zeros((5, 1))))
>>> train.tolist(), val.tolist()
([0, 1, 2], [3, 4])
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state


class SplitSizeWarning(UserWarning):
    """A strategy could not make the validation part exactly the requested size."""


def resolve_size(val_size: float, n_samples: int) -> int:
    """Validation rows for ``val_size`` (a count, or a fraction in (0, 1)) of ``n_samples``.

    Fractions round to the nearest row.

    >>> resolve_size(0.25, 10), resolve_size(3, 10)
    (2, 3)
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


def check_X(X, *, need_features: bool) -> np.ndarray:
    """X as a 2-D array, never a copy of the caller's data unless a dtype conversion needs one."""
    if X is None:
        raise ValueError("X is required (n_samples, n_features)")
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"X is empty (shape {arr.shape})")
    if need_features:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {arr.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).any(axis=1).sum())
            raise ValueError(f"X contains NaN or infinite values in {bad} row(s); impute or drop them first")
    return arr


def check_labels(values, n_samples: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n_samples:
        raise ValueError(f"{name} must be 1-D with one entry per row of X ({n_samples}), got shape {arr.shape}")
    return arr


class ValidationSplitter(BaseEstimator):
    """Base class: subclasses implement ``_validation_indices(X, y, groups, n_val, rng)``.

    ``needs_features`` says whether the strategy looks at the values of ``X`` (and so
    rejects NaN) or only at its length.
    """

    needs_features = False
    n_splits = 1

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, validation_indices)`` ``get_n_splits()`` times."""
        X = check_X(X, need_features=self.needs_features)
        n = X.shape[0]
        y = check_labels(y, n, "y")
        groups = check_labels(groups, n, "groups")
        n_val = resolve_size(self.val_size, n)
        self._check_inputs(X, y, groups, n_val)
        rng = check_random_state(getattr(self, "random_state", None))
        for _ in range(self.get_n_splits()):
            val = np.unique(np.asarray(self._validation_indices(X, y, groups, n_val, rng), dtype=np.int64))
            mask = np.ones(n, dtype=bool)
            mask[val] = False
            yield np.flatnonzero(mask).astype(np.int64), val

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of ``(train, validation)`` pairs ``split`` yields."""
        n = getattr(self, "n_splits", 1)
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_splits must be a positive integer, got {n!r}")
        return int(n)

    def _check_inputs(self, X, y, groups, n_val) -> None:
        """Strategy-specific checks; raise ValueError with a plain message."""

    def _validation_indices(self, X, y, groups, n_val, rng) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _warn_size(name: str, got: int, wanted: int, rule: str) -> None:
        if got != wanted:
            warnings.warn(f"{name}: validation has {got} rows, not the {wanted} requested ({rule})",
                          SplitSizeWarning, stacklevel=4)
