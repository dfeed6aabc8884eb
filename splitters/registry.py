"""Split strategies by short name: the one table mapping names to classes.

>>> from splitters.registry import get
>>> get("tail", val_size=2)
TailSplit(val_size=2)
"""

from __future__ import annotations

from .base import ValidationSplitter
from .dissimilarity import ClusterSplit, MaxMinSplit, TargetMatchedSplit
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
    """A strategy by short name, built with ``params``.

    Parameters
    ----------
    name : str
        One of ``tail``, ``head``, ``random``, ``group``, ``maxmin``, ``cluster``, ``target``.
    **params
        Constructor parameters of that strategy (``val_size``, ``random_state``, ...).

    Returns
    -------
    ValidationSplitter
        A new, unfitted splitter.

    Raises
    ------
    ValueError
        If ``name`` is not a known strategy.

    Examples
    --------
    >>> get("random", val_size=0.2, random_state=0)
    RandomSplit(random_state=0, val_size=0.2)
    """
    try:
        cls = STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}") from None
    return cls(**params)
