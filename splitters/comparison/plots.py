"""The PNG plots of a comparison: one function per plot, each returning the path it wrote."""

from __future__ import annotations

import numpy as np

from .. import estimation


def title(result) -> str:
    """What the comparison was about, in a few words: the dataset and shift when known.

    Parameters
    ----------
    result : ComparisonResult

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> title(SimpleNamespace(context={"dataset": "mnist", "shift": "rotate:30"}))
    'mnist, shift rotate:30'
    >>> title(SimpleNamespace(context={}))
    'your data'
    """
    context = getattr(result, "context", None) or {}
    parts = [str(context["dataset"])] if context.get("dataset") else []
    if context.get("shift"):
        parts.append(f"shift {context['shift']}")
    return ", ".join(parts) or "your data"


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
    ax.set_title(f"Validation vs test, {title(result)}\n(each point: one model, mean over repeats)", fontsize=10)
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
    ax.set_xlabel("split strategy")
    ax.set_title(f"Gap per strategy, {title(result)} (error bars: spread over repeats)", fontsize=10)
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
    axes[0][0].set_ylabel("share of rows (density)", fontsize=8)
    if axes[0][0].get_legend_handles_labels()[0]:  # a result read from JSON has no distances to show
        axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Distance to the nearest training row: validation vs test rows, {title(result)}", fontsize=10)
    return _save(fig, path)


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
        return plot_estimated_vs_true(est, "strategy", result.default_estimator, path,
                                      title=f"Estimated vs true test accuracy, {title(result)}")
    per_model = estimation.model_estimates(est, result.ship["strategy"], result.default_estimator)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(per_model))
    ax.errorbar(x, per_model.estimate, yerr=[per_model.estimate - per_model.lo, per_model.hi - per_model.estimate],
                fmt="o", capsize=4, label=f"estimated target ({result.default_estimator})")
    ax.scatter(x, per_model.val_score, marker="x", color="black", label="validation")
    ax.set_xticks(x, per_model.index, rotation=30, fontsize=8)
    ax.set_xlabel("model")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Estimated target accuracy (95% interval), {title(result)}; "
                 f"validation parts of {result.ship['strategy']}", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_estimated_vs_true(estimates, by: str, default_estimator: str, path: str, title: str | None = None) -> str:
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
    title : str, optional
        The figure's title (default: "Estimated vs true test accuracy, per estimator").

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
    fig.suptitle(title or "Estimated vs true test accuracy, per estimator", fontsize=10)
    return _save(fig, path)
