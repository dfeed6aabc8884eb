"""Which validation split tells the truth about the test data? The ``compare-splits`` command, run
from a checkout: ``python scripts/compare_splits.py --help``.

A thin entry: the command lives in :mod:`mnist_compare.cli` (installed as ``compare-splits``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for mnist_compare
from mnist_compare.cli import main as _main


def main(argv=None) -> int:
    """``compare-splits``, its messages naming ``compare_splits.py``."""
    return _main(argv, prog="compare_splits.py")


if __name__ == "__main__":
    sys.exit(main())
