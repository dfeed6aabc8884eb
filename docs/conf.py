"""Sphinx configuration of the documentation site (``make docs``; output in docs/_build/html)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's packages, as the tests see them

project = "mnist-hf"
author = "the mnist-hf authors"
copyright = "2026, the mnist-hf authors"

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
# The estimates' benchmark and grid tables are bare tables (no title): records read in the checkout,
# not pages of the site.
exclude_patterns = ["_build", "_templates", "estimates/estimates.md", "estimates/grid/**"]
# The generated records (comparison reports, estimate grids) start at level-3 headings.
suppress_warnings = ["myst.header"]

# MyST: Markdown pages; headings get anchors (page.md#a-heading) down to level 3.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# The API reference: one page per public name, from the numpydoc docstrings; each module's page
# lists what its __all__ says, so a new public name appears and a stale one fails the build.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True
# splitters.comparison re-exports names splitters itself exports: documented once, under splitters.
import splitters  # noqa: E402

autosummary_context = {"documented_elsewhere": {"splitters.comparison": set(splitters.__all__)}}
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = "mnist-hf"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
