"""Validation-split strategies with a scikit-learn cross-validator API.

Every strategy yields ``(train_indices, validation_indices)`` from ``split(X, y, groups)`` and
works with ``GridSearchCV(cv=...)``; :func:`get` builds one by short name.

>>> import numpy as np
>>> import splitters
>>> s = splitters.get("random", val_size=0.2, random_state=0)
>>> s
RandomSplit(random_state=0, val_size=0.2)
>>> [len(v) for _, v in s.split(np.zeros((10, 3)))]
[2]
"""

from .base import SplitSizeWarning, ValidationSplitter, resolve_size
from .compare import ComparisonResult, compare_strategies, default_models
from .datasets_io import split_dataset
from .dissimilarity import ClusterSplit, MaxMinSplit, TargetMatchedSplit
from .features import Flatten, image_features
from .ordered import HeadSplit, TailSplit
from .sampled import GroupSplit, RandomSplit

STRATEGIES: dict[str, type[ValidationSplitter]] = {
    "tail": TailSplit,
    "head": HeadSplit,
    "random": RandomSplit,
    "group": GroupSplit,
    "maxmin": MaxMinSplit,
    "cluster": ClusterSplit,
    "target": TargetMatchedSplit,
}


def get(name: str, **params) -> ValidationSplitter:
    """A strategy by short name (``tail``, ``head``, ``random``, ``group``, ``maxmin``,
    ``cluster``, ``target``) with its parameters."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}") from None
    return cls(**params)


__all__ = [
    "STRATEGIES",
    "ClusterSplit",
    "ComparisonResult",
    "Flatten",
    "GroupSplit",
    "HeadSplit",
    "MaxMinSplit",
    "RandomSplit",
    "SplitSizeWarning",
    "TailSplit",
    "TargetMatchedSplit",
    "ValidationSplitter",
    "compare_strategies",
    "default_models",
    "get",
    "image_features",
    "resolve_size",
    "split_dataset",
]
