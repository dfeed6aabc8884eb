"""Stage 3 of a comparison: every model fit on every split's train part, scored on its
validation part and on the test set, through joblib.

:func:`_fit_task` is one fit; it stays a module-level function so joblib's process backends and
dask can pickle it by reference.
"""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ..metrics import Metric
from .failures import reason
from .plan import Plan
from .splits import Splits

TABLE_COLUMNS = ["strategy", "repeat", "model", "val_score", "test_score", "gap", "fit_seconds", "n_train", "n_val",
                 "status", "error"]


@dataclass
class Predictions:
    """One fitted model's outputs: predicted labels and, when the model has ``predict_proba``,
    float32 probabilities with one column per class of the plan (``Plan.classes``), on the
    strategy's validation rows (in the order of ``Splits.parts``) and on ``X_test``."""

    val_pred: np.ndarray
    test_pred: np.ndarray
    val_proba: np.ndarray | None = None
    test_proba: np.ndarray | None = None


@dataclass
class Fits:
    """``table``: one row per strategy, repeat and model (:data:`TABLE_COLUMNS`);
    ``predictions[(strategy, repeat, model)]``: the outputs, when :func:`fit_models` was asked
    to keep them."""

    table: pd.DataFrame
    predictions: dict[tuple[str, int, str], Predictions] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _outputs(model, X: np.ndarray, classes: np.ndarray, want_proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels and (when wanted and available) probabilities over ``classes``."""
    if not (want_proba and hasattr(model, "predict_proba")):
        return np.asarray(model.predict(X)), None
    proba = model.predict_proba(X)
    full = np.full((len(X), len(classes)), 1e-15)
    full[:, np.searchsorted(classes, model.classes_)] = proba  # classes missing from training: ~0
    # Renormalise only what is a probability already (up to the padding): NaN, negative values or
    # rows far from summing to 1 stay as they are, for the estimation stage to fail the model.
    sums = full.sum(axis=1, keepdims=True)
    if np.all(np.isfinite(full)) and (full >= 0).all() and np.allclose(sums, 1, atol=1e-3):
        full /= sums
    # the label is the most probable class, as predict() is for every model of the zoo (one pass, not two)
    return classes[np.argmax(full, axis=1)], full


def _fit_task(model, X, y, X_test, y_test, train, val, metric: Metric, classes, seed: int, keep: bool) -> dict:
    """One task: fit on the strategy's train part, score on its validation part and on test.
    Never raises: a failure comes back as ``status="failed"`` with the reason."""
    try:
        model = clone(model)
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X[train], y[train])
        fit_s = time.perf_counter() - start
        want_proba = metric.needs_proba or keep
        (v_lab, v_proba), (t_lab, t_proba) = (_outputs(model, X[val], classes, want_proba),
                                              _outputs(model, X_test, classes, want_proba))
        val_score = float(metric.fn(y[val], v_proba if metric.needs_proba else v_lab, classes))
        test_score = np.nan if y_test is None else float(
            metric.fn(y_test, t_proba if metric.needs_proba else t_lab, classes))
        pred = Predictions(v_lab, t_lab, *(None if p is None else p.astype(np.float32) for p in (v_proba, t_proba)))
    except Exception as err:  # a model that cannot fit or predict is reported, not fatal
        return {"status": "failed", "error": reason(err), "fit_seconds": 0.0, "val_score": np.nan,
                "test_score": np.nan, "predictions": None}
    return {"status": "ok", "error": None, "fit_seconds": fit_s, "val_score": val_score, "test_score": test_score,
            "predictions": pred if keep else None}


def _failed_row(error: str) -> dict:
    return {"status": "failed", "error": error, "fit_seconds": 0.0, "val_score": np.nan, "test_score": np.nan,
            "predictions": None}


def _run_tasks(plan: Plan, splits: Splits, tasks: list[tuple[str, int, str]], keep: bool) -> list[dict]:
    jobs = (delayed(_fit_task)(plan.models[m], plan.X, plan.y, plan.X_test, plan.y_test, *splits.parts[(s, r)],
                               plan.metric, plan.classes, plan.seed(r), keep) for s, r, m in tasks)
    with parallel_config(backend=plan.backend) if plan.backend else nullcontext():
        results = Parallel(n_jobs=plan.n_jobs, return_as="generator")(jobs)
        return list(_progress(results, total=len(tasks), enabled=plan.progress, desc="fits"))


def fit_models(plan: Plan, splits: Splits, *, keep_predictions: bool = False) -> Fits:
    """Stage 3: fit every model on every split's train part; score validation and test.

    Fits run through joblib (``plan.n_jobs``, ``plan.backend``). Without test labels no model is
    fit unless ``keep_predictions`` asks for the outputs (label-free estimates need them); then
    ``test_score`` is NaN.

    Parameters
    ----------
    plan : Plan
    splits : Splits
    keep_predictions : bool, default=False
        Also return each fit's :class:`Predictions` (float32 probabilities: about 0.6 MB per fit
        for 10 classes and 15,000 rows).

    Returns
    -------
    Fits
        Models in ``plan.unusable`` and fits that raise get ``status="failed"`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from splitters.comparison import make_splits, plan_comparison
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] > 0).astype(int)
    >>> plan = plan_comparison(X, y, X[:20], y[:20], strategies=["tail"], models=["lda"], repeats=1, progress=False)
    >>> fit_models(plan, make_splits(plan)).table[["strategy", "model", "status"]].values.tolist()
    [['tail', 'lda', 'ok']]
    """
    fit = plan.labeled or keep_predictions
    tasks = [(s, r, m) for (s, r) in splits.parts for m in (plan.models if fit else [None])]
    runnable = [t for t in tasks if t[2] is not None and t[2] not in plan.unusable]
    done = dict(zip(runnable, _run_tasks(plan, splits, runnable, keep_predictions))) if runnable else {}
    rows, predictions, notes = [], {}, [f"model {m}: {why}; not fit" for m, why in plan.unusable.items()]
    for s, r, m in tasks:
        if m is None:
            res = {"status": "ok", "error": None, "fit_seconds": 0.0, "val_score": np.nan, "test_score": np.nan}
        else:
            res = done.get((s, r, m)) or _failed_row(plan.unusable.get(m, ""))
        if res.get("predictions") is not None:
            predictions[(s, r, m)] = res["predictions"]
        train, val = splits.parts[(s, r)]
        rows.append({"strategy": s, "repeat": r, "model": m, "val_score": res["val_score"],
                     "test_score": res["test_score"], "gap": res["val_score"] - res["test_score"],
                     "fit_seconds": res["fit_seconds"], "n_train": len(train), "n_val": len(val),
                     "status": res["status"], "error": res["error"]})
        if res["status"] == "failed" and m not in plan.unusable:
            notes.append(f"{s}, repeat {r}, model {m}: failed ({res['error']})")
    for s, why in splits.failed.items():
        rows.append({**dict.fromkeys(TABLE_COLUMNS), "strategy": s, "status": "failed", "error": why,
                     "val_score": np.nan, "test_score": np.nan, "gap": np.nan})
    return Fits(pd.DataFrame(rows, columns=TABLE_COLUMNS), predictions, notes)


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="fit")
