"""Stage 2 of a comparison: each strategy's ``(train, validation)`` rows for each repeat.

A strategy that cannot split the pool is recorded in :class:`Splits` (``failed``, ``notes``),
not raised; repeat ``r`` reseeds the splitter with ``Plan.seed(r)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..base import ValidationSplitter
from .failures import reason
from .plan import Plan


@dataclass
class Splits:
    """``parts[(strategy, repeat)] = (train_indices, validation_indices)``; ``failed`` maps a
    strategy that could not split to the reason."""

    parts: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _reseeded(splitter, seed: int):
    """The splitter with ``random_state=seed``, built from its parameters: no deep copy of array
    parameters such as ``X_target``, and the caller's object is left alone."""
    if not hasattr(splitter, "get_params"):
        return splitter
    params = splitter.get_params(deep=False)
    if "random_state" not in params:
        return splitter
    return type(splitter)(**{**params, "random_state": seed})


def _draw(plan: Plan, name: str, splitter) -> list[tuple[np.ndarray, np.ndarray]]:
    """One ``(train, validation)`` pair per repeat, each repeat with its own seed."""
    # the validated fast path only where split() is the base class's (a subclass may override it)
    fast = isinstance(splitter, ValidationSplitter) and type(splitter).split is ValidationSplitter.split
    if fast and name not in plan.prevalidated:
        splitter.check_arrays()
    out = []
    for r in range(plan.repeats):
        s = _reseeded(splitter, plan.seed(r))
        pairs = s.split_checked(plan.X, plan.y, plan.groups) if fast else s.split(plan.X, plan.y, plan.groups)
        train, val = next(iter(pairs))
        out.append((np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)))
    return out


def make_splits(plan: Plan) -> Splits:
    """Stage 2: each strategy's ``(train, validation)`` for each repeat.

    Parameters
    ----------
    plan : Plan

    Returns
    -------
    Splits
        A strategy that raises is recorded in ``failed`` and ``notes``; warnings (e.g. a
        validation part smaller than asked) and classes missing from a training part go to
        ``notes``.

    Raises
    ------
    ValueError
        If no strategy could split the pool.

    Examples
    --------
    >>> import numpy as np
    >>> from splitters.comparison import plan_comparison
    >>> plan = plan_comparison(np.zeros((10, 2)), np.arange(10) % 2, np.ones((4, 2)), strategies=["tail"],
    ...                        models=["lda"], repeats=2)
    >>> [(key, val.tolist()) for key, (train, val) in make_splits(plan).parts.items()]
    [(('tail', 0), [9]), (('tail', 1), [9])]
    """
    out = Splits({})
    for name, splitter in plan.strategies.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                pairs = _draw(plan, name, splitter)
            except Exception as err:  # one broken strategy must not end the comparison
                out.failed[name] = reason(err)
                out.notes.append(f"{name}: could not split the pool ({reason(err)})")
                continue
        out.notes += list(dict.fromkeys(f"{name}: {w.message}" for w in caught))
        for r, (train, val) in enumerate(pairs):
            missing = np.setdiff1d(plan.classes, plan.y[train])
            if len(missing):
                out.notes.append(f"{name}, repeat {r}: classes {missing.tolist()} are missing from the training part; "
                                 "models cannot predict them (scored as errors)")
            out.parts[(name, r)] = (train, val)
    if not out.parts:
        raise ValueError("no strategy could split the pool: " + "; ".join(f"{k}: {v}" for k, v in out.failed.items()))
    return out
