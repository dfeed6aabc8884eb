"""The comparison engine: for each split strategy, how close does validation come to test?

Data-agnostic: it takes a pool ``X, y`` and a test set ``X_test, y_test`` (or only unlabeled
``X_test``), fits a zoo of scikit-learn models on each strategy's train part, and measures
how well the validation score predicts the test score.

It runs in stages, each a function taking the records of the stages before it, so a stage can
be added without touching the others:

1. :func:`plan_comparison` -> :class:`Plan`: inputs validated once, strategies and models named.
2. :func:`make_splits` -> :class:`Splits`: ``(train, validation)`` per strategy and repeat.
3. :func:`fit_models` -> :class:`Fits`: per strategy, repeat and model, the scores (a table) and,
   on request, the predictions (:class:`Predictions`) on the validation rows and on ``X_test``.
4. :func:`diagnose` -> :class:`Diagnostics`: label-free measures of validation vs test.
5. :func:`summarise` and :func:`recommend`: one row per strategy, and the pick.

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
import warnings
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from .base import ValidationSplitter, check_int, check_labels, check_X, resolve_size
from .distances import nearest_distances
from .metrics import Metric, distribution_shift, gap_stats, get_metric, rank_agreement, selection_regret
from .registry import get

DEFAULT_STRATEGIES = ("tail", "random", "maxmin", "cluster", "target")
DIAGNOSTIC_ROWS = 5000  # rows sampled per side for the label-free diagnostics
TABLE_COLUMNS = ["strategy", "repeat", "model", "val_score", "test_score", "gap", "fit_seconds", "n_train", "n_val",
                 "status", "error"]
SUMMARY_COLUMNS = ["mae", "mae_std", "bias", "bias_std", "spearman", "spearman_std", "kendall", "kendall_std",
                   "regret", "regret_std", "nn_shift", "adv_auc", "val_mean", "test_mean", "status", "error"]


def default_models(random_state: int = 0) -> dict[str, Any]:
    """The default zoo: seven models that differ in kind and capacity.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the randomised models (extra trees, decision tree).

    Returns
    -------
    dict of str to estimator
        Unfitted scikit-learn classifiers by short name.

    Examples
    --------
    >>> sorted(default_models())
    ['extra_trees', 'knn', 'lda', 'logreg', 'naive_bayes', 'qda', 'tree']
    """
    return {
        "logreg": LogisticRegression(C=0.01, max_iter=300),
        "lda": LinearDiscriminantAnalysis(),
        "qda": QuadraticDiscriminantAnalysis(reg_param=0.1),
        "naive_bayes": GaussianNB(),
        "knn": KNeighborsClassifier(n_neighbors=5),
        "extra_trees": ExtraTreesClassifier(n_estimators=60, max_depth=18, random_state=random_state, n_jobs=1),
        "tree": DecisionTreeClassifier(max_depth=10, random_state=random_state),
    }


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


# --- stage 1: the plan ---------------------------------------------------------------------------

@dataclass
class Plan:
    """The validated inputs every stage reads (built once by :func:`plan_comparison`).

    ``strategies`` and ``models`` are keyed by their names in the tables; ``unusable`` holds
    models that cannot be scored with ``metric`` (name -> reason), known before any fit;
    ``prevalidated`` names the strategies built here from short names, whose array parameters
    (``X_target``) are the plan's already validated ``X_test``.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray | None
    groups: np.ndarray | None
    strategies: dict[str, Any]
    models: dict[str, Any]
    metric: Metric
    classes: np.ndarray
    repeats: int
    random_state: int
    n_jobs: int | None = None
    backend: str | None = None
    progress: bool = True
    unusable: dict[str, str] = field(default_factory=dict)
    prevalidated: frozenset[str] = frozenset()

    @property
    def labeled(self) -> bool:
        return self.y_test is not None

    def seed(self, repeat: int) -> int:
        """The random_state of repeat ``repeat``, for splitters and models alike."""
        return self.random_state + repeat


def _named(objects: list, kind: str) -> dict[str, Any]:
    """Names for objects given without one: the class name, or, when a class comes more than once,
    the class name with the parameters that tell them apart."""
    by_class: dict[str, list] = {}
    for o in objects:
        by_class.setdefault(type(o).__name__, []).append(o)
    out: dict[str, Any] = {}
    for cls, group in by_class.items():
        params = [{k: repr(v) for k, v in o.get_params(deep=False).items()} if hasattr(o, "get_params") else {}
                  for o in group]
        differ = sorted({k for p in params for k in p if len({q.get(k) for q in params}) > 1})
        for o, p in zip(group, params):
            name = cls if len(group) == 1 else f"{cls}({', '.join(f'{k}={p.get(k)}' for k in differ)})"
            if name in out:
                raise ValueError(f"two {kind} are the same {cls} with the same parameters: pass each once, "
                                 f"or a mapping {{name: {kind.rstrip('s')}}} to name them yourself")
            out[name] = o
    return out


def _resolve_named(spec: Iterable | Mapping, kind: str, by_name) -> tuple[dict[str, Any], frozenset[str]]:
    """Objects by name, and the names whose object was built here from a short name.

    A mapping keeps its names; in a list, short names are built by ``by_name`` and objects are
    named by :func:`_named`, in the caller's order; a name listed twice is an error."""
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        spec = [spec] if isinstance(spec, str) else list(spec)
        names = [s for s in spec if isinstance(s, str)]
        twice = sorted({s for s in names if names.count(s) > 1})
        if twice:
            raise ValueError(f"{kind} listed more than once: {twice}")
        by_id = {id(o): n for n, o in _named([s for s in spec if not isinstance(s, str)], kind).items()}
        items = [(s, s) if isinstance(s, str) else (by_id[id(s)], s) for s in spec]
    if not items:
        raise ValueError(f"no {kind} to compare")
    out = {name: by_name(s) if isinstance(s, str) else s for name, s in items}
    return out, frozenset(name for name, s in items if isinstance(s, str))


def _strategy_by_name(name: str, X_test: np.ndarray, val_size, groups) -> ValidationSplitter:
    s = get(name, val_size=val_size)
    if "X_target" in s.get_params():
        s.set_params(X_target=X_test)
    if name == "group" and groups is None:
        raise ValueError("the 'group' strategy needs groups: pass groups= (one group label per row of X)")
    return s


def _resolve_strategies(strategies, X_test, val_size, groups) -> tuple[dict[str, Any], frozenset[str]]:
    out, built = _resolve_named(DEFAULT_STRATEGIES if strategies is None else strategies, "strategies",
                         lambda name: _strategy_by_name(name, X_test, val_size, groups))
    for name, s in out.items():
        if not hasattr(s, "split"):
            raise ValueError(f"strategy {name!r} is neither a name nor a splitter with .split()")
    return out, built


def _resolve_models(models, random_state) -> dict[str, Any]:
    zoo = default_models(random_state)

    def by_name(name: str):
        if name not in zoo:
            raise ValueError(f"unknown model {name!r}; choose one of {sorted(zoo)} or pass estimators")
        return zoo[name]

    return _resolve_named(zoo if models is None else models, "models", by_name)[0]


def _unusable(models: Mapping[str, Any], metric: Metric) -> dict[str, str]:
    """Models that cannot be scored with ``metric``, with the reason; known before fitting."""
    if not metric.needs_proba:
        return {}
    return {name: f"{type(m).__name__} has no predict_proba, which metric {metric.name!r} needs"
            for name, m in models.items() if not hasattr(m, "predict_proba")}


def _check_arrays(X, y, X_test, y_test, groups):
    """Each array validated once, here; the stages and the splitters trust the result."""
    X = check_X(X, need_features=True)
    if X_test is None or len(X_test) == 0:
        raise ValueError("the test set is empty: pass X_test with at least one row")
    X_test = check_X(X_test, need_features=True, name="X_test")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"pool and test features differ: X has {X.shape[1]} columns, X_test has {X_test.shape[1]}")
    if y is None:
        raise ValueError("y is required: one label per row of X")
    y = check_labels(y, len(X), "y")
    y_test = check_labels(y_test, len(X_test), "y_test", of="X_test")
    groups = check_labels(groups, len(X), "groups")
    return X, y, X_test, y_test, groups


def plan_comparison(X, y, X_test, y_test=None, *, strategies: Iterable | Mapping | None = None,
                    models: Iterable | Mapping | None = None, metric: str = "accuracy", repeats: int = 3,
                    random_state: int = 0, n_jobs: int | None = None, val_size: float = 0.1, groups=None,
                    backend: str | None = None, progress: bool = True) -> Plan:
    """Stage 1: validate the inputs once and resolve strategies, models and the metric.

    Parameters are those of :func:`compare_strategies`.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        On bad input: shapes, NaN, unknown or duplicate names, a bad ``repeats`` or ``val_size``.

    Examples
    --------
    >>> import numpy as np
    >>> p = plan_comparison(np.zeros((10, 2)), np.arange(10) % 2, np.ones((4, 2)), strategies=["tail"],
    ...                     models=["lda"], repeats=2)
    >>> list(p.strategies), list(p.models), p.labeled
    (['tail'], ['lda'], False)
    """
    X, y, X_test, y_test, groups = _check_arrays(X, y, X_test, y_test, groups)
    repeats = check_int(repeats, "repeats")
    random_state = check_int(random_state, "random_state", minimum=0)
    resolve_size(val_size, len(X))  # a bad val_size is the caller's error, not one strategy's failure
    m = get_metric(metric)
    named, prevalidated = _resolve_strategies(strategies, X_test, val_size, groups)
    zoo = _resolve_models(models, random_state)
    classes = np.unique(np.concatenate([y, y_test])) if y_test is not None else np.unique(y)
    return Plan(X, y, X_test, y_test, groups, named, zoo, m, classes, repeats, random_state,
                int(n_jobs) if n_jobs is not None else None, backend, progress, _unusable(zoo, m), prevalidated)


# --- stage 2: splits -----------------------------------------------------------------------------

@dataclass
class Splits:
    """``parts[(strategy, repeat)] = (train_indices, validation_indices)``; ``failed`` maps a
    strategy that could not split to the reason."""

    parts: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


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
        splitter._check_arrays()
    out = []
    for r in range(plan.repeats):
        s = _reseeded(splitter, plan.seed(r))
        pairs = s._split_checked(plan.X, plan.y, plan.groups) if fast else s.split(plan.X, plan.y, plan.groups)
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
    """
    out = Splits({})
    for name, splitter in plan.strategies.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                pairs = _draw(plan, name, splitter)
            except Exception as err:  # one broken strategy must not end the comparison
                out.failed[name] = _reason(err)
                out.notes.append(f"{name}: could not split the pool ({_reason(err)})")
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


# --- stage 3: fits -------------------------------------------------------------------------------

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
    full /= full.sum(axis=1, keepdims=True)
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
        return {"status": "failed", "error": _reason(err), "fit_seconds": 0.0, "val_score": np.nan,
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


# --- stage 4: label-free diagnostics -------------------------------------------------------------

@dataclass
class Diagnostics:
    """Per strategy, one value per repeat of ``nn_shift`` and ``adv_auc`` (NaN where a diagnostic
    failed, with the reason in ``notes``); ``distances``: repeat 0's nearest-neighbour distances
    to the training part, for validation and test rows."""

    values: dict[str, dict[str, list[float]]]
    distances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _adversarial_auc(A: np.ndarray, B: np.ndarray, seed: int) -> float:
    """Cross-validated ROC AUC of a classifier telling rows of A from rows of B (0.5: alike)."""
    n_folds = min(3, len(A), len(B))
    if n_folds < 2:
        raise ValueError(f"needs at least 2 rows on each side, got {len(A)} validation and {len(B)} test rows")
    both = np.concatenate([A, B])
    label = np.r_[np.zeros(len(A)), np.ones(len(B))]
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=500), both, label, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(label, proba))


def _sample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else rng.choice(idx, size=n, replace=False)


def _measure(out: Diagnostics, key: str, where: str, fn, *args) -> Any:
    try:
        return fn(*args)
    except Exception as err:  # a diagnostic that cannot be computed is reported, not fatal
        out.notes.append(f"{where}: diagnostic {key} failed ({_reason(err)})")
        return None


def diagnose(plan: Plan, splits: Splits) -> Diagnostics:
    """Stage 4: where validation and test rows sit relative to the training part, without labels.

    ``nn_shift``: how differently validation and test rows' nearest-neighbour distances to the
    training part are distributed (0: alike); ``adv_auc``: how well a classifier tells
    validation rows from test rows (0.5: indistinguishable). Each side is subsampled to
    :data:`DIAGNOSTIC_ROWS` rows.

    Parameters
    ----------
    plan : Plan
    splits : Splits

    Returns
    -------
    Diagnostics
    """
    rng = np.random.default_rng(plan.random_state)
    X, X_test = plan.X, plan.X_test
    test_rows = _sample(np.arange(len(X_test)), DIAGNOSTIC_ROWS, rng)
    out = Diagnostics({})
    for (name, r), (train, val) in splits.parts.items():
        where = f"{name}, repeat {r}"
        tr = X[_sample(train, 4 * DIAGNOSTIC_ROWS, rng)]
        d_val = _measure(out, "nn_shift", where, nearest_distances, X[_sample(val, DIAGNOSTIC_ROWS, rng)], tr)
        d_test = _measure(out, "nn_shift", where, nearest_distances, X_test[test_rows], tr)
        shift = None if d_val is None or d_test is None else _measure(out, "nn_shift", where, distribution_shift,
                                                                      d_val, d_test)
        auc = _measure(out, "adv_auc", where, _adversarial_auc, X[_sample(val, DIAGNOSTIC_ROWS, rng)],
                       X_test[test_rows], plan.seed(r))
        d = out.values.setdefault(name, {"nn_shift": [], "adv_auc": []})
        d["nn_shift"].append(np.nan if shift is None else float(shift))
        d["adv_auc"].append(np.nan if auc is None else float(auc))
        if r == 0 and d_val is not None and d_test is not None:
            out.distances[name] = {"validation": d_val, "test": d_test}
    return out


# --- stage 5: summary and recommendation ---------------------------------------------------------

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
    """Stage 5: one row per strategy (:data:`SUMMARY_COLUMNS`), from the ``ok`` fits only.

    Each measure is computed per repeat, then averaged; ``*_std`` is its spread over repeats.

    Parameters
    ----------
    plan, splits, fits, diagnostics
        The records of the earlier stages.

    Returns
    -------
    pandas.DataFrame
        Indexed by strategy, in the plan's order.
    """
    records = []
    ok = fits.table[(fits.table.status == "ok") & fits.table.model.notna()] if plan.labeled else fits.table.iloc[:0]
    for name in plan.strategies:
        rec: dict[str, Any] = {"strategy": name}
        part = ok[ok.strategy == name]
        measures = _per_repeat(part, plan.metric) if len(part) else {}
        for key in ("mae", "bias", "spearman", "kendall", "regret", "val_mean", "test_mean"):
            values = measures.get(key, np.array([np.nan]))
            rec[key] = _nanmean(values)
            if key in ("mae", "bias", "spearman", "kendall", "regret"):
                rec[f"{key}_std"] = _spread(values)
        diag = diagnostics.values.get(name, {})
        for key in ("nn_shift", "adv_auc"):
            rec[key] = _nanmean(np.asarray(diag.get(key, [np.nan]), dtype=float))
        rec["status"], rec["error"] = _status(fits.table, name, splits.failed.get(name))
        records.append(rec)
    return pd.DataFrame(records).set_index("strategy")[SUMMARY_COLUMNS]


def recommend(summary: pd.DataFrame, labeled: bool) -> str:
    """The strategy to trust.

    Labeled: smallest ``mae`` (ties: higher Spearman). Unlabeled, or when no fit could be
    scored: the best sum of ranks of ``nn_shift`` (smaller is better) and ``|adv_auc - 0.5|``
    (closer to chance is better). Strategies without a value are never picked.

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
    score = summary.nn_shift.rank() + (summary.adv_auc - 0.5).abs().rank()
    if score.isna().all():
        raise ValueError("nothing could be measured: every fit and every diagnostic failed (see the reasons above)")
    return str(score.sort_values(kind="stable").index[0])


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
    metric: str = "accuracy",
    repeats: int = 3,
    random_state: int = 0,
    n_jobs: int | None = None,
    val_size: float = 0.1,
    groups=None,
    backend: str | None = None,
    progress: bool = True,
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
        Default: :data:`DEFAULT_STRATEGIES`.
    models : list or mapping, optional
        Names from :func:`default_models` or estimators. Default: the whole zoo.
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


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="fit")
