"""Deprecated: the comparison engine moved to :mod:`splitters.comparison`; this alias will go."""

import warnings

from .comparison import *  # noqa: F403
from .comparison import __all__  # noqa: F401

warnings.warn("splitters.compare is deprecated: import from splitters.comparison", DeprecationWarning, stacklevel=2)
