"""mnist_compare/shifts.py: the shifted test sets of the comparison command and the benchmarks."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_compare import shifts


def _load():
    return shifts


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
    with pytest.raises(ValueError, match="unknown shift 'smear'"):
        apply_shift("smear:2", imgs, labels)
    with pytest.raises(ValueError, match="needs a number"):
        apply_shift("rotate:x", imgs, labels)
    np.testing.assert_array_equal(imgs[:, 8:20, 13:15], 200)  # input untouched


def _square():
    imgs = np.zeros((3, 12, 12), np.uint8)
    imgs[:, 4:8, 4:8] = 200
    return imgs, np.arange(3)


def test_translate_moves_the_square():
    imgs, labels = _square()
    out, lab = apply_shift("translate:2", imgs, labels)
    np.testing.assert_array_equal(out[:, 6:10, 6:10], 200)
    assert out[:, 4:6, 4:8].max() == 0 and out.sum() == imgs.sum()
    np.testing.assert_array_equal(lab, labels)


def test_blur_spreads_ink_but_keeps_it():
    imgs, labels = _square()
    out, _ = apply_shift("blur:1", imgs, labels)
    assert out[0, 5, 5] < 200 and out[0, 3, 5] > 0 and out[0, 0, 0] == 0
    assert abs(int(out.sum()) - int(imgs.sum())) < 0.03 * imgs.sum()


def test_contrast_scales_every_pixel():
    imgs, labels = _square()
    out, _ = apply_shift("contrast:0.5", imgs, labels)
    np.testing.assert_array_equal(out, imgs // 2)
    np.testing.assert_array_equal(apply_shift("contrast:2", imgs, labels)[0][:, 4:8, 4:8], 255)  # clipped
    with pytest.raises(ValueError, match="contrast factor"):
        apply_shift("contrast:-1", imgs, labels)


def test_occlude_blacks_out_one_square_per_image():
    imgs = np.full((50, 10, 10), 100, np.uint8)
    out, _ = apply_shift("occlude:3", imgs, np.zeros(50, int), seed=4)
    assert np.all((out == 0).sum(axis=(1, 2)) == 9)
    for img in out:  # the zeros form one 3 x 3 square
        r, c = np.nonzero(img == 0)
        assert r.max() - r.min() == 2 and c.max() - c.min() == 2
    corners = {(int(np.nonzero(i == 0)[0].min()), int(np.nonzero(i == 0)[1].min())) for i in out}
    assert len(corners) > 10  # placed at random
    np.testing.assert_array_equal(apply_shift("occlude:3", imgs, np.zeros(50, int), seed=4)[0], out)


def test_zoom_about_the_centre():
    imgs, labels = _square()
    small, _ = apply_shift("zoom:0.5", imgs, labels)
    big, _ = apply_shift("zoom:2", imgs, labels)
    ink = [(x > 0).sum() for x in (small[0], imgs[0], big[0])]
    assert ink[0] < ink[1] < ink[2]
    np.testing.assert_array_equal(apply_shift("zoom:1", imgs, labels)[0], imgs)
    assert big[0, 5:7, 5:7].min() == 200 and small[0, 0].max() == 0
    with pytest.raises(ValueError, match="zoom factor"):
        apply_shift("zoom:0", imgs, labels)
