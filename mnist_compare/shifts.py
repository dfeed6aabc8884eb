"""Shifted copies of an image test set, to see when a validation split lies.

Scenario generation for the comparison scripts, kept out of the ``splitters`` package: it works
on (N, H, W) uint8 images only, while ``splitters`` takes any feature matrix.

Each shift takes ``(images, labels, rng)`` with ``images`` a ``(N, H, W)`` uint8 array and
returns new arrays (the inputs are not modified). :func:`apply_shift` parses ``"NAME:VALUE"``.

>>> import numpy as np
>>> imgs = np.zeros((3, 8, 8), np.uint8); imgs[:, 3:5, 3:5] = 255
>>> out, labels = apply_shift("thicken:1", imgs, np.arange(3))
>>> int((out > 0).sum()) > int((imgs > 0).sum())
True
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def rotate(images, labels, rng, degrees: float):
    """Rotate every image by ``degrees`` (counter-clockwise) about its centre."""
    out = ndimage.rotate(images.astype(np.float32), degrees, axes=(2, 1), reshape=False, order=1, mode="constant")
    return _to_uint8(out), labels.copy()


def thicken(images, labels, rng, pixels: float):
    """Thicker strokes: grey dilation with a (pixels+1)-square footprint."""
    k = int(pixels) + 1
    return ndimage.grey_dilation(images, size=(1, k, k)), labels.copy()


def thin(images, labels, rng, pixels: float):
    """Thinner strokes: grey erosion with a (pixels+1)-square footprint."""
    k = int(pixels) + 1
    return ndimage.grey_erosion(images, size=(1, k, k)), labels.copy()


def noise(images, labels, rng, sigma: float):
    """Add Gaussian noise of standard deviation ``sigma`` grey levels."""
    return _to_uint8(images + rng.normal(0.0, sigma, images.shape)), labels.copy()


def label_shift(images, labels, rng, ratio: float):
    """Change class proportions: class ``k`` of ``K`` keeps a fraction ``ratio ** (k / (K - 1))`` of
    its rows (class 0 keeps all, the last keeps ``ratio``)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"labelshift ratio must lie in (0, 1], got {ratio}")
    classes = np.unique(labels)
    keep = np.zeros(len(labels), dtype=bool)
    for i, c in enumerate(classes):
        rows = np.flatnonzero(labels == c)
        frac = ratio ** (i / max(len(classes) - 1, 1))
        keep[rng.choice(rows, size=max(1, round(frac * len(rows))), replace=False)] = True
    return images[keep], labels[keep]


def translate(images, labels, rng, pixels: float):
    """Move every image ``pixels`` to the right and down (zeros enter at the edges)."""
    out = ndimage.shift(images.astype(np.float32), (0, pixels, pixels), order=1, mode="constant")
    return _to_uint8(out), labels.copy()


def blur(images, labels, rng, sigma: float):
    """Gaussian blur of standard deviation ``sigma`` pixels."""
    return _to_uint8(ndimage.gaussian_filter(images.astype(np.float32), (0, sigma, sigma))), labels.copy()


def contrast(images, labels, rng, factor: float):
    """Scale every pixel by ``factor`` (0.5 halves the contrast against the black background)."""
    if factor < 0:
        raise ValueError(f"contrast factor must be >= 0, got {factor}")
    return _to_uint8(images.astype(np.float32) * factor), labels.copy()


def occlude(images, labels, rng, size: float):
    """Black out one ``size`` x ``size`` square per image, at a random place inside it."""
    n, h, w = images.shape
    k = int(min(size, h, w))
    out = images.copy()
    top, left = rng.integers(0, h - k + 1, n), rng.integers(0, w - k + 1, n)
    rows = top[:, None, None] + np.arange(k)[None, :, None]
    cols = left[:, None, None] + np.arange(k)[None, None, :]
    out[np.arange(n)[:, None, None], rows, cols] = 0
    return out, labels.copy()


def zoom(images, labels, rng, factor: float):
    """Scale every image by ``factor`` about its centre, keeping its size (<1 shrinks, >1 enlarges and crops)."""
    if factor <= 0:
        raise ValueError(f"zoom factor must be > 0, got {factor}")
    h, w = images.shape[1:]
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    # affine_transform maps output coordinates to input ones: input = centre + (output - centre) / factor
    matrix = np.diag([1.0, 1 / factor, 1 / factor])
    offset = np.concatenate([[0.0], centre - centre / factor])
    out = ndimage.affine_transform(images.astype(np.float32), matrix, offset=offset, order=1, mode="constant")
    return _to_uint8(out), labels.copy()


SHIFTS = {"rotate": rotate, "thicken": thicken, "thin": thin, "noise": noise, "labelshift": label_shift,
          "translate": translate, "blur": blur, "contrast": contrast, "occlude": occlude, "zoom": zoom}


def parse_shift(spec: str) -> list[tuple[str, float]]:
    """``"NAME:VALUE[+NAME:VALUE...]"`` as ``[(name, value), ...]``; ValueError naming what is wrong."""
    out = []
    for part in spec.split("+"):
        name, _, value = part.partition(":")
        if name not in SHIFTS:
            raise ValueError(f"unknown shift {name!r}; choose one of {sorted(SHIFTS)} as NAME:VALUE (combine with +)")
        try:
            out.append((name, float(value)))
        except ValueError:
            raise ValueError(f"shift {part!r} needs a number after the colon, e.g. {name}:1") from None
    return out


def apply_shift(spec: str, images: np.ndarray, labels: np.ndarray, seed: int = 0):
    """Apply ``"name:value"`` (``rotate:30``, ``thicken:1``, ``thin:1``, ``noise:40``, ``labelshift:0.2``,
    ``translate:2``, ``blur:1``, ``contrast:0.5``, ``occlude:10``, ``zoom:0.8``), or several joined by
    ``+`` in order (``thicken:1+rotate:15``; the i-th drawn with seed ``seed + 17 * i``, as
    bench_estimates.py does)."""
    shifts = parse_shift(spec)
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"shifts work on (N, H, W) uint8 images, got {images.dtype} {images.shape}")
    labels = np.asarray(labels)
    for i, (name, value) in enumerate(shifts):
        images, labels = SHIFTS[name](images, labels, np.random.default_rng(seed + 17 * i), value)
    return images, labels
