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
from collections.abc import Mapping
from typing import Any

import numpy as np
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
from .zoo import default_models

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


# --- your own models' predictions ---------------------------------------------------------------
# Here, not in splitters.estimation, because it may fit the default zoo as reference models, and
# the estimates room fits no model.

def _reference_probas(reference, models, classes: int, n_val: int, n_target: int, random_state: int) -> dict:
    """The reference models fitted on ``X_train`` and their probabilities on ``X_val`` and ``X_target``,
    columns aligned to the class indices ``0 .. classes - 1``."""
    from sklearn.base import clone

    if not isinstance(reference, tuple | list) or len(reference) != 4:
        raise ValueError("reference must be a tuple (X_train, y_train, X_val, X_target)")
    X_train, y_train, X_val, X_target = (np.asarray(a) for a in reference)
    X_train, X_val, X_target = (np.asarray(a, dtype=float) for a in (X_train, X_val, X_target))
    for label, X, rows in (("X_train", X_train, len(y_train)), ("X_val", X_val, n_val), ("X_target", X_target, n_target)):
        if X.ndim != 2 or len(X) != rows:
            raise ValueError(f"reference {label} must be 2-D with {rows} rows (one per "
                             f"{'label of y_train' if label == 'X_train' else 'row of your probabilities'}), "
                             f"got shape {X.shape}")
    if len({X_train.shape[1], X_val.shape[1], X_target.shape[1]}) != 1:
        raise ValueError(f"reference X_train, X_val and X_target must have the same columns, got "
                         f"{X_train.shape[1]}, {X_val.shape[1]} and {X_target.shape[1]}")
    y_train = np.asarray(y_train)
    if y_train.ndim != 1 or y_train.dtype.kind not in "iu" or y_train.min() < 0 or y_train.max() >= classes:
        raise ValueError(f"reference y_train must hold class indices 0..{classes - 1}, as y_val does")
    models = default_models(random_state) if models is None else dict(models)
    out = {}
    for name, model in models.items():
        m = clone(model).fit(X_train, y_train)
        # A model sees only the classes of y_train: its columns go to those classes' places.
        cols = np.asarray(m.classes_, dtype=int)
        pv, pt = np.zeros((len(X_val), classes)), np.zeros((len(X_target), classes))
        pv[:, cols], pt[:, cols] = m.predict_proba(X_val), m.predict_proba(X_target)
        out[str(name)] = (pv, pt)
    return out


def estimate_from_predictions(
    probas,
    y_val,
    *,
    reference=None,
    reference_models: Mapping | None = None,
    y_target=None,
    n_boot: int = 50,
    random_state: int = 0,
) -> estimation.Estimates:
    """Estimate your models' accuracy on unlabeled target rows from their class probabilities.

    For models trained anywhere (a torch network, a service): give each model's probabilities on
    labeled validation rows and on the target rows, and get the same estimates table as
    :func:`splitters.compare_strategies` gives in ``result.estimates``. What each estimator needs:

    - ``validation``, ``doc``, ``atc_maxprob``, ``atc_negentropy``: one model's probabilities
      and ``y_val``; they work with a single model.
    - ``importance_weighted``: the validation rows' importance weights, which need the rows'
      features; computed from ``reference``'s ``X_val`` and ``X_target`` when given, else it
      equals ``validation``.
    - ``aline_s``, ``aline_d`` and the default ``aline_kappa``: an agreement line over at least 3
      models (:data:`splitters.estimation.reliability.MIN_MODELS`) that fits. With fewer, their
      rows say ``reliable`` False and why (``reason``), their interval is [0, 1], and
      ``warnings`` says "cannot estimate"; pass ``reference`` to add the default zoo.

    Parameters
    ----------
    probas : pair of arrays, or mapping from name to a pair of arrays
        ``(proba_val, proba_target)``: class probabilities of shape ``(n_val, n_classes)`` on the
        labeled validation rows and ``(n_target, n_classes)`` on the target rows; column ``j`` is
        class ``j``. One pair is one model, named ``"model"``.
    y_val : array-like of shape (n_val,)
        The validation labels as class indices ``0 .. n_classes - 1``.
    reference : tuple (X_train, y_train, X_val, X_target), optional
        Features (2-D, numeric) of a training set with its labels (class indices), and of the
        same validation and target rows as ``probas``: the reference models are fitted on
        ``X_train`` and join the zoo (``reference`` True in the table), and the importance
        weights are computed from ``X_val`` and ``X_target``.
    reference_models : mapping from name to a scikit-learn classifier, optional
        The reference models (cloned before fitting). Default: :func:`splitters.default_models`.
    y_target : array-like of shape (n_target,), optional
        Target labels when you have them (to check the estimates): adds ``test_score`` and a
        ``summary`` of how right each estimator was.
    n_boot : int, default=50
        Bootstrap replicates for the intervals.
    random_state : int, default=0
        Seeds the bootstrap, the domain classifier and the reference models.

    Returns
    -------
    splitters.estimation.Estimates
        ``table``: one row per model and estimator, the columns of
        :data:`splitters.estimation.ESTIMATE_COLUMNS` (``strategy`` is ``"own"``, ``repeat`` 0)
        plus ``status`` (``failed`` for a model whose probabilities are NaN, negative or do not
        sum to 1, with the reason), ``reference``, ``ess``, ``chance_val``, ``chance_target``
        (and ``test_score``). ``warnings``: what to read first. ``default``: the default
        estimator's name. Per model, the default's estimate:
        ``splitters.estimation.model_estimates(est.table, "own")``.

    Raises
    ------
    ValueError
        On arrays of the wrong shape or labels that are not class indices, with what was
        expected; or when no model has usable probabilities.

    Examples
    --------
    >>> import numpy as np, splitters
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> Xt = rng.normal(size=(300, 4)) + [0.3, 0, 0, 0]
    >>> from sklearn.linear_model import LogisticRegression
    >>> mine = LogisticRegression().fit(X[:400], y[:400])
    >>> est = splitters.estimate_from_predictions((mine.predict_proba(X[400:]), mine.predict_proba(Xt)), y[400:])
    >>> est.warnings[0][:45]
    'own: cannot estimate the target accuracy here'
    >>> est = splitters.estimate_from_predictions({"mine": (mine.predict_proba(X[400:]), mine.predict_proba(Xt))},
    ...                                           y[400:], reference=(X[:400], y[:400], X[400:], Xt))
    >>> est.warnings, sorted(est.table.model.unique())[:3]
    ([], ['extra_trees', 'knn', 'lda'])
    """
    own = probas if isinstance(probas, Mapping) else {"model": probas}
    ref, weights = None, None
    if reference is not None:
        first = next(iter(own.values()))
        if not isinstance(first, tuple | list) or len(first) != 2:
            raise ValueError("probas must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair")
        pv, pt = np.asarray(first[0]), np.asarray(first[1])
        if pv.ndim != 2 or pt.ndim != 2:
            raise ValueError(f"proba_val and proba_target must be 2-D, got shapes {pv.shape} and {pt.shape}")
        if len(pv) != len(np.asarray(y_val)):  # found before the zoo is fitted, not after
            raise ValueError(f"proba_val has {len(pv)} rows but y_val has {len(np.asarray(y_val))} labels")
        ref = _reference_probas(reference, reference_models, pv.shape[1], len(pv), len(pt), random_state)
        weights = estimation.density_ratio(reference[2], reference[3], random_state=random_state,
                                           max_rows=estimation.stage.DOMAIN_ROWS)
    return estimation.estimate_from_probabilities(own, y_val, reference=ref, weights=weights, y_target=y_target,
                                                  n_boot=n_boot, random_state=random_state)
