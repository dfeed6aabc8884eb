"""The splitters contract, every strategy's properties, planted structure, and bad input."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, check_cv, cross_val_score

import splitters
from splitters import (
    ClusterSplit,
    GroupSplit,
    HeadSplit,
    MaxMinSplit,
    RandomSplit,
    SplitSizeWarning,
    TailSplit,
    TargetMatchedSplit,
)
from splitters.distances import farthest_points, farthest_points_reference, nearest_distances, prepare


def _target(n_features=3, seed=0):
    return np.random.default_rng(seed).normal(2.0, 1.0, (40, n_features))


def all_strategies(val_size, seed):
    return [
        TailSplit(val_size=val_size),
        HeadSplit(val_size=val_size),
        RandomSplit(val_size=val_size, random_state=seed),
        RandomSplit(val_size=val_size, stratify=True, random_state=seed),
        GroupSplit(val_size=val_size, random_state=seed),
        MaxMinSplit(val_size=val_size, random_state=seed),
        MaxMinSplit(val_size=val_size, metric="cosine", random_state=seed),
        ClusterSplit(val_size=val_size, n_clusters=4, random_state=seed),
        TargetMatchedSplit(val_size=val_size, X_target=_target(), random_state=seed),
    ]


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) + 0.1
    y = np.arange(n) % 3
    groups = np.arange(n) // 2  # groups of 2: never larger than any val_size >= 2
    return X, y, groups


# --- contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("s", all_strategies(0.25, 0), ids=lambda s: type(s).__name__)
def test_sklearn_contract(s):
    params = s.get_params()
    assert params["val_size"] == 0.25
    twin = clone(s)
    assert repr(twin) == repr(s) and type(twin) is type(s)
    s2 = clone(s).set_params(val_size=0.3)
    assert s2.val_size == 0.3
    assert check_cv(s) is s
    assert repr(s).startswith(type(s).__name__ + "(")


def test_usable_as_cv_in_grid_search_and_cross_val_score():
    X, y, groups = _data(120)
    for s in (RandomSplit(val_size=0.25, n_splits=3, random_state=0), MaxMinSplit(val_size=30, random_state=0),
              TailSplit(val_size=30), GroupSplit(val_size=30, random_state=0)):
        scores = cross_val_score(LogisticRegression(), X, y, cv=s, groups=groups)
        assert len(scores) == s.get_n_splits()
        gs = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=s).fit(X, y, groups=groups)
        assert gs.n_splits_ == s.get_n_splits()


def test_get_by_name():
    assert isinstance(splitters.get("maxmin", val_size=3), MaxMinSplit)
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        splitters.get("nope")


# --- properties -------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(12, 80), frac=st.floats(0.25, 0.6), seed=st.integers(0, 2**16), as_count=st.booleans())
def test_partition_and_sizes(n, frac, seed, as_count):
    X, y, groups = _data(n, seed)
    val_size = max(3, int(frac * n)) if as_count else frac
    expected = val_size if as_count else splitters.resolve_size(frac, n)
    for s in all_strategies(val_size, seed):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            splits = list(s.split(X, y, groups))
        assert len(splits) == s.get_n_splits()
        for train, val in splits:
            assert train.dtype == np.int64 and val.dtype == np.int64
            assert len(np.intersect1d(train, val)) == 0
            assert np.array_equal(np.union1d(train, val), np.arange(n))
            if isinstance(s, GroupSplit):
                assert len(val) <= expected  # documented: never more, warns when fewer
                assert (len(val) == expected) or any(issubclass(w.category, SplitSizeWarning) for w in caught)
                assert not set(groups[val]) & set(groups[train])
            else:
                assert len(val) == expected, type(s).__name__


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_random_state_reproducible_and_different(seed):
    X, y, groups = _data(60, 1)
    for cls in (RandomSplit, MaxMinSplit, GroupSplit, ClusterSplit):
        kw = {"n_clusters": 5} if cls is ClusterSplit else {}
        a = next(cls(val_size=12, random_state=seed, **kw).split(X, y, groups))[1]
        b = next(cls(val_size=12, random_state=seed, **kw).split(X, y, groups))[1]
        np.testing.assert_array_equal(a, b)
    different = [
        not np.array_equal(next(RandomSplit(val_size=12, random_state=seed).split(X))[1],
                           next(RandomSplit(val_size=12, random_state=seed + 1).split(X))[1]),
        not np.array_equal(next(GroupSplit(val_size=12, random_state=seed).split(X, groups=groups))[1],
                           next(GroupSplit(val_size=12, random_state=seed + 1).split(X, groups=groups))[1]),
    ]
    assert all(different)
    # n_splits > 1 draws differ from each other
    reps = [v for _, v in RandomSplit(val_size=12, n_splits=3, random_state=seed).split(X)]
    assert not np.array_equal(reps[0], reps[1])


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(2, 30), min_size=2, max_size=6), frac=st.floats(0.15, 0.5),
       seed=st.integers(0, 1000))
def test_stratified_shares_within_one(counts, frac, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    n_val = splitters.resolve_size(frac, n)
    if n_val < len(counts) or n - n_val < len(counts):
        return
    _, val = next(RandomSplit(val_size=frac, stratify=True, random_state=seed).split(np.zeros((n, 1)), y))
    got = np.bincount(y[val], minlength=len(counts))
    share = np.array(counts) * n_val / n
    assert np.all(np.abs(got - share) <= 1.0 + 1e-9)


def test_tail_and_head_positions():
    X = np.zeros((10, 1))
    assert next(TailSplit(val_size=3).split(X))[1].tolist() == [7, 8, 9]
    assert next(HeadSplit(val_size=0.3).split(X))[1].tolist() == [0, 1, 2]


# --- farthest points ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, d", [(500, 2), (3000, 10), (2000, 50)])
def test_farthest_points_matches_naive(n, d):
    X = np.random.default_rng(n).normal(size=(n, d)).astype(np.float32)
    fast = farthest_points(X, 200, 7)
    np.testing.assert_array_equal(fast, farthest_points_reference(X, 200, 7))


def test_memory_is_linear_no_n_by_n():
    X = np.random.default_rng(0).normal(size=(20000, 20)).astype(np.float32)
    tracemalloc.start()
    for s in (MaxMinSplit(val_size=500, random_state=0), ClusterSplit(val_size=500, random_state=0),
              TargetMatchedSplit(val_size=500, X_target=X[:2000] + 1, random_state=0)):
        next(s.split(X))
    nearest_distances(X, X[:5000])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_by_n = 20000 * 20000 * 4  # 1.6 GB
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert peak < n_by_n / 16


# --- planted structure -----------------------------------------------------------------------------

def _planted(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 10, (8, 5))
    labels = rng.integers(0, 8, 1600)
    X = centers[labels] + rng.normal(0, 1, (1600, 5))
    return X, labels, centers


def _mean_nn(X, train, val):
    return float(nearest_distances(X[val], X[train]).mean())


def test_dissimilarity_strategies_put_validation_far_from_training():
    X, _, _ = _planted()
    random_d = np.mean([_mean_nn(X, *next(RandomSplit(val_size=200, random_state=s).split(X))) for s in range(3)])
    for s in (MaxMinSplit(val_size=200, random_state=0), ClusterSplit(val_size=200, n_clusters=8, random_state=0)):
        d = _mean_nn(X, *next(s.split(X)))
        assert d > 1.2 * random_d, (type(s).__name__, d, random_d)


def test_target_matched_is_closer_to_the_target_than_random():
    X, labels, centers = _planted(1)
    rng = np.random.default_rng(5)
    target = centers[6] + rng.normal(0, 1, (300, 5))  # the model will meet cluster 6
    tm = next(TargetMatchedSplit(val_size=150, X_target=target, random_state=0).split(X))[1]
    rnd = next(RandomSplit(val_size=150, random_state=0).split(X))[1]
    assert nearest_distances(X[tm], target).mean() < 0.5 * nearest_distances(X[rnd], target).mean()
    assert (labels[tm] == 6).mean() > 0.8


# --- bad input ------------------------------------------------------------------------------------

X0, Y0, G0 = _data(30)


@pytest.mark.parametrize("make, args, fragment", [
    (lambda: TailSplit(val_size=0), (X0,), "at least 1"),
    (lambda: TailSplit(val_size=30), (X0,), "less than the pool size"),
    (lambda: TailSplit(val_size=1.0), (X0,), "strictly between 0 and 1"),
    (lambda: TailSplit(val_size=-0.2), (X0,), "strictly between 0 and 1"),
    (lambda: TailSplit(val_size="a"), (X0,), "count or a fraction"),
    (lambda: MaxMinSplit(val_size=3), (np.where(np.eye(30, 3) > 0, np.nan, X0),), "NaN or infinite"),
    (lambda: ClusterSplit(val_size=3, n_clusters=2), (np.where(np.eye(30, 3) > 0, np.inf, X0),), "NaN or infinite"),
    (lambda: TailSplit(val_size=3), (np.zeros(30),), "must be 2-D"),
    (lambda: TailSplit(val_size=3), (np.zeros((0, 3)),), "empty"),
    (lambda: RandomSplit(val_size=3, stratify=True), (X0, Y0[:-1]), "y must be 1-D with one entry per row"),
    (lambda: GroupSplit(val_size=3), (X0, None, G0[:5]), "groups must be 1-D"),
    (lambda: RandomSplit(val_size=5, stratify=True), (X0, np.r_[np.zeros(29), 1]), "single sample"),
    (lambda: GroupSplit(val_size=3), (X0, None, np.arange(30) // 10), "has 10 samples, more than the validation size 3"),
    (lambda: GroupSplit(val_size=3), (X0,), "needs groups"),
    (lambda: TargetMatchedSplit(val_size=3), (X0,), "needs X_target"),
    (lambda: TargetMatchedSplit(val_size=3, X_target=np.zeros((5, 4))), (X0,), "4 features but X has 3"),
    (lambda: MaxMinSplit(val_size=3, metric="manhattan"), (X0,), "metric must be one of"),
    (lambda: RandomSplit(val_size=3, n_splits=0), (X0,), "n_splits must be a positive integer"),
])
def test_bad_input_plain_value_errors(make, args, fragment):
    with pytest.raises(ValueError, match=None) as err:
        list(make().split(*args))
    assert fragment in str(err.value)


def test_callers_arrays_are_not_mutated():
    X, y, groups = _data(50)
    copies = X.copy(), y.copy(), groups.copy()
    target = _target()
    t_copy = target.copy()
    for s in all_strategies(10, 0) + [TargetMatchedSplit(val_size=10, X_target=target, random_state=0)]:
        list(s.split(X, y, groups))
    for a, b in zip((X, y, groups, target), (*copies, t_copy)):
        np.testing.assert_array_equal(a, b)


def test_split_dataset_selects_without_copy():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"x": np.arange(20.0).reshape(10, 2).tolist(), "label": [0, 1] * 5})
    parts = splitters.split_dataset(ds, RandomSplit(val_size=4, stratify=True, random_state=0), "x")
    assert parts["validation"].num_rows == 4 and parts["train"].num_rows == 6
    # an indices mapping (or, for contiguous rows, a slice) over the same table
    def buffer(d):
        return d.data.column("label").chunk(0).buffers()[1].address

    assert buffer(parts["train"]) == buffer(parts["validation"]) == buffer(ds)  # the same Arrow memory
    assert sorted(parts["validation"]["label"]) == [0, 0, 1, 1]


def test_image_features_pipeline():
    images = np.random.default_rng(0).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    Z = splitters.image_features(5).fit_transform(images)
    assert Z.shape == (50, 5)
    Zc = splitters.image_features(5, metric="cosine").fit_transform(images)
    np.testing.assert_allclose(np.linalg.norm(Zc, axis=1), 1.0, rtol=1e-5)


# --- input rules (issue 10) ---------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1e19, 1e25, 1e300, 1e-30])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_maxmin_returns_every_row_asked_for_at_any_scale(scale, metric):
    X = np.random.default_rng(0).normal(size=(200, 5)) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning either
        _, val = next(MaxMinSplit(val_size=20, metric=metric, random_state=0).split(X))
        _, ref = next(MaxMinSplit(val_size=20, metric=metric, random_state=0).split(X / scale))
    assert len(val) == 20
    np.testing.assert_array_equal(val, ref)  # a power-of-two rescaling: the same picks as at unit scale


@pytest.mark.parametrize("scale", [1e-40, 1e-44, 5e-324 * 2**40, 1e300])
@pytest.mark.parametrize("strategy", ["maxmin", "cluster"])
def test_tiny_and_huge_values_are_rescaled_not_lost(strategy, scale):
    # Issue 19: at 1e-40 the rescaling factor (2**132) overflowed float32: max-min picked 3 distinct
    # rows for 15, k-means saw infinity (1e-40) or NaN (1e-44).
    X = np.random.default_rng(0).normal(size=(200, 5))
    make = {"maxmin": lambda: MaxMinSplit(val_size=15, random_state=0),
            "cluster": lambda: ClusterSplit(val_size=15, n_clusters=5, random_state=0)}[strategy]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, val = next(make().split(X * scale))
    _, ref = next(make().split(X))
    assert len(set(val.tolist())) == 15
    if scale != 5e-324 * 2**40:  # the others keep float64's 53 bits: the same picks as at unit scale
        np.testing.assert_array_equal(np.sort(val), np.sort(ref))


@pytest.mark.parametrize("scale", [1e300, 1e-40])
def test_target_matched_split_with_finite_values_beyond_float32(scale):
    # Issue 19: finite values of 1e300 became infinity in float32 ("Input X contains infinity").
    rng = np.random.default_rng(0)
    pool = np.r_[rng.normal(0, 1, (90, 2)), rng.normal(4, 1, (10, 2))] * scale
    s = TargetMatchedSplit(val_size=10, X_target=rng.normal(4, 1, (50, 2)) * scale, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, v = next(s.split(pool))
    assert int((v >= 90).sum()) >= 8


def test_scaled_float32_uses_one_power_of_two_for_all_arrays():
    from splitters.distances import scaled_float32

    a, b = scaled_float32(np.array([[3e300]]), np.array([[1e299]]))
    assert a.dtype == b.dtype == np.float32 and 0.5 <= a[0, 0] < 1
    np.testing.assert_allclose(a / b, 30.0, rtol=1e-6)
    plain = np.array([[1.5, -2.0]])
    np.testing.assert_array_equal(scaled_float32(plain)[0], plain)  # the safe range is copied as it is


class PicksTwice(splitters.ValidationSplitter):
    def __init__(self, val_size=0.1):
        self.val_size = val_size

    def _validation_indices(self, X, y, groups, n_val, rng):
        return np.zeros(n_val, dtype=int)


def test_a_strategy_never_returns_fewer_rows_silently():
    with pytest.raises(RuntimeError, match="picked 3 validation rows but only 1 distinct"):
        next(PicksTwice(val_size=3).split(X0))


NAN_X = np.where(np.eye(30, 3) > 0, np.nan, X0)


@pytest.mark.parametrize("s", [TailSplit(val_size=3), HeadSplit(val_size=3), RandomSplit(val_size=3, random_state=0),
                               GroupSplit(val_size=4, random_state=0)], ids=lambda s: type(s).__name__)
def test_row_count_strategies_accept_nan_and_sparse_X(s):
    sparse = pytest.importorskip("scipy.sparse")
    for X in (NAN_X, np.where(np.eye(30, 3) > 0, np.inf, X0), sparse.csr_matrix(X0)):
        _, val = next(s.split(X, Y0, G0))
        assert 0 < len(val) <= 4


@pytest.mark.parametrize("s", [MaxMinSplit(val_size=3), ClusterSplit(val_size=3, n_clusters=2),
                               TargetMatchedSplit(val_size=3, X_target=_target())], ids=lambda s: type(s).__name__)
def test_feature_strategies_say_what_a_sparse_X_needs(s):
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match=r"X is a scipy sparse matrix.*dense array: pass X.toarray\(\)"):
        next(s.split(sparse.csr_matrix(X0)))


def test_pandas_nullable_float_columns_are_read_as_floats():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X0, columns=["a", "b", "c"]).astype("Float64")
    _, val = next(MaxMinSplit(val_size=5, random_state=0).split(frame))
    np.testing.assert_array_equal(val, next(MaxMinSplit(val_size=5, random_state=0).split(X0))[1])
    _, val = next(TargetMatchedSplit(val_size=5, X_target=pd.DataFrame(_target()).astype("Float64"),
                                     random_state=0).split(frame))
    assert len(val) == 5
    frame.iloc[3, 1] = pd.NA
    with pytest.raises(ValueError, match="NaN or infinite values in 1 row"):
        next(MaxMinSplit(val_size=5).split(frame))
    assert len(next(TailSplit(val_size=5).split(frame))[1]) == 5  # only the row count matters
    with pytest.raises(ValueError, match="X must be numeric"):
        next(MaxMinSplit(val_size=5).split(pd.DataFrame({"a": pd.array(["x"] * 30, dtype="string"), "b": 1.0})))


@pytest.mark.parametrize("groups, fragment", [
    ([None] * 10 + list(range(20)), "groups has 10 missing (None) entries"),
    (["a"] * 15 + [1] * 15, "groups mixes values that cannot be compared (int, str)"),
])
def test_bad_groups_are_plain_value_errors(groups, fragment):
    with pytest.raises(ValueError) as err:
        next(GroupSplit(val_size=5, random_state=0).split(X0, groups=np.array(groups, dtype=object)))
    assert fragment in str(err.value)


def test_numpy_integers_are_accepted_for_every_integer_parameter():
    i = np.int64
    X, y, groups = _data(60)
    for s in (TailSplit(val_size=i(6)), HeadSplit(val_size=np.int32(6)),
              RandomSplit(val_size=i(6), n_splits=i(2), random_state=i(0)),
              GroupSplit(val_size=i(6), n_splits=i(2), random_state=i(1)),
              MaxMinSplit(val_size=i(6), n_splits=i(2), random_state=i(0)),
              ClusterSplit(val_size=i(6), n_clusters=i(3), n_splits=i(2), random_state=i(0)),
              TargetMatchedSplit(val_size=i(6), X_target=_target(), cv=i(2), random_state=i(0))):
        splits = list(s.split(X, y, groups))
        assert len(splits) == s.get_n_splits() and all(len(v) == 6 for _, v in splits), s


@pytest.mark.parametrize("make, fragment", [
    (lambda: ClusterSplit(val_size=3, n_clusters=2.5), "n_clusters must be an integer >= 2"),
    (lambda: TargetMatchedSplit(val_size=3, X_target=_target(), cv=2.0), "cv must be an integer >= 2"),
    (lambda: RandomSplit(val_size=3, n_splits=True), "n_splits must be a positive integer"),
])
def test_non_integer_counts_are_refused(make, fragment):
    with pytest.raises(ValueError) as err:
        next(make().split(X0))
    assert fragment in str(err.value)


def test_split_dataset_reads_columns_in_one_batch(monkeypatch):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"x": np.arange(40.0).reshape(20, 2).tolist(), "label": [0, 1] * 10,
                                     "writer": np.arange(20) // 2})
    picked = ds.select([3, 1, 4, 0, 5, 9, 2, 6])  # an indices mapping: columns must follow it
    real = datasets.Dataset.__getitem__

    def no_column_access(self, key):  # ds["label"] is a lazy, row-by-row column on datasets >= 4
        assert not isinstance(key, str), f"per-row column read of {key!r}"
        return real(self, key)

    monkeypatch.setattr(datasets.Dataset, "__getitem__", no_column_access)
    parts = splitters.split_dataset(picked, GroupSplit(val_size=2, random_state=0), "x", groups="writer")
    val = parts["validation"].with_format("numpy")[:]
    assert len(set(val["writer"].tolist())) == 1 and val["x"].shape == (2, 2)
    np.testing.assert_array_equal(val["writer"], val["x"][:, 0] // 4)  # x and writer from the same rows
    with pytest.raises(ValueError, match="no column 'nope'"):
        splitters.split_dataset(picked, TailSplit(val_size=2), "nope")


# --- distances.py, pinned by mutation testing (docs/mutation) ------------------------------------

def test_prepare_cosine_unit_rows_euclidean_untouched():
    X = np.array([[3.0, 4.0], [0.0, 2.0]])
    np.testing.assert_allclose(prepare(X, "cosine"), [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    euclidean = prepare(X, "euclidean")
    assert euclidean.dtype == np.float32
    np.testing.assert_array_equal(euclidean, X.astype(np.float32))
    with pytest.raises(ValueError) as err:
        prepare(np.array([[2.0, 0.0], [0.0, 0.0]]), "cosine")
    assert str(err.value) == "cosine distance is undefined for all-zero rows"


@pytest.mark.parametrize("top", [2.0**-32, 2.0**32])
def test_prepare_keeps_values_at_the_edges_of_the_safe_range(top):
    X = np.array([[top, top / 2]])
    np.testing.assert_array_equal(prepare(X, "euclidean"), X.astype(np.float32))


def test_prepare_extreme_values_and_empty_input():
    Z = prepare(np.array([[3e300], [1e300]]), "euclidean")
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert Z[0, 0] / Z[1, 0] == pytest.approx(3.0)
    assert prepare(np.empty((0, 3)), "euclidean").shape == (0, 3)
    assert nearest_distances(np.empty((0, 2)), np.ones((3, 2))).shape == (0,)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", [1.0, 2.0**40])
def test_prepare_never_writes_to_the_callers_float32_array(metric, scale):
    X = (np.arange(1.0, 7.0).reshape(3, 2) * scale).astype(np.float32)
    before = X.copy()
    prepare(X, metric)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("scale", [1.0, 2.0**100, 2.0**-100])
def test_nearest_distances_by_hand_at_any_scale(scale):
    A = np.array([[0.0, 0.0], [5.0, 0.0]]) * scale
    B = np.array([[3.0, 4.0], [5.5, 0.0]]) * scale
    d = nearest_distances(A, B)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d / scale, [5.0, 0.5], rtol=1e-6)


def test_nearest_distances_scale_comes_from_both_sides():
    big = np.array([[3e30, 4e30]])
    np.testing.assert_allclose(nearest_distances(big, np.zeros((1, 2))), [5e30], rtol=1e-6)
    np.testing.assert_allclose(nearest_distances(np.zeros((1, 2)), big), [5e30], rtol=1e-6)


def test_nearest_distances_compute_in_float32():
    # float32 like farthest_points, so both see the same distances (and chunks stay 4 bytes a value)
    near_one = np.array([[1.0 + 2.0**-25]])  # 1.0 in float32, 3e-8 away from it in float64
    assert nearest_distances(near_one, np.array([[1.0]])).tolist() == [0.0]
    assert nearest_distances(np.array([[1.0]]), near_one).tolist() == [0.0]


def test_small_chunks_give_the_same_distances_and_picks(monkeypatch):
    import splitters.distances as distances

    X = np.random.default_rng(3).normal(size=(300, 4)).astype(np.float32)
    B = X[:40] + 0.5
    whole = nearest_distances(X, B), farthest_points(X, 60, 0)
    monkeypatch.setattr(distances, "_CHUNK_BYTES", 200)  # 1 row per chunk against 40, 50 against 1
    np.testing.assert_allclose(nearest_distances(X, B), whole[0], rtol=1e-5)  # BLAS rounds a row alone differently
    np.testing.assert_array_equal(farthest_points(X, 60, 0), whole[1])


def test_farthest_points_asked_for_every_row_picks_each_once_despite_duplicates():
    X = np.repeat(np.random.default_rng(4).normal(size=(5, 3)) * 1000, 60, axis=0)
    picks = farthest_points(X, len(X), 0)
    np.testing.assert_array_equal(np.sort(picks), np.arange(len(X)))
    assert sorted(set(X[picks[:5], 0].tolist())) == sorted(set(X[:, 0].tolist()))  # the 5 distinct points first


@pytest.mark.parametrize("seed", [7, 16, 19])  # shapes where a shortlist cut one row off picks differently
def test_farthest_points_matches_naive_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(260, 600)), int(rng.integers(1, 6))
    n_pick = int(rng.integers(20, n))
    X = rng.normal(size=(n, d)).astype(np.float32)
    np.testing.assert_array_equal(farthest_points(X, n_pick, 0), farthest_points_reference(X, n_pick, 0))


def test_nearest_distances_beyond_float32_range_stay_finite():
    # Distances above float32's limit (~3.4e38) come back finite, in float64.
    from splitters.distances import nearest_distances

    A = np.array([[0.0, 0.0], [1e300, 0.0]])
    B = np.array([[3e300, 0.0]])
    d = nearest_distances(A, B)
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d, [3e300, 2e300], rtol=1e-6)
