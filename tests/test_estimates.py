"""Label-free accuracy estimators on planted cases whose answer is known by construction."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import spearmanr

from splitters import estimates as E


def _model(y, acc, rng, n_classes=3, conf=0.8):
    """Probabilities of a model that is right on a share ``acc`` of the rows."""
    right = rng.random(len(y)) < acc
    pred = np.where(right, y, (y + 1 + rng.integers(0, n_classes - 1, len(y))) % n_classes)
    p = np.full((len(y), n_classes), (1 - conf) / (n_classes - 1))
    p[np.arange(len(y)), pred] = conf
    return p


def _zoo(rng, n=600, accs=(0.55, 0.65, 0.75, 0.85, 0.95), n_classes=3):
    y = rng.integers(0, n_classes, n)
    return y, np.stack([_model(y, a, rng, n_classes, conf=0.5 + a / 2) for a in accs])


@pytest.mark.parametrize("name", list(E.PER_MODEL))
def test_per_model_estimate_equals_validation_when_target_is_validation(name):
    rng = np.random.default_rng(0)
    y, P = _zoo(rng)
    for p in P:
        assert E.PER_MODEL[name](p, y, p) == pytest.approx(np.mean(p.argmax(1) == y))


@pytest.mark.parametrize("method", ["s", "d", "kappa"])
def test_agreement_on_the_line_equals_validation_when_target_is_validation(method):
    rng = np.random.default_rng(1)
    groups = [_zoo(rng) for _ in range(2)]
    est, fit = E.agreement_on_the_line([P for _, P in groups], [y for y, _ in groups], [P for _, P in groups],
                                       method=method)
    assert fit.slope == pytest.approx(1.0) and fit.bias == pytest.approx(0.0, abs=1e-9)
    for e, (y, P) in zip(est, groups):
        np.testing.assert_allclose(e, (P.argmax(2) == y).mean(1), atol=1e-9)


def test_engine_every_estimator_equals_validation_when_target_is_validation():
    rng = np.random.default_rng(2)
    y, P = _zoo(rng)
    table, info = E.estimate_accuracies({("random", 0): E.GroupPredictions(P, y, P, models=list("abcde"))}, n_boot=10)
    assert set(table.estimator) == set(E.ESTIMATORS)
    np.testing.assert_allclose(table.estimate, table.val_score, atol=1e-9)
    assert (table.lo <= table.estimate + 1e-12).all() and (table.estimate <= table.hi + 1e-12).all()
    assert info["lines"]["random"]["r2"] == pytest.approx(1.0)


def test_importance_weighting_is_exact_under_a_planted_label_shift():
    # The target holds each class-0 validation row three times and each class-1 row once: weights
    # of 3 and 1 (the ratio of class shares) make the weighted validation accuracy exact.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = _model(y, 0.7, rng, n_classes=2)
    target_rows = np.r_[np.repeat(np.flatnonzero(y == 0), 3), np.flatnonzero(y == 1)]
    truth = np.mean(p[target_rows].argmax(1) == y[target_rows])
    w = np.where(y == 0, 3.0, 1.0)
    assert E.importance_weighted(p, y, p[target_rows], weights=w) == pytest.approx(truth)
    assert E.importance_weighted(p, y, p[target_rows]) != pytest.approx(truth)  # unweighted is wrong here
    assert E.effective_sample_size(w) < len(y)


def test_atc_on_a_planted_confidence_distribution():
    # Validation: confidences 0.51..1.00 evenly, the 70% most confident right: the threshold sits
    # at the 30% quantile (0.66). Target: a known share (40%) of rows above it.
    conf = np.linspace(0.51, 1.0, 50)
    y = np.zeros(50, dtype=int)
    pred = np.where(np.arange(50) >= 15, 0, 1)  # the 35 most confident are right
    pv = np.column_stack([np.where(pred == 0, conf, 1 - conf), np.where(pred == 0, 1 - conf, conf)])
    t_conf = np.r_[np.full(40, 0.95), np.full(60, 0.6)]
    pt = np.column_stack([t_conf, 1 - t_conf])
    assert E.atc(pv, y, pt) == pytest.approx(0.4)
    assert E.atc(pv, y, pt, score="negentropy") == pytest.approx(0.4)


def test_atc_splits_ties_at_the_threshold():
    # A tree-like model: every confidence is 1.0 or 0.5. Accuracy 0.75 with 50% of rows at 1.0:
    # half of the tied 0.5 rows count; a target with 20% at 1.0 gets 0.2 + 0.5 * 0.8.
    pv = np.array([[1.0, 0.0]] * 2 + [[0.5, 0.5]] * 2)
    y = np.array([0, 0, 0, 1])
    pt = np.array([[1.0, 0.0]] * 2 + [[0.5, 0.5]] * 8)
    assert E.atc(pv, y, pt) == pytest.approx(0.2 + 0.5 * 0.8)


def test_doc_by_hand():
    pv = np.array([[0.9, 0.1], [0.7, 0.3]])
    pt = np.array([[0.6, 0.4], [0.6, 0.4]])
    # accuracy 0.5, confidence drops from 0.8 to 0.6
    assert E.doc(pv, np.array([0, 1]), pt) == pytest.approx(0.3)


def _line_stats(rng, slope, bias, groups=2, models=5):
    acc = [rng.uniform(0.6, 0.95, models) for _ in range(groups)]
    pairs = []
    for g in range(groups):
        for i in range(models):
            for j in range(i + 1, models):
                av = rng.uniform(0.6, 0.95)
                pairs.append((g, i, j, av, float(ndtr(slope * ndtri(av) + bias))))
    return acc, pairs


def test_aline_recovers_accuracies_that_lie_exactly_on_the_probit_line():
    # Agreements and accuracies on the same probit line: ALine-S and ALine-D are exact.
    rng = np.random.default_rng(4)
    acc, pairs = _line_stats(rng, 0.8, -0.6)
    s, d, fit = E._aline(acc, pairs)
    assert fit.slope == pytest.approx(0.8) and fit.bias == pytest.approx(-0.6) and fit.r2 == pytest.approx(1.0)
    for a, es, ed in zip(acc, s, d):
        truth = ndtr(0.8 * ndtri(a) - 0.6)
        np.testing.assert_allclose(ndtr(es), truth, atol=1e-9)
        np.testing.assert_allclose(ndtr(ed), truth, atol=1e-9)


def test_aline_d_uses_each_pairs_own_offset():
    # ALine-D solves the pairwise system, so a shift common to a model's pairs moves its estimate,
    # where ALine-S (one line for all) cannot tell: plant a model whose pairs sit above the line.
    rng = np.random.default_rng(5)
    acc, pairs = _line_stats(rng, 1.0, -0.5, groups=1, models=6)
    bumped = [(g, i, j, av, float(ndtr(ndtri(at) + (0.3 if 0 in (i, j) else 0.0)))) for g, i, j, av, at in pairs]
    s, d, _ = E._aline(acc, bumped)
    assert d[0][0] - (ndtri(acc[0][0]) - 0.5) > 0.3  # model 0 (its pairs above the line) estimated higher
    assert abs(d[0][0] - s[0][0]) > 0.2


def test_aline_kappa_discounts_chance_agreement_on_a_collapsed_target():
    # On target every model predicts mostly class 0, so raw agreement is high by chance; the
    # chance-corrected estimate stays lower than plain ALine-S.
    rng = np.random.default_rng(6)
    n, K = 2000, 5
    y = rng.integers(0, K, n)
    P = np.stack([_model(y, a, rng, K) for a in (0.6, 0.7, 0.8, 0.9)])
    yt = rng.integers(0, K, n)
    Pt = np.stack([_model(yt, a, rng, K) for a in (0.2, 0.25, 0.3, 0.35)])
    collapse = rng.random((4, n)) < 0.6
    Pt[collapse] = np.eye(K)[0] * 0.8 + 0.05
    truth = (Pt.argmax(2) == yt).mean(1)
    (ks,), _ = E.agreement_on_the_line([P], [y], [Pt], method="kappa")
    (ss,), _ = E.agreement_on_the_line([P], [y], [Pt], method="s")
    assert np.abs(ks - truth).mean() < np.abs(ss - truth).mean()


def _noisy_line(rng, n=4000, slope=0.5, bias=-0.2, sd_x=0.15, sd_y=0.1):
    """Points whose true probits lie on a line, observed with noise on both axes (known sds)."""
    zx = rng.uniform(-0.5, 1.5, n)
    x = ndtr(zx + rng.normal(0, sd_x, n))
    y = ndtr(slope * zx + bias + rng.normal(0, sd_y, n))
    return x, y


def test_deming_line_recovers_the_slope_that_least_squares_attenuates():
    # Noise on the validation axis biases the least-squares slope towards zero (by the factor
    # var(z) / (var(z) + sd_x^2) = 0.33 / 0.35); Deming with the true variance ratio does not.
    x, y = _noisy_line(np.random.default_rng(11))
    ols = E.fit_agreement_line(x, y)
    deming = E.fit_agreement_line(x, y, var_ratio=(0.1 / 0.15) ** 2)
    assert ols.slope < 0.48
    assert deming.slope == pytest.approx(0.5, abs=0.015) and deming.bias == pytest.approx(-0.2, abs=0.015)


def test_deming_line_is_exact_on_exact_points_whatever_the_ratio():
    v = np.array([0.55, 0.7, 0.8, 0.93])
    t = ndtr(1.7 * ndtri(v) - 0.4)
    for ratio in (0.01, 1.0, 100.0):
        fit = E.fit_agreement_line(v, t, var_ratio=ratio)
        assert fit.slope == pytest.approx(1.7) and fit.bias == pytest.approx(-0.4) and fit.r2 == pytest.approx(1.0)


@pytest.mark.parametrize("ratio", [0.0, -1.0, np.nan, np.inf])
def test_deming_line_rejects_a_bad_variance_ratio(ratio):
    with pytest.raises(ValueError, match="var_ratio must be a positive number"):
        E.fit_agreement_line([0.6, 0.7, 0.8], [0.5, 0.6, 0.7], var_ratio=ratio)


def test_kappa_line_uses_deming_on_a_good_line_and_least_squares_on_a_poor_one():
    rng = np.random.default_rng(12)
    x, y = _noisy_line(rng, n=400)
    var_v, var_t = np.full(400, 0.15**2), np.full(400, 0.1**2)
    good = E._kappa_line(x, y, var_v, var_t)
    assert good.slope == pytest.approx(E.fit_agreement_line(x, y, var_ratio=(0.1 / 0.15) ** 2).slope)
    assert good.slope > E.fit_agreement_line(x, y).slope
    # Unrelated pairs (R^2 about 0): Deming's slope would blow up; least squares stays near 0.
    x2, y2 = ndtr(rng.normal(size=400)), ndtr(rng.normal(size=400))
    poor = E._kappa_line(x2, y2, var_v, var_t)
    ols = E.fit_agreement_line(x2, y2)
    assert ols.r2 < E.POOR_FIT_R2 and poor.slope == pytest.approx(ols.slope) and abs(poor.slope) < 0.3
    assert abs(E.fit_agreement_line(x2, y2, var_ratio=(0.1 / 0.15) ** 2).slope) > 3  # what the guard avoids


def test_probit_kappa_variance_follows_the_binomial_and_the_row_count():
    # kappa = 0.5 (probit 0): var(kappa) = a (1 - a) / (n (1 - e)^2), divided by phi(0)^2 = 1 / (2 pi).
    a, e = 0.6, 0.2
    expected = a * (1 - a) / 1000 / (1 - e) ** 2 * 2 * np.pi
    assert E._probit_kappa_var(a, e, 1000) == pytest.approx(expected)
    assert E._probit_kappa_var(a, e, 4000) == pytest.approx(expected / 4)


def test_interval_misspecification_term_comes_from_the_agreement_family():
    # Two models: the agreement family agrees (0.40, 0.41, 0.42) while validation, DoC, ATC and
    # importance weighting sit far above (0.80); the term is the distance to the family's median
    # (0.41), not to the median of all eight estimators (0.80).
    point = {e: [np.array([0.8, 0.8])] for e in E.ESTIMATORS}
    point["aline_s"], point["aline_d"], point["aline_kappa"] = ([np.array([v, v])] for v in (0.40, 0.41, 0.42))
    np.testing.assert_allclose(E._plausible_median(point, 0), [0.41, 0.41])
    lo, hi = E._interval(point["aline_kappa"][0], np.empty((0, 2)), E._plausible_median(point, 0), None)
    np.testing.assert_allclose(hi - lo, 2 * E.Z95 * 0.01)
    # No agreement line (ALine-S/D NaN, aline_kappa a copy of ATC): every estimator's median.
    point["aline_s"] = point["aline_d"] = [np.array([np.nan, np.nan])]
    np.testing.assert_allclose(E._plausible_median(point, 0), [0.8, 0.8])


def test_density_ratio_follows_the_true_ratio():
    rng = np.random.default_rng(7)
    Xv, Xt = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2)) + [1.0, 0.0]
    w = E.density_ratio(Xv, Xt)
    assert w.mean() == pytest.approx(1.0)
    assert spearmanr(w, Xv[:, 0]).statistic > 0.95  # the true ratio exp(x0 - 1/2) grows with x0


def test_intervals_widen_when_estimators_disagree():
    rng = np.random.default_rng(8)
    y, P = _zoo(rng, n=800)
    yt, Pt_ = _zoo(rng, n=800, accs=(0.35, 0.45, 0.55, 0.65, 0.75))
    same, _ = E.estimate_accuracies({("s", 0): E.GroupPredictions(P, y, P)}, n_boot=20)
    moved, _ = E.estimate_accuracies({("s", 0): E.GroupPredictions(P, y, Pt_)}, n_boot=20)
    width = {name: (t.hi - t.lo)[t.estimator == "validation"].mean() for name, t in (("same", same), ("moved", moved))}
    assert width["moved"] > 2 * width["same"]


def test_bootstrap_interval_shrinks_with_more_rows():
    rng = np.random.default_rng(9)
    widths = []
    for n in (200, 3200):
        y, P = _zoo(rng, n=n)
        t, _ = E.estimate_accuracies({("s", 0): E.GroupPredictions(P, y, P)}, n_boot=40)
        widths.append((t.hi - t.lo)[t.estimator == "atc_maxprob"].mean())
    assert widths[1] < widths[0] / 2


def test_single_model_falls_back_to_atc():
    rng = np.random.default_rng(10)
    y, P = _zoo(rng, accs=(0.8,))
    t, info = E.estimate_accuracies({("s", 0): E.GroupPredictions(P, y, P[:, :300])}, n_boot=0)
    est = t.set_index("estimator").estimate
    assert np.isnan(est["aline_s"]) and est["aline_kappa"] == est["atc_maxprob"]
    assert info["lines"]["s"] is None


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: E.atc(np.ones(3), np.zeros(3, int), np.ones((3, 2))), "proba_val must be a 2-D"),
        (lambda: E.atc(np.ones((3, 2)), np.zeros(2, int), np.ones((3, 2))), "y_val must be 1-D"),
        (lambda: E.atc(np.ones((3, 2)), np.array([0, 1, 2]), np.ones((3, 2))), "class indices 0..1"),
        (lambda: E.doc(np.ones((3, 2)), np.zeros(3, int), np.ones((3, 3))), "proba_target has 3"),
        (lambda: E.doc(np.full((3, 2), np.nan), np.zeros(3, int), np.ones((3, 2))), "NaN"),
        (lambda: E.atc(np.ones((3, 2)), np.zeros(3, int), np.ones((3, 2)), score="x"), "maxprob"),
        (lambda: E.importance_weighted(np.ones((3, 2)), np.zeros(3, int), np.ones((3, 2)), weights=[1, -1, 1]),
         "non-negative"),
        (lambda: E.density_ratio(np.ones((3, 2)), np.ones((3, 3))), "same columns"),
        (lambda: E.fit_agreement_line([0.5], [0.5]), "at least 2 model pairs"),
        (lambda: E.agreement_on_the_line([np.ones((2, 3, 2))], [np.zeros(3, int)], [np.ones((2, 3, 2))], "x"), "'kappa'"),
        (lambda: E.agreement_on_the_line([np.ones((2, 3, 2))], [np.zeros(4, int)], [np.ones((2, 3, 2))]),
         "group 0"),
        (lambda: E.estimate_accuracies({}), "no predictions"),
        (lambda: E.estimate_accuracies({1: E.GroupPredictions(np.ones((2, 3, 2)), np.zeros(3, int), np.ones((2, 3, 2))),
                                        2: E.GroupPredictions(np.ones((2, 3, 2)), np.zeros(3, int), np.ones((2, 4, 2)))}),
         "same target rows"),
    ],
)
def test_bad_input(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# --- the estimation stage inside compare_strategies ------------------------------------------------

def _shifted_blobs(seed=0, n=1500, n_test=1000, shift=1.2):
    """Four Gaussian classes; the target rows are moved off the pool, so every validation part lies."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [3, 0], [0, 3], [3, 3]], float)

    def draw(m, move):
        y = rng.integers(0, 4, m)
        X = centres[y] + rng.normal(size=(m, 2)) * 1.1 + move
        return np.c_[X, rng.normal(size=(m, 2))], y

    X, y = draw(n, 0.0)
    Xt, yt = draw(n_test, np.array([shift, -shift]))
    return X, y, Xt, yt


MODELS = ["logreg", "lda", "naive_bayes", "knn", "tree"]


def test_compare_strategies_estimates_the_test_score_from_unlabeled_rows(tmp_path):
    import json

    import splitters

    X, y, Xt, yt = _shifted_blobs()
    r = splitters.compare_strategies(X, y, Xt, yt, strategies=["random"], models=MODELS, repeats=2, val_size=400,
                                     progress=False)
    t = r.estimates
    assert list(t.columns[:8]) == ["strategy", "repeat", "model", "estimator", "val_score", "estimate", "lo", "hi"]
    assert "test_score" in t and len(t) == 2 * len(MODELS) * len(E.ESTIMATORS)
    assert r.default_estimator == E.DEFAULT_ESTIMATOR
    ess = t[t.estimator == "importance_weighted"].ess
    assert ((ess > 1) & (ess < 400)).all() and t[t.estimator != "importance_weighted"].ess.isna().all()
    d = t[t.estimator == r.default_estimator]
    # the shift makes validation optimistic (by about 19 points); the default estimate lands closer
    assert (d.val_score - d.test_score).mean() > 0.1
    assert (d.estimate - d.test_score).abs().mean() < 0.85 * (d.val_score - d.test_score).abs().mean()
    assert {"mae", "bias", "coverage", "spearman", "regret"} <= set(r.estimate_summary.columns)
    assert r.ship["model"] in MODELS and r.ship["lo"] <= r.ship["estimate"] <= r.ship["hi"]
    # same predictions as the table: the estimation stage refits nothing
    merged = d.merge(r.table, on=["strategy", "repeat", "model"], suffixes=("", "_table"))
    np.testing.assert_allclose(merged.test_score, merged.test_score_table)
    data = r.to_dict()
    assert data["default_estimator"] == r.default_estimator and len(data["estimates"]) == len(t)
    paths = r.write(str(tmp_path))
    assert os.path.getsize(paths["estimates"]) > 0
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["ship"]["model"] == r.ship["model"] and len(written["estimate_summary"]) == len(E.ESTIMATORS)
    report = (tmp_path / "report.md").read_text()
    assert "| model | validation | estimated test | interval | true test |" in report
    assert f"Ship **{r.ship['model']}**" in report and "aline_kappa **(default)**" in report


def test_compare_strategies_without_test_labels_still_fits_and_estimates(tmp_path):
    import splitters

    X, y, Xt, _ = _shifted_blobs(1)
    r = splitters.compare_strategies(X, y, Xt, None, strategies=["random", "tail"], models=MODELS, repeats=1,
                                     val_size=400, progress=False)
    assert r.table.val_score.notna().all() and r.table.test_score.isna().all()
    assert "test_score" not in r.estimates and r.estimates.estimate.notna().all()
    assert set(r.estimates.strategy) == {"random", "tail"}
    assert r.ship["strategy"] == r.recommended and np.isnan(r.ship.get("test_score", np.nan))
    paths = r.write(str(tmp_path))
    report = (tmp_path / "report.md").read_text()
    assert "| model | validation | estimated test | interval |\n" in report and "true test" not in report
    assert os.path.getsize(paths["estimates"]) > 0
    off = splitters.compare_strategies(X, y, Xt, None, strategies=["random"], models=MODELS, repeats=1, val_size=400,
                                       progress=False, estimate=False)
    assert off.estimates is None and off.ship is None and off.table.val_score.isna().all()


def test_one_row_target_still_gets_estimates_without_importance_weights():
    import splitters

    X, y, Xt, yt = _shifted_blobs(2)
    r = splitters.compare_strategies(X, y, Xt[:1], yt[:1], strategies=["random"], models=MODELS, repeats=1,
                                     val_size=400, progress=False)
    assert r.estimates.estimate.notna().any()
    assert any("no importance weights" in n and "at least 2 rows" in n for n in r.notes)
