"""Dissimilarity-based strategies: validation deliberately unlike training, or like a target.

All work on a feature matrix (see :mod:`splitters.features` for images) in O(n) memory.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from .base import ValidationSplitter, check_int, check_X
from .distances import farthest_points, prepare, scaled_float32


class MaxMinSplit(ValidationSplitter):
    """Farthest-point selection: each pick is the row farthest from those already picked, so
    validation spreads over the edges of the data. The first pick is random (``random_state``).

    >>> import numpy as np
    >>> X = np.r_[np.zeros((8, 2)), [[10.0, 10.0], [-10.0, 10.0]]]
    >>> _, v = next(MaxMinSplit(val_size=3, random_state=0).split(X))
    >>> {8, 9} <= set(v.tolist())
    True
    """

    needs_features = True

    def __init__(self, val_size: float = 0.1, *, metric: str = "euclidean", n_splits: int = 1, random_state=None):
        self.val_size = val_size
        self.metric = metric
        self.n_splits = n_splits
        self.random_state = random_state

    def _validation_indices(self, X, y, groups, n_val, rng):
        Z = prepare(X, self.metric)
        return farthest_points(Z, n_val, start=int(rng.randint(len(Z))))


class ClusterSplit(ValidationSplitter):
    """Cluster hold-out: k-means (MiniBatchKMeans) on the pool, then whole clusters, in random
    order, move to validation, so validation lies in regions training does not cover.

    Rule for the size: clusters are added while they fit; the next cluster then gives the rows
    nearest its center to make up the exact count.

    >>> import numpy as np
    >>> X = np.r_[np.zeros((5, 2)), np.full((5, 2), 9.0)] + np.arange(10)[:, None] * 0.01
    >>> _, v = next(ClusterSplit(val_size=5, n_clusters=2, random_state=0).split(X))
    >>> sorted(v.tolist()) in ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
    True
    """

    needs_features = True

    def __init__(self, val_size: float = 0.1, *, n_clusters: int = 20, metric: str = "euclidean",
                 n_splits: int = 1, random_state=None):
        self.val_size = val_size
        self.n_clusters = n_clusters
        self.metric = metric
        self.n_splits = n_splits
        self.random_state = random_state

    def _check_inputs(self, X, y, groups, n_val):
        check_int(self.n_clusters, "n_clusters", minimum=2)
        if not 2 <= self.n_clusters <= X.shape[0]:
            raise ValueError(f"n_clusters must be between 2 and the pool size ({X.shape[0]}), got {self.n_clusters}")

    def _validation_indices(self, X, y, groups, n_val, rng):
        Z = prepare(X, self.metric)
        km = MiniBatchKMeans(n_clusters=int(self.n_clusters), random_state=rng.randint(2**31 - 1),
                             n_init=3, batch_size=4096)
        labels = km.fit_predict(Z)
        chosen: list[np.ndarray] = []
        total = 0
        for c in rng.permutation(int(self.n_clusters)):
            members = np.flatnonzero(labels == c)
            if total + len(members) <= n_val:
                chosen.append(members)
                total += len(members)
            else:
                d = ((Z[members] - km.cluster_centers_[c]) ** 2).sum(axis=1)
                chosen.append(members[np.argsort(d, kind="stable")[: n_val - total]])
                total = n_val
            if total == n_val:
                break
        return np.concatenate(chosen)


class TargetMatchedSplit(ValidationSplitter):
    """Adversarial validation: a classifier learns to tell pool rows from ``X_target`` rows
    (unlabeled rows from the data the model will meet); the pool rows it finds most
    target-like, by out-of-fold probability, become validation.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pool = np.r_[rng.normal(0, 1, (90, 2)), rng.normal(4, 1, (10, 2))]
    >>> s = TargetMatchedSplit(val_size=10, X_target=rng.normal(4, 1, (50, 2)), random_state=0)
    >>> _, v = next(s.split(pool))
    >>> int((v >= 90).sum()) >= 8
    True
    """

    needs_features = True

    def __init__(self, val_size: float = 0.1, *, X_target=None, estimator=None, cv: int = 3, random_state=None):
        self.val_size = val_size
        self.X_target = X_target
        self.estimator = estimator
        self.cv = cv
        self.random_state = random_state

    def _check_arrays(self):
        if self.X_target is None:
            raise ValueError("TargetMatchedSplit needs X_target: unlabeled rows of the data the model will meet")
        check_X(self.X_target, need_features=True, name="X_target")

    def _check_inputs(self, X, y, groups, n_val):
        cv = check_int(self.cv, "cv", minimum=2)
        target = self._target()
        if target.shape[1] != X.shape[1]:
            raise ValueError(f"X_target has {target.shape[1]} features but X has {X.shape[1]}")
        if len(target) < cv:
            raise ValueError(f"X_target needs at least cv={cv} rows, got {len(target)}")

    def _target(self) -> np.ndarray:
        target = self.X_target
        if type(target).__module__.startswith("pandas"):  # nullable dtypes: as floats (NaN was refused)
            return np.asarray(target.to_numpy(dtype=float))
        return np.asarray(target)

    def _validation_indices(self, X, y, groups, n_val, rng):
        target = self._target()
        # One power of two for both, so values beyond float32's range (1e300) keep their separation.
        both = np.concatenate(scaled_float32(X, target))
        is_target = np.r_[np.zeros(len(X), dtype=np.int8), np.ones(len(target), dtype=np.int8)]
        est = clone(self.estimator) if self.estimator is not None else LogisticRegression(max_iter=1000)
        folds = StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=rng.randint(2**31 - 1))
        proba = cross_val_predict(est, both, is_target, cv=folds, method="predict_proba")[: len(X), 1]
        # Most target-like first; ties broken at random so no position bias creeps in.
        order = np.lexsort((rng.random_sample(len(X)), -proba))
        return order[:n_val]
