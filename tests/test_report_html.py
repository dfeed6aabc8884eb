"""Reports a person opens: what was compared at the top, titled plots linked from report.md, and a
self-contained report.html."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.figure import Figure

import splitters
from splitters.comparison import ComparisonResult
from splitters.estimation import GroupPredictions, estimate_accuracies

CONTEXT = {"dataset": "toy digits", "shift": "move:0.4", "command": "python compare.py --shift move:0.4"}


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    Xt = rng.normal(size=(200, 4)) + [0.4, 0, 0, 0]
    yt = (Xt[:, 0] + Xt[:, 1] > 0).astype(int)
    return splitters.compare_strategies(X, y, Xt, yt, strategies=["random", "tail"], models=["lda", "knn"],
                                        repeats=1, val_size=50, progress=False, context=CONTEXT)


def test_the_result_carries_what_was_compared_and_keeps_it_in_json(result, tmp_path):
    c = result.context
    assert {k: c[k] for k in CONTEXT} == CONTEXT
    assert (c["pool"], c["validation"], c["test"], c["test_labeled"]) == (500, 50, 200, True)
    assert c["models"] == ["lda", "knn"] and c["strategies"] == ["random", "tail"] and c["date"].endswith("UTC")
    result.to_json(str(tmp_path / "results.json"))
    assert ComparisonResult.read(tmp_path / "results.json").context == c


def test_report_starts_with_the_warnings_then_what_was_compared(result):
    lines = result.to_markdown().splitlines()
    n = len(result.warnings)
    assert n and lines[:n] == [f"> **Warning:** {w}" for w in result.warnings]  # two models: no basis
    assert lines[n + 1] == "## What was compared: toy digits, shift move:0.4"
    block = lines[n + 3:lines.index("", n + 3)]
    assert block == ["- **Dataset**: toy digits", "- **Shift**: move:0.4",
                     "- **Rows**: pool 500; validation 50 per part; test 200 (labeled)",
                     "- **Models**: lda, knn", "- **Strategies**: random, tail", "- **Metric**: accuracy",
                     "- **Command**: `python compare.py --shift move:0.4`", f"- **Date**: {result.context['date']}"]


def test_an_old_result_without_context_reads_as_before(result):
    old = ComparisonResult.from_dict({k: v for k, v in result.to_dict().items() if k != "context"})
    assert old.context == {} and "What was compared" not in old.to_markdown()


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images, self.links, self.cells = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs)
        for key in ("href", "src"):
            if key in attrs:
                self.links.append(attrs[key])

    def handle_data(self, data):
        if self.tags and self.tags[-1] in ("td", "th"):
            self.cells.append(data)


def test_write_gives_a_self_contained_html_report_and_links_the_plots(result, tmp_path):
    paths = result.write(str(tmp_path), context={"note": "seen in a browser"})
    assert result.context["note"] == "seen in a browser"
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    for kind in ("val_vs_test", "gap", "distances", "estimates"):
        assert f"]({kind}.png)" in md and (tmp_path / f"{kind}.png").is_file()
    page = _Page()
    page.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert paths["html"] == str(tmp_path / "report.html")
    assert page.tags.count("table") == md.count("\n|---") and page.tags.count("table") >= 2
    assert "mean abs gap" in page.cells and "random **(recommended)**" not in page.cells
    assert page.tags.count("blockquote") == len(result.warnings) and "h1" in page.tags
    assert len(page.images) == 4
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,") and img["alt"]
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing to fetch: every src is embedded, no script, no stylesheet link
    assert all(link.startswith("data:") for link in page.links) and not {"script", "link"} & set(page.tags)


def test_every_plot_is_titled_and_labelled(result, tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: saved.append(self) or open(path, "wb").close())
    result.write(str(tmp_path))
    assert len(saved) == 4
    for fig in saved:
        titles = [fig._suptitle.get_text() if fig._suptitle else ""] + [ax.get_title() for ax in fig.axes]
        assert any("toy digits, shift move:0.4" in t for t in titles), titles
        visible = [ax for ax in fig.axes if ax.axison]
        assert any(ax.get_ylabel() for ax in visible) and any(ax.get_xlabel() for ax in visible)


def test_the_estimates_stage_shows_a_progress_bar_unless_told_not_to(capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    P = np.stack([np.eye(2)[np.where(rng.random(100) < q, y, 1 - y)] * 0.8 + 0.1 for q in (0.6, 0.8, 0.9)])
    groups = {("random", 0): GroupPredictions(P, y, P)}
    estimate_accuracies(groups, n_boot=5, progress=True)
    assert "estimates: 100%" in capsys.readouterr().err
    estimate_accuracies(groups, n_boot=5)
    assert capsys.readouterr().err == ""
