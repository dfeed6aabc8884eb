"""Stage 4 of a comparison: label-free measures of how validation rows differ from test rows.

The diagnostics are one table, :data:`DIAGNOSTICS` (name -> :class:`Diagnostic`: its function,
the value of a validation part that looks like test, its label and what it means); the summary,
the recommendation, the report and the engine read it. Adding a diagnostic is adding an entry.
Neither built-in needs a label, so both work on an unlabeled test set: ``nn_shift`` compares
nearest-neighbour distances to the training part; ``adv_auc`` is how well a classifier tells
validation rows from test rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from ..distances import nearest_distances
from ..metrics import distribution_shift
from .failures import reason
from .plan import Plan
from .splits import Splits

DIAGNOSTIC_ROWS = 5000  # rows sampled per side for the label-free diagnostics


@dataclass
class Part:
    """What a diagnostic sees of one validation part (one strategy and repeat).

    ``X``: the pool; ``train``, ``val``: its rows; ``X_test``: the test rows (one sample of at
    most :data:`DIAGNOSTIC_ROWS`, the same for every part); ``seed``: the repeat's seed; ``rng``:
    the run's generator, shared by the diagnostics in table order. A diagnostic may leave
    ``kept["distances"]`` (validation and test nearest-neighbour distances) for the plots.

    Examples
    --------
    >>> p = Part(np.zeros((4, 1)), np.arange(3), np.array([3]), np.zeros((2, 1)), 0, np.random.default_rng(0), "x")
    >>> p.sample(p.train, 2).shape
    (2,)
    """

    X: np.ndarray
    train: np.ndarray
    val: np.ndarray
    X_test: np.ndarray
    seed: int
    rng: np.random.Generator
    where: str
    notes: list[str] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)
    diagnostic: str = ""

    def sample(self, idx: np.ndarray, n: int) -> np.ndarray:
        """At most ``n`` of the rows ``idx``, drawn without replacement."""
        return _sample(idx, n, self.rng)

    def measure(self, fn: Callable, *args) -> Any:
        """``fn(*args)``, or None with a note when it raises: one failed step, one note."""
        try:
            return fn(*args)
        except Exception as err:  # a diagnostic that cannot be computed is reported, not fatal
            self.notes.append(f"{self.where}: diagnostic {self.diagnostic} failed ({reason(err)})")
            return None


@dataclass(frozen=True)
class Diagnostic:
    """One row of :data:`DIAGNOSTICS`.

    ``fn(part: Part) -> float or None`` (None: could not be measured; use ``part.measure`` so the
    reason is noted); ``ideal``: its value for a validation part that looks like test (strategies
    are ranked by the distance to it); ``label``: the report's column title; ``meaning``: one
    sentence for the report.

    Examples
    --------
    >>> Diagnostic(lambda part: 0.0, ideal=0.0, label="zero", meaning="always 0").ideal
    0.0
    """

    fn: Callable[[Part], float | None]
    ideal: float
    label: str
    meaning: str


@dataclass
class Diagnostics:
    """Per strategy, one value per repeat of every diagnostic (NaN where one failed, with the
    reason in ``notes``); ``distances``: repeat 0's nearest-neighbour distances to the training
    part, for validation and test rows."""

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


def _nn_shift(part: Part) -> float | None:
    """How differently validation and test rows' nearest-neighbour distances to the training
    part are distributed."""
    tr = part.X[part.sample(part.train, 4 * DIAGNOSTIC_ROWS)]
    d_val = part.measure(nearest_distances, part.X[part.sample(part.val, DIAGNOSTIC_ROWS)], tr)
    d_test = part.measure(nearest_distances, part.X_test, tr)
    if d_val is None or d_test is None:  # no shift is attempted without both sides
        return None
    part.kept["distances"] = {"validation": d_val, "test": d_test}
    return part.measure(distribution_shift, d_val, d_test)


def _adv_auc(part: Part) -> float | None:
    """How well a classifier tells validation rows from test rows."""
    return part.measure(_adversarial_auc, part.X[part.sample(part.val, DIAGNOSTIC_ROWS)], part.X_test, part.seed)


DIAGNOSTICS: dict[str, Diagnostic] = {
    "nn_shift": Diagnostic(_nn_shift, ideal=0.0, label="NN-distance shift",
                           meaning="NN-distance shift: how differently validation and test rows sit from the "
                                   "training rows (0: alike)."),
    "adv_auc": Diagnostic(_adv_auc, ideal=0.5, label="val-vs-test AUC",
                          meaning="val-vs-test AUC: how well a classifier tells validation rows from test rows "
                                  "(0.5: indistinguishable)."),
}


def diagnose(plan: Plan, splits: Splits) -> Diagnostics:
    """Stage 4: every diagnostic of :data:`DIAGNOSTICS` on every validation part, without labels.

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
    >>> from splitters.comparison import make_splits, plan_comparison
    >>> X = np.random.default_rng(0).normal(size=(80, 2))
    >>> plan = plan_comparison(X[:60], np.arange(60) % 2, X[60:] + 1, strategies=["random"], models=["lda"], repeats=1)
    >>> sorted(diagnose(plan, make_splits(plan)).values["random"])
    ['adv_auc', 'nn_shift']
    """
    rng = np.random.default_rng(plan.random_state)
    X_test = plan.X_test[_sample(np.arange(len(plan.X_test)), DIAGNOSTIC_ROWS, rng)]
    out = Diagnostics({})
    for (name, r), (train, val) in splits.parts.items():
        part = Part(plan.X, train, val, X_test, plan.seed(r), rng, f"{name}, repeat {r}", out.notes)
        values = out.values.setdefault(name, {d: [] for d in DIAGNOSTICS})
        for d, spec in DIAGNOSTICS.items():
            part.diagnostic = d
            value = part.measure(spec.fn, part)
            values[d].append(np.nan if value is None else float(value))
        if r == 0 and "distances" in part.kept:
            out.distances[name] = part.kept["distances"]
    return out
