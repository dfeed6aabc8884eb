"""Issue 18's planted cases: an estimate has a basis or says it has none; its interval reaches the
truth when models fail together; bad probabilities fail the model; ship never trusts a guess."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import splitters
import splitters.estimation as E
from splitters.estimation.agreement import LineFit
from splitters.estimation.reliability import MIN_LINE_R2, basis_problem, hull_interval


def _model(y, acc, rng, k, conf):
    """Probabilities of a model right on a share ``acc`` of the rows, ``conf`` on its pick."""
    pred = np.where(rng.random(len(y)) < acc, y, (y + rng.integers(1, k, len(y))) % k)
    p = np.full((len(y), k), (1 - conf) / (k - 1))
    p[np.arange(len(y)), pred] = conf
    return p


def _group(y, accs, rng, k=3):
    return np.stack([_model(y, a, rng, k, 0.5 + a / 2) for a in accs])


def _estimates(groups, **kw):
    t, info = E.estimate_accuracies(groups, n_boot=kw.pop("n_boot", 20), **kw)
    return t[t.estimator == E.DEFAULT_ESTIMATOR].set_index("model"), info


def test_models_failing_together_below_the_line_widen_the_interval_to_the_truth():
    # On a third of the target rows every model predicts the same wrong class, with little
    # confidence: the models agree there (agreement rises) while their accuracy falls, so the
    # agreement line is optimistic. Their confidence says so; the interval must reach the truth.
    rng = np.random.default_rng(3)
    accs = (0.55, 0.65, 0.75, 0.85, 0.95)
    y = rng.integers(0, 3, 900)
    yt = rng.integers(0, 3, 900)
    P, Pt = _group(y, accs, rng), _group(yt, accs, rng)
    together = rng.random(900) < 0.35
    Pt[:, together] = np.eye(3)[(yt[together] + 1) % 3] * 0.2 + 0.8 / 3  # 0.47 on the shared wrong class
    truth = (Pt.argmax(axis=2) == yt).mean(axis=1)
    t, _ = _estimates({("s", 0): E.GroupPredictions(P, y, Pt, models=list("abcde"))})
    assert (t.estimate.to_numpy() > truth + 0.1).all()  # the line alone is far too optimistic
    covered = (t.lo.to_numpy() <= truth) & (truth <= t.hi.to_numpy())
    assert (covered | ~t.reliable.to_numpy()).all()
    assert covered.mean() >= 0.8


def test_a_line_that_does_not_fit_abstains_with_its_reason():
    # Target predictions independent of the validation ones: agreement on target does not follow
    # agreement on validation.
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 600)
    groups = {("s", r): E.GroupPredictions(_group(y, (0.5, 0.6, 0.7, 0.8, 0.9), rng, 4), y,
                                           rng.dirichlet(np.ones(4), (5, 400)), models=list("abcde"))
              for r in range(2)}
    t, info = _estimates(groups)
    r2 = info["kappa_lines"]["s"]["r2"]
    assert r2 < MIN_LINE_R2
    assert not t.reliable.any() and (t.reason == f"the agreement line does not fit (R^2 {r2:.2f} < {MIN_LINE_R2})").all()
    assert (t.lo == 0).all() and (t.hi == 1).all()


def test_too_few_models_abstain():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 500)
    groups = {("s", r): E.GroupPredictions(_group(y, (0.6, 0.9), rng), y, _group(y, (0.5, 0.8), rng), models=["a", "b"])
              for r in range(3)}  # 3 pairs: a line, but from two models
    t, info = _estimates(groups)
    assert info["kappa_lines"]["s"] is not None
    assert not t.reliable.any() and set(t.reason) == {"only 2 models with usable predictions (at least 3 are needed)"}
    full, _ = E.estimate_accuracies(groups, n_boot=0)
    assert full[full.estimator == "doc"].reliable.all()  # per-model estimators need no line


@pytest.mark.parametrize(("line", "reason"), [
    (None, "no agreement line: the models agree equally on every pair"),
    (LineFit(-0.4, 0.0, 0.9, 0.1, 10), "the agreement line slopes the wrong way (slope -0.40)"),
    (LineFit(0.0, 0.0, 0.9, 0.1, 10), "the agreement line slopes the wrong way (slope 0.00)"),
    (LineFit(0.9, 0.0, float("nan"), 0.1, 10), "the agreement line does not fit (R^2 nan < 0.3)"),
    (LineFit(0.9, 0.0, 0.3, 0.1, 10), None),
])
def test_basis_problem_reasons(line, reason):
    assert basis_problem(3, line) == reason
    assert basis_problem(1, line) == "only 1 model with usable predictions (at least 3 are needed)"


def test_hull_interval_by_hand():
    lo, hi = hull_interval(np.array([0.8, 0.5, 0.9]), np.array([0.6, 0.7, 0.9]), np.array([0.9, 0.5, 1.0]),
                           np.array([0.01, 0.0, 0.2]))
    # 0.8 - 1.25 * 0.2 - 0.1 * 0.1 - 0.01 - 0.2 * 0.1 = 0.51; 0.8 + 0.01 + 0.01 = 0.82;
    # a partner above (0.7 over 0.5) stretches nothing; 0.9 - 0.1 * 0.1 - 0.2 - 0.2 * 0.1 = 0.67
    np.testing.assert_allclose(lo, [0.51, 0.5, 0.67])
    np.testing.assert_allclose(hi, [0.82, 0.5, 1.0])


class _BadProba:
    """LDA whose predict_proba is broken in the way ``kind`` says."""

    def __init__(self, kind: str = "nan"):
        self.kind = kind

    def get_params(self, deep=True):
        return {"kind": self.kind}

    def set_params(self, **p):
        self.kind = p.get("kind", self.kind)
        return self

    def fit(self, X, y):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        self.lda_ = LinearDiscriminantAnalysis().fit(X, y)
        self.classes_ = self.lda_.classes_
        return self

    def predict(self, X):
        return self.lda_.predict(X)

    def predict_proba(self, X):
        p = self.lda_.predict_proba(X)
        if self.kind == "nan":
            p[0, 0] = np.nan
        elif self.kind == "negative":
            p[:, 0] -= 0.5
        else:  # rows summing to 2
            p = p * 2
        return p


@pytest.mark.parametrize(("kind", "phrase"), [("nan", "NaN or infinite probabilities"),
                                              ("negative", "negative probabilities"),
                                              ("sum", "rows that do not sum to 1")])
def test_bad_probabilities_fail_the_model_and_are_never_shipped(kind, phrase):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(int)
    Xt = X[:200] + 0.3
    models = {"bad": _BadProba(kind), "lda": "lda", "naive_bayes": "naive_bayes", "knn": "knn"}
    models = {k: (splitters.default_models()[v] if isinstance(v, str) else v) for k, v in models.items()}
    r = splitters.compare_strategies(X, y, Xt, y[:200], strategies=["random"], models=models, repeats=2, progress=False)
    bad = r.estimates[r.estimates.model == "bad"]
    assert len(bad) and (bad.status == "failed").all() and bad.estimate.isna().all() and not bad.reliable.any()
    assert bad.reason.str.startswith(f"bad: predict_proba gave {phrase}").all()
    assert any(n.startswith(f"bad: predict_proba gave {phrase}") for n in r.notes)
    assert r.ship["model"] != "bad"
    ok = r.estimates[(r.estimates.model != "bad") & (r.estimates.estimator == E.DEFAULT_ESTIMATOR)]
    assert ok.estimate.notna().all()


def test_ship_follows_validation_unless_the_estimates_tell_models_apart():
    base = {"strategy": "r", "repeat": 0, "estimator": "e", "reason": ""}
    t = pd.DataFrame([{**base, "model": "a", "val_score": 0.9, "estimate": 0.70, "lo": 0.60, "hi": 0.75, "reliable": True},
                      {**base, "model": "b", "val_score": 0.8, "estimate": 0.85, "lo": 0.80, "hi": 0.90, "reliable": True}])
    assert E.model_to_ship(t, "r", "e")["model"] == "b"
    assert E.model_to_ship(t.assign(lo=[0.6, 0.74]), "r", "e")["model"] == "a"  # overlapping: validation's pick
    unreliable = t.assign(reliable=[True, False], reason=["", "no basis"])
    ship = E.model_to_ship(unreliable, "r", "e")
    assert (ship["model"], ship["basis"], ship["reliable"]) == ("a", "validation", True)


@pytest.mark.parametrize("metric", ["balanced_accuracy", "log_loss"])
def test_other_metrics_are_refused_plainly_not_estimated_as_accuracy(metric, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] > 0).astype(int)
    r = splitters.compare_strategies(X, y, X[:100] + 0.2, y[:100], strategies=["random"], metric=metric,
                                     models=["lda", "knn", "naive_bayes"], repeats=1, progress=False)
    assert r.estimates.empty and r.ship is None
    assert r.warnings == [f"No label-free estimates: they estimate accuracy, and this comparison scores {metric}; "
                          "compare with metric='accuracy' to get them."]
    assert r.to_markdown().startswith(f"> **Warning:** {r.warnings[0]}\n")
    paths = r.write(str(tmp_path))
    assert splitters.ComparisonResult.read(paths["json"]).warnings == r.warnings


def test_no_basis_is_said_at_the_top_of_the_report_and_nothing_acts_on_it():
    # Two models: every estimate lacks a basis; the report says so first, and ship follows validation.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=500) > 0).astype(int)
    r = splitters.compare_strategies(X, y, X[:150] * 1.5, y[:150], strategies=["random", "tail"],
                                     models=["lda", "knn"], repeats=2, progress=False)
    default = r.estimates[r.estimates.estimator == r.default_estimator]
    assert not default.reliable.any() and (default.lo == 0).all() and (default.hi == 1).all()
    reason = "only 2 models with usable predictions (at least 3 are needed)"
    assert r.warnings == [f"random: cannot estimate the target accuracy here: {reason}.",
                          f"tail: cannot estimate the target accuracy here: {reason}."]
    text = r.to_markdown()
    assert text.splitlines()[:2] == [f"> **Warning:** {w}" for w in r.warnings]
    assert (r.ship["basis"], r.ship["reliable"]) == ("validation", False)
    part = r.table[(r.table.strategy == r.ship["strategy"])].groupby("model").val_score.mean()
    assert r.ship["model"] == part.idxmax()
    assert f"Expected target accuracy: cannot estimate ({reason})" in text and "| no basis | cannot estimate |" in text
