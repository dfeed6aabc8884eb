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

import importlib as _importlib
import pkgutil as _pkgutil

# Each public name and the module that holds it. A name's module is imported on first use
# (PEP 562), so ``import splitters.rules`` (as the mnist_hf builder does) costs numpy alone,
# not scikit-learn, pandas and joblib.
_HOMES = {
    "DEFAULT_STRATEGIES": "comparison",
    "SCORE_METRICS": "metrics",
    "STRATEGIES": "registry",
    "ClusterSplit": "dissimilarity",
    "ComparisonResult": "comparison",
    "Flatten": "features",
    "GroupSplit": "sampled",
    "HeadSplit": "ordered",
    "MaxMinSplit": "dissimilarity",
    "Metric": "metrics",
    "RandomSplit": "sampled",
    "SplitSizeWarning": "base",
    "TailSplit": "ordered",
    "TargetMatchedSplit": "dissimilarity",
    "ValidationSplitter": "base",
    "compare_strategies": "comparison",
    "default_models": "comparison",
    "estimate_from_predictions": "comparison",
    "get": "registry",
    "get_metric": "metrics",
    "image_features": "features",
    "resolve_size": "base",
    "split_dataset": "datasets_io",
}
__all__ = list(_HOMES)
_SUBMODULES = frozenset(m.name for m in _pkgutil.iter_modules(__path__))
# Aliases of modules that moved (each warns and names the new home); importable, not advertised.
_DEPRECATED = frozenset({"compare", "estimates", "plan", "report"})


def __getattr__(name: str) -> object:
    if name in _HOMES:
        value = getattr(_importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:  # ``import splitters; splitters.comparison`` works without importing it first
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *(_SUBMODULES - _DEPRECATED)})
