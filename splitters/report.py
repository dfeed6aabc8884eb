"""Tables and plots of a :class:`~splitters.compare.ComparisonResult`: one function per output."""

from __future__ import annotations

import os

import numpy as np

# Each measure is shown as "mean ± spread over repeats" when the summary has a ``*_std`` column.
SUMMARY_COLUMNS = {
    "mae": "mean abs gap",
    "bias": "bias (val - test)",
    "spearman": "Spearman",
    "kendall": "Kendall",
    "regret": "regret",
    "nn_shift": "NN-distance shift",
    "adv_auc": "val-vs-test AUC",
}
LABEL_FREE = ("nn_shift", "adv_auc")
EXPLANATION = (
    "Mean abs gap: |validation - test| averaged over models and repeats (lower is better); bias > 0: "
    "validation is optimistic. Spearman/Kendall: do validation and test rank the models alike? Regret: "
    "test score lost by picking the model validation likes best. ± : spread (standard deviation) over repeats. "
    "NN-distance shift: how differently validation and test rows sit from the training rows (0: alike). "
    "val-vs-test AUC: how well a classifier tells validation rows from test rows (0.5: indistinguishable)."
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


def markdown(result) -> str:
    """The summary as a Markdown table, with the recommendation and notes.

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str
        Markdown text; a ``status`` column appears when a strategy had failures.
    """
    cols = [c for c in SUMMARY_COLUMNS if result.labeled or c in LABEL_FREE]
    show_status = "status" in result.summary and (result.summary.status != "ok").any()
    header = [SUMMARY_COLUMNS[c] for c in cols] + (["status"] if show_status else [])
    lines = [
        f"Metric: `{result.metric}`. " + ("Scores on validation vs the labeled test set." if result.labeled
                                          else "No test labels: label-free diagnostics only."),
        "",
        "| strategy | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(cols) + ("---|" if show_status else ""),
    ]
    for name, row in result.summary.iterrows():
        mark = " **(recommended)**" if name == result.recommended else ""
        cells = [_cell(row, c) for c in cols] + ([_status_cell(row)] if show_status else [])
        lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    lines += ["", EXPLANATION]
    estimates = estimates_markdown(result)
    if estimates:
        lines += ["", estimates.rstrip()]
    if result.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in result.notes]]
    return "\n".join(lines) + "\n"


def _colors(names: list[str]) -> dict:
    import matplotlib.pyplot as plt

    return {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}


def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_val_vs_test(result, path: str) -> str:
    """Scatter of each model's validation score against its test score (mean over repeats), one
    colour per strategy, with the line validation = test. Returns ``path``."""
    import matplotlib.pyplot as plt

    names = list(result.summary.index)
    colors = _colors(names)
    t = result.table[result.table.status == "ok"] if "status" in result.table else result.table
    fig, ax = plt.subplots(figsize=(6, 6))
    for name in names:
        part = t[t.strategy == name].groupby("model")[["val_score", "test_score"]].mean()
        ax.scatter(part.test_score, part.val_score, label=name, color=colors[name], s=30)
    scores = t[["val_score", "test_score"]].to_numpy(float)
    if np.isfinite(scores).any():
        lo, hi = float(np.nanmin(scores)), float(np.nanmax(scores))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="validation = test")
    ax.set_xlabel(f"test {result.metric}")
    ax.set_ylabel(f"validation {result.metric}")
    ax.set_title("Each point: one model (mean over repeats)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_gap(result, path: str) -> str:
    """Bar chart of the mean |validation - test| gap per strategy, error bars = spread over
    repeats. Returns ``path``."""
    import matplotlib.pyplot as plt

    names = list(result.summary.index)
    colors = _colors(names)
    s = result.summary
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(names, s.mae.fillna(0.0), yerr=s.mae_std.fillna(0.0), color=[colors[n] for n in names], capsize=4)
    ax.set_ylabel(f"mean |validation - test| ({result.metric})")
    ax.set_title("Gap per strategy (error bars: spread over repeats)")
    return _save(fig, path)


def plot_distances(result, path: str) -> str:
    """Histograms, per strategy, of the distance from validation rows and from test rows to the
    nearest training row. Returns ``path``."""
    import matplotlib.pyplot as plt

    names = [n for n in result.summary.index if n in result.distances] or list(result.summary.index)
    colors = _colors(names)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("distance to nearest training row", fontsize=8)
        d = result.distances.get(name)
        if d is None:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            continue
        bins = np.linspace(0, float(max(d["validation"].max(), d["test"].max())) or 1.0, 40)
        ax.hist(d["validation"], bins=bins, alpha=0.6, density=True, label="validation", color=colors[name])
        ax.hist(d["test"], bins=bins, alpha=0.5, density=True, label="test", color="black", histtype="step")
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def write_report(result, out_dir: str) -> dict[str, str]:
    """``results.json``, ``report.md`` and the PNG plots (the score plots only with test labels).

    Parameters
    ----------
    result : ComparisonResult
    out_dir : str
        Created if missing.

    Returns
    -------
    dict of str to str
        Output kind (``json``, ``markdown``, ``val_vs_test``, ``gap``, ``distances``, ``estimates``) -> path.
    """
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "results.json"), "markdown": os.path.join(out_dir, "report.md")}
    result.to_json(paths["json"])
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(markdown(result))
    plots = {"distances": plot_distances}
    if result.labeled:
        plots = {"val_vs_test": plot_val_vs_test, "gap": plot_gap, **plots}
    if getattr(result, "estimates", None) is not None and not result.estimates.empty:
        plots["estimates"] = plot_estimates
    for key, plot in plots.items():
        paths[key] = plot(result, os.path.join(out_dir, f"{key}.png"))
    return paths


# --- label-free estimates (splitters.estimation) -------------------------------------------------

def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}"


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
    from .estimation import model_estimates

    est = getattr(result, "estimates", None)
    if est is None or est.empty or result.ship is None:
        return ""
    strategy, name = result.ship["strategy"], result.default_estimator
    per_model = model_estimates(est, strategy, name)
    known = "test_score" in per_model
    lines = ["### What will each model score on the target? (label-free estimates)", "",
             f"Accuracy in %, from the `{strategy}` validation parts (mean over repeats), estimator `{name}` "
             "(95% interval)." + ("" if known else " No test labels: the estimates are all there is."), "",
             "| model | validation | estimated test | interval |" + (" true test |" if known else ""),
             "|---|---:|---:|---:|" + ("---:|" if known else "")]
    for model, row in per_model.iterrows():
        lines.append(f"| {model} | {_pct(row.val_score)} | {_pct(row.estimate)} | [{_pct(row.lo)}, {_pct(row.hi)}] |"
                     + (f" {_pct(row.test_score)} |" if known else ""))
    s = result.ship
    lines += ["", f"Ship **{s['model']}**: expected target accuracy {_pct(s['estimate'])}% "
              f"[{_pct(s['lo'])}, {_pct(s['hi'])}] (validation says {_pct(s['val_score'])}%)."]
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


def plot_estimates(result, path: str) -> str | None:
    """PNG: estimated vs true test accuracy per estimator (every strategy, repeat and model), or,
    without test labels, each model's validation accuracy and estimated interval.

    Parameters
    ----------
    result : ComparisonResult
    path : str
        Where to write the PNG.

    Returns
    -------
    str or None
        ``path``, or None when the comparison made no estimates.
    """
    import matplotlib.pyplot as plt

    est = getattr(result, "estimates", None)
    if est is None or est.empty:
        return None
    if "test_score" in est:
        return plot_estimated_vs_true(est, "strategy", result.default_estimator, path)
    from .estimation import model_estimates

    per_model = model_estimates(est, result.ship["strategy"], result.default_estimator)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(per_model))
    ax.errorbar(x, per_model.estimate, yerr=[per_model.estimate - per_model.lo, per_model.hi - per_model.estimate],
                fmt="o", capsize=4, label=f"estimated target ({result.default_estimator})")
    ax.scatter(x, per_model.val_score, marker="x", color="black", label="validation")
    ax.set_xticks(x, per_model.index, rotation=30, fontsize=8)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_estimated_vs_true(estimates, by: str, default_estimator: str, path: str) -> str:
    """PNG: one panel per estimator, its estimates against the true test accuracy, coloured by ``by``.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Rows with ``estimator``, ``estimate``, ``test_score`` and the ``by`` column.
    by : str
        The column that colours the points (``"strategy"``; ``"scenario"`` in the benchmark).
    default_estimator : str
        Marked "(default)" in its panel's title.
    path : str
        Where to write the PNG.

    Returns
    -------
    str
        ``path``.
    """
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(estimates.estimator))
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), sharex=True, sharey=True, squeeze=False)
    groups = list(dict.fromkeys(estimates[by]))
    colors = _colors(groups)
    for ax, e in zip(axes.flat, names):
        part = estimates[estimates.estimator == e]
        for g in groups:
            q = part[part[by] == g]
            ax.scatter(q.test_score, q.estimate, s=10, color=colors[g], label=g, alpha=0.8)
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ax.set_title(e + (" (default)" if e == default_estimator else ""), fontsize=9)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("true test accuracy", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("estimated", fontsize=8)
    axes.flat[0].legend(fontsize=7)
    return _save(fig, path)
