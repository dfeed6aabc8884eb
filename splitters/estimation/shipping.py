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
        Indexed by model: ``val_score``, ``estimate``, ``lo``, ``hi`` (and ``test_score``;
        ``reliable``, true when every repeat's estimate has a basis, and the first ``reason``
        when not).

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
    out = part.groupby("model")[cols].mean()
    if "reliable" in part:  # a model's estimate has a basis when every repeat's has
        out["reliable"] = part.groupby("model").reliable.all()
        out["reason"] = part.groupby("model").reason.agg(lambda r: next((x for x in r if x), ""))
    return out.sort_values("estimate", ascending=False)


def model_to_ship(table: pd.DataFrame, strategy: str, estimator: str = DEFAULT_ESTIMATOR) -> dict[str, Any]:
    """The model to ship, read from ``strategy``'s validation parts, with its estimate, interval and
    validation score (and test score when known).

    Validation ranks models better than any label-free score we measured, so the pick is
    validation's best model (mean over repeats) unless the estimates have a basis for every model
    and tell the models apart: another model's whole interval lies above validation's pick's
    interval. Models whose predictions failed are never shipped.

    Parameters
    ----------
    table : DataFrame
        :attr:`Estimates.table`.
    strategy : str
        Whose validation parts to read (e.g. the recommended strategy).
    estimator : str
        Which estimator may overrule validation.

    Returns
    -------
    dict
        ``model``, ``strategy``, ``estimator``, ``basis`` (``"validation"`` or ``"estimate"``),
        ``val_score``, ``estimate``, ``lo``, ``hi`` (and ``test_score``), ``reliable`` and
        ``reason`` (why its estimate has no basis, or "").

    Raises
    ------
    ValueError
        As :func:`model_estimates`, or when no model of ``strategy`` has a validation score.

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": "random", "repeat": 0, "model": ["a", "b"], "estimator": "doc",
    ...                   "val_score": [0.9, 0.85], "estimate": [0.6, 0.8], "lo": [0.5, 0.72], "hi": [0.7, 0.9]})
    >>> ship = model_to_ship(t, "random", "doc"); ship["model"], ship["basis"]
    ('b', 'estimate')
    >>> ship = model_to_ship(t.assign(hi=[0.75, 0.9]), "random", "doc")  # the intervals overlap
    >>> ship["model"], ship["basis"]
    ('a', 'validation')
    """
    part = table[table.status != "failed"] if "status" in table else table
    per_model = model_estimates(part, strategy, estimator).dropna(subset=["val_score"])
    if per_model.empty:
        raise ValueError(f"no model of strategy {strategy!r} has a validation score to ship by")
    pick = per_model.val_score.idxmax()
    basis = "validation"
    reliable = per_model.reliable.astype(bool) if "reliable" in per_model else pd.Series(True, per_model.index)
    reliable &= per_model.estimate.notna()
    best = per_model.estimate.idxmax() if per_model.estimate.notna().any() else pick
    if reliable.all() and best != pick and per_model.lo[best] > per_model.hi[pick]:
        pick, basis = best, "estimate"
    row = per_model.loc[pick]
    out = {"model": str(pick), "strategy": strategy, "estimator": estimator, "basis": basis,
           **{k: float(v) for k, v in row.items() if k not in ("reliable", "reason")}}
    out["reliable"] = bool(reliable[pick])
    out["reason"] = str(row.get("reason", ""))
    return out
