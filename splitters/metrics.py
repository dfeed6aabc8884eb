"""Scores (from ``sklearn.metrics``) and the measures of how well validation predicts test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, spearmanr, wasserstein_distance
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss


@dataclass(frozen=True)
class Metric:
    """A score: ``fn(y_true, y_pred_or_proba, classes)``; ``greater_is_better`` orients selection."""

    name: str
    fn: Callable
    needs_proba: bool = False
    greater_is_better: bool = True


def _log_loss(y, proba, classes):
    return log_loss(y, proba, labels=classes)


SCORE_METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", lambda y, p, c: accuracy_score(y, p)),
    "balanced_accuracy": Metric("balanced_accuracy", lambda y, p, c: balanced_accuracy_score(y, p)),
    "macro_f1": Metric("macro_f1", lambda y, p, c: f1_score(y, p, average="macro", labels=c, zero_division=0)),
    "log_loss": Metric("log_loss", _log_loss, needs_proba=True, greater_is_better=False),
}


def get_metric(name: str) -> Metric:
    """The score metric called ``name`` (a key of :data:`SCORE_METRICS`).

    Parameters
    ----------
    name : str
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` or ``log_loss``.

    Returns
    -------
    Metric

    Raises
    ------
    ValueError
        If ``name`` is not a known metric.

    Examples
    --------
    >>> get_metric("log_loss").greater_is_better
    False
    """
    try:
        return SCORE_METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; choose one of {sorted(SCORE_METRICS)}") from None


def gap_stats(val: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """Mean absolute gap |validation - test| and mean signed gap (bias: > 0 means optimistic
    for a higher-is-better score).

    >>> gap_stats(np.array([0.9, 0.8]), np.array([0.7, 0.8]))
    (0.1, 0.1)
    """
    d = np.asarray(val, float) - np.asarray(test, float)
    return round(float(np.abs(d).mean()), 12), round(float(d.mean()), 12)


def rank_agreement(val: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """Spearman and Kendall correlation between the models' validation and test scores.

    >>> [round(v, 3) for v in rank_agreement(np.array([1, 2, 3]), np.array([10, 30, 20]))]
    [0.5, 0.333]
    """
    if len(val) < 2 or np.ptp(val) == 0 or np.ptp(test) == 0:
        return float("nan"), float("nan")
    return float(spearmanr(val, test).statistic), float(kendalltau(val, test).statistic)


def selection_regret(val: np.ndarray, test: np.ndarray, greater_is_better: bool = True) -> float:
    """Test score of the best model on test minus that of the model validation picks (>= 0).

    >>> selection_regret(np.array([0.9, 0.8]), np.array([0.6, 0.7]))
    0.1
    """
    sign = 1.0 if greater_is_better else -1.0
    v, t = sign * np.asarray(val, float), sign * np.asarray(test, float)
    return round(float(t.max() - t[int(np.argmax(v))]), 12)


def distribution_shift(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein distance between two samples of nearest-neighbour distances, divided by the
    median of ``b`` so it does not depend on the feature scale (0: same distribution).

    >>> distribution_shift(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    """
    scale = float(np.median(b)) or 1.0
    return float(wasserstein_distance(a, b) / scale)
