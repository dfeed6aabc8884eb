"""The estimation stage of a comparison: from the fits' predictions to label-free estimates of
every model's target accuracy (:mod:`splitters.estimates`), and, with test labels, how right
they were.

The stage reuses the predictions the fit stage already made (no model is refit); the only new
fit is one domain classifier per validation part, for the importance weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import ndtr

from .estimates import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    POOR_FIT_R2,
    GroupPredictions,
    _probit,
    density_ratio,
    estimate_accuracies,
)
from .metrics import rank_agreement, selection_regret

ESTIMATE_COLUMNS = ["strategy", "repeat", "model", "estimator", "val_score", "estimate", "lo", "hi"]
DOMAIN_ROWS = 5000  # target rows the domain classifier sees, per validation part


@dataclass
class Estimates:
    """What :func:`estimate_scores` found.

    ``table``: one row per strategy, repeat, model and estimator (:data:`ESTIMATE_COLUMNS`;
    ``ess``, the effective sample size of the importance weights, on the ``importance_weighted``
    rows; ``chance_val`` and ``chance_target``, the accuracy the model's predicted-class shares
    give by chance on validation and on target, on the ``aline_kappa`` rows; ``test_score`` with
    test labels). ``summary``: with test labels, one row per strategy and
    estimator (``mae``, ``bias``, ``coverage``, ``width``, ``spearman``, ``regret``), else empty. ``lines``:
    per strategy, the agreement line (slope, bias, r2, resid_sd, n_pairs). ``ess``: per
    (strategy, repeat), the effective sample size of the importance weights.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    default: str = DEFAULT_ESTIMATOR
    lines: dict[str, Any] = field(default_factory=dict)
    ess: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _group_predictions(plan, splits, fits, key, notes: list[str]) -> GroupPredictions | None:
    """One validation part's predictions as class-index arrays (models that failed left out)."""
    strategy, repeat = key
    names, pv, pt = [], [], []
    n_classes = len(plan.classes)
    for m in plan.models:
        p = fits.predictions.get((strategy, repeat, m))
        if p is None:
            continue
        # A model without predict_proba still has labels: one-hot rows (confidence 1) stand in.
        vp = p.val_proba if p.val_proba is not None else np.eye(n_classes)[np.searchsorted(plan.classes, p.val_pred)]
        tp = p.test_proba if p.test_proba is not None else np.eye(n_classes)[np.searchsorted(plan.classes, p.test_pred)]
        names.append(m)
        pv.append(vp)
        pt.append(tp)
    if not names:
        return None
    val = splits.parts[key][1]
    y_val = np.searchsorted(plan.classes, plan.y[val])
    try:
        weights = density_ratio(plan.X[val], plan.X_test, random_state=plan.seed(repeat), max_rows=DOMAIN_ROWS)
    except ValueError as err:  # e.g. a one-row target: importance weighting falls back to plain validation
        notes.append(f"{strategy}, repeat {repeat}: no importance weights ({err})")
        weights = None
    return GroupPredictions(np.stack(pv), y_val, np.stack(pt), weights, names)


def estimate_scores(plan, splits, fits, *, n_boot: int = 50) -> Estimates:
    """Estimate every model's accuracy on ``plan.X_test`` from each strategy's validation part.

    Parameters
    ----------
    plan : splitters.plan.Plan
        The comparison's inputs (pool, target rows, models, classes, seeds).
    splits : splitters.splits.Splits
        The validation parts.
    fits : splitters.fits.Fits
        The fits, with their predictions kept (``fit_models(..., keep_predictions=True)``).
    n_boot : int, default=50
        Bootstrap replicates per strategy for the intervals.

    Returns
    -------
    Estimates

    Raises
    ------
    ValueError
        When ``fits`` carries no predictions at all.

    Examples
    --------
    >>> import numpy as np
    >>> from splitters.compare import fit_models, make_splits, plan_comparison
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    >>> plan = plan_comparison(X, y, X[:100] + 0.5, None, strategies=["random"], models=["lda", "naive_bayes", "knn"],
    ...                        repeats=2, progress=False)
    >>> splits = make_splits(plan)
    >>> est = estimate_scores(plan, splits, fit_models(plan, splits, keep_predictions=True), n_boot=10)
    >>> sorted(set(est.table.estimator)) == sorted(ESTIMATORS), len(est.table) == 2 * 3 * len(ESTIMATORS)
    (True, True)
    """
    if not fits.predictions:
        raise ValueError("no predictions to estimate from: run fit_models(..., keep_predictions=True)")
    groups, notes = {}, []
    for key in splits.parts:
        try:
            g = _group_predictions(plan, splits, fits, key, notes)
        except Exception as err:  # a failed domain classifier must not sink the other estimates
            notes.append(f"{key[0]}, repeat {key[1]}: no estimates ({type(err).__name__}: {err})")
            continue
        if g is not None:
            groups[key] = g
    if not groups:
        raise ValueError("no model of any strategy has predictions to estimate from")
    table, info = estimate_accuracies(groups, n_boot=n_boot, random_state=plan.random_state)
    table.insert(0, "strategy", [k[0] for k in table.key])
    table.insert(1, "repeat", [int(k[1]) for k in table.key])
    # The importance-weighted rows carry the effective sample size of their weights: how many
    # validation rows the reweighted score is worth.
    table["ess"] = [info["ess"][k] if e == "importance_weighted" else np.nan for k, e in zip(table.key, table.estimator)]
    # The aline_kappa rows carry each model's chance accuracies, from which its estimate is built
    # when a line was fitted, so that line_floor(..., kappa=True) can measure what any line could.
    chance = {(k, m): (float(ev), float(et)) for k, g in groups.items()
              for m, ev, et in zip(g.models, *info["chance"][k])}
    for i, column in enumerate(("chance_val", "chance_target")):
        table[column] = [chance[(k, m)][i] if e == "aline_kappa" else np.nan
                         for k, m, e in zip(table.key, table.model, table.estimator)]
    table = table.drop(columns="key")
    if plan.labeled:
        truth = {(s, r, m): float(np.mean(p.test_pred == plan.y_test)) for (s, r, m), p in fits.predictions.items()}
        table["test_score"] = [truth[(s, r, m)] for s, r, m in zip(table.strategy, table.repeat, table.model)]
    for s, line in info["lines"].items():
        if line is not None and line["r2"] < POOR_FIT_R2:
            notes.append(f"{s}: the agreement line fits poorly (R^2 {line['r2']:.2f}); estimates are less reliable")
    if plan.metric.name != "accuracy":
        notes.append(f"the label-free estimates are of accuracy, not of {plan.metric.name}")
    summary = summarise_estimates(table) if plan.labeled else pd.DataFrame()
    ess = {f"{s}/{r}": v for (s, r), v in info["ess"].items()}
    return Estimates(table, summary, DEFAULT_ESTIMATOR, info["kappa_lines"], ess, notes)


def summarise_estimates(table: pd.DataFrame) -> pd.DataFrame:
    """How right each estimator was, per strategy: mean absolute error and bias (estimate - test),
    interval coverage and mean interval width, Spearman between estimated and test scores over the
    models, and the regret of shipping the model the estimate prefers (means over repeats).

    Parameters
    ----------
    table : DataFrame
        :attr:`Estimates.table` with a ``test_score`` column.

    Returns
    -------
    DataFrame
        Indexed by (strategy, estimator).

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": "random", "repeat": 0, "model": ["a", "b"], "estimator": "doc",
    ...                   "val_score": 0.9, "estimate": [0.8, 0.6], "lo": [0.7, 0.5], "hi": [0.9, 0.65],
    ...                   "test_score": [0.7, 0.7]})
    >>> summarise_estimates(t).round(3).to_dict("records")
    [{'mae': 0.1, 'bias': 0.0, 'coverage': 0.5, 'width': 0.175, 'spearman': nan, 'regret': 0.0}]
    """
    records = []
    for (s, e), part in table.groupby(["strategy", "estimator"], sort=False):
        err = part.estimate - part.test_score
        per_repeat = []
        for _, rep in part.groupby("repeat"):
            ok = rep.dropna(subset=["estimate", "test_score"])
            rho = rank_agreement(ok.estimate.to_numpy(), ok.test_score.to_numpy())[0] if len(ok) else np.nan
            reg = selection_regret(ok.estimate.to_numpy(), ok.test_score.to_numpy()) if len(ok) else np.nan
            per_repeat.append((rho, reg))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # undefined rank correlations are NaN
            rho, reg = np.nanmean(np.array(per_repeat, dtype=float), axis=0)
        records.append({"strategy": s, "estimator": e, "mae": float(err.abs().mean()), "bias": float(err.mean()),
                        "coverage": float(((part.lo <= part.test_score) & (part.test_score <= part.hi)).mean()),
                        "width": float((part.hi - part.lo).mean()),
                        "spearman": float(rho), "regret": float(reg)})
    return pd.DataFrame(records).set_index(["strategy", "estimator"])


def line_floor(table: pd.DataFrame, *, kappa: bool = False) -> pd.Series:
    """The mean absolute error of the best probit line from validation to test accuracy, fitted
    with the test labels: a floor for the estimators that apply one line.

    ``aline_s`` maps every model's validation score to its estimate through one line in probit
    space per strategy (fitted over all its repeats). However that line is found, its error cannot
    fall below that of the line chosen, with the test scores in hand, to minimise the very error
    being measured; what remains is how far the models' test scores lie off any line. With
    ``kappa=True`` the lines are those of ``aline_kappa``: from the probit of each model's
    validation kappa to its target kappa, each model's chance accuracy on target added back
    (``estimate = e_t + ndtr(slope * probit(kappa_val) + bias) * (1 - e_t)``), which is the floor
    for the default estimator. ``aline_d`` solves a pairwise system per model and is bound by
    neither. ``scripts/bench_estimates.py`` reports both beside the estimators' errors.

    The fit is in-sample (two parameters), so the floor is optimistic. It minimises the absolute
    error on the accuracy scale by Nelder-Mead, started from the least-squares line and from the
    best points of a dense grid of slopes (-6 to 8) and biases (-8 to 8), so that a local minimum
    does not leave the floor too high.

    Parameters
    ----------
    table : DataFrame
        Rows with ``strategy``, ``repeat``, ``model``, ``val_score`` and ``test_score`` (for example
        :attr:`Estimates.table`; each (strategy, repeat, model) counts once, whatever the
        estimator), and with ``kappa=True`` the chance accuracies ``chance_val`` and
        ``chance_target`` (on the ``aline_kappa`` rows of :attr:`Estimates.table`). Rows with a
        missing value are left out.
    kappa : bool, default=False
        The floor of ``aline_kappa``'s lines instead of ``aline_s``'s.

    Returns
    -------
    Series
        Per strategy, the floor (accuracy scale, like ``mae`` in :func:`summarise_estimates`).

    Raises
    ------
    ValueError
        When a column is missing, or when rows of one (strategy, repeat, model) disagree on its
        scores (a table that mixes runs, e.g. several seeds).

    Examples
    --------
    >>> from scipy.special import ndtr
    >>> v = ndtr(np.array([0.0, 0.5, 1.0, 1.5])); t = ndtr(0.8 * np.array([0.0, 0.5, 1.0, 1.5]) - 0.6)
    >>> tab = pd.DataFrame({"strategy": "random", "repeat": 0, "model": list("abcd"), "val_score": v,
    ...                     "test_score": t})
    >>> float(line_floor(tab)["random"]) < 1e-6
    True
    """
    columns = ["val_score", "test_score"] + (["chance_val", "chance_target"] if kappa else [])
    missing = [c for c in ["strategy", "repeat", "model", *columns] if c not in table]
    if missing:
        raise ValueError(f"line_floor needs the column(s) {missing}; the table has {list(table.columns)}")
    key = ["strategy", "repeat", "model"]
    fits = table[key + columns].dropna(subset=columns).drop_duplicates()
    clash = fits.duplicated(key, keep=False)
    if clash.any():
        first = fits[clash].iloc[0]
        raise ValueError(f"line_floor: rows of strategy {first.strategy!r}, repeat {first.repeat}, model "
                         f"{first.model!r} disagree on {', '.join(columns)}: one comparison at a time")
    out = {}
    for s, part in fits.groupby("strategy", sort=False):
        e_v, e_t = (part.chance_val.to_numpy(), part.chance_target.to_numpy()) if kappa else (0.0, 0.0)
        x = _probit((part.val_score.to_numpy() - e_v) / np.maximum(1 - e_v, 1e-12))
        out[s] = _lad_probit_line(x, part.test_score.to_numpy(), e_t)
    return pd.Series(out, name="line_floor", dtype=float)


_GRID = np.stack(np.meshgrid(np.linspace(-6, 8, 141), np.linspace(-8, 8, 161)), axis=-1).reshape(-1, 2)


def _lad_probit_line(x: np.ndarray, t: np.ndarray, e_t=0.0) -> float:
    """min over (slope, bias) of mean |e_t + ndtr(slope * x + bias) * (1 - e_t) - t|."""
    e_t = np.broadcast_to(np.asarray(e_t, dtype=float), t.shape)

    def mae(q):
        return np.mean(np.abs(e_t + ndtr(np.outer(np.atleast_2d(q)[:, 0], x) + np.atleast_2d(q)[:, 1:])
                              * (1 - e_t) - t), axis=-1)

    on_grid = mae(_GRID)
    starts = list(_GRID[np.argsort(on_grid)[:5]])
    if np.ptp(x) > 0:
        starts.append(np.polyfit(x, _probit((t - e_t) / np.maximum(1 - e_t, 1e-12)), 1))
    polished = [minimize(lambda q: float(mae(q)[0]), q, method="Nelder-Mead",
                         options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}).fun for q in starts]
    return float(min(min(polished), on_grid.min()))


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
        One of :data:`splitters.estimates.ESTIMATORS`.

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


__all__ = ["ESTIMATE_COLUMNS", "ESTIMATORS", "Estimates", "estimate_scores", "model_estimates", "model_to_ship",
           "summarise_estimates"]
