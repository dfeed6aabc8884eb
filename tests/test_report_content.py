"""The report read as a reader reads it: a ComparisonResult built by hand with a distinct value in
every cell, its Markdown tables parsed (each value under its own header, in its own row), and its
plots' data read back from the matplotlib figures (each point where its axis labels say)."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from splitters.comparison import ComparisonResult
from splitters.comparison.plots import plot_distances, plot_estimates, plot_gap, plot_val_vs_test
from splitters.comparison.report import estimates_markdown, markdown, write_report

matplotlib.use("Agg")

STRATEGIES = ["tail", "random"]
MODELS = ["knn", "lda", "tree"]
# The summary's measures by the header a reader sees over them (the report's own words).
SUMMARY_HEADERS = {"mean abs gap": "mae", "bias (val - test)": "bias", "Spearman": "spearman", "Kendall": "kendall",
                   "regret": "regret", "NN-distance shift": "nn_shift", "val-vs-test AUC": "adv_auc"}
WITH_SPREAD = ["mae", "bias", "spearman", "kendall", "regret"]


def _score_table() -> pd.DataFrame:
    rows = []
    for i, strategy in enumerate(STRATEGIES):
        for repeat in range(2):
            for j, model in enumerate(MODELS):
                # Validation and test scores on different scales, so that no point could be mistaken for
                # its mirror image; repeats +-0.01 around each mean.
                sign = 1 if repeat else -1
                rows.append({"strategy": strategy, "repeat": repeat, "model": model,
                             "val_score": 0.80 + 0.05 * j + 0.02 * i + 0.01 * sign,
                             "test_score": 0.30 + 0.10 * j + 0.03 * i - 0.01 * sign, "status": "ok", "error": None})
    # A failed fit with scores that would move the means if it were counted.
    rows.append({"strategy": "random", "repeat": 1, "model": "knn", "val_score": 0.05, "test_score": 0.99,
                 "status": "failed", "error": "RuntimeError: boom"})
    return pd.DataFrame(rows)


def _summary() -> pd.DataFrame:
    # Every cell different: measure k of strategy i is 0.1 (k + 1) + 0.01 (i + 1), its spread 0.01 (k + 1) + 0.002 (i + 1).
    records = []
    for i, strategy in enumerate(STRATEGIES):
        row = {"strategy": strategy}
        for k, column in enumerate([*WITH_SPREAD, "nn_shift", "adv_auc"]):
            row[column] = round(0.1 * (k + 1) + 0.01 * (i + 1), 3)
            if column in WITH_SPREAD:
                row[f"{column}_std"] = round(0.01 * (k + 1) + 0.002 * (i + 1), 3)
        row["status"] = "ok"
        row["error"] = None
        records.append(row)
    values = [v for r in records for v in r.values() if isinstance(v, float)]
    assert len(set(values)) == len(values)
    return pd.DataFrame(records).set_index("strategy")


# Per model, mean over the two repeats (which sit +-0.01 around it): validation, estimate, lo, hi, test.
PER_MODEL = {"knn": (0.912, 0.853, 0.801, 0.894, 0.777),
             "lda": (0.874, 0.655, 0.612, 0.698, 0.633),
             "tree": (0.958, 0.742, 0.703, 0.786, 0.721)}
ESTIMATORS = ["aline_kappa", "doc"]


def _estimates(labeled: bool = True) -> pd.DataFrame:
    rows = []
    for strategy in STRATEGIES:
        for e, estimator in enumerate(ESTIMATORS):
            for repeat in range(2):
                shift = 0.01 if repeat else -0.01
                for model, (val, est, lo, hi, test) in PER_MODEL.items():
                    # Other strategies and estimators are off by whole points, so a wrong filter shows.
                    off = 0.1 * STRATEGIES.index(strategy) + 0.05 * e
                    row = {"strategy": strategy, "repeat": repeat, "model": model, "estimator": estimator,
                           "val_score": val + shift, "estimate": est + shift - off, "lo": lo + shift - off,
                           "hi": hi + shift - off, "reliable": True, "reason": ""}
                    if labeled:
                        row["test_score"] = test - shift
                    rows.append(row)
    return pd.DataFrame(rows)


ESTIMATE_SUMMARY = {  # (strategy, estimator): mae, bias, coverage, spearman, regret
    ("tail", "aline_kappa"): (0.034, -0.021, 0.83, 0.61, 0.0123),
    ("tail", "doc"): (0.045, 0.032, 0.67, 0.44, 0.0234),
    ("random", "aline_kappa"): (0.056, 0.043, 0.52, 0.39, 0.0345),
    ("random", "doc"): (0.067, -0.054, 0.48, 0.28, 0.0456),
}


def _result(labeled: bool = True) -> ComparisonResult:
    ship = {"strategy": "tail", "model": "knn", "basis": "validation", "val_score": 0.912, "estimate": 0.853,
            "lo": 0.801, "hi": 0.894, "reliable": True, "reason": ""}
    rng = np.random.default_rng(0)
    distances = {s: {"validation": rng.gamma(2.0, 1.0 + i, 300), "test": rng.gamma(5.0, 1.0, 200)}
                 for i, s in enumerate(STRATEGIES)}
    estimate_summary = pd.DataFrame(
        [dict(zip(["strategy", "estimator", "mae", "bias", "coverage", "spearman", "regret"], (*key, *values)))
         for key, values in ESTIMATE_SUMMARY.items()]).set_index(["strategy", "estimator"])
    return ComparisonResult(table=_score_table(), summary=_summary(), recommended="tail", metric="accuracy",
                            labeled=labeled, distances=distances, estimates=_estimates(labeled),
                            default_estimator="aline_kappa", estimate_summary=estimate_summary if labeled else None,
                            ship=ship)


def _tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``text``: a list of rows, each ``{header: cell}``."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif block:
            header, _, *rows = block
            assert all(len(row) == len(header) for row in rows), block
            tables.append([dict(zip(header, row)) for row in rows])
            block = []
    return tables


def _by_first_column(table: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    first = next(iter(table[0]))
    return {row[first].replace(" **(recommended)**", "").replace(" **(default)**", ""): row for row in table}


# --- tables --------------------------------------------------------------------------------------

def test_summary_table_has_each_value_under_its_header():
    result = _result()
    rows = _by_first_column(_tables(markdown(result))[0])
    assert list(rows) == STRATEGIES
    summary = result.summary
    for strategy, row in rows.items():
        assert set(row) == {"strategy", *SUMMARY_HEADERS}
        for header, column in SUMMARY_HEADERS.items():
            value = summary.loc[strategy, column]
            expected = f"{value:.3f} ± {summary.loc[strategy, f'{column}_std']:.3f}" if column in WITH_SPREAD \
                else f"{value:.3f}"
            assert row[header] == expected, (strategy, header)
    assert _tables(markdown(result))[0][0]["strategy"] == "tail **(recommended)**"


def test_per_model_estimates_table_has_each_value_under_its_header():
    rows = _by_first_column(_tables(estimates_markdown(_result()))[0])
    # Best estimate first, as the ship decision reads them.
    assert list(rows) == ["knn", "tree", "lda"]
    for model, (val, est, lo, hi, test) in PER_MODEL.items():
        assert rows[model] == {"model": model, "validation": f"{100 * val:.1f}", "estimated test": f"{100 * est:.1f}",
                               "interval": f"[{100 * lo:.1f}, {100 * hi:.1f}]", "true test": f"{100 * test:.1f}"}


def test_per_model_table_without_a_basis_or_test_labels():
    result = _result(labeled=False)
    result.estimates.loc[(result.estimates.model == "lda") & (result.estimates.repeat == 1), "reliable"] = False
    rows = _by_first_column(_tables(estimates_markdown(result))[0])
    assert set(rows["knn"]) == {"model", "validation", "estimated test", "interval"}
    assert rows["knn"]["estimated test"] == "85.3" and rows["knn"]["interval"] == "[80.1, 89.4]"
    assert rows["lda"] == {"model": "lda", "validation": "87.4", "estimated test": "no basis",
                           "interval": "cannot estimate"}


def test_estimator_table_has_each_value_under_its_header():
    tables = _tables(estimates_markdown(_result()))
    assert len(tables) == 2
    rows = _by_first_column(tables[1])
    assert list(rows) == ESTIMATORS  # the shipped strategy's estimators only
    for estimator in ESTIMATORS:
        mae, bias, coverage, spearman, regret = ESTIMATE_SUMMARY[("tail", estimator)]
        assert rows[estimator] == {"estimator": rows[estimator]["estimator"], "MAE": f"{100 * mae:.1f}",
                                   "bias": f"{100 * bias:+.1f}", "coverage": f"{coverage:.2f}",
                                   "Spearman": f"{spearman:.2f}", "regret": f"{100 * regret:.2f}"}
    assert rows["aline_kappa"]["estimator"] == "aline_kappa **(default)**" and rows["doc"]["estimator"] == "doc"


def test_written_report_holds_the_same_tables(tmp_path, monkeypatch):
    # The plots are judged below; here only what report.md holds.
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: open(path, "wb").close())
    paths = write_report(_result(), str(tmp_path))
    assert set(paths) == {"json", "markdown", "html", "val_vs_test", "gap", "distances", "estimates"}
    written = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert _tables(written) == _tables(markdown(_result()))
    assert len(_tables(written)) == 3
    assert ComparisonResult.read(paths["json"]).summary.loc["random", "kendall"] == _summary().loc["random", "kendall"]


# --- plots ---------------------------------------------------------------------------------------

@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, kept for reading instead of written."""
    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **kw: saved.append(self))
    return saved


def _points(ax) -> dict[str, set[tuple[float, float]]]:
    """Scatter points by legend label, rounded so that float noise cannot hide a match."""
    return {c.get_label(): {(round(float(x), 9), round(float(y), 9)) for x, y in c.get_offsets()}
            for c in ax.collections if not c.get_label().startswith("_")}


# An axis label names what lies along it.
SCORE_OF_LABEL = {"test": "test_score", "validation": "val_score"}


def test_val_vs_test_scatter_puts_each_score_on_the_axis_that_names_it(figures):
    result = _result()
    assert plot_val_vs_test(result, "val_vs_test.png") == "val_vs_test.png"
    ax = figures[0].axes[0]
    along_x, along_y = (SCORE_OF_LABEL[label.get_text().split()[0]] for label in (ax.xaxis.label, ax.yaxis.label))
    assert {along_x, along_y} == {"val_score", "test_score"}
    assert ax.get_xlabel().endswith("accuracy") and ax.get_ylabel().endswith("accuracy")
    ok = result.table[result.table.status == "ok"]
    expected = {}
    for strategy in STRATEGIES:
        means = ok[ok.strategy == strategy].groupby("model")[["val_score", "test_score"]].mean()
        expected[strategy] = {(round(float(x), 9), round(float(y), 9)) for x, y in zip(means[along_x], means[along_y])}
    assert _points(ax) == expected
    # The line validation = test spans the scores shown.
    (line,) = [li for li in ax.lines if li.get_label() == "validation = test"]
    lo, hi = ok[["val_score", "test_score"]].min().min(), ok[["val_score", "test_score"]].max().max()
    assert list(line.get_xdata()) == pytest.approx([lo, hi]) and list(line.get_ydata()) == pytest.approx([lo, hi])


def test_gap_bars_are_each_strategys_mean_gap_with_its_spread(figures):
    result = _result()
    plot_gap(result, "gap.png")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == STRATEGIES
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_height() for b in bars] == pytest.approx(list(result.summary.mae))
    segments = bars.errorbar.lines[2][0].get_segments()
    assert [s[1][1] - s[0][1] for s in segments] == pytest.approx(list(2 * result.summary.mae_std))
    assert "|validation - test|" in ax.get_ylabel()


def test_distance_histograms_show_each_strategys_validation_and_test_distances(figures):
    result = _result()
    plot_distances(result, "distances.png")
    axes = figures[0].axes
    assert [ax.get_title() for ax in axes] == STRATEGIES
    for ax, strategy in zip(axes, STRATEGIES):
        d = result.distances[strategy]
        bins = np.linspace(0, max(d["validation"].max(), d["test"].max()), 40)
        filled = [p for p in ax.patches if isinstance(p, Rectangle)]
        val_density, _ = np.histogram(d["validation"], bins=bins, density=True)
        test_density, _ = np.histogram(d["test"], bins=bins, density=True)
        assert [p.get_height() for p in filled] == pytest.approx(list(val_density))
        assert filled[0].get_label() == "validation"
        (outline,) = [p for p in ax.patches if isinstance(p, Polygon)]
        assert outline.get_label() == "test"
        # The step outline's top edge is the test density, bin by bin.
        tops = outline.get_xy()[1:-1:2, 1][: len(test_density)]
        assert list(tops) == pytest.approx(list(test_density))


def test_estimated_vs_true_panels_put_true_test_on_x_and_estimates_on_y(figures):
    result = _result()
    plot_estimates(result, "estimates.png")
    axes = figures[0].axes
    assert [ax.get_title() for ax in axes[:2]] == ["aline_kappa (default)", "doc"]
    assert axes[0].get_ylabel() == "estimated" and axes[0].get_xlabel() == "true test accuracy"
    est = result.estimates
    for ax, estimator in zip(axes, ESTIMATORS):
        part = est[est.estimator == estimator]
        expected = {s: {(round(float(x), 9), round(float(y), 9)) for x, y in
                        zip(part[part.strategy == s].test_score, part[part.strategy == s].estimate)}
                    for s in STRATEGIES}
        assert _points(ax) == expected


def test_unlabeled_estimates_plot_each_models_estimate_interval_and_validation_score(figures):
    result = _result(labeled=False)
    plot_estimates(result, "estimates.png")
    ax = figures[0].axes[0]
    models = [t.get_text() for t in ax.get_xticklabels()]
    assert models == ["knn", "tree", "lda"]
    (container,) = ax.containers
    line, _, (bars,) = container
    estimates = dict(zip(models, line.get_ydata()))
    intervals = dict(zip(models, ([s[0][1], s[1][1]] for s in bars.get_segments())))
    (scatter,) = [c for c in ax.collections if c.get_label() == "validation"]
    validation = {models[round(float(x))]: y for x, y in scatter.get_offsets()}
    for model, (val, est, lo, hi, _) in PER_MODEL.items():
        assert math.isclose(estimates[model], est) and intervals[model] == pytest.approx([lo, hi])
        assert math.isclose(validation[model], val)


def test_the_metric_is_said_once_whether_or_not_the_context_names_it():
    bare = markdown(_result())
    assert bare.count("accuracy`") == 1 and "Metric: `accuracy`. Scores on validation vs the labeled test set." in bare
    result = _result()
    result.context = {"dataset": "mnist", "metric": "accuracy"}
    text = markdown(result)
    assert text.count("Metric") == 1 and "- **Metric**: accuracy" in text
    assert "\nScores on validation vs the labeled test set." in text
