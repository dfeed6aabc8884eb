"""The estimation stage of a comparison: from the fits' predictions to label-free estimates of
every model's target accuracy, and, with test labels, how right they were.

The stage reuses the predictions the fit stage already made (no model is refit); the only new
fit is one domain classifier per validation part, for the importance weights. It reads the
comparison's records (plan, splits, fits) by their attributes and imports nothing of the engine.

:func:`estimate_from_probabilities` is the same stage over probabilities a user brings (models
trained anywhere): it checks the arrays, records a model whose probabilities are not
probabilities as a ``failed`` row, and runs one validation part, so its table is a comparison's
(``strategy`` ``"own"``, repeat 0). Fitting reference models to add to a small zoo is the
engine's work: :func:`splitters.estimate_from_predictions` does it and calls this function.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import rank_agreement, selection_regret
from .agreement import POOR_FIT_R2
from .estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from .intervals import estimate_accuracies
from .predictions import GroupPredictions, check_proba, probability_problem
from .weights import density_ratio

ESTIMATE_COLUMNS = ["strategy", "repeat", "model", "estimator", "val_score", "estimate", "lo", "hi", "reliable", "reason"]
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
    (strategy, repeat), the effective sample size of the importance weights. ``warnings``: what a
    reader must see before any estimate (:func:`estimate_warnings`).
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    default: str = DEFAULT_ESTIMATOR
    lines: dict[str, Any] = field(default_factory=dict)
    ess: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _group_predictions(plan, splits, fits, key, notes: list[str], failed: dict | None = None) -> GroupPredictions | None:
    """One validation part's predictions as class-index arrays (models that failed left out; those
    whose probabilities are not probabilities recorded in ``failed`` with the reason)."""
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
        problem = probability_problem(vp) or probability_problem(tp)
        if problem and failed is not None:
            failed[(strategy, repeat, m)] = f"{m}: predict_proba gave {problem}"
            continue
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


def estimate_scores(plan, splits, fits, *, n_boot: int = 50, progress: bool | None = None) -> Estimates:
    """Estimate every model's accuracy on ``plan.X_test`` from each strategy's validation part.

    Parameters
    ----------
    plan : splitters.comparison.Plan
        The comparison's inputs (pool, target rows, models, classes, seeds).
    splits : splitters.comparison.Splits
        The validation parts.
    fits : splitters.comparison.Fits
        The fits, with their predictions kept (``fit_models(..., keep_predictions=True)``).
    n_boot : int, default=50
        Bootstrap replicates per strategy for the intervals.
    progress : bool, optional
        Show a progress bar over the bootstrap replicates (default: ``plan.progress``).

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
    >>> from splitters.comparison import fit_models, make_splits, plan_comparison
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    >>> plan = plan_comparison(X, y, X[:100] + 0.5, None, strategies=["random"], models=["lda", "naive_bayes", "knn"],
    ...                        repeats=2, progress=False)
    >>> splits = make_splits(plan)
    >>> est = estimate_scores(plan, splits, fit_models(plan, splits, keep_predictions=True), n_boot=10)
    >>> from splitters.estimation import ESTIMATORS
    >>> sorted(set(est.table.estimator)) == sorted(ESTIMATORS), len(est.table) == 2 * 3 * len(ESTIMATORS)
    (True, True)
    """
    if not fits.predictions:
        raise ValueError("no predictions to estimate from: run fit_models(..., keep_predictions=True)")
    groups, notes, failed = {}, [], {}
    for key in splits.parts:
        try:
            g = _group_predictions(plan, splits, fits, key, notes, failed)
        except Exception as err:  # a failed domain classifier must not sink the other estimates
            notes.append(f"{key[0]}, repeat {key[1]}: no estimates ({type(err).__name__}: {err})")
            continue
        if g is not None:
            groups[key] = g
    notes += sorted(set(failed.values()))
    if not groups:
        raise ValueError("no model of any strategy has predictions to estimate from"
                         + "".join(f"; {r}" for r in sorted(set(failed.values()))))
    show = getattr(plan, "progress", False) if progress is None else progress
    table, info = estimate_accuracies(groups, n_boot=n_boot, random_state=plan.random_state, progress=show)
    table = with_failed_rows(with_row_details(table, groups, info), failed)
    if plan.labeled:
        truth = {(s, r, m): float(np.mean(p.test_pred == plan.y_test)) for (s, r, m), p in fits.predictions.items()}
        table["test_score"] = [truth[(s, r, m)] for s, r, m in zip(table.strategy, table.repeat, table.model)]
    for s, line in info["lines"].items():
        if line is not None and line["r2"] < POOR_FIT_R2:
            notes.append(f"{s}: the agreement line fits poorly (R^2 {line['r2']:.2f}); estimates are less reliable")
    summary = summarise_estimates(table) if plan.labeled else pd.DataFrame()
    ess = {f"{s}/{r}": v for (s, r), v in info["ess"].items()}
    return Estimates(table, summary, DEFAULT_ESTIMATOR, info["kappa_lines"], ess, notes, estimate_warnings(table))


def estimate_warnings(table: pd.DataFrame, estimator: str = DEFAULT_ESTIMATOR) -> list[str]:
    """One plain line per strategy whose ``estimator`` estimates have no basis, and per model whose
    predictions failed: what a reader must see before any estimate.

    Parameters
    ----------
    table : DataFrame
        :attr:`Estimates.table`.
    estimator : str
        The estimator whose rows are read.

    Returns
    -------
    list of str

    Examples
    --------
    >>> t = pd.DataFrame({"strategy": ["tail", "tail", "random"], "repeat": 0, "model": ["a", "b", "a"],
    ...                   "estimator": "e", "reliable": [False, False, True],
    ...                   "reason": ["the agreement line does not fit (R^2 0.02 < 0.3)"] * 2 + [""]})
    >>> estimate_warnings(t, "e")
    ['tail: cannot estimate the target accuracy here: the agreement line does not fit (R^2 0.02 < 0.3).']
    """
    rows = table[table.estimator == estimator]
    failed = rows.status == "failed" if "status" in rows else pd.Series(False, index=rows.index)
    out = [f"{r}; it is left out of the estimates and never shipped." for r in dict.fromkeys(rows.reason[failed])]
    for strategy, part in rows[~failed].groupby("strategy", sort=False):
        why = [r for r in dict.fromkeys(part.reason[~part.reliable.astype(bool)]) if r]
        if why:
            out.append(f"{strategy}: cannot estimate the target accuracy here: {'; '.join(why)}.")
    return out


def with_row_details(table: pd.DataFrame, groups: dict, info: dict) -> pd.DataFrame:
    """The table keyed by strategy and repeat, with ``ess`` and the chance accuracies on their rows.

    Parameters
    ----------
    table, info
        What :func:`splitters.estimation.estimate_accuracies` returned for ``groups``, whose keys
        are ``(strategy, repeat)``.
    groups : dict

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> from splitters.estimation import estimate_accuracies
    >>> P = np.full((1, 4, 2), 0.5); g = {("s", 0): GroupPredictions(P, np.array([0, 1, 0, 1]), P, None, ["m"])}
    >>> t, info = estimate_accuracies(g, n_boot=0)
    >>> out = with_row_details(t, g, info); list(out.columns[:3]), out.strategy[0], int(out.repeat[0])
    (['strategy', 'repeat', 'model'], 's', 0)
    """
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
    return table.drop(columns="key")


def with_failed_rows(table: pd.DataFrame, failed: dict) -> pd.DataFrame:
    """The table with one row per estimator for each model whose probabilities failed: no estimate,
    no interval, ``status`` ``failed`` and the reason.

    Parameters
    ----------
    table : DataFrame
        Keyed by strategy and repeat (:func:`with_row_details`).
    failed : dict
        ``(strategy, repeat, model)`` -> the reason.

    Returns
    -------
    DataFrame
        With a ``status`` column (``ok`` or ``failed``).

    Examples
    --------
    >>> t = pd.DataFrame(columns=[*ESTIMATE_COLUMNS])
    >>> out = with_failed_rows(t, {("s", 0, "m"): "m: NaN"})
    >>> len(out) == len(ESTIMATORS), set(out.status)
    (True, {'failed'})
    """
    table["status"] = "ok"
    rows = [{"strategy": s, "repeat": r, "model": m, "estimator": e, "val_score": np.nan, "estimate": np.nan,
             "lo": np.nan, "hi": np.nan, "reliable": False, "reason": reason, "status": "failed"}
            for (s, r, m), reason in failed.items() for e in ESTIMATORS]
    return pd.concat([table, pd.DataFrame(rows, columns=table.columns)], ignore_index=True) if rows else table


def summarise_estimates(table: pd.DataFrame) -> pd.DataFrame:
    """How right each estimator was, per strategy: mean absolute error and bias (estimate - test),
    interval coverage and mean interval width (over the estimates with a basis), Spearman between
    estimated and test scores over the models, the regret of shipping the model the estimate
    prefers (means over repeats), and the share of estimates without a basis (``abstain``).

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
    [{'mae': 0.1, 'bias': 0.0, 'coverage': 0.5, 'width': 0.175, 'spearman': nan, 'regret': 0.0, 'abstain': 0.0}]
    """
    records = []
    if "status" in table:  # a model whose probabilities failed has nothing to be right about
        table = table[table.status != "failed"]
    for (s, e), part in table.groupby(["strategy", "estimator"], sort=False):
        # Coverage, error and width count the estimates given; an estimate without a basis
        # ([0, 1], unreliable) is counted by ``abstain`` instead.
        given = part[part.reliable.astype(bool)] if "reliable" in part else part
        err = given.estimate - given.test_score
        per_repeat = []
        for _, rep in part.groupby("repeat"):
            ok = rep.dropna(subset=["estimate", "test_score"])
            rho = rank_agreement(ok.estimate.to_numpy(), ok.test_score.to_numpy())[0] if len(ok) else np.nan
            reg = selection_regret(ok.estimate.to_numpy(), ok.test_score.to_numpy()) if len(ok) else np.nan
            per_repeat.append((rho, reg))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # undefined rank correlations are NaN
            rho, reg = np.nanmean(np.array(per_repeat, dtype=float), axis=0)
        covered = (given.lo <= given.test_score) & (given.test_score <= given.hi)
        records.append({"strategy": s, "estimator": e, "mae": float(err.abs().mean()), "bias": float(err.mean()),
                        "coverage": float(covered.mean()) if len(given) else np.nan,
                        "width": float((given.hi - given.lo).mean()),
                        "spearman": float(rho), "regret": float(reg), "abstain": 1 - len(given) / len(part)})
    return pd.DataFrame(records).set_index(["strategy", "estimator"])


# --- probabilities a user brings ---------------------------------------------------------------

OWN = "own"  # the ``strategy`` of the table: the user's validation rows, one part


def _as_models(probas, what: str) -> dict[str, tuple]:
    """``probas`` as a mapping name -> (proba_val, proba_target); one pair is the model ``"model"``."""
    if isinstance(probas, Mapping):
        if not probas:
            raise ValueError(f"{what}: no models given")
        out = {}
        for name, pair in probas.items():
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ValueError(f"{what}[{name!r}] must be a pair (proba_val, proba_target)")
            out[str(name)] = tuple(pair)
        return out
    if isinstance(probas, tuple | list) and len(probas) == 2:
        return {"model": tuple(probas)}
    raise ValueError(f"{what} must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair")


def _checked(models: dict[str, tuple], n_val: int, shape: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every model's arrays as 2-D floats of one shape: ``(n_val, k)`` and ``(n_target, k)``.
    NaN is allowed here (it makes a ``failed`` row, not an error); a wrong shape is an error."""
    out = {}
    for name, (pv, pt) in models.items():
        pv, pt = np.asarray(pv, dtype=float), np.asarray(pt, dtype=float)
        for label, p in (("proba_val", pv), ("proba_target", pt)):
            if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
                raise ValueError(f"{name}: {label} must be a 2-D array (rows x classes, at least 2 classes), "
                                 f"got shape {p.shape}")
        if len(pv) != n_val:
            raise ValueError(f"{name}: proba_val has {len(pv)} rows but y_val has {n_val} labels")
        shape.setdefault("classes", pv.shape[1])
        shape.setdefault("target", len(pt))
        if pv.shape[1] != shape["classes"] or pt.shape[1] != shape["classes"]:
            raise ValueError(f"{name}: {pv.shape[1]} classes on validation and {pt.shape[1]} on target; "
                             f"every model must give {shape['classes']} class columns")
        if len(pt) != shape["target"]:
            raise ValueError(f"{name}: proba_target has {len(pt)} rows, another model's has {shape['target']}")
        out[name] = (pv, pt)
    return out


def estimate_from_probabilities(
    probas,
    y_val,
    *,
    reference: Mapping[str, tuple] | None = None,
    weights=None,
    y_target=None,
    n_boot: int = 50,
    random_state: int = 0,
) -> Estimates:
    """Estimate each model's accuracy on unlabeled target rows from its class probabilities.

    See :func:`splitters.estimate_from_predictions` for what each estimator needs; this is its
    label-free core, without fitting anything.

    Parameters
    ----------
    probas : pair of arrays, or mapping from name to a pair of arrays
        ``(proba_val, proba_target)``: class probabilities of shape ``(n_val, n_classes)`` on the
        labeled validation rows and ``(n_target, n_classes)`` on the target rows, column ``j``
        being class ``j``. One pair is one model named ``"model"``.
    y_val : array-like of shape (n_val,)
        The validation rows' labels as class indices ``0 .. n_classes - 1``.
    reference : mapping from name to a pair of arrays, optional
        More models' probabilities on the same rows, to give the agreement line a zoo
        (the ``reference`` column of the table marks them).
    weights : array-like of shape (n_val,), optional
        Importance weights of the validation rows (:func:`splitters.estimation.density_ratio`);
        without them ``importance_weighted`` equals ``validation``.
    y_target : array-like of shape (n_target,), optional
        The target labels, when known: the table gains ``test_score`` and ``summary`` says how
        right each estimator was.
    n_boot : int, default=50
        Bootstrap replicates for the intervals.
    random_state : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    Estimates
        ``table`` as :attr:`splitters.ComparisonResult.estimates` (``strategy`` ``"own"``,
        ``repeat`` 0, plus ``reference``), ``warnings`` (estimates without a basis, failed
        probabilities), ``summary`` (with ``y_target``), ``lines``, ``notes``.

    Raises
    ------
    ValueError
        On arrays of the wrong shape, labels that are not class indices, names given twice, or
        when no model at all has usable probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> p = np.eye(2)[np.where(rng.random(200) < 0.8, y, 1 - y)] * 0.8 + 0.1
    >>> est = estimate_from_probabilities((p, p), y, n_boot=10)
    >>> est.warnings
    ['own: cannot estimate the target accuracy here: only 1 model with usable predictions (at least 3 are needed).']
    """
    y = np.asarray(y_val)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_val must be a non-empty 1-D array of class indices, got shape {y.shape}")
    own, ref = _as_models(probas, "probas"), _as_models(reference, "reference") if reference is not None else {}
    if set(own) & set(ref):
        raise ValueError(f"names given both as your models and as reference models: {sorted(set(own) & set(ref))}")
    shape: dict = {}
    arrays = _checked({**own, **ref}, len(y), shape)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= shape["classes"]:
        raise ValueError(f"y_val must hold class indices 0..{shape['classes'] - 1} (the probabilities' columns)")
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (len(y),):
            raise ValueError(f"weights must have one value per validation row ({len(y)}), got shape {weights.shape}")
    if y_target is not None:
        y_target = np.asarray(y_target)
        if y_target.shape != (shape["target"],):
            raise ValueError(f"y_target must have one label per target row ({shape['target']}), "
                             f"got shape {y_target.shape}")
    failed, usable = {}, {}
    for name, (pv, pt) in arrays.items():
        # Bad probabilities are the model's fault, not the caller's: a failed row, never an error,
        # so the other models still get their estimates.
        problem = probability_problem(pv) or probability_problem(pt)
        if problem:
            failed[(OWN, 0, name)] = f"{name}: probabilities gave {problem}"
        else:
            usable[name] = (check_proba(pv, "proba_val"), check_proba(pt, "proba_target"))
    if not usable:
        raise ValueError("no model has usable probabilities: " + "; ".join(failed.values()))
    names = list(usable)
    group = GroupPredictions(np.stack([usable[m][0] for m in names]), y, np.stack([usable[m][1] for m in names]),
                             weights, names)
    groups = {(OWN, 0): group}
    table, info = estimate_accuracies(groups, n_boot=n_boot, random_state=random_state)
    table = with_failed_rows(with_row_details(table, groups, info), failed)
    table["reference"] = table.model.isin(list(ref))
    summary = pd.DataFrame()
    if y_target is not None:
        truth = {m: float(np.mean(usable[m][1].argmax(axis=1) == y_target)) for m in names}
        table["test_score"] = [truth.get(m, np.nan) for m in table.model]
        summary = summarise_estimates(table)
    notes = sorted(set(failed.values()))
    return Estimates(table, summary, DEFAULT_ESTIMATOR,
                     info["kappa_lines"], {f"{OWN}/0": info["ess"][(OWN, 0)]}, notes, estimate_warnings(table))
