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
from .compare import DEFAULT_STRATEGIES, ComparisonResult, compare_strategies, default_models
from .datasets_io import split_dataset
from .dissimilarity import ClusterSplit, MaxMinSplit, TargetMatchedSplit
from .features import Flatten, image_features
from .metrics import SCORE_METRICS, Metric, get_metric
from .ordered import HeadSplit, TailSplit
from .registry import STRATEGIES, get
from .sampled import GroupSplit, RandomSplit

__all__ = [
    "DEFAULT_STRATEGIES",
    "SCORE_METRICS",
    "STRATEGIES",
    "ClusterSplit",
    "ComparisonResult",
    "Flatten",
    "GroupSplit",
    "HeadSplit",
    "MaxMinSplit",
    "Metric",
    "RandomSplit",
    "SplitSizeWarning",
    "TailSplit",
    "TargetMatchedSplit",
    "ValidationSplitter",
    "compare_strategies",
    "default_models",
    "get",
    "get_metric",
    "image_features",
    "resolve_size",
    "split_dataset",
]
