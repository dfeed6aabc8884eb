"""Stage 4 of a comparison: label-free measures of how validation rows differ from test rows.

``nn_shift`` compares nearest-neighbour distances to the training part; ``adv_auc`` is how well a
classifier tells validation rows from test rows. Neither needs a label, so both work on an
unlabeled test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from .distances import nearest_distances
from .metrics import distribution_shift
from .plan import Plan
from .splits import Splits, _reason

DIAGNOSTIC_ROWS = 5000  # rows sampled per side for the label-free diagnostics


@dataclass
class Diagnostics:
    """Per strategy, one value per repeat of ``nn_shift`` and ``adv_auc`` (NaN where a diagnostic
    failed, with the reason in ``notes``); ``distances``: repeat 0's nearest-neighbour distances
    to the training part, for validation and test rows."""

    values: dict[str, dict[str, list[float]]]
    distances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _adversarial_auc(A: np.ndarray, B: np.ndarray, seed: int) -> float:
    """Cross-validated ROC AUC of a classifier telling rows of A from rows of B (0.5: alike)."""
    n_folds = min(3, len(A), len(B))
    if n_folds < 2:
        raise ValueError(f"needs at least 2 rows on each side, got {len(A)} validation and {len(B)} test rows")
    both = np.concatenate([A, B])
    label = np.r_[np.zeros(len(A)), np.ones(len(B))]
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=500), both, label, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(label, proba))


def _sample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else rng.choice(idx, size=n, replace=False)


def _measure(out: Diagnostics, key: str, where: str, fn, *args) -> Any:
    try:
        return fn(*args)
    except Exception as err:  # a diagnostic that cannot be computed is reported, not fatal
        out.notes.append(f"{where}: diagnostic {key} failed ({_reason(err)})")
        return None


def diagnose(plan: Plan, splits: Splits) -> Diagnostics:
    """Stage 4: where validation and test rows sit relative to the training part, without labels.

    ``nn_shift``: how differently validation and test rows' nearest-neighbour distances to the
    training part are distributed (0: alike); ``adv_auc``: how well a classifier tells
    validation rows from test rows (0.5: indistinguishable). Each side is subsampled to
    :data:`DIAGNOSTIC_ROWS` rows.

    Parameters
    ----------
    plan : Plan
    splits : Splits

    Returns
    -------
    Diagnostics

    Examples
    --------
    >>> import numpy as np
    >>> from splitters.plan import plan_comparison
    >>> from splitters.splits import make_splits
    >>> X = np.random.default_rng(0).normal(size=(80, 2))
    >>> plan = plan_comparison(X[:60], np.arange(60) % 2, X[60:] + 1, strategies=["random"], models=["lda"], repeats=1)
    >>> sorted(diagnose(plan, make_splits(plan)).values["random"])
    ['adv_auc', 'nn_shift']
    """
    rng = np.random.default_rng(plan.random_state)
    X, X_test = plan.X, plan.X_test
    test_rows = _sample(np.arange(len(X_test)), DIAGNOSTIC_ROWS, rng)
    out = Diagnostics({})
    for (name, r), (train, val) in splits.parts.items():
        where = f"{name}, repeat {r}"
        tr = X[_sample(train, 4 * DIAGNOSTIC_ROWS, rng)]
        d_val = _measure(out, "nn_shift", where, nearest_distances, X[_sample(val, DIAGNOSTIC_ROWS, rng)], tr)
        d_test = _measure(out, "nn_shift", where, nearest_distances, X_test[test_rows], tr)
        shift = None if d_val is None or d_test is None else _measure(out, "nn_shift", where, distribution_shift,
                                                                      d_val, d_test)
        auc = _measure(out, "adv_auc", where, _adversarial_auc, X[_sample(val, DIAGNOSTIC_ROWS, rng)],
                       X_test[test_rows], plan.seed(r))
        d = out.values.setdefault(name, {"nn_shift": [], "adv_auc": []})
        d["nn_shift"].append(np.nan if shift is None else float(shift))
        d["adv_auc"].append(np.nan if auc is None else float(auc))
        if r == 0 and d_val is not None and d_test is not None:
            out.distances[name] = {"validation": d_val, "test": d_test}
    return out
