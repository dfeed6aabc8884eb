"""Deprecated: the label-free estimators moved to :mod:`splitters.estimation`; this alias will go.

>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", DeprecationWarning)
...     from splitters.estimates import doc
>>> from splitters.estimation import doc as moved
>>> doc is moved
True
"""

import warnings

from .estimation import *  # noqa: F403
from .estimation import __all__  # noqa: F401

warnings.warn("splitters.estimates is deprecated: import from splitters.estimation", DeprecationWarning, stacklevel=2)
