"""Edges of the shared splitter contract (splitters/base.py, rules.py, ordered.py), pinned by
mutation testing: size bounds, exact error and warning texts, pandas input, index dtypes."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

from splitters import GroupSplit, HeadSplit, MaxMinSplit, SplitSizeWarning, TailSplit, ValidationSplitter
from splitters.rules import head_rows, tail_rows, validation_rows

X30 = np.random.default_rng(0).normal(size=(30, 3))


def _val(splitter, X, *args):
    return next(splitter.split(X, *args))[1].tolist()


# --- val_size bounds ------------------------------------------------------------------------------

def test_a_single_validation_row_is_allowed_by_count():
    X = np.zeros((5, 1))
    assert _val(TailSplit(val_size=1), X) == [4]
    assert _val(HeadSplit(val_size=1), X) == [0]
    train, val = next(TailSplit(val_size=np.int64(1)).split(X))
    assert train.tolist() == [0, 1, 2, 3] and val.tolist() == [4]


def test_a_fraction_of_zero_is_refused_as_a_fraction():
    with pytest.raises(ValueError, match=re.escape("val_size as a fraction must lie strictly between 0 and 1, got 0.0")):
        next(TailSplit(val_size=0.0).split(X30))


@pytest.mark.parametrize("val_size, n_val", [(0.01, 0), (0.04, 0), (0.99, 10), (0.96, 10)])
def test_a_fraction_rounding_to_no_rows_or_all_rows_is_refused(val_size, n_val):
    message = f"val_size={val_size} of 10 samples gives {n_val} rows; need 1 to 9"
    with pytest.raises(ValueError, match=re.escape(message)):
        next(TailSplit(val_size=val_size).split(np.zeros((10, 2))))


def test_fractions_just_inside_the_bounds_give_one_row_and_all_but_one():
    X = np.zeros((10, 2))
    assert _val(TailSplit(val_size=0.06), X) == [9]
    assert _val(HeadSplit(val_size=0.94), X) == list(range(9))


def test_default_val_size_is_a_tenth():
    X = np.zeros((20, 1))
    assert TailSplit().get_params()["val_size"] == 0.1
    assert HeadSplit().get_params()["val_size"] == 0.1
    assert _val(TailSplit(), X) == [18, 19]
    assert _val(HeadSplit(), X) == [0, 1]


# --- X ----------------------------------------------------------------------------------------------

def test_missing_X_says_it_is_required():
    with pytest.raises(ValueError, match=re.escape("X is required (n_samples, n_features)")):
        next(TailSplit(val_size=2).split(None))


@pytest.mark.parametrize("X, dtype", [(np.array([["a", "b"]] * 30), "<U1"), (np.full((30, 2), None, dtype=object), "object")])
def test_feature_strategies_name_the_non_numeric_dtype(X, dtype):
    with pytest.raises(ValueError, match=re.escape(f"X must be numeric, got dtype {dtype}")):
        next(MaxMinSplit(val_size=3).split(X))


def test_bool_and_integer_X_count_as_numeric():
    for X in (np.arange(60).reshape(30, 2) % 7 == 0, np.arange(60, dtype=np.uint8).reshape(30, 2)):
        assert len(_val(MaxMinSplit(val_size=3, random_state=0), X)) == 3


def test_non_finite_values_are_counted_by_row_not_by_cell():
    X = X30.copy()
    X[0, :] = np.nan  # three bad cells in one row
    X[4, 1] = np.inf
    X[9, 2] = -np.inf
    with pytest.raises(ValueError, match=re.escape("X contains NaN or infinite values in 3 row(s); impute")):
        next(MaxMinSplit(val_size=3).split(X))


# --- pandas -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "Float64", "Int64"])
def test_a_pandas_series_as_X_is_refused_as_one_dimensional(dtype):
    pd = pytest.importorskip("pandas")
    series = pd.Series(np.arange(5.0), dtype=dtype)
    with pytest.raises(ValueError, match=re.escape("X must be 2-D (n_samples, n_features), got 1-D with shape (5,)")):
        next(TailSplit(val_size=2).split(series))


def test_a_non_numeric_frame_lists_its_column_dtypes():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array(["x"] * 30, dtype="string"), "b": 1.0})
    with pytest.raises(ValueError, match=re.escape("X must be numeric; its columns have dtypes ['float64', 'string']")):
        next(MaxMinSplit(val_size=5).split(frame))


def test_a_missing_timestamp_in_an_extension_column_is_a_missing_value():
    # a timezone-aware column: without NaN for missing entries, NaT would become -9.2e18, a finite value
    pd = pytest.importorskip("pandas")
    when = pd.Series(pd.date_range("2020-01-01", periods=30, freq="D", tz="UTC"))
    when.iloc[7] = pd.NaT
    frame = pd.DataFrame({"a": pd.array(np.arange(30.0), dtype="Float64"), "when": when})
    with pytest.raises(ValueError, match=re.escape("X contains NaN or infinite values in 1 row(s)")):
        next(MaxMinSplit(val_size=5).split(frame))
    assert _val(TailSplit(val_size=5), frame) == [25, 26, 27, 28, 29]


# --- y and groups -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["y", "groups"])
def test_labels_of_the_wrong_length_name_X_and_its_row_count(name):
    bad = np.zeros(29)
    args = (bad, None) if name == "y" else (None, bad)
    message = f"{name} must be 1-D with one entry per row of X (30), got shape (29,)"
    with pytest.raises(ValueError, match=re.escape(message)):
        next(TailSplit(val_size=3).split(X30, *args))


# --- what a strategy returns ------------------------------------------------------------------------

class FixedPicks(ValidationSplitter):
    """A strategy that returns given rows, to see what the base class does with them."""

    def __init__(self, val_size=3, rows=(0, 1, 2)):
        self.val_size = val_size
        self.rows = rows

    def _validation_indices(self, X, y, groups, n_val, rng):
        return self.rows


@pytest.mark.parametrize("rows", [(-1, 2, 3), (0, 1, 30), (28, 29, 30), (0, 1, 31)])
def test_rows_outside_the_pool_are_refused(rows):
    message = "FixedPicks picked 3 validation rows but only 3 distinct ones within 0..29; please report"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        next(FixedPicks(val_size=3, rows=np.array(rows)).split(X30))


@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.uint64])
def test_indices_are_int64_whatever_integer_type_a_strategy_returns(dtype):
    train, val = next(FixedPicks(val_size=3, rows=np.array([29, 0, 5], dtype=dtype)).split(X30))
    assert val.dtype == np.int64 and train.dtype == np.int64
    assert val.tolist() == [0, 5, 29]
    assert train.tolist() == [i for i in range(30) if i not in (0, 5, 29)]


def test_one_picked_row_at_either_end_is_accepted():
    for row in (0, 29):
        train, val = next(FixedPicks(val_size=1, rows=[row]).split(X30))
        assert val.tolist() == [row] and len(train) == 29


# --- SplitSizeWarning -------------------------------------------------------------------------------

def _short_group_split():
    # groups of 3, 3, 3 and 1 rows: whole groups reach 4 rows, never the 5 asked for
    return GroupSplit(val_size=5, random_state=0), np.zeros((10, 1)), np.arange(10) // 3


def test_group_split_says_how_many_rows_it_could_take():
    s, X, groups = _short_group_split()
    with pytest.warns(SplitSizeWarning) as caught:
        _, val = next(s.split(X, groups=groups))
    assert len(val) == 4
    assert [str(w.message) for w in caught] == [
        "GroupSplit: validation has 4 rows, not the 5 requested (whole groups only; never more than requested)"]


def test_size_warning_from_split_checked_is_attributed_outside_the_base_module():
    s, X, groups = _short_group_split()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        next(s.split_checked(X, None, groups))
    assert [w.category for w in caught] == [SplitSizeWarning]
    assert _points_here(caught[0].filename)


# --- the rules ----------------------------------------------------------------------------------------

def test_rules_take_a_single_row_and_refuse_none():
    assert validation_rows("tail", 5, 1).tolist() == [4]
    assert validation_rows("head", 5, 1).tolist() == [0]
    assert validation_rows("random", 5, 1, random_state=0).tolist() in ([0], [1], [2], [3], [4])
    for strategy in ("tail", "head", "random"):
        with pytest.raises(ValueError, match=re.escape("n_val must be between 1 and 4 for a pool of 5 rows, got 0")):
            validation_rows(strategy, 5, 0)


def test_positional_rules_give_int64_for_unsigned_counts():
    n, k = np.uint64(10), np.uint64(3)
    for rows, expected in ((tail_rows(n, k), [7, 8, 9]), (head_rows(n, k), [0, 1, 2]),
                           (validation_rows("tail", n, k), [7, 8, 9]), (validation_rows("head", n, k), [0, 1, 2])):
        assert rows.dtype == np.int64
        assert rows.tolist() == expected


def test_size_warning_from_split_points_at_the_callers_line():
    # split() reaches the warning one generator deeper than split_checked: the warning still names
    # the line that asked for the split, not a line of splitters.
    s, X, groups = _short_group_split()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        next(s.split(X, groups=groups))
    assert [w.category for w in caught] == [SplitSizeWarning]
    assert _points_here(caught[0].filename)


def _points_here(filename: str) -> bool:
    # Natively the warning names this file. Under mutation testing, mutmut's wrapper around each
    # function is the first frame outside the package, and the warning names it instead.
    where = os.path.realpath(filename)
    return where == os.path.realpath(__file__) or f"{os.sep}mutmut{os.sep}" in where


@pytest.mark.parametrize("rule", [head_rows, tail_rows])
def test_positional_rules_never_return_rows_outside_the_pool(rule):
    assert rule(5, 5).tolist() == [0, 1, 2, 3, 4] and rule(5, 0).tolist() == []
    for n_val in (6, -1):
        with pytest.raises(ValueError, match=rf"^cannot take {n_val} validation rows from 5$"):
            rule(5, n_val)


def test_head_split_counts_the_pools_rows_not_its_columns():
    # 6 rows of 2 features: 4 validation rows fit the pool (and would not fit 2 columns).
    train, val = next(HeadSplit(val_size=4).split(np.zeros((6, 2))))
    assert val.tolist() == [0, 1, 2, 3] and train.tolist() == [4, 5]
