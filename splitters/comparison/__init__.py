"""The comparison engine: how well each strategy's validation score predicts test, in stages.

``plan`` (inputs checked once; ``options`` and ``zoo`` say what runs), ``splits``, ``fits``,
``diagnostics`` (the table of label-free diagnostics) and ``summary`` are the stages; ``engine``
runs them (:func:`compare_strategies`) and ``result`` is what it returns; with
:func:`estimate_from_predictions`, the estimates for a user's own predictions; ``report`` and ``plots``
write it out. May import the strategies (``splitters.base``, ``registry``, ``distances``),
:mod:`splitters.metrics` and :mod:`splitters.estimation`; never ``mnist_hf``.

>>> from splitters import comparison
>>> comparison.compare_strategies is comparison.engine.compare_strategies
True
"""

from .diagnostics import DIAGNOSTICS, Diagnostic, Diagnostics, diagnose
from .engine import compare_strategies, estimate_from_predictions
from .fits import TABLE_COLUMNS, Fits, Predictions, fit_models
from .options import DEFAULTS, ComparisonOptions
from .plan import Plan, plan_comparison
from .report import estimates_markdown, markdown, write_report
from .result import ComparisonResult
from .splits import Splits, make_splits
from .summary import recommend, summarise, summary_columns
from .zoo import DEFAULT_STRATEGIES, default_models

__all__ = [
    "DEFAULTS",
    "DEFAULT_STRATEGIES",
    "DIAGNOSTICS",
    "TABLE_COLUMNS",
    "ComparisonOptions",
    "ComparisonResult",
    "Diagnostic",
    "Diagnostics",
    "Fits",
    "Plan",
    "Predictions",
    "Splits",
    "compare_strategies",
    "default_models",
    "diagnose",
    "estimate_from_predictions",
    "estimates_markdown",
    "fit_models",
    "make_splits",
    "markdown",
    "plan_comparison",
    "recommend",
    "summarise",
    "summary_columns",
    "write_report",
]
