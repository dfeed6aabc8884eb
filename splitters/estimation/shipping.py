"""Reading the estimates table: each model's estimate, and the model to ship."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .estimators import DEFAULT_ESTIMATOR


def model_estimates(table: pd.DataFrame, strategy: str, estimator: str = DEFAULT_ESTIMATOR) -> pd.DataFrame:
    """Per model, averaged over repeats: validation score, estimate and interval (and test score
    when known), best estimate first.

    Parameters
    ----------
    table : DataFrame
        :attr:`Estimates.table`.
    strategy : str
        Whose validation parts to read.
    estimator : str
        One of :data:`splitters.estimation.ESTIMATORS`.

    Returns
    -------
    DataFrame
        Indexed by model: ``val_score``, ``estimate``, ``lo``, ``hi`` (and ``test_score``).

    Raises
    ------
    ValueError
        When the table has no rows for ``strategy`` and ``estimator``.

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": "random", "repeat": 0, "model": ["a", "b"], "estimator": "doc",
    ...                   "val_score": 0.9, "estimate": [0.6, 0.8], "lo": [0.5, 0.7], "hi": [0.7, 0.9]})
    >>> model_estimates(t, "random", "doc").index.tolist()
    ['b', 'a']
    """
    part = table[(table.strategy == strategy) & (table.estimator == estimator)]
    if part.empty:
        raise ValueError(f"no estimates for strategy {strategy!r} and estimator {estimator!r}; estimators: "
                         f"{sorted(set(table.estimator))}, strategies: {sorted(set(table.strategy))}")
    cols = [c for c in ("val_score", "estimate", "lo", "hi", "test_score") if c in part]
    return part.groupby("model")[cols].mean().sort_values("estimate", ascending=False)


def model_to_ship(table: pd.DataFrame, strategy: str, estimator: str = DEFAULT_ESTIMATOR) -> dict[str, Any]:
    """The model with the best estimated target score (mean over repeats), with its estimate,
    interval and validation score (and test score when known).

    Parameters
    ----------
    table : DataFrame
        :attr:`Estimates.table`.
    strategy : str
        Whose validation parts to read (e.g. the recommended strategy).
    estimator : str
        Which estimator decides.

    Returns
    -------
    dict
        ``model``, ``strategy``, ``estimator``, ``val_score``, ``estimate``, ``lo``, ``hi`` (and
        ``test_score``).

    Raises
    ------
    ValueError
        As :func:`model_estimates`.

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": "random", "repeat": 0, "model": ["a", "b"], "estimator": "doc",
    ...                   "val_score": 0.9, "estimate": [0.6, 0.8], "lo": [0.5, 0.7], "hi": [0.7, 0.9]})
    >>> model_to_ship(t, "random", "doc")["model"]
    'b'
    """
    per_model = model_estimates(table, strategy, estimator).dropna(subset=["estimate"])
    if per_model.empty:
        raise ValueError(f"no finite {estimator!r} estimates for strategy {strategy!r}")
    best = per_model.iloc[0]
    return {"model": str(per_model.index[0]), "strategy": strategy, "estimator": estimator,
            **{k: float(v) for k, v in best.items()}}

