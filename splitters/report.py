"""Deprecated: the report moved to :mod:`splitters.comparison.report` and
:mod:`splitters.comparison.plots`; this alias will go."""

import warnings

from .comparison.plots import plot_distances, plot_estimated_vs_true, plot_estimates, plot_gap, plot_val_vs_test
from .comparison.report import estimates_markdown, markdown, write_report

__all__ = ["estimates_markdown", "markdown", "plot_distances", "plot_estimated_vs_true", "plot_estimates", "plot_gap",
           "plot_val_vs_test", "write_report"]

warnings.warn("splitters.report is deprecated: import from splitters.comparison.report", DeprecationWarning,
              stacklevel=2)
