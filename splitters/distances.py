"""Distances without an n x n matrix: metric preparation, chunked nearest neighbours, and
exact farthest-point (max-min) selection with bucket pruning."""

from __future__ import annotations

import numpy as np

METRICS = ("euclidean", "cosine")
_CHUNK_BYTES = 8 * 2**20


def prepare(X: np.ndarray, metric: str) -> np.ndarray:
    """float32 rows in which Euclidean distance ranks like ``metric`` (cosine: unit rows).

    >>> prepare(np.array([[3.0, 4.0]]), "cosine").tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    out = np.array(X, dtype=np.float32, copy=True)  # never touch the caller's array
    if metric == "cosine":
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError("cosine distance is undefined for all-zero rows")
        out /= norms
    return out


def _chunk_rows(n_other: int) -> int:
    return max(1, _CHUNK_BYTES // (4 * max(n_other, 1)))


def nearest_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """For each row of ``A``, the Euclidean distance to its nearest row of ``B``; computed in
    chunks so memory stays linear.

    >>> nearest_distances(np.array([[0.0], [5.0]]), np.array([[1.0], [2.0]])).tolist()
    [1.0, 3.0]
    """
    A = np.asarray(A, dtype=np.float32)
    B = np.asarray(B, dtype=np.float32)
    bb = np.einsum("ij,ij->i", B, B)
    out = np.empty(len(A), dtype=np.float32)
    step = _chunk_rows(len(B))
    for lo in range(0, len(A), step):
        a = A[lo : lo + step]
        d2 = bb[None, :] - 2.0 * (a @ B.T)
        d2 += np.einsum("ij,ij->i", a, a)[:, None]
        out[lo : lo + step] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def assign_nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center for each row, in chunks."""
    cc = np.einsum("ij,ij->i", centers, centers)
    out = np.empty(len(X), dtype=np.int64)
    step = _chunk_rows(len(centers))
    for lo in range(0, len(X), step):
        out[lo : lo + step] = (cc[None, :] - 2.0 * (X[lo : lo + step] @ centers.T)).argmin(axis=1)
    return out


def farthest_points(X: np.ndarray, n_pick: int, start: int, rng: np.random.RandomState) -> np.ndarray:
    """Greedy max-min selection: ``start``, then repeatedly the row farthest from all picked.

    Exact, in O(n) memory. Rows are grouped into about sqrt(n) buckets around random centers;
    a new pick can only lower the distances in buckets it is close to (triangle inequality:
    ``d(p, q) >= d(p, c) - r``), so after the first picks most buckets are skipped.

    >>> X = np.array([[0.0], [1.0], [10.0], [4.0]])
    >>> farthest_points(X, 3, 0, np.random.RandomState(0)).tolist()
    [0, 2, 3]
    """
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    k = int(min(n, max(1, round(np.sqrt(n)))))
    centers = X[rng.choice(n, size=k, replace=False)]
    bucket = assign_nearest(X, centers)
    order = np.argsort(bucket, kind="stable")
    Xs = X[order]
    sq = np.einsum("ij,ij->i", Xs, Xs)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=k))])
    lo_of, hi_of = bounds[:-1], bounds[1:]
    nonempty = hi_of > lo_of
    # Radius of each bucket: farthest member from its center.
    center_of_row = centers[bucket[order]]
    radius = np.zeros(k, dtype=np.float32)
    row_r = np.sqrt(np.maximum(((Xs - center_of_row) ** 2).sum(axis=1), 0.0))
    del center_of_row
    np.maximum.at(radius, bucket[order], row_r)
    csq = np.einsum("ij,ij->i", centers, centers)

    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    mind = np.full(n, np.inf, dtype=np.float32)
    bmax = np.where(nonempty, np.inf, -np.inf).astype(np.float32)
    picks = np.empty(n_pick, dtype=np.int64)
    p = int(where[start])
    for i in range(n_pick):
        picks[i] = p
        x = Xs[p]
        xx = sq[p]
        dc = np.sqrt(np.maximum(csq - 2.0 * (centers @ x) + xx, 0.0))
        touched = np.flatnonzero(dc - radius < bmax)
        if len(touched) > k // 4:  # many buckets: one vectorised pass over all rows
            d = np.sqrt(np.maximum(sq - 2.0 * (Xs @ x) + xx, 0.0))
            np.minimum(mind, d, out=mind)
            starts = lo_of[nonempty]
            bmax[nonempty] = np.maximum.reduceat(mind, starts)
        else:
            for b in touched:
                lo, hi = lo_of[b], hi_of[b]
                seg = mind[lo:hi]
                d = np.sqrt(np.maximum(sq[lo:hi] - 2.0 * (Xs[lo:hi] @ x) + xx, 0.0))
                np.minimum(seg, d, out=seg)
                bmax[b] = seg.max()
        mind[p] = -1.0  # picked: never again
        b = int(np.argmax(bmax))
        if i + 1 < n_pick:
            lo, hi = lo_of[b], hi_of[b]
            seg = mind[lo:hi]
            p = int(lo + np.argmax(seg))
    return order[picks]
