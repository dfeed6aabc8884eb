"""Apply a splitter to a Hugging Face ``Dataset``: rows are selected, never copied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import ValidationSplitter


def split_dataset(dataset, splitter: ValidationSplitter, features: Any = None, *, label: str | None = "label",
                  groups: str | None = None):
    """Return a ``DatasetDict`` with ``train`` and ``validation`` made by ``splitter``.

    ``features`` gives X: a column name, an array with one row per example, a callable taking
    the dataset, or ``None`` (an index column; enough for position-based strategies). ``label``
    and ``groups`` name the columns passed as ``y`` and ``groups``. Uses ``Dataset.select``
    (an indices mapping over the same Arrow data: no copy). Columns are read in one batch.

    Parameters
    ----------
    dataset : datasets.Dataset
        The pool.
    splitter : ValidationSplitter
        The strategy.
    features : str, array-like, callable or None, optional
        Where X comes from (see above).
    label : str or None, default="label"
        Column passed as ``y`` (skipped when absent).
    groups : str, optional
        Column passed as ``groups`` (e.g. ``"writer_id"``: the ``group`` strategy then keeps each
        writer on one side).

    Returns
    -------
    datasets.DatasetDict
        ``train`` and ``validation``.

    Raises
    ------
    ValueError
        If a named column is missing, ``features`` has the wrong length, or the splitter refuses
        the input.

    Examples
    --------
    >>> import datasets
    >>> from splitters import TailSplit
    >>> ds = datasets.Dataset.from_dict({"x": [[0.0], [1.0], [2.0]], "label": [0, 1, 0]})
    >>> parts = split_dataset(ds, TailSplit(val_size=1), "x")
    >>> parts["validation"][:]["x"]
    [[2.0]]

    Whole groups (e.g. QMNIST's ``writer_id``) by a column name:

    >>> from splitters import GroupSplit
    >>> ds = datasets.Dataset.from_dict({"writer": [7, 7, 9, 9, 4], "label": [0, 1, 0, 1, 0]})
    >>> parts = split_dataset(ds, GroupSplit(val_size=2, random_state=0), groups="writer")
    >>> len(set(parts["validation"][:]["writer"]) & set(parts["train"][:]["writer"]))
    0
    """
    import datasets

    X = _features(dataset, features)
    y = _column(dataset, label) if label and label in dataset.column_names else None
    g = _column(dataset, groups) if groups else None
    train, val = next(iter(splitter.split(X, y, g)))
    return datasets.DatasetDict({"train": dataset.select(train), "validation": dataset.select(val)})


def _column(dataset, name: str) -> np.ndarray:
    """One column as an array, read in one batch: ``dataset[name]`` is a lazy column on
    datasets >= 4 that a numpy conversion walks row by row. A slice query applies the indices
    mapping of a selected dataset (``dataset.data`` alone would ignore it)."""
    if name not in dataset.column_names:
        raise ValueError(f"the dataset has no column {name!r}; its columns are {dataset.column_names}")
    return np.asarray(dataset.with_format("numpy", columns=[name])[:][name])


def _features(dataset, features: Any) -> np.ndarray:
    if features is None:
        return np.arange(dataset.num_rows)[:, None]
    if isinstance(features, str):
        X = _column(dataset, features)
        return X.reshape(len(X), -1) if X.ndim > 2 else X
    if callable(features):
        f: Callable = features
        return np.asarray(f(dataset))
    X = np.asarray(features)
    if len(X) != dataset.num_rows:
        raise ValueError(f"features has {len(X)} rows but the dataset has {dataset.num_rows}")
    return X
