"""Tables and plots of a :class:`~splitters.compare.ComparisonResult`."""

from __future__ import annotations

import os

import numpy as np

SUMMARY_COLUMNS = {
    "mae": "mean abs gap",
    "mae_std": "± (repeats)",
    "bias": "bias (val - test)",
    "spearman": "Spearman",
    "kendall": "Kendall",
    "regret": "regret",
    "nn_shift": "NN-distance shift",
    "adv_auc": "val-vs-test AUC",
}


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def markdown(result) -> str:
    """The summary as a Markdown table, with the recommendation and notes."""
    cols = [c for c in SUMMARY_COLUMNS if result.labeled or c in ("nn_shift", "adv_auc")]
    lines = [
        f"Metric: `{result.metric}`. " + ("Scores on validation vs the labeled test set." if result.labeled
                                          else "No test labels: label-free diagnostics only."),
        "",
        "| strategy | " + " | ".join(SUMMARY_COLUMNS[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for name, row in result.summary.iterrows():
        mark = " **(recommended)**" if name == result.recommended else ""
        lines.append(f"| {name}{mark} | " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    lines += [
        "",
        "Mean abs gap: |validation - test| averaged over models and repeats (lower is better); bias > 0: "
        "validation is optimistic. Spearman/Kendall: do validation and test rank the models alike? Regret: "
        "test score lost by picking the model validation likes best. NN-distance shift: how differently "
        "validation and test rows sit from the training rows (0: alike). val-vs-test AUC: how well a "
        "classifier tells validation rows from test rows (0.5: indistinguishable).",
    ]
    if result.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in result.notes]]
    return "\n".join(lines) + "\n"


def write_report(result, out_dir: str) -> dict[str, str]:
    """``results.json``, ``report.md`` and the PNG plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "results.json"), "markdown": os.path.join(out_dir, "report.md")}
    result.to_json(paths["json"])
    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(markdown(result))
    names = list(result.summary.index)
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}

    if result.labeled:
        fig, ax = plt.subplots(figsize=(6, 6))
        t = result.table
        for name in names:
            part = t[t.strategy == name].groupby("model")[["val_score", "test_score"]].mean()
            ax.scatter(part.test_score, part.val_score, label=name, color=colors[name], s=30)
        lo = float(np.nanmin(t[["val_score", "test_score"]].to_numpy()))
        hi = float(np.nanmax(t[["val_score", "test_score"]].to_numpy()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="validation = test")
        ax.set_xlabel(f"test {result.metric}")
        ax.set_ylabel(f"validation {result.metric}")
        ax.set_title("Each point: one model (mean over repeats)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths["val_vs_test"] = os.path.join(out_dir, "val_vs_test.png")
        fig.savefig(paths["val_vs_test"], dpi=110)
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(7, 3.5))
        s = result.summary
        ax.bar(names, s.mae, yerr=s.mae_std, color=[colors[n] for n in names], capsize=4)
        ax.set_ylabel(f"mean |validation - test| ({result.metric})")
        ax.set_title("Gap per strategy (error bars: spread over repeats)")
        fig.tight_layout()
        paths["gap"] = os.path.join(out_dir, "gap.png")
        fig.savefig(paths["gap"], dpi=110)
        plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        d = result.distances[name]
        bins = np.linspace(0, float(max(d["validation"].max(), d["test"].max())), 40)
        ax.hist(d["validation"], bins=bins, alpha=0.6, density=True, label="validation", color=colors[name])
        ax.hist(d["test"], bins=bins, alpha=0.5, density=True, label="test", color="black", histtype="step")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("distance to nearest training row", fontsize=8)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    paths["distances"] = os.path.join(out_dir, "distances.png")
    fig.savefig(paths["distances"], dpi=110)
    plt.close(fig)
    return paths
