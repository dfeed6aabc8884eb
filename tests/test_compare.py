"""The comparison engine: planted cases, hand-computed metrics, outputs, bad input, Dask."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splitters import RandomSplit, TailSplit, compare_strategies
from splitters.base import ValidationSplitter
from splitters.metrics import distribution_shift, gap_stats, rank_agreement, selection_regret

FAST = ["logreg", "lda", "naive_bayes", "knn", "tree"]


def _iid(n_pool=3000, n_test=2000, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, (4, 6))

    def draw(n):
        y = rng.integers(0, 4, n)
        return centers[y] + rng.normal(0, 1.6, (n, 6)), y

    return (*draw(n_pool), *draw(n_test))


def _uncovered_region(seed=0):
    """Most of the pool lives in region A; the test set comes from region B, where the pool has
    only a few rows and the labels follow a different rule."""
    rng = np.random.default_rng(seed)

    def region_a(n):
        X = rng.normal(0, 1, (n, 4))
        return X, (X[:, 0] > 0).astype(int)

    def region_b(n):
        X = rng.normal(0, 1, (n, 4)) + np.array([5.0, 5.0, 0, 0])
        return X, ((X[:, 1] - 5) + 0.8 * (X[:, 2]) > 0).astype(int)

    Xa, ya = region_a(2700)
    Xb, yb = region_b(300)
    X, y = np.r_[Xa, Xb], np.r_[ya, yb]
    order = rng.permutation(len(X))
    Xt, yt = region_b(1000)
    return X[order], y[order], Xt, yt


def test_iid_random_validation_lands_within_two_points_of_test():
    X, y, Xt, yt = _iid()
    r = compare_strategies(X, y, Xt, yt, strategies=["random"], models=FAST, repeats=3, val_size=1000, progress=False)
    assert abs(r.summary.loc["random", "bias"]) <= 0.02
    assert r.summary.loc["random", "mae"] <= 0.02


def test_uncovered_test_region_ranks_a_dissimilarity_strategy_above_random():
    X, y, Xt, yt = _uncovered_region()
    r = compare_strategies(X, y, Xt, yt, strategies=["random", "tail", "maxmin", "cluster", "target"],
                           models=FAST, repeats=2, val_size=300, progress=False)
    s = r.summary
    best_informed = s.loc[["maxmin", "cluster", "target"], "mae"].min()
    assert best_informed < s.loc["random", "mae"] - 0.05, s
    assert s.loc["random", "bias"] > 0.1  # random validation is badly optimistic here
    assert r.recommended in {"maxmin", "cluster", "target"}
    # label-free diagnostics see the same thing without test labels
    unlabeled = compare_strategies(X, y, Xt, None, strategies=["random", "target"], repeats=1, val_size=300,
                                   progress=False)
    assert unlabeled.summary.loc["target", "adv_auc"] < unlabeled.summary.loc["random", "adv_auc"]
    assert unlabeled.summary.loc["target", "nn_shift"] < unlabeled.summary.loc["random", "nn_shift"]
    assert unlabeled.recommended == "target"
    assert unlabeled.table.test_score.isna().all() and unlabeled.summary.mae.isna().all()


def test_metrics_by_hand():
    val, test = np.array([0.90, 0.80, 0.70]), np.array([0.85, 0.82, 0.60])
    mae, bias = gap_stats(val, test)
    assert mae == pytest.approx((0.05 + 0.02 + 0.10) / 3)
    assert bias == pytest.approx((0.05 - 0.02 + 0.10) / 3)
    assert rank_agreement(val, test) == (pytest.approx(1.0), pytest.approx(1.0))
    assert selection_regret(val, test) == 0.0
    assert selection_regret(np.array([0.9, 0.8]), np.array([0.7, 0.75])) == pytest.approx(0.05)
    # lower-is-better (log-loss): validation picks the lowest
    assert selection_regret(np.array([0.2, 0.3]), np.array([0.5, 0.4]), greater_is_better=False) == pytest.approx(0.1)
    rho, tau = rank_agreement(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 4]))
    assert rho == pytest.approx(0.8) and tau == pytest.approx(4 / 6)
    assert distribution_shift(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(0.5)


def test_summary_follows_from_the_table():
    X, y, Xt, yt = _iid(600, 300)
    r = compare_strategies(X, y, Xt, yt, strategies=["tail", "random"], models=["lda", "naive_bayes", "knn"],
                           repeats=2, val_size=100, progress=False)
    assert len(r.table) == 2 * 2 * 3
    for name in ("tail", "random"):
        t = r.table[r.table.strategy == name]
        per_repeat = t.assign(a=(t.val_score - t.test_score).abs()).groupby("repeat").a.mean()
        assert r.summary.loc[name, "mae"] == pytest.approx(per_repeat.mean())
        assert r.summary.loc[name, "mae_std"] == pytest.approx(per_repeat.std(ddof=0))
        assert r.summary.loc[name, "bias"] == pytest.approx((t.val_score - t.test_score).mean())
    assert r.recommended == r.summary.mae.idxmin()


@pytest.mark.parametrize("metric", ["balanced_accuracy", "macro_f1", "log_loss"])
def test_other_metrics(metric):
    X, y, Xt, yt = _iid(500, 200)
    r = compare_strategies(X, y, Xt, yt, strategies=["random"], models=["lda", "naive_bayes"], repeats=1,
                           metric=metric, val_size=100, progress=False)
    assert r.metric == metric and np.isfinite(r.table.val_score).all()


def test_outputs(tmp_path):
    X, y, Xt, yt = _iid(500, 200)
    strategies = {"tail": TailSplit(val_size=100), "random": RandomSplit(val_size=100, random_state=0)}
    r = compare_strategies(X, y, Xt, yt, strategies=strategies, models=["lda", "naive_bayes"], repeats=2,
                           progress=False)
    paths = r.write(str(tmp_path))
    data = json.loads(open(paths["json"]).read())
    assert data["recommended"] == r.recommended and len(data["table"]) == 8
    assert {row["strategy"] for row in data["summary"]} == {"tail", "random"}
    md = open(paths["markdown"]).read()
    assert "| tail" in md and "(recommended)" in md
    for key in ("val_vs_test", "gap", "distances"):
        assert open(paths[key], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


class DropClass(ValidationSplitter):
    """Puts every row of class 2 into validation: the training part never sees it."""

    def __init__(self, val_size=0.1):
        self.val_size = val_size

    def split(self, X, y=None, groups=None):
        val = np.flatnonzero(np.asarray(y) == 2)
        yield np.setdiff1d(np.arange(len(X)), val), val


def test_strategy_that_leaves_a_class_out_is_reported_and_the_run_carries_on():
    X, y, Xt, yt = _iid(600, 300)
    r = compare_strategies(X, y, Xt, yt, strategies={"drop2": DropClass(), "random": "random"},
                           models=["lda", "naive_bayes"], repeats=1, val_size=100, metric="log_loss", progress=False)
    assert any("drop2" in n and "[2]" in n and "missing from the training part" in n for n in r.notes)
    assert r.table[r.table.strategy == "drop2"].val_score.notna().all()
    assert "missing from the training part" in r.to_markdown()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"X_test": np.zeros((5, 3))}, "X has 6 columns, X_test has 3"),
    ({"X_test": np.zeros((0, 6))}, "test set is empty"),
    ({"strategies": ["tail", "middle"]}, "unknown strategy 'middle'"),
    ({"models": ["lda", "svm9000"]}, "unknown model 'svm9000'"),
    ({"metric": "auc"}, "unknown metric 'auc'"),
    ({"y_test": np.zeros(3)}, "y_test must be 1-D with one label per row of X_test"),
    ({"repeats": 0}, "repeats must be a positive integer"),
])
def test_bad_input(kwargs, fragment):
    X, y, Xt, yt = _iid(200, 100)
    args = {"X_test": Xt, "y_test": yt, **kwargs}
    with pytest.raises(ValueError) as err:
        compare_strategies(X, y, args.pop("X_test"), args.pop("y_test"), progress=False, **args)
    assert fragment in str(err.value)


def _script():
    import importlib.util

    from helpers import REPO

    spec = importlib.util.spec_from_file_location("compare_splits", REPO / "scripts" / "compare_splits.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _script_args(data_dir, tmp_path, *extra):
    return ["--dataset", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            "--strategies", "tail", "random", "maxmin", "--models", "lda", "naive_bayes",
            "--repeats", "1", "--val-size", "50", "--n-components", "5", "--n-jobs", "1", *extra]


def test_dask_backend_matches_local_run(synthetic_dir, tmp_path, capsys):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is installed by `make test`")
    X, y, Xt, yt = _iid(500, 200)
    kw = {"strategies": ["tail", "random"], "models": ["lda", "naive_bayes", "tree"], "repeats": 2, "val_size": 100,
          "progress": False}
    local = compare_strategies(X, y, Xt, yt, n_jobs=1, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = compare_strategies(X, y, Xt, yt, backend="dask", **kw)
        assert client.scheduler_info()["workers"]  # the work went to the cluster's workers
        data_dir, _ = synthetic_dir
        # the script's path: --backend dask --scheduler ADDRESS
        assert _script().main(_script_args(data_dir, tmp_path, "--backend", "dask", "--scheduler",
                                           cluster.scheduler_address, "--out", str(tmp_path / "r"))) == 0
    cols = ["strategy", "repeat", "model", "val_score", "test_score"]
    assert remote.table[cols].equals(local.table[cols])
    assert (tmp_path / "r" / "report.md").exists()


def test_shifts():
    from splitters.shifts import apply_shift

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


def test_compare_splits_script_on_synthetic_data(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    out = tmp_path / "report"
    assert _script().main(_script_args(data_dir, tmp_path, "--shift", "rotate:20", "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "shift: rotate:20" in printed and "time per stage" in printed and "recommended:" in printed
    assert (out / "report.md").exists() and (out / "gap.png").exists()


def test_compare_splits_script_with_own_target_files(synthetic_dir, tmp_path, capsys):
    from mnist_hf import write_idx

    data_dir, arrays = synthetic_dir
    target = tmp_path / "target-images.gz"
    write_idx(target, arrays["t10k-images-idx3-ubyte"][:40])
    out = tmp_path / "report"
    assert _script().main(_script_args(data_dir, tmp_path, "--target-images", str(target), "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "unlabeled target" in printed and "label-free diagnostics only" in printed
    assert (out / "distances.png").exists() and not (out / "gap.png").exists()
