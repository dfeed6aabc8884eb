"""The comparison engine: planted cases, hand-computed metrics, outputs, bad input, Dask."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import DropClass
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, RidgeClassifier

import splitters
from splitters import RandomSplit, TailSplit, compare_strategies
from splitters.base import ValidationSplitter
from splitters.metrics import distribution_shift, gap_stats, get_metric, rank_agreement, selection_regret

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
    ({"y_test": np.zeros(3)}, "y_test must be 1-D with one entry per row of X_test"),
    ({"repeats": 0}, "repeats must be a positive integer"),
])
def test_bad_input(kwargs, fragment):
    X, y, Xt, yt = _iid(200, 100)
    args = {"X_test": Xt, "y_test": yt, **kwargs}
    with pytest.raises(ValueError) as err:
        compare_strategies(X, y, args.pop("X_test"), args.pop("y_test"), progress=False, **args)
    assert fragment in str(err.value)


def _script():
    from helpers import load_script

    return load_script("compare_splits")


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


def test_compare_splits_script_on_synthetic_data(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    out = tmp_path / "report"
    assert _script().main(_script_args(data_dir, tmp_path, "--shift", "rotate:20", "--out", str(out))) == 0
    printed = capsys.readouterr().out
    assert "shift: rotate:20" in printed and "time per stage" in printed and "recommended:" in printed
    assert (out / "report.md").exists() and (out / "gap.png").exists()
    # The report says what was compared and with which command.
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "mnist" in report and "rotate:20" in report and "--shift rotate:20" in report
    context = splitters.ComparisonResult.read(out / "results.json").context
    assert context["dataset"] == "mnist" and context["shift"] == "rotate:20" and "--shift rotate:20" in context["command"]


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


def test_compare_splits_script_with_a_combined_shift(synthetic_dir, tmp_path, capsys):
    # Issue 19, case 9: README lists combined shifts; the script refused them.
    data_dir, _ = synthetic_dir
    out = tmp_path / "report"
    assert _script().main(_script_args(data_dir, tmp_path, "--shift", "thicken:1+rotate:15", "--out", str(out))) == 0
    assert "shift: thicken:1+rotate:15" in capsys.readouterr().out
    from mnist_compare import shifts

    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 200
    both, _ = shifts.apply_shift("thicken:1+rotate:15", images, np.arange(4))
    one, _ = shifts.apply_shift("thicken:1", images, np.arange(4))
    np.testing.assert_array_equal(both, shifts.apply_shift("rotate:15", one, np.arange(4), seed=17)[0])


@pytest.mark.parametrize("shift", ["smear:2", "rotate:x", "rotate:15+", "thicken:1+blur"])
def test_compare_splits_refuses_a_bad_shift_before_any_work(tmp_path, capsys, shift):
    with pytest.raises(SystemExit) as stop:
        _script().main(["--dataset", "mnist", "--data-dir", str(tmp_path / "none"), "--shift", shift])
    assert stop.value.code == 2 and "--shift: " in capsys.readouterr().err


def test_compare_splits_help_is_whole_with_defaults(capsys):
    with pytest.raises(SystemExit):
        _script().main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    # The description was cut after "Compare split strategies on an".
    assert "Compare split strategies on an MNIST-family dataset, against its published test set or a shifted version" in text
    assert "how long each stage took." in text
    for default in ("--dataset {", "(default: fashion_mnist)", "(default: accuracy)", "(default: 5000)",
                    "(default: 3)", "(default: 0)", "(default: reports/compare)", "or several joined by +"):
        assert default in text, default


def test_compare_splits_with_a_folder_lacking_a_file_is_one_line(synthetic_dir, tmp_path, capsys):
    # Issue 19, case 5: a 26-line traceback with exit 1, where `python -m mnist_hf prepare` gives one line and 2.
    data_dir, _ = synthetic_dir
    (data_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    assert _script().main(_script_args(data_dir, tmp_path, "--out", str(tmp_path / "r"))) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compare_splits.py: error: data_dir {str(data_dir)!r} lacks 1 file(s) of mnist: "
                          "t10k-labels-idx1-ubyte.gz") and err.count("\n") == 1 and "Traceback" not in err
    from mnist_hf.__main__ import main as mnist_hf_main

    assert mnist_hf_main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c2")]) == 2
    assert capsys.readouterr().err.split(": ", 1)[1] == err.split(": ", 2)[2]  # the same line


# --- a bad model, a bad strategy, a tiny test set: reported, the rest completes (issue 10) ---------

class FailsToFit(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("planted failure")


def test_model_that_raises_in_fit_is_marked_failed_and_the_rest_completes():
    X, y, Xt, yt = _iid(400, 200)
    r = compare_strategies(X, y, Xt, yt, strategies=["tail", "random"], models={"lda": "lda", "bad": FailsToFit()},
                           repeats=2, val_size=100, progress=False)
    bad = r.table[r.table.model == "bad"]
    assert len(bad) == 4 and (bad.status == "failed").all() and bad.val_score.isna().all()
    assert bad.error.str.contains("RuntimeError: planted failure").all()
    good = r.table[r.table.model == "lda"]
    assert (good.status == "ok").all() and good.val_score.notna().all()
    assert any("model bad: failed (RuntimeError: planted failure)" in n for n in r.notes)
    assert (r.summary.status == "partial").all() and r.summary.error.str.contains("planted failure").all()
    assert np.isfinite(r.summary.mae).all()
    md = r.to_markdown()
    assert "partial: bad: RuntimeError: planted failure" in md
    assert json.loads(r.to_json())["table"][1]["status"] in {"ok", "failed"}


def test_log_loss_with_a_model_lacking_predict_proba_names_it_and_skips_it():
    X, y, Xt, yt = _iid(400, 200)
    r = compare_strategies(X, y, Xt, yt, strategies=["random"], models={"lda": "lda", "ridge": RidgeClassifier()},
                           metric="log_loss", repeats=1, val_size=100, progress=False)
    ridge = r.table[r.table.model == "ridge"].iloc[0]
    assert ridge.status == "failed" and ridge.error == "RidgeClassifier has no predict_proba, which metric 'log_loss' needs"
    assert "model ridge: RidgeClassifier has no predict_proba" in " ".join(r.notes)
    assert r.table[r.table.model == "lda"].status.eq("ok").all() and np.isfinite(r.summary.loc["random", "mae"])


def test_one_row_test_set_reports_the_failed_diagnostic_and_keeps_the_scores():
    X, y, Xt, yt = _iid(400, 200)
    r = compare_strategies(X, y, Xt[:1], yt[:1], strategies=["tail", "random"], models=["lda", "naive_bayes"],
                           repeats=1, val_size=100, progress=False)
    assert r.summary.adv_auc.isna().all() and np.isfinite(r.summary.nn_shift).all()
    assert any("diagnostic adv_auc failed" in n and "2 rows on each side" in n for n in r.notes)
    assert (r.table.status == "ok").all() and r.recommended in {"tail", "random"}


class FailsToSplit(ValidationSplitter):
    def __init__(self, val_size=0.1):
        self.val_size = val_size

    def _validation_indices(self, X, y, groups, n_val, rng):
        raise RuntimeError("planted split failure")


def test_a_strategy_that_cannot_split_is_reported_and_only_all_failing_is_an_error():
    X, y, Xt, yt = _iid(400, 200)
    r = compare_strategies(X, y, Xt, yt, strategies={"broken": FailsToSplit(), "tail": "tail"}, models=["lda"],
                           repeats=1, val_size=100, progress=False)
    assert r.summary.loc["broken", "status"] == "failed" and "planted split failure" in r.summary.loc["broken", "error"]
    assert r.summary.loc["tail", "status"] == "ok" and r.recommended == "tail"
    assert r.table[r.table.strategy == "broken"].status.eq("failed").all()
    assert "failed: RuntimeError: planted split failure" in r.to_markdown()
    with pytest.raises(ValueError, match="no strategy could split the pool: broken: RuntimeError: planted split"):
        compare_strategies(X, y, Xt, yt, strategies={"broken": FailsToSplit()}, models=["lda"], repeats=1,
                           progress=False)


def test_two_strategies_or_models_of_one_class_are_named_apart():
    X, y, Xt, yt = _iid(400, 200)
    r = compare_strategies(X, y, Xt, yt, strategies=[RandomSplit(val_size=100), RandomSplit(val_size=100, stratify=True)],
                           models=[LogisticRegression(C=0.1), LogisticRegression(C=1.0)], repeats=1, progress=False)
    assert list(r.summary.index) == ["RandomSplit(stratify=False)", "RandomSplit(stratify=True)"]
    assert sorted(set(r.table.model)) == ["LogisticRegression(C=0.1)", "LogisticRegression(C=1.0)"]
    assert len(r.table) == 4


@pytest.mark.parametrize("kwargs, fragment", [
    ({"strategies": [TailSplit(val_size=10), TailSplit(val_size=10)]}, "two strategies are the same TailSplit"),
    ({"strategies": ["tail", "tail"]}, "strategies listed more than once: ['tail']"),
    ({"models": ["lda", "lda"]}, "models listed more than once: ['lda']"),
    ({"models": [LogisticRegression(), LogisticRegression()]}, "two models are the same LogisticRegression"),
    ({"strategies": ["group"]}, "needs groups"),
    ({"repeats": 1.5}, "repeats must be a positive integer"),
    ({"repeats": True}, "repeats must be a positive integer"),
    ({"val_size": 0}, "val_size=0 must be at least 1"),
])
def test_bad_input_more(kwargs, fragment):
    X, y, Xt, yt = _iid(200, 100)
    with pytest.raises(ValueError) as err:
        compare_strategies(X, y, Xt, yt, progress=False, **{"models": ["lda"], **kwargs})
    assert fragment in str(err.value)


def test_numpy_integers_are_accepted_where_ints_are():
    X, y, Xt, yt = _iid(300, 100)
    r = compare_strategies(X, y, Xt, yt, strategies=["random", "tail"], models=["lda"], repeats=np.int64(2),
                           random_state=np.int64(3), val_size=np.int64(50), n_jobs=np.int64(1), progress=False)
    assert sorted(set(r.table.repeat)) == [0, 1] and (r.table.n_val == 50).all()


def test_group_strategy_by_name_with_groups():
    X, y, Xt, yt = _iid(300, 100)
    r = compare_strategies(X, y, Xt, yt, strategies=["group"], models=["lda"], repeats=1, val_size=60,
                           groups=np.arange(300) // 10, progress=False)
    assert r.summary.loc["group", "status"] == "ok"


# --- one validation per array (issue 11) ------------------------------------------------------------

def test_each_array_is_validated_once(monkeypatch):
    import splitters.base
    import splitters.comparison.plan
    import splitters.dissimilarity

    calls: list[str] = []
    real = splitters.base.check_X

    def counting(X, *, need_features, name="X"):
        calls.append(name)
        return real(X, need_features=need_features, name=name)

    for module in (splitters.base, splitters.comparison.plan, splitters.dissimilarity):
        monkeypatch.setattr(module, "check_X", counting)
    X, y, Xt, yt = _iid(400, 200)
    compare_strategies(X, y, Xt, yt, strategies=["tail", "random", "maxmin", "cluster", "target"], models=["lda"],
                       repeats=3, val_size=50, progress=False)
    assert sorted(calls) == ["X", "X_test"]


# --- determinism and spread (issue 13) -----------------------------------------------------------------

def test_same_inputs_give_identical_results_for_one_and_two_jobs():
    X, y, Xt, yt = _iid(500, 200)
    kw = {"strategies": ["tail", "random", "maxmin"], "models": ["lda", "knn", "tree"], "repeats": 2,
          "val_size": 100, "random_state": 7, "progress": False}
    one, two = compare_strategies(X, y, Xt, yt, n_jobs=1, **kw), compare_strategies(X, y, Xt, yt, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one.table.drop(columns="fit_seconds"), two.table.drop(columns="fit_seconds"),
                                  check_exact=True)
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    assert one.recommended == two.recommended


def test_every_measure_comes_with_its_spread_over_repeats(tmp_path):
    X, y, Xt, yt = _iid(600, 300)
    r = compare_strategies(X, y, Xt, yt, strategies=["random"], models=["lda", "naive_bayes", "knn"], repeats=3,
                           val_size=100, progress=False)
    t = r.table
    per_repeat = {rep: part for rep, part in t.groupby("repeat")}
    rhos = [rank_agreement(p.val_score.to_numpy(), p.test_score.to_numpy())[0] for p in per_repeat.values()]
    regrets = [selection_regret(p.val_score.to_numpy(), p.test_score.to_numpy()) for p in per_repeat.values()]
    for key in ("mae_std", "bias_std", "spearman_std", "kendall_std", "regret_std"):
        assert key in r.summary.columns
    finite = [v for v in rhos if np.isfinite(v)]
    assert r.summary.loc["random", "spearman_std"] == pytest.approx(np.std(finite))
    assert r.summary.loc["random", "regret_std"] == pytest.approx(np.std(regrets))
    summary = json.loads(r.to_json())["summary"][0]
    assert {"spearman_std", "kendall_std", "regret_std", "mae_std", "bias_std"} <= set(summary)
    row = next(line for line in r.to_markdown().splitlines() if line.startswith("| random"))
    assert row.count("±") == 5


class Planted(ClassifierMixin, BaseEstimator):
    """Binary classifier with controlled confidence: X[:, 0] holds the true label, X[:, 1] marks test rows;
    the probability of the true class is ``q_val`` on pool rows and ``q_test`` on test rows."""

    def __init__(self, q_val=0.9, q_test=0.9):
        self.q_val = q_val
        self.q_test = q_test

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        q = np.where(X[:, 1] > 0.5, self.q_test, self.q_val)
        p1 = np.where(X[:, 0] > 0.5, q, 1 - q)
        return np.c_[1 - p1, p1]

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def test_log_loss_regret_is_oriented_lower_is_better():
    rng = np.random.default_rng(0)
    y, yt = rng.integers(0, 2, 200), rng.integers(0, 2, 100)
    X, Xt = np.c_[y, np.zeros(200)], np.c_[yt, np.ones(100)]
    models = {"a": Planted(0.9, 0.6), "b": Planted(0.8, 0.85), "c": Planted(0.5, 0.7)}
    r = compare_strategies(X, y, Xt, yt, strategies=["random"], models=models, metric="log_loss", repeats=2,
                           val_size=20, progress=False)
    val_loss = {m: -np.log(q) for m, q in (("a", 0.9), ("b", 0.8), ("c", 0.5))}
    test_loss = {m: -np.log(q) for m, q in (("a", 0.6), ("b", 0.85), ("c", 0.7))}
    got = r.table.groupby("model")[["val_score", "test_score"]].mean()
    assert got.val_score.to_dict() == pytest.approx(val_loss) and got.test_score.to_dict() == pytest.approx(test_loss)
    # validation picks a (lowest loss); the best on test is b: regret = loss(a) - loss(b) = ln(0.85 / 0.6)
    assert r.summary.loc["random", "regret"] == pytest.approx(np.log(0.85 / 0.6))
    assert r.summary.loc["random", "regret_std"] == pytest.approx(0.0)
    assert r.summary.loc["random", "spearman"] == pytest.approx(-0.5)  # ranks (1, 2, 3) vs (3, 1, 2)


def test_metric_edges_by_hand():
    # found by mutation testing (docs/mutation): the paths test_metrics_by_hand does not reach
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constant scores: nan without scipy's ConstantInputWarning
        for val, test in (([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]), ([1.0], [2.0])):
            assert all(np.isnan(rank_agreement(np.array(val), np.array(test))))
    assert rank_agreement(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == pytest.approx((1.0, 1.0))  # two models suffice
    # validation picks model 1 (0.9), whose test score 0.6 is 0.1 below the best (0.7); lists are accepted
    assert selection_regret([0.7, 0.9, 0.8], [0.65, 0.6, 0.7]) == pytest.approx(0.1)
    assert selection_regret([0.3, 0.1, 0.2], [0.35, 0.4, 0.3], greater_is_better=False) == pytest.approx(0.1)
    # results are rounded to 12 decimals, so float noise never shows in tables
    assert gap_stats(np.array([0.3 + 4e-13]), np.array([0.0])) == (0.3, 0.3)
    assert selection_regret(np.array([1.0, 0.0]), np.array([0.0, 0.3 + 4e-13])) == 0.3
    assert distribution_shift(np.array([1.0, 1.0]), np.array([0.0, 0.0])) == 1.0  # median 0: not divided


def test_log_loss_metric_knows_classes_missing_from_y():
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
    loss = get_metric("log_loss").fn(np.array([0, 1]), proba, np.array([0, 1, 2]))
    assert loss == pytest.approx(-np.log(0.8))
