"""The Markdown report of a comparison, and the files :meth:`ComparisonResult.write` writes.

``report.html`` is built from the report's own Markdown, so the two never say different things;
it needs no network to open (no scripts, no stylesheets fetched, every plot embedded as a base64
PNG). Only the Markdown the report writes is understood: headings, ``>`` lines, ``-`` lists,
tables, images, paragraphs, and ``**bold**`` and ```code``` inside them.
"""

from __future__ import annotations

import base64
import html
import os
import re

import numpy as np

from .. import estimation
from .diagnostics import DIAGNOSTICS
from .plots import plot_distances, plot_estimates, plot_gap, plot_val_vs_test, title

# How well validation predicts test, by column; each is shown as "mean ± spread over repeats"
# when the summary has a ``*_std`` column. The diagnostics' labels come from their table.
MEASURE_LABELS = {
    "mae": "mean abs gap",
    "bias": "bias (val - test)",
    "spearman": "Spearman",
    "kendall": "Kendall",
    "regret": "regret",
}
EXPLANATION = (
    "Mean abs gap: |validation - test| averaged over models and repeats (lower is better); bias > 0: "
    "validation is optimistic. Spearman/Kendall: do validation and test rank the models alike? Regret: "
    "test score lost by picking the model validation likes best. ± : spread (standard deviation) over repeats."
)


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def _cell(row, column: str) -> str:
    std = row.get(f"{column}_std")
    if std is None or _fmt(row[column]) == "–" or _fmt(std) == "–":
        return _fmt(row[column])
    return f"{_fmt(row[column])} ± {_fmt(std)}"


def _status_cell(row) -> str:
    status = row.get("status", "ok")
    return status if status == "ok" else f"{status}: {row.get('error')}"


# The order in which the context is shown, and how each key is called; other keys follow as they are.
CONTEXT_LABELS = {"dataset": "Dataset", "shift": "Shift", "rows": "Rows", "models": "Models",
                  "strategies": "Strategies", "metric": "Metric", "command": "Command", "date": "Date"}


def _rows(context: dict) -> str | None:
    if "pool" not in context:
        return None
    val = context.get("validation")
    val = ", ".join(f"{v:,}" for v in val) if isinstance(val, list) else f"{val:,}" if val is not None else "–"
    test = f"{context['test']:,} ({'labeled' if context.get('test_labeled', True) else 'unlabeled'})" \
        if "test" in context else "–"
    return f"pool {context['pool']:,}; validation {val} per part; test {test}"


def context_markdown(result) -> str:
    """What was compared, as a Markdown list: dataset, shift, row counts, models, strategies,
    metric, command line, date (the keys of ``result.context`` that are known).

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str
        Markdown; empty when the result carries no context (a ``results.json`` of an older run).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> print(context_markdown(SimpleNamespace(context={"dataset": "mnist", "pool": 1000, "validation": 100,
    ...                                                 "test": 500, "test_labeled": False, "models": ["lda"]})))
    ## What was compared: mnist
    <BLANKLINE>
    - **Dataset**: mnist
    - **Rows**: pool 1,000; validation 100 per part; test 500 (unlabeled)
    - **Models**: lda
    <BLANKLINE>
    """
    context = dict(getattr(result, "context", None) or {})
    if not context:
        return ""
    shown = {"rows": _rows(context), **{k: v for k, v in context.items()
                                        if k not in ("pool", "validation", "test", "test_labeled")}}
    lines = [f"## What was compared: {title(result)}", ""]
    for key in [*CONTEXT_LABELS, *(k for k in shown if k not in CONTEXT_LABELS)]:
        value = shown.get(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif key == "command":
            value = f"`{value}`"
        lines.append(f"- **{CONTEXT_LABELS.get(key, key)}**: {value}")
    return "\n".join(lines) + "\n"


def markdown(result, plots: dict[str, str] | None = None) -> str:
    """The summary as a Markdown table, with the recommendation and notes.

    The warnings come first, then what was compared (:func:`context_markdown`), then the tables.

    Parameters
    ----------
    result : ComparisonResult
        What :func:`splitters.compare_strategies` returned, or what :meth:`ComparisonResult.read` read.
    plots : dict of str to str, optional
        Plot files to link at the end, by kind (as :func:`write_report` returns them); paths are
        linked by their file name, so the report and its plots travel as one folder.

    Returns
    -------
    str
        Markdown text; a ``status`` column appears when a strategy had failures.

    Examples
    --------
    >>> import pandas as pd
    >>> from splitters.comparison import ComparisonResult
    >>> s = pd.DataFrame({"nn_shift": [0.1], "adv_auc": [0.5]}, index=pd.Index(["tail"], name="strategy"))
    >>> r = ComparisonResult(table=pd.DataFrame(), summary=s, recommended="tail", metric="accuracy", labeled=False)
    >>> markdown(r).splitlines()[2]
    '| strategy | NN-distance shift | val-vs-test AUC |'
    """
    labels = {**(MEASURE_LABELS if result.labeled else {}), **{d: spec.label for d, spec in DIAGNOSTICS.items()}}
    cols = list(labels)
    show_status = "status" in result.summary and (result.summary.status != "ok").any()
    header = [labels[c] for c in cols] + (["status"] if show_status else [])
    context = context_markdown(result)
    lines = [*[f"> **Warning:** {w}" for w in getattr(result, "warnings", [])],
             *([""] if getattr(result, "warnings", []) else []),
             *([context] if context else []),
        # The context lists the metric already: said once.
        ("" if "metric" in (getattr(result, "context", None) or {}) else f"Metric: `{result.metric}`. ")
        + ("Scores on validation vs the labeled test set." if result.labeled
           else "No test labels: label-free diagnostics only."),
        "",
        "| strategy | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(cols) + ("---|" if show_status else ""),
    ]
    for name, row in result.summary.iterrows():
        mark = " **(recommended)**" if name == result.recommended else ""
        cells = [_cell(row, c) for c in cols] + ([_status_cell(row)] if show_status else [])
        lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    lines += ["", " ".join([EXPLANATION, *(spec.meaning for spec in DIAGNOSTICS.values())])]
    estimates = estimates_markdown(result)
    if estimates:
        lines += ["", estimates.rstrip()]
    if result.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in result.notes]]
    shown = {k: p for k, p in (plots or {}).items() if k in PLOT_CAPTIONS and p}
    if shown:
        lines += ["", "### Plots", ""]
        lines += [f"![{PLOT_CAPTIONS[k]}]({os.path.basename(p)})" for k, p in shown.items()]
    return "\n".join(lines) + "\n"


# What each plot shows, as report.md's image text and report.html's caption.
PLOT_CAPTIONS = {
    "val_vs_test": "validation against test score, per model",
    "gap": "mean |validation - test| gap per strategy",
    "distances": "distance to the nearest training row, validation and test rows",
    "estimates": "label-free estimates of each model's target accuracy",
}


def write_report(result, out_dir: str) -> dict[str, str]:
    """``results.json``, ``report.md``, ``report.html`` and the PNG plots (the score plots only
    with test labels).

    ``report.md`` links the plots next to it; ``report.html`` is the same report in one file,
    its plots embedded (:func:`report_html`), to open in a browser
    without a network.

    Parameters
    ----------
    result : ComparisonResult
    out_dir : str
        Created if missing.

    Returns
    -------
    dict of str to str
        Output kind (``json``, ``markdown``, ``html``, ``val_vs_test``, ``gap``, ``distances``,
        ``estimates``) -> path.
    """
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "results.json"), "markdown": os.path.join(out_dir, "report.md"),
             "html": os.path.join(out_dir, "report.html")}
    result.to_json(paths["json"])
    plots = {"distances": plot_distances}
    if result.labeled:
        plots = {"val_vs_test": plot_val_vs_test, "gap": plot_gap, **plots}
    if getattr(result, "estimates", None) is not None and not result.estimates.empty:
        plots["estimates"] = plot_estimates
    drawn = {}
    for key, plot in plots.items():
        drawn[key] = paths[key] = plot(result, os.path.join(out_dir, f"{key}.png"))
    text = markdown(result, drawn)
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(text)
    with open(paths["html"], "w", encoding="utf-8") as f:
        f.write(report_html(text, title(result), out_dir))
    return paths


# --- label-free estimates (splitters.estimation) -------------------------------------------------

def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}"


def ship_line(ship: dict) -> str:
    """What ``ship`` means, in one sentence: the model, why it, and what it is expected to score.

    Parameters
    ----------
    ship : dict
        :attr:`ComparisonResult.ship`.

    Returns
    -------
    str

    Examples
    --------
    >>> print(ship_line({"model": "knn", "basis": "validation", "val_score": 0.9, "estimate": 0.7, "lo": 0.0,
    ...                  "hi": 1.0, "reliable": False, "reason": "too few models"}))
    Ship **knn** (validation's best model). Expected target accuracy: cannot estimate (too few models); validation says 90.0%.
    """
    why = ("the estimates place it above validation's pick, beyond both intervals" if ship.get("basis") == "estimate"
           else "validation's best model")
    if ship.get("reliable", True):
        expect = f"{_pct(ship['estimate'])}% [{_pct(ship['lo'])}, {_pct(ship['hi'])}]"
    else:
        expect = f"cannot estimate ({ship.get('reason') or 'no basis'})"
    return (f"Ship **{ship['model']}** ({why}). Expected target accuracy: {expect}; "
            f"validation says {_pct(ship['val_score'])}%.")


def estimates_markdown(result) -> str:
    """Per model: validation accuracy, the default estimator's estimated test accuracy with its
    interval, and the true test accuracy when known (means over the recommended strategy's
    repeats); then the model to ship and, with test labels, how right each estimator was.

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str
        Markdown; empty when the comparison made no estimates.

    Examples
    --------
    >>> import numpy as np
    >>> from splitters import compare_strategies
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] > 0).astype(int)
    >>> r = compare_strategies(X, y, X[:80] + 0.3, None, strategies=["random"], models=["lda", "knn", "tree"],
    ...                        repeats=1, progress=False)
    >>> print(estimates_markdown(r).splitlines()[0])
    ### What will each model score on the target? (label-free estimates)
    """
    est = getattr(result, "estimates", None)
    if est is None or est.empty or result.ship is None:
        return ""
    strategy, name = result.ship["strategy"], result.default_estimator
    per_model = estimation.model_estimates(est, strategy, name)
    known = "test_score" in per_model
    lines = ["### What will each model score on the target? (label-free estimates)", "",
             f"Accuracy in %, from the `{strategy}` validation parts (mean over repeats), estimator `{name}` "
             "(95% interval)." + ("" if known else " No test labels: the estimates are all there is."), "",
             "| model | validation | estimated test | interval |" + (" true test |" if known else ""),
             "|---|---:|---:|---:|" + ("---:|" if known else "")]
    for model, row in per_model.iterrows():
        basis = bool(row.get("reliable", True))
        lines.append(f"| {model} | {_pct(row.val_score)} | {_pct(row.estimate) if basis else 'no basis'} | "
                     f"{f'[{_pct(row.lo)}, {_pct(row.hi)}]' if basis else 'cannot estimate'} |"
                     + (f" {_pct(row.test_score)} |" if known else ""))
    lines += ["", ship_line(result.ship)]
    summary = getattr(result, "estimate_summary", None)
    if summary is not None and not summary.empty:
        part = summary.loc[strategy] if strategy in summary.index.get_level_values(0) else summary
        lines += ["", f"How right each estimator was here (`{strategy}`; points of accuracy; coverage of the "
                  "intervals; regret = test points lost by shipping the model the estimate prefers):", "",
                  "| estimator | MAE | bias | coverage | Spearman | regret |", "|---|---:|---:|---:|---:|---:|"]
        for e, row in part.iterrows():
            mark = " **(default)**" if e == name else ""
            lines.append(f"| {e}{mark} | {100 * row.mae:.1f} | {100 * row.bias:+.1f} | {row.coverage:.2f} | "
                         f"{row.spearman:.2f} | {100 * row.regret:.2f} |")
    return "\n".join(lines) + "\n"


# --- report.html ---------------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em}
td.num{text-align:right}th{background:#f3f3f3}blockquote{border-left:4px solid #d33;background:#fff4f4;
margin:.4em 0;padding:.4em 1em}img{max-width:100%}figure{margin:1.5em 0}figcaption{color:#555}
code{background:#f3f3f3;padding:0 .2em}"""
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)")


def _inline(text: str) -> str:
    """Escaped text with ``**bold**`` and ```code``` marked up."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    """A Markdown table (header, alignment row, rows) as HTML; right-aligned columns get ``num``."""
    header, align, rows = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    right = [a.endswith(":") for a in align]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td{" class=num" if i < len(right) and right[i] else ""}>{_inline(c)}</td>'
                                     for i, c in enumerate(row)) + "</tr>")
    return "\n".join([*out, "</tbody>", "</table>"])


def _image(alt: str, src: str, folder: str | None) -> str:
    """The PNG at ``folder/src`` embedded as a data URI (a missing file: the caption says so)."""
    path = os.path.join(folder or ".", src)
    if not os.path.isfile(path):
        return f"<p><em>{_inline(alt)}: plot not found ({_inline(src)})</em></p>"
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_inline(alt)}</figcaption></figure>")


def markdown_to_html(text: str, folder: str | None = None) -> str:
    """The body of a page for the report's Markdown ``text``; images are read from ``folder``.

    Parameters
    ----------
    text : str
        Markdown as :func:`splitters.comparison.report.markdown` writes it.
    folder : str, optional
        Where the linked PNG files are (default: the current folder).

    Returns
    -------
    str
        HTML elements, without ``<html>`` and ``<body>``.

    Examples
    --------
    >>> print(markdown_to_html("> **Warning:** x\\n\\n| a | b |\\n|---|---:|\\n| `m` | 1 |"))
    <blockquote><strong>Warning:</strong> x</blockquote>
    <table>
    <thead><tr><th>a</th><th>b</th></tr></thead>
    <tbody>
    <tr><td><code>m</code></td><td class=num>1</td></tr>
    </tbody>
    </table>
    """
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            blocks.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith(">"):
            blocks.append(f"<blockquote>{_inline(line.lstrip('>').strip())}</blockquote>")
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            blocks.append(_table(lines[i:j]))
            i = j
        elif line.startswith("- "):
            j = i
            while j < len(lines) and lines[j].startswith("- "):
                j += 1
            blocks.append("<ul>\n" + "\n".join(f"<li>{_inline(x[2:])}</li>" for x in lines[i:j]) + "\n</ul>")
            i = j
        elif _IMAGE.fullmatch(line.strip()):
            m = _IMAGE.fullmatch(line.strip())
            blocks.append(_image(m["alt"], m["src"], folder))
            i += 1
        else:
            j = i + 1  # the first line is this paragraph's even when it starts like an image but is not one
            while j < len(lines) and lines[j].strip() and not lines[j].startswith(("#", ">", "|", "- ", "![")):
                j += 1
            blocks.append(f"<p>{_inline(' '.join(lines[i:j]))}</p>")
            i = j
    return "\n".join(blocks)


def report_html(text: str, title: str, folder: str | None = None) -> str:
    """A whole self-contained page for the report's Markdown ``text``, titled ``title``.

    Parameters
    ----------
    text : str
        The report's Markdown.
    title : str
        What the comparison was about (:func:`title`).
    folder : str, optional
        Where the linked plots are.

    Returns
    -------
    str

    Examples
    --------
    >>> page = report_html("Metric: `accuracy`.", "mnist, shift rotate:30")
    >>> "<title>Comparison of validation splits: mnist, shift rotate:30</title>" in page, "http" in page
    (True, False)
    """
    name = f"Comparison of validation splits: {title}"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(name)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{html.escape(name)}</h1>\n"
            f"{markdown_to_html(text, folder)}\n</body>\n</html>\n")
