"""Label-free estimates of each model's accuracy on unlabeled target rows, with 95% intervals.

``estimators`` holds the table of estimators (one entry each), ``agreement`` the agreement-on-the-line
fits, ``intervals`` the engine that runs the table with bootstrap intervals, ``stage`` the stage of a
comparison, ``shipping`` the model to ship, ``floor`` the line floor; ``predictions`` and
``weights`` what they read. May import numpy, scipy, pandas, scikit-learn and
:mod:`splitters.metrics`; never the comparison engine, the strategies or ``mnist_hf``.

>>> import numpy as np
>>> from splitters import estimation
>>> p = np.array([[0.9, 0.1], [0.2, 0.8]])
>>> estimation.doc(p, np.array([0, 1]), p), estimation.DEFAULT_ESTIMATOR
(1.0, 'aline_kappa')
"""

from .agreement import POOR_FIT_R2, LineFit, agreement_on_the_line, fit_agreement_line
from .estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    Estimator,
    atc,
    doc,
    importance_weighted,
    per_model,
    validation_score,
)
from .floor import line_floor
from .intervals import Z95, estimate_accuracies
from .predictions import GroupPredictions, confidence
from .shipping import model_estimates, model_to_ship
from .stage import (
    ESTIMATE_COLUMNS,
    Estimates,
    estimate_from_probabilities,
    estimate_scores,
    estimate_warnings,
    summarise_estimates,
)
from .weights import density_ratio, effective_sample_size

__all__ = [
    "DEFAULT_ESTIMATOR",
    "ESTIMATE_COLUMNS",
    "ESTIMATORS",
    "POOR_FIT_R2",
    "Z95",
    "Estimates",
    "Estimator",
    "GroupPredictions",
    "LineFit",
    "agreement_on_the_line",
    "atc",
    "confidence",
    "density_ratio",
    "doc",
    "effective_sample_size",
    "estimate_accuracies",
    "estimate_from_probabilities",
    "estimate_scores",
    "estimate_warnings",
    "fit_agreement_line",
    "importance_weighted",
    "line_floor",
    "model_estimates",
    "model_to_ship",
    "per_model",
    "summarise_estimates",
    "validation_score",
]
