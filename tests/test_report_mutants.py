"""The report's and the plots' details, each checked where a reader meets it: the exact Markdown and
HTML text (failed strategies, missing values, the context block, links to the plots, the estimates
section), the files write_report leaves and their names, and every plot's titles, labels, colours,
sizes and data read back from the matplotlib figure. Synthetic results only, built by hand."""

from __future__ import annotations

import base64
import builtins
import json
import struct
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from cycler import cycler
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Polygon, Rectangle
from test_report_content import PER_MODEL, STRATEGIES, _result, _tables

from splitters.comparison import ComparisonResult
from splitters.comparison import report as report_module
from splitters.comparison.diagnostics import DIAGNOSTICS
from splitters.comparison.plots import (
    plot_distances,
    plot_estimated_vs_true,
    plot_estimates,
    plot_gap,
    plot_val_vs_test,
    title,
)
from splitters.comparison.report import (
    EXPLANATION,
    STYLE,
    context_markdown,
    estimates_markdown,
    markdown,
    markdown_to_html,
    report_html,
    ship_line,
    write_report,
)

matplotlib.use("Agg")

MEANINGS = " ".join([EXPLANATION, *(spec.meaning for spec in DIAGNOSTICS.values())])
ALL_HEADERS = ("| strategy | mean abs gap | bias (val - test) | Spearman | Kendall | regret | NN-distance shift | "
               "val-vs-test AUC |")
TAB10 = [plt.cm.tab10(i) for i in range(10)]


def _summary(rows: dict[str, dict], status: dict[str, tuple[str, str | None]] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "strategy"
    if status is not None:
        frame["status"] = [status[s][0] for s in frame.index]
        frame["error"] = [status[s][1] for s in frame.index]
    return frame


def _bare(summary: pd.DataFrame, labeled: bool = True, **kw) -> ComparisonResult:
    return ComparisonResult(table=pd.DataFrame(), summary=summary, recommended=summary.index[0], metric="accuracy",
                            labeled=labeled, **kw)


# --- the summary table ---------------------------------------------------------------------------

FULL = {"mae": 0.1234, "mae_std": 0.0111, "bias": -0.05, "bias_std": 0.02, "spearman": 0.5, "spearman_std": 0.1,
        "kendall": 0.4, "kendall_std": 0.05, "regret": 0.01, "regret_std": 0.002, "nn_shift": 1.5, "adv_auc": 0.61}


def test_a_failed_strategy_gets_a_status_column_with_its_error():
    summary = _summary({"tail": FULL, "random": {**FULL, "mae": 0.2}},
                       status={"tail": ("ok", None), "random": ("failed", "RuntimeError: boom")})
    lines = markdown(_bare(summary)).splitlines()
    start = lines.index(ALL_HEADERS[:-1] + "| status |")
    assert lines[start + 1] == "|---|" + "---:|" * 7 + "---|"
    assert lines[start + 2] == ("| tail **(recommended)** | 0.123 ± 0.011 | -0.050 ± 0.020 | 0.500 ± 0.100 | "
                                "0.400 ± 0.050 | 0.010 ± 0.002 | 1.500 | 0.610 | ok |")
    assert lines[start + 3].endswith("| 1.500 | 0.610 | failed: RuntimeError: boom |")
    assert lines[start + 3].startswith("| random | 0.200 ± 0.011 |")


def test_no_status_column_when_every_strategy_succeeded_or_none_is_recorded():
    for status in ({"tail": ("ok", None), "random": ("ok", None)}, None):
        summary = _summary({"tail": FULL, "random": FULL}, status=status)
        lines = markdown(_bare(summary)).splitlines()
        i = lines.index(ALL_HEADERS)
        assert lines[i + 1] == "|---|" + "---:|" * 7
        assert lines[i + 3] == ("| random | 0.123 ± 0.011 | -0.050 ± 0.020 | 0.500 ± 0.100 | 0.400 ± 0.050 | "
                                "0.010 ± 0.002 | 1.500 | 0.610 |")


def test_missing_values_and_spreads_show_as_a_dash_or_a_bare_value():
    row = {"mae": np.nan, "mae_std": 0.01, "bias": 0.25, "bias_std": np.nan, "spearman": 0.75, "kendall": None,
           "kendall_std": 0.1, "regret": 2, "regret_std": 1, "nn_shift": None, "adv_auc": np.nan}
    summary = _summary({"tail": row})
    summary["kendall"] = summary["kendall"].astype(object)
    summary.loc["tail", "kendall"] = None
    summary["nn_shift"] = pd.Series([None], index=summary.index, dtype=object)
    rows = _tables(markdown(_bare(summary)))[0]
    assert rows == [{"strategy": "tail **(recommended)**", "mean abs gap": "–", "bias (val - test)": "0.250",
                     "Spearman": "0.750", "Kendall": "–", "regret": "2.000 ± 1.000", "NN-distance shift": "–",
                     "val-vs-test AUC": "–"}]


def test_without_test_labels_only_the_diagnostics_are_shown():
    summary = _summary({"tail": {"nn_shift": 0.5, "adv_auc": 0.55}, "random": {"nn_shift": 0.25, "adv_auc": 0.75}})
    result = _bare(summary, labeled=False)
    result.metric = "balanced_accuracy"
    expected = ["Metric: `balanced_accuracy`. No test labels: label-free diagnostics only.", "",
                "| strategy | NN-distance shift | val-vs-test AUC |", "|---|---:|---:|",
                "| tail **(recommended)** | 0.500 | 0.550 |", "| random | 0.250 | 0.750 |", "", MEANINGS]
    assert markdown(result) == "\n".join(expected) + "\n"


def test_the_whole_report_in_order_warnings_context_table_notes_and_plots():
    summary = _summary({"tail": FULL})
    result = _bare(summary, warnings=["no basis", "failed predictions"], notes=["one fit failed", "slow"],
                   context={"dataset": "mnist", "metric": "accuracy"})
    plots = {"gap": "/far/away/gap.png", "val_vs_test": "", "distances": None, "other": "other.png",
             "estimates": "plots/estimates.png"}
    expected = ["> **Warning:** no basis", "> **Warning:** failed predictions", "",
                "## What was compared: mnist", "", "- **Dataset**: mnist", "- **Metric**: accuracy", "",
                "Scores on validation vs the labeled test set.", "", ALL_HEADERS, "|---|" + "---:|" * 7,
                "| tail **(recommended)** | 0.123 ± 0.011 | -0.050 ± 0.020 | 0.500 ± 0.100 | 0.400 ± 0.050 | "
                "0.010 ± 0.002 | 1.500 | 0.610 |", "", MEANINGS, "", "Notes:", "- one fit failed", "- slow", "",
                "### Plots", "", "![mean |validation - test| gap per strategy](gap.png)",
                "![label-free estimates of each model's target accuracy](estimates.png)"]
    assert markdown(result, plots) == "\n".join(expected) + "\n"


def test_a_report_without_warnings_notes_or_plots_has_none_of_their_sections():
    text = markdown(_bare(_summary({"tail": FULL})), {})
    assert text.startswith("Metric: `accuracy`. Scores on validation vs the labeled test set.\n\n| strategy |")
    assert text.endswith("\n\n" + MEANINGS + "\n")
    assert markdown(_bare(_summary({"tail": FULL})), None) == text


def test_a_result_like_object_without_the_newer_fields_still_reports():
    old = SimpleNamespace(summary=_summary({"tail": FULL}), recommended="tail", metric="accuracy", labeled=True,
                          notes=[])
    text = markdown(old)
    assert text.startswith("Metric: `accuracy`. Scores") and "Warning" not in text and "What was compared" not in text


# --- what was compared ---------------------------------------------------------------------------

def _context(**context) -> str:
    return context_markdown(SimpleNamespace(context=context))


def test_context_lists_known_keys_in_order_then_the_others_as_they_are():
    text = _context(zeta="last", date="2024-01-01 UTC", command="python c.py --x 1", metric="accuracy",
                    strategies=("tail", "random"), models=["lda", "knn"], validation=[1000, 2500], pool=12345,
                    test=5000, shift="rotate:30", dataset="digits", count=0, skipped=None, empty="", nothing=[])
    assert text == ("## What was compared: digits, shift rotate:30\n\n- **Dataset**: digits\n- **Shift**: rotate:30\n"
                    "- **Rows**: pool 12,345; validation 1,000, 2,500 per part; test 5,000 (labeled)\n"
                    "- **Models**: lda, knn\n- **Strategies**: tail, random\n- **Metric**: accuracy\n"
                    "- **Command**: `python c.py --x 1`\n- **Date**: 2024-01-01 UTC\n- **zeta**: last\n"
                    "- **count**: 0\n")


def test_row_counts_say_dashes_for_what_is_unknown_and_whether_test_is_labeled():
    assert _context(pool=1000, test=2000, test_labeled=False).splitlines()[2] == \
        "- **Rows**: pool 1,000; validation – per part; test 2,000 (unlabeled)"
    assert _context(pool=1000, validation=1500, test_labeled=True).splitlines()[2] == \
        "- **Rows**: pool 1,000; validation 1,500 per part; test –"
    assert _context(pool=3, validation=[1], test=4, test_labeled=True).splitlines()[2] == \
        "- **Rows**: pool 3; validation 1 per part; test 4 (labeled)"


def test_without_a_pool_size_there_is_no_rows_line():
    assert _context(validation=100, test=50, dataset="d") == "## What was compared: d\n\n- **Dataset**: d\n"


def test_no_context_no_block():
    assert _context() == ""
    assert context_markdown(SimpleNamespace()) == ""
    assert context_markdown(SimpleNamespace(context=None)) == ""
    assert _context(models=["a"]) == "## What was compared: your data\n\n- **Models**: a\n"


def test_title_names_the_dataset_and_shift_when_known():
    assert title(SimpleNamespace(context={"dataset": 7, "shift": "rot"})) == "7, shift rot"
    assert title(SimpleNamespace(context={"shift": "rot"})) == "shift rot"
    assert title(SimpleNamespace(context={"dataset": "mnist", "shift": ""})) == "mnist"
    assert title(SimpleNamespace(context={"dataset": "", "shift": None})) == "your data"
    assert title(SimpleNamespace(context=None)) == "your data"
    assert title(SimpleNamespace()) == "your data"


# --- the estimates section -----------------------------------------------------------------------

def _pcts(*values: float) -> tuple[str, ...]:
    return tuple(f"{100 * v:.1f}" for v in values)


def test_the_estimates_section_word_for_word_with_test_labels():
    result = _result()
    lines = estimates_markdown(result).splitlines()
    assert lines[:6] == ["### What will each model score on the target? (label-free estimates)", "",
                         "Accuracy in %, from the `tail` validation parts (mean over repeats), estimator `aline_kappa` "
                         "(95% interval).", "",
                         "| model | validation | estimated test | interval | true test |", "|---|---:|---:|---:|---:|"]
    val, est, lo, hi, test = _pcts(*PER_MODEL["knn"])
    assert lines[6] == f"| knn | {val} | {est} | [{lo}, {hi}] | {test} |"
    assert lines[9:14] == ["", ship_line(result.ship), "",
                           "How right each estimator was here (`tail`; points of accuracy; coverage of the intervals; "
                           "regret = test points lost by shipping the model the estimate prefers):", ""]
    assert lines[14:16] == ["| estimator | MAE | bias | coverage | Spearman | regret |", "|---|---:|---:|---:|---:|---:|"]
    assert lines[16] == "| aline_kappa **(default)** | 3.4 | -2.1 | 0.83 | 0.61 | 1.23 |"
    assert len(lines) == 18
    assert estimates_markdown(result).endswith("| doc | 4.5 | +3.2 | 0.67 | 0.44 | 2.34 |\n")


def test_the_estimates_section_without_test_labels_says_the_estimates_are_all_there_is():
    result = _result(labeled=False)
    lines = estimates_markdown(result).splitlines()
    assert lines[2] == ("Accuracy in %, from the `tail` validation parts (mean over repeats), estimator `aline_kappa` "
                        "(95% interval). No test labels: the estimates are all there is.")
    assert lines[4:6] == ["| model | validation | estimated test | interval |", "|---|---:|---:|---:|"]
    assert lines[-1] == ship_line(result.ship) and lines[-2] == ""


def test_estimates_without_a_reliability_column_all_have_a_basis():
    result = _result(labeled=False)
    result.estimates = result.estimates.drop(columns=["reliable", "reason"])
    rows = _tables(estimates_markdown(result))[0]
    assert [r["estimated test"] for r in rows] == ["85.3", "74.2", "65.5"]


def test_an_estimate_summary_of_one_strategy_only_is_shown_whole():
    result = _result()
    result.estimate_summary = result.estimate_summary.loc["random"]  # indexed by estimator alone
    rows = _tables(estimates_markdown(result))[1]
    assert rows[0] == {"estimator": "aline_kappa **(default)**", "MAE": "5.6", "bias": "+4.3", "coverage": "0.52",
                       "Spearman": "0.39", "regret": "3.45"}
    assert [r["estimator"] for r in rows] == ["aline_kappa **(default)**", "doc"]


def test_no_estimates_no_section():
    result = _result()
    for estimates, ship in ((None, result.ship), (result.estimates.iloc[:0], result.ship), (result.estimates, None)):
        result.estimates, result.ship = estimates, ship
        assert estimates_markdown(result) == ""
    assert estimates_markdown(SimpleNamespace()) == ""
    result = _result()
    result.estimate_summary = result.estimate_summary.iloc[:0]
    assert len(_tables(estimates_markdown(result))) == 1
    result.estimate_summary = None
    assert estimates_markdown(result).endswith(ship_line(result.ship) + "\n")


def test_ship_line_says_why_this_model_and_what_to_expect():
    ship = {"model": "tree", "basis": "estimate", "val_score": 0.9, "estimate": 0.8, "lo": 0.75, "hi": 0.85}
    assert ship_line(ship) == ("Ship **tree** (the estimates place it above validation's pick, beyond both intervals). "
                               "Expected target accuracy: 80.0% [75.0, 85.0]; validation says 90.0%.")
    ship = {"model": "knn", "val_score": float("nan"), "estimate": None, "lo": 0.5, "hi": 0.625, "reliable": True}
    assert ship_line(ship) == ("Ship **knn** (validation's best model). Expected target accuracy: –% [50.0, 62.5]; "
                               "validation says –%.")
    ship = {"model": "lda", "basis": "validation", "val_score": 0.5, "reliable": False, "reason": ""}
    assert ship_line(ship) == ("Ship **lda** (validation's best model). Expected target accuracy: cannot estimate "
                               "(no basis); validation says 50.0%.")
    ship = {"model": "lda", "val_score": 0.5, "reliable": False}
    assert "cannot estimate (no basis)" in ship_line(ship)


# --- write_report --------------------------------------------------------------------------------

@pytest.fixture
def quick_png(monkeypatch):
    """Plots saved as a few marker bytes instead of being rendered, for the file tests."""
    def save(self, path, **kw):
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nplot")

    monkeypatch.setattr(Figure, "savefig", save)


def _read_back(paths: dict[str, str]) -> tuple[str, str]:
    with open(paths["markdown"], encoding="utf-8") as f, open(paths["html"], encoding="utf-8") as g:
        return f.read(), g.read()


def test_write_report_names_every_file_in_the_output_folder(tmp_path, quick_png, monkeypatch):
    out = tmp_path / "new" / "folder"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the plots are found next to the report, not here
    result = _result()
    result.context = {"dataset": "digits", "shift": "move"}
    paths = write_report(result, str(out))
    names = {"json": "results.json", "markdown": "report.md", "html": "report.html", "val_vs_test": "val_vs_test.png",
             "gap": "gap.png", "distances": "distances.png", "estimates": "estimates.png"}
    assert paths == {k: str(out / n) for k, n in names.items()}
    assert sorted(p.name for p in out.iterdir()) == sorted(names.values())
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["recommended"] == "tail"
    md, page = _read_back(paths)
    assert md == markdown(result, {k: paths[k] for k in ("val_vs_test", "gap", "distances", "estimates")})
    assert page == report_html(md, "digits, shift move", str(out))
    assert page.count('<img alt="') == 4 and "plot not found" not in page
    assert not list((tmp_path / "elsewhere").iterdir())
    assert "<title>Comparison of validation splits: digits, shift move</title>" in page


def test_write_report_without_test_labels_or_estimates_draws_the_distances_only(tmp_path, quick_png):
    result = _result(labeled=False)
    result.estimates = None
    paths = write_report(result, str(tmp_path))
    assert sorted(paths) == ["distances", "html", "json", "markdown"]
    md, _ = _read_back(paths)
    assert md.endswith("### Plots\n\n![distance to the nearest training row, validation and test rows](distances.png)\n")
    result.estimates = _result(labeled=False).estimates.iloc[:0]
    assert sorted(write_report(result, str(tmp_path / "empty"))) == ["distances", "html", "json", "markdown"]
    result.estimates = _result(labeled=False).estimates
    paths = write_report(result, str(tmp_path / "unlabeled"))
    assert sorted(paths) == ["distances", "estimates", "html", "json", "markdown"]


def test_write_report_takes_a_result_like_object_without_estimates(tmp_path, quick_png):
    real = _bare(_summary({"tail": FULL}), labeled=False)
    old = SimpleNamespace(summary=real.summary, recommended="tail", metric="accuracy", labeled=False, notes=[],
                          distances={}, table=real.table, to_json=real.to_json)
    paths = write_report(old, str(tmp_path))
    assert sorted(paths) == ["distances", "html", "json", "markdown"]
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == markdown(old, {"distances": paths["distances"]})


def test_reports_are_utf8_whatever_the_locale_says(tmp_path, quick_png, monkeypatch):
    # A machine whose locale encoding is ASCII: files opened without an encoding could not hold "–" or "±".
    def ascii_open(file, mode="r", *args, encoding=None, **kw):
        if "b" not in mode and encoding is None:
            encoding = "ascii"
        return builtins.open(file, mode, *args, encoding=encoding, **kw)

    monkeypatch.setattr(report_module, "open", ascii_open, raising=False)
    result = _result()
    result.context = {"dataset": "chiffres ±"}
    paths = write_report(result, str(tmp_path))
    md, page = _read_back(paths)
    assert "0.110 ± 0.012" in md and "0.110 ± 0.012" in page and "chiffres ±" in page


# --- report.html ---------------------------------------------------------------------------------

def test_report_html_is_one_page_with_an_escaped_title():
    page = report_html("Metric: `x`.", 'a & "b" <c>')
    name = "Comparison of validation splits: a &amp; &quot;b&quot; &lt;c&gt;"
    assert page == (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{name}</title>\n'
                    f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{name}</h1>\n<p>Metric: <code>x</code>.</p>\n"
                    "</body>\n</html>\n")


def test_markdown_blocks_become_their_html_elements():
    text = "\n".join(["# One", "### Three", "######## Eight", "> **Warning:** a < b", ">tight", "",
                      "- first `c`", "- second", "-not a list", "para one", "continued & more", "", "",
                      "plain \"quoted\" 'single'", "- after", "next", "# Head", "text", "> quote", "text", "| t |",
                      "|---|", "| 1 |", "tail", "![gone](nowhere.png)"])
    assert markdown_to_html(text).split("\n") == [
        "<h1>One</h1>", "<h3>Three</h3>", "<h6>Eight</h6>", "<blockquote><strong>Warning:</strong> a &lt; b</blockquote>",
        "<blockquote>tight</blockquote>", "<ul>", "<li>first <code>c</code></li>", "<li>second</li>", "</ul>",
        "<p>-not a list para one continued &amp; more</p>", "<p>plain \"quoted\" 'single'</p>", "<ul>",
        "<li>after</li>", "</ul>", "<p>next</p>", "<h1>Head</h1>", "<p>text</p>", "<blockquote>quote</blockquote>",
        "<p>text</p>", "<table>", "<thead><tr><th>t</th></tr></thead>", "<tbody>", "<tr><td>1</td></tr>", "</tbody>",
        "</table>", "<p>tail</p>", "<p><em>gone: plot not found (nowhere.png)</em></p>"]


def test_headings_quotes_and_lists_without_spaces_or_at_the_very_end():
    assert markdown_to_html("#Xenon\n>Xylophone\n- a\n- b") == \
        "<h1>Xenon</h1>\n<blockquote>Xylophone</blockquote>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>"


def test_a_line_that_only_starts_like_an_image_is_a_paragraph():
    assert markdown_to_html("![a](b) and more\nnext line\n![c](d)") == \
        "<p>![a](b) and more next line</p>\n<p><em>c: plot not found (d)</em></p>"


def test_inline_code_and_bold_are_marked_up_the_rest_escaped():
    assert markdown_to_html("**`x<y`** `**b**` a**b ``") == \
        "<p><strong><code>x&lt;y</code></strong> <code><strong>b</strong></code> a**b ``</p>"


def test_tables_right_align_the_number_columns():
    text = "| name | n | left | mid |\n|---|---:|:---|:---:|\n| **a** | 1 | x | y | extra |\n|  b  | `2` |"
    assert markdown_to_html(text) == "\n".join([
        "<table>", "<thead><tr><th>name</th><th>n</th><th>left</th><th>mid</th></tr></thead>", "<tbody>",
        "<tr><td><strong>a</strong></td><td class=num>1</td><td>x</td><td class=num>y</td><td>extra</td></tr>",
        "<tr><td>b</td><td class=num><code>2</code></td></tr>", "</tbody>", "</table>"])


def test_tables_written_without_spaces_keep_every_character():
    assert markdown_to_html("|Xa|bX|\n|---|---:|\n|X1|2X|") == "\n".join([
        "<table>", "<thead><tr><th>Xa</th><th>bX</th></tr></thead>", "<tbody>",
        "<tr><td>X1</td><td class=num>2X</td></tr>", "</tbody>", "</table>"])


def test_report_html_embeds_the_plots_of_its_folder(tmp_path, monkeypatch):
    (tmp_path / "p.png").write_bytes(b"png")
    monkeypatch.chdir(tmp_path.parent)
    page = report_html("![a](p.png)", "t", str(tmp_path))
    assert f'<img alt="a" src="data:image/png;base64,{base64.b64encode(b"png").decode()}">' in page


def test_images_are_embedded_from_the_folder_or_the_current_one(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    data = b"\x89PNG\r\n\x1a\nbytes"
    (tmp_path / "p.png").write_bytes(data)
    encoded = base64.b64encode(data).decode("ascii")
    figure = (f'<figure><img alt="a &quot;q&quot; &amp; |b|" src="data:image/png;base64,{encoded}">'
              '<figcaption>a "q" &amp; |b|</figcaption></figure>')
    assert markdown_to_html('![a "q" & |b|](p.png)', str(tmp_path)) == figure
    assert markdown_to_html('  ![a "q" & |b|](p.png)  ', str(tmp_path)) == figure
    assert markdown_to_html("![x](p.png)") == "<p><em>x: plot not found (p.png)</em></p>"
    monkeypatch.chdir(tmp_path)
    assert markdown_to_html('![a "q" & |b|](p.png)') == figure
    assert markdown_to_html("![<x>](q.png)", str(tmp_path)) == "<p><em>&lt;x&gt;: plot not found (q.png)</em></p>"


# --- plots ---------------------------------------------------------------------------------------

@pytest.fixture
def saved(monkeypatch):
    """(figure, path, savefig keywords) of each plot, kept for reading instead of written; drawn under a
    style unlike matplotlib's default (another font size, one colour), so that the plots' own sizes and
    colours show as theirs."""
    kept = []
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: kept.append((self, path, kw)))
    with matplotlib.rc_context({"font.size": 14, "axes.prop_cycle": cycler(color=["red"])}):
        yield kept


def _check_saved(saved, path: str, fig: Figure | None = None):
    fig_saved, path_saved, kw = saved[-1]
    assert path_saved == path and kw == {"dpi": 110}
    assert not plt.fignum_exists(fig_saved.number)  # closed once saved
    # tight_layout moved the axes off matplotlib's default margins
    assert fig_saved.subplotpars.left != pytest.approx(matplotlib.rcParams["figure.subplot.left"])
    return fig_saved


def _legend(ax) -> tuple[list[str], float]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()], legend.get_texts()[0].get_fontsize()


def test_the_val_vs_test_plot_in_detail(saved):
    result = _result()
    result.context = {"dataset": "digits"}
    assert plot_val_vs_test(result, "vt.png") == "vt.png"
    fig = _check_saved(saved, "vt.png")
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (6, 6)
    assert ax.get_xlabel() == "test accuracy" and ax.get_ylabel() == "validation accuracy"
    assert ax.get_title() == "Validation vs test, digits\n(each point: one model, mean over repeats)"
    assert ax.title.get_fontsize() == 10
    assert _legend(ax) == ([*STRATEGIES, "validation = test"], 8)
    scatters = [c for c in ax.collections if c.get_label() in STRATEGIES]
    for i, c in enumerate(scatters):
        assert list(c.get_sizes()) == [30] and tuple(c.get_facecolors()[0]) == TAB10[i]
    (line,) = ax.lines
    assert (line.get_color(), line.get_linewidth(), line.get_linestyle()) == ("grey", 1, "--")


def test_val_vs_test_uses_every_row_when_the_table_has_no_status(saved):
    result = _result()
    result.table = result.table.drop(columns=["status", "error"])
    plot_val_vs_test(result, "vt.png")
    ax = saved[-1][0].axes[0]
    random = {tuple(p) for p in ax.collections[1].get_offsets()}
    means = result.table[result.table.strategy == "random"].groupby("model")[["test_score", "val_score"]].mean()
    assert random == {tuple(p) for p in means.to_numpy()}
    (line,) = ax.lines
    assert list(line.get_xdata()) == pytest.approx([0.05, 0.99])


def test_val_vs_test_takes_scores_held_as_objects_with_none_for_failed_fits(saved):
    result = _result()
    table = result.table.astype({"val_score": object, "test_score": object})
    table.loc[table.status == "failed", ["val_score", "test_score"]] = None
    result.table = table
    plot_val_vs_test(result, "vt.png")
    (line,) = saved[-1][0].axes[0].lines
    ok = table[table.status == "ok"]
    lo, hi = ok[["val_score", "test_score"]].min().min(), ok[["val_score", "test_score"]].max().max()
    assert list(line.get_xdata()) == pytest.approx([lo, hi])


def test_val_vs_test_draws_no_diagonal_without_any_score(saved):
    result = _result()
    result.table = result.table.assign(val_score=np.nan, test_score=np.nan)
    plot_val_vs_test(result, "vt.png")
    ax = saved[-1][0].axes[0]
    assert len(ax.lines) == 0 and _legend(ax)[0] == STRATEGIES


def test_the_gap_plot_in_detail(saved):
    names = [f"s{i}" for i in range(11)]  # more strategies than colours: the colours start over
    summary = _summary({n: {"mae": 0.01 * (i + 1), "mae_std": 0.001 * (i + 1)} for i, n in enumerate(names)})
    summary.loc["s3", "mae"] = np.nan
    summary.loc["s4", "mae_std"] = np.nan
    result = _bare(summary)
    assert plot_gap(result, "gap.png") == "gap.png"
    fig = _check_saved(saved, "gap.png")
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (7, 3.5)
    assert ax.get_ylabel() == "mean |validation - test| (accuracy)" and ax.get_xlabel() == "split strategy"
    assert ax.get_title() == "Gap per strategy, your data (error bars: spread over repeats)"
    assert ax.title.get_fontsize() == 10
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    heights = [0.01 * (i + 1) for i in range(11)]
    heights[3] = 0.0
    assert [b.get_height() for b in bars] == pytest.approx(heights)
    assert [tuple(b.get_facecolor()) for b in bars] == [TAB10[i % 10] for i in range(11)]
    spreads = [2 * 0.001 * (i + 1) for i in range(11)]
    spreads[4] = 0.0
    segments = bars.errorbar.lines[2][0].get_segments()
    assert [s[1][1] - s[0][1] for s in segments] == pytest.approx(spreads)
    assert bars.errorbar.lines[1][0].get_markersize() == 8  # caps of 4 points each side


def test_the_distance_plot_in_detail(saved):
    result = _result()
    result.distances["tail"] = {"validation": np.zeros(5), "test": np.zeros(3)}
    result.distances["other"] = {"validation": np.ones(2), "test": np.ones(2)}  # not a strategy of the summary
    result.context = {"shift": "rot"}
    assert plot_distances(result, "d.png") == "d.png"
    fig = _check_saved(saved, "d.png")
    assert tuple(fig.get_size_inches()) == pytest.approx((6.4, 3))
    assert fig._suptitle.get_text() == "Distance to the nearest training row: validation vs test rows, shift rot"
    assert fig._suptitle.get_fontsize() == 10
    tail, random = fig.axes
    assert tail.get_shared_y_axes().joined(tail, random)
    assert tail.get_ylabel() == "share of rows (density)" and tail.yaxis.label.get_fontsize() == 8
    assert _legend(tail) == (["validation", "test"], 8) and random.get_legend() is None
    for i, ax in enumerate((tail, random)):
        assert ax.get_title() == STRATEGIES[i] and ax.title.get_fontsize() == 9
        assert ax.get_xlabel() == "distance to nearest training row" and ax.xaxis.label.get_fontsize() == 8
        filled = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(filled) == 39
        assert {(p.get_alpha(), tuple(p.get_facecolor()[:3]), p.get_label()) for p in filled[:1]} == \
            {(0.6, TAB10[i][:3], "validation")}
        (outline,) = [p for p in ax.patches if isinstance(p, Polygon)]
        assert (outline.get_alpha(), outline.get_fill(), outline.get_label()) == (0.5, False, "test")
        assert tuple(outline.get_edgecolor()[:3]) == (0, 0, 0)
    # all distances zero: the bins still span 0 to 1
    filled = [p for p in tail.patches if isinstance(p, Rectangle)]
    assert filled[0].get_x() == pytest.approx(0, abs=1e-12)
    assert filled[-1].get_x() + filled[-1].get_width() == pytest.approx(1.0)
    d = result.distances["random"]
    assert random.patches[0].get_width() == pytest.approx(max(d["validation"].max(), d["test"].max()) / 39)


def test_distances_of_a_result_read_from_json_are_not_measured(saved):
    result = _result()
    result.distances = {}
    plot_distances(result, "d.png")
    fig = saved[-1][0]
    assert [ax.get_title() for ax in fig.axes] == STRATEGIES
    for ax in fig.axes:
        (text,) = ax.texts
        assert (text.get_text(), text.get_position(), text.get_ha()) == ("not measured", (0.5, 0.5), "center")
        assert text.get_transform() == ax.transAxes and not ax.patches
    assert fig.axes[0].get_legend() is None and fig.axes[0].get_ylabel() == "share of rows (density)"


def test_some_strategies_without_distances(saved):
    result = _result()
    del result.distances["tail"]
    plot_distances(result, "d.png")
    fig = saved[-1][0]
    assert [ax.get_title() for ax in fig.axes] == ["random"]
    assert tuple(fig.get_size_inches()) == pytest.approx((3.2, 3))
    assert tuple(fig.axes[0].patches[0].get_facecolor()[:3]) == TAB10[0][:3]


def test_estimated_vs_true_panels_in_detail(saved):
    result = _result()
    result.context = {"dataset": "digits"}
    assert plot_estimates(result, "e.png") == "e.png"
    fig = _check_saved(saved, "e.png")
    assert fig._suptitle.get_text() == "Estimated vs true test accuracy, digits"
    axes = fig.axes
    assert len(axes) == 4 and tuple(fig.get_size_inches()) == pytest.approx((12.8, 3.2))
    assert [ax.axison for ax in axes] == [True, True, False, False]
    assert all(ax.get_xlabel() == "true test accuracy" and ax.xaxis.label.get_fontsize() == 8 for ax in axes)
    assert axes[0].get_ylabel() == "estimated" and axes[0].yaxis.label.get_fontsize() == 8
    assert [ax.get_ylabel() for ax in axes[1:]] == ["", "", ""]
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[3]) and axes[0].get_shared_y_axes().joined(axes[0], axes[3])
    assert _legend(axes[0]) == (STRATEGIES, 7) and axes[1].get_legend() is None
    for ax in axes[:2]:
        assert ax.title.get_fontsize() == 9
        for i, c in enumerate(ax.collections):
            assert list(c.get_sizes()) == [10] and c.get_alpha() == 0.8
            assert tuple(c.get_facecolors()[0][:3]) == TAB10[i][:3]
        (line,) = ax.lines
        assert list(line.get_xdata()) == [0, 1] and list(line.get_ydata()) == [0, 1]
        assert (line.get_color(), line.get_linewidth(), line.get_linestyle()) == ("grey", 1, "--")
    assert [ax.get_title() for ax in axes[:2]] == ["aline_kappa (default)", "doc"]


def test_estimated_vs_true_wraps_after_four_panels_and_has_a_default_title(saved):
    rows = [{"estimator": f"e{k}", "scenario": sc, "test_score": 0.1 * k, "estimate": 0.05 * k + 0.01 * j}
            for k in range(5) for j, sc in enumerate(["a", "b"])]
    assert plot_estimated_vs_true(pd.DataFrame(rows), "scenario", "e4", "p.png") == "p.png"
    fig = _check_saved(saved, "p.png")
    assert fig._suptitle.get_text() == "Estimated vs true test accuracy, per estimator"
    assert fig._suptitle.get_fontsize() == 10
    axes = fig.axes
    assert len(axes) == 8 and tuple(fig.get_size_inches()) == pytest.approx((12.8, 6.4))
    assert [ax.get_title() for ax in axes[:5]] == ["e0", "e1", "e2", "e3", "e4 (default)"]
    assert [ax.axison for ax in axes] == [True] * 5 + [False] * 3
    assert [bool(ax.get_xlabel()) for ax in axes] == [False] * 4 + [True] * 4
    assert [bool(ax.get_ylabel()) for ax in axes] == [True, False, False, False] * 2
    assert _legend(axes[0]) == (["a", "b"], 7)
    assert axes[4].collections[1].get_offsets().tolist() == [pytest.approx([0.4, 0.21])]


def test_unlabeled_estimates_plot_in_detail(saved):
    result = _result(labeled=False)
    result.context = {"dataset": "digits"}
    assert plot_estimates(result, "u.png") == "u.png"
    fig = _check_saved(saved, "u.png")
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (7, 3.5)
    assert ax.get_xlabel() == "model" and ax.get_ylabel() == "accuracy"
    assert ax.get_title() == ("Estimated target accuracy (95% interval), digits; validation parts of tail")
    assert ax.title.get_fontsize() == 10
    labels, size = _legend(ax)
    assert sorted(labels) == ["estimated target (aline_kappa)", "validation"] and size == 8
    assert list(ax.get_xticks()) == [0, 1, 2]
    ticks = ax.get_xticklabels()
    assert [t.get_text() for t in ticks] == ["knn", "tree", "lda"]
    assert all(t.get_rotation() == 30 and t.get_fontsize() == 8 for t in ticks)
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    data, caps, _ = container
    assert data.get_marker() == "o" and data.get_linestyle() == "None"
    assert caps[0].get_markersize() == 8
    (scatter,) = [c for c in ax.collections if c.get_label() == "validation"]
    x = MarkerStyle("x")
    assert np.allclose(scatter.get_paths()[0].vertices, x.get_path().transformed(x.get_transform()).vertices)
    assert tuple(scatter.get_edgecolors()[0]) == to_rgba("black")
    assert [p[0] for p in scatter.get_offsets()] == [0, 1, 2]


def test_no_estimates_no_estimates_plot(saved):
    result = _result()
    result.estimates = None
    assert plot_estimates(result, "e.png") is None
    result.estimates = _result().estimates.iloc[:0]
    assert plot_estimates(result, "e.png") is None
    assert plot_estimates(SimpleNamespace(), "e.png") is None
    assert saved == []


def test_a_plot_file_is_written_at_110_dpi(tmp_path):
    path = str(tmp_path / "gap.png")
    assert plot_gap(_bare(_summary({"tail": FULL})), path) == path
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (770, 385)


# --- survivors of the report group ---------------------------------------------------------------

def test_the_estimates_section_follows_the_explanations_after_one_blank_line():
    # Markdown needs the blank line to start the heading, and a second one would show as a gap.
    result = _result()
    section = estimates_markdown(result)
    assert markdown(result).endswith(MEANINGS + "\n\n" + section)
    result.notes = ["n"]
    assert markdown(result).endswith(MEANINGS + "\n\n" + section + "\nNotes:\n- n\n")


def test_ship_line_says_why_the_target_accuracy_cannot_be_estimated():
    ship = {"model": "knn", "val_score": 0.9, "reliable": False, "reason": "too few models"}
    assert ship_line(ship) == ("Ship **knn** (validation's best model). Expected target accuracy: cannot estimate "
                               "(too few models); validation says 90.0%.")


def test_the_estimates_section_uses_the_results_own_default_estimator():
    # "doc" is not the package's default estimator, and its estimates are 5 points below aline_kappa's here.
    result = _result()
    result.default_estimator = "doc"
    rows = {r["model"]: r for r in _tables(estimates_markdown(result))[0]}
    for model, (_, est, lo, hi, _) in PER_MODEL.items():
        e, low, high = _pcts(est - 0.05, lo - 0.05, hi - 0.05)
        assert (rows[model]["estimated test"], rows[model]["interval"]) == (e, f"[{low}, {high}]")


def test_the_unlabeled_estimates_plot_uses_the_results_own_default_estimator(saved):
    result = _result(labeled=False)
    result.default_estimator = "doc"
    plot_estimates(result, "u.png")
    ax = saved[-1][0].axes[0]
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    order = ["knn", "tree", "lda"]  # best estimate first
    assert list(container[0].get_ydata()) == pytest.approx([PER_MODEL[m][1] - 0.05 for m in order])
    assert "estimated target (doc)" in _legend(ax)[0]


def test_a_result_like_object_without_an_estimate_summary_still_gets_its_estimates():
    # Results written before estimate_summary existed have estimates and a ship but no such attribute.
    r = _result()
    old = SimpleNamespace(estimates=r.estimates, ship=r.ship, default_estimator=r.default_estimator)
    text = estimates_markdown(old)
    assert len(_tables(text)) == 1 and text.endswith(ship_line(r.ship) + "\n")


def test_estimator_bias_is_shown_in_points_of_accuracy():
    # A bias large enough that any other scale than 100 changes the printed tenth.
    result = _result()
    result.estimate_summary.loc[("tail", "doc"), "bias"] = -0.5
    rows = _tables(estimates_markdown(result))[1]
    assert rows[1]["estimator"] == "doc" and rows[1]["bias"] == "-50.0"


def test_write_report_leaves_matplotlib_on_the_backend_named_agg(tmp_path, quick_png):
    # Callers compare matplotlib.get_backend() with "Agg"; matplotlib reports the name as it was given.
    matplotlib.use("agg")
    write_report(_bare(_summary({"tail": FULL}), labeled=False), str(tmp_path))
    assert matplotlib.get_backend() == "Agg"
