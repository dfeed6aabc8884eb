"""The line floor: the lowest error an estimator that applies one probit line could reach,
measured with the test labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import ndtr

from .agreement import kappa as to_kappa
from .agreement import probit


def line_floor(table: pd.DataFrame, *, kappa: bool = False) -> pd.Series:
    """The mean absolute error of the best probit line from validation to test accuracy, fitted
    with the test labels: a floor for the estimators that apply one line.

    ``aline_s`` maps every model's validation score to its estimate through one line in probit
    space per strategy (fitted over all its repeats). However that line is found, its error cannot
    fall below that of the line chosen, with the test scores in hand, to minimise the very error
    being measured; what remains is how far the models' test scores lie off any line. With
    ``kappa=True`` the lines are those of ``aline_kappa``: from the probit of each model's
    validation kappa to its target kappa, each model's chance accuracy on target added back
    (``estimate = e_t + ndtr(slope * probit(kappa_val) + bias) * (1 - e_t)``), which is the floor
    for the default estimator. ``aline_d`` solves a pairwise system per model and is bound by
    neither. ``scripts/benchmarks/bench_estimates.py`` reports both beside the estimators' errors.

    The fit is in-sample (two parameters), so the floor is optimistic. It minimises the absolute
    error on the accuracy scale by Nelder-Mead, started from the least-squares line, from the best
    points of a dense grid of slopes (-6 to 8) and biases (-8 to 8), and from the best lines
    through two models exactly (where the error has its kinks, however steep), so that a local
    minimum does not leave the floor too high: on 200 random noisy cases it matched a search from
    150 random starts each to 1e-15, where grid and least-squares starts alone were up to 7.7
    points of accuracy too high in 12 of them (on the benchmark's own tables both give the same
    floors to 1e-10 points).

    Parameters
    ----------
    table : DataFrame
        Rows with ``strategy``, ``repeat``, ``model``, ``val_score`` and ``test_score`` (for example
        :attr:`Estimates.table`; each (strategy, repeat, model) counts once, whatever the
        estimator), and with ``kappa=True`` the chance accuracies ``chance_val`` and
        ``chance_target`` (on the ``aline_kappa`` rows of :attr:`Estimates.table`). Rows with a
        missing value are left out.
    kappa : bool, default=False
        The floor of ``aline_kappa``'s lines instead of ``aline_s``'s.

    Returns
    -------
    Series
        Per strategy, the floor (accuracy scale, like ``mae`` in :func:`summarise_estimates`).

    Raises
    ------
    ValueError
        When a column is missing, or when rows of one (strategy, repeat, model) disagree on its
        scores (a table that mixes runs, e.g. several seeds).

    Examples
    --------
    >>> from scipy.special import ndtr
    >>> v = ndtr(np.array([0.0, 0.5, 1.0, 1.5])); t = ndtr(0.8 * np.array([0.0, 0.5, 1.0, 1.5]) - 0.6)
    >>> tab = pd.DataFrame({"strategy": "random", "repeat": 0, "model": list("abcd"), "val_score": v,
    ...                     "test_score": t})
    >>> float(line_floor(tab)["random"]) < 1e-6
    True
    """
    columns = ["val_score", "test_score"] + (["chance_val", "chance_target"] if kappa else [])
    missing = [c for c in ["strategy", "repeat", "model", *columns] if c not in table]
    if missing:
        raise ValueError(f"line_floor needs the column(s) {missing}; the table has {list(table.columns)}")
    key = ["strategy", "repeat", "model"]
    fits = table[key + columns].dropna(subset=columns).drop_duplicates()
    clash = fits.duplicated(key, keep=False)
    if clash.any():
        first = fits[clash].iloc[0]
        raise ValueError(f"line_floor: rows of strategy {first.strategy!r}, repeat {first['repeat']}, model "
                         f"{first.model!r} disagree on {', '.join(columns)}: one comparison at a time")
    out = {}
    for s, part in fits.groupby("strategy", sort=False):
        e_v, e_t = (part.chance_val.to_numpy(), part.chance_target.to_numpy()) if kappa else (0.0, 0.0)
        x = probit(to_kappa(part.val_score.to_numpy(), e_v))
        out[s] = _lad_probit_line(x, part.test_score.to_numpy(), e_t)
    return pd.Series(out, name="line_floor", dtype=float)


_GRID = np.stack(np.meshgrid(np.linspace(-6, 8, 141), np.linspace(-8, 8, 161)), axis=-1).reshape(-1, 2)


def _lad_probit_line(x: np.ndarray, t: np.ndarray, e_t=0.0) -> float:
    """min over (slope, bias) of mean |e_t + ndtr(slope * x + bias) * (1 - e_t) - t|."""
    e_t = np.broadcast_to(np.asarray(e_t, dtype=float), t.shape)

    def mae(q):
        return np.mean(np.abs(e_t + ndtr(np.outer(np.atleast_2d(q)[:, 0], x) + np.atleast_2d(q)[:, 1:])
                              * (1 - e_t) - t), axis=-1)

    on_grid = mae(_GRID)
    starts = list(_GRID[np.argsort(on_grid)[:5]])
    through = _lines_through_pairs(x, probit(to_kappa(t, e_t)))
    on_pairs = mae(through) if len(through) else np.array([np.inf])
    # A line that meets two models exactly is where the error has its kinks, and it may be steeper
    # than the grid reaches: Nelder-Mead from grid points alone stopped in a local minimum.
    starts += list(through[np.argsort(on_pairs)[:5]]) if len(through) else []
    if np.ptp(x) > 0:
        starts.append(np.polyfit(x, probit(to_kappa(t, e_t)), 1))
    polished = [minimize(lambda q: float(mae(q)[0]), q, method="Nelder-Mead",
                         options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000}).fun for q in starts]
    return float(min(min(polished), on_grid.min(), on_pairs.min()))


def _lines_through_pairs(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(slope, bias) of the line through each pair of points (x_i, z_i) with x_i != x_j."""
    i, j = np.triu_indices(len(x), k=1)
    keep = x[i] != x[j]
    i, j = i[keep], j[keep]
    slope = (z[j] - z[i]) / (x[j] - x[i])
    return np.column_stack([slope, z[i] - slope * x[i]])

