"""Feature step for images: flatten, scale to [0, 1], reduce with PCA (a scikit-learn Pipeline),
so distances are cheap and meaningful.

>>> import numpy as np
>>> images = np.random.default_rng(0).integers(0, 256, (20, 4, 4), dtype=np.uint8)
>>> image_features(n_components=3).fit_transform(images).shape
(20, 3)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from .base import check_int


class Flatten(TransformerMixin, BaseEstimator):
    """(n, h, w, ...) -> (n, h*w*...) float32, scaled by ``scale`` (1/255 for 8-bit images).

    Parameters
    ----------
    scale : float, default=1/255
        Factor applied after the cast to float32.

    Examples
    --------
    >>> Flatten().fit_transform(np.full((2, 2, 2), 255, np.uint8)).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, scale: float = 1.0 / 255.0):
        self.scale = scale

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X)
        return X.reshape(len(X), -1).astype(np.float32) * np.float32(self.scale)


def image_features(n_components: int = 50, *, metric: str = "euclidean", random_state=0) -> Pipeline:
    """Pipeline: flatten and scale, PCA to ``n_components``; with ``metric="cosine"`` the rows are
    also normalised to unit length, so Euclidean distances rank like cosine ones.

    Parameters
    ----------
    n_components : int, default=50
        PCA dimensions (any integer type).
    metric : {"euclidean", "cosine"}, default="euclidean"
        The distance the features are meant for.
    random_state : int, default=0
        Seed of the randomised PCA solver.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; ``fit_transform(images)`` gives an ``(n, n_components)`` float32 matrix.

    Raises
    ------
    ValueError
        If ``metric`` is neither ``"euclidean"`` nor ``"cosine"``.

    Examples
    --------
    >>> image_features(2, metric="cosine").fit_transform(np.arange(24.0).reshape(4, 2, 3) ** 2).shape
    (4, 2)
    """
    steps = [("flatten", Flatten()), ("pca", PCA(n_components=check_int(n_components, "n_components"),
                                                  svd_solver="randomized",
                                                  random_state=random_state))]
    if metric == "cosine":
        steps.append(("normalize", Normalizer()))
    elif metric != "euclidean":
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    return Pipeline(steps)
