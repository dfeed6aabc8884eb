"""The comparison engine: for each split strategy, how close does validation come to test?

Data-agnostic: it takes a pool ``X, y`` and a test set ``X_test, y_test`` (or only unlabeled
``X_test``), fits a zoo of scikit-learn models on each strategy's train part, and measures
how well the validation score predicts the test score.

It runs in stages, each a function taking the records of the stages before it, so a stage can
be added without touching the others:

1. :mod:`splitters.plan`: :func:`plan_comparison` -> :class:`Plan`: inputs validated once,
   strategies and models named.
2. :mod:`splitters.splits`: :func:`make_splits` -> :class:`Splits`: ``(train, validation)`` per
   strategy and repeat.
3. :mod:`splitters.fits`: :func:`fit_models` -> :class:`Fits`: per strategy, repeat and model, the
   scores (a table) and, on request, the predictions on the validation rows and on ``X_test``.
   Then, with ``estimate=True``, :mod:`splitters.estimation`: label-free estimates of each
   model's test score, from those predictions.
4. :mod:`splitters.diagnostics`: :func:`diagnose` -> :class:`Diagnostics`: label-free measures of
   validation vs test.
5. :mod:`splitters.summary`: :func:`summarise` and :func:`recommend`: one row per strategy, and
   the pick.

This module holds the orchestrator, :func:`compare_strategies`, and its record,
:class:`ComparisonResult`.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .diagnostics import diagnose
from .fits import Fits, fit_models
from .plan import DEFAULTS, Plan, plan_comparison
from .splits import Splits, _reason, make_splits
from .summary import recommend, summarise


@dataclass
class ComparisonResult:
    """What :func:`compare_strategies` found.

    ``table``: one row per strategy, repeat and model (validation and test scores, ``status``
    ``"ok"`` or ``"failed"`` with the reason in ``error``). ``summary``: one row per strategy
    (``mae``, ``bias``, ``spearman``, ``kendall``, ``regret``, each with its spread over repeats
    as ``*_std``; ``nn_shift``, ``adv_auc``; ``status``, ``error``). ``recommended``: the
    strategy whose validation predicts test best (by ``mae``), or, without test labels, whose
    label-free diagnostics best match the test data. ``distances``: nearest-neighbour distances
    to the training part, per strategy, for validation and test rows. ``notes``: what went
    wrong along the way.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    recommended: str
    metric: str
    labeled: bool
    distances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Label-free estimates of each model's target score (see splitters.estimation): one row per
    # strategy, repeat, model and estimator; how right each estimator was (with test labels); the
    # model to ship by the default estimator on the recommended strategy.
    estimates: pd.DataFrame | None = None
    default_estimator: str | None = None
    estimate_summary: pd.DataFrame | None = None
    ship: dict[str, Any] | None = None

    def to_dict(self) -> dict:
        """Everything but the distances, as plain Python (what ``results.json`` holds)."""
        return {
            "metric": self.metric,
            "labeled": self.labeled,
            "recommended": self.recommended,
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "table": self.table.to_dict(orient="records"),
            "notes": self.notes,
            "timings": self.timings,
            "default_estimator": self.default_estimator,
            "ship": self.ship,
            "estimates": None if self.estimates is None else self.estimates.to_dict(orient="records"),
            "estimate_summary": None if self.estimate_summary is None or self.estimate_summary.empty
            else self.estimate_summary.reset_index().to_dict(orient="records"),
        }

    def to_json(self, path: str | None = None) -> str:
        """:meth:`to_dict` as JSON text, also written to ``path`` when given."""
        import json

        text = json.dumps(self.to_dict(), indent=2, default=float)
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def to_markdown(self) -> str:
        """The summary as a Markdown table (see :func:`splitters.report.markdown`)."""
        from .report import markdown

        return markdown(self)

    def write(self, out_dir: str) -> dict[str, str]:
        """Write ``results.json``, ``report.md`` and the PNG plots to ``out_dir``; return the paths."""
        from .report import write_report

        return write_report(self, out_dir)


# --- the whole run -------------------------------------------------------------------------------

def _timed(timings: dict[str, float], key: str, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[key] = time.perf_counter() - start
    return out


def _nothing_measured(notes: list[str]) -> ValueError:
    return ValueError("nothing could be measured: every fit and every diagnostic failed:\n" + "\n".join(notes))


def compare_strategies(
    X,
    y,
    X_test,
    y_test=None,
    *,
    strategies: Iterable | Mapping | None = None,
    models: Iterable | Mapping | None = None,
    metric: str = DEFAULTS["metric"],
    repeats: int = DEFAULTS["repeats"],
    random_state: int = DEFAULTS["random_state"],
    n_jobs: int | None = None,
    val_size: float = DEFAULTS["val_size"],
    groups=None,
    backend: str | None = None,
    progress: bool = DEFAULTS["progress"],
    estimate: bool = True,
) -> ComparisonResult:
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
        Its labels.
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
        Group labels, for group-aware strategies.
    backend : str, optional
        joblib backend; ``"dask"`` sends the fits to the active ``dask.distributed`` client.
    progress : bool, default=True
        Show a progress bar over the fits.
    estimate : bool, default=True
        Also estimate every model's accuracy on ``X_test`` without its labels, from each
        strategy's validation part (:mod:`splitters.estimation`; ``result.estimates``). The zoo is
        then fit even without ``y_test``.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        On bad input, or when nothing could be measured. A model, split or diagnostic that fails
        is reported in ``notes`` and marked ``failed`` in the tables instead.

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
    timings: dict[str, float] = {}
    plan = plan_comparison(X, y, X_test, y_test, strategies=strategies, models=models, metric=metric,
                           repeats=repeats, random_state=random_state, n_jobs=n_jobs, val_size=val_size,
                           groups=groups, backend=backend, progress=progress)
    splits = _timed(timings, "splits", make_splits, plan)
    fits = _timed(timings, "fits", fit_models, plan, splits, keep_predictions=estimate)
    est = _estimate(plan, splits, fits, timings) if estimate else None
    diagnostics = _timed(timings, "diagnostics", diagnose, plan, splits)
    summary = summarise(plan, splits, fits, diagnostics)
    notes = splits.notes + fits.notes + diagnostics.notes + (est.notes if est is not None else [])
    if plan.labeled and summary.mae.isna().all():
        notes.append("no fit could be scored: the recommendation comes from the label-free diagnostics")
    if summary[["mae", "nn_shift", "adv_auc"]].isna().all(axis=None):
        raise _nothing_measured(notes)
    recommended = recommend(summary, plan.labeled)
    ship = _ship(est, recommended, notes) if est is not None else None
    timings["total"] = time.perf_counter() - t0
    return ComparisonResult(fits.table, summary, recommended, plan.metric.name, plan.labeled, diagnostics.distances,
                            notes, timings, *((est.table, est.default, est.summary, ship) if est is not None else ()))


def _estimate(plan: Plan, splits: Splits, fits: Fits, timings: dict[str, float]):
    """The estimation stage (:func:`splitters.estimation.estimate_scores`); a failure is a note, not fatal."""
    from .estimation import Estimates, estimate_scores

    try:
        return _timed(timings, "estimates", estimate_scores, plan, splits, fits)
    except Exception as err:
        return Estimates(pd.DataFrame(), pd.DataFrame(), notes=[f"no label-free estimates: {_reason(err)}"])


def _ship(est, strategy: str, notes: list[str]) -> dict[str, Any] | None:
    """The model the default estimator expects to score best on the target, read from ``strategy``."""
    from .estimation import model_to_ship

    if est.table.empty:
        return None
    try:
        return model_to_ship(est.table, strategy if strategy in set(est.table.strategy) else est.table.strategy.iloc[0],
                             est.default)
    except ValueError as err:
        notes.append(f"no model to ship: {err}")
        return None
