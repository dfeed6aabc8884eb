"""How right are the label-free estimates of test accuracy? The shift suite on Fashion-MNIST.

    python scripts/benchmarks/bench_estimates.py [--data-dir ../shared/data/fashion-mnist] [--seeds 0 1]
        [--scenarios none rotate:15 ...] [--out docs/estimates]
    python scripts/benchmarks/bench_estimates.py --rescore docs/estimates/estimates.json

``--rescore`` re-scores a saved run (its estimates, unchanged) without fitting anything: the
tables and the plot are written again from it, with the measures of today's code.

For every seed: a random pool of 20,000 training images (PCA-50 features fitted on it), and for
every scenario the 10,000 test images shifted (``A+B`` applies A then B). Each pair goes through
``splitters.compare_strategies`` (the ``random`` strategy, 5,000 validation rows, 3 repeats, the
default zoo), so the product's code is what is measured. Per scenario and estimator: MAE and bias
of the estimated test accuracy (points), interval coverage, Spearman between estimated and true
test accuracy over the models, the regret of shipping the model the estimate prefers, and the mean
width of the 95% intervals (points). The MAE table also gives the line floor
(``splitters.estimation.line_floor``): the error of the best probit line from validation to test
accuracy, fitted with the test labels, below which no estimator that applies one line (``aline_s``)
can go. Writes
``estimates.md``, ``estimates.json`` and ``estimated_vs_true.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the checkout
import mnist_hf
import splitters
from mnist_compare.shifts import apply_shift
from splitters.comparison.plots import plot_estimated_vs_true
from splitters.estimation import DEFAULT_ESTIMATOR, ESTIMATORS

SCENARIOS = ["none", "rotate:15", "rotate:30", "thicken:1", "thin:1", "noise:40", "labelshift:0.2",
             "rotate:15+noise:40", "thicken:1+rotate:15"]
HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "fashion-mnist"))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--scenarios", nargs="+", default=SCENARIOS)
    p.add_argument("--pool", type=int, default=20000)
    p.add_argument("--val-size", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-jobs", type=int, default=-1)
    p.add_argument("--out", default=os.path.join(HERE, "..", "..", "docs", "estimates"))
    p.add_argument("--rescore", metavar="JSON", help="re-score the estimates saved in this estimates.json "
                   "instead of running the suite (its arguments and run time are kept)")
    return p.parse_args(argv)


def saved_run(args) -> tuple[pd.DataFrame, float, argparse.Namespace]:
    """The estimates, run time and arguments of the run saved in ``args.rescore``."""
    try:
        with open(args.rescore, encoding="utf-8") as f:
            saved = json.load(f)
        table, seconds = pd.DataFrame(saved["estimates"]), float(saved["seconds"])
        kept = argparse.Namespace(**{**saved["args"], "out": args.out, "rescore": args.rescore})
    except (OSError, ValueError, KeyError, TypeError) as err:
        sys.exit(f"--rescore {args.rescore}: not an estimates.json written by this script "
                 f"({type(err).__name__}: {err})")
    return table, seconds, kept


def shifted(spec: str, images: np.ndarray, labels: np.ndarray, seed: int):
    """Apply ``A+B+...`` in order (``none``: unchanged), each with its own seed."""
    for i, part in enumerate(spec.split("+")):
        if part != "none":
            images, labels = apply_shift(part, images, labels, seed=seed + 17 * i)
    return images, labels


def load(data_dir: str):
    def read(name):
        return mnist_hf.read_idx(os.path.join(data_dir, name))

    return (read("train-images-idx3-ubyte.gz"), read("train-labels-idx1-ubyte.gz").astype(np.int64),
            read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz").astype(np.int64))


def run(args) -> pd.DataFrame:
    from tqdm.auto import tqdm

    train_images, train_labels, test_images, test_labels = load(args.data_dir)
    tables = []
    bar = tqdm(total=len(args.seeds) * len(args.scenarios), desc="scenarios", unit="run")
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        pool = rng.choice(len(train_images), args.pool, replace=False)
        features = splitters.image_features(50, random_state=seed).fit(train_images[pool])
        X, y = features.transform(train_images[pool]), train_labels[pool]
        for spec in args.scenarios:
            bar.set_postfix_str(f"seed {seed}, {spec}")
            images, labels = shifted(spec, test_images, test_labels, seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = splitters.compare_strategies(X, y, features.transform(images), labels, strategies=["random"],
                                                      repeats=args.repeats, val_size=args.val_size, random_state=seed,
                                                      n_jobs=args.n_jobs, progress=False)
            t = result.estimates.assign(seed=seed, scenario=spec, seconds=time.perf_counter() - start)
            tables.append(t)
            bar.update()
    bar.close()
    return pd.concat(tables, ignore_index=True)


FLOORS = {"line floor*": False, "kappa line floor*": True}  # column -> line_floor's kappa


def score(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per scenario and estimator: MAE, bias (points), coverage, interval width (points), Spearman,
    regret (points); and per scenario the line floors (points; the kappa one when the run saved
    the chance accuracies). Means over seeds."""
    from splitters.estimation import line_floor, summarise_estimates

    floors = {c: k for c, k in FLOORS.items() if not k or table.get("chance_val", pd.Series()).notna().any()}
    parts, floor_rows = [], {}
    for (spec, seed), part in table.groupby(["scenario", "seed"], sort=False):
        s = summarise_estimates(part).reset_index().assign(scenario=spec, seed=seed)
        parts.append(s)
        floor_rows[(spec, seed)] = {c: 100 * line_floor(part, kappa=k).mean() for c, k in floors.items()}
    per_seed = pd.concat(parts)
    measures = ["mae", "bias", "coverage", "width", "spearman", "regret"]
    out = per_seed.groupby(["scenario", "estimator"], sort=False)[measures].mean()
    out[["mae", "bias", "width", "regret"]] *= 100
    return out, pd.DataFrame.from_dict(floor_rows, orient="index").groupby(level=0, sort=False).mean()


def markdown(scores: pd.DataFrame, floors: pd.DataFrame, scenarios: list[str], seconds: float, args) -> str:
    lines = [f"Fashion-MNIST, pool {args.pool:,} (random subset of train, seeds {args.seeds}), validation "
             f"{args.val_size:,} (`random`, {args.repeats} repeats), PCA-50, default zoo of 7 models; "
             f"estimated vs true test accuracy of every model. Default estimator: `{DEFAULT_ESTIMATOR}`. "
             f"Run time {seconds / 60:.1f} min.", ""]
    for metric, title, fmt in (("mae", "MAE (points)", "{:.1f}"), ("bias", "bias, estimate - test (points)", "{:+.1f}"),
                               ("coverage", "interval coverage", "{:.2f}"),
                               ("width", "mean interval width (points)", "{:.1f}"),
                               ("spearman", "Spearman (models)", "{:.2f}"),
                               ("regret", "regret of the model picked (points)", "{:.2f}")):
        extra = list(floors.columns) if metric == "mae" else []  # the floors bound the error, and only the error
        lines += [f"**{title}**", "", "| scenario | " + " | ".join([*ESTIMATORS, *extra]) + " |",
                  "|---|" + "---:|" * (len(ESTIMATORS) + len(extra))]
        for spec in scenarios + ["mean (shifted)", "mean (all)"]:
            if spec == "mean (shifted)":
                chosen = [s for s in scenarios if s != "none"]
            else:
                chosen = scenarios if spec == "mean (all)" else [spec]
            vals = scores.loc[chosen][metric].groupby(level="estimator").mean()
            cells = [fmt.format(vals[e]) for e in ESTIMATORS] + [fmt.format(floors.loc[chosen, c].mean()) for c in extra]
            lines.append(f"| {spec} | " + " | ".join(cells) + " |")
        if extra:
            lines += ["", "\\* Uses the test labels (`splitters.estimation.line_floor`): the error of the best "
                      "probit line from validation to test accuracy, below which `aline_s` cannot go"
                      + ("; and of the best line in kappa space with each model's chance accuracy added back, "
                         "below which `aline_kappa` cannot go." if len(extra) > 1 else ".")]
        lines.append("")
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: str) -> None:
    table = table[table.estimator.isin(list(ESTIMATORS))]
    plot_estimated_vs_true(table, "scenario", DEFAULT_ESTIMATOR, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.rescore:
        table, seconds, args = saved_run(args)
    else:
        start = time.perf_counter()
        table = run(args)
        seconds = time.perf_counter() - start
    scores, floors = score(table)
    text = markdown(scores, floors, list(dict.fromkeys(table.scenario)), seconds, args)
    print(text)
    with open(os.path.join(args.out, "estimates.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(args.out, "estimates.json"), "w", encoding="utf-8") as f:
        json.dump({"args": vars(args), "seconds": seconds, "default_estimator": DEFAULT_ESTIMATOR,
                   "scores": scores.reset_index().to_dict(orient="records"), "line_floor": floors.to_dict(orient="index"),
                   "estimates": table.to_dict(orient="records")}, f, indent=1, default=float)
    plot(table, os.path.join(args.out, "estimated_vs_true.png"))
    print("written: " + ", ".join(os.path.join(args.out, n) for n in ("estimates.md", "estimates.json",
                                                                        "estimated_vs_true.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
