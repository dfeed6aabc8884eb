"""What mutation testing of splitters/metrics.py found unpinned: scores that are numbers but not floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from splitters.metrics import gap_stats, selection_regret

VAL, TEST = [0.9, 0.8], [0.6, 0.7]


def _decimal(values: list[float]) -> list[Decimal]:
    return [Decimal(str(v)) for v in values]


@pytest.mark.parametrize("decimal_side", ["val", "test"])
def test_gap_stats_reads_exact_decimal_scores_as_floats(decimal_side):
    # Scores from a spreadsheet or a database often arrive as Decimal, which numpy keeps as objects
    # and which refuse arithmetic with floats: each side must be made float before subtracting.
    val = _decimal(VAL) if decimal_side == "val" else VAL
    test = _decimal(TEST) if decimal_side == "test" else TEST
    assert gap_stats(val, test) == (0.2, 0.2)


@pytest.mark.parametrize("decimal_side", ["val", "test"])
@pytest.mark.parametrize("greater_is_better", [True, False])
def test_selection_regret_reads_exact_decimal_scores_as_floats(decimal_side, greater_is_better):
    val = _decimal(VAL) if decimal_side == "val" else VAL
    test = _decimal(TEST) if decimal_side == "test" else TEST
    # Higher is better: validation picks 0.9, whose test score 0.6 is 0.1 below the best; lower is
    # better: it picks 0.8, whose 0.7 is 0.1 above the best 0.6.
    assert selection_regret(val, test, greater_is_better) == 0.1
