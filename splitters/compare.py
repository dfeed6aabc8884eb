"""The comparison engine: for each split strategy, how close does validation come to test?

Data-agnostic: it takes a pool ``X, y`` and a test set ``X_test, y_test`` (or only unlabeled
``X_test``), fits a zoo of scikit-learn models on each strategy's train part, and measures
how well the validation score predicts the test score.

>>> import numpy as np
>>> from splitters import compare_strategies
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4)); y = (X[:, 0] > 0).astype(int)
>>> Xt = rng.normal(size=(100, 4)); yt = (Xt[:, 0] > 0).astype(int)
>>> r = compare_strategies(X, y, Xt, yt, strategies=["tail", "random"], models=["naive_bayes", "lda"], repeats=1)
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

from .base import ValidationSplitter, check_X
from .distances import nearest_distances
from .metrics import distribution_shift, gap_stats, get_metric, rank_agreement, selection_regret

DEFAULT_STRATEGIES = ("tail", "random", "maxmin", "cluster", "target")
DIAGNOSTIC_ROWS = 5000  # rows sampled per side for the label-free diagnostics


def default_models(random_state: int = 0) -> dict[str, Any]:
    """The default zoo: seven models that differ in kind and capacity."""
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

    ``table``: one row per strategy, repeat and model (validation and test scores).
    ``summary``: one row per strategy (``mae``, ``mae_std``, ``bias``, ``spearman``, ``kendall``,
    ``regret``, ``nn_shift``, ``adv_auc``, ...). ``recommended``: the strategy whose validation
    predicts test best (by ``mae``), or, without test labels, whose label-free diagnostics
    best match the test data. ``distances``: nearest-neighbour distances to the training part,
    per strategy, for validation and test rows. ``notes``: what went wrong along the way.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    recommended: str
    metric: str
    labeled: bool
    distances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "labeled": self.labeled,
            "recommended": self.recommended,
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "table": self.table.to_dict(orient="records"),
            "notes": self.notes,
            "timings": self.timings,
        }

    def to_json(self, path: str | None = None) -> str:
        import json

        text = json.dumps(self.to_dict(), indent=2, default=float)
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def to_markdown(self) -> str:
        from .report import markdown

        return markdown(self)

    def write(self, out_dir: str) -> dict[str, str]:
        """Write ``results.json``, ``report.md`` and the PNG plots to ``out_dir``; return the paths."""
        from .report import write_report

        return write_report(self, out_dir)


def _resolve_strategies(strategies, X_test, val_size, random_state) -> dict[str, ValidationSplitter]:
    from . import STRATEGIES, get

    if strategies is None:
        strategies = DEFAULT_STRATEGIES
    if isinstance(strategies, Mapping):
        items = list(strategies.items())
    else:
        items = [(s, s) if isinstance(s, str) else (type(s).__name__, s) for s in strategies]
    out = {}
    for name, s in items:
        if isinstance(s, str):
            if s not in STRATEGIES:
                raise ValueError(f"unknown strategy {s!r}; choose one of {sorted(STRATEGIES)}")
            params: dict[str, Any] = {"val_size": val_size}
            if s not in ("tail", "head"):
                params["random_state"] = random_state
            if s == "target":
                params["X_target"] = X_test
            if s == "group":
                raise ValueError("the 'group' strategy needs groups: pass a GroupSplit object and groups=")
            s = get(s, **params)
        elif not hasattr(s, "split"):
            raise ValueError(f"strategy {name!r} is neither a name nor a splitter with .split()")
        out[name] = s
    if not out:
        raise ValueError("no strategies to compare")
    return out


def _resolve_models(models, random_state) -> dict[str, Any]:
    zoo = default_models(random_state)
    if models is None:
        return zoo
    if isinstance(models, Mapping):
        return dict(models)
    out = {}
    for m in models:
        if isinstance(m, str):
            if m not in zoo:
                raise ValueError(f"unknown model {m!r}; choose one of {sorted(zoo)} or pass estimators")
            out[m] = zoo[m]
        else:
            out[type(m).__name__] = m
    if not out:
        raise ValueError("no models to compare")
    return out


def _predict(model, X, metric, classes):
    if not metric.needs_proba:
        return model.predict(X)
    proba = model.predict_proba(X)
    full = np.full((len(X), len(classes)), 1e-15)
    full[:, np.searchsorted(classes, model.classes_)] = proba  # classes missing from training: ~0
    return full / full.sum(axis=1, keepdims=True)


def _fit_and_score(model, X, y, X_test, y_test, train, val, metric, classes, seed):
    """One task: fit on the strategy's train part, score on its validation part and on test."""
    model = clone(model)
    if "random_state" in model.get_params():
        model.set_params(random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[train], y[train])
    fit_s = time.perf_counter() - start
    val_score = metric.fn(y[val], _predict(model, X[val], metric, classes), classes)
    test_score = metric.fn(y_test, _predict(model, X_test, metric, classes), classes)
    return float(val_score), float(test_score), fit_s


def _adversarial_auc(A: np.ndarray, B: np.ndarray, seed: int) -> float:
    """Cross-validated ROC AUC of a classifier telling rows of A from rows of B (0.5: alike)."""
    both = np.concatenate([A, B])
    label = np.r_[np.zeros(len(A)), np.ones(len(B))]
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=500), both, label, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(label, proba))


def _sample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else rng.choice(idx, size=n, replace=False)


def _check_inputs(X, y, X_test, y_test):
    X = check_X(X, need_features=True)
    if X_test is None or len(X_test) == 0:
        raise ValueError("the test set is empty: pass X_test with at least one row")
    X_test = check_X(X_test, need_features=True)
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"pool and test features differ: X has {X.shape[1]} columns, X_test has {X_test.shape[1]}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with one label per row of X ({len(X)}), got shape {y.shape}")
    if y_test is not None:
        y_test = np.asarray(y_test)
        if y_test.ndim != 1 or len(y_test) != len(X_test):
            raise ValueError(f"y_test must be 1-D with one label per row of X_test ({len(X_test)}), got shape {y_test.shape}")
    return X, y, X_test, y_test


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
) -> ComparisonResult:
    """Measure, for each split strategy, how well its validation score predicts test.

    For every strategy, repeat and model: fit on the strategy's train part, score on its
    validation part and on the test set. Fits run through joblib (``n_jobs``; ``backend="dask"``
    sends them to the active ``dask.distributed`` client). Without ``y_test`` no model is fit:
    only the label-free diagnostics are computed and ``recommended`` comes from them.

    Strategies are names (``"target"`` gets ``X_test`` as its unlabeled target) or splitter
    objects; models are names from :func:`default_models` or estimators.
    """
    t0 = time.perf_counter()
    X, y, X_test, y_test = _check_inputs(X, y, X_test, y_test)
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    m = get_metric(metric)
    splitters = _resolve_strategies(strategies, X_test, val_size, random_state)
    zoo = _resolve_models(models, random_state) if y_test is not None else {}
    labeled = y_test is not None
    classes = np.unique(np.concatenate([y, y_test])) if labeled else np.unique(y)
    notes: list[str] = []
    timings: dict[str, float] = {}

    # 1. Splits (each strategy, each repeat: a fresh random_state for the random ones).
    start = time.perf_counter()
    splits: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    for name, s in splitters.items():
        for r in range(repeats):
            s_r = clone(s)
            if "random_state" in s_r.get_params():
                s_r.set_params(random_state=random_state + r)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                train, val = next(iter(s_r.split(X, y, groups)))
            notes += [f"{name}, repeat {r}: {w.message}" for w in caught]
            missing = np.setdiff1d(classes, y[train])
            if len(missing):
                notes.append(f"{name}, repeat {r}: classes {missing.tolist()} are missing from the training part; "
                             "models cannot predict them (scored as errors)")
            splits[(name, r)] = (train, val)
    timings["splits"] = time.perf_counter() - start

    # 2. Fits, in parallel.
    start = time.perf_counter()
    rows = []
    if labeled:
        tasks = [(name, r, mname, model) for (name, r) in splits for mname, model in zoo.items()]
        jobs = (delayed(_fit_and_score)(model, X, y, X_test, y_test, *splits[(name, r)], m, classes, random_state + r)
                for name, r, mname, model in tasks)
        with parallel_config(backend=backend) if backend else nullcontext():
            results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
            results = _progress(results, total=len(tasks), enabled=progress, desc="fits")
            for (name, r, mname, _), (v, t, fit_s) in zip(tasks, results):
                rows.append({"strategy": name, "repeat": r, "model": mname, "val_score": v, "test_score": t,
                             "gap": v - t, "fit_seconds": fit_s, "n_train": len(splits[(name, r)][0]),
                             "n_val": len(splits[(name, r)][1])})
    else:
        for (name, r), (train, val) in splits.items():
            rows.append({"strategy": name, "repeat": r, "model": None, "val_score": np.nan, "test_score": np.nan,
                         "gap": np.nan, "fit_seconds": 0.0, "n_train": len(train), "n_val": len(val)})
    timings["fits"] = time.perf_counter() - start
    table = pd.DataFrame(rows)

    # 3. Label-free diagnostics: where validation and test rows sit relative to training.
    start = time.perf_counter()
    rng = np.random.default_rng(random_state)
    test_rows = _sample(np.arange(len(X_test)), DIAGNOSTIC_ROWS, rng)
    diag: dict[str, dict[str, list[float]]] = {}
    distances: dict[str, dict[str, np.ndarray]] = {}
    for (name, r), (train, val) in splits.items():
        tr = X[_sample(train, 4 * DIAGNOSTIC_ROWS, rng)]
        d_val = nearest_distances(X[_sample(val, DIAGNOSTIC_ROWS, rng)], tr)
        d_test = nearest_distances(X_test[test_rows], tr)
        auc = _adversarial_auc(X[_sample(val, DIAGNOSTIC_ROWS, rng)], X_test[test_rows], random_state + r)
        d = diag.setdefault(name, {"nn_shift": [], "adv_auc": []})
        d["nn_shift"].append(distribution_shift(d_val, d_test))
        d["adv_auc"].append(auc)
        if r == 0:
            distances[name] = {"validation": d_val, "test": d_test}
    timings["diagnostics"] = time.perf_counter() - start

    summary = _summarise(table, diag, splitters, repeats, m, labeled)
    recommended = _recommend(summary, labeled)
    timings["total"] = time.perf_counter() - t0
    return ComparisonResult(table, summary, recommended, metric, labeled, distances, notes, timings)


def _summarise(table, diag, splitters, repeats, metric, labeled) -> pd.DataFrame:
    records = []
    for name in splitters:
        rec: dict[str, Any] = {"strategy": name}
        if labeled:
            per_repeat = []
            for _, part in table[table.strategy == name].groupby("repeat"):
                v, t = part.val_score.to_numpy(), part.test_score.to_numpy()
                mae, bias = gap_stats(v, t)
                rho, tau = rank_agreement(v, t)
                per_repeat.append((mae, bias, rho, tau, selection_regret(v, t, metric.greater_is_better),
                                   v.mean(), t.mean()))
            arr = np.array(per_repeat, dtype=float)
            with warnings.catch_warnings():  # a rank correlation is undefined (NaN) when scores tie
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nanmean(arr, axis=0)
            rec.update(dict(zip(("mae", "bias", "spearman", "kendall", "regret", "val_mean", "test_mean"), means)))
            rec["mae_std"] = float(np.std(arr[:, 0])) if len(arr) > 1 else 0.0
            rec["bias_std"] = float(np.std(arr[:, 1])) if len(arr) > 1 else 0.0
        else:
            for k in ("mae", "bias", "spearman", "kendall", "regret", "val_mean", "test_mean", "mae_std", "bias_std"):
                rec[k] = np.nan
        rec["nn_shift"] = float(np.mean(diag[name]["nn_shift"]))
        rec["adv_auc"] = float(np.mean(diag[name]["adv_auc"]))
        records.append(rec)
    cols = ["mae", "mae_std", "bias", "bias_std", "spearman", "kendall", "regret", "nn_shift", "adv_auc",
            "val_mean", "test_mean"]
    return pd.DataFrame(records).set_index("strategy")[cols]


def _recommend(summary: pd.DataFrame, labeled: bool) -> str:
    """Labeled: smallest ``mae`` (ties: higher Spearman). Unlabeled: the best sum of ranks of
    ``nn_shift`` (smaller is better) and ``|adv_auc - 0.5|`` (closer to chance is better)."""
    if labeled:
        order = summary.assign(_rho=-summary.spearman.fillna(-1)).sort_values(["mae", "_rho"])
        return str(order.index[0])
    score = summary.nn_shift.rank() + (summary.adv_auc - 0.5).abs().rank()
    return str(score.sort_values(kind="stable").index[0])


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="fit")
