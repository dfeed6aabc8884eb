"""Label-free estimates of a model's accuracy on unlabeled target rows.

Every per-model estimator has one contract, ``estimator(proba_val, y_val, proba_target) -> float``:
class probabilities on the labeled validation rows, their labels, and class probabilities on the
unlabeled target rows; it returns the estimated target accuracy. The zoo-level estimators see all
models at once (:func:`agreement_on_the_line`). :func:`estimate_accuracies` runs them all on the
predictions of a comparison and adds an interval to every estimate.

Estimators
----------
``validation``
    The validation accuracy itself (the baseline every other estimator must beat).
``doc``
    Difference of confidences (Guillory et al. 2021): validation accuracy minus the drop in mean
    max-probability from validation to target.
``atc_maxprob``, ``atc_negentropy``
    Average thresholded confidence (Garg et al. 2022): the confidence threshold above which the
    share of validation rows equals validation accuracy; the estimate is the share of target rows
    above it (ties at the threshold are split in the same proportion on both sides).
``importance_weighted``
    Validation accuracy with each row weighted by the density ratio ``p_target / p_validation`` from
    a cross-fitted logistic domain classifier (Sugiyama et al. 2007); the effective sample size of
    the weights is reported.
``aline_s``, ``aline_d``
    Agreement-on-the-line (Baek et al. 2022): the agreement of model pairs on target against their
    agreement on validation lies on a line in probit space, and the same line maps each model's
    validation accuracy to its target accuracy. ALine-S applies the line; ALine-D solves the pairwise
    system (probit of the pair's mean target accuracy) for every model. Pairs are formed within one
    validation part (one strategy and repeat) and the line is fitted over all repeats of a strategy,
    so a comparison with 3 repeats of a 7-model zoo fits it on 63 pairs.
``aline_kappa`` (the default)
    Our own improvement: chance-corrected agreement-on-the-line. Agreement of a pair and accuracy
    of a model are both replaced by Cohen's kappa (agreement beyond what the models' predicted-class
    shares give by chance) before the probit line is fitted and applied, and the target's chance
    accuracy is added back. Under strong shifts models pile their predictions onto a few classes,
    so raw agreement on target rises by chance and plain ALine over-estimates. Since the second
    round the kappa line is fitted by Deming regression (errors in both variables), the ratio of
    the two axes' error variances taken from the binomial sampling variance of each pair's
    agreement on validation and on target; least squares when the line is poor (R^2 below
    :data:`POOR_FIT_R2`), where Deming's slope is unstable.

The default and how it was chosen
---------------------------------
Two rounds, both on development scenarios only: Fashion-MNIST pools drawn with seeds 100 and 101
(3 repeats x 7 models each), shifts disjoint from the benchmark suite (``scripts/bench_estimates.py``:
seeds 0 and 1; none, rotate:15, rotate:30, thicken:1, thin:1, noise:40, labelshift:0.2,
rotate:15+noise:40, thicken:1+rotate:15). In each round the rule was frozen here before the
benchmark was run once.

Round 1 (dev shifts ``rotate:10``, ``rotate:40``, ``thicken:2``, ``thin:2``, ``noise:20``,
``labelshift:0.5``, ``rotate:10+noise:20``). Frozen rule: the default estimator is
``aline_kappa`` (least-squares line), one estimator, no per-scenario switch and no tuned constant;
it falls back to ``atc_maxprob`` only when no line can be fitted (fewer than two model pairs, or
pairs that all agree equally). Dev MAE over the shifted scenarios (points): ``aline_kappa`` 3.2,
ALine-S 3.9, ALine-D 4.6, ATC max-prob 7.8, ATC neg-entropy 8.4, DoC 11.0, importance-weighted
16.3, validation 18.2; no shift 0.5 (validation 0.8). Averaging ALine with ATC (5.2 to 5.4), the
median of all estimators (6.8) and their minimum (5.2) did worse; a robust (Theil-Sen) fit did worse
(4.5); cross-repeat pairs helped little (3.1). Benchmark result: MAE 0.5 points with no shift, 2.5
over the shifted scenarios (target 2.0, missed), 3.9 in the worst; optimistic by about 3 points
under rotation and thickening; coverage 99% but intervals up to 49 points wide (rotate:30).

Round 2 (after the round-1 benchmark results were seen; dev shifts ``rotate:20``, ``rotate:25``
and ``thicken:2+rotate:10`` added, still disjoint from the benchmark's). What changed: the kappa
line is fitted by Deming regression instead of least squares, and the intervals' misspecification
term measures the distance to the agreement family instead of to all estimators (below). Dev MAE
of ``aline_kappa`` over the 10 shifted dev scenarios, least squares -> Deming: 3.64 -> 3.40 points
(3.20 -> 2.85 over round 1's seven), worst scenario 9.3 -> 7.8 (``thicken:2+rotate:10``), no
shift 0.54 -> 0.52; Deming is better under strong rotation and thickening (``rotate:40`` 7.4 ->
5.4, ``thicken:2`` 7.0 -> 6.4) and worse under mild rotation, where it turns pessimistic
(``rotate:20`` 2.2 -> 3.0, ``rotate:25`` 2.4 -> 3.2, bias -2.5). Tried and rejected on dev (mean
over the 10): orthogonal regression, ratio 1 (3.42; no better, and a constant where the data give
the ratio); least squares weighted by the pairs' sampling variances (3.65); ALine-D in kappa space
(4.02); averaging kappa-ALine with ATC in kappa-probit space (5.22 over all 10, 4.71 over round 1's
seven). Not tried: correcting the line from cross-strategy pairs, because the benchmark (and a
comparison with one strategy) has a single strategy's validation parts, and because the shift
between one strategy's validation part and another's is not the shift to the target.

Frozen rule, round 2 (written 2026-11-27 07:40 UTC, before the round-2 benchmark ran): the
default estimator is ``aline_kappa`` with the Deming-fitted kappa line (least squares below R^2
0.5), no per-scenario switch; fallback to ``atc_maxprob`` as in round 1; 95% intervals from the
bootstrap, the kappa line's residual spread and the distance to the agreement family's median.
Dev coverage of these intervals over all 11 dev scenarios and 462 model fits: 91% (60% at
``thicken:2``, 69% at ``thicken:2+rotate:10``), mean width 15 points (4 with no shift, 32 at
``rotate:40``).

Round-2 benchmark result (run once after the freeze, same seeds and splits as round 1, so the
comparison is direct): ``aline_kappa`` MAE 0.5 points with no shift (round 1: 0.5), **2.7** over
the shifted scenarios (round 1: 2.5; target 2.0, missed again, and worse), 3.9 in the worst
(``thicken:1+rotate:15``; round 1: 3.9). Deming removed most of the optimism (mean bias over the
shifted scenarios +0.3 points, round 1 +0.8; ``rotate:30`` +1.2, round 1 +2.7) but not the error:
MAE improved only under ``thicken:1`` (3.3 -> 3.0) and grew elsewhere (``rotate:30`` 3.3 -> 3.6;
``rotate:15+noise:40`` 3.2 -> 3.7, now pessimistic, bias -2.1, as on dev at ``rotate:20`` and
``rotate:25``). The dev gain did not carry over to the benchmark. The new
intervals: coverage 98% (round 1: 99%), mean width 3.3 points with no shift (3.5), 10.7 for
``thicken:1`` (14), 30.3 for ``rotate:30`` (49).

Round 3 (dev only; written 2026-11-27 09:30 UTC, after the round-2 benchmark results were seen).
Bar for adopting a new rule, set before any candidate was measured: on the 10 shifted dev scenarios
(same seeds, repeats and shifts as round 2) a mean MAE <= 3.05 points (10% better than
``aline_kappa``'s 3.40), a worst scenario no worse than 7.8, no-shift MAE <= 0.6 and dev interval
coverage >= 85%. Candidates, dev MAE over the 10 shifted scenarios / worst scenario / no shift
(points): ``aline_kappa`` 3.40 / 7.8 / 0.52 (the reference); the mean of the agreement family
(``aline_s``, ``aline_d``, ``aline_kappa``) 3.78 / 9.6 / 0.50, its median 3.78 / 9.8 / 0.52;
COT (Lu et al. 2023: the optimal-transport cost between the target probability vectors and the
validation label shares, a capacity-constrained assignment solved through its smoothed dual to
within about 2% of the shares) 15.1 / 24.8 / 10.2,
COT corrected by its validation error 7.14 / 21.5 / 0.52, COTT (its thresholded form, calibrated on
validation like ATC) 6.47 / 15.6 / 0.60; ``aline_kappa`` averaged with COTT 4.05 / 8.7 / 0.47 (in
probit space 4.09), the median of the family and COTT 3.82 / 10.4 / 0.48, the kappa line shifted
by the models' mean probit gap to COTT 3.75 / 7.8 / 0.51 (by half of it 3.36 / 7.1 / 0.51);
the target label shares estimated by BBSE (Lipton et al. 2018) in the kappa chance term 4.73 /
14.4 / 0.52; Scott's pi (pooled shares) as the chance term instead of Cohen's 3.60 / 7.9 / 0.52;
agreement of each model with the other models' majority vote as the line's points 3.85 / 9.7 /
0.54 (raw agreement 4.53 / 12.3 / 0.54); a kappa line per model from the pairs that include it
3.36 / 8.2 / 0.57, averaged with the pooled line 3.32 / 8.0 / 0.52, from the pairs that exclude it
4.03 / 9.4 / 0.54; class-conditional lines (cells: the zoo's majority-vote class, estimates mixed
by the target's cell shares) 5.04 to 10.7 / 14.1 to 26.8; the line fitted only on pairs within the
models' range of validation kappa (no extrapolation) 3.93 / 9.5 / 0.56, a quadratic probit curve
3.69 / 9.3 / 0.60, the mean accuracy under the line's residual scatter 3.41 / 7.7 / 0.52; the
Deming and least-squares lines averaged 3.48 / 8.6 / 0.53; error models fitted to the target
agreements with the error dependence taken from validation (a Gaussian copula with tetrachoric
correlations 12.2 / 22.7 / 1.02; a rank-one kappa model 8.32 to 12.3 / 15.5 to 27.6; the pairs'
error correlation as a covariate of the line, extrapolated to a pair with no shared errors
17.0 / 33.5 / 2.79). None reached 3.05, so the interval coverage of the candidates was not
measured, the rule and the code are unchanged, and the benchmark was not run again. The best
(3.32 to 3.36) combine estimators with an arbitrary weight or lose on the worst scenario. Why the
agreement family stays optimistic under strong shift (``rotate:40``, ``thicken:2``,
``thicken:2+rotate:10``): there the models' true accuracy points lie 0.2 to 0.3 probit below the
pairs' agreement line, most for the strongest validation models (``knn``, ``extra_trees``), which
fail together, so every estimator built on agreement alone inherits the gap; the estimators that
see the gap (COTT, ATC) fail worse on other models (``extra_trees``' coarse probabilities). COT
costs 0.3 to 1.5 s per model and target on one core, beyond the estimation stage's budget once
bootstrapped.

Round 4 (2026-11-27, 12:10 UTC; no new rule, a measured floor). How low can an estimator that
applies one line go at all? ``aline_s`` maps validation accuracy to the estimate through one probit
line per strategy, and ``aline_kappa`` maps validation kappa to target kappa through one line and
adds each model's chance accuracy on target back. Neither can beat the line of its own form fitted
with the test labels to minimise the MAE itself (:func:`splitters.estimation.line_floor`,
in-sample, so optimistic); what is left is how far the models lie off any line. Those floors,
averaged over the shifted scenarios: on the benchmark 1.69 points for ``aline_s``'s lines and 1.70
for ``aline_kappa``'s (against its MAE of 2.67; 1.53 with a line per repeat), 2.8 and 2.9 alone in
``rotate:15+noise:40`` and ``thicken:1+rotate:15``; on the 10 dev scenarios 1.81 for both (against
3.40; measured with the dev harness on the cached dev predictions, outside the repository, like
rounds 1 to 3). To re-measure them the benchmark was run again with the chance accuracies now kept
in the estimates table: every estimate, interval and score came out bit-identical to round 2's.
So the 2.0 target asks a line found without labels to come within 0.3 points of the best line
fitted with them. The floor does not bind ``aline_d`` (3.5, though it beats the floor in 2 of 18
scenario-seed cells) or the estimators that are not lines (DoC, ATC, importance weighting: 6.9 or
worse). Round 4 changes no rule; the benchmark's MAE table now reports both floors.

Intervals
---------
Every estimate gets a two-sided 95% interval, clipped to [0, 1].
``se_boot`` is the bootstrap standard error: validation rows and target rows are resampled with
replacement (``n_boot`` times) and the estimator recomputed from scratch, which measures noise but
not bias. Two label-free terms measure the estimator's own misspecification:

- agreement-on-the-line: the residual standard deviation of the agreement pairs about their
  probit line. The method assumes that accuracies lie on the agreement line; how far agreements,
  which are observed on target, scatter about that line is a measure of how far accuracies will.
- every estimator (these included): its distance to the median of the agreement-based estimators
  (``aline_s``, ``aline_d``, ``aline_kappa``) for that model, the only family that tracked test
  accuracy on the development shifts. Round 1 took the median of all estimators, so estimators
  known to fail under shift (validation, importance weighting) inflated every interval; where no
  line can be fitted, the median of all estimators is still used.

The terms add in quadrature with the bootstrap: ``half = 1.96 * sqrt(se_boot^2 + m_line^2 +
m_dis^2)``, with ``m_line`` the probit residual carried to the accuracy scale around the estimate.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, 500)
>>> p = np.full((500, 3), 0.1); p[np.arange(500), y] = 0.8
>>> float(validation_score(p, y, p)), round(doc(p, y, p), 3), round(atc(p, y, p), 3)
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

ESTIMATORS = (
    "validation",
    "doc",
    "atc_maxprob",
    "atc_negentropy",
    "importance_weighted",
    "aline_s",
    "aline_d",
    "aline_kappa",
)
DEFAULT_ESTIMATOR = "aline_kappa"
Z95 = 1.959963984540054
POOR_FIT_R2 = 0.5  # below this R^2 the agreement line is reported as poor and fitted by least squares
_EPS = 1e-4  # keeps probits finite at accuracies of exactly 0 or 1


# ---------------------------------------------------------------------------------------------
# checks and confidence scores


def _check_proba(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"{name} must be a 2-D array of class probabilities (rows x classes, at least 2 classes), "
                         f"got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return p


def _check_inputs(proba_val, y_val, proba_target):
    pv = _check_proba(proba_val, "proba_val")
    pt = _check_proba(proba_target, "proba_target")
    if pt.shape[1] != pv.shape[1]:
        raise ValueError(f"proba_val has {pv.shape[1]} classes but proba_target has {pt.shape[1]}")
    y = np.asarray(y_val)
    if y.ndim != 1 or len(y) != len(pv):
        raise ValueError(f"y_val must be 1-D with one label per row of proba_val ({len(pv)}), got shape {y.shape}")
    if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= pv.shape[1])):
        raise ValueError(f"y_val must hold class indices 0..{pv.shape[1] - 1} (columns of proba_val)")
    return pv, y, pt


def confidence(proba, score: str = "maxprob") -> np.ndarray:
    """A per-row confidence score: ``"maxprob"`` (largest class probability) or ``"negentropy"``
    (minus the entropy of the row, 0 for a one-hot row).

    Parameters
    ----------
    proba : array of shape (n_rows, n_classes)
        Class probabilities.
    score : {"maxprob", "negentropy"}

    Returns
    -------
    ndarray of shape (n_rows,)

    Raises
    ------
    ValueError
        On an unknown ``score``.

    Examples
    --------
    >>> confidence(np.array([[0.5, 0.5], [1.0, 0.0]])).tolist()
    [0.5, 1.0]
    >>> confidence(np.array([[1.0, 0.0]]), "negentropy").tolist()
    [0.0]
    """
    p = np.asarray(proba, dtype=float)
    if score == "maxprob":
        return p.max(axis=1)
    if score == "negentropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    raise ValueError(f"score must be 'maxprob' or 'negentropy', got {score!r}")


# ---------------------------------------------------------------------------------------------
# per-model estimators: (proba_val, y_val, proba_target) -> estimated target accuracy


def validation_score(proba_val, y_val, proba_target) -> float:
    """The baseline: accuracy on the validation rows, whatever the target looks like.

    Parameters
    ----------
    proba_val : array of shape (n_val, n_classes)
        Class probabilities on the validation rows.
    y_val : array of shape (n_val,)
        Validation labels as class indices (columns of ``proba_val``).
    proba_target : array of shape (n_target, n_classes)
        Class probabilities on the target rows (unused).

    Returns
    -------
    float

    Examples
    --------
    >>> validation_score(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), np.array([[1.0, 0.0]]))
    0.5
    """
    pv, y, _ = _check_inputs(proba_val, y_val, proba_target)
    return float(np.mean(pv.argmax(axis=1) == y))


def doc(proba_val, y_val, proba_target) -> float:
    """Difference of confidences: validation accuracy minus (mean max-probability on validation -
    mean max-probability on target).

    Parameters
    ----------
    proba_val, y_val, proba_target
        As in :func:`validation_score`.

    Returns
    -------
    float

    Examples
    --------
    >>> pv = np.array([[0.9, 0.1], [0.1, 0.9]]); pt = np.array([[0.6, 0.4], [0.4, 0.6]])
    >>> round(doc(pv, np.array([0, 1]), pt), 3)
    0.7
    """
    pv, y, pt = _check_inputs(proba_val, y_val, proba_target)
    return float(np.mean(pv.argmax(axis=1) == y) - (pv.max(axis=1).mean() - pt.max(axis=1).mean()))


def _atc_from_scores(s_val: np.ndarray, correct: np.ndarray, s_target: np.ndarray) -> float:
    acc = correct.mean()
    t = np.quantile(s_val, 1.0 - acc, method="lower") if acc < 1 else -np.inf
    above_v, tied_v = np.mean(s_val > t), np.mean(s_val == t)
    # The share of validation rows above t must equal acc; the rows tied at t (common for trees,
    # whose probabilities take few values) count for the fraction that makes it so.
    lam = 0.0 if tied_v == 0 else float(np.clip((acc - above_v) / tied_v, 0.0, 1.0))
    return float(np.mean(s_target > t) + lam * np.mean(s_target == t))


def atc(proba_val, y_val, proba_target, score: str = "maxprob") -> float:
    """Average thresholded confidence: the share of target rows whose confidence exceeds the
    threshold that leaves exactly the validation accuracy's share of validation rows above it.

    Parameters
    ----------
    proba_val, y_val, proba_target
        As in :func:`validation_score`.
    score : {"maxprob", "negentropy"}
        The confidence score (see :func:`confidence`).

    Returns
    -------
    float

    Examples
    --------
    >>> pv = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    >>> y = np.array([0, 0, 0, 1])             # 3 of 4 right: threshold between 0.6 and 0.7
    >>> atc(pv, y, np.array([[0.95, 0.05], [0.55, 0.45]]))
    0.5
    """
    pv, y, pt = _check_inputs(proba_val, y_val, proba_target)
    return _atc_from_scores(confidence(pv, score), pv.argmax(axis=1) == y, confidence(pt, score))


def density_ratio(X_val, X_target, random_state: int = 0, max_rows: int = 20000) -> np.ndarray:
    """Importance weights ``p_target(x) / p_val(x)`` for the validation rows, from a logistic
    domain classifier (validation vs target), cross-fitted on two folds so a row's weight never
    comes from a classifier that saw it; weights average 1.

    Parameters
    ----------
    X_val : array of shape (n_val, n_features)
    X_target : array of shape (n_target, n_features)
    random_state : int
        Seeds the folds and the subsample of target rows.
    max_rows : int
        At most this many target rows train the classifier.

    Returns
    -------
    ndarray of shape (n_val,)

    Raises
    ------
    ValueError
        When the feature counts differ or a side has fewer than 2 rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = density_ratio(rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + [1, 0])
    >>> round(float(w.mean()), 6), bool(w.max() > 2)
    (1.0, True)
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    A, B = np.asarray(X_val, dtype=float), np.asarray(X_target, dtype=float)
    if A.ndim != 2 or B.ndim != 2 or len(A) == 0 or len(B) == 0 or A.shape[1] != B.shape[1]:
        raise ValueError(f"X_val and X_target must be non-empty 2-D arrays with the same columns, "
                         f"got {A.shape} and {B.shape}")
    if min(len(A), len(B)) < 2:
        raise ValueError(f"the domain classifier needs at least 2 rows on each side, got {len(A)} validation "
                         f"and {len(B)} target rows")
    rng = np.random.default_rng(random_state)
    if len(B) > max_rows:
        B = B[rng.choice(len(B), max_rows, replace=False)]
    both = np.concatenate([A, B])
    side = np.r_[np.zeros(len(A)), np.ones(len(B))]
    p = np.empty(len(both))
    for fit, pred in StratifiedKFold(2, shuffle=True, random_state=random_state).split(both, side):
        clf = LogisticRegression(max_iter=1000).fit(both[fit], side[fit])
        p[pred] = clf.predict_proba(both[pred])[:, 1]
    p = np.clip(p[: len(A)], 1e-6, 1 - 1e-6)
    w = p / (1 - p)
    return w / w.mean()


def effective_sample_size(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``: how many unweighted rows the weighted
    average is worth.

    Parameters
    ----------
    weights : array of shape (n,)

    Returns
    -------
    float

    Examples
    --------
    >>> effective_sample_size(np.ones(10)), effective_sample_size(np.r_[1.0, np.zeros(9)])
    (10.0, 1.0)
    """
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / max(float((w**2).sum()), 1e-300))


def importance_weighted(proba_val, y_val, proba_target, weights=None) -> float:
    """Importance-weighted validation accuracy: ``sum(w * correct) / sum(w)``.

    Parameters
    ----------
    proba_val, y_val, proba_target
        As in :func:`validation_score`.
    weights : array of shape (n_val,), optional
        Density ratios of the validation rows (see :func:`density_ratio`); none: all 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``weights`` has the wrong length, is negative or sums to zero.

    Examples
    --------
    >>> pv = np.array([[0.9, 0.1], [0.9, 0.1]])
    >>> importance_weighted(pv, np.array([0, 1]), pv, weights=np.array([3.0, 1.0]))
    0.75
    """
    pv, y, _ = _check_inputs(proba_val, y_val, proba_target)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(y)} finite non-negative numbers with a positive sum")
    return float(np.sum(w * (pv.argmax(axis=1) == y)) / w.sum())


PER_MODEL = {
    "validation": validation_score,
    "doc": doc,
    "atc_maxprob": atc,
    "atc_negentropy": lambda pv, y, pt: atc(pv, y, pt, score="negentropy"),
    "importance_weighted": importance_weighted,
}


# ---------------------------------------------------------------------------------------------
# agreement-on-the-line (zoo level)


def _probit(a) -> np.ndarray:
    return ndtri(np.clip(np.asarray(a, dtype=float), _EPS, 1 - _EPS))


@dataclass
class LineFit:
    """The probit-space line fitted to target-vs-validation agreement of model pairs.

    ``slope``, ``bias``: the line; ``r2``: its coefficient of determination; ``resid_sd``: the
    residual standard deviation of the pairs about it (probit units); ``n_pairs``.
    """

    slope: float
    bias: float
    r2: float
    resid_sd: float
    n_pairs: int


def fit_agreement_line(agree_val, agree_target, var_ratio: float | None = None) -> LineFit:
    """The line ``probit(agree_target) = slope * probit(agree_val) + bias``, by least squares or,
    given ``var_ratio``, by Deming regression (errors in both variables).

    Parameters
    ----------
    agree_val, agree_target : arrays of shape (n_pairs,)
        Share of rows on which each pair of models predicts the same class, on validation and on
        the target rows.
    var_ratio : float, optional
        The ratio of the error variances, target axis over validation axis. None: ordinary least
        squares (only the target axis is noisy); a positive number: Deming regression, which
        treats both axes as noisy (1.0 is orthogonal regression).

    Returns
    -------
    LineFit

    Raises
    ------
    ValueError
        With fewer than 2 pairs, when all pairs agree equally on validation (no line), or on a
        ``var_ratio`` that is not a positive number.

    Examples
    --------
    >>> from scipy.stats import norm
    >>> v = np.array([0.6, 0.7, 0.8, 0.9]); t = norm.cdf(0.5 * norm.ppf(v) - 0.2)
    >>> f = fit_agreement_line(v, t); round(f.slope, 6), round(f.bias, 6), round(f.r2, 6)
    (0.5, -0.2, 1.0)
    >>> f = fit_agreement_line(v, t, var_ratio=1.0); round(f.slope, 6), round(f.bias, 6)
    (0.5, -0.2)
    """
    x, y = _probit(agree_val), _probit(agree_target)
    if len(x) < 2 or np.ptp(x) == 0:
        raise ValueError("agreement-on-the-line needs at least 2 model pairs that agree to different degrees")
    if var_ratio is not None and not (np.isfinite(var_ratio) and var_ratio > 0):
        raise ValueError(f"var_ratio must be a positive number (target over validation error variance), got {var_ratio!r}")
    slope, bias = np.polyfit(x, y, 1) if var_ratio is None else _deming(x, y, float(var_ratio))
    resid = y - (slope * x + bias)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 1.0
    dof = max(len(x) - 2, 1)
    return LineFit(float(slope), float(bias), r2, float(np.sqrt(np.sum(resid**2) / dof)), len(x))


def _deming(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, float]:
    """Deming regression of y on x, ``lam`` the ratio of y's error variance to x's (closed form)."""
    mx, my = x.mean(), y.mean()
    sxx, syy, sxy = np.mean((x - mx) ** 2), np.mean((y - my) ** 2), np.mean((x - mx) * (y - my))
    if sxy == 0:  # uncorrelated axes: no errors-in-variables correction to make
        return 0.0, float(my)
    d = syy - lam * sxx
    slope = (d + np.sqrt(d * d + 4 * lam * sxy * sxy)) / (2 * sxy)
    return float(slope), float(my - slope * mx)


def _probit_kappa_var(agree, chance, n_rows: int) -> np.ndarray:
    """Sampling variance of ``probit(kappa)`` for an observed agreement over ``n_rows`` rows
    (binomial variance of the agreement, carried by the delta method)."""
    k = np.clip(_kappa(agree, chance), _EPS, 1 - _EPS)
    var_k = np.clip(agree * (1 - agree), 1.0 / n_rows, None) / n_rows / np.maximum(1 - chance, 1e-12) ** 2
    return var_k * 2 * np.pi * np.exp(ndtri(k) ** 2)


def _pair_stats(pred_val: Sequence[np.ndarray], pred_target: Sequence[np.ndarray]):
    """Agreement of every within-group model pair: lists of (group, i, j, agree_val, agree_target)."""
    rows = []
    for g, (pv, pt) in enumerate(zip(pred_val, pred_target)):
        for i, j in combinations(range(len(pv)), 2):
            rows.append((g, i, j, float(np.mean(pv[i] == pv[j])), float(np.mean(pt[i] == pt[j]))))
    return rows


def _aline(acc_val: list[np.ndarray], pairs) -> tuple[list[np.ndarray], list[np.ndarray], LineFit]:
    """Both ALine estimates (in probit space) from validation accuracies and pair agreements."""
    av = np.array([p[3] for p in pairs])
    at = np.array([p[4] for p in pairs])
    fit = fit_agreement_line(av, at)
    z = [_probit(a) for a in acc_val]
    s = [fit.slope * zi + fit.bias for zi in z]
    # ALine-D: for each pair, (x_i + x_j) / 2 = probit(agree_t) + slope * ((z_i + z_j) / 2 - probit(agree_v)),
    # solved for the target probits x by least squares, one block per group.
    offsets = np.cumsum([0] + [len(a) for a in acc_val])
    A = np.zeros((len(pairs), offsets[-1]))
    b = np.zeros(len(pairs))
    for k, (g, i, j, agv, agt) in enumerate(pairs):
        A[k, offsets[g] + i] = A[k, offsets[g] + j] = 0.5
        b[k] = _probit(agt) + fit.slope * ((z[g][i] + z[g][j]) / 2 - _probit(agv))
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    d = [x[offsets[g]: offsets[g + 1]] for g in range(len(acc_val))]
    # A group of fewer than 3 models leaves ALine-D underdetermined: fall back to ALine-S there.
    d = [di if len(di) >= 3 else si for di, si in zip(d, s)]
    return s, d, fit


def agreement_on_the_line(
    proba_val: Sequence, y_val: Sequence, proba_target: Sequence, method: str = "d"
) -> tuple[list[np.ndarray], LineFit]:
    """Agreement-on-the-line estimates of every model's target accuracy.

    Parameters
    ----------
    proba_val : sequence of arrays of shape (n_models, n_val_g, n_classes)
        Per group (models that share one validation part), each model's class probabilities on
        that validation part.
    y_val : sequence of arrays of shape (n_val_g,)
        The validation labels of each group (class indices).
    proba_target : sequence of arrays of shape (n_models, n_target, n_classes)
        Per group, each model's class probabilities on the (shared) target rows.
    method : {"s", "d", "kappa"}
        ALine-S (apply the agreement line to each validation accuracy), ALine-D (solve the
        pairwise system) or the chance-corrected line (see :func:`_aline_kappa`).

    Returns
    -------
    estimates : list of arrays of shape (n_models,)
        Per group, the estimated target accuracy of each model.
    fit : LineFit

    Raises
    ------
    ValueError
        On mismatched shapes, fewer than 2 models in every group, or an unknown ``method``.

    Examples
    --------
    A target that is the validation set itself: the line is the identity.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> P = np.stack([np.eye(2)[np.where(rng.random(400) < q, y, 1 - y)] for q in (0.6, 0.75, 0.9)])
    >>> est, fit = agreement_on_the_line([P], [y], [P])
    >>> bool(np.allclose(est[0], (P.argmax(axis=2) == y).mean(axis=1))), round(fit.slope, 3)
    (True, 1.0)
    """
    if method not in ("s", "d", "kappa"):
        raise ValueError(f"method must be 's', 'd' or 'kappa', got {method!r}")
    if not (len(proba_val) == len(y_val) == len(proba_target)) or len(proba_val) == 0:
        raise ValueError("proba_val, y_val and proba_target need one entry per group, and at least one group")
    pred_val, pred_t, acc, ys = [], [], [], []
    for g, (pv, y, pt) in enumerate(zip(proba_val, y_val, proba_target)):
        pv, pt, y = np.asarray(pv), np.asarray(pt), np.asarray(y)
        if pv.ndim != 3 or pt.ndim != 3 or len(pv) != len(pt) or pv.shape[1] != len(y):
            raise ValueError(f"group {g}: proba_val must be (models, rows, classes) with one row per label and "
                             f"proba_target (models, target rows, classes) for the same models; got "
                             f"{pv.shape}, {y.shape}, {pt.shape}")
        pred_val.append(pv.argmax(axis=2))
        pred_t.append(pt.argmax(axis=2))
        acc.append((pred_val[-1] == y).mean(axis=1))
        ys.append(y)
    if method == "kappa":
        return _aline_kappa(pred_val, ys, pred_t, np.asarray(proba_val[0]).shape[2])
    s, d, fit = _aline(acc, _pair_stats(pred_val, pred_t))
    return [ndtr(e) for e in (d if method == "d" else s)], fit


def _marginals(pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Share of rows predicted as each class, per model: (M, n_rows) -> (M, n_classes)."""
    return np.stack([np.bincount(p, minlength=n_classes)[:n_classes] for p in pred]) / pred.shape[1]


def _chance_accuracies(pred_val, y_val, pred_t, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per model, the accuracy its predicted-class shares would give by chance, on validation and
    on target: the dot product of those shares with the validation label shares (the target's
    labels are unknown)."""
    prior = np.bincount(y_val, minlength=n_classes)[:n_classes] / len(y_val)
    return _marginals(pred_val, n_classes) @ prior, _marginals(pred_t, n_classes) @ prior


def _kappa(agree, chance):
    return (agree - chance) / np.maximum(1.0 - chance, 1e-12)


def _kappa_line(kappa_val: np.ndarray, kappa_t: np.ndarray, var_val: np.ndarray, var_t: np.ndarray) -> LineFit:
    """The kappa agreement line: Deming regression with the pairs' mean sampling variances.

    Both axes are estimates from finite rows (validation and target), so the line is fitted with
    errors in both variables, their variance ratio taken from the row counts and agreements. When
    the pairs barely correlate (R^2 below :data:`POOR_FIT_R2`), Deming's slope tends to the reverse
    regression's and blows up, so least squares is kept for such a poor line.
    """
    fit = fit_agreement_line(kappa_val, kappa_t)
    lam = float(np.mean(var_t) / np.mean(var_val)) if len(var_val) and np.mean(var_val) > 0 else np.nan
    if fit.r2 >= POOR_FIT_R2 and np.isfinite(lam) and lam > 0:
        fit = fit_agreement_line(kappa_val, kappa_t, var_ratio=lam)
    return fit


def _aline_kappa(pred_val, y_val, pred_t, n_classes: int) -> tuple[list[np.ndarray], LineFit]:
    """Chance-corrected agreement-on-the-line (our own variant; the default estimator).

    Under a strong shift models tend to pile their predictions onto a few classes, so pairs agree
    on target partly by chance, which plain ALine reads as accuracy. Here agreement and accuracy
    are both replaced by Cohen's kappa before the probit line is fitted and applied: a pair's chance
    agreement is the dot product of the two models' predicted-class shares (on validation, or on
    target), a model's chance accuracy the dot product of its predicted-class shares with the
    validation label shares. The line (see :func:`_kappa_line`) maps validation kappa to target
    kappa, and the estimate adds the chance accuracy on target back: ``acc = e_t + kappa_t * (1 - e_t)``.
    """
    av, at, var_v, var_t = [], [], [], []
    mv = [_marginals(p, n_classes) for p in pred_val]
    mt = [_marginals(p, n_classes) for p in pred_t]
    for g, (pv, pt) in enumerate(zip(pred_val, pred_t)):
        for i, j in combinations(range(len(pv)), 2):
            agree_v, chance_v = np.mean(pv[i] == pv[j]), mv[g][i] @ mv[g][j]
            agree_t, chance_t = np.mean(pt[i] == pt[j]), mt[g][i] @ mt[g][j]
            av.append(_kappa(agree_v, chance_v))
            at.append(_kappa(agree_t, chance_t))
            var_v.append(_probit_kappa_var(agree_v, chance_v, pv.shape[1]))
            var_t.append(_probit_kappa_var(agree_t, chance_t, pt.shape[1]))
    fit = _kappa_line(np.array(av), np.array(at), np.array(var_v), np.array(var_t))
    out = []
    for pv, y, pt in zip(pred_val, y_val, pred_t):
        e_v, e_t = _chance_accuracies(pv, y, pt, n_classes)
        k_t = ndtr(fit.slope * _probit(_kappa((pv == y).mean(axis=1), e_v)) + fit.bias)
        out.append(e_t + k_t * (1 - e_t))
    return out, fit


# ---------------------------------------------------------------------------------------------
# the engine: every estimator, with intervals, on a comparison's predictions


@dataclass
class GroupPredictions:
    """The predictions of one validation part (one strategy and repeat) of a comparison.

    ``proba_val``: (n_models, n_val, n_classes) probabilities on the validation rows; ``y_val``:
    their labels as class indices; ``proba_target``: (n_models, n_target, n_classes) on the target
    rows; ``weights``: the validation rows' density ratios (see :func:`density_ratio`), or None.
    """

    proba_val: np.ndarray
    y_val: np.ndarray
    proba_target: np.ndarray
    weights: np.ndarray | None = None
    models: list[str] = field(default_factory=list)


@dataclass
class _Compact:
    """What the estimators need from one group, per model: predictions and confidences."""

    correct: np.ndarray  # (M, n_val) bool
    pred_val: np.ndarray  # (M, n_val)
    pred_t: np.ndarray  # (M, n_t)
    y_val: np.ndarray
    n_classes: int
    conf_val: dict[str, np.ndarray]  # score -> (M, n_val)
    conf_t: dict[str, np.ndarray]
    weights: np.ndarray

    def take(self, iv: np.ndarray, it: np.ndarray) -> _Compact:
        return _Compact(self.correct[:, iv], self.pred_val[:, iv], self.pred_t[:, it], self.y_val[iv], self.n_classes,
                        {k: v[:, iv] for k, v in self.conf_val.items()},
                        {k: v[:, it] for k, v in self.conf_t.items()}, self.weights[iv])


def _compact(g: GroupPredictions) -> _Compact:
    pv, pt = np.asarray(g.proba_val, dtype=float), np.asarray(g.proba_target, dtype=float)
    pred_val, pred_t = pv.argmax(axis=2), pt.argmax(axis=2)
    conf_val = {s: np.stack([confidence(p, s) for p in pv]) for s in ("maxprob", "negentropy")}
    conf_t = {s: np.stack([confidence(p, s) for p in pt]) for s in ("maxprob", "negentropy")}
    w = np.ones(pv.shape[1]) if g.weights is None else np.asarray(g.weights, dtype=float)
    y = np.asarray(g.y_val)
    return _Compact(pred_val == y, pred_val, pred_t, y, pv.shape[2], conf_val, conf_t, w)


def _point_estimates(groups: list[_Compact]) -> tuple[dict[str, list[np.ndarray]], LineFit | None]:
    """Every estimator's estimate (accuracy scale), per group and model; the agreement line."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in ESTIMATORS}
    for c in groups:
        acc = c.correct.mean(axis=1)
        out["validation"].append(acc)
        out["doc"].append(acc - (c.conf_val["maxprob"].mean(axis=1) - c.conf_t["maxprob"].mean(axis=1)))
        for s in ("maxprob", "negentropy"):
            out[f"atc_{s}"].append(np.array([_atc_from_scores(c.conf_val[s][m], c.correct[m], c.conf_t[s][m])
                                             for m in range(len(acc))]))
        out["importance_weighted"].append((c.correct * c.weights).sum(axis=1) / c.weights.sum())
    fits: dict[str, LineFit | None] = {"aline": None, "aline_kappa": None}
    try:
        s, d, fits["aline"] = _aline([c.correct.mean(axis=1) for c in groups],
                                     _pair_stats([c.pred_val for c in groups], [c.pred_t for c in groups]))
        out["aline_s"], out["aline_d"] = [ndtr(e) for e in s], [ndtr(e) for e in d]
        out["aline_kappa"], fits["aline_kappa"] = _aline_kappa([c.pred_val for c in groups], [c.y_val for c in groups],
                                                               [c.pred_t for c in groups], groups[0].n_classes)
    except ValueError:  # a single model, or models that agree equally everywhere: no line
        for k in ("aline_s", "aline_d"):
            out[k] = [np.full(len(c.correct), np.nan) for c in groups]
        # The default must always answer: without a line it falls back to ATC (max-probability).
        out["aline_kappa"] = [e.copy() for e in out["atc_maxprob"]]
    return out, fits


def estimate_accuracies(
    groups: Mapping[tuple, GroupPredictions],
    *,
    n_boot: int = 100,
    random_state: int = 0,
    zoo_key=lambda key: key[0],
) -> tuple[pd.DataFrame, dict]:
    """Every estimator's estimate of every model's target accuracy, with a 95% interval.

    Parameters
    ----------
    groups : mapping from a key (e.g. ``(strategy, repeat)``) to :class:`GroupPredictions`
        All groups share the same target rows.
    n_boot : int
        Bootstrap replicates for the intervals (0: no bootstrap term).
    random_state : int
        Seeds the bootstrap.
    zoo_key : callable
        Maps a group key to the zoo it belongs to: agreement-on-the-line fits one line per zoo
        (default: per strategy, over its repeats).

    Returns
    -------
    table : DataFrame
        One row per group, model and estimator: the key's parts (``key``), ``model``,
        ``estimator``, ``val_score``, ``estimate``, ``lo``, ``hi``.
    info : dict
        Per zoo: the agreement line (``slope``, ``bias``, ``r2``, ``resid_sd``, ``n_pairs``); per
        group: the effective sample size of the importance weights (``ess``) and each model's chance
        accuracy on validation and on target (``chance``: two arrays; see :func:`_aline_kappa`).

    Raises
    ------
    ValueError
        When groups disagree on the number of target rows or classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> P = np.stack([np.eye(2)[np.where(rng.random(300) < q, y, 1 - y)] * 0.8 + 0.1 for q in (0.6, 0.8, 0.9)])
    >>> t, info = estimate_accuracies({("random", 0): GroupPredictions(P, y, P)}, n_boot=20)
    >>> t[t.estimator == "aline_kappa"].estimate.round(2).tolist() == t[t.estimator == "validation"].estimate.round(2).tolist()
    True
    """
    keys = list(groups)
    if not keys:
        raise ValueError("no predictions to estimate from")
    compact = {k: _compact(groups[k]) for k in keys}
    n_t = {c.pred_t.shape[1] for c in compact.values()}
    if len(n_t) != 1:
        raise ValueError(f"all groups must predict the same target rows, got {sorted(n_t)} rows")
    n_target = n_t.pop()
    zoos: dict = {}
    for k in keys:
        zoos.setdefault(zoo_key(k), []).append(k)
    rng = np.random.default_rng(random_state)
    records, info = [], {"lines": {}, "kappa_lines": {}, "ess": {}, "chance": {}}
    for z, members in zoos.items():
        cs = [compact[k] for k in members]
        point, fits = _point_estimates(cs)
        boots = []
        for _ in range(n_boot):
            it = rng.integers(0, n_target, n_target)
            rs = [c.take(rng.integers(0, c.correct.shape[1], c.correct.shape[1]), it) for c in cs]
            boots.append(_point_estimates(rs)[0])
        info["lines"][z] = None if fits["aline"] is None else fits["aline"].__dict__.copy()
        info["kappa_lines"][z] = None if fits["aline_kappa"] is None else fits["aline_kappa"].__dict__.copy()
        for gi, k in enumerate(members):
            info["ess"][k] = effective_sample_size(cs[gi].weights)
            info["chance"][k] = _chance_accuracies(cs[gi].pred_val, cs[gi].y_val, cs[gi].pred_t, cs[gi].n_classes)
            names = list(groups[k].models) or [f"model{m}" for m in range(len(cs[gi].correct))]
            if len(names) != len(cs[gi].correct):
                raise ValueError(f"group {k!r}: {len(names)} model names for {len(cs[gi].correct)} models")
            median = _plausible_median(point, gi)
            for e in ESTIMATORS:
                est = point[e][gi]
                bs = np.array([b[e][gi] for b in boots]) if boots else np.empty((0, len(est)))
                fit = fits["aline_kappa"] if e == "aline_kappa" else fits["aline"] if e.startswith("aline") else None
                lo, hi = _interval(est, bs, median, fit)
                for m, name in enumerate(names):
                    records.append({"key": k, "model": name, "estimator": e,
                                    "val_score": float(point["validation"][gi][m]),
                                    "estimate": float(est[m]), "lo": float(lo[m]), "hi": float(hi[m])})
    return pd.DataFrame(records), info


AGREEMENT_FAMILY = ("aline_s", "aline_d", "aline_kappa")


def _plausible_median(point: dict[str, list[np.ndarray]], gi: int) -> np.ndarray:
    """Per model, the median of the agreement-based estimators (the plausible ones: the only
    family that tracked test accuracy on the development shifts); where no line could be fitted,
    the median of every estimator."""
    family = np.vstack([point[e][gi] for e in AGREEMENT_FAMILY])
    every = np.vstack([point[e][gi] for e in ESTIMATORS])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        # Without a line aline_kappa is ATC's copy and the family says nothing: use every estimator.
        has_line = np.isfinite(family[:2]).all(axis=0)
        return np.where(has_line, np.nanmedian(family, axis=0), np.nanmedian(every, axis=0))


def _interval(est: np.ndarray, boots: np.ndarray, median: np.ndarray, fit: LineFit | None):
    """``est ± 1.96 sqrt(se_boot^2 + m_line^2 + m_dis^2)``, clipped to [0, 1] (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN estimates give NaN intervals
        se = np.nanstd(boots, axis=0, ddof=1) if len(boots) > 1 else np.zeros(len(est))
        m_dis = np.abs(est - median)
        m_line = np.zeros(len(est))
        if fit is not None:  # the line's residual spread, carried from probit to accuracy scale
            z = _probit(est)
            m_line = (ndtr(z + fit.resid_sd) - ndtr(z - fit.resid_sd)) / 2
        half = Z95 * np.sqrt(np.nan_to_num(se) ** 2 + m_line**2 + m_dis**2)
        return np.clip(est - half, 0, 1), np.clip(est + half, 0, 1)
