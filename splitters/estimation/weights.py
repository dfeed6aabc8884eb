"""Importance weights for the validation rows: the density ratio and its effective sample size."""

from __future__ import annotations

import numpy as np


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

