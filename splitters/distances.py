"""Distances without an n x n matrix: metric preparation, chunked nearest neighbours, and
exact farthest-point (max-min) selection."""

from __future__ import annotations

import numpy as np

DISTANCE_METRICS = ("euclidean", "cosine")
_CHUNK_BYTES = 8 * 2**20
# float32 squares overflow above ~1.8e19; rows whose largest |value| lies outside this range are
# rescaled by a power of two (exact: the same rankings and picks, only the exponent changes).
_SAFE_RANGE = (2.0**-32, 2.0**32)


def _power_of_two_exponent(*arrays: np.ndarray) -> int:
    """``k`` such that ``2**k`` brings the largest |value| of ``arrays`` near 1, or 0 when it is safe already.

    An exponent, not a factor: ``2**k`` itself may lie beyond float32's range (values of 1e-40
    need ``k = 132``) or even float64's (subnormal float64 values).
    """
    top = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if top == 0.0 or _SAFE_RANGE[0] <= top <= _SAFE_RANGE[1]:
        return 0
    return -int(np.frexp(top)[1])


def _scaled_float32(X: np.ndarray, exponent: int) -> np.ndarray:
    """``X * 2**exponent`` as a new float32 array.

    The scaling is done in float64 before the cast, so values beyond float32's range (or below
    its smallest normal number) keep their precision; in row blocks, so the float64
    temporary stays small.
    """
    if exponent == 0:
        return np.array(X, dtype=np.float32, copy=True)  # never touch the caller's array
    X = np.asarray(X)
    out = np.empty(X.shape, dtype=np.float32)
    rows, into = np.atleast_1d(X), np.atleast_1d(out)  # a 0-d array is one row (into is a view of out)
    step = max(1, _CHUNK_BYTES // (8 * max(1, int(np.prod(rows.shape[1:])))))
    for lo in range(0, len(rows), step):
        into[lo : lo + step] = np.ldexp(np.asarray(rows[lo : lo + step], dtype=np.float64), exponent)
    return out


def scaled_float32(*arrays: np.ndarray) -> list[np.ndarray]:
    """float32 copies of ``arrays``, rescaled together by one power of two when their values are
    too large or too small for float32 arithmetic (largest |value| beyond 2^±32).

    A common power of two changes no ranking, no nearest neighbour and no linear separation,
    only the exponent; values in the safe range are copied as they are.

    Parameters
    ----------
    *arrays : numpy.ndarray
        Finite numeric arrays.

    Returns
    -------
    list of numpy.ndarray
        One float32 array per input, in order.

    Examples
    --------
    >>> [a.tolist() for a in scaled_float32(np.array([1e300]), np.array([-2e300]))]
    [[0.37330543994903564], [-0.7466108798980713]]
    >>> scaled_float32(np.array([1e-40]))[0].tolist()
    [0.5444517731666565]
    """
    exponent = _power_of_two_exponent(*(np.asarray(a) for a in arrays))
    return [_scaled_float32(a, exponent) for a in arrays]


def prepare(X: np.ndarray, metric: str) -> np.ndarray:
    """float32 rows in which Euclidean distance ranks like ``metric`` (cosine: unit rows).

    Values too large (or too small) for float32 distances are rescaled by a power of two,
    which keeps every ranking.

    >>> prepare(np.array([[3.0, 4.0]]), "cosine").tolist()
    [[0.6000000238418579, 0.800000011920929]]
    >>> prepare(np.array([[3e20], [1e20]]), "euclidean").tolist()
    [[0.5082197785377502], [0.16940659284591675]]
    """
    if metric not in DISTANCE_METRICS:
        raise ValueError(f"metric must be one of {DISTANCE_METRICS}, got {metric!r}")
    (out,) = scaled_float32(X)
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
    exponent = _power_of_two_exponent(np.asarray(A), np.asarray(B))
    if exponent:
        d = np.ldexp(nearest_distances(_scaled_float32(A, exponent), _scaled_float32(B, exponent)).astype(np.float64),
                     -exponent)
        # float32 as everywhere else, unless the distances themselves exceed its range (then inf).
        return d.astype(np.float32) if d.max(initial=0.0) <= np.finfo(np.float32).max else d
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


def _min_dist_update(mind: np.ndarray, X: np.ndarray, sq: np.ndarray, P: np.ndarray) -> None:
    """mind = min(mind, distance to each row of P), in row chunks (BLAS-3, no n x n)."""
    pp = np.einsum("ij,ij->i", P, P)
    step = _chunk_rows(len(P))
    for lo in range(0, len(X), step):
        d2 = pp[None, :] - 2.0 * (X[lo : lo + step] @ P.T)
        d2 += sq[lo : lo + step, None]
        np.minimum(mind[lo : lo + step], np.sqrt(np.maximum(d2.min(axis=1), 0.0)), out=mind[lo : lo + step])


def _shortlist(mind: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``size`` rows with the largest distances, their distances, and the largest outside."""
    n = len(mind)
    if size >= n:
        return np.arange(n), mind.copy(), -np.inf
    part = np.argpartition(mind, n - size - 1)
    cand = part[n - size :]
    return cand, mind[cand].copy(), float(mind[part[n - size - 1]])


def farthest_points(X: np.ndarray, n_pick: int, start: int) -> np.ndarray:
    """Greedy max-min selection: ``start``, then repeatedly the row farthest from all picked.

    Exact (the same picks as the one-pick-at-a-time loop, up to float ties), in O(n) memory.
    Instead of a pass over all rows per pick, it keeps a shortlist of the rows with the largest
    distances and updates only them. Distances only shrink, so while the best shortlisted row
    beats the largest (stale) distance outside the list, it is the true farthest row; otherwise
    every row catches up on the pending picks in one chunked matrix product.

    >>> X = np.array([[0.0], [1.0], [10.0], [4.0]])
    >>> farthest_points(X, 3, 0).tolist()
    [0, 2, 3]
    """
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    sq = np.einsum("ij,ij->i", X, X)
    size = int(min(n, max(256, n // 32)))
    mind = np.full(n, np.inf, dtype=np.float32)
    picks = [int(start)]
    _min_dist_update(mind, X, sq, X[[start]])
    mind[start] = -1.0  # picked rows are never picked again
    pending: list[int] = []
    cand, cand_mind, outside_max = _shortlist(mind, size)
    while len(picks) < n_pick:
        best = int(np.argmax(cand_mind))
        if cand_mind[best] < outside_max:
            if pending:
                _min_dist_update(mind, X, sq, X[pending])
                pending = []
            cand, cand_mind, outside_max = _shortlist(mind, size)
            continue
        p = int(cand[best])
        picks.append(p)
        pending.append(p)
        mind[p] = -1.0
        d = np.sqrt(np.maximum(sq[cand] - 2.0 * (X[cand] @ X[p]) + sq[p], 0.0))
        np.minimum(cand_mind, d, out=cand_mind)
        cand_mind[best] = -1.0
    return np.asarray(picks, dtype=np.int64)


def farthest_points_reference(X: np.ndarray, n_pick: int, start: int) -> np.ndarray:
    """The straightforward max-min loop (one numpy pass over all rows per pick), kept as the
    yardstick for :func:`farthest_points` in the tests and the benchmark.

    >>> farthest_points_reference(np.array([[0.0], [1.0], [10.0], [4.0]]), 3, 0).tolist()
    [0, 2, 3]
    """
    X = np.asarray(X)  # the caller's dtype: no handicap for the yardstick
    picks = [start]
    mind = np.linalg.norm(X - X[start], axis=1)
    for _ in range(n_pick - 1):
        p = int(np.argmax(mind))
        picks.append(p)
        mind = np.minimum(mind, np.linalg.norm(X - X[p], axis=1))
    return np.array(picks)
