"""When an estimate has a basis, and the interval it then gets.

The rules were tuned on the development grids of ``scripts/benchmarks/estimates_grid.py``, each
round judged once on a held-out grid fixed before it (round 1: ``dev``, judged on ``heldout``;
round 2 adds ``heldout`` to development, judged on ``heldout2``; round 3 adds ``heldout2``,
judged on ``heldout3``; figures in ``docs/estimates/honesty.md``):

- **No basis** (the estimate is marked unreliable, its interval is [0, 1], and ``ship`` ignores
  it): fewer than :data:`MIN_MODELS` models with usable predictions in the validation part; no
  agreement line; a line that slopes the wrong way (validation agreement and target agreement
  must rise together); or a line that does not fit (R^2 below :data:`MIN_LINE_R2`).
- **The interval** of an estimator with a ``hull`` partner (the default, ``aline_kappa``, with
  ``atc_maxprob``): the estimate's sampling error and line scatter
  (``1.96 sqrt(se_boot^2 + m_line^2)``), plus the stretch down to its partner when the partner
  is lower (times ``1 +`` :data:`HULL_STRETCH`; round 3 dropped the stretch up, which widened
  the intervals under rotation, where ATC over-estimates, and held no truth), plus :data:`DROP_SHARE` of the
  predicted drop from validation on both sides and, below an estimate that falls below validation,
  :data:`FALL_SHARE` of that fall more (round 2: models that fail together under a shift, as with
  translation, fall beyond the agreement line, rarely short of it). Two estimators built on different signals
  (agreement between models, a model's own confidence) that disagree mark a shift neither was
  built for; the models' true accuracies were found between or near the two far more often than
  beyond the agreement line's own spread.
"""

from __future__ import annotations

import numpy as np

from .agreement import LineFit

MIN_MODELS = 3  # fewer give one or three pairs: a line through them says little
MIN_LINE_R2 = 0.3
HULL_STRETCH = 0.25
DROP_SHARE = 0.1
FALL_SHARE = 0.2  # round 2: extra room below an estimate that falls below validation


def basis_problem(n_models: int, line: LineFit | None) -> str | None:
    """Why a zoo's agreement-based estimates have no basis, or None when they have one.

    Parameters
    ----------
    n_models : int
        Models with usable predictions in the validation part.
    line : LineFit or None
        The zoo's agreement line (None: none could be fitted).

    Returns
    -------
    str or None
        One plain sentence, or None.

    Examples
    --------
    >>> basis_problem(2, None)
    'only 2 models with usable predictions (at least 3 are needed)'
    >>> basis_problem(5, LineFit(slope=0.9, bias=0.0, r2=0.1, resid_sd=0.2, n_pairs=10))
    'the agreement line does not fit (R^2 0.10 < 0.3)'
    >>> basis_problem(5, LineFit(slope=0.9, bias=0.0, r2=0.9, resid_sd=0.1, n_pairs=10)) is None
    True
    """
    if n_models < MIN_MODELS:
        return f"only {n_models} model{'s' * (n_models != 1)} with usable predictions (at least {MIN_MODELS} are needed)"
    if line is None:
        return "no agreement line: the models agree equally on every pair"
    if not line.slope > 0:
        return f"the agreement line slopes the wrong way (slope {line.slope:.2f})"
    if not line.r2 >= MIN_LINE_R2:
        return f"the agreement line does not fit (R^2 {line.r2:.2f} < {MIN_LINE_R2})"
    return None


def hull_interval(est: np.ndarray, partner: np.ndarray, val: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The interval of an estimate with a hull partner (see the module docstring), clipped to [0, 1].

    Parameters
    ----------
    est, partner, val : arrays of shape (n_models,)
        The estimate, its partner's estimate and the validation score.
    spread : array of shape (n_models,)
        ``1.96 sqrt(se_boot^2 + m_line^2)``.

    Returns
    -------
    lo, hi : arrays of shape (n_models,)

    Examples
    --------
    >>> lo, hi = hull_interval(np.array([0.8]), np.array([0.7]), np.array([0.9]), np.array([0.02]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.625, 0.83)
    >>> lo, hi = hull_interval(np.array([0.8]), np.array([0.95]), np.array([0.9]), np.array([0.02]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)  # a partner above: no stretch up
    (0.75, 0.83)
    """
    margin = DROP_SHARE * np.abs(val - est) + spread
    lo = est - (1 + HULL_STRETCH) * np.maximum(est - partner, 0) - margin - FALL_SHARE * np.maximum(val - est, 0)
    hi = est + margin  # round 3: a partner above the estimate did not hold the truth there
    return np.clip(lo, 0, 1), np.clip(hi, 0, 1)
