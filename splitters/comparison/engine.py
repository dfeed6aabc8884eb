"""The comparison engine: for each split strategy, how close does validation come to test?

Data-agnostic: it takes a pool ``X, y`` and a test set ``X_test, y_test`` (or only unlabeled
``X_test``), fits a zoo of scikit-learn models on each strategy's train part, and measures
how well the validation score predicts the test score.

It runs in stages, each a function taking the records of the stages before it, so a stage can
be added without touching the others:

1. :mod:`~splitters.comparison.plan`: :func:`plan_comparison` -> :class:`Plan`: inputs validated
   once, strategies and models named.
2. :mod:`~splitters.comparison.splits`: :func:`make_splits` -> :class:`Splits`: ``(train,
   validation)`` per strategy and repeat.
3. :mod:`~splitters.comparison.fits`: :func:`fit_models` -> :class:`Fits`: per strategy, repeat
   and model, the scores (a table) and, on request, the predictions on the validation rows and on
   ``X_test``. Then, with ``estimate=True``, :mod:`splitters.estimation`: label-free estimates of
   each model's test score, from those predictions.
4. :mod:`~splitters.comparison.diagnostics`: :func:`diagnose` -> :class:`Diagnostics`: label-free
   measures of validation vs test.
5. :mod:`~splitters.comparison.summary`: :func:`summarise` and :func:`recommend`: one row per
   strategy, and the pick.

This module holds the orchestrator, :func:`compare_strategies`; its record is
:class:`~splitters.comparison.result.ComparisonResult`.

A model, split or diagnostic that fails is recorded (``status``/``error`` columns, ``notes``)
and the rest goes on; only a run where nothing could be measured is an error.

>>> import numpy as np
>>> from splitters import compare_strategies
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4)); y = (X[:, 0] > 0).astype(int)
>>> Xt = rng.normal(size=(100, 4)); yt = (Xt[:, 0] > 0).astype(int)
>>> r = compare_strategies(X, y, Xt, yt, strategies=["tail", "random"], models=["naive_bayes", "lda"], repeats=1,
...                        progress=False)
>>> sorted(r.summary.index)
['random', 'tail']
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from .. import estimation
from .diagnostics import DIAGNOSTICS, diagnose
from .failures import reason
from .fits import Fits, fit_models
from .options import options_of, takes_options
from .plan import Plan, plan_comparison
from .result import ComparisonResult
from .splits import Splits, make_splits
from .summary import recommend, summarise

# --- the whole run -------------------------------------------------------------------------------

def _timed(timings: dict[str, float], key: str, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[key] = time.perf_counter() - start
    return out


def _nothing_measured(notes: list[str]) -> ValueError:
    return ValueError("nothing could be measured: every fit and every diagnostic failed:\n" + "\n".join(notes))


@takes_options
def compare_strategies(X, y, X_test, y_test=None, *, groups=None, **options) -> ComparisonResult:
    """Measure, for each split strategy, how well its validation score predicts test.

    For every strategy, repeat and model: fit on the strategy's train part, score on its
    validation part and on the test set. Without ``y_test`` only the label-free diagnostics and
    estimates are computed and ``recommended`` comes from the diagnostics (with ``estimate=False``
    no model is fit at all).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The labeled pool (dense, numeric, finite).
    y : array-like of shape (n_samples,)
        Its labels (no NaN or None).
    X_test : array-like of shape (n_test, n_features)
        The data the model will meet.
    y_test : array-like of shape (n_test,), optional
        Its labels, when known.
    strategies : list or mapping, optional
        Short names (see :data:`splitters.STRATEGIES`; ``"target"`` gets ``X_test`` as its
        unlabeled target, ``"group"`` needs ``groups``) or splitter objects; a mapping names
        them. Objects of the same class are named apart by the parameters that differ.
        Default: :data:`splitters.DEFAULT_STRATEGIES`.
    models : list or mapping, optional
        Names from :func:`splitters.default_models` or estimators. Default: the whole zoo.
    metric : str, default="accuracy"
        A key of :data:`splitters.SCORE_METRICS`.
    repeats : int, default=3
        Splits per strategy; repeat ``r`` uses ``random_state + r`` for splitters and models.
    random_state : int, default=0
    n_jobs : int, optional
        joblib workers for the fits.
    val_size : int or float, default=0.1
        Validation rows (count or fraction) for strategies given by name.
    groups : array-like of shape (n_samples,), optional
        Group labels, for group-aware strategies (no NaN or None).
    backend : str, optional
        joblib backend; ``"dask"`` sends the fits to the active ``dask.distributed`` client.
    progress : bool, default=True
        Show a progress bar over the fits.
    estimate : bool, default=True
        Also estimate every model's accuracy on ``X_test`` without its labels, from each
        strategy's validation part (:mod:`splitters.estimation`; ``result.estimates``). The zoo is
        then fit even without ``y_test``.
    context : mapping, optional
        What the caller knows about the data, shown at the top of the report and kept in
        ``result.context``: ``dataset`` (a name), ``shift``, ``command`` (the command line), or
        any other key (shown as it is). The run adds ``pool``, ``validation``, ``test``
        (row counts), ``models``, ``strategies``, ``metric`` and ``date`` itself.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        On bad input (including NaN or None in ``y``, ``y_test`` or ``groups``), or when nothing
        could be measured. A model, split or diagnostic that fails is reported in ``notes`` and
        marked ``failed`` in the tables instead.
    TypeError
        On an unknown keyword argument.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> r = compare_strategies(X, y, X[:50] + 0.1, y[:50], strategies=["random"], models=["lda"], repeats=1,
    ...                        progress=False)
    >>> r.recommended, list(r.table.status)
    ('random', ['ok'])
    """
    t0 = time.perf_counter()
    o = options_of("compare_strategies", options)
    timings: dict[str, float] = {}
    plan = plan_comparison(X, y, X_test, y_test, groups=groups, **options)
    splits = _timed(timings, "splits", make_splits, plan)
    fits = _timed(timings, "fits", fit_models, plan, splits, keep_predictions=o.estimate)
    est = _estimate(plan, splits, fits, timings) if o.estimate else None
    diagnostics = _timed(timings, "diagnostics", diagnose, plan, splits)
    summary = summarise(plan, splits, fits, diagnostics)
    notes = splits.notes + fits.notes + diagnostics.notes + (est.notes if est is not None else [])
    if plan.labeled and summary.mae.isna().all():
        notes.append("no fit could be scored: the recommendation comes from the label-free diagnostics")
    if summary[["mae", *DIAGNOSTICS]].isna().all(axis=None):
        raise _nothing_measured(notes)
    recommended = recommend(summary, plan.labeled)
    estimated = {} if est is None else {"estimates": est.table, "default_estimator": est.default,
                                        "estimate_summary": est.summary, "ship": _ship(est, recommended, notes),
                                        "warnings": est.warnings}
    timings["total"] = time.perf_counter() - t0
    return ComparisonResult(table=fits.table, summary=summary, recommended=recommended, metric=plan.metric.name,
                            labeled=plan.labeled, distances=diagnostics.distances, notes=notes, timings=timings,
                            context={**dict(o.context or {}), **run_context(plan, splits)}, **estimated)


def run_context(plan: Plan, splits: Splits) -> dict[str, Any]:
    """What a run compared, for the top of its report: row counts, models, strategies, metric, date.

    Parameters
    ----------
    plan : Plan
    splits : Splits

    Returns
    -------
    dict
        ``pool``, ``validation`` (rows of a validation part; a list when strategies differ),
        ``test``, ``test_labeled``, ``models``, ``strategies``, ``metric``, ``date`` (UTC, ISO 8601).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 2)); y = (X[:, 0] > 0).astype(int)
    >>> plan = plan_comparison(X, y, X[:30], None, strategies=["random"], models=["lda"], repeats=1, val_size=20)
    >>> c = run_context(plan, make_splits(plan)); c["pool"], c["validation"], c["test"], c["models"]
    (100, 20, 30, ['lda'])
    """
    from datetime import datetime, timezone

    sizes = sorted({len(val) for _, val in splits.parts.values()})
    return {"pool": len(plan.X), "validation": sizes[0] if len(sizes) == 1 else sizes, "test": len(plan.X_test),
            "test_labeled": plan.labeled, "models": list(plan.models), "strategies": list(plan.strategies),
            "metric": plan.metric.name, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _estimate(plan: Plan, splits: Splits, fits: Fits, timings: dict[str, float]) -> estimation.Estimates:
    """The estimation stage (:func:`splitters.estimation.estimate_scores`); a failure is a note, not fatal."""
    if plan.metric.name != "accuracy":  # never an estimate of another metric passed off as this one
        return estimation.Estimates(pd.DataFrame(), pd.DataFrame(), warnings=[
            f"No label-free estimates: they estimate accuracy, and this comparison scores {plan.metric.name}; "
            "compare with metric='accuracy' to get them."])
    try:
        return _timed(timings, "estimates", estimation.estimate_scores, plan, splits, fits)
    except Exception as err:
        return estimation.Estimates(pd.DataFrame(), pd.DataFrame(), notes=[f"no label-free estimates: {reason(err)}"])


def _ship(est, strategy: str, notes: list[str]) -> dict[str, Any] | None:
    """The model the default estimator expects to score best on the target, read from ``strategy``."""
    if est.table.empty:
        return None
    try:
        read = strategy if strategy in set(est.table.strategy) else est.table.strategy.iloc[0]
        return estimation.model_to_ship(est.table, read, est.default)
    except ValueError as err:
        notes.append(f"no model to ship: {err}")
        return None
