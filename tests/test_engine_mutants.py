"""The comparison engine's edges that tests/test_engine.py and tests/test_own_predictions.py leave
open: the exact errors of :func:`splitters.estimate_from_predictions`, which reference
probabilities and weights reach the estimator, the run context, the estimation stage under a
metric it cannot estimate, reading a result back field by field, the renormalisation of a
model's probabilities, missing string labels, and the signature :func:`takes_options` builds.

Tiny data (tens of rows) and fast models, so each mutant of the engine is judged in seconds.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import locale
import os
import re
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.naive_bayes import GaussianNB
from test_engine import _data

import splitters
import splitters.comparison.diagnostics
import splitters.estimation
from splitters import RandomSplit, TailSplit, compare_strategies
from splitters.comparison import ComparisonResult, default_models, make_splits, plan_comparison
from splitters.comparison.engine import run_context
from splitters.comparison.fits import _outputs
from splitters.comparison.options import ComparisonOptions, options_of, takes_options
from splitters.estimation import DEFAULT_ESTIMATOR, density_ratio
from splitters.estimation.stage import DOMAIN_ROWS


@pytest.fixture
def quick_auc(monkeypatch):
    """adv_auc without its cross-validated fits (as in tests/test_engine.py): these runs check the
    orchestration only."""
    real = splitters.comparison.diagnostics._adversarial_auc

    def quick(A, B, seed):
        if min(len(A), len(B)) < 2:
            return real(A, B, seed)
        return float(0.5 + np.tanh(abs(A.mean() - B.mean()) + seed / 100) / 2)

    monkeypatch.setattr(splitters.comparison.diagnostics, "_adversarial_auc", quick)


# --- your own predictions: what reaches the estimator ----------------------------------------------

def _own(n_train=40, n_val=20, n_target=15, seed=0):
    """Three noisy classes: a training set, validation rows with labels, shifted target rows, and a
    model's probabilities on validation and target."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (3, 3))
    y_train, y_val = np.arange(n_train) % 3, np.arange(n_val) % 3
    X_train = centers[y_train] + rng.normal(size=(n_train, 3))
    X_val = centers[y_val] + rng.normal(size=(n_val, 3))
    X_target = rng.normal(0.5, 2.0, (n_target, 3))
    mine = GaussianNB().fit(X_train, y_train)
    return X_train, y_train, X_val, y_val, X_target, (mine.predict_proba(X_val), mine.predict_proba(X_target))


@pytest.fixture
def seen(monkeypatch):
    """The keyword arguments each call of estimate_from_probabilities got (the call still happens)."""
    calls = []
    real = splitters.estimation.estimate_from_probabilities

    def spy(probas, y_val, **kwargs):
        calls.append(kwargs)
        return real(probas, y_val, **kwargs)

    monkeypatch.setattr(splitters.estimation, "estimate_from_probabilities", spy)
    return calls


def _by_hand(models, X_train, y_train, X_val, X_target):
    fitted = {name: clone(m).fit(X_train, y_train) for name, m in models.items()}
    return {name: (m.predict_proba(X_val), m.predict_proba(X_target)) for name, m in fitted.items()}


def _assert_same_reference(got, expected):
    assert list(got) == list(expected)
    for name, (pv, pt) in expected.items():
        np.testing.assert_array_equal(got[name][0], pv, err_msg=name)
        np.testing.assert_array_equal(got[name][1], pt, err_msg=name)


def test_the_reference_zoo_and_the_weights_are_seeded_by_random_state(seen):
    X_train, y_train, X_val, y_val, X_target, pair = _own()
    est = splitters.estimate_from_predictions({"mine": pair}, y_val, reference=(X_train, y_train, X_val, X_target),
                                              n_boot=4, random_state=3)
    (kw,) = seen
    assert (kw["n_boot"], kw["random_state"], kw["y_target"]) == (4, 3, None)
    _assert_same_reference(kw["reference"], _by_hand(default_models(3), X_train, y_train, X_val, X_target))
    np.testing.assert_array_equal(kw["weights"], density_ratio(X_val, X_target, random_state=3, max_rows=DOMAIN_ROWS))
    assert set(est.table.model) == {"mine", *default_models()}


def test_by_default_fifty_replicates_and_seed_zero(seen):
    X_train, y_train, X_val, y_val, X_target, pair = _own(seed=1)
    splitters.estimate_from_predictions({"mine": pair}, y_val, reference=(X_train, y_train, X_val, X_target))
    (kw,) = seen
    assert (kw["n_boot"], kw["random_state"]) == (50, 0)
    _assert_same_reference(kw["reference"], _by_hand(default_models(0), X_train, y_train, X_val, X_target))
    np.testing.assert_array_equal(kw["weights"], density_ratio(X_val, X_target, random_state=0, max_rows=DOMAIN_ROWS))


def test_the_domain_classifier_sees_at_most_domain_rows_target_rows(seen):
    X_train, y_train, X_val, y_val, X_target, pair = _own(n_target=DOMAIN_ROWS + 1)
    splitters.estimate_from_predictions(pair, y_val, reference=(X_train, y_train, X_val, X_target),
                                        reference_models={"lda": LinearDiscriminantAnalysis()}, n_boot=2)
    (kw,) = seen
    expected = density_ratio(X_val, X_target, random_state=0, max_rows=DOMAIN_ROWS)
    assert not np.array_equal(expected, density_ratio(X_val, X_target, random_state=0))  # the cap matters here
    np.testing.assert_array_equal(kw["weights"], expected)


class FloatClasses(ClassifierMixin, BaseEstimator):
    """Keeps its classes as floats (as some libraries do) and gives fixed probabilities 1:2:...;
    records the dtype of the features it is fitted on."""

    dtypes: list = []

    def fit(self, X, y):
        type(self).dtypes.append(np.asarray(X).dtype)
        self.classes_ = np.unique(y).astype(float)
        return self

    def predict_proba(self, X):
        weights = np.arange(1.0, len(self.classes_) + 1)
        return np.tile(weights / weights.sum(), (len(X), 1))


def test_reference_models_of_your_own_replace_the_zoo_and_land_in_their_classes_columns(seen):
    X_train, y_train, X_val, y_val, X_target, pair = _own()
    keep = y_train != 1  # the reference model never sees class 1
    ints = [np.rint(a).astype(int) for a in (X_train[keep], X_val, X_target)]
    FloatClasses.dtypes = []
    est = splitters.estimate_from_predictions({"mine": pair}, y_val, reference=(ints[0], y_train[keep], *ints[1:]),
                                              reference_models={"half": FloatClasses()}, n_boot=2)
    (kw,) = seen
    assert list(kw["reference"]) == ["half"] and FloatClasses.dtypes == [np.dtype(float)]
    pv, pt = kw["reference"]["half"]
    np.testing.assert_allclose(pv, np.tile([1 / 3, 0.0, 2 / 3], (20, 1)))
    np.testing.assert_allclose(pt, np.tile([1 / 3, 0.0, 2 / 3], (15, 1)))
    assert set(est.table.model) == {"mine", "half"}


_CASES = {
    "not four arrays": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr)},
                        "reference must be a tuple (X_train, y_train, X_val, X_target)"),
    "X_train rows": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr[:-1], y_tr, X_v, X_t)},
                     "reference X_train must be 2-D with 40 rows (one per label of y_train), got shape (39, 3)"),
    "X_val rows": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr, X_v[:-1], X_t)},
                   "reference X_val must be 2-D with 20 rows (one per row of your probabilities), got shape (19, 3)"),
    "X_target 1-D": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr, X_v, X_t[:, 0])},
                     "reference X_target must be 2-D with 15 rows (one per row of your probabilities), "
                     "got shape (15,)"),
    "columns": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr, X_v[:, :2], np.c_[X_t, X_t[:, :1]])},
                "reference X_train, X_val and X_target must have the same columns, got 3, 2 and 4"),
    "float labels": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr.astype(float), X_v, X_t)},
                     "reference y_train must hold class indices 0..2, as y_val does"),
    "2-D labels": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr[:, None], X_v, X_t)},
                   "reference y_train must hold class indices 0..2, as y_val does"),
    "label = classes": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, np.where(y_tr == 2, 3, y_tr), X_v, X_t)},
                        "reference y_train must hold class indices 0..2, as y_val does"),
    "negative label": (lambda X_tr, y_tr, X_v, X_t: {"reference": (X_tr, y_tr - 1, X_v, X_t)},
                       "reference y_train must hold class indices 0..2, as y_val does"),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_a_bad_reference_is_refused_with_what_was_expected(case, monkeypatch):
    X_train, y_train, X_val, y_val, X_target, pair = _own()
    build, message = _CASES[case]
    monkeypatch.setattr(splitters.comparison.engine, "default_models", lambda rs: pytest.fail("fit before the check"))
    with pytest.raises(ValueError) as err:
        splitters.estimate_from_predictions(pair, y_val, n_boot=2, **build(X_train, y_train, X_val, X_target))
    assert str(err.value) == message


@pytest.mark.parametrize("probas, labels, message", [
    (lambda pv, pt: (pv, pt, pt), lambda y: y,
     "probas must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair"),
    (lambda pv, pt: {"a": [pv]}, lambda y: y,
     "probas must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair"),
    (lambda pv, pt: (pv[:, 0], pt), lambda y: y, "proba_val and proba_target must be 2-D, got shapes (20,) and (15, 3)"),
    (lambda pv, pt: (pv, pt[:, 0]), lambda y: y, "proba_val and proba_target must be 2-D, got shapes (20, 3) and (15,)"),
    (lambda pv, pt: (pv, pt), lambda y: y[:-1], "proba_val has 20 rows but y_val has 19 labels"),
])
def test_with_a_reference_bad_probabilities_are_refused_before_any_fit(probas, labels, message, monkeypatch):
    X_train, y_train, X_val, y_val, X_target, (pv, pt) = _own()
    monkeypatch.setattr(splitters.comparison.engine, "default_models", lambda rs: pytest.fail("fit before the check"))
    with pytest.raises(ValueError) as err:
        splitters.estimate_from_predictions(probas(pv, pt), labels(y_val), n_boot=2,
                                            reference=(X_train, y_train, X_val, X_target))
    assert str(err.value) == message


# --- the run: its context and the estimation stage ----------------------------------------------

def test_run_context_lists_validation_sizes_when_strategies_differ():
    X, y, Xt, yt = _data()
    plan = plan_comparison(X, y, Xt, yt, strategies={"ten": TailSplit(val_size=10), "twelve": TailSplit(val_size=12),
                                                     "again": RandomSplit(val_size=10)},
                           models=["lda", "knn"], repeats=1, metric="balanced_accuracy")
    c = run_context(plan, make_splits(plan))
    date = c.pop("date")
    assert c == {"pool": 60, "validation": [10, 12], "test": 30, "test_labeled": True, "models": ["lda", "knn"],
                 "strategies": ["ten", "twelve", "again"], "metric": "balanced_accuracy"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", date)


@pytest.fixture
def far_from_utc():
    """The process's local time zone five hours east of UTC for the test, then back."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Etc/GMT-5"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_run_context_dates_in_utc_whatever_the_local_zone(far_from_utc):
    X, y, Xt, _ = _data()
    plan = plan_comparison(X, y, Xt, None, strategies=["tail"], models=["lda"], repeats=1, val_size=10)
    fmt = "%Y-%m-%d %H:%M UTC"
    before = datetime.now(timezone.utc).strftime(fmt)
    date = run_context(plan, make_splits(plan))["date"]
    after = datetime.now(timezone.utc).strftime(fmt)
    assert datetime.now().strftime(fmt) not in (before, after)  # the local zone is not UTC here
    assert date in (before, after)


def test_a_metric_other_than_accuracy_gets_no_estimates_and_says_why(quick_auc):
    X, y, Xt, yt = _data()
    r = compare_strategies(X, y, Xt, yt, strategies=["tail"], models=["lda"], repeats=1, val_size=12, progress=False,
                           metric="balanced_accuracy")
    assert r.warnings == ["No label-free estimates: they estimate accuracy, and this comparison scores "
                          "balanced_accuracy; compare with metric='accuracy' to get them."]
    assert isinstance(r.estimates, pd.DataFrame) and r.estimates.empty
    assert isinstance(r.estimate_summary, pd.DataFrame) and r.estimate_summary.empty
    assert r.ship is None and r.default_estimator == DEFAULT_ESTIMATOR and r.notes == []
    assert "estimates" not in r.timings
    d = r.to_dict()
    assert d["estimates"] == [] and d["estimate_summary"] is None and d["warnings"] == r.warnings


# --- a result read back ------------------------------------------------------------------------

def _full_result() -> ComparisonResult:
    table = pd.DataFrame({"strategy": ["tail", "head"], "repeat": [0, 0], "model": ["lda", "lda"],
                          "val_score": [0.8, 0.7], "test_score": [0.75, 0.5], "status": ["ok", "ok"]})
    summary = pd.DataFrame({"strategy": ["tail", "head"], "mae": [0.05, 0.2], "status": ["ok", "ok"]})
    estimates = pd.DataFrame({"strategy": ["tail"], "repeat": [0], "model": ["lda"], "estimator": ["doc"],
                              "estimate": [0.7], "reliable": [True]})
    est_summary = pd.DataFrame({"strategy": ["tail"], "estimator": ["doc"], "mae": [0.05]})
    return ComparisonResult(
        table=table, summary=summary.set_index("strategy"), recommended="tail", metric="log_loss", labeled=True,
        notes=["tail, repeat 0: a note"], timings={"splits": 0.5, "total": 1.25}, estimates=estimates,
        default_estimator="doc", estimate_summary=est_summary.set_index(["strategy", "estimator"]),
        ship={"model": "lda", "strategy": "tail", "estimate": 0.7}, warnings=["tail: a warning"],
        context={"dataset": "Zürich – naïve", "pool": 60, "models": ["lda"]})


def _assert_same(back: ComparisonResult, r: ComparisonResult):
    pd.testing.assert_frame_equal(back.table, r.table)
    pd.testing.assert_frame_equal(back.summary, r.summary)
    pd.testing.assert_frame_equal(back.estimates, r.estimates)
    pd.testing.assert_frame_equal(back.estimate_summary, r.estimate_summary)
    for name in ("recommended", "metric", "labeled", "notes", "timings", "default_estimator", "ship", "warnings",
                 "context"):
        got, want = getattr(back, name), getattr(r, name)
        assert got == want and type(got) is type(want), name
    assert back.distances == {}


def test_a_result_comes_back_from_its_dict_field_by_field():
    r = _full_result()
    _assert_same(ComparisonResult.from_dict(json.loads(r.to_json())), r)


def test_a_result_comes_back_from_its_file_field_by_field(tmp_path):
    r = _full_result()
    r.to_json(str(tmp_path / "results.json"))
    _assert_same(ComparisonResult.read(tmp_path / "results.json"), r)


@pytest.fixture
def ascii_locale():
    """The C locale (ASCII) for text files opened without an encoding, then back."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def test_a_utf8_results_file_reads_back_whatever_the_locale(tmp_path, ascii_locale):
    r = _full_result()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(r.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert ComparisonResult.read(path).context["dataset"] == "Zürich – naïve"


def test_a_minimal_dict_gets_empty_defaults():
    back = ComparisonResult.from_dict({"summary": [{"strategy": "a", "mae": 0.1}], "table": [], "recommended": "a",
                                       "metric": "accuracy", "labeled": False})
    assert (back.recommended, back.metric, back.labeled) == ("a", "accuracy", False)
    assert back.notes == [] and isinstance(back.notes, list)
    assert back.warnings == [] and isinstance(back.warnings, list)
    assert back.timings == {} and isinstance(back.timings, dict)
    assert back.context == {} and isinstance(back.context, dict)
    assert back.estimates is None and back.estimate_summary is None
    assert back.ship is None and back.default_estimator is None
    assert back.table.empty and list(back.summary.index) == ["a"]


def test_a_dict_with_explicit_nones_gets_none_back():
    d = _full_result().to_dict() | {"estimates": None, "estimate_summary": None, "ship": None, "context": None}
    back = ComparisonResult.from_dict(d)
    assert back.estimates is None and back.estimate_summary is None and back.ship is None and back.context == {}


# --- a model's probabilities --------------------------------------------------------------------

class Fixed:
    """A fitted model that gives the same probability row for every input row."""

    def __init__(self, row, classes):
        self.row, self.classes_ = np.asarray(row, dtype=float), np.asarray(classes)

    def predict_proba(self, X):
        return np.tile(self.row, (len(X), 1))


@pytest.mark.parametrize("row, expected", [
    ([0.3, 0.7005], [0.3 / 1.0005, 0.7005 / 1.0005]),  # a rounding error: renormalised
    ([0.0, 1.0005], [0.0, 1.0]),  # an exact zero is a probability too
    ([0.5, 1.0], [0.5, 1.0]),  # far from summing to 1: kept for the estimation stage to fail
    ([0.5, 0.5], [0.5, 0.5]),
])
def test_probabilities_are_renormalised_only_when_nearly_probabilities(row, expected):
    labels, proba = _outputs(Fixed(row, [0, 1]), np.zeros((3, 2)), np.array([0, 1]), True)
    np.testing.assert_allclose(proba, np.tile(expected, (3, 1)), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(labels, [int(np.argmax(row))] * 3)


# --- missing labels given as text ---------------------------------------------------------------

@pytest.mark.parametrize("where, message", [
    ("y", "y has 1 missing entries (NaN or None); every row needs a label"),
    ("groups", "groups has 1 missing entries (NaN or None); every row needs a group"),
])
def test_a_nan_among_text_labels_is_missing(where, message):
    X, y, Xt, _ = _data()
    data = {"y": [f"c{v}" for v in y], "groups": [f"g{i // 6}" for i in range(60)]}
    data[where][5] = np.nan
    with pytest.raises(ValueError) as err:
        plan_comparison(X, data["y"], Xt, groups=data["groups"], strategies=["tail"], models=["lda"])
    assert str(err.value) == message


# --- options --------------------------------------------------------------------------------

def test_an_unknown_option_is_the_callers_type_error():
    with pytest.raises(TypeError) as err:
        options_of("compare_strategies", {"repeats": 2, "repeat": 2})
    assert str(err.value) == "compare_strategies() got an unexpected keyword argument 'repeat'"
    assert options_of("f", {"repeats": 2}) == ComparisonOptions(repeats=2)


def test_takes_options_lists_every_option_keyword_only_with_its_default_and_type():
    def f(x, y=1, **options):
        return options

    assert takes_options(f) is f
    P = inspect.Parameter
    got = [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(f).parameters.values()]
    assert got == [("x", P.POSITIONAL_OR_KEYWORD, P.empty, P.empty), ("y", P.POSITIONAL_OR_KEYWORD, 1, P.empty),
                   ("strategies", P.KEYWORD_ONLY, None, "Iterable | Mapping | None"),
                   ("models", P.KEYWORD_ONLY, None, "Iterable | Mapping | None"),
                   ("metric", P.KEYWORD_ONLY, "accuracy", "str"), ("repeats", P.KEYWORD_ONLY, 3, "int"),
                   ("random_state", P.KEYWORD_ONLY, 0, "int"), ("n_jobs", P.KEYWORD_ONLY, None, "int | None"),
                   ("val_size", P.KEYWORD_ONLY, 0.1, "float"), ("backend", P.KEYWORD_ONLY, None, "str | None"),
                   ("progress", P.KEYWORD_ONLY, True, "bool"), ("estimate", P.KEYWORD_ONLY, True, "bool"),
                   ("context", P.KEYWORD_ONLY, None, "Mapping[str, Any] | None")]
    assert [p[0] for p in got[2:]] == [fld.name for fld in dataclasses.fields(ComparisonOptions)]
    assert f(0, repeats=2) == {"repeats": 2}
