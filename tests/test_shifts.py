"""scripts/shifts.py: the shifted test sets of the comparison scripts."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load_script


def _load():
    return load_script("shifts")


apply_shift = _load().apply_shift


def test_shifts():
    rng = np.random.default_rng(0)
    imgs = np.zeros((20, 28, 28), np.uint8)
    imgs[:, 8:20, 13:15] = 200  # a vertical bar
    labels = np.repeat(np.arange(10), 2)
    rot, _ = apply_shift("rotate:90", imgs, labels)
    assert rot[:, 13:15, 8:20].mean() > 100 and rot[:, 8:20, 13:15].mean() < imgs[:, 8:20, 13:15].mean()
    thick, _ = apply_shift("thicken:2", imgs, labels)
    thin_, _ = apply_shift("thin:1", imgs, labels)
    assert (thick > 0).sum() > (imgs > 0).sum() > (thin_ > 0).sum()
    noisy, _ = apply_shift("noise:30", imgs, labels, seed=1)
    bar = (slice(None), slice(8, 20), slice(13, 15))  # grey level 200: no clipping for sigma 30
    assert noisy.dtype == np.uint8 and 20 < np.abs(noisy[bar].astype(int) - imgs[bar]).mean() < 28
    big = rng.integers(0, 255, (1000, 4, 4), dtype=np.uint8)
    _, shifted = apply_shift("labelshift:0.1", big, np.repeat(np.arange(10), 100))
    counts = np.bincount(shifted, minlength=10)
    assert counts[0] == 100 and counts[9] == 10 and np.all(np.diff(counts) <= 0)
    with pytest.raises(ValueError, match="unknown shift 'blur'"):
        apply_shift("blur:2", imgs, labels)
    with pytest.raises(ValueError, match="needs a number"):
        apply_shift("rotate:x", imgs, labels)
    np.testing.assert_array_equal(imgs[:, 8:20, 13:15], 200)  # input untouched
