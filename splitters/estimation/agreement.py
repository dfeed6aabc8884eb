"""Agreement-on-the-line: the probit line through model pairs' agreement, and the estimates it gives.

Agreement-on-the-line (Baek et al. 2022): the agreement of model pairs on target against their
agreement on validation lies on a line in probit space, and the same line maps each model's
validation accuracy to its target accuracy. :func:`aline` gives both estimates: ALine-S applies
the line; ALine-D solves the pairwise system (probit of the pair's mean target accuracy) for every
model. :func:`aline_kappa` is our chance-corrected variant (the default estimator): agreement and
accuracy are replaced by Cohen's kappa before the line is fitted and applied, because under strong
shifts models pile their predictions onto a few classes and agree by chance. Its line is fitted
by Deming regression (both axes are estimates from finite rows), by least squares when the line is
poor (R^2 below :data:`POOR_FIT_R2`). Pairs are formed within one validation part (a group); the
line is fitted over all groups given. How the default was chosen: ``docs/estimates/history.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.special import ndtr, ndtri

POOR_FIT_R2 = 0.5  # below this R^2 the agreement line is reported as poor and fitted by least squares
EPS = 1e-4  # keeps probits finite at accuracies of exactly 0 or 1


def probit(a) -> np.ndarray:
    """The probit (inverse normal CDF) of accuracies or agreements, clipped to [EPS, 1 - EPS] first.

    Parameters
    ----------
    a : array-like
        Shares in [0, 1].

    Returns
    -------
    ndarray of float

    Examples
    --------
    >>> probit([0.5, 1.0]).round(3).tolist()
    [0.0, 3.719]
    """
    return ndtri(np.clip(np.asarray(a, dtype=float), EPS, 1 - EPS))


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
    x, y = probit(agree_val), probit(agree_target)
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
    k = np.clip(kappa(agree, chance), EPS, 1 - EPS)
    var_k = np.clip(agree * (1 - agree), 1.0 / n_rows, None) / n_rows / np.maximum(1 - chance, 1e-12) ** 2
    return var_k * 2 * np.pi * np.exp(ndtri(k) ** 2)


def pair_stats(pred_val: Sequence[np.ndarray], pred_target: Sequence[np.ndarray]) -> list[tuple]:
    """The agreement of every model pair within a group, on validation and on target.

    Parameters
    ----------
    pred_val : sequence of arrays of shape (n_models, n_val_g)
        Per group, each model's predicted classes on its validation rows.
    pred_target : sequence of arrays of shape (n_models, n_target)
        Per group, each model's predicted classes on the target rows.

    Returns
    -------
    list of (group, i, j, agree_val, agree_target)

    Examples
    --------
    >>> pair_stats([np.array([[0, 1], [0, 0]])], [np.array([[1, 1], [1, 1]])])
    [(0, 0, 1, 0.5, 1.0)]
    """
    rows = []
    for g, (pv, pt) in enumerate(zip(pred_val, pred_target)):
        for i, j in combinations(range(len(pv)), 2):
            rows.append((g, i, j, float(np.mean(pv[i] == pv[j])), float(np.mean(pt[i] == pt[j]))))
    return rows


def aline(acc_val: list[np.ndarray], pairs: list[tuple]) -> tuple[list[np.ndarray], list[np.ndarray], LineFit]:
    """Both ALine estimates (in probit space) from validation accuracies and pair agreements.

    Parameters
    ----------
    acc_val : list of arrays of shape (n_models_g,)
        Per group, each model's validation accuracy.
    pairs : list of (group, i, j, agree_val, agree_target)
        As :func:`pair_stats` gives them.

    Returns
    -------
    s, d : lists of arrays of shape (n_models_g,)
        Per group, the ALine-S and ALine-D estimates as probits (``ndtr`` turns them into accuracies).
    fit : LineFit

    Raises
    ------
    ValueError
        When no line can be fitted (see :func:`fit_agreement_line`).

    Examples
    --------
    >>> pairs = [(0, 0, 1, 0.7, 0.6), (0, 0, 2, 0.8, 0.7), (0, 1, 2, 0.9, 0.8)]
    >>> s, d, fit = aline([np.array([0.7, 0.8, 0.9])], pairs)
    >>> fit.n_pairs, bool(np.all(ndtr(s[0]) < [0.7, 0.8, 0.9]))
    (3, True)
    """
    av = np.array([p[3] for p in pairs])
    at = np.array([p[4] for p in pairs])
    fit = fit_agreement_line(av, at)
    z = [probit(a) for a in acc_val]
    s = [fit.slope * zi + fit.bias for zi in z]
    # ALine-D: for each pair, (x_i + x_j) / 2 = probit(agree_t) + slope * ((z_i + z_j) / 2 - probit(agree_v)),
    # solved for the target probits x by least squares, one block per group.
    offsets = np.cumsum([0] + [len(a) for a in acc_val])
    A = np.zeros((len(pairs), offsets[-1]))
    b = np.zeros(len(pairs))
    for k, (g, i, j, agv, agt) in enumerate(pairs):
        A[k, offsets[g] + i] = A[k, offsets[g] + j] = 0.5
        b[k] = probit(agt) + fit.slope * ((z[g][i] + z[g][j]) / 2 - probit(agv))
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
        pairwise system) or the chance-corrected line (see :func:`aline_kappa`).

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
        return aline_kappa(pred_val, ys, pred_t, np.asarray(proba_val[0]).shape[2])
    s, d, fit = aline(acc, pair_stats(pred_val, pred_t))
    return [ndtr(e) for e in (d if method == "d" else s)], fit


def _marginals(pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Share of rows predicted as each class, per model: (M, n_rows) -> (M, n_classes)."""
    return np.stack([np.bincount(p, minlength=n_classes)[:n_classes] for p in pred]) / pred.shape[1]


def chance_accuracies(pred_val, y_val, pred_t, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per model, the accuracy its predicted-class shares would give by chance, on validation and
    on target: the dot product of those shares with the validation label shares (the target's
    labels are unknown).

    Parameters
    ----------
    pred_val : array of shape (n_models, n_val)
        Predicted classes on the validation rows.
    y_val : array of shape (n_val,)
        Validation labels (class indices).
    pred_t : array of shape (n_models, n_target)
        Predicted classes on the target rows.
    n_classes : int

    Returns
    -------
    chance_val, chance_target : arrays of shape (n_models,)

    Examples
    --------
    >>> [c.tolist() for c in chance_accuracies(np.array([[0, 1]]), np.array([0, 0]), np.array([[1, 1]]), 2)]
    [[0.5], [0.0]]
    """
    prior = np.bincount(y_val, minlength=n_classes)[:n_classes] / len(y_val)
    return _marginals(pred_val, n_classes) @ prior, _marginals(pred_t, n_classes) @ prior


def kappa(agree, chance):
    """Cohen's kappa: agreement (or accuracy) beyond ``chance``, as a share of what chance leaves.

    Parameters
    ----------
    agree, chance : float or array-like
        Observed agreement and the agreement expected by chance.

    Returns
    -------
    float or ndarray
        ``(agree - chance) / (1 - chance)``.

    Examples
    --------
    >>> float(kappa(0.75, 0.5))
    0.5
    """
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


def aline_kappa(pred_val, y_val, pred_t, n_classes: int) -> tuple[list[np.ndarray], LineFit]:
    """Chance-corrected agreement-on-the-line (our own variant; the default estimator).

    Under a strong shift models tend to pile their predictions onto a few classes, so pairs agree
    on target partly by chance, which plain ALine reads as accuracy. Here agreement and accuracy
    are both replaced by Cohen's kappa before the probit line is fitted and applied: a pair's chance
    agreement is the dot product of the two models' predicted-class shares (on validation, or on
    target), a model's chance accuracy the dot product of its predicted-class shares with the
    validation label shares. The line (Deming, or least squares when poor) maps validation kappa
    to target kappa, and the estimate adds the chance accuracy on target back:
    ``acc = e_t + kappa_t * (1 - e_t)``.

    Parameters
    ----------
    pred_val : list of arrays of shape (n_models_g, n_val_g)
        Per group, each model's predicted classes on its validation rows.
    y_val : list of arrays of shape (n_val_g,)
        Per group, the validation labels (class indices).
    pred_t : list of arrays of shape (n_models_g, n_target)
        Per group, each model's predicted classes on the target rows.
    n_classes : int

    Returns
    -------
    estimates : list of arrays of shape (n_models_g,)
        Per group, each model's estimated target accuracy.
    fit : LineFit
        The kappa line.

    Raises
    ------
    ValueError
        When no line can be fitted (fewer than 2 pairs, or pairs whose kappas are all equal).

    Examples
    --------
    A target that is the validation set itself: every estimate is the validation accuracy.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> pred = np.stack([np.where(rng.random(400) < q, y, 1 - y) for q in (0.6, 0.75, 0.9)])
    >>> est, fit = aline_kappa([pred], [y], [pred], 2)
    >>> bool(np.allclose(est[0], (pred == y).mean(axis=1)))
    True
    """
    av, at, var_v, var_t = [], [], [], []
    mv = [_marginals(p, n_classes) for p in pred_val]
    mt = [_marginals(p, n_classes) for p in pred_t]
    for g, (pv, pt) in enumerate(zip(pred_val, pred_t)):
        for i, j in combinations(range(len(pv)), 2):
            agree_v, chance_v = np.mean(pv[i] == pv[j]), mv[g][i] @ mv[g][j]
            agree_t, chance_t = np.mean(pt[i] == pt[j]), mt[g][i] @ mt[g][j]
            av.append(kappa(agree_v, chance_v))
            at.append(kappa(agree_t, chance_t))
            var_v.append(_probit_kappa_var(agree_v, chance_v, pv.shape[1]))
            var_t.append(_probit_kappa_var(agree_t, chance_t, pt.shape[1]))
    fit = _kappa_line(np.array(av), np.array(at), np.array(var_v), np.array(var_t))
    out = []
    for pv, y, pt in zip(pred_val, y_val, pred_t):
        e_v, e_t = chance_accuracies(pv, y, pt, n_classes)
        k_t = ndtr(fit.slope * probit(kappa((pv == y).mean(axis=1), e_v)) + fit.bias)
        out.append(e_t + k_t * (1 - e_t))
    return out, fit

