"""RandomSplit, GroupSplit, MaxMinSplit, ClusterSplit and TargetMatchedSplit: defaults, the exact
error messages, and each selection rule pinned on small hand-made inputs (docs/mutation)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from splitters import ClusterSplit, GroupSplit, MaxMinSplit, RandomSplit, SplitSizeWarning, TargetMatchedSplit


def _val(splitter, X, y=None, groups=None):
    return next(splitter.split(X, y, groups))[1]


def _raises(splitter, X, message, y=None, groups=None):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        next(splitter.split(X, y, groups))


# --- defaults -------------------------------------------------------------------------------------

def test_defaults_take_a_tenth_of_the_pool_in_one_split():
    X = np.random.default_rng(0).normal(size=(40, 2))
    target = np.random.default_rng(1).normal(size=(10, 2))
    for s in (RandomSplit(random_state=0), GroupSplit(random_state=0), MaxMinSplit(random_state=0),
              ClusterSplit(random_state=0), TargetMatchedSplit(X_target=target, random_state=0)):
        assert s.get_n_splits() == 1
        splits = list(s.split(X, None, np.arange(40)))
        assert [len(v) for _, v in splits] == [4], type(s).__name__


def test_documented_defaults_in_get_params():
    assert RandomSplit().get_params() == {"val_size": 0.1, "stratify": False, "n_splits": 1, "random_state": None}
    assert GroupSplit().get_params() == {"val_size": 0.1, "n_splits": 1, "random_state": None}
    assert MaxMinSplit().get_params() == {"val_size": 0.1, "metric": "euclidean", "n_splits": 1, "random_state": None}
    assert ClusterSplit().get_params() == {"val_size": 0.1, "n_clusters": 20, "metric": "euclidean", "n_splits": 1,
                                           "random_state": None}
    assert TargetMatchedSplit().get_params() == {"val_size": 0.1, "X_target": None, "estimator": None, "cv": 3,
                                                 "random_state": None}


# --- RandomSplit(stratify=True): what it refuses, and where the limits are -------------------------

def test_stratified_random_split_without_y_says_so():
    _raises(RandomSplit(val_size=3, stratify=True), np.zeros((10, 1)), "stratify=True needs y")
    assert len(_val(RandomSplit(val_size=3), np.zeros((10, 1)))) == 3  # without stratify, y is not needed


def test_stratify_names_only_the_classes_with_a_single_sample():
    y = np.array([0] * 6 + [1] + [2] * 2 + [3] * 3)  # class 1 alone; classes 2 and 3 are small but fine
    _raises(RandomSplit(val_size=4, stratify=True), np.zeros((12, 1)), "cannot stratify: class(es) [1] have a single sample",
            y=y)


def test_stratify_lists_at_most_five_lonely_classes():
    y = np.r_[np.zeros(10, dtype=int), np.arange(1, 8)]  # seven classes of one sample
    _raises(RandomSplit(val_size=5, stratify=True), np.zeros((17, 1)),
            "cannot stratify: class(es) [1, 2, 3, 4, 5] have a single sample", y=y)


@pytest.mark.parametrize("val_size, parts", [(2, "2 and 8"), (8, "8 and 2")])
def test_stratify_needs_every_class_on_both_sides(val_size, parts):
    y = np.repeat([0, 1, 2], [4, 3, 3])
    _raises(RandomSplit(val_size=val_size, stratify=True), np.zeros((10, 1)),
            f"cannot stratify 3 classes into parts of {parts} rows", y=y)


@pytest.mark.parametrize("val_size", [3, 7])
def test_stratify_accepts_one_row_per_class_on_the_smaller_side(val_size):
    y = np.repeat([0, 1, 2], [4, 3, 3])
    for seed in range(3):
        train, val = next(RandomSplit(val_size=val_size, stratify=True, random_state=seed).split(np.zeros((10, 1)), y))
        small = val if len(val) == 3 else train
        assert sorted(y[small].tolist()) == [0, 1, 2]


# --- GroupSplit ---------------------------------------------------------------------------------------

def test_group_split_without_groups_says_what_it_needs():
    _raises(GroupSplit(val_size=3), np.zeros((10, 1)), "GroupSplit needs groups (one group label per row)")


def test_group_split_names_the_group_too_large_for_validation():
    groups = np.array(list("aabbbbcc"))
    _raises(GroupSplit(val_size=3), np.zeros((8, 1)), "group 'b' has 4 samples, more than the validation size 3",
            groups=groups)
    _raises(GroupSplit(val_size=3), np.zeros((8, 1)), "group 7 has 4 samples, more than the validation size 3",
            groups=np.array([1, 1, 7, 7, 7, 7, 2, 2]))
    _raises(GroupSplit(val_size=4), np.zeros((8, 1)), "group 0 has 5 samples, more than the validation size 4",
            groups=np.repeat([0, 1], [5, 3]))  # with only two groups too


def test_group_split_with_a_single_group_says_it_needs_two():
    _raises(GroupSplit(val_size=3), np.zeros((8, 1)), "GroupSplit needs at least two groups", groups=np.zeros(8))
    _raises(GroupSplit(val_size=0.5), np.zeros((8, 1)), "GroupSplit needs at least two groups", groups=["w"] * 8)


def test_group_split_works_with_exactly_two_groups():
    groups = np.repeat(["u", "v"], 4)
    seen = set()
    for seed in range(6):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            train, val = next(GroupSplit(val_size=4, random_state=seed).split(np.zeros((8, 1)), groups=groups))
        assert len(set(groups[val])) == 1 and not set(groups[val]) & set(groups[train])
        seen.add(groups[val][0])
    assert seen == {"u", "v"}


def test_group_split_keeps_every_group_on_one_side_and_warns_when_short():
    groups = np.arange(10) // 2  # five groups of two
    with pytest.warns(SplitSizeWarning) as caught:
        train, val = next(GroupSplit(val_size=5, random_state=0).split(np.zeros((10, 1)), groups=groups))
    assert len(val) == 4 and not set(groups[val]) & set(groups[train])
    assert [str(w.message) for w in caught] == [
        "GroupSplit: validation has 4 rows, not the 5 requested (whole groups only; never more than requested)"]


def test_group_split_is_silent_when_whole_groups_fill_validation_exactly():
    groups = np.arange(10) // 2
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, val = next(GroupSplit(val_size=4, random_state=seed).split(np.zeros((10, 1)), groups=groups))
        assert len(val) == 4 and np.bincount(groups[val]).max() == 2


# --- MaxMinSplit -------------------------------------------------------------------------------------

def test_maxmin_spreads_over_the_ends_and_the_middle_of_a_line():
    # three places on a line: 0 (rows 0-2), 5 (row 3), 10 (rows 4-5); whatever the random start,
    # three max-min picks take one row from each place
    X = np.array([[0.0], [0.1], [0.2], [5.0], [9.9], [10.0]])
    place = np.array([0, 0, 0, 1, 2, 2])
    for seed in range(8):
        val = _val(MaxMinSplit(val_size=3, random_state=seed), X)
        assert sorted(place[val].tolist()) == [0, 1, 2], (seed, val)


# --- ClusterSplit --------------------------------------------------------------------------------------

def test_cluster_split_accepts_two_clusters_and_takes_one_whole():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.1, (5, 2)), rng.normal(0, 0.1, (5, 2)) + 9.0]
    seen = set()
    for seed in range(6):
        val = _val(ClusterSplit(val_size=5, n_clusters=2, random_state=seed), X)
        assert val.tolist() in ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
        seen.add(val[0])
    assert seen == {0, 5}


def test_cluster_split_accepts_as_many_clusters_as_rows_and_no_more():
    X = np.random.default_rng(0).normal(size=(6, 2))
    assert len(_val(ClusterSplit(val_size=2, n_clusters=6, random_state=0), X)) == 2
    _raises(ClusterSplit(val_size=2, n_clusters=7), X, "n_clusters must be between 2 and the pool size (6), got 7")
    _raises(ClusterSplit(val_size=2, n_clusters=1), X, "n_clusters must be an integer >= 2, got 1")
    X20 = np.random.default_rng(1).normal(size=(20, 3))
    assert len(_val(ClusterSplit(val_size=4, random_state=0), X20)) == 4  # the default 20 clusters fit 20 rows
    _raises(ClusterSplit(val_size=4), X20[:19], "n_clusters must be between 2 and the pool size (19), got 20")


def _three_blobs():
    """Blobs A (rows 0-9) and B (10-19), and C (20-37): a tight core of 16 rows and two outliers
    (rows 36, 37) on either side of it, 4 to 6 away."""
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.05, (10, 2))
    b = rng.normal(0, 0.05, (10, 2)) + [0, 50]
    core = rng.normal(0, 0.05, (16, 2)) + [50, 0]
    X = np.r_[a, b, core, [[46.0, -4.0], [54.0, 4.0]]]
    return X, np.repeat([0, 1, 2], [10, 10, 18])


def test_cluster_split_takes_whole_clusters_then_the_rows_nearest_the_next_center():
    # 14 rows: whole blobs while they fit, then the rows of the next blob nearest its center;
    # from C (18 rows) that is always core rows, never an outlier
    X, blob = _three_blobs()
    sizes = np.bincount(blob)
    for seed in range(8):
        val = _val(ClusterSplit(val_size=14, n_clusters=3, random_state=seed), X)
        used = np.bincount(blob[val], minlength=3)
        assert len(val) == 14
        assert not {36, 37} & set(val.tolist()), (seed, val)
        assert sum(0 < u < n for u, n in zip(used, sizes)) == 1, (seed, used)  # one cluster only in part
        assert used.tolist() in ([10, 4, 0], [10, 0, 4], [4, 10, 0], [0, 10, 4], [0, 0, 14]), (seed, used)


def test_cluster_split_breaks_ties_among_equally_near_rows_by_row_order():
    # two blobs, each 20 copies of its center point and 20 rows on a ring around it; 10 rows come
    # from the first blob in the random order, all copies of its center: the 10 earliest ones
    rng = np.random.default_rng(2)
    angles = rng.uniform(0, 2 * np.pi, 20)
    ring = np.c_[np.cos(angles), np.sin(angles)]
    blob_rows = np.r_[np.zeros((20, 2)), ring]
    X = np.r_[blob_rows, blob_rows + 20.0]
    order = rng.permutation(80)
    X = X[order]
    copies = [np.flatnonzero(order < 20), np.flatnonzero((order >= 40) & (order < 60))]
    expected = [c[:10].tolist() for c in copies]
    seen = set()
    for seed in range(6):
        val = _val(ClusterSplit(val_size=10, n_clusters=2, random_state=seed), X)
        assert val.tolist() in expected, seed
        seen.add(expected.index(val.tolist()))
    assert seen == {0, 1}


# --- TargetMatchedSplit ----------------------------------------------------------------------------------

class PrefersLargeFirstFeature(ClassifierMixin, BaseEstimator):
    """Scores a row as target-like by its first feature alone; records the size of each training set."""

    fits: list[int] = []

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        PrefersLargeFirstFeature.fits.append(len(X))
        return self

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-np.asarray(X, dtype=float)[:, 0]))
        return np.c_[1.0 - p, p]

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


def test_target_matched_split_uses_the_estimator_it_is_given():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(30, 2))
    target = rng.normal(size=(10, 2)) + [0.0, 6.0]  # a logistic regression would pick large second features
    PrefersLargeFirstFeature.fits = []
    val = _val(TargetMatchedSplit(val_size=5, X_target=target, estimator=PrefersLargeFirstFeature(), cv=4,
                                  random_state=0), pool)
    assert val.tolist() == sorted(np.argsort(-pool[:, 0])[:5].tolist())
    assert PrefersLargeFirstFeature.fits == [30, 30, 30, 30]  # cv=4 folds of the 40 rows, each trained on 3/4
    assert _val(TargetMatchedSplit(val_size=5, X_target=target, random_state=0), pool).tolist() != val.tolist()


def test_target_matched_split_needs_x_target_and_names_it_in_errors():
    X = np.random.default_rng(0).normal(size=(20, 2))
    _raises(TargetMatchedSplit(val_size=3), X,
            "TargetMatchedSplit needs X_target: unlabeled rows of the data the model will meet")
    bad = np.ones((5, 2))
    bad[2, 1] = np.nan
    _raises(TargetMatchedSplit(val_size=3, X_target=bad), X,
            "X_target contains NaN or infinite values in 1 row(s); impute or drop them first")
    with pytest.raises(ValueError, match=r"^X_target must be 2-D \(n_samples, n_features\), got 1-D"):
        next(TargetMatchedSplit(val_size=3, X_target=np.ones(5)).split(X))
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match=r"^X_target is a scipy sparse matrix;.*pass X_target\.toarray\(\)$"):
        next(TargetMatchedSplit(val_size=3, X_target=sparse.csr_matrix(np.ones((5, 2)))).split(X))


def test_target_matched_split_needs_at_least_cv_target_rows():
    X = np.random.default_rng(0).normal(size=(20, 2))
    target = np.random.default_rng(1).normal(size=(3, 2)) + 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. scikit-learn's "least populated class has only 3 members"
        assert len(_val(TargetMatchedSplit(val_size=3, X_target=target, random_state=0), X)) == 3  # default cv=3
        assert len(_val(TargetMatchedSplit(val_size=3, X_target=target[:2], cv=2, random_state=0), X)) == 3
    _raises(TargetMatchedSplit(val_size=3, X_target=target[:2]), X, "X_target needs at least cv=3 rows, got 2")


def _no_signal(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(60, 2)), rng.normal(size=(30, 2))  # pool and target from the same distribution


def test_target_matched_split_is_reproducible_and_every_seed_draws_anew():
    pool, target = _no_signal()
    picks = [tuple(_val(TargetMatchedSplit(val_size=10, X_target=target, random_state=seed), pool)) for seed in range(12)]
    assert picks[0] == tuple(_val(TargetMatchedSplit(val_size=10, X_target=target, random_state=0), pool))
    assert picks[7] == tuple(_val(TargetMatchedSplit(val_size=10, X_target=target, random_state=7), pool))
    assert len(set(picks)) == 12  # with nothing to learn, the folds drawn from the seed decide


# --- a recorded random_state keeps picking the same rows ------------------------------------------------
# Pinned with scikit-learn 1.9: k-means and the classifier come from scikit-learn, so a release of it
# that changes MiniBatchKMeans or LogisticRegression may move these rows (then re-record them, and say
# so in the changelog: stored seeds no longer reproduce old splits).

def _six_loose_blobs(per_blob=10):
    rng = np.random.default_rng(3)
    centers = np.array([[0, 0], [3, 0], [0, 3], [3, 3], [1.5, 1.5], [6, 1.5]])
    # for 4 clusters: which blobs merge is open
    return np.repeat(centers, per_blob, axis=0) + rng.normal(0, 0.6, (6 * per_blob, 2))


@pytest.mark.parametrize("seed, rows", [
    (0, [0, 1, 2, 3, 5, 6, 7, 8, 9, 18, 19, 43, 47, 51, 57]),
    (1, [4, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 34, 48]),
])
def test_cluster_split_recorded_seed_picks_the_same_rows(seed, rows):
    assert _val(ClusterSplit(val_size=15, n_clusters=4, random_state=seed), _six_loose_blobs()).tolist() == rows


def test_cluster_split_recorded_seed_on_a_pool_larger_than_one_minibatch():
    X = _six_loose_blobs(200)  # 1200 rows: k-means learns from samples of them
    val = _val(ClusterSplit(val_size=0.25, n_clusters=4, random_state=0), X)
    assert np.bincount(val // 200, minlength=6).tolist() == [0, 37, 1, 200, 62, 0]  # rows taken from each blob


def test_target_matched_split_recorded_seed_picks_the_same_rows():
    pool, target = _no_signal()
    val = _val(TargetMatchedSplit(val_size=10, X_target=target, random_state=0), pool)
    assert val.tolist() == [4, 6, 25, 27, 30, 34, 42, 49, 51, 54]



# --- a RandomState passed as random_state: every value of each draw counts -----------------------------
# The seeds handed to k-means and to the classifier's folds are drawn from the caller's generator
# with ``randint(2**31 - 1)``, i.e. from 0 .. 2**31 - 2. A generator whose next 32-bit output is
# exactly 2**31 - 2 (the top of that range) must give that seed and consume one output; a draw over a
# narrower range would reject the value, consume a second output and so shift every later draw.

def _untemper(y):
    # The inverse of MT19937's output tempering: the state word that makes the generator output ``y``.
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    r = y
    for _ in range(5):
        r = y ^ ((r << 7) & 0x9D2C5680)
    y = r & 0xFFFFFFFF
    r = y
    for _ in range(3):
        r = y ^ (r >> 11)
    return r & 0xFFFFFFFF


def _generator_whose_next_output_is(value):
    rng = np.random.RandomState(0)
    name, key, _, _, _ = rng.get_state()
    key = key.copy()
    key[0] = _untemper(value)
    rng.set_state((name, key, 0, 0, 0.0))  # position 0: the next output is key[0], tempered
    return rng


def test_random_state_generator_at_the_top_of_the_seed_range_is_drawn_as_is():
    rng = _generator_whose_next_output_is(2**31 - 2)
    assert rng.randint(2**31 - 1) == 2**31 - 2  # the crafted state does what the tests below rely on


def test_cluster_split_draws_the_kmeans_seed_from_the_full_range():
    rng = _generator_whose_next_output_is(2**31 - 2)
    val = _val(ClusterSplit(val_size=15, n_clusters=4, random_state=rng), _six_loose_blobs())
    assert val.tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9, 18, 23, 29, 43, 47, 48]


def test_target_matched_split_draws_the_fold_seed_from_the_full_range():
    pool, target = _no_signal()
    rng = _generator_whose_next_output_is(2**31 - 2)
    val = _val(TargetMatchedSplit(val_size=10, X_target=target, random_state=rng), pool)
    assert val.tolist() == [4, 6, 7, 13, 27, 29, 30, 34, 41, 54]


def test_target_matched_split_reads_a_pandas_x_target_as_check_x_does():
    # check_X accepts a DataFrame with extension dtypes by reading it as floats (here: pandas
    # string columns holding numbers); the classifier must be trained on those floats too, not
    # on the frame's raw (object, string) values, so the split is the one of the float target.
    pd = pytest.importorskip("pandas")
    pool, target = _no_signal()
    as_strings = pd.DataFrame(target).astype("string")
    got = _val(TargetMatchedSplit(val_size=10, X_target=as_strings, random_state=0), pool)
    assert got.tolist() == _val(TargetMatchedSplit(val_size=10, X_target=target, random_state=0), pool).tolist()


def _record_inits(monkeypatch, name: str) -> list[dict]:
    """Swap the class ``name`` of splitters.dissimilarity for a subclass noting each constructor's keywords."""
    import splitters.dissimilarity as dissimilarity

    made: list[dict] = []
    real = getattr(dissimilarity, name)

    class Recorded(real):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(dissimilarity, name, Recorded)
    return made


def test_cluster_split_clusters_in_mini_batches_of_4096_rows(monkeypatch):
    # The batch size decides which rows a seeded split picks once the pool exceeds one batch
    # (12,000 Gaussian rows in 60 clusters: batches of 4,097 change 26 of 1,200 validation rows), so
    # it is part of what a seed reproduces.
    made = _record_inits(monkeypatch, "MiniBatchKMeans")
    X = np.random.default_rng(0).normal(size=(50, 3))
    next(ClusterSplit(0.2, n_clusters=4, random_state=0).split(X))
    (kwargs,) = made
    assert {k: kwargs[k] for k in ("n_clusters", "n_init", "batch_size")} == {"n_clusters": 4, "n_init": 3,
                                                                              "batch_size": 4096}


def test_target_matched_split_default_classifier_runs_up_to_1000_iterations(monkeypatch):
    # On ill-conditioned features the solver uses all its iterations, and the probabilities (so the
    # rows picked) depend on how many it is given.
    made = _record_inits(monkeypatch, "LogisticRegression")
    rng = np.random.default_rng(0)
    next(TargetMatchedSplit(0.2, X_target=rng.normal(1, 1, (20, 3)), random_state=0).split(rng.normal(size=(40, 3))))
    assert made[0] == {"max_iter": 1000}  # the default classifier itself (its clones inside cross_val_predict follow)
