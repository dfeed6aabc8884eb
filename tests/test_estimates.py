"""Label-free accuracy estimators on planted cases whose answer is known by construction."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import spearmanr

from splitters import estimation as E
from splitters.estimation import agreement as A
from splitters.estimation import intervals as I


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


@pytest.mark.parametrize("name", [e for e, spec in E.ESTIMATORS.items() if not spec.zoo])
def test_per_model_estimate_equals_validation_when_target_is_validation(name):
    rng = np.random.default_rng(0)
    y, P = _zoo(rng)
    for p in P:
        assert E.per_model(name, p, y, p) == pytest.approx(np.mean(p.argmax(1) == y))


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
    s, d, fit = A.aline(acc, pairs)
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
    s, d, _ = A.aline(acc, bumped)
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
    good = A._kappa_line(x, y, var_v, var_t)
    assert good.slope == pytest.approx(E.fit_agreement_line(x, y, var_ratio=(0.1 / 0.15) ** 2).slope)
    assert good.slope > E.fit_agreement_line(x, y).slope
    # Unrelated pairs (R^2 about 0): Deming's slope would blow up; least squares stays near 0.
    x2, y2 = ndtr(rng.normal(size=400)), ndtr(rng.normal(size=400))
    poor = A._kappa_line(x2, y2, var_v, var_t)
    ols = E.fit_agreement_line(x2, y2)
    assert ols.r2 < E.POOR_FIT_R2 and poor.slope == pytest.approx(ols.slope) and abs(poor.slope) < 0.3
    assert abs(E.fit_agreement_line(x2, y2, var_ratio=(0.1 / 0.15) ** 2).slope) > 3  # what the guard avoids


def test_probit_kappa_variance_follows_the_binomial_and_the_row_count():
    # kappa = 0.5 (probit 0): var(kappa) = a (1 - a) / (n (1 - e)^2), divided by phi(0)^2 = 1 / (2 pi).
    a, e = 0.6, 0.2
    expected = a * (1 - a) / 1000 / (1 - e) ** 2 * 2 * np.pi
    assert A._probit_kappa_var(a, e, 1000) == pytest.approx(expected)
    assert A._probit_kappa_var(a, e, 4000) == pytest.approx(expected / 4)


def test_interval_misspecification_term_comes_from_the_agreement_family():
    # Two models: the agreement family agrees (0.40, 0.41, 0.42) while validation, DoC, ATC and
    # importance weighting sit far above (0.80); the term is the distance to the family's median
    # (0.41), not to the median of all eight estimators (0.80).
    point = {e: [np.array([0.8, 0.8])] for e in E.ESTIMATORS}
    point["aline_s"], point["aline_d"], point["aline_kappa"] = ([np.array([v, v])] for v in (0.40, 0.41, 0.42))
    np.testing.assert_allclose(I.plausible_median(point, 0), [0.41, 0.41])
    lo, hi = I.interval(point["aline_kappa"][0], np.empty((0, 2)), I.plausible_median(point, 0), None)
    np.testing.assert_allclose(hi - lo, 2 * E.Z95 * 0.01)
    # No agreement line (ALine-S/D NaN, aline_kappa a copy of ATC): every estimator's median.
    point["aline_s"] = point["aline_d"] = [np.array([np.nan, np.nan])]
    np.testing.assert_allclose(I.plausible_median(point, 0), [0.8, 0.8])


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


# --- hand-derived values for each piece (mutation testing, issue 13) --------------------------------

def test_probit_clips_both_ends_to_finite_values():
    np.testing.assert_allclose(A.probit([0.0, 0.5, 1.0]), [ndtri(1e-4), 0.0, -ndtri(1e-4)])


def test_probit_kappa_variance_by_the_delta_method_away_from_kappa_one_half():
    # kappa = (0.9 - 0.2) / 0.8 = 0.875; d probit / d kappa = 1 / phi(z) = sqrt(2 pi) exp(z^2 / 2).
    a, e, n = 0.9, 0.2, 500
    z = ndtri(0.875)
    expected = a * (1 - a) / n / (1 - e) ** 2 * (np.sqrt(2 * np.pi) * np.exp(z**2 / 2)) ** 2
    assert A._probit_kappa_var(a, e, n) == pytest.approx(expected)
    # kappa 1 (full agreement): clipped below 1, and the binomial variance floored at 1 / n
    z1 = ndtri(1 - 1e-4)
    assert A._probit_kappa_var(1.0, e, 100) == pytest.approx(1 / 100 / 100 / 0.8**2 * 2 * np.pi * np.exp(z1**2))
    # agreement below chance (kappa < 0): clipped to 1e-4
    z0 = ndtri(1e-4)
    assert A._probit_kappa_var(0.1, 0.5, 100) == pytest.approx(0.09 / 100 / 0.25 * 2 * np.pi * np.exp(z0**2))


def test_deming_closed_form_by_hand_and_on_uncorrelated_axes():
    x, y, lam = np.array([0.0, 1.0, 2.0, 4.0]), np.array([1.0, 1.5, 3.5, 4.0]), 2.0
    sxx, syy = np.var(x), np.var(y)
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    slope = (syy - lam * sxx + np.sqrt((syy - lam * sxx) ** 2 + 4 * lam * sxy**2)) / (2 * sxy)
    assert A._deming(x, y, lam) == pytest.approx((slope, y.mean() - slope * x.mean()))
    # exactly uncorrelated axes: a flat line through the mean
    assert A._deming(np.array([-1.0, 1.0, -1.0, 1.0]), np.array([-1.0, -1.0, 1.0, 1.0]) + 3, 1.0) == (0.0, 3.0)


def test_fit_agreement_line_r2_and_residual_sd_by_hand():
    v = np.array([0.55, 0.62, 0.7, 0.8, 0.9])
    x = ndtri(v)
    y = 0.8 * x - 0.3 + np.array([0.05, -0.04, 0.02, -0.06, 0.03])
    fit = E.fit_agreement_line(v, ndtr(y))
    slope, bias = np.polyfit(x, y, 1)
    resid = y - (slope * x + bias)
    assert fit.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)  # least squares: R^2 = r^2
    assert fit.resid_sd == pytest.approx(np.sqrt(np.sum(resid**2) / 3)) and fit.n_pairs == 5
    three = E.fit_agreement_line(v[:3], ndtr(y[:3]))
    r3 = y[:3] - np.polyval(np.polyfit(x[:3], y[:3], 1), x[:3])
    assert three.resid_sd == pytest.approx(np.sqrt(np.sum(r3**2) / 1))
    # two pairs are enough; target agreements all equal: a flat line that explains everything
    assert E.fit_agreement_line([0.6, 0.8], [0.5, 0.7]).n_pairs == 2
    flat = E.fit_agreement_line([0.6, 0.7, 0.8], [0.75, 0.75, 0.75])
    assert flat.r2 == 1.0 and flat.slope == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"^agreement-on-the-line needs at least 2 model pairs that agree to different degrees$"):
        E.fit_agreement_line([0.7, 0.7, 0.7], [0.5, 0.6, 0.7])


def test_kappa_line_keeps_least_squares_when_the_target_variance_is_zero():
    x, y = _noisy_line(np.random.default_rng(13), n=200)
    fit = A._kappa_line(x, y, np.full(200, 0.01), np.zeros(200))
    assert fit.slope == pytest.approx(E.fit_agreement_line(x, y).slope)


def test_aline_d_is_solved_from_three_models_and_falls_back_to_aline_s_below():
    # Group 0: three models whose pairs with model 0 sit 0.3 probit above the line (three equations,
    # ALine-D sees the offset); group 1: two models, one equation, so ALine-D falls back to ALine-S.
    rng = np.random.default_rng(14)
    acc = [rng.uniform(0.6, 0.9, 3), rng.uniform(0.6, 0.9, 2)]
    pairs = []
    for g, i, j in [(0, 0, 1), (0, 0, 2), (0, 1, 2), (1, 0, 1)]:
        av = rng.uniform(0.6, 0.95)
        pairs.append((g, i, j, av, float(ndtr(ndtri(av) - 0.5 + (0.3 if g == 0 and i == 0 else 0.0)))))
    s, d, _ = A.aline(acc, pairs)
    assert d[0][0] - s[0][0] > 0.1
    np.testing.assert_array_equal(d[1], s[1])


def test_agreement_on_the_line_default_method_is_aline_d():
    rng = np.random.default_rng(15)
    y, P = _zoo(rng)
    yt, Pt = _zoo(rng, accs=(0.4, 0.6, 0.62, 0.8, 0.82))
    default, _ = E.agreement_on_the_line([P], [y], [Pt])
    d, _ = E.agreement_on_the_line([P], [y], [Pt], method="d")
    s, _ = E.agreement_on_the_line([P], [y], [Pt], method="s")
    np.testing.assert_array_equal(default[0], d[0])
    assert np.abs(d[0] - s[0]).max() > 1e-3


def test_aline_kappa_with_a_class_nobody_predicts_or_labels():
    # Three classes, but labels and predictions only use 0 and 1: class shares still have 3 entries.
    rng = np.random.default_rng(16)
    y = rng.integers(0, 2, 400)
    P = np.stack([_model(y, a, rng, 2) for a in (0.6, 0.75, 0.9)])
    P3 = np.concatenate([P * 0.9, np.full(P.shape[:2] + (1,), 0.1)], axis=2)
    (est,), fit = E.agreement_on_the_line([P3], [y], [P3], method="kappa")
    np.testing.assert_allclose(est, (P.argmax(2) == y).mean(1), atol=1e-9)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: E.agreement_on_the_line([np.ones((2, 3, 2))], [np.zeros(3, int)] * 2, [np.ones((2, 3, 2))]),
         "proba_val, y_val and proba_target need one entry per group, and at least one group"),
        (lambda: E.agreement_on_the_line([np.ones((2, 3, 2))], [np.zeros(3, int)], [np.ones((3, 2))]), "group 0: "),
        (lambda: E.agreement_on_the_line([np.ones((3, 2))], [np.zeros(3, int)], [np.ones((2, 3, 2))]), "group 0: "),
        (lambda: E.doc(np.ones((0, 3)), np.zeros(0, int), np.ones((3, 3))), "proba_val must be a 2-D"),
        (lambda: E.doc(np.ones((3, 2)), np.zeros(3, int), np.ones(3)), "proba_target must be a 2-D"),
        (lambda: E.importance_weighted(np.ones((3, 2)), np.zeros(3, int), np.ones((3, 2)), weights=[1, np.inf, 1]),
         "weights must be 3 finite non-negative numbers with a positive sum"),
        (lambda: E.importance_weighted(np.ones((3, 2)), np.zeros(3, int), np.ones((3, 2)), weights=[0, 0, 0]),
         "weights must be 3 finite"),
        (lambda: E.density_ratio(np.ones((0, 2)), np.ones((3, 2))), "X_val and X_target must be non-empty 2-D"),
        (lambda: E.density_ratio(np.ones((3, 2)), np.ones(3)), "X_val and X_target must be non-empty 2-D"),
        (lambda: E.density_ratio(np.ones(3), np.ones((3, 2))), "X_val and X_target must be non-empty 2-D"),
        (lambda: E.density_ratio(np.ones((1, 2)), np.ones((3, 2))),
         "the domain classifier needs at least 2 rows on each side, got 1 validation"),
        (lambda: E.estimate_accuracies({}), "no predictions to estimate from$"),
        (lambda: E.estimate_accuracies({("s", 1): E.GroupPredictions(np.ones((3, 4, 2)), np.zeros(4, int),
                                                                     np.ones((3, 2, 2)), models=["a", "b"])}, n_boot=0),
         re.escape("group ('s', 1): 2 model names for 3 models") + "$"),
    ],
)
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match="^" + message):
        call()


def test_one_row_and_small_weights_are_valid_input():
    pv = np.array([[0.8, 0.2]])
    assert E.doc(pv, np.array([0]), pv) == 1.0
    pv = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])
    y = np.array([0, 1, 1])
    assert E.importance_weighted(pv, y, pv, weights=[0.0, 0.5, 0.5]) == pytest.approx(0.5)
    assert E.importance_weighted(pv, y, pv, weights=[0.2, 0.1, 0.1]) == pytest.approx(0.75)
    assert E.density_ratio(np.arange(4.0).reshape(2, 2), np.arange(4.0).reshape(2, 2) + 1).shape == (2,)


def test_confidence_by_hand():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.7, 0.2, 0.1]])
    np.testing.assert_allclose(E.confidence(p), [0.5, 1.0, 0.7])
    np.testing.assert_allclose(E.confidence(p, "negentropy"),
                               [-np.log(2), 0.0, 0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)])


def test_effective_sample_size_by_hand():
    assert E.effective_sample_size([1.0, 2.0, 3.0]) == pytest.approx(36 / 14)
    assert E.effective_sample_size([1e-3] * 4) == pytest.approx(4.0)


def test_atc_with_every_validation_row_right_counts_every_target_row():
    pv = np.array([[0.9, 0.1], [0.8, 0.2]])
    assert E.atc(pv, np.array([0, 0]), np.array([[0.55, 0.45], [0.6, 0.4]])) == 1.0


def test_atc_threshold_is_a_validation_score_not_an_interpolation():
    # Accuracy 0.75 on scores 0.6..0.9: the threshold is the lowest score 0.6 (the share above it is
    # 0.75); a target row at 0.65 lies above it (an interpolated 0.675 would drop it).
    pv = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    assert E.atc(pv, np.array([0, 0, 0, 1]), np.array([[0.65, 0.35], [0.55, 0.45]])) == 0.5


def test_density_ratio_recovers_the_log_ratio_slope_and_is_reproducible():
    # N(0, 1) against N(1, 1) along x0: log w = x0 - 1/2, slope 1 in x0.
    rng = np.random.default_rng(17)
    Xv, Xt = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2)) + [1.0, 0.0]
    w = E.density_ratio(Xv, Xt, random_state=3)
    assert np.polyfit(Xv[:, 0], np.log(w), 1)[0] == pytest.approx(1.0, abs=0.1)
    np.testing.assert_array_equal(w, E.density_ratio(Xv, Xt, random_state=3))
    assert not np.array_equal(w, E.density_ratio(Xv, Xt, random_state=4))
    np.testing.assert_array_equal(E.density_ratio(Xv, Xt), E.density_ratio(Xv, Xt, random_state=0))
    np.testing.assert_array_equal(E.density_ratio(Xv, Xt, max_rows=3000), E.density_ratio(Xv, Xt))


def test_density_ratio_subsamples_the_target_rows_with_its_seed():
    rng = np.random.default_rng(18)
    Xv, Xt = rng.normal(size=(100, 2)), rng.normal(size=(300, 2)) + [1.0, 0.0]
    keep = np.random.default_rng(5).choice(300, 120, replace=False)
    np.testing.assert_allclose(E.density_ratio(Xv, Xt, random_state=5, max_rows=120),
                               E.density_ratio(Xv, Xt[keep], random_state=5))


def test_interval_terms_by_hand():
    fit = E.LineFit(1.0, 0.0, 0.9, 0.2, 10)
    est, median = np.array([0.6, 0.3]), np.array([0.65, 0.3])
    boots = np.array([[0.55, 0.3], [0.65, 0.32]])  # two replicates: sd with ddof 1
    se = np.array([np.sqrt(0.005), np.sqrt(0.0002)])
    z = ndtri(est)
    m_line = (ndtr(z + 0.2) - ndtr(z - 0.2)) / 2
    half = 1.959963984540054 * np.sqrt(se**2 + m_line**2 + (est - median) ** 2)
    lo, hi = I.interval(est, boots, median, fit)
    np.testing.assert_allclose(lo, est - half)
    np.testing.assert_allclose(hi, est + half)
    three = np.array([[0.5, 0.3], [0.6, 0.3], [0.7, 0.3]])  # sd 0.1 (ddof 1)
    lo, hi = I.interval(est, three, est, None)
    np.testing.assert_allclose(hi - lo, [2 * 1.959963984540054 * 0.1, 0.0], atol=1e-12)


def test_interval_is_clipped_to_zero_one_on_both_sides():
    # DoC can leave [0, 1]: both ends of every interval stay inside.
    est = np.array([1.2, -0.3, 0.95, 0.02])
    lo, hi = I.interval(est, np.empty((0, 4)), est + np.array([0.05, 0.05, 0.2, 0.2]), None)
    np.testing.assert_allclose(lo, [1.0, 0.0, 0.95 - 1.959963984540054 * 0.2, 0.0])
    np.testing.assert_allclose(hi, [1.0, 0.0, 1.0, 0.02 + 1.959963984540054 * 0.2])


def test_plausible_median_per_model():
    point = {e: [np.array([0.8, 0.6])] for e in E.ESTIMATORS}
    point["aline_s"], point["aline_d"], point["aline_kappa"] = ([np.array([v, np.nan])] for v in (0.40, 0.41, 0.42))
    # model 0 has a line (the family's median), model 1 none (the median of the five others: 0.6)
    np.testing.assert_allclose(I.plausible_median(point, 0), [0.41, 0.6])
    point["aline_kappa"] = [np.array([np.nan, np.nan])]  # ALine-S and -D decide whether there is a line
    np.testing.assert_allclose(I.plausible_median(point, 0), [0.405, 0.6])


def _shifted_group(seed=19, weights=None):
    rng = np.random.default_rng(seed)
    y, P = _zoo(rng, n=300)
    _, Pt = _zoo(rng, n=200, accs=(0.4, 0.5, 0.62, 0.7, 0.85))
    return E.GroupPredictions(P, y, Pt, weights, models=list("abcde"))


def test_engine_point_estimates_match_the_per_model_estimators():
    rng = np.random.default_rng(20)
    g = _shifted_group(weights=rng.uniform(0.2, 3.0, 300))
    t, info = E.estimate_accuracies({("s", 0): g}, n_boot=0)
    est = t.pivot(index="model", columns="estimator", values="estimate")
    for m, name in enumerate("abcde"):
        assert est.loc[name, "doc"] == pytest.approx(E.doc(g.proba_val[m], g.y_val, g.proba_target[m]))
        assert est.loc[name, "importance_weighted"] == pytest.approx(
            E.importance_weighted(g.proba_val[m], g.y_val, g.proba_target[m], weights=g.weights))
    (kappa,), kfit = E.agreement_on_the_line([g.proba_val], [g.y_val], [g.proba_target], method="kappa")
    np.testing.assert_allclose(est.aline_kappa.to_numpy(), kappa)
    assert info["kappa_lines"]["s"] == kfit.__dict__
    assert info["ess"][("s", 0)] == pytest.approx(E.effective_sample_size(g.weights))


def test_engine_intervals_use_each_estimators_own_line():
    # No bootstrap: half = 1.96 sqrt(m_line^2 + m_dis^2), m_line from the kappa line for aline_kappa,
    # from the plain agreement line for ALine-S/D, none for the others.
    g = _shifted_group()
    t, info = E.estimate_accuracies({("s", 0): g}, n_boot=0)
    est = t.pivot(index="model", columns="estimator", values="estimate")
    median = est[["aline_s", "aline_d", "aline_kappa"]].median(axis=1)
    for e in E.ESTIMATORS:
        rows = t[t.estimator == e].set_index("model")
        sd = (info["kappa_lines"]["s"] if e == "aline_kappa" else info["lines"]["s"] if e.startswith("aline")
              else {"resid_sd": 0.0})["resid_sd"]
        z = ndtri(np.clip(rows.estimate, 1e-4, 1 - 1e-4))
        m_line = (ndtr(z + sd) - ndtr(z - sd)) / 2
        if e == "aline_kappa":  # the hull interval, stretched towards atc_maxprob (see reliability)
            atc = est.atc_maxprob.reindex(rows.index)
            margin = 0.1 * (rows.val_score - rows.estimate).abs() + 1.959963984540054 * m_line
            lo = (rows.estimate - 1.25 * np.maximum(rows.estimate - atc, 0) - margin
                  - 0.2 * np.maximum(rows.val_score - rows.estimate, 0))
            hi = rows.estimate + margin
        else:
            half = 1.959963984540054 * np.sqrt(m_line**2 + (rows.estimate - median) ** 2)
            lo, hi = rows.estimate - half, rows.estimate + half
        np.testing.assert_allclose(rows.lo, np.clip(lo, 0, 1), err_msg=e)
        np.testing.assert_allclose(rows.hi, np.clip(hi, 0, 1), err_msg=e)
    assert info["kappa_lines"]["s"]["resid_sd"] != info["lines"]["s"]["resid_sd"]


def test_engine_bootstrap_is_seeded_and_defaults_to_100_replicates_seed_0():
    g = {("s", 0): _shifted_group()}
    a, _ = E.estimate_accuracies(g, n_boot=100, random_state=0)
    b, _ = E.estimate_accuracies(g)
    c, _ = E.estimate_accuracies(g, n_boot=100, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.hi - a.lo, c.hi - c.lo)


def test_engine_bootstrap_draws_every_validation_row():
    # One model, two validation rows (one right, one wrong) and the target equal to them: every
    # estimator says 0.5, so the width of the validation interval is the bootstrap's alone, and
    # it is zero only if a row is never drawn.
    pv = np.array([[[0.8, 0.2], [0.8, 0.2]]])
    t, _ = E.estimate_accuracies({("s", 0): E.GroupPredictions(pv, np.array([0, 1]), pv)}, n_boot=30)
    row = t[t.estimator == "validation"].iloc[0]
    assert row.estimate == 0.5 and row.hi - row.lo > 0.3


# --- the estimation stage on stand-in plan, splits and fits ---------------------------------------------

def _stage(seed=21, metric="accuracy", labeled=True, models=("a", "b", "c"), drop=(), no_proba=(), poor=False):
    """A plan, splits and fits as the engine passes them: classes 3, 7, 9 (not column indices),
    one strategy ``s`` with repeats 0 and 1, models that are right on known shares of the rows."""
    from types import SimpleNamespace as NS

    rng = np.random.default_rng(seed)
    classes = np.array([3, 7, 9])
    X, X_test = rng.normal(size=(120, 2)), rng.normal(size=(90, 2)) + [0.7, 0.0]
    y, y_test = classes[rng.integers(0, 3, 120)], classes[rng.integers(0, 3, 90)]
    parts = {("s", 0): (np.arange(60), np.arange(60, 120)), ("s", 1): (np.arange(60, 120), np.arange(60))}
    preds = {}
    for r, (_, val) in parts.items():
        for k, m in enumerate(models):
            if m in drop:
                continue
            yv = np.searchsorted(classes, y[val])
            pv = _model(yv, 0.5 + 0.15 * k, rng)
            pt = _model(np.searchsorted(classes, y_test), 0.4 + 0.15 * k, rng) if not poor else rng.dirichlet([1, 1, 1], 90)
            proba = m not in no_proba
            preds[(r[0], r[1], m)] = NS(val_proba=pv if proba else None, val_pred=classes[pv.argmax(1)],
                                        test_proba=pt if proba else None, test_pred=classes[pt.argmax(1)])
    plan = NS(classes=classes, models={m: None for m in models}, X=X, y=y, X_test=X_test,
              y_test=y_test if labeled else None, labeled=labeled, random_state=7, seed=lambda r: 7 + r,
              metric=NS(name=metric))
    return plan, NS(parts=parts), NS(predictions=preds)


def test_group_predictions_maps_classes_and_fills_in_models_without_probabilities():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage(models=("gone", "a", "b"), drop=("gone",), no_proba=("b",))
    notes = []
    g = S._group_predictions(plan, splits, fits, ("s", 1), notes)
    assert g.models == ["a", "b"] and notes == []
    val = splits.parts[("s", 1)][1]
    np.testing.assert_array_equal(g.y_val, np.searchsorted([3, 7, 9], plan.y[val]))
    pb = fits.predictions[("s", 1, "b")]
    np.testing.assert_array_equal(g.proba_val[1], np.eye(3)[np.searchsorted([3, 7, 9], pb.val_pred)])
    np.testing.assert_array_equal(g.proba_target[1], np.eye(3)[np.searchsorted([3, 7, 9], pb.test_pred)])
    np.testing.assert_array_equal(g.proba_val[0], fits.predictions[("s", 1, "a")].val_proba)
    np.testing.assert_array_equal(g.proba_target[0], fits.predictions[("s", 1, "a")].test_proba)
    np.testing.assert_allclose(g.weights, E.density_ratio(plan.X[val], plan.X_test, random_state=8))


def test_group_predictions_subsamples_the_target_for_the_domain_classifier(monkeypatch):
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    monkeypatch.setattr(S, "DOMAIN_ROWS", 50)
    g = S._group_predictions(plan, splits, fits, ("s", 0), [])
    val = splits.parts[("s", 0)][1]
    np.testing.assert_allclose(g.weights, E.density_ratio(plan.X[val], plan.X_test, random_state=7, max_rows=50))


def test_estimate_scores_passes_seed_and_replicates_and_keeps_the_lines_and_ess():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    est = S.estimate_scores(plan, splits, fits, n_boot=5)
    groups = {k: S._group_predictions(plan, splits, fits, k, []) for k in splits.parts}
    table, info = E.estimate_accuracies(groups, n_boot=5, random_state=7)
    assert list(est.table.columns) == S.ESTIMATE_COLUMNS + ["ess", "chance_val", "chance_target", "status", "test_score"]
    np.testing.assert_allclose(est.table[["estimate", "lo", "hi"]], table[["estimate", "lo", "hi"]])
    assert est.lines == info["kappa_lines"] and est.lines["s"] is not None
    assert est.ess == {"s/0": info["ess"][("s", 0)], "s/1": info["ess"][("s", 1)]}
    truth = np.mean(fits.predictions[("s", 1, "b")].test_pred == plan.y_test)
    assert est.table.set_index(["repeat", "model", "estimator"]).test_score[(1, "b", "doc")] == truth
    assert est.default == E.DEFAULT_ESTIMATOR
    assert set(est.summary.index.get_level_values("estimator")) == set(E.ESTIMATORS)


def test_estimate_scores_notes_other_metrics_and_a_poor_line():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage(metric="log_loss", poor=True)
    est = S.estimate_scores(plan, splits, fits, n_boot=0)
    groups = {k: S._group_predictions(plan, splits, fits, k, []) for k in splits.parts}
    r2 = E.estimate_accuracies(groups, n_boot=0)[1]["lines"]["s"]["r2"]
    assert r2 < E.POOR_FIT_R2
    # The metric is the engine's business (it refuses to estimate anything but accuracy).
    assert est.notes == [f"s: the agreement line fits poorly (R^2 {r2:.2f}); estimates are less reliable"]


def test_estimate_scores_without_a_line_or_labels():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage(models=("a",), labeled=False)
    est = S.estimate_scores(plan, splits, fits, n_boot=0)
    assert est.notes == [] and est.lines == {"s": None} and est.summary.empty and "test_score" not in est.table


def test_estimate_scores_notes_a_failing_part_and_goes_on():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    fits.predictions[("s", 0, "b")].val_proba = np.ones((5, 3)) / 3  # cannot be stacked with model a's
    est = S.estimate_scores(plan, splits, fits, n_boot=0)
    assert len(est.notes) == 1 and est.notes[0].startswith("s, repeat 0: no estimates (ValueError: ")
    assert set(est.table.repeat) == {1}


def test_estimate_scores_errors():
    from types import SimpleNamespace as NS

    from splitters.estimation import stage as S

    plan, splits, _ = _stage()
    with pytest.raises(ValueError, match=re.escape("no predictions to estimate from: run fit_models(..., "
                                                   "keep_predictions=True)") + "$"):
        S.estimate_scores(plan, splits, NS(predictions={}))
    other = NS(predictions={("other", 0, "a"): None})
    with pytest.raises(ValueError, match=r"^no model of any strategy has predictions to estimate from$"):
        S.estimate_scores(plan, splits, other)


def _scored_table():
    return pd.DataFrame({"strategy": "r", "repeat": [0, 0, 0, 1, 1, 1] * 2, "model": list("abcabc") * 2,
                         "estimator": ["doc"] * 6 + ["atc_maxprob"] * 6, "val_score": 0.9,
                         "estimate": [0.5, 0.7, 0.6, 0.5, 0.8, np.nan, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7],
                         "lo": [0.4, 0.6, 0.5, 0.45, 0.7, np.nan, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6],
                         "hi": [0.6, 0.8, 0.6, 0.55, 0.9, np.nan, 0.7, 0.7, 0.7, 0.8, 0.8, 0.8],
                         "test_score": [0.6, 0.62, 0.8, 0.75, 0.7, 0.65, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7]})


def test_summarise_estimates_by_hand():
    from splitters.estimation import stage as S

    t = _scored_table()
    unestimated = t[(t.repeat == 0) & (t.estimator == "doc")].assign(repeat=2, estimate=np.nan, lo=np.nan, hi=np.nan)
    s = S.summarise_estimates(pd.concat([t, unestimated]).assign(ess=np.nan))
    assert list(s.index) == [("r", "doc"), ("r", "atc_maxprob")]  # in the table's order
    doc = s.loc[("r", "doc")]
    # errors -0.1, 0.08, -0.2, -0.25, 0.1 (the NaN row left out); a0's hi 0.6 = its test score counts
    # as covered, so does b1's lo 0.7; c0, a1 and the NaN interval do not cover
    assert doc.mae == pytest.approx(0.146) and doc.bias == pytest.approx(-0.074)
    assert doc.coverage == pytest.approx(3 / 9) and doc.width == pytest.approx((0.2 + 0.2 + 0.1 + 0.1 + 0.2) / 5)
    # repeat 0: estimated order a < c < b, true a < b < c (Spearman 0.5), b shipped where c (0.8) was
    # best; repeat 1 (c unestimated): b estimated above a but a is better (-1), shipping b costs 0.05
    # (repeat 2, nothing estimated, has neither)
    assert doc.spearman == pytest.approx((0.5 - 1.0) / 2)
    assert doc.regret == pytest.approx((0.18 + 0.05) / 2)
    atc = s.loc[("r", "atc_maxprob")]
    assert np.isnan(atc.spearman) and atc.regret == pytest.approx(0.0) and atc.coverage == 1.0


def test_model_estimates_and_model_to_ship_messages():
    S = E

    t = _scored_table()
    with pytest.raises(ValueError, match=re.escape("no estimates for strategy 'x' and estimator 'doc'; estimators: "
                                                   "['atc_maxprob', 'doc'], strategies: ['r']") + "$"):
        S.model_estimates(t, "x", "doc")
    t2 = t.assign(test_score=np.nan)  # unlabeled: test scores NaN do not hide the estimates
    assert S.model_to_ship(t2, "r", "doc")["model"] == "b"
    # Without estimates, validation's pick is shipped, marked as having no estimate to act on.
    ship = S.model_to_ship(t.assign(estimate=np.nan), "r", "doc")
    assert (ship["basis"], ship["reliable"]) == ("validation", False)
    with pytest.raises(ValueError, match=re.escape("no model of strategy 'r' has a validation score to ship by") + "$"):
        S.model_to_ship(t.assign(val_score=np.nan), "r", "doc")


def test_doc_uses_each_target_rows_own_confidence():
    pv = np.array([[0.9, 0.1], [0.7, 0.3]])
    pt = np.array([[0.6, 0.4], [0.2, 0.8], [0.5, 0.5]])  # mean max-probability (0.6 + 0.8 + 0.5) / 3
    assert E.doc(pv, np.array([0, 1]), pt) == pytest.approx(0.5 - (0.8 - 1.9 / 3))


def test_aline_s_applies_the_fitted_line_to_each_validation_accuracy():
    rng = np.random.default_rng(22)
    y, P = _zoo(rng)
    _, Pt = _zoo(rng, accs=(0.4, 0.6, 0.62, 0.8, 0.82))
    (s,), fit = E.agreement_on_the_line([P], [y], [Pt], method="s")
    acc = (P.argmax(2) == y).mean(1)
    np.testing.assert_allclose(s, ndtr(fit.slope * ndtri(acc) + fit.bias))


@pytest.mark.parametrize("pv, pt", [((2, 3, 2), (2, 2)), ((2, 3), (2, 3, 2))])
def test_agreement_on_the_line_names_the_group_with_a_bad_shape(pv, pt):
    with pytest.raises(ValueError, match=r"^group 0: proba_val must be"):
        E.agreement_on_the_line([np.ones(pv)], [np.zeros(3, int)], [np.ones(pt)])


def test_probabilities_that_are_not_numbers_are_a_clear_error():
    with pytest.raises(ValueError, match=r"^proba_val contains NaN or infinite values$"):
        E.doc(np.array([[0.5, None], [0.5, 0.5]], dtype=object), np.zeros(2, int), np.ones((2, 2)) / 2)


def test_bootstrap_widens_the_agreement_intervals():
    g = {("s", 0): _shifted_group()}
    still, _ = E.estimate_accuracies(g, n_boot=0)
    boot, _ = E.estimate_accuracies(g, n_boot=10)
    for e in ("aline_s", "aline_d", "aline_kappa"):
        w0 = (still.hi - still.lo)[still.estimator == e].to_numpy()
        w1 = (boot.hi - boot.lo)[boot.estimator == e].to_numpy()
        clipped = ((still.lo == 0) & (still.hi == 1))[still.estimator == e].to_numpy()  # [0, 1] cannot widen
        assert (w1 >= w0 - 1e-12).all() and (w1[~clipped] > w0[~clipped] + 1e-6).all(), e


def test_plausible_median_falls_back_per_model_to_its_own_estimators():
    point = {e: [np.array([0.9, 0.3])] for e in E.ESTIMATORS}
    point["aline_s"] = point["aline_d"] = point["aline_kappa"] = [np.array([np.nan, np.nan])]
    np.testing.assert_allclose(I.plausible_median(point, 0), [0.9, 0.3])


def test_density_ratio_trains_on_at_most_20000_target_rows_by_default():
    rng = np.random.default_rng(23)
    Xv, Xt = rng.normal(size=(50, 1)), rng.normal(size=(20001, 1)) + 0.5
    np.testing.assert_array_equal(E.density_ratio(Xv, Xt), E.density_ratio(Xv, Xt, max_rows=20000))


def test_estimate_scores_draws_50_replicates_by_default():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    pd.testing.assert_frame_equal(S.estimate_scores(plan, splits, fits).table,
                                  S.estimate_scores(plan, splits, fits, n_boot=50).table)


def test_density_ratio_of_a_certain_domain_classifier_stays_finite(monkeypatch):
    # A classifier that says p(target) = 0 or 1 exactly: the probabilities are clipped to
    # [1e-6, 1 - 1e-6], so the weights are the two odds 1e-6 / (1 - 1e-6) and its inverse, normalised.
    import sklearn.linear_model

    class Certain:
        def __init__(self, **kw):
            pass

        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            p = (X[:, 0] > 0).astype(float)
            return np.column_stack([1 - p, p])

    monkeypatch.setattr(sklearn.linear_model, "LogisticRegression", Certain)
    Xv = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    w = E.density_ratio(Xv, np.array([[1.0], [3.0], [-1.0], [4.0]]))
    odds = np.array([1e-6 / (1 - 1e-6), (1 - 1e-6) / 1e-6] * 2)
    np.testing.assert_allclose(w, odds / odds.mean())


def test_a_line_at_exactly_the_poor_fit_r2_counts_as_good(monkeypatch):
    calls = []

    def fit(v, t, var_ratio=None):
        calls.append(var_ratio)
        return E.LineFit(1.0, 0.0, E.POOR_FIT_R2, 0.1, len(v))

    monkeypatch.setattr(A, "fit_agreement_line", fit)
    A._kappa_line(np.array([0.6, 0.7]), np.array([0.6, 0.7]), np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    assert calls == [None, 2.0]  # least squares first, then Deming with the variance ratio


def test_estimate_scores_says_nothing_about_a_line_at_exactly_the_poor_fit_r2(monkeypatch):
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    real = S.estimate_accuracies

    def at_the_bar(groups, **kw):
        table, info = real(groups, **kw)
        info["lines"]["s"]["r2"] = E.POOR_FIT_R2
        return table, info

    monkeypatch.setattr(S, "estimate_accuracies", at_the_bar)
    assert S.estimate_scores(plan, splits, fits, n_boot=0).notes == []


# ---------------------------------------------------------------------------------------------
# the line floor: how close an estimator that applies one probit line could come, given the test labels


def _floor_table(v, t, strategy="random", estimators=("doc", "aline_kappa")):
    rows = [{"strategy": strategy, "repeat": i % 2, "model": f"m{i}", "estimator": e, "val_score": a, "test_score": b}
            for i, (a, b) in enumerate(zip(v, t)) for e in estimators]
    return pd.DataFrame(rows)


def test_line_floor_is_zero_when_test_scores_lie_on_a_probit_line():
    from splitters.estimation import line_floor

    z = np.array([-0.5, 0.0, 0.4, 0.9, 1.3, 2.0])
    floor = line_floor(_floor_table(ndtr(z), ndtr(0.7 * z - 0.4)))
    assert list(floor.index) == ["random"] and floor["random"] < 1e-6


def test_line_floor_leaves_only_the_model_off_the_line():
    # Five models on a probit line and one a point below it: the best line keeps the five exact,
    # so the floor is that one point over six models (a line that moved to meet it would err on
    # the five instead).
    from splitters.estimation import line_floor

    z = np.array([-0.5, 0.0, 0.4, 0.9, 1.3, 2.0])
    t = ndtr(0.7 * z - 0.4)
    t[3] -= 0.01
    assert line_floor(_floor_table(ndtr(z), t))["random"] == pytest.approx(0.01 / 6, abs=1e-6)


def test_line_floor_is_no_worse_than_the_least_squares_probit_line_and_is_per_strategy():
    from splitters.estimation import line_floor

    rng = np.random.default_rng(3)
    z = rng.normal(0.8, 0.5, 21)
    v, t = ndtr(z), ndtr(0.6 * z - 0.3 + rng.normal(0, 0.15, 21))
    s, b = np.polyfit(z, ndtri(t), 1)
    table = pd.concat([_floor_table(v, t, "random"), _floor_table(v, ndtr(z), "tail")])
    floor = line_floor(table)
    assert floor["random"] <= np.mean(np.abs(ndtr(s * z + b) - t)) + 1e-12
    assert floor["random"] > 0.005 and floor["tail"] < 1e-6


def test_line_floor_of_one_validation_score_is_the_median_and_of_two_models_zero():
    from splitters.estimation import line_floor

    same_x = line_floor(_floor_table([0.8, 0.8, 0.8], [0.6, 0.7, 0.9]))["random"]
    assert same_x == pytest.approx((0.1 + 0 + 0.2) / 3, abs=1e-6)  # the median, 0.7, is the best constant
    assert line_floor(_floor_table([0.7, 0.9], [0.5, 0.6]))["random"] == pytest.approx(0.0, abs=1e-7)


def test_line_floor_needs_its_columns_and_one_comparison_at_a_time():
    from splitters.estimation import line_floor

    with pytest.raises(ValueError, match="test_score"):
        line_floor(_floor_table([0.7, 0.9], [0.5, 0.6]).drop(columns="test_score"))
    with pytest.raises(ValueError, match="chance_val"):
        line_floor(_floor_table([0.7, 0.9], [0.5, 0.6]), kappa=True)
    two_seeds = pd.concat([_floor_table([0.7, 0.9, 0.8], [0.5, 0.6, 0.7]), _floor_table([0.7, 0.9, 0.8], [0.5, 0.6, 0.6])])
    with pytest.raises(ValueError, match="model 'm2' disagree on val_score, test_score: one comparison"):
        line_floor(two_seeds)


def test_line_floor_counts_each_fit_once_and_leaves_out_missing_scores():
    # m3 is listed under five estimators and m0 under one: a floor that weighted rows instead of
    # fits would bend the line toward m3; a NaN test score (a failed fit) must not count either.
    from splitters.estimation import line_floor

    z = np.array([-0.5, 0.0, 0.4, 0.9, 1.3, 2.0])
    t = ndtr(0.7 * z - 0.4)
    t[3] -= 0.01
    table = _floor_table(ndtr(z), t, estimators=("doc",))
    extra = pd.concat([table[table.model == "m3"]] * 4).assign(estimator="atc_maxprob")
    failed = table.iloc[:1].assign(model="m9", val_score=0.5, test_score=np.nan)
    assert line_floor(pd.concat([table, extra, failed]))["random"] == pytest.approx(0.01 / 6, abs=1e-6)


def test_line_floor_escapes_the_local_minimum_a_least_squares_start_falls_into():
    # Found by review: from the least-squares line alone, Nelder-Mead stops at 0.10928.
    from splitters.estimation import line_floor

    v = [0.39095645, 0.28440199, 0.15393165, 0.47628206, 0.06843629, 0.12634244, 0.00234221, 0.19045051]
    t = [0.20039779, 0.28580019, 0.03978729, 0.25063847, 0.00995388, 0.02834359, 0.73524878, 0.05741677]
    assert line_floor(_floor_table(v, t, estimators=("doc",)))["random"] == pytest.approx(0.107607, abs=2e-6)


def test_line_floor_in_kappa_space_adds_each_models_chance_back():
    # Target accuracies built exactly as aline_kappa builds its estimate from a line in kappa space,
    # with chance terms that differ per model: the kappa floor is zero, the accuracy floor is not.
    from splitters.estimation import line_floor

    rng = np.random.default_rng(1)
    e_v, e_t = rng.uniform(0.08, 0.12, 8), rng.uniform(0.1, 0.45, 8)
    v = rng.uniform(0.55, 0.9, 8)
    t = e_t + ndtr(0.8 * ndtri((v - e_v) / (1 - e_v)) - 0.7) * (1 - e_t)
    table = _floor_table(v, t, estimators=("aline_kappa",)).assign(chance_val=e_v, chance_target=e_t)
    assert line_floor(table, kappa=True)["random"] < 1e-6
    assert line_floor(table)["random"] > 0.01


def test_estimate_scores_gives_aline_kappa_its_chance_accuracies():
    from splitters.estimation import stage as S

    plan, splits, fits = _stage()
    est = S.estimate_scores(plan, splits, fits, n_boot=0)
    g = S._group_predictions(plan, splits, fits, ("s", 1), [])
    pv, pt = g.proba_val.argmax(axis=2), g.proba_target.argmax(axis=2)
    shares = np.bincount(g.y_val, minlength=pv.max() + 1) / len(g.y_val)
    m = g.models.index("b")
    row = est.table.set_index(["repeat", "model", "estimator"]).loc[(1, "b", "aline_kappa")]
    n = len(shares)
    assert row.chance_val == pytest.approx(np.bincount(pv[m], minlength=n)[:n] / pv.shape[1] @ shares)
    assert row.chance_target == pytest.approx(np.bincount(pt[m], minlength=n)[:n] / pt.shape[1] @ shares)
    assert est.table.loc[est.table.estimator != "aline_kappa", ["chance_val", "chance_target"]].isna().all().all()


def _bench():
    from helpers import load_script

    return load_script("benchmarks/bench_estimates")


def test_bench_estimates_rescores_a_saved_run_with_the_line_floor(tmp_path):
    import json

    from splitters.estimation import line_floor

    rng = np.random.default_rng(0)
    rows = []
    for scenario, drop in (("none", 0.0), ("rotate:15", 0.2)):
        for seed in (0, 1):
            for repeat in range(2):
                for model, acc in (("a", 0.7), ("b", 0.8), ("c", 0.9)):
                    val = acc + rng.normal(0, 0.01)
                    test = val - drop + rng.normal(0, 0.02)
                    for e in E.ESTIMATORS:
                        est = val - drop * (e != "validation")
                        chance = (0.1, 0.1 + drop * acc) if e == "aline_kappa" else (None, None)
                        rows.append({"strategy": "random", "repeat": repeat, "model": model, "estimator": e,
                                     "val_score": val, "estimate": est, "lo": est - 0.05, "hi": est + 0.05,
                                     "chance_val": chance[0], "chance_target": chance[1],
                                     "test_score": test, "seed": seed, "scenario": scenario})
    saved = tmp_path / "saved.json"
    args = {"data_dir": "x", "seeds": [0, 1], "scenarios": ["none", "rotate:15"], "pool": 100, "val_size": 20,
            "repeats": 2, "n_jobs": 1, "out": "elsewhere"}
    saved.write_text(json.dumps({"args": args, "seconds": 90.0, "estimates": rows}))
    out = tmp_path / "out"
    assert _bench().main(["--rescore", str(saved), "--out", str(out)]) == 0
    text = (out / "estimates.md").read_text()
    assert "Run time 1.5 min" in text and "| aline_kappa | line floor* | kappa line floor* |" in text
    table = pd.DataFrame(rows)

    def floor(scenario, kappa):
        part = table[table.scenario == scenario]
        return 100 * np.mean([line_floor(g, kappa=kappa)["random"] for _, g in part.groupby("seed")])

    expect = {"rotate:15": (floor("rotate:15", False), floor("rotate:15", True)),
              "none": (floor("none", False), floor("none", True))}
    expect["mean (shifted)"] = expect["rotate:15"]
    expect["mean (all)"] = tuple((a + b) / 2 for a, b in zip(expect["rotate:15"], expect["none"]))
    assert abs(expect["rotate:15"][0] - expect["rotate:15"][1]) > 0.02  # the two columns differ here
    for label, (plain, kappa) in expect.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        assert row.endswith(f"| {plain:.1f} | {kappa:.1f} |")
    assert text.count("kappa line floor") == 1 and "below which `aline_kappa` cannot go" in text  # MAE only
    written = json.loads((out / "estimates.json").read_text())
    assert written["line_floor"]["rotate:15"] == pytest.approx({"line floor*": expect["rotate:15"][0],
                                                                "kappa line floor*": expect["rotate:15"][1]})
    assert pd.DataFrame(written["estimates"]).equals(table)
    assert (out / "estimated_vs_true.png").stat().st_size > 0


def test_bench_estimates_rescore_names_a_file_it_cannot_read(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit, match=re.escape("bad.json: not an estimates.json")):
        _bench().main(["--rescore", str(bad), "--out", str(tmp_path)])
