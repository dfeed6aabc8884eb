"""Every estimator's estimate of every model's target accuracy, with a 95% interval.

Every estimate gets a two-sided 95% interval, clipped to [0, 1]:
``half = 1.96 * sqrt(se_boot^2 + m_line^2 + m_dis^2)``.

- ``se_boot``, the bootstrap standard error: validation rows and target rows are resampled with
  replacement (``n_boot`` times) and the estimator recomputed from scratch, which measures noise
  but not bias.
- ``m_line`` (agreement-on-the-line estimators only): the residual standard deviation of the
  agreement pairs about their probit line, carried to the accuracy scale around the estimate. The
  method assumes that accuracies lie on the agreement line; how far agreements, which are observed
  on target, scatter about that line is a measure of how far accuracies will.
- ``m_dis`` (every estimator): its distance to the median of the agreement-based estimators
  (``family`` in :data:`splitters.estimation.ESTIMATORS`) for that model, the only family that
  tracked test accuracy on the development shifts; where no line can be fitted, the median of all
  estimators.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .agreement import LineFit, chance_accuracies, probit
from .estimators import ESTIMATORS, Points, point_estimates
from .predictions import Compact, GroupPredictions, compact
from .reliability import basis_problem, hull_interval
from .weights import effective_sample_size

Z95 = 1.959963984540054


def plausible_median(point: Mapping[str, list[np.ndarray]], gi: int) -> np.ndarray:
    """Per model of group ``gi``, the median of the agreement-based estimators; where no line
    could be fitted, the median of every estimator.

    Parameters
    ----------
    point : mapping from estimator name to a list of arrays of shape (n_models,)
        Point estimates per group (:attr:`Points.values`).
    gi : int
        The group.

    Returns
    -------
    ndarray of shape (n_models,)

    Examples
    --------
    >>> point = {e: [np.array([0.8])] for e in ESTIMATORS}
    >>> point["aline_s"], point["aline_d"], point["aline_kappa"] = [np.array([0.4])], [np.array([0.5])], [np.array([0.6])]
    >>> plausible_median(point, 0).tolist()
    [0.5]
    """
    family = [e for e, v in ESTIMATORS.items() if v.family]
    every = np.vstack([point[e][gi] for e in ESTIMATORS])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        # The members without a fallback are NaN exactly when there is no line; then the family
        # says nothing (the others are copies of other estimators): use every estimator.
        has_line = np.isfinite(np.vstack([point[e][gi] for e in family if ESTIMATORS[e].fallback is None])).all(axis=0)
        return np.where(has_line, np.nanmedian(np.vstack([point[e][gi] for e in family]), axis=0),
                        np.nanmedian(every, axis=0))


def interval(est: np.ndarray, boots: np.ndarray, median: np.ndarray, fit: LineFit | None) -> tuple[np.ndarray, np.ndarray]:
    """``est ± 1.96 sqrt(se_boot^2 + m_line^2 + m_dis^2)``, clipped to [0, 1] (see the module docstring).

    Parameters
    ----------
    est : array of shape (n_models,)
        The estimates.
    boots : array of shape (n_boot, n_models)
        The bootstrap replicates (none: no bootstrap term).
    median : array of shape (n_models,)
        :func:`plausible_median`.
    fit : LineFit or None
        The line whose residual spread widens the interval (None: no line term).

    Returns
    -------
    lo, hi : arrays of shape (n_models,)

    Examples
    --------
    >>> lo, hi = interval(np.array([0.5]), np.empty((0, 1)), np.array([0.6]), None)
    >>> round(float(hi[0] - lo[0]), 4)
    0.392
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN estimates give NaN intervals
        m_dis = np.abs(est - median)
        half = np.sqrt(spread(est, boots, fit) ** 2 + (Z95 * m_dis) ** 2)
        return np.clip(est - half, 0, 1), np.clip(est + half, 0, 1)


def spread(est: np.ndarray, boots: np.ndarray, fit: LineFit | None) -> np.ndarray:
    """``1.96 sqrt(se_boot^2 + m_line^2)``: the estimate's sampling error and its line's scatter.

    Parameters
    ----------
    est : array of shape (n_models,)
    boots : array of shape (n_boot, n_models)
        Bootstrap replicates of ``est`` (fewer than 2: no bootstrap term).
    fit : LineFit or None
        The line whose residual spread counts (None: no line term).

    Returns
    -------
    ndarray of shape (n_models,)

    Examples
    --------
    >>> spread(np.array([0.5]), np.array([[0.4], [0.6]]), None).round(4).tolist()
    [0.2772]
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN estimates give NaN spreads
        se = np.nanstd(boots, axis=0, ddof=1) if len(boots) > 1 else np.zeros(len(est))
        m_line = np.zeros(len(est))
        if fit is not None:  # the line's residual spread, carried from probit to accuracy scale
            z = probit(est)
            m_line = (ndtr(z + fit.resid_sd) - ndtr(z - fit.resid_sd)) / 2
        return Z95 * np.sqrt(np.nan_to_num(se) ** 2 + m_line**2)


def _bootstrap(cs: list[Compact], n_boot: int, n_target: int, rng: np.random.Generator, bar=None) -> list[Points]:
    """``n_boot`` replicates of the zoo's point estimates, target and validation rows resampled."""
    boots = []
    for _ in range(n_boot):
        if bar is not None:
            bar.update(1)
        it = rng.integers(0, n_target, n_target)
        rs = [c.take(rng.integers(0, c.correct.shape[1], c.correct.shape[1]), it) for c in cs]
        boots.append(point_estimates(rs))
    return boots


def _group_records(key, names: list[str], point: Points, boots: list[Points], gi: int) -> list[dict]:
    """The table rows of one group: every model under every estimator, with its interval and
    whether it has a basis (:func:`splitters.estimation.reliability.basis_problem`)."""
    records = []
    median = plausible_median(point.values, gi)
    val = point.values["validation"][gi]
    for e, spec in ESTIMATORS.items():
        est = point.values[e][gi]
        bs = np.array([b.values[e][gi] for b in boots]) if boots else np.empty((0, len(est)))
        fit = point.lines.get(spec.line)
        if spec.hull:
            lo, hi = hull_interval(est, point.values[spec.hull][gi], val, spread(est, bs, fit))
        else:
            lo, hi = interval(est, bs, median, fit)
        problem = basis_problem(len(names), fit) if spec.zoo else None
        if problem:  # no basis: the interval says so
            lo, hi = np.zeros(len(est)), np.ones(len(est))
        for m, name in enumerate(names):
            records.append({"key": key, "model": name, "estimator": e, "val_score": float(val[m]),
                            "estimate": float(est[m]), "lo": float(lo[m]), "hi": float(hi[m]),
                            "reliable": problem is None, "reason": problem or ""})
    return records


def _check_groups(groups: Mapping[tuple, GroupPredictions]) -> tuple[dict, int]:
    """The groups' compact views, and the number of target rows they share."""
    if not groups:
        raise ValueError("no predictions to estimate from")
    compacts = {k: compact(g) for k, g in groups.items()}
    n_t = {c.pred_t.shape[1] for c in compacts.values()}
    if len(n_t) != 1:
        raise ValueError(f"all groups must predict the same target rows, got {sorted(n_t)} rows")
    return compacts, n_t.pop()


def estimate_accuracies(
    groups: Mapping[tuple, GroupPredictions],
    *,
    n_boot: int = 100,
    random_state: int = 0,
    zoo_key: Callable = lambda key: key[0],
    progress: bool = False,
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
    progress : bool, default=False
        Show a progress bar over the bootstrap replicates (tqdm), which take most of the time.

    Returns
    -------
    table : DataFrame
        One row per group, model and estimator: the key's parts (``key``), ``model``,
        ``estimator``, ``val_score``, ``estimate``, ``lo``, ``hi``.
    info : dict
        Per zoo: the agreement lines (``lines``, ``kappa_lines``: ``slope``, ``bias``, ``r2``,
        ``resid_sd``, ``n_pairs``); per group: the effective sample size of the importance weights
        (``ess``) and each model's chance accuracy on validation and on target (``chance``: two
        arrays; see :func:`splitters.estimation.agreement.chance_accuracies`).

    Raises
    ------
    ValueError
        When groups disagree on the number of target rows, or a group's model names do not match
        its models.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> P = np.stack([np.eye(2)[np.where(rng.random(300) < q, y, 1 - y)] * 0.8 + 0.1 for q in (0.6, 0.8, 0.9)])
    >>> t, info = estimate_accuracies({("random", 0): GroupPredictions(P, y, P)}, n_boot=20)
    >>> t[t.estimator == "aline_kappa"].estimate.round(2).tolist() == t[t.estimator == "validation"].estimate.round(2).tolist()
    True
    """
    compacts, n_target = _check_groups(groups)
    zoos: dict = {}
    for k in groups:
        zoos.setdefault(zoo_key(k), []).append(k)
    rng = np.random.default_rng(random_state)
    records, info = [], {"lines": {}, "kappa_lines": {}, "ess": {}, "chance": {}}
    bar = _progress_bar(n_boot * len(zoos)) if progress else None
    for z, members in zoos.items():
        cs = [compacts[k] for k in members]
        point = point_estimates(cs)
        boots = _bootstrap(cs, n_boot, n_target, rng, bar)
        for field_, line in (("lines", "aline"), ("kappa_lines", "aline_kappa")):
            fit = point.lines.get(line)
            info[field_][z] = None if fit is None else fit.__dict__.copy()
        for gi, k in enumerate(members):
            c = cs[gi]
            info["ess"][k] = effective_sample_size(c.weights)
            info["chance"][k] = chance_accuracies(c.pred_val, c.y_val, c.pred_t, c.n_classes)
            names = list(groups[k].models) or [f"model{m}" for m in range(len(c.correct))]
            if len(names) != len(c.correct):
                raise ValueError(f"group {k!r}: {len(names)} model names for {len(c.correct)} models")
            records += _group_records(k, names, point, boots, gi)
    if bar is not None:
        bar.close()
    return pd.DataFrame(records), info


def _progress_bar(total: int):
    """A tqdm bar over the bootstrap replicates, as the fit stage shows one over the fits."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="estimates", unit="replicate")
