"""Strategies that cut the pool by position: the classic recipes."""

from __future__ import annotations

from .base import ValidationSplitter
from .rules import head_rows, tail_rows


class TailSplit(ValidationSplitter):
    """The last ``val_size`` rows are validation (the classic "last 5,000" recipe).

    >>> import numpy as np
    >>> [v.tolist() for _, v in TailSplit(val_size=0.4).split(np.zeros((5, 2)))]
    [[3, 4]]
    """

    def __init__(self, val_size: float = 0.1):
        self.val_size = val_size

    def _validation_indices(self, X, y, groups, n_val, rng):
        return tail_rows(X.shape[0], n_val)


class HeadSplit(ValidationSplitter):
    """The first ``val_size`` rows are validation.

    >>> import numpy as np
    >>> [v.tolist() for _, v in HeadSplit(val_size=2).split(np.zeros((5, 2)))]
    [[0, 1]]
    """

    def __init__(self, val_size: float = 0.1):
        self.val_size = val_size

    def _validation_indices(self, X, y, groups, n_val, rng):
        return head_rows(X.shape[0], n_val)
