"""Tests that pin what mutation testing of splitters/distances.py found unpinned (docs/mutation):
the float32 rounding of safe-range values, the row blocks and float64 scaling of rescaled
arrays, and the float32/float64 choice of nearest_distances at extreme scales."""

import numpy as np
import pytest

from splitters.distances import nearest_distances, scaled_float32


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant,
                    reason="needs a long double wider than float64 (x86 extended precision)")
def test_safe_range_values_are_rounded_once_to_float32():
    # 1 + 2**-24 + 2**-60 lies just above halfway between two float32 values: cast directly it
    # rounds up; rounded through float64 first it becomes an exact tie and rounds down to 1.0.
    x = np.array([1 + np.longdouble(2) ** -24 + np.longdouble(2) ** -60])
    (out,) = scaled_float32(x)
    assert out.dtype == np.float32
    assert out[0] == np.float32(x[0]) == np.float32(1 + 2.0**-23)


def test_a_rescaled_array_wider_than_a_row_block_gets_every_row_scaled():
    # Rows of 2**20 values make each float64 block a single row, so the second row is only
    # filled if the loop walks the whole array (the output starts uninitialised).
    small = np.array([[1e30], [3e30]])
    X = np.broadcast_to(small, (2, 2**20))  # no memory for the input itself
    (out,) = scaled_float32(X)
    expected = scaled_float32(small)[0]
    assert expected[1, 0] != expected[0, 0]
    assert (out[0] == expected[0, 0]).all() and (out[1] == expected[1, 0]).all()


def test_a_float16_array_rescaled_with_huge_values_keeps_its_small_values():
    # The common factor here is 2**-100; applied in float16 it would flush 1.0 to zero.
    small, huge = scaled_float32(np.array([1.0], dtype=np.float16), np.array([1e30]))
    assert small[0] == np.float32(2.0**-100)
    assert huge[0] == np.float32(np.ldexp(1e30, -100))


def test_no_rows_against_huge_values_give_an_empty_float32_result():
    # B alone forces the rescaled path; the float32/float64 check must cope with no distances.
    d = nearest_distances(np.empty((0, 1)), np.array([[1e30]]))
    assert d.shape == (0,) and d.dtype == np.float32


def test_a_distance_of_exactly_the_float32_maximum_stays_float32():
    # float64 is meant only for distances beyond float32's range; its largest finite value is not.
    top = float(np.finfo(np.float32).max)
    d = nearest_distances(np.array([[0.0]]), np.array([[top]]))
    assert d[0] == top
    assert d.dtype == np.float32


def test_a_single_number_out_of_float32_range_is_rescaled_like_an_array():
    # A 0-d array has no rows to take in blocks; it once raised "len() of unsized object".
    (big,) = scaled_float32(np.array(1e300))
    assert big.shape == () and big.dtype == np.float32
    assert big == scaled_float32(np.array([1e300]))[0][0]
    (small,) = scaled_float32(np.array(3.0))
    assert small.shape == () and small == 3.0
