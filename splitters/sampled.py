"""Strategies that draw validation at random: plain, stratified, or by whole groups."""

from __future__ import annotations

import numpy as np

from .base import ValidationSplitter
from .rules import random_rows


class RandomSplit(ValidationSplitter):
    """A uniformly random validation part; with ``stratify=True`` each class of ``y`` keeps its
    share (within one sample).

    The rule is :func:`splitters.rules.random_rows`, drawn from one generator seeded by
    ``random_state`` (repeats draw anew), so an integer ``random_state`` picks the rows the
    ``mnist_hf`` builder puts in validation with ``validation_seed`` set to it.

    >>> import numpy as np
    >>> s = RandomSplit(val_size=3, random_state=0)
    >>> [len(v) for _, v in s.split(np.zeros((10, 1)))]
    [3]
    """

    def __init__(self, val_size: float = 0.1, *, stratify: bool = False, n_splits: int = 1, random_state=None):
        self.val_size = val_size
        self.stratify = stratify
        self.n_splits = n_splits
        self.random_state = random_state

    def _check_inputs(self, X, y, groups, n_val):
        if not self.stratify:
            return
        if y is None:
            raise ValueError("stratify=True needs y")
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            lonely = classes[counts < 2][:5].tolist()
            raise ValueError(f"cannot stratify: class(es) {lonely} have a single sample")
        if n_val < len(classes) or X.shape[0] - n_val < len(classes):
            raise ValueError(f"cannot stratify {len(classes)} classes into parts of {n_val} and {X.shape[0] - n_val} rows")

    def _validation_indices(self, X, y, groups, n_val, rng):
        return random_rows(X.shape[0], n_val, rng, labels=y if self.stratify else None)


class GroupSplit(ValidationSplitter):
    """Whole groups go to validation (e.g. every sample of one writer); sizes count samples.

    Rule: groups are taken in random order and added while they fit, so validation never
    exceeds ``val_size``; a :class:`~splitters.base.SplitSizeWarning` says when it falls short.
    A group larger than ``val_size`` is an error.

    >>> import numpy as np
    >>> g = np.repeat([0, 1, 2, 3], 2)
    >>> _, v = next(GroupSplit(val_size=4, random_state=0).split(np.zeros((8, 1)), groups=g))
    >>> sorted(set(g[v].tolist())).__len__()
    2
    """

    def __init__(self, val_size: float = 0.1, *, n_splits: int = 1, random_state=None):
        self.val_size = val_size
        self.n_splits = n_splits
        self.random_state = random_state

    def _check_inputs(self, X, y, groups, n_val):
        if groups is None:
            raise ValueError("GroupSplit needs groups (one group label per row)")
        names, counts = np.unique(groups, return_counts=True)
        if len(names) > 1 and counts.max() > n_val:  # one group: the message below says what is wrong
            big = names.tolist()[counts.argmax()]  # a Python value: 'b', not np.str_('b')
            raise ValueError(f"group {big!r} has {counts.max()} samples, more than the validation size {n_val}")
        if len(names) < 2:
            raise ValueError("GroupSplit needs at least two groups")

    def _validation_indices(self, X, y, groups, n_val, rng):
        names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        chosen = np.zeros(len(names), dtype=bool)
        total = 0
        for g in rng.permutation(len(names)):
            if total + counts[g] <= n_val:
                chosen[g] = True
                total += counts[g]
                if total == n_val:
                    break
        # Training always keeps a group: the chosen ones hold at most n_val < n rows.
        self._warn_size("GroupSplit", total, n_val, "whole groups only; never more than requested")
        return np.flatnonzero(chosen[inverse])
