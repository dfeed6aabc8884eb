"""What the estimators read: one validation part's predictions, checked, and their compact view.

:class:`GroupPredictions` is the input of :func:`splitters.estimation.estimate_accuracies`;
:class:`Compact` is what every rule of :data:`splitters.estimation.ESTIMATORS` computes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONFIDENCE_SCORES = ("maxprob", "negentropy")


def check_proba(p, name: str) -> np.ndarray:
    """``p`` as a finite 2-D float array of class probabilities (rows x at least 2 classes).

    Parameters
    ----------
    p : array-like of shape (n_rows, n_classes)
    name : str
        How the error message calls it.

    Returns
    -------
    ndarray of float

    Raises
    ------
    ValueError
        On another shape, no rows, fewer than 2 classes, or NaN / infinite values.

    Examples
    --------
    >>> check_proba([[0.2, 0.8]], "proba").dtype
    dtype('float64')
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"{name} must be a 2-D array of class probabilities (rows x classes, at least 2 classes), "
                         f"got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return p


def probability_problem(proba, atol: float = 1e-3) -> str | None:
    """What is wrong with a model's class probabilities, or None when nothing is.

    Parameters
    ----------
    proba : array-like of shape (n_rows, n_classes)
        One model's ``predict_proba`` output.
    atol : float, default=1e-3
        How far a row's sum may stray from 1 (float32 models round).

    Returns
    -------
    str or None
        One plain phrase naming the fault (NaN or infinite values, negative values, rows that do
        not sum to 1), or None.

    Examples
    --------
    >>> probability_problem([[0.2, 0.8], [0.5, 0.5]]) is None
    True
    >>> probability_problem([[np.nan, 1.0]])
    'NaN or infinite probabilities (1 of 2 values)'
    >>> probability_problem([[0.7, 0.7]])
    'rows that do not sum to 1 (1 of 1 rows; the worst sums to 1.4)'
    """
    p = np.asarray(proba, dtype=float)
    bad = ~np.isfinite(p)
    if bad.any():
        return f"NaN or infinite probabilities ({int(bad.sum())} of {p.size} values)"
    if (p < -atol).any():
        return f"negative probabilities ({int((p < -atol).sum())} of {p.size} values; the lowest is {p.min():.3g})"
    off = np.abs(p.sum(axis=1) - 1)
    if (off > atol).any():
        worst = p.sum(axis=1)[off.argmax()]
        return f"rows that do not sum to 1 ({int((off > atol).sum())} of {len(p)} rows; the worst sums to {worst:.3g})"
    return None


def check_inputs(proba_val, y_val, proba_target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One model's ``(proba_val, y_val, proba_target)``, checked against each other.

    Parameters
    ----------
    proba_val : array-like of shape (n_val, n_classes)
    y_val : array-like of shape (n_val,)
        Class indices (columns of ``proba_val``).
    proba_target : array-like of shape (n_target, n_classes)

    Returns
    -------
    proba_val, y_val, proba_target : ndarray

    Raises
    ------
    ValueError
        When the class counts differ, ``y_val`` has the wrong length or holds no class index.

    Examples
    --------
    >>> [a.shape for a in check_inputs([[0.9, 0.1]], [0], [[0.5, 0.5], [0.4, 0.6]])]
    [(1, 2), (1,), (2, 2)]
    """
    pv = check_proba(proba_val, "proba_val")
    pt = check_proba(proba_target, "proba_target")
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


@dataclass
class GroupPredictions:
    """The predictions of one validation part (one strategy and repeat) of a comparison.

    ``proba_val``: (n_models, n_val, n_classes) probabilities on the validation rows; ``y_val``:
    their labels as class indices; ``proba_target``: (n_models, n_target, n_classes) on the target
    rows; ``weights``: the validation rows' density ratios (see
    :func:`splitters.estimation.density_ratio`), or None; ``models``: their names.

    Examples
    --------
    >>> g = GroupPredictions(np.full((2, 3, 2), 0.5), np.array([0, 1, 1]), np.full((2, 4, 2), 0.5))
    >>> g.proba_target.shape, g.models
    ((2, 4, 2), [])
    """

    proba_val: np.ndarray
    y_val: np.ndarray
    proba_target: np.ndarray
    weights: np.ndarray | None = None
    models: list[str] = field(default_factory=list)


@dataclass
class Compact:
    """What the estimators need from one group, per model: predictions and confidences.

    ``correct``, ``pred_val``: (n_models, n_val); ``pred_t``: (n_models, n_target); ``conf_val``,
    ``conf_t``: per score of :data:`CONFIDENCE_SCORES`, the rows' confidences; ``weights``: the
    validation rows' importance weights (all 1 without a domain classifier).

    Examples
    --------
    >>> c = compact(GroupPredictions(np.array([[[0.8, 0.2], [0.3, 0.7]]]), np.array([0, 0]), np.full((1, 3, 2), 0.5)))
    >>> c.correct.tolist(), c.take(np.array([0, 0]), np.array([1])).correct.tolist()
    ([[True, False]], [[True, True]])
    """

    correct: np.ndarray  # (M, n_val) bool
    pred_val: np.ndarray  # (M, n_val)
    pred_t: np.ndarray  # (M, n_t)
    y_val: np.ndarray
    n_classes: int
    conf_val: dict[str, np.ndarray]  # score -> (M, n_val)
    conf_t: dict[str, np.ndarray]
    weights: np.ndarray

    def take(self, iv: np.ndarray, it: np.ndarray) -> Compact:
        """The same group on the validation rows ``iv`` and target rows ``it`` (a bootstrap draw)."""
        return Compact(self.correct[:, iv], self.pred_val[:, iv], self.pred_t[:, it], self.y_val[iv], self.n_classes,
                       {k: v[:, iv] for k, v in self.conf_val.items()},
                       {k: v[:, it] for k, v in self.conf_t.items()}, self.weights[iv])


def compact(g: GroupPredictions) -> Compact:
    """The compact view of ``g``: predicted classes, correctness and confidences per model.

    Parameters
    ----------
    g : GroupPredictions

    Returns
    -------
    Compact

    Examples
    --------
    >>> c = compact(GroupPredictions(np.array([[[0.8, 0.2]]]), np.array([0]), np.array([[[0.4, 0.6]]])))
    >>> c.pred_t.tolist(), c.conf_t["maxprob"].tolist(), c.weights.tolist()
    ([[1]], [[0.6]], [1.0])
    """
    pv, pt = np.asarray(g.proba_val, dtype=float), np.asarray(g.proba_target, dtype=float)
    pred_val, pred_t = pv.argmax(axis=2), pt.argmax(axis=2)
    conf_val = {s: np.stack([confidence(p, s) for p in pv]) for s in CONFIDENCE_SCORES}
    conf_t = {s: np.stack([confidence(p, s) for p in pt]) for s in CONFIDENCE_SCORES}
    w = np.ones(pv.shape[1]) if g.weights is None else np.asarray(g.weights, dtype=float)
    y = np.asarray(g.y_val)
    return Compact(pred_val == y, pred_val, pred_t, y, pv.shape[2], conf_val, conf_t, w)
