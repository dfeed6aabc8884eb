"""Estimates from a user's own probabilities: ``splitters.estimate_from_predictions``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import splitters
from splitters.estimation import DEFAULT_ESTIMATOR, ESTIMATE_COLUMNS, ESTIMATORS, model_estimates


@pytest.fixture(scope="module")
def planted():
    """An easy shift: two informative features, the target moved a little along one of them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 4))
    y = (X[:, 0] + X[:, 1] + 0.3 * rng.normal(size=1200) > 0).astype(int)
    Xt = rng.normal(size=(600, 4)) + [0.4, 0.0, 0.0, 0.0]
    yt = (Xt[:, 0] + Xt[:, 1] + 0.3 * rng.normal(size=600) > 0).astype(int)
    mine = LogisticRegression().fit(X[:800], y[:800])
    return X, y, Xt, yt, mine


def _pair(model, X, Xt):
    return model.predict_proba(X[800:]), model.predict_proba(Xt)


def test_one_model_alone_cannot_be_estimated_by_the_agreement_line_and_says_why(planted):
    X, y, Xt, _, mine = planted
    est = splitters.estimate_from_predictions(_pair(mine, X, Xt), y[800:], n_boot=10)
    assert set(ESTIMATE_COLUMNS) <= set(est.table.columns) and set(est.table.estimator) == set(ESTIMATORS)
    row = est.table[est.table.estimator == DEFAULT_ESTIMATOR].iloc[0]
    assert row.model == "model" and not row.reliable and (row.lo, row.hi) == (0.0, 1.0)
    assert row.reason == "only 1 model with usable predictions (at least 3 are needed)"
    assert est.warnings == [f"own: cannot estimate the target accuracy here: {row.reason}."]
    # the single-model estimators still answer
    assert est.table[est.table.estimator == "doc"].reliable.all()


def test_one_model_with_the_reference_zoo_is_estimated_on_a_planted_easy_case(planted):
    X, y, Xt, yt, mine = planted
    est = splitters.estimate_from_predictions({"mine": _pair(mine, X, Xt)}, y[800:], y_target=yt,
                                              reference=(X[:800], y[:800], X[800:], Xt), n_boot=20)
    assert est.warnings == []
    assert set(est.table.model) == {"mine", *splitters.default_models()}
    assert est.table.loc[est.table.model == "mine", "reference"].eq(False).all()
    assert est.table.loc[est.table.model != "mine", "reference"].all()
    mine_row = model_estimates(est.table, "own").loc["mine"]
    assert mine_row.reliable and abs(mine_row.estimate - mine_row.test_score) < 0.05
    assert mine_row.lo <= mine_row.test_score <= mine_row.hi
    # the importance weights came from the reference features: they are not all 1
    iw = est.table[(est.table.estimator == "importance_weighted") & (est.table.model == "mine")]
    assert iw.ess.iloc[0] < 400
    assert not est.summary.empty


def test_nan_probabilities_are_a_failed_row_not_an_error(planted):
    X, y, Xt, _, mine = planted
    pv, pt = _pair(mine, X, Xt)
    bad = pt.copy()
    bad[3, 0] = np.nan
    est = splitters.estimate_from_predictions({"good": (pv, pt), "broken": (pv, bad)}, y[800:], n_boot=5)
    broken = est.table[est.table.model == "broken"]
    assert (broken.status == "failed").all() and broken.estimate.isna().all() and not broken.reliable.any()
    assert broken.reason.iloc[0].startswith("broken: probabilities gave NaN or infinite probabilities")
    assert any(w.startswith("broken: probabilities gave NaN") for w in est.warnings)
    assert (est.table[est.table.model == "good"].status == "ok").all()
    with pytest.raises(ValueError, match="no model has usable probabilities"):
        splitters.estimate_from_predictions((pv, bad), y[800:], n_boot=5)


def test_a_mapping_of_three_models_gets_a_line_without_reference(planted):
    X, y, Xt, _, mine = planted
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier

    models = {"mine": mine, "nb": GaussianNB().fit(X[:800], y[:800]),
              "knn": KNeighborsClassifier(15).fit(X[:800], y[:800])}
    est = splitters.estimate_from_predictions({k: _pair(m, X, Xt) for k, m in models.items()}, y[800:], n_boot=5)
    assert list(dict.fromkeys(est.table.model)) == ["mine", "nb", "knn"]
    assert len(est.table) == 3 * len(ESTIMATORS) and not est.table.reference.any()


@pytest.mark.parametrize("args, message", [
    (lambda pv, pt, y: ((pv[:, 0], pt), y), "proba_val must be a 2-D array"),
    (lambda pv, pt, y: ((pv, pt), y[:-1]), "proba_val has 400 rows but y_val has 399 labels"),
    (lambda pv, pt, y: ((pv, pt[:, :1]), y), "proba_target must be a 2-D array"),
    (lambda pv, pt, y: ({"a": (pv, pt), "b": (pv, pt[:-1])}, y), "b: proba_target has 599 rows"),
    (lambda pv, pt, y: ((pv, np.c_[pt, pt[:, :1] * 0]), y), "2 classes on validation and 3 on target"),
    (lambda pv, pt, y: ((pv, pt), y + 1), "y_val must hold class indices 0..1"),
    (lambda pv, pt, y: ((pv, pt, pt), y), "must be a pair"),
    (lambda pv, pt, y: ({"a": pv}, y), r"probas\['a'\] must be a pair"),
])
def test_shapes_are_checked_with_clear_errors(planted, args, message):
    X, y, Xt, _, mine = planted
    probas, labels = args(*_pair(mine, X, Xt), y[800:])
    with pytest.raises(ValueError, match=message):
        splitters.estimate_from_predictions(probas, labels, n_boot=2)


def test_reference_shapes_are_checked_before_any_fit(planted):
    X, y, Xt, _, mine = planted
    with pytest.raises(ValueError, match="reference X_val must be 2-D with 400 rows"):
        splitters.estimate_from_predictions(_pair(mine, X, Xt), y[800:], reference=(X[:800], y[:800], X[:10], Xt))
    with pytest.raises(ValueError, match="reference must be a tuple"):
        splitters.estimate_from_predictions(_pair(mine, X, Xt), y[800:], reference=(X, y))
    with pytest.raises(ValueError, match="names given both"):
        splitters.estimate_from_predictions({"lda": _pair(mine, X, Xt)}, y[800:], n_boot=2,
                                            reference=(X[:800], y[:800], X[800:], Xt))
