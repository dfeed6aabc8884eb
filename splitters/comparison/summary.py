"""Stage 5 of a comparison: one row per strategy, and the strategy to trust.

:func:`summarise` turns the fits' table and the diagnostics into the columns of
:func:`summary_columns` (each measure per repeat, then its mean and spread); :func:`recommend`
picks from that table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import Metric, gap_stats, rank_agreement, selection_regret
from .diagnostics import DIAGNOSTICS, Diagnostics
from .fits import Fits
from .plan import Plan
from .splits import Splits

MEASURES = ("mae", "bias", "spearman", "kendall", "regret")  # how well validation predicts test, per repeat


def summary_columns() -> list[str]:
    """The columns of :func:`summarise`'s table: each measure and its spread over repeats, every
    diagnostic of :data:`~splitters.comparison.diagnostics.DIAGNOSTICS`, the mean scores, status.

    Returns
    -------
    list of str

    Examples
    --------
    >>> summary_columns()[:3], summary_columns()[-2:]
    (['mae', 'mae_std', 'bias'], ['status', 'error'])
    """
    return [c for m in MEASURES for c in (m, f"{m}_std")] + [*DIAGNOSTICS, "val_mean", "test_mean", "status", "error"]


def _spread(values: np.ndarray) -> float:
    """Standard deviation over repeats of the finite values (0.0 for one repeat; NaN for none)."""
    finite = values[np.isfinite(values)]
    return float(np.std(finite)) if len(finite) else float("nan")


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def _per_repeat(part: pd.DataFrame, metric: Metric) -> dict[str, np.ndarray]:
    """mae, bias, spearman, kendall, regret, val_mean, test_mean: one value per repeat."""
    rows = []
    for _, rep in part.groupby("repeat"):
        v, t = rep.val_score.to_numpy(float), rep.test_score.to_numpy(float)
        mae, bias = gap_stats(v, t)
        rho, tau = rank_agreement(v, t)
        rows.append((mae, bias, rho, tau, selection_regret(v, t, metric.greater_is_better), v.mean(), t.mean()))
    arr = np.array(rows, dtype=float).reshape(-1, 7)
    return dict(zip(("mae", "bias", "spearman", "kendall", "regret", "val_mean", "test_mean"), arr.T))


def _status(table: pd.DataFrame, name: str, split_error: str | None) -> tuple[str, str | None]:
    if split_error is not None:
        return "failed", split_error
    rows = table[table.strategy == name]
    failed = rows[rows.status == "failed"]
    if failed.empty:
        return "ok", None
    reasons = "; ".join(dict.fromkeys(f"{m}: {e}" for m, e in zip(failed.model, failed.error)))
    return ("failed" if len(failed) == len(rows) else "partial"), reasons


def summarise(plan: Plan, splits: Splits, fits: Fits, diagnostics: Diagnostics) -> pd.DataFrame:
    """Stage 5: one row per strategy (:func:`summary_columns`), from the ``ok`` fits only.

    Each measure is computed per repeat, then averaged; ``*_std`` is its spread over repeats.

    Parameters
    ----------
    plan, splits, fits, diagnostics
        The records of the earlier stages.

    Returns
    -------
    pandas.DataFrame
        Indexed by strategy, in the plan's order.

    Examples
    --------
    >>> import numpy as np
    >>> from splitters.comparison import diagnose, fit_models, make_splits, plan_comparison
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] > 0).astype(int)
    >>> plan = plan_comparison(X, y, X[:20], y[:20], strategies=["tail"], models=["lda"], repeats=1, progress=False)
    >>> splits = make_splits(plan); fits = fit_models(plan, splits)
    >>> s = summarise(plan, splits, fits, diagnose(plan, splits))
    >>> list(s.index), s.loc["tail", "status"]
    (['tail'], 'ok')
    """
    records = []
    ok = fits.table[(fits.table.status == "ok") & fits.table.model.notna()] if plan.labeled else fits.table.iloc[:0]
    for name in plan.strategies:
        rec: dict[str, Any] = {"strategy": name}
        part = ok[ok.strategy == name]
        measures = _per_repeat(part, plan.metric) if len(part) else {}
        for key in (*MEASURES, "val_mean", "test_mean"):
            values = measures.get(key, np.array([np.nan]))
            rec[key] = _nanmean(values)
            if key in MEASURES:
                rec[f"{key}_std"] = _spread(values)
        diag = diagnostics.values.get(name, {})
        for key in DIAGNOSTICS:
            rec[key] = _nanmean(np.asarray(diag.get(key, [np.nan]), dtype=float))
        rec["status"], rec["error"] = _status(fits.table, name, splits.failed.get(name))
        records.append(rec)
    return pd.DataFrame(records).set_index("strategy")[summary_columns()]


def recommend(summary: pd.DataFrame, labeled: bool) -> str:
    """The strategy to trust.

    Labeled: smallest ``mae`` (ties: higher Spearman). Unlabeled, or when no fit could be
    scored: the best sum of ranks of each diagnostic's distance to its ideal value (``nn_shift``
    nearest 0, ``adv_auc`` nearest 0.5, ...), over the diagnostics some strategy has. Strategies
    without a value are never picked.

    Parameters
    ----------
    summary : DataFrame
        :func:`summarise`'s table (``mae``, ``spearman`` and the diagnostics' columns).
    labeled : bool
        Whether the comparison had test labels.

    Returns
    -------
    str
        The strategy's name.

    Raises
    ------
    ValueError
        If no strategy has a value to rank by.

    Examples
    --------
    >>> s = pd.DataFrame({"mae": [0.2, 0.1], "spearman": [1.0, 0.5], "nn_shift": [0.1, 0.3],
    ...                   "adv_auc": [0.5, 0.7]}, index=["a", "b"])
    >>> recommend(s, labeled=True), recommend(s, labeled=False)
    ('b', 'a')
    """
    if labeled and summary.mae.notna().any():
        order = summary[summary.mae.notna()].assign(_rho=-summary.spearman.fillna(-1)).sort_values(["mae", "_rho"])
        return str(order.index[0])
    # A diagnostic no strategy has (e.g. adv_auc on a one-row target) is left out, not a reason to pick none.
    distances = [(summary[d] - spec.ideal).abs() for d, spec in DIAGNOSTICS.items() if d in summary]
    ranks = [m.rank() for m in distances if m.notna().any()]
    score = sum(ranks) if ranks else pd.Series(np.nan, index=summary.index)
    if score.isna().all():
        raise ValueError("nothing could be measured: every fit and every diagnostic failed (see the reasons above)")
    return str(score.sort_values(kind="stable").index[0])
