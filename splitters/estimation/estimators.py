"""The label-free estimators, in one table: :data:`ESTIMATORS`, name -> :class:`Estimator`.

Each entry is a vectorised rule: from one validation part's :class:`Compact` predictions it
estimates every model's target accuracy at once (a zoo rule sees every validation part of the
zoo). The engine (:func:`splitters.estimation.estimate_accuracies`) runs the table, rows in table
order; the scalar functions (:func:`validation_score`, :func:`doc`, :func:`atc`,
:func:`importance_weighted`) run one entry on one model, through :func:`per_model`, with the
contract ``estimator(proba_val, y_val, proba_target) -> float``. Adding an estimator is adding an
entry here.

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
    Validation accuracy with each row weighted by the density ratio ``p_target / p_validation``
    (:func:`splitters.estimation.density_ratio`; Sugiyama et al. 2007).
``aline_s``, ``aline_d``, ``aline_kappa`` (the default)
    Agreement-on-the-line and its chance-corrected variant (:mod:`splitters.estimation.agreement`),
    one line per zoo: a comparison with 3 repeats of a 7-model zoo fits it on 63 pairs. Without a
    line ``aline_s`` and ``aline_d`` are NaN and ``aline_kappa`` falls back to ``atc_maxprob``.

How the default was chosen, round by round: ``docs/estimates/history.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.special import ndtr

from .agreement import LineFit, aline, aline_kappa, pair_stats
from .predictions import CONFIDENCE_SCORES, Compact, GroupPredictions, check_inputs, compact

DEFAULT_ESTIMATOR = "aline_kappa"


@dataclass(frozen=True)
class Estimator:
    """One row of :data:`ESTIMATORS`.

    ``rule``: ``rule(group: Compact) -> ndarray (n_models,)``, or with ``zoo=True``
    ``rule(zoo: Zoo) -> list of ndarray`` (one per group; None when it cannot answer, e.g. without
    an agreement line). ``line``: the name of the zoo's line (a key of :attr:`Zoo.lines`) whose
    residual spread widens its intervals. ``family``: one of the agreement-based estimators, whose
    median every interval is measured against. ``fallback``: the estimator whose values stand in
    when a zoo rule cannot answer (otherwise NaN). ``hull``: the estimator whose estimate its
    interval is stretched to reach (:func:`splitters.estimation.reliability.hull_interval`).

    Examples
    --------
    >>> e = Estimator(lambda c: c.correct.mean(axis=1))
    >>> e.zoo, e.line
    (False, None)
    """

    rule: Callable
    zoo: bool = False
    line: str | None = None
    family: bool = False
    fallback: str | None = None
    hull: str | None = None


@dataclass
class Zoo:
    """The groups of one zoo (validation parts scored by the same models) and what its rules share.

    Examples
    --------
    >>> c = compact(GroupPredictions(np.array([[[0.8, 0.2], [0.3, 0.7]]]), np.array([0, 0]), np.full((1, 3, 2), 0.5)))
    >>> Zoo([c]).lines  # one model: no pair, no line
    {}
    """

    groups: list[Compact]

    @cached_property
    def _agreement(self) -> tuple[dict[str, list[np.ndarray]], dict[str, LineFit]]:
        lines: dict[str, LineFit] = {}
        pred_val, pred_t = [c.pred_val for c in self.groups], [c.pred_t for c in self.groups]
        try:
            s, d, lines["aline"] = aline([c.correct.mean(axis=1) for c in self.groups], pair_stats(pred_val, pred_t))
            kappa, lines["aline_kappa"] = aline_kappa(pred_val, [c.y_val for c in self.groups], pred_t,
                                                      self.groups[0].n_classes)
        except ValueError:  # a single model, or models that agree equally everywhere: no line
            return {}, lines
        return {"aline_s": [ndtr(e) for e in s], "aline_d": [ndtr(e) for e in d], "aline_kappa": kappa}, lines

    @property
    def lines(self) -> dict[str, LineFit]:
        """The agreement lines fitted: ``"aline"`` (raw agreement) and ``"aline_kappa"``."""
        return self._agreement[1]

    def agreement(self, name: str) -> list[np.ndarray] | None:
        """The agreement estimator ``name``'s estimates per group, or None without a line."""
        return self._agreement[0].get(name)


def atc_from_scores(s_val: np.ndarray, correct: np.ndarray, s_target: np.ndarray) -> float:
    """ATC's estimate from one model's confidences (see :func:`atc`).

    Parameters
    ----------
    s_val : array of shape (n_val,)
        Confidence of each validation row.
    correct : array of shape (n_val,) of bool
        Whether the model is right on each validation row.
    s_target : array of shape (n_target,)
        Confidence of each target row.

    Returns
    -------
    float

    Examples
    --------
    >>> atc_from_scores(np.array([0.9, 0.6]), np.array([True, False]), np.array([0.95, 0.7, 0.5, 0.4]))
    0.5
    """
    acc = correct.mean()
    t = np.quantile(s_val, 1.0 - acc, method="lower") if acc < 1 else -np.inf
    above_v, tied_v = np.mean(s_val > t), np.mean(s_val == t)
    # The share of validation rows above t must equal acc; the rows tied at t (common for trees,
    # whose probabilities take few values) count for the fraction that makes it so.
    lam = 0.0 if tied_v == 0 else float(np.clip((acc - above_v) / tied_v, 0.0, 1.0))
    return float(np.mean(s_target > t) + lam * np.mean(s_target == t))


def _atc_rule(score: str) -> Callable[[Compact], np.ndarray]:
    def rule(c: Compact) -> np.ndarray:
        return np.array([atc_from_scores(c.conf_val[score][m], c.correct[m], c.conf_t[score][m])
                         for m in range(len(c.correct))])

    return rule


ESTIMATORS: dict[str, Estimator] = {
    "validation": Estimator(lambda c: c.correct.mean(axis=1)),
    "doc": Estimator(lambda c: c.correct.mean(axis=1)
                     - (c.conf_val["maxprob"].mean(axis=1) - c.conf_t["maxprob"].mean(axis=1))),
    "atc_maxprob": Estimator(_atc_rule("maxprob")),
    "atc_negentropy": Estimator(_atc_rule("negentropy")),
    "importance_weighted": Estimator(lambda c: (c.correct * c.weights).sum(axis=1) / c.weights.sum()),
    "aline_s": Estimator(lambda zoo: zoo.agreement("aline_s"), zoo=True, line="aline", family=True),
    "aline_d": Estimator(lambda zoo: zoo.agreement("aline_d"), zoo=True, line="aline", family=True),
    # The default must always answer: without a line it falls back to ATC (max-probability).
    "aline_kappa": Estimator(lambda zoo: zoo.agreement("aline_kappa"), zoo=True, line="aline_kappa", family=True,
                             fallback="atc_maxprob", hull="atc_maxprob"),
}


@dataclass
class Points:
    """Every estimator's point estimates for one zoo: ``values[name][group]`` (n_models,), and the
    zoo's agreement lines (``lines``)."""

    values: dict[str, list[np.ndarray]]
    lines: dict[str, LineFit] = field(default_factory=dict)


def point_estimates(groups: Sequence[Compact]) -> Points:
    """Every estimator of :data:`ESTIMATORS` on the groups of one zoo (accuracy scale).

    Parameters
    ----------
    groups : sequence of Compact
        The zoo's validation parts.

    Returns
    -------
    Points

    Examples
    --------
    >>> c = compact(GroupPredictions(np.array([[[0.8, 0.2], [0.3, 0.7]]]), np.array([0, 0]), np.full((1, 3, 2), 0.5)))
    >>> p = point_estimates([c])
    >>> float(p.values["validation"][0][0]), bool(np.isnan(p.values["aline_s"][0][0])), p.lines
    (0.5, True, {})
    """
    zoo = Zoo(list(groups))
    out: dict[str, list[np.ndarray]] = {}
    for name, e in ESTIMATORS.items():
        values = e.rule(zoo) if e.zoo else [e.rule(c) for c in zoo.groups]
        if values is None:
            values = ([v.copy() for v in out[e.fallback]] if e.fallback
                      else [np.full(len(c.correct), np.nan) for c in zoo.groups])
        out[name] = values
    return Points(out, zoo.lines)


def per_model(name: str, proba_val, y_val, proba_target, weights=None) -> float:
    """The per-model estimator ``name`` of :data:`ESTIMATORS` on one model's predictions.

    Parameters
    ----------
    name : str
        An estimator that needs no zoo (``validation``, ``doc``, ``atc_maxprob``, ...).
    proba_val : array of shape (n_val, n_classes)
        Class probabilities on the validation rows.
    y_val : array of shape (n_val,)
        Validation labels as class indices (columns of ``proba_val``).
    proba_target : array of shape (n_target, n_classes)
        Class probabilities on the target rows.
    weights : array of shape (n_val,), optional
        Density ratios of the validation rows; none: all 1.

    Returns
    -------
    float
        The model's estimated accuracy on the target rows.

    Raises
    ------
    ValueError
        On an unknown or zoo-level ``name``, inputs that do not fit together, or ``weights`` of
        the wrong length, negative or summing to zero.

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> per_model("validation", p, np.array([0, 0]), p)
    0.5
    """
    e = ESTIMATORS.get(name)
    if e is None or e.zoo:
        raise ValueError(f"{name!r} is not a per-model estimator; per-model: "
                         f"{[k for k, v in ESTIMATORS.items() if not v.zoo]}")
    pv, y, pt = check_inputs(proba_val, y_val, proba_target)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(y)} finite non-negative numbers with a positive sum")
    return float(e.rule(compact(GroupPredictions(pv[None], y, pt[None], w)))[0])


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
        The validation accuracy.

    Raises
    ------
    ValueError
        On inputs that do not fit together (see :func:`per_model`).

    Examples
    --------
    >>> validation_score(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), np.array([[1.0, 0.0]]))
    0.5
    """
    return per_model("validation", proba_val, y_val, proba_target)


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
        The estimate; it may leave [0, 1] when confidence drops more than accuracy can.

    Raises
    ------
    ValueError
        As :func:`validation_score`.

    Examples
    --------
    >>> pv = np.array([[0.9, 0.1], [0.1, 0.9]]); pt = np.array([[0.6, 0.4], [0.4, 0.6]])
    >>> round(doc(pv, np.array([0, 1]), pt), 3)
    0.7
    """
    return per_model("doc", proba_val, y_val, proba_target)


def atc(proba_val, y_val, proba_target, score: str = "maxprob") -> float:
    """Average thresholded confidence: the share of target rows whose confidence exceeds the
    threshold that leaves exactly the validation accuracy's share of validation rows above it.

    Parameters
    ----------
    proba_val, y_val, proba_target
        As in :func:`validation_score`.
    score : {"maxprob", "negentropy"}
        The confidence score (see :func:`splitters.estimation.confidence`).

    Returns
    -------
    float
        A share of the target rows.

    Raises
    ------
    ValueError
        On an unknown ``score``, or as :func:`validation_score`.

    Examples
    --------
    >>> pv = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    >>> y = np.array([0, 0, 0, 1])             # 3 of 4 right: threshold between 0.6 and 0.7
    >>> atc(pv, y, np.array([[0.95, 0.05], [0.55, 0.45]]))
    0.5
    """
    if score not in CONFIDENCE_SCORES:
        raise ValueError(f"score must be 'maxprob' or 'negentropy', got {score!r}")
    return per_model(f"atc_{score}", proba_val, y_val, proba_target)


def importance_weighted(proba_val, y_val, proba_target, weights=None) -> float:
    """Importance-weighted validation accuracy: ``sum(w * correct) / sum(w)``.

    Parameters
    ----------
    proba_val, y_val, proba_target
        As in :func:`validation_score`.
    weights : array of shape (n_val,), optional
        Density ratios of the validation rows (see :func:`splitters.estimation.density_ratio`);
        none: all 1.

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
    return per_model("importance_weighted", proba_val, y_val, proba_target, weights)
