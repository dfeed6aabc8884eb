"""The tail, head and random validation rules, each written once as a pure numpy function.

The splitter classes (:class:`~splitters.TailSplit`, :class:`~splitters.HeadSplit`,
:class:`~splitters.RandomSplit`) and any other code that carves a validation part out of a
pool (such as a dataset builder) call these, so a seed picks the same rows everywhere.

>>> validation_rows("tail", 5, 2).tolist(), validation_rows("head", 5, 2).tolist()
([3, 4], [0, 1])
"""

from __future__ import annotations

import numpy as np


def tail_rows(n_samples: int, n_val: int) -> np.ndarray:
    """The last ``n_val`` of ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int
        Rows in the pool.
    n_val : int
        Rows to take for validation.

    Returns
    -------
    numpy.ndarray
        Sorted int64 row indices.

    Raises
    ------
    ValueError
        ``n_val`` outside ``0 .. n_samples``.

    Examples
    --------
    >>> tail_rows(5, 2).tolist()
    [3, 4]
    """
    _check_counts(n_samples, n_val)
    return np.arange(n_samples - n_val, n_samples, dtype=np.int64)


def _check_counts(n_samples: int, n_val: int) -> None:
    # A rule never returns a row outside the pool, whoever calls it.
    if not 0 <= n_val <= n_samples:
        raise ValueError(f"cannot take {n_val} validation rows from {n_samples}")


def head_rows(n_samples: int, n_val: int) -> np.ndarray:
    """The first ``n_val`` of ``n_samples`` rows.

    Parameters
    ----------
    n_samples : int
        Rows in the pool.
    n_val : int
        Rows to take for validation.

    Returns
    -------
    numpy.ndarray
        Sorted int64 row indices.

    Raises
    ------
    ValueError
        ``n_val`` outside ``0 .. n_samples``.

    Examples
    --------
    >>> head_rows(5, 2).tolist()
    [0, 1]
    """
    _check_counts(n_samples, n_val)
    return np.arange(n_val, dtype=np.int64)


def random_rows(n_samples: int, n_val: int, random_state=None, *, labels: np.ndarray | None = None) -> np.ndarray:
    """``n_val`` rows drawn at random; with ``labels``, stratified so each class keeps its share.

    The rule: without labels, the first ``n_val`` entries of ``rng.permutation(n_samples)``;
    with labels, scikit-learn's ``StratifiedShuffleSplit`` driven by the same ``rng``. An integer
    seed therefore picks the rows ``sklearn.model_selection.train_test_split`` would put in its
    test part with that ``random_state``.

    Parameters
    ----------
    n_samples : int
        Rows in the pool.
    n_val : int
        Rows to take for validation.
    random_state : int, numpy.random.RandomState or None
        Seed or generator (a generator is advanced, so repeated calls give new draws).
    labels : array-like of shape (n_samples,), optional
        Class of each row; given, the draw is stratified.

    Returns
    -------
    numpy.ndarray
        Sorted int64 row indices.

    Raises
    ------
    ValueError
        When a stratified draw is impossible (scikit-learn's message, e.g. a class of one row).

    Examples
    --------
    >>> random_rows(10, 3, 0).tolist()
    [2, 4, 8]
    >>> y = [0] * 5 + [1] * 5
    >>> [y[i] for i in random_rows(10, 4, 0, labels=y)]
    [0, 0, 1, 1]
    """
    # Deferred: scikit-learn is slow to import, only this rule needs it, and the mnist_hf builder
    # imports this module whatever its strategy.
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    if labels is None:
        rows = rng.permutation(n_samples)[:n_val]
    else:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=rng)
        rows = next(sss.split(np.zeros((n_samples, 1)), np.asarray(labels)))[1]
    return np.sort(rows).astype(np.int64, copy=False)


RULES = {"tail": tail_rows, "head": head_rows, "random": random_rows}


def validation_rows(strategy: str, n_samples: int, n_val: int, *, random_state=None,
                    labels: np.ndarray | None = None) -> np.ndarray:
    """Validation rows by rule name (``"tail"``, ``"head"`` or ``"random"``).

    Parameters
    ----------
    strategy : {"tail", "head", "random"}
        The rule.
    n_samples : int
        Rows in the pool.
    n_val : int
        Rows to take for validation, ``0 < n_val < n_samples``.
    random_state : int, numpy.random.RandomState or None
        For ``"random"`` only.
    labels : array-like of shape (n_samples,), optional
        For ``"random"`` only: stratify by these classes.

    Returns
    -------
    numpy.ndarray
        Sorted int64 row indices.

    Raises
    ------
    ValueError
        An unknown rule, ``labels`` for a positional rule, or ``n_val`` outside ``1 .. n_samples - 1``.

    Examples
    --------
    >>> validation_rows("random", 10, 3, random_state=0).tolist()
    [2, 4, 8]
    """
    if strategy not in RULES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {tuple(RULES)}")
    if not 0 < n_val < n_samples:
        raise ValueError(f"n_val must be between 1 and {n_samples - 1} for a pool of {n_samples} rows, got {n_val}")
    if strategy == "random":
        return random_rows(n_samples, n_val, random_state, labels=labels)
    if labels is not None:
        raise ValueError(f"the {strategy!r} rule takes rows by position; stratifying needs 'random'")
    return RULES[strategy](n_samples, n_val)
