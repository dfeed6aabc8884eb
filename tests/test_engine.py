"""The comparison engine stage by stage on tiny data, against values derived independently.

Each stage (plan, splits, fits, diagnostics, summary) and :func:`compare_strategies` is run on tens
of rows with fast models, and checked against hand-computed numbers or scikit-learn / scipy called
directly on the same index arrays. Fast enough (a few seconds) to judge each mutant of the engine
(scripts/maintenance/mutation.sh, module ``compare``); the planted-case tests are in test_compare.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import DropClass
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold, cross_val_predict, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import splitters.comparison.diagnostics
import splitters.comparison.engine
import splitters.comparison.report
import splitters.comparison.result
import splitters.estimation
from splitters import GroupSplit, RandomSplit, TailSplit, TargetMatchedSplit, compare_strategies
from splitters.base import ValidationSplitter
from splitters.comparison import (
    DEFAULT_STRATEGIES,
    ComparisonResult,
    Splits,
    default_models,
    make_splits,
    plan_comparison,
    recommend,
    summarise,
    summary_columns,
)
from splitters.comparison.diagnostics import Diagnostics, _adversarial_auc, _sample, diagnose
from splitters.comparison.fits import TABLE_COLUMNS, Fits, _outputs, _progress, fit_models
from splitters.estimation import Estimates

ZOO_ORDER = ["logreg", "lda", "qda", "naive_bayes", "knn", "extra_trees", "tree"]

def _data(n=60, n_test=30, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, (classes, 3))
    y = np.arange(n) % classes
    yt = rng.integers(0, classes, n_test)
    return centers[y] + rng.normal(0, 1.0, (n, 3)), y, centers[yt] + rng.normal(0.3, 1.0, (n_test, 3)), yt


def _plan(**kw):
    X, y, Xt, yt = _data()
    args = {"strategies": ["tail"], "models": ["lda"], "repeats": 1, "val_size": 10, "progress": False, **kw}
    return plan_comparison(X, y, Xt, yt, **args)


class Counting(ClassifierMixin, BaseEstimator):
    """Predicts the majority class of its training part; counts its fits (class attribute)."""

    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        self.classes_ = np.unique(y)
        values, counts = np.unique(y, return_counts=True)
        self.label_ = values[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)


class FailsToFit(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("planted failure")

    def predict_proba(self, X):  # pragma: no cover - never reached
        raise AssertionError


class FailsToPredict(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        raise ArithmeticError("planted predict failure")

    predict_proba = predict


class FailsToSplit(ValidationSplitter):
    def __init__(self, val_size=0.1):
        self.val_size = val_size

    def _validation_indices(self, X, y, groups, n_val, rng):
        raise RuntimeError("planted split failure")


class CountingTail(TailSplit):
    """A TailSplit that counts how often its array parameters are validated."""

    checks = 0

    def _check_arrays(self):
        type(self).checks += 1


class Bare:
    """A splitter without get_params: used as given, named by its class."""

    def __init__(self, rows):
        self.rows = rows

    def split(self, X, y=None, groups=None):
        val = np.asarray(self.rows, dtype=np.int32)
        yield np.setdiff1d(np.arange(len(X)), val).astype(np.int32), val


# --- stage 1: the plan -------------------------------------------------------------------------------

def test_plan_defaults():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt)
    assert list(p.strategies) == ["tail", "random", "maxmin", "cluster", "target"] == list(DEFAULT_STRATEGIES)
    assert p.prevalidated == frozenset(DEFAULT_STRATEGIES)
    assert list(p.models) == ZOO_ORDER
    assert (p.metric.name, p.repeats, p.random_state, p.n_jobs, p.backend, p.progress) == ("accuracy", 3, 0, None,
                                                                                            None, True)
    assert p.unusable == {} and p.y_test is None and p.groups is None and not p.labeled
    assert [p.seed(r) for r in range(3)] == [0, 1, 2]
    assert all(s.val_size == 0.1 for s in p.strategies.values())
    assert p.strategies["target"].X_target is p.X_test
    np.testing.assert_array_equal(p.classes, [0, 1, 2])
    assert p.X is X and p.y is y and p.X_test is Xt  # validated, not copied


def test_plan_keeps_what_it_is_given():
    X, y, Xt, yt = _data()
    yt = yt.copy()
    yt[0] = 7  # a class only the test set has
    g = np.arange(60) // 6
    p = plan_comparison(X, y, Xt, yt, strategies=["group", "random"], models=["knn", "tree"], metric="macro_f1",
                        repeats=np.int64(2), random_state=np.int64(5), n_jobs=np.int64(2), val_size=12, groups=g,
                        backend="threading", progress=False)
    assert p.labeled and p.metric.name == "macro_f1" and (p.repeats, p.random_state) == (2, 5)
    assert p.n_jobs == 2 and type(p.n_jobs) is int and p.backend == "threading" and p.progress is False
    assert [p.seed(r) for r in range(2)] == [5, 6]
    np.testing.assert_array_equal(p.classes, [0, 1, 2, 7])
    np.testing.assert_array_equal(p.groups, g)
    assert p.strategies["group"].val_size == 12 and p.strategies["random"].val_size == 12
    assert list(p.models) == ["knn", "tree"] and p.models["tree"].random_state == 5
    assert p.prevalidated == {"group", "random"}


def test_default_models():
    zoo = default_models(4)
    assert list(zoo) == ZOO_ORDER
    assert zoo["logreg"].get_params()["C"] == 0.01 and zoo["logreg"].max_iter == 300
    assert zoo["qda"].reg_param == 0.1 and zoo["knn"].n_neighbors == 5
    et = zoo["extra_trees"]
    assert (et.n_estimators, et.max_depth, et.random_state, et.n_jobs) == (60, 18, 4, 1)
    assert (zoo["tree"].max_depth, zoo["tree"].random_state) == (10, 4)
    assert default_models()["tree"].random_state == 0 and default_models()["extra_trees"].random_state == 0
    assert type(zoo["lda"]).__name__ == "LinearDiscriminantAnalysis" and type(zoo["naive_bayes"]) is GaussianNB


def test_plan_names_objects():
    a, b = RandomSplit(val_size=10, random_state=1), RandomSplit(val_size=20, random_state=2)
    t, bare = TailSplit(val_size=5), Bare([1, 2])
    p = _plan(strategies=["tail", a, b, t, bare], models=[LogisticRegression(C=0.1), "lda",
                                                          LogisticRegression(C=1.0, max_iter=50)])
    assert list(p.strategies) == ["tail", "RandomSplit(random_state=1, val_size=10)",
                                  "RandomSplit(random_state=2, val_size=20)", "TailSplit", "Bare"]
    assert p.strategies["TailSplit"] is t and p.strategies["Bare"] is bare
    assert p.strategies["RandomSplit(random_state=1, val_size=10)"] is a
    assert list(p.models) == ["LogisticRegression(C=0.1, max_iter=100)", "lda",
                              "LogisticRegression(C=1.0, max_iter=50)"]
    assert p.prevalidated == {"tail"}
    # one differing parameter: only that one in the name
    p = _plan(strategies=[RandomSplit(val_size=10), RandomSplit(val_size=10, stratify=True)])
    assert list(p.strategies) == ["RandomSplit(stratify=False)", "RandomSplit(stratify=True)"]
    # nested estimators are told apart by their repr, not by their own parameters
    p = _plan(strategies=[TargetMatchedSplit(X_target=np.ones((4, 3)), estimator=LogisticRegression(C=c))
                          for c in (0.1, 1.0)])
    assert list(p.strategies) == ["TargetMatchedSplit(estimator=LogisticRegression(C=0.1))",
                                  "TargetMatchedSplit(estimator=LogisticRegression())"]


def test_plan_mappings_and_single_names():
    t = TailSplit(val_size=4)
    p = _plan(strategies={"mine": t, "by name": "random"}, models={"m": "lda", "n": GaussianNB()})
    assert list(p.strategies) == ["mine", "by name"] and p.strategies["mine"] is t
    assert isinstance(p.strategies["by name"], RandomSplit) and p.strategies["by name"].val_size == 10
    assert p.prevalidated == {"by name"}
    assert isinstance(p.models["m"], LinearDiscriminantAnalysis) and isinstance(p.models["n"], GaussianNB)
    p = _plan(strategies="head", models="knn")
    assert list(p.strategies) == ["head"] and list(p.models) == ["knn"]
    assert isinstance(p.models["knn"], KNeighborsClassifier)


def test_target_by_name_gets_the_test_set_and_the_group_strategy_its_groups():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["target", "group"], models=["lda"], groups=np.arange(60) // 6,
                        val_size=12)
    assert p.strategies["target"].X_target is p.X_test and p.strategies["target"].val_size == 12
    assert not hasattr(p.strategies["group"], "X_target") or p.strategies["group"].X_target is None


def test_models_that_cannot_give_probabilities_are_known_before_fitting():
    assert _plan(models={"ridge": RidgeClassifier(), "lda": "lda"}).unusable == {}
    p = _plan(models={"ridge": RidgeClassifier(), "lda": "lda"}, metric="log_loss")
    assert p.unusable == {"ridge": "RidgeClassifier has no predict_proba, which metric 'log_loss' needs"}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"X": np.zeros((60, 3, 1))}, "X must be 2-D"),
    ({"X": np.r_[np.zeros((59, 3)), [[0, np.inf, 0]]]}, "X contains NaN or infinite values in 1 row(s)"),
    ({"X_test": None}, "the test set is empty: pass X_test with at least one row"),
    ({"X_test": np.zeros((0, 3))}, "the test set is empty: pass X_test with at least one row"),
    ({"X_test": np.zeros((5, 2))}, "pool and test features differ: X has 3 columns, X_test has 2"),
    ({"X_test": np.full((5, 3), np.nan)}, "X_test contains NaN or infinite values in 5 row(s)"),
    ({"y": None}, "y is required: one label per row of X"),
    ({"y": np.zeros(59)}, "y must be 1-D with one entry per row of X (60)"),
    ({"y_test": np.zeros(29)}, "y_test must be 1-D with one entry per row of X_test (30)"),
    ({"groups": np.zeros(3)}, "groups must be 1-D with one entry per row of X (60)"),
    ({"repeats": 0}, "repeats must be a positive integer, got 0"),
    ({"repeats": True}, "repeats must be a positive integer, got True"),
    ({"random_state": -1}, "random_state must be an integer >= 0, got -1"),
    ({"random_state": 1.0}, "random_state must be an integer >= 0, got 1.0"),
    ({"val_size": 60}, "val_size=60 must be at least 1 and less than the pool size (60)"),
    ({"val_size": 1.5, "strategies": {"t": TailSplit(5)}}, "val_size as a fraction must lie strictly between 0 and 1"),
    ({"metric": "auc"}, "unknown metric 'auc'"),
    ({"strategies": ["tail", "middle"]}, "unknown strategy 'middle'"),
    ({"strategies": ["tail", "tail"]}, "strategies listed more than once: ['tail']"),
    ({"strategies": []}, "no strategies to compare"),
    ({"strategies": {}}, "no strategies to compare"),
    ({"strategies": ["group"]}, "the 'group' strategy needs groups: pass groups= (one group label per row of X)"),
    ({"strategies": {"x": 3}}, "strategy 'x' is neither a name nor a splitter with .split()"),
    ({"strategies": [TailSplit(5), TailSplit(5)]},
     "two strategies are the same TailSplit with the same parameters: pass each once, or a mapping "
     "{name: strategy} to name them yourself"),
    ({"strategies": [Bare([1]), Bare([2])]}, "two strategies are the same Bare with the same parameters"),
    ({"models": ["lda", "svm9000"]},
     "unknown model 'svm9000'; choose one of ['extra_trees', 'knn', 'lda', 'logreg', 'naive_bayes', 'qda', 'tree'] "
     "or pass estimators"),
    ({"models": ["lda", "lda"]}, "models listed more than once: ['lda']"),
    ({"models": []}, "no models to compare"),
    ({"models": [GaussianNB(), GaussianNB()]},
     "two models are the same GaussianNB with the same parameters: pass each once, or a mapping {name: model}"),
])
def test_plan_rejects_bad_input(kwargs, fragment):
    X, y, Xt, yt = _data()
    args = {"X": X, "y": y, "X_test": Xt, "y_test": yt, "strategies": ["tail"], "models": ["lda"], **kwargs}
    with pytest.raises(ValueError) as err:
        plan_comparison(args.pop("X"), args.pop("y"), args.pop("X_test"), args.pop("y_test"), **args)
    assert str(err.value).startswith(fragment)


def _with_missing(values, at, missing):
    out = np.asarray(values, dtype=object if missing is None else float).copy()
    out[at] = missing
    return out


@pytest.mark.parametrize("where, missing, message", [
    ("y", np.nan, "y has 2 missing entries (NaN or None); every row needs a label"),
    ("y", None, "y has 2 missing entries (NaN or None); every row needs a label"),
    ("y_test", np.nan, "y_test has 2 missing entries (NaN or None); every row needs a label"),
    ("groups", np.nan, "groups has 2 missing entries (NaN or None); every row needs a group"),
    ("groups", None, "groups has 2 missing entries (NaN or None); every row needs a group"),
])
def test_compare_strategies_refuses_missing_labels_and_groups_up_front(where, missing, message, monkeypatch):
    # issue 19, item 8: NaN labels made every fit fail and still gave a recommendation; NaN groups
    # were merged into one group without a word. Now a plain ValueError, before any split or fit.
    X, y, Xt, yt = _data()
    data = {"y": y, "y_test": yt, "groups": np.arange(len(y)) // 6}
    data[where] = _with_missing(data[where], [1, 4], missing)
    monkeypatch.setattr(splitters.comparison.engine, "make_splits", lambda plan: pytest.fail("split after bad input"))
    with pytest.raises(ValueError) as err:
        compare_strategies(X, data["y"], Xt, data["y_test"], groups=data["groups"], strategies=["group"],
                           models=["lda"], repeats=1, val_size=12, progress=False)
    assert str(err.value) == message


def test_missing_nullable_labels_are_refused_too():
    pd_y = pd.Series(np.arange(60) % 3, dtype="Int64")
    pd_y[7] = pd.NA
    X, _, Xt, yt = _data()
    with pytest.raises(ValueError, match=r"^y has 1 missing entries \(NaN or None\)"):
        plan_comparison(X, pd_y, Xt, yt, strategies=["tail"], models=["lda"])


# --- stage 2: the splits ------------------------------------------------------------------------------

def test_each_strategy_and_repeat_gets_its_rows():
    X, y, Xt, yt = _data()
    mine = RandomSplit(val_size=7, random_state=None)
    p = plan_comparison(X, y, Xt, yt, strategies={"tail": "tail", "head": "head", "random": "random", "mine": mine},
                        models=["lda"], repeats=3, random_state=5, val_size=10)
    s = make_splits(p)
    assert list(s.parts) == [(n, r) for n in ("tail", "head", "random", "mine") for r in range(3)]
    assert s.failed == {} and s.notes == []
    everything = np.arange(60)
    for r in range(3):
        train, val = s.parts[("tail", r)]
        np.testing.assert_array_equal(val, np.arange(50, 60))
        np.testing.assert_array_equal(train, np.arange(50))
        assert train.dtype == np.int64 and val.dtype == np.int64
        np.testing.assert_array_equal(s.parts[("head", r)][1], np.arange(10))
        for name, k in (("random", 10), ("mine", 7)):
            # an integer seed picks the rows train_test_split puts in its test part (splitters.rules)
            expected = np.sort(train_test_split(everything, test_size=k, random_state=5 + r)[1])
            train, val = s.parts[(name, r)]
            np.testing.assert_array_equal(val, expected)
            np.testing.assert_array_equal(train, np.setdiff1d(everything, expected))
    assert mine.random_state is None  # the caller's splitter is left alone


def test_splitters_with_nested_or_label_parameters_are_reseeded_per_repeat():
    X, y, Xt, yt = _data()
    target = TargetMatchedSplit(val_size=6, X_target=Xt, estimator=LogisticRegression(C=0.5))
    strat = RandomSplit(val_size=9, stratify=True)
    p = plan_comparison(X, y, Xt, yt, strategies={"target": target, "strat": strat}, models=["lda"], repeats=2,
                        random_state=3)
    s = make_splits(p)
    assert s.failed == {}
    for r in range(2):
        again = TargetMatchedSplit(val_size=6, X_target=Xt, estimator=LogisticRegression(C=0.5), random_state=3 + r)
        np.testing.assert_array_equal(s.parts[("target", r)][1], next(again.split(X))[1])
        val = s.parts[("strat", r)][1]
        np.testing.assert_array_equal(val, next(RandomSplit(val_size=9, stratify=True, random_state=3 + r).split(X, y))[1])
        assert np.bincount(y[val]).tolist() == [3, 3, 3]  # stratified: y reached the splitter
    assert target.random_state is None and strat.random_state is None


def test_a_splitter_of_its_own_gets_the_groups():
    X, y, Xt, yt = _data()
    g = np.arange(60) // 12
    p = plan_comparison(X, y, Xt, yt, strategies={"logo": LeaveOneGroupOut()}, models=["lda"], repeats=1, groups=g)
    train, val = make_splits(p).parts[("logo", 0)]
    expected_train, expected_val = next(LeaveOneGroupOut().split(X, y, g))
    np.testing.assert_array_equal(val, expected_val)
    np.testing.assert_array_equal(train, expected_train)


def test_splitters_without_seed_or_params_are_used_as_given():
    bare = Bare([3, 1])
    p = _plan(strategies={"bare": bare, "own": DropClass(), "tail": TailSplit(val_size=4)}, repeats=2)
    s = make_splits(p)
    for r in range(2):
        np.testing.assert_array_equal(s.parts[("bare", r)][1], [3, 1])
        assert s.parts[("bare", r)][0].dtype == np.int64 and s.parts[("bare", r)][1].dtype == np.int64
        np.testing.assert_array_equal(s.parts[("own", r)][1], np.arange(2, 60, 3))
        np.testing.assert_array_equal(s.parts[("tail", r)][1], np.arange(56, 60))


def test_array_parameters_are_checked_once_per_strategy_not_per_repeat(monkeypatch):
    CountingTail.checks = 0
    make_splits(_plan(strategies={"t": CountingTail(val_size=5)}, repeats=3))
    assert CountingTail.checks == 1
    # built by name from the plan's validated X_test: not checked again
    calls = []
    monkeypatch.setattr(TargetMatchedSplit, "_check_arrays", lambda self: calls.append(self))
    make_splits(_plan(strategies=["target"], repeats=2))
    assert calls == []
    make_splits(_plan(strategies={"t": TargetMatchedSplit(val_size=5, X_target=np.ones((4, 3)))}, repeats=2))
    assert len(calls) == 1
    monkeypatch.undo()
    # a target splitter given as an object has its X_target checked: a missing one fails that strategy
    s = make_splits(_plan(strategies={"t": TargetMatchedSplit(val_size=5), "tail": "tail"}, repeats=2))
    assert s.failed == {"t": "ValueError: TargetMatchedSplit needs X_target: unlabeled rows of the data the model "
                             "will meet"}
    assert list(s.parts) == [("tail", 0), ("tail", 1)]


def test_a_strategy_that_cannot_split_is_recorded():
    s = make_splits(_plan(strategies={"broken": FailsToSplit(), "tail": "tail"}, repeats=2))
    assert s.failed == {"broken": "RuntimeError: planted split failure"}
    assert s.notes == ["broken: could not split the pool (RuntimeError: planted split failure)"]
    assert list(s.parts) == [("tail", 0), ("tail", 1)]
    with pytest.raises(ValueError) as err:
        make_splits(_plan(strategies={"a": FailsToSplit(), "b": TailSplit(val_size=100)}))
    assert str(err.value) == ("no strategy could split the pool: a: RuntimeError: planted split failure; "
                              "b: ValueError: val_size=100 must be at least 1 and less than the pool size (60)")


def test_split_warnings_and_missing_classes_become_notes():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies={"group": GroupSplit(val_size=10), "drop": DropClass()},
                        models=["lda"], repeats=3, groups=np.arange(60) // 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warnings are recorded, not shown
        s = make_splits(p)
    assert s.notes == [
        "group: GroupSplit: validation has 9 rows, not the 10 requested (whole groups only; never more than requested)",
        *[f"drop, repeat {r}: classes [2] are missing from the training part; models cannot predict them (scored "
          "as errors)" for r in range(3)]]
    assert all(len(s.parts[("group", r)][1]) == 9 for r in range(3))


# --- stage 3: the fits --------------------------------------------------------------------------------

def _by_hand(model, X, y, Xt, yt, train, val):
    m = clone(model).fit(X[train], y[train])
    return accuracy_score(y[val], m.predict(X[val])), accuracy_score(yt, m.predict(Xt))


def test_every_fit_is_scored_on_its_own_rows():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["tail", "random"], models=["lda", "naive_bayes", "knn"],
                        repeats=2, val_size=15, random_state=3, progress=False)
    splits = make_splits(p)
    start = time.perf_counter()
    fits = fit_models(p, splits)
    elapsed = time.perf_counter() - start
    t = fits.table
    assert list(t.columns) == TABLE_COLUMNS and fits.predictions == {} and fits.notes == []
    keys = [(s, r, m) for s in ("tail", "random") for r in range(2) for m in ("lda", "naive_bayes", "knn")]
    assert list(zip(t.strategy, t.repeat, t.model)) == keys
    zoo = default_models()
    for (s, r, m), row in zip(keys, t.itertuples()):
        train, val = splits.parts[(s, r)]
        v, te = _by_hand(zoo[m], X, y, Xt, yt, train, val)
        assert (row.val_score, row.test_score) == (pytest.approx(v), pytest.approx(te))
        assert row.gap == pytest.approx(v - te)
        assert (row.n_train, row.n_val, row.status, row.error) == (45, 15, "ok", None)
        assert 0 < row.fit_seconds <= elapsed


def test_models_are_seeded_per_repeat_and_predictions_kept_on_request():
    X, y, Xt, yt = _data()
    tree = DecisionTreeClassifier(max_features=1, random_state=0)
    p = plan_comparison(X, y, Xt, yt, strategies=["random"], models={"tree": tree, "nb": "naive_bayes"}, repeats=2,
                        val_size=15, random_state=8, progress=False)
    splits = make_splits(p)
    fits = fit_models(p, splits, keep_predictions=True)
    assert list(fits.predictions) == [("random", r, m) for r in range(2) for m in ("tree", "nb")]
    for r in range(2):
        train, val = splits.parts[("random", r)]
        m = DecisionTreeClassifier(max_features=1, random_state=8 + r).fit(X[train], y[train])
        pred = fits.predictions[("random", r, "tree")]
        np.testing.assert_array_equal(pred.val_pred, m.predict(X[val]))
        np.testing.assert_array_equal(pred.test_pred, m.predict(Xt))
        np.testing.assert_allclose(pred.val_proba, m.predict_proba(X[val]), atol=1e-6)
        np.testing.assert_allclose(pred.test_proba, m.predict_proba(Xt), atol=1e-6)
        assert pred.val_proba.dtype == np.float32 and pred.test_proba.dtype == np.float32
        row = fits.table[(fits.table.repeat == r) & (fits.table.model == "tree")].iloc[0]
        assert row.val_score == pytest.approx(accuracy_score(y[val], m.predict(X[val])))
    assert tree.random_state == 0 and not hasattr(tree, "tree_")  # the caller's model is not fit


def test_log_loss_is_scored_on_probabilities_over_all_classes():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies={"drop": DropClass()}, models=["lda"], metric="log_loss", repeats=1,
                        progress=False)
    splits = make_splits(p)
    row = fit_models(p, splits).table.iloc[0]
    train, val = splits.parts[("drop", 0)]
    m = LinearDiscriminantAnalysis().fit(X[train], y[train])
    full = np.c_[m.predict_proba(X[val]), np.full(len(val), 1e-15)]
    full /= full.sum(axis=1, keepdims=True)
    assert row.val_score == pytest.approx(log_loss(y[val], full, labels=[0, 1, 2]))
    full_t = np.c_[m.predict_proba(Xt), np.full(len(Xt), 1e-15)]
    full_t /= full_t.sum(axis=1, keepdims=True)
    assert row.test_score == pytest.approx(log_loss(yt, full_t, labels=[0, 1, 2]))
    assert row.val_score > 10  # every validation row is of a class the model never saw


def test_outputs_put_each_class_in_its_column():
    X, y, _, _ = _data()
    keep = y != 1
    m = GaussianNB().fit(X[keep], y[keep])  # knows classes 0 and 2 only
    classes = np.array([0, 1, 2])
    labels, proba = _outputs(m, X[:9], classes, True)
    expected = m.predict_proba(X[:9])
    np.testing.assert_allclose(proba[:, [0, 2]], expected, rtol=1e-9)
    np.testing.assert_allclose(proba[:, 1], 1e-15, rtol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(labels, m.predict(X[:9]))
    labels, proba = _outputs(m, X[:9], classes, False)
    assert proba is None
    np.testing.assert_array_equal(labels, m.predict(X[:9]))
    labels, proba = _outputs(RidgeClassifier().fit(X, y), X[:9], classes, True)  # no predict_proba: labels only
    assert proba is None and len(labels) == 9


class Unnormalised(Counting):
    """predict_proba gives scores that do not sum to one."""

    def predict_proba(self, X):
        return np.c_[np.full(len(X), 2.0), np.full(len(X), 6.0)]


def test_rows_that_are_not_probabilities_are_kept_for_the_estimation_stage_to_fail():
    # Rows summing to 8 are not probabilities: renormalising them would hide a broken model.
    X, y, _, _ = _data()
    keep = y < 2
    labels, proba = _outputs(Unnormalised().fit(X[keep], y[keep]), X[:4], np.array([0, 1]), True)
    np.testing.assert_allclose(proba, [[2.0, 6.0]] * 4)
    np.testing.assert_array_equal(labels, [1, 1, 1, 1])


class Warns(Counting):
    def fit(self, X, y):
        warnings.warn("planted warning", UserWarning, stacklevel=2)
        return super().fit(X, y)


def test_warnings_of_a_fit_other_than_convergence_reach_the_caller():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["tail"], models={"w": Warns()}, repeats=1, progress=False)
    with pytest.warns(UserWarning, match="planted warning"):
        t = fit_models(p, make_splits(p)).table
    assert t.status.tolist() == ["ok"]


def test_convergence_warnings_do_not_fail_a_fit():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["tail"], models={"lr": LogisticRegression(max_iter=1)}, repeats=1,
                        progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = fit_models(p, make_splits(p)).table
    assert t.status.tolist() == ["ok"] and t.error.tolist() == [None]


def test_failed_fits_unusable_models_and_failed_splits_get_rows():
    X, y, Xt, yt = _data()
    Counting.fits = 0
    models = {"bad": FailsToFit(), "mute": FailsToPredict(), "ridge": RidgeClassifier(), "lda": "lda"}
    p = plan_comparison(X, y, Xt, yt, strategies={"tail": "tail", "broken": FailsToSplit()}, models=models,
                        metric="log_loss", repeats=2, val_size=10, progress=False)
    splits = make_splits(p)
    fits = fit_models(p, splits)
    t = fits.table
    assert len(t) == 2 * 4 + 1
    bad = t[t.model == "bad"]
    assert bad.status.eq("failed").all() and bad.error.eq("RuntimeError: planted failure").all()
    assert bad.val_score.isna().all() and bad.test_score.isna().all() and bad.gap.isna().all()
    assert bad.fit_seconds.eq(0.0).all() and bad.n_train.eq(50).all() and bad.n_val.eq(10).all()
    assert t[t.model == "mute"].error.eq("ArithmeticError: planted predict failure").all()
    ridge = t[t.model == "ridge"]
    assert ridge.status.eq("failed").all() and ridge.fit_seconds.eq(0.0).all()
    assert ridge.error.eq("RidgeClassifier has no predict_proba, which metric 'log_loss' needs").all()
    assert t[t.model == "lda"].status.eq("ok").all() and t[t.model == "lda"].val_score.notna().all()
    broken = t[t.strategy == "broken"].iloc[0]
    assert (broken.status, broken.error) == ("failed", "RuntimeError: planted split failure")
    assert pd.isna(broken["model"]) and pd.isna(broken["repeat"]) and np.isnan(broken.val_score) and np.isnan(broken.gap)
    assert np.isnan(broken.test_score) and pd.isna(broken.n_train) and pd.isna(broken.fit_seconds)
    assert fits.notes == ["model ridge: RidgeClassifier has no predict_proba, which metric 'log_loss' needs; not fit",
                          "tail, repeat 0, model bad: failed (RuntimeError: planted failure)",
                          "tail, repeat 0, model mute: failed (ArithmeticError: planted predict failure)",
                          "tail, repeat 1, model bad: failed (RuntimeError: planted failure)",
                          "tail, repeat 1, model mute: failed (ArithmeticError: planted predict failure)"]


def test_an_unusable_model_is_never_fit():
    class NoProba(Counting):
        fits = 0

    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["tail"], models={"c": NoProba()}, metric="log_loss", repeats=1,
                        progress=False)
    t = fit_models(p, make_splits(p), keep_predictions=True).table
    assert NoProba.fits == 0 and t.status.tolist() == ["failed"]


def test_without_test_labels_nothing_is_fit_unless_predictions_are_wanted():
    X, y, Xt, _ = _data()
    Counting.fits = 0
    p = plan_comparison(X, y, Xt, None, strategies=["tail", "head"], models={"c": Counting(), "d": "lda"}, repeats=2,
                        val_size=10, progress=False)
    splits = make_splits(p)
    t = fit_models(p, splits).table
    assert Counting.fits == 0 and len(t) == 4
    assert t.model.isna().all() and t.status.eq("ok").all() and t.error.isna().all()
    assert t.val_score.isna().all() and t.test_score.isna().all() and t.fit_seconds.eq(0.0).all()
    assert t.n_val.eq(10).all() and t.n_train.eq(50).all()
    kept = fit_models(p, splits, keep_predictions=True)
    assert Counting.fits == 4 and len(kept.table) == 8 and kept.table.test_score.isna().all()
    train, val = splits.parts[("head", 1)]
    row = kept.table[(kept.table.strategy == "head") & (kept.table.repeat == 1) & (kept.table.model == "d")].iloc[0]
    m = LinearDiscriminantAnalysis().fit(X[train], y[train])
    assert row.val_score == pytest.approx(accuracy_score(y[val], m.predict(X[val])))
    # Counting has no predict_proba: labels kept, no probabilities
    pred = kept.predictions[("tail", 0, "c")]
    assert pred.val_proba is None and pred.test_proba is None and (pred.val_pred == pred.val_pred[0]).all()
    assert kept.predictions[("tail", 0, "d")].val_proba.shape == (10, 3)


def test_no_progress_bar_when_nothing_is_fit(capsys):
    X, y, Xt, _ = _data()
    p = plan_comparison(X, y, Xt, None, strategies=["tail"], models=["lda"], repeats=1, progress=True)
    fit_models(p, make_splits(p))
    assert capsys.readouterr().err == ""
    fit_models(p, make_splits(p), keep_predictions=True)
    assert "fits" in capsys.readouterr().err


def test_progress_bar_only_when_asked():
    items = [1, 2, 3]
    assert _progress(items, total=3, enabled=False, desc="fits") is items
    bar = _progress(iter(items), total=3, enabled=True, desc="fits")  # a generator has no len(): total is given
    assert list(bar) == items and (bar.total, bar.desc, bar.unit) == (3, "fits", "fit")


def test_one_and_two_jobs_give_identical_tables():
    X, y, Xt, yt = _data()
    kw = {"strategies": ["tail", "random"], "models": ["lda", "knn", "tree"], "repeats": 2, "val_size": 12,
          "random_state": 7, "progress": False}
    p1 = plan_comparison(X, y, Xt, yt, n_jobs=1, **kw)
    p2 = plan_comparison(X, y, Xt, yt, n_jobs=2, backend="threading", **kw)
    t1, t2 = fit_models(p1, make_splits(p1)).table, fit_models(p2, make_splits(p2)).table
    pd.testing.assert_frame_equal(t1.drop(columns="fit_seconds"), t2.drop(columns="fit_seconds"), check_exact=True)


class Where(Counting):
    """Fails unless fit in process ``pid``; records whether it ran in thread ``thread``."""

    seen: list = []

    def __init__(self, pid=None, thread=None):
        self.pid = pid
        self.thread = thread

    def fit(self, X, y):
        if os.getpid() != self.pid:
            raise RuntimeError("fit in another process")
        type(self).seen.append(threading.get_ident() == self.thread)
        return super().fit(X, y)


def test_jobs_and_backend_decide_where_fits_run():
    here = Where(os.getpid(), threading.get_ident())
    Where.seen = []
    p = _plan(strategies=["tail", "head"], models={"w": here}, repeats=2, n_jobs=2, backend="threading")
    t = fit_models(p, make_splits(p)).table
    assert t.status.eq("ok").all() and Where.seen == [False] * 4  # two threads of this process, not this thread
    Where.seen = []
    p = _plan(strategies=["tail", "head"], models={"w": here}, repeats=2, n_jobs=1, backend="threading")
    assert fit_models(p, make_splits(p)).table.status.eq("ok").all() and Where.seen == [True] * 4


def test_macro_f1_on_test_counts_every_class_of_the_plan():
    X, y, Xt, yt = _data()
    keep = yt < 2  # the test set has no row of class 2
    Xt, yt = Xt[keep], yt[keep]
    p = plan_comparison(X, y, Xt, yt, strategies={"drop": DropClass()}, models=["lda"], metric="macro_f1", repeats=1,
                        progress=False)
    splits = make_splits(p)
    row = fit_models(p, splits).table.iloc[0]
    train, val = splits.parts[("drop", 0)]  # class 2 is not in the training part either
    m = LinearDiscriminantAnalysis().fit(X[train], y[train])
    pred_t = m.predict(Xt)
    assert 2 not in pred_t  # so a score over the classes present only would differ
    assert row.test_score == pytest.approx(f1_score(yt, pred_t, average="macro", labels=[0, 1, 2], zero_division=0))
    assert row.val_score == pytest.approx(f1_score(y[val], m.predict(X[val]), average="macro", labels=[0, 1, 2],
                                                   zero_division=0))


def test_progress_and_backend_reach_the_fits(capsys, monkeypatch):
    import splitters.comparison.fits

    seen = {}
    real = splitters.comparison.fits._progress

    def spy(iterable, total, enabled, desc):
        seen.update(total=total, enabled=enabled, desc=desc)
        return real(iterable, total, enabled, desc)

    monkeypatch.setattr(splitters.comparison.fits, "_progress", spy)
    p = _plan(models=["lda", "naive_bayes"], repeats=2, progress=True, backend="threading", n_jobs=2)
    fit_models(p, make_splits(p))
    assert seen == {"total": 4, "enabled": True, "desc": "fits"}
    assert "fits" in capsys.readouterr().err


# --- stage 4: the diagnostics -------------------------------------------------------------------------

def _nearest(A, B):
    return cdist(A, B).min(axis=1)


def _auc(A, B, seed):
    both = np.r_[A, B]
    label = np.r_[np.zeros(len(A)), np.ones(len(B))]
    folds = StratifiedKFold(n_splits=min(3, len(A), len(B)), shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=500), both, label, cv=folds, method="predict_proba")
    return roc_auc_score(label, proba[:, 1])


def test_diagnostics_by_hand():
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["random"], models=["lda"], repeats=2, val_size=12, random_state=4)
    splits = make_splits(p)
    d = diagnose(p, splits)
    assert list(d.values) == ["random"] and d.notes == []
    for name in ("random",):
        for r in range(2):
            train, val = splits.parts[(name, r)]
            d_val, d_test = _nearest(X[val], X[train]), _nearest(Xt, X[train])
            shift = wasserstein_distance(d_val, d_test) / np.median(d_test)
            assert d.values[name]["nn_shift"][r] == pytest.approx(shift, rel=1e-5)  # float32 distances
            assert d.values[name]["adv_auc"][r] == pytest.approx(_auc(X[val], Xt, 4 + r))
            if r == 0:
                np.testing.assert_allclose(d.distances[name]["validation"], d_val, rtol=1e-5)
                np.testing.assert_allclose(d.distances[name]["test"], d_test, rtol=1e-5)
        assert isinstance(d.values[name]["nn_shift"][0], float)
    assert list(d.distances) == ["random"] and list(d.distances["random"]) == ["validation", "test"]


def test_adversarial_auc_by_hand():
    rng = np.random.default_rng(0)
    near, far = rng.normal(0, 1, (10, 2)), rng.normal(20, 1, (12, 2))
    assert _adversarial_auc(near, far, 0) == 1.0  # told apart perfectly
    same = np.ones((6, 2))
    assert _adversarial_auc(same, same, 0) == 0.5  # indistinguishable
    assert _adversarial_auc(near[:2], far, 3) == pytest.approx(_auc(near[:2], far, 3))  # two folds suffice
    assert _adversarial_auc(near, far[:2], 3) == pytest.approx(_auc(near, far[:2], 3))
    mixed = rng.normal(0, 1, (9, 2))
    assert _adversarial_auc(near, mixed, 5) == pytest.approx(_auc(near, mixed, 5))
    for a, b in ((near[:1], far), (near, far[:1])):
        with pytest.raises(ValueError) as err:
            _adversarial_auc(a, b, 0)
        assert str(err.value) == f"needs at least 2 rows on each side, got {len(a)} validation and {len(b)} test rows"


def test_sample_takes_distinct_rows_only_when_there_are_too_many():
    idx = np.arange(10, 20)
    assert _sample(idx, 10, np.random.default_rng(0)) is idx and _sample(idx, 11, np.random.default_rng(0)) is idx
    got = _sample(idx, 4, np.random.default_rng(0))
    assert len(got) == 4 and len(set(got.tolist())) == 4 and set(got.tolist()) <= set(idx.tolist())
    np.testing.assert_array_equal(got, np.random.default_rng(0).choice(idx, 4, replace=False))


def test_diagnostics_subsample_each_side(monkeypatch):
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=2, val_size=12)
    splits = make_splits(p)
    monkeypatch.setattr(splitters.comparison.diagnostics, "DIAGNOSTIC_ROWS", 5)
    calls = []
    real_nn, real_auc = splitters.comparison.diagnostics.nearest_distances, splitters.comparison.diagnostics._adversarial_auc

    def nn(A, B):
        calls.append(("nn", A, B))
        return real_nn(A, B)

    def auc(A, B, seed):
        calls.append(("auc", A, B, seed))
        return real_auc(A, B, seed)

    monkeypatch.setattr(splitters.comparison.diagnostics, "nearest_distances", nn)
    monkeypatch.setattr(splitters.comparison.diagnostics, "_adversarial_auc", auc)
    d = diagnose(p, splits)
    assert [c[0] for c in calls] == ["nn", "nn", "auc"] * 2
    train_rows = {tuple(row) for row in X[:48]}
    val_rows, test_rows = {tuple(row) for row in X[48:]}, {tuple(row) for row in Xt}
    tests_seen = []
    for r in range(2):
        (_, v, tr), (_, t, tr2), (_, va, ta, seed) = calls[3 * r: 3 * r + 3]
        assert len(v) == 5 and len(t) == 5 and len(tr) == 20 and len(va) == 5 and len(ta) == 5 and seed == r
        assert tr is tr2 and {tuple(row) for row in tr} <= train_rows and len({tuple(row) for row in tr}) == 20
        assert {tuple(row) for row in v} <= val_rows and {tuple(row) for row in va} <= val_rows
        assert {tuple(row) for row in t} <= test_rows and np.array_equal(t, ta)  # one test sample for both
        tests_seen.append(t)
    np.testing.assert_array_equal(tests_seen[0], tests_seen[1])  # the test rows are drawn once
    assert len(d.distances["tail"]["validation"]) == 5
    again = diagnose(p, splits)  # seeded by the plan: the same subsamples
    assert again.values == d.values


def test_a_diagnostic_that_fails_is_noted_and_left_nan(monkeypatch):
    X, y, Xt, yt = _data()
    p = plan_comparison(X, y, Xt[:1], yt[:1], strategies=["tail"], models=["lda"], repeats=2, val_size=12)
    d = diagnose(p, make_splits(p))
    assert np.isnan(d.values["tail"]["adv_auc"]).all() and np.isfinite(d.values["tail"]["nn_shift"]).all()
    assert d.notes == [f"tail, repeat {r}: diagnostic adv_auc failed (ValueError: needs at least 2 rows on each side, "
                       "got 12 validation and 1 test rows)" for r in range(2)]
    assert "tail" in d.distances

    def broken(A, B):
        raise ZeroDivisionError("planted")

    p = plan_comparison(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=1, val_size=12)
    monkeypatch.setattr(splitters.comparison.diagnostics, "nearest_distances", broken)
    d = diagnose(p, make_splits(p))
    assert np.isnan(d.values["tail"]["nn_shift"][0]) and np.isfinite(d.values["tail"]["adv_auc"][0])
    assert d.notes == ["tail, repeat 0: diagnostic nn_shift failed (ZeroDivisionError: planted)"] * 2
    assert d.distances == {}

    monkeypatch.undo()
    real = splitters.comparison.diagnostics.nearest_distances

    def val_only_broken(A, B):
        if len(A) == 12:
            raise ZeroDivisionError("planted")
        return real(A, B)

    monkeypatch.setattr(splitters.comparison.diagnostics, "nearest_distances", val_only_broken)
    d = diagnose(p, make_splits(p))  # one failure, one note: no shift is attempted without both sides
    assert d.notes == ["tail, repeat 0: diagnostic nn_shift failed (ZeroDivisionError: planted)"]
    assert np.isnan(d.values["tail"]["nn_shift"][0]) and d.distances == {}

    def no_shift(a, b):
        raise OverflowError("planted shift")

    monkeypatch.undo()
    monkeypatch.setattr(splitters.comparison.diagnostics, "distribution_shift", no_shift)
    d = diagnose(p, make_splits(p))
    assert np.isnan(d.values["tail"]["nn_shift"][0])
    assert d.notes == ["tail, repeat 0: diagnostic nn_shift failed (OverflowError: planted shift)"]
    assert list(d.distances) == ["tail"]  # the distances themselves were measured


# --- stage 5: the summary -----------------------------------------------------------------------------

def _row(s, r, m, v, t, status="ok", error=None):
    return {"strategy": s, "repeat": r, "model": m, "val_score": v, "test_score": t, "gap": v - t,
            "fit_seconds": 0.1, "n_train": 50, "n_val": 10, "status": status, "error": error}


def _hand_table():
    rows = [
        # a: repeat 0 ranks agree, validation picks the test-best; repeat 1 picks 0.9 while the best is 0.95
        _row("a", 0, "m1", 0.9, 0.85), _row("a", 0, "m2", 0.8, 0.82), _row("a", 0, "m3", 0.7, 0.6),
        _row("a", 1, "m1", 0.6, 0.7), _row("a", 1, "m2", 0.7, 0.95), _row("a", 1, "m3", 0.8, 0.9),
        # b: one repeat, one failed model
        _row("b", 0, "m1", 0.2, 0.5), _row("b", 0, "m2", 0.3, 0.4), _row("b", 0, "m3", 0.4, 0.45),
        _row("b", 0, "m4", np.nan, np.nan, "failed", "E: x"),
        # c: every fit failed
        _row("c", 0, "m1", np.nan, np.nan, "failed", "E: boom"), _row("c", 1, "m1", np.nan, np.nan, "failed", "E: boom"),
        _row("c", 0, "m2", np.nan, np.nan, "failed", "F: bad"),
        # e: constant validation scores in repeat 0 (no rank correlation there)
        _row("e", 0, "m1", 0.5, 0.4), _row("e", 0, "m2", 0.5, 0.6), _row("e", 0, "m3", 0.5, 0.5),
        _row("e", 1, "m1", 0.1, 0.1), _row("e", 1, "m2", 0.2, 0.2), _row("e", 1, "m3", 0.3, 0.3),
    ]
    failed_split = {**dict.fromkeys(TABLE_COLUMNS), "strategy": "d", "status": "failed", "error": "RuntimeError: no",
                    "val_score": np.nan, "test_score": np.nan, "gap": np.nan}
    return pd.DataFrame(rows + [failed_split], columns=TABLE_COLUMNS)


def _hand_records(metric="accuracy", labeled=True):
    X, y, Xt, yt = _data()
    names = ["e", "a", "b", "c", "d"]  # the summary follows this order, not the table's
    p = plan_comparison(X, y, Xt, yt if labeled else None, strategies={n: TailSplit(val_size=5) for n in names},
                        models=["lda"], metric=metric, repeats=2)
    splits = Splits({}, failed={"d": "RuntimeError: no"})
    diag = Diagnostics({"a": {"nn_shift": [0.1, np.nan], "adv_auc": [0.6, 0.7]},
                        "e": {"nn_shift": [0.3, 0.5], "adv_auc": [np.nan, np.nan]}})
    return p, splits, Fits(_hand_table()), diag


def test_summary_by_hand():
    s = summarise(*_hand_records())
    assert list(s.columns) == summary_columns() and list(s.index) == ["e", "a", "b", "c", "d"]
    assert s.index.name == "strategy"
    a = s.loc["a"]
    # repeat 0: gaps 0.05, -0.02, 0.10; repeat 1: gaps -0.1, -0.25, -0.1
    assert a.mae == pytest.approx((0.17 / 3 + 0.15) / 2) and a.mae_std == pytest.approx((0.15 - 0.17 / 3) / 2)
    assert a.bias == pytest.approx((0.13 / 3 - 0.15) / 2) and a.bias_std == pytest.approx((0.13 / 3 + 0.15) / 2)
    assert a.spearman == pytest.approx(0.75) and a.spearman_std == pytest.approx(0.25)  # 1.0 and 0.5
    assert a.kendall == pytest.approx(2 / 3) and a.kendall_std == pytest.approx(1 / 3)  # 1.0 and 1/3
    assert a.regret == pytest.approx(0.025) and a.regret_std == pytest.approx(0.025)  # 0.0 and 0.05
    assert a.val_mean == pytest.approx(0.75) and a.test_mean == pytest.approx((2.27 / 3 + 0.85) / 2)
    assert a.nn_shift == pytest.approx(0.1) and a.adv_auc == pytest.approx(0.65)
    assert a.status == "ok" and pd.isna(a.error)
    b = s.loc["b"]  # the failed m4 is left out of every measure
    assert b.mae == pytest.approx(0.15) and b.bias == pytest.approx(-0.15)  # gaps -0.3, -0.1, -0.05
    assert b.spearman == pytest.approx(-0.5) and b.kendall == pytest.approx(-1 / 3)  # ranks 1, 2, 3 vs 3, 1, 2
    assert b.regret == pytest.approx(0.05)  # validation picks m3 (0.45 on test), m1 has 0.5
    assert (b.mae_std, b.bias_std, b.spearman_std, b.kendall_std, b.regret_std) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert b.val_mean == pytest.approx(0.3) and b.test_mean == pytest.approx(0.45)
    assert np.isnan(b.nn_shift) and np.isnan(b.adv_auc)
    assert (b.status, b.error) == ("partial", "m4: E: x")
    c = s.loc["c"]
    assert c[summary_columns()[:-2]].isna().all()
    assert (c.status, c.error) == ("failed", "m1: E: boom; m2: F: bad")
    d = s.loc["d"]
    assert d[summary_columns()[:-2]].isna().all() and (d.status, d.error) == ("failed", "RuntimeError: no")
    e = s.loc["e"]  # repeat 0 has no rank correlation: the mean and spread are over repeat 1 only
    assert e.spearman == 1.0 and e.spearman_std == 0.0 and e.kendall == 1.0 and e.kendall_std == 0.0
    assert e.mae == pytest.approx(0.2 / 6) and e.mae_std == pytest.approx(0.2 / 6)
    assert e.bias == pytest.approx(0.0, abs=1e-12) and e.nn_shift == pytest.approx(0.4) and np.isnan(e.adv_auc)


def test_summary_of_nothing_is_nan_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" / "degrees of freedom" RuntimeWarning
        s = summarise(*_hand_records())
    assert s.loc["c", ["mae", "mae_std", "nn_shift"]].isna().all()


def test_summary_regret_for_a_lower_is_better_metric():
    s = summarise(*_hand_records(metric="log_loss"))
    assert s.loc["b"].regret == pytest.approx(0.1)  # the lowest validation loss (m1) has 0.5 on test, m2 0.4
    assert s.loc["a"].regret == pytest.approx(0.0)  # picks m3 (0.6, the best) and m1 (0.7, the best)
    assert s.loc["a"].regret_std == 0.0
    assert s.loc["a"].spearman == pytest.approx(0.75)  # rank agreement does not depend on the orientation


def test_summary_without_test_labels_has_only_diagnostics():
    s = summarise(*_hand_records(labeled=False))
    assert s[["mae", "bias", "spearman", "kendall", "regret", "val_mean", "test_mean"]].isna().all(axis=None)
    assert s.loc["a"].nn_shift == pytest.approx(0.1) and s.loc["e"].nn_shift == pytest.approx(0.4)
    assert s.loc["b"].status == "partial" and s.loc["d"].status == "failed"


@pytest.mark.parametrize("mae, spearman, expected", [
    ([0.2, 0.1, 0.3], [1.0, 0.0, 1.0], "b"),
    ([0.2, 0.1, 0.1], [1.0, 0.3, 0.5], "c"),  # a tie in mae: the higher Spearman
    ([0.1, 0.1, 0.2], [np.nan, -0.5, 1.0], "b"),  # no Spearman counts as the worst
    ([0.1, 0.1, 0.2], [np.nan, -1.0, 1.0], "a"),  # ... as -1: a tie, the first in order
    ([np.nan, 0.3, 0.2], [1.0, 1.0, 1.0], "c"),
])
def test_recommend_labeled(mae, spearman, expected):
    s = pd.DataFrame({"mae": mae, "spearman": spearman, "nn_shift": [0.1, 0.2, 0.3], "adv_auc": [0.5, 0.6, 0.7]},
                     index=["a", "b", "c"])
    assert recommend(s, labeled=True) == expected


@pytest.mark.parametrize("nn_shift, adv_auc, expected", [
    ([0.3, 0.1, 0.2, 0.4], [0.6, 0.5, 0.55, 0.7], "b"),
    ([0.3, 0.4, 0.1, 0.2], [0.8, 0.9, 0.7, 0.6], "c"),  # ranks 3+3, 4+4, 1+2, 2+1: a tie, the first in order
    ([0.2, 0.1, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], "a"),  # 2+1 vs 1+2: a tie, the first in order
    ([np.nan, 0.3, 0.2, 0.4], [0.5, 0.9, 0.6, 0.8], "c"),  # no value: never picked
    ([0.3, 0.2, 0.1, 0.4], [0.35, 0.5, 0.7, 0.9], "b"),  # 0.35 is as far from chance as 0.65
    ([0.3, 0.2, 0.4, 0.5], [np.nan] * 4, "b"),  # no strategy has adv_auc: nn_shift alone decides
    ([np.nan] * 4, [0.7, 0.6, 0.9, 0.8], "b"),  # and the other way round
])
def test_recommend_without_labels(nn_shift, adv_auc, expected):
    s = pd.DataFrame({"mae": np.nan, "spearman": np.nan, "nn_shift": nn_shift, "adv_auc": adv_auc},
                     index=["a", "b", "c", "d"])
    assert recommend(s, labeled=False) == expected
    assert recommend(s, labeled=True) == expected  # labeled, but no fit could be scored


def test_recommend_with_nothing_measured():
    s = pd.DataFrame({"mae": [np.nan, 0.1], "spearman": np.nan, "nn_shift": np.nan, "adv_auc": np.nan},
                     index=["a", "b"])
    assert recommend(s, labeled=True) == "b"
    with pytest.raises(ValueError) as err:
        recommend(s, labeled=False)
    assert str(err.value) == ("nothing could be measured: every fit and every diagnostic failed (see the reasons "
                              "above)")


# --- the whole run ------------------------------------------------------------------------------------

@pytest.fixture
def quick_auc(monkeypatch):
    """adv_auc without its cross-validated fits (checked by hand above): the whole-run tests check
    the orchestration, and each mutant of the engine runs them, so they must be quick."""
    real = splitters.comparison.diagnostics._adversarial_auc

    def quick(A, B, seed):
        if min(len(A), len(B)) < 2:
            return real(A, B, seed)  # the real error
        return float(0.5 + np.tanh(abs(A.mean() - B.mean()) + seed / 100) / 2)

    monkeypatch.setattr(splitters.comparison.diagnostics, "_adversarial_auc", quick)


def _spy_plan(monkeypatch):
    seen = {}
    real = splitters.comparison.engine.plan_comparison

    def spy(*args, **kwargs):
        seen["plan"] = real(*args, **kwargs)
        return seen["plan"]

    monkeypatch.setattr(splitters.comparison.engine, "plan_comparison", spy)
    return seen


def test_compare_strategies_is_its_stages(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()
    seen = _spy_plan(monkeypatch)
    kw = {"strategies": ["tail", "random", "group"], "models": ["lda", "naive_bayes", "knn"], "repeats": 2,
          "random_state": 2, "val_size": 12, "groups": np.arange(60) // 6, "metric": "balanced_accuracy"}
    start = time.perf_counter()
    r = compare_strategies(X, y, Xt, yt, n_jobs=2, backend="threading", progress=False, estimate=False, **kw)
    elapsed = time.perf_counter() - start
    p = seen["plan"]
    assert (p.n_jobs, p.backend, p.progress, p.metric.name, p.repeats, p.random_state) == (2, "threading", False,
                                                                                          "balanced_accuracy", 2, 2)
    plan = plan_comparison(X, y, Xt, yt, **kw)
    splits = make_splits(plan)
    fits = fit_models(plan, splits)
    diag = diagnose(plan, splits)
    summary = summarise(plan, splits, fits, diag)
    pd.testing.assert_frame_equal(r.table.drop(columns="fit_seconds"), fits.table.drop(columns="fit_seconds"))
    pd.testing.assert_frame_equal(r.summary, summary)
    assert r.recommended == recommend(summary, True) and r.metric == "balanced_accuracy" and r.labeled
    assert r.notes == splits.notes + fits.notes + diag.notes
    assert list(r.distances) == ["tail", "random", "group"]
    np.testing.assert_array_equal(r.distances["random"]["test"], diag.distances["random"]["test"])
    assert r.estimates is None and r.default_estimator is None and r.estimate_summary is None and r.ship is None
    assert list(r.timings) == ["splits", "fits", "diagnostics", "total"]
    assert all(v > 0 for v in r.timings.values())
    assert r.timings["total"] >= r.timings["splits"] + r.timings["fits"] + r.timings["diagnostics"]
    assert r.timings["total"] <= elapsed


def test_compare_strategies_defaults(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()
    seen = _spy_plan(monkeypatch)
    calls = []

    def fake(plan, splits, fits):
        calls.append((plan, splits, fits))
        return Estimates(pd.DataFrame(), pd.DataFrame(), notes=["est note"])

    monkeypatch.setattr(splitters.estimation, "estimate_scores", fake)
    r = compare_strategies(X, y, Xt, yt, strategies=["tail"], models=["lda"])
    p = seen["plan"]
    assert (p.metric.name, p.repeats, p.random_state, p.n_jobs, p.backend, p.progress) == ("accuracy", 3, 0, None,
                                                                                            None, True)
    assert p.strategies["tail"].val_size == 0.1 and p.groups is None
    (plan, splits, fits), = calls
    assert plan is p and list(splits.parts) == [("tail", r) for r in range(3)]
    assert set(fits.predictions) == {("tail", r, "lda") for r in range(3)}
    assert r.notes[-1] == "est note" and "estimates" in r.timings and r.ship is None
    assert list(r.timings) == ["splits", "fits", "estimates", "diagnostics", "total"]


def test_estimates_are_passed_on_and_a_model_to_ship_is_picked(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()
    table = pd.DataFrame({"strategy": ["tail", "tail", "random", "random"], "repeat": 0,
                          "model": ["lda", "knn", "lda", "knn"], "estimator": "doc", "val_score": 0.9,
                          "estimate": [0.6, 0.8, 0.7, 0.5], "lo": 0.4, "hi": 0.95})
    summary = pd.DataFrame({"estimator": ["doc"], "mae": [0.1]}).set_index("estimator")
    monkeypatch.setattr(splitters.estimation, "estimate_scores",
                        lambda plan, splits, fits: Estimates(table, summary, default="doc"))
    r = compare_strategies(X, y, Xt, yt, strategies={"tail": "tail", "random": "random"}, models=["lda", "knn"],
                           repeats=1, val_size=12, progress=False)
    assert r.estimates is table and r.estimate_summary is summary and r.default_estimator == "doc"
    best = {"tail": ("knn", 0.8), "random": ("lda", 0.7)}[r.recommended]
    assert (r.ship["model"], r.ship["strategy"], r.ship["estimator"]) == (best[0], r.recommended, "doc")
    assert r.ship["estimate"] == pytest.approx(best[1])
    d = r.to_dict()
    assert d["estimates"] == table.to_dict(orient="records") and d["default_estimator"] == "doc"
    assert d["estimate_summary"] == [{"estimator": "doc", "mae": 0.1}] and d["ship"] == r.ship


def test_model_to_ship_from_another_strategy_or_none():
    table = pd.DataFrame({"strategy": ["random", "tail", "random"], "repeat": 0, "model": ["a", "a", "b"],
                          "estimator": "doc", "val_score": [0.9, np.nan, 0.8], "estimate": [0.6, np.nan, 0.8],
                          "lo": [0.5, np.nan, 0.75], "hi": [0.7, np.nan, 0.9]})
    est = SimpleNamespace(table=table, default="doc")
    notes = []
    ship = splitters.comparison.engine._ship(est, "maxmin", notes)  # not estimated: the first strategy's
    assert (ship["model"], ship["strategy"], ship["basis"]) == ("b", "random", "estimate")
    assert splitters.comparison.engine._ship(est, "random", notes)["strategy"] == "random" and notes == []
    assert splitters.comparison.engine._ship(est, "tail", notes) is None
    assert notes == ["no model to ship: no model of strategy 'tail' has a validation score to ship by"]
    assert splitters.comparison.engine._ship(SimpleNamespace(table=pd.DataFrame(), default="doc"), "tail", notes) is None


def test_no_model_to_ship_is_a_note(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()
    table = pd.DataFrame({"strategy": "tail", "repeat": 0, "model": ["lda"], "estimator": "doc", "val_score": np.nan,
                          "estimate": [np.nan], "lo": np.nan, "hi": np.nan})
    monkeypatch.setattr(splitters.estimation, "estimate_scores",
                        lambda plan, splits, fits: Estimates(table, pd.DataFrame(), default="doc"))
    r = compare_strategies(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=1, progress=False)
    assert r.ship is None and r.notes == ["no model to ship: no model of strategy 'tail' has a validation score to ship by"]


def test_without_estimates_validation_pick_is_shipped_and_marked_as_such(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()
    table = pd.DataFrame({"strategy": "tail", "repeat": 0, "model": ["lda", "knn"], "estimator": "doc",
                          "val_score": [0.7, 0.9], "estimate": np.nan, "lo": np.nan, "hi": np.nan})
    monkeypatch.setattr(splitters.estimation, "estimate_scores",
                        lambda plan, splits, fits: Estimates(table, pd.DataFrame(), default="doc"))
    r = compare_strategies(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=1, progress=False)
    assert (r.ship["model"], r.ship["basis"], r.ship["reliable"]) == ("knn", "validation", False)


def test_a_failing_estimation_is_a_note(quick_auc, monkeypatch):
    X, y, Xt, yt = _data()

    def boom(plan, splits, fits):
        raise RuntimeError("planted estimate failure")

    monkeypatch.setattr(splitters.estimation, "estimate_scores", boom)
    r = compare_strategies(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=1, progress=False)
    assert r.notes == ["no label-free estimates: RuntimeError: planted estimate failure"]
    assert r.estimates.empty and r.estimate_summary.empty and r.ship is None
    assert r.to_dict()["estimate_summary"] is None
    assert r.table.status.eq("ok").all()


def test_without_test_labels_the_diagnostics_decide(quick_auc):
    X, y, Xt, _ = _data()
    kw = {"strategies": ["tail", "head", "random"], "models": ["lda"], "repeats": 2, "val_size": 12, "progress": False}
    r = compare_strategies(X, y, Xt, None, estimate=False, **kw)
    plan = plan_comparison(X, y, Xt, None, **kw)
    splits = make_splits(plan)
    summary = summarise(plan, splits, fit_models(plan, splits), diagnose(plan, splits))
    pd.testing.assert_frame_equal(r.summary, summary)
    assert not r.labeled and r.recommended == recommend(summary, False) and r.table.model.isna().all()
    assert r.summary.mae.isna().all() and r.notes == []


def test_when_no_fit_can_be_scored_the_diagnostics_decide(quick_auc):
    X, y, Xt, yt = _data()
    r = compare_strategies(X, y, Xt, yt, strategies=["tail", "head"], models={"bad": FailsToFit()}, repeats=1,
                           val_size=12, progress=False, estimate=False)
    assert r.notes[-1] == "no fit could be scored: the recommendation comes from the label-free diagnostics"
    assert r.recommended == recommend(r.summary, False)


def test_one_row_target_is_judged_by_nn_shift_alone(quick_auc):
    # found by the fast judge: adv_auc needs two target rows; recommend() then raised "nothing could be
    # measured" although nn_shift was measured for every strategy
    X, y, Xt, yt = _data()
    r = compare_strategies(X, y, Xt[:1], None, strategies=["tail", "head", "random"], models=["lda"], repeats=1,
                           val_size=12, progress=False, estimate=False)
    assert r.summary.adv_auc.isna().all() and r.summary.nn_shift.notna().all()
    assert r.recommended == r.summary.nn_shift.idxmin()


def test_nothing_measured_is_an_error(monkeypatch):
    def broken(A, B):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(splitters.comparison.diagnostics, "nearest_distances", broken)
    X, y, Xt, yt = _data()
    with pytest.raises(ValueError) as err:
        compare_strategies(X, y, Xt[:1], yt[:1], strategies=["tail"], models={"bad": FailsToFit()}, repeats=1,
                           val_size=12, progress=False, estimate=False)
    assert str(err.value) == (
        "nothing could be measured: every fit and every diagnostic failed:\n"
        "tail, repeat 0, model bad: failed (RuntimeError: planted failure)\n"
        "tail, repeat 0: diagnostic nn_shift failed (ZeroDivisionError: planted)\n"
        "tail, repeat 0: diagnostic nn_shift failed (ZeroDivisionError: planted)\n"
        "tail, repeat 0: diagnostic adv_auc failed (ValueError: needs at least 2 rows on each side, got 12 validation "
        "and 1 test rows)\n"
        "no fit could be scored: the recommendation comes from the label-free diagnostics")


def test_result_as_dict_json_markdown_and_files(quick_auc, tmp_path, monkeypatch):
    X, y, Xt, yt = _data()
    r = compare_strategies(X, y, Xt, yt, strategies=["tail", "head"], models=["lda", "naive_bayes"], repeats=1,
                           val_size=12, progress=False, estimate=False)
    d = r.to_dict()
    assert list(d) == ["metric", "labeled", "recommended", "summary", "table", "notes", "timings",
                       "default_estimator", "ship", "warnings", "context", "estimates", "estimate_summary"]
    assert (d["metric"], d["labeled"], d["recommended"], d["notes"]) == ("accuracy", True, r.recommended, r.notes)
    pd.testing.assert_frame_equal(pd.DataFrame(d["summary"]), r.summary.reset_index())
    pd.testing.assert_frame_equal(pd.DataFrame(d["table"]), r.table)
    assert d["timings"] == r.timings
    assert d["estimates"] is None and d["estimate_summary"] is None and d["ship"] is None
    path = tmp_path / "results.json"
    text = r.to_json(str(path))
    assert path.read_text(encoding="utf-8") == text and text.startswith('{\n  "metric": "accuracy"')
    back = json.loads(text)
    assert back["summary"][0]["strategy"] == "tail" and back["summary"][0]["mae"] == pytest.approx(r.summary.mae.iloc[0])
    assert r.to_json() == text and len(list(tmp_path.iterdir())) == 1
    assert r.to_markdown() == splitters.comparison.report.markdown(r)
    written = []
    monkeypatch.setattr(splitters.comparison.result, "write_report",
                        lambda result, out: written.append((result, out)) or {"x": 1})
    assert r.write("somewhere") == {"x": 1} and written == [(r, "somewhere")]
    empty = ComparisonResult(r.table, r.summary, "tail", "accuracy", True, estimate_summary=pd.DataFrame())
    assert empty.to_dict()["estimate_summary"] is None and empty.notes == [] and empty.timings == {}
