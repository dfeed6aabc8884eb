"""Deprecated: the comparison's first stage moved to :mod:`splitters.comparison`; this alias will go."""

import warnings

from .comparison import DEFAULT_STRATEGIES, DEFAULTS, Plan, default_models, plan_comparison

__all__ = ["DEFAULTS", "DEFAULT_STRATEGIES", "Plan", "default_models", "plan_comparison"]

warnings.warn("splitters.plan is deprecated: import from splitters.comparison", DeprecationWarning, stacklevel=2)
