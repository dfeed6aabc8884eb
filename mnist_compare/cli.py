"""Which validation split tells the truth about the test data? Compare split strategies on an
MNIST-family dataset, against its published test set or a shifted version of it.

    compare-splits --dataset fashion_mnist [--data-dir D] [--strategies ...]
        [--models ...] [--shift rotate:30] [--repeats 3] [--out DIR]
        [--test-images F --test-labels F | --target-images F]
        [--pool-where COLUMN=V[,V...]] [--test-where COLUMN=V[,V...]] [--group-column COLUMN]
        [--backend dask --scheduler ADDRESS]

With --pool-where / --test-where the pool and the test set are chosen by a metadata column of the
dataset, from all its published rows (train and test together): e.g. QMNIST's Census Bureau
employees (hsf_series 0 and 1) against its high-school students (hsf_series 4). Either one alone
takes the other side as the rest. --group-column gives the `group` strategy its groups (e.g.
writer_id: whole writers go to validation, none of them in training).

Writes results.json, report.md and PNG plots to --out, and prints the table and how long each
stage took.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import time

import numpy as np

import mnist_hf
import splitters
from mnist_compare.shifts import SHIFTS, apply_shift, parse_shift
from mnist_hf.faults import describe
from splitters import DEFAULT_STRATEGIES, default_models
from splitters.comparison import DEFAULTS

PROG = "compare-splits"  # the installed command; scripts/compare_splits.py passes its own name


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written, and every option's default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default is not None and action.default is not False and action.default != argparse.SUPPRESS
        if action.option_strings and shown and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    """The command line's options, checked (a bad combination exits with code 2 and one line).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).
    prog : str, optional
        The name the messages start with.

    Returns
    -------
    argparse.Namespace
        The options, with ``prog`` added.
    """
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("--dataset", default="fashion_mnist", choices=sorted(mnist_hf.SPECS), help="which dataset")
    p.add_argument("--data-dir", help="folder with the IDX files (otherwise: system copy or download)")
    p.add_argument("--cache-dir", help="datasets cache folder (otherwise: the Hugging Face cache)")
    p.add_argument("--strategies", nargs="+", default=list(DEFAULT_STRATEGIES),
                   choices=sorted(splitters.STRATEGIES), help="`group` needs --group-column")
    p.add_argument("--models", nargs="+", default=None, choices=sorted(default_models()),
                   help="models to fit (otherwise: the whole zoo)")
    p.add_argument("--metric", default=DEFAULTS["metric"], choices=sorted(splitters.SCORE_METRICS),
                   help="score of each fit")
    p.add_argument("--shift", help=f"shift the test set: NAME:VALUE with NAME in {sorted(SHIFTS)}, or several "
                                   "joined by + (e.g. thicken:1+rotate:15)")
    p.add_argument("--test-images", help="your own test images (IDX), instead of the published test set")
    p.add_argument("--test-labels", help="labels for --test-images (IDX)")
    p.add_argument("--target-images", help="unlabeled target images (IDX): label-free comparison only")
    p.add_argument("--pool-where", type=_where, metavar="COLUMN=V[,V...]",
                   help="the pool: rows whose metadata COLUMN holds one of these values (e.g. hsf_series=0,1)")
    p.add_argument("--test-where", type=_where, metavar="COLUMN=V[,V...]",
                   help="the test set: rows whose metadata COLUMN holds one of these values (e.g. hsf_series=4)")
    p.add_argument("--group-column", metavar="COLUMN", help="metadata column of the groups for `group` (e.g. writer_id)")
    p.add_argument("--val-size", type=float, default=5000, help="validation rows (count) or fraction")
    p.add_argument("--repeats", type=int, default=DEFAULTS["repeats"], help="splits per strategy")
    p.add_argument("--n-components", type=int, default=50, help="PCA dimensions of the features")
    p.add_argument("--n-jobs", type=int, default=-1, help="parallel fits (-1: every core)")
    p.add_argument("--seed", type=int, default=DEFAULTS["random_state"], help="seed of splits, models and shifts")
    p.add_argument("--backend", choices=["loky", "threading", "dask"], help="joblib backend for the fits")
    p.add_argument("--scheduler", help="dask.distributed scheduler address (with --backend dask)")
    p.add_argument("--out", default="reports/compare", help="folder for results.json, report.md and the plots")
    args = p.parse_args(argv)
    if args.shift:
        try:
            parse_shift(args.shift)
        except ValueError as e:
            p.error(f"--shift: {e}")
    if bool(args.test_images) != bool(args.test_labels):
        p.error("--test-images and --test-labels go together")
    if args.target_images and (args.test_images or args.shift):
        p.error("--target-images replaces the test set: don't combine it with --test-images or --shift")
    if args.backend == "dask" and not args.scheduler:
        p.error("--backend dask needs --scheduler ADDRESS")
    if (args.pool_where or args.test_where) and (args.test_images or args.target_images):
        p.error("--pool-where/--test-where choose the test set from the dataset: don't combine them with "
                "--test-images or --target-images")
    if "group" in args.strategies and not args.group_column:
        p.error("the group strategy needs --group-column COLUMN (e.g. writer_id)")
    args.prog = prog
    return args


def _where(text: str) -> tuple[str, frozenset[int]]:
    """``COLUMN=V1,V2`` -> ``(COLUMN, {V1, V2})`` (integer values)."""
    column, sep, values = text.partition("=")
    try:
        picked = frozenset(int(v) for v in values.split(","))
    except ValueError:
        picked = frozenset()
    if not sep or not column.strip() or not picked:
        raise argparse.ArgumentTypeError(f"expected COLUMN=V[,V...] with integer values, got {text!r}")
    return column.strip(), picked


def _columns(ds, names: set[str], prog: str = PROG) -> dict[str, np.ndarray]:
    """The named columns of every published part (train, then test), end to end."""
    parts = [ds[k] for k in ("train", "test") if k in ds]
    missing = sorted(names - set(parts[0].column_names))
    if missing:
        raise SystemExit(f"{prog}: error: the dataset has no column {', '.join(map(repr, missing))}; "
                         f"its columns are {parts[0].column_names}")
    return {n: np.concatenate([mnist_hf.label_array(d, n) for d in parts]) for n in sorted(names)}


def _by_metadata(ds, args) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Pool and test (images, labels) chosen by metadata, and the pool's groups."""
    conditions = [w for w in (args.pool_where, args.test_where) if w]
    columns = _columns(ds, {c for c, _ in conditions} | ({args.group_column} if args.group_column else set()), args.prog)
    parts = [ds[k] for k in ("train", "test") if k in ds]
    pairs = [mnist_hf.to_numpy(d, normalize=False) for d in parts]
    images, labels = (np.concatenate(a) for a in zip(*pairs))
    pool = test = None
    if args.pool_where:
        pool = np.isin(columns[args.pool_where[0]], list(args.pool_where[1]))
    if args.test_where:
        test = np.isin(columns[args.test_where[0]], list(args.test_where[1]))
    pool = ~test if pool is None else pool
    test = ~pool if test is None else test
    for name, mask in (("pool", pool), ("test set", test)):
        if not mask.any():
            raise SystemExit(f"{args.prog}: error: no row is in the {name} (check --pool-where/--test-where)")
    if (pool & test).any():
        raise SystemExit(f"{args.prog}: error: {int((pool & test).sum()):,} rows are in both the pool and the "
                         "test set: --pool-where and --test-where must not overlap")
    groups = columns[args.group_column][pool] if args.group_column else None
    return images[pool], labels[pool], images[test], labels[test], groups


def _shift_label(args) -> str:
    """How the test rows differ from the pool, in words, for the summary line."""
    if args.pool_where or args.test_where:
        chosen = "; ".join(f"{side} {w[0]} in {sorted(w[1])}" for side, w in
                           (("pool", args.pool_where), ("test", args.test_where)) if w)
        return chosen + (f"; {args.shift}" if args.shift else "")
    return args.shift or ("own test files" if args.test_images else "unlabeled target" if args.target_images
                          else "none")


def _print_summary(args, result, n_pool: int, n_test: int, paths: dict, stages: dict) -> None:
    """The comparison's warnings first, then its table, recommendation, model to ship and time per
    stage, on stdout."""
    for w in result.warnings:
        print(f"warning: {w}")
    print(f"\n{args.dataset}: pool {n_pool:,}, test {n_test:,} (shift: {_shift_label(args)}), "
          f"{len(args.strategies)} strategies x {args.repeats} repeats x "
          f"{len(args.models or default_models())} models\n")
    print(result.to_markdown())
    print(f"recommended: {result.recommended}")
    if result.ship:
        s = result.ship
        test = f", true test {100 * s['test_score']:.1f}%" if "test_score" in s else ""
        why = "the estimates tell it apart" if s.get("basis") == "estimate" else "validation's best model"
        expect = (f"estimated test {100 * s['estimate']:.1f}% [{100 * s['lo']:.1f}, {100 * s['hi']:.1f}]"
                  if s.get("reliable", True) else f"estimated test: cannot estimate ({s.get('reason')})")
        print(f"ship: {s['model']} ({why}): validation {100 * s['val_score']:.1f}%, {expect} "
              f"({s['estimator']}, from {s['strategy']}){test}")
    print("written: " + ", ".join(paths.values()))
    estimates = f"; estimates {result.timings['estimates']:.1f} s" if "estimates" in result.timings else ""
    print("time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
          + f" (total {sum(stages.values()):.1f} s; fits {result.timings['fits']:.1f} s{estimates})")


def main(argv=None, prog: str = PROG) -> int:
    """Run a comparison (the ``compare-splits`` command).

    A fault the user can cause (a missing file, a bad value, a full disk) is one line and the exit
    code ``python -m mnist_hf`` gives it (2, or 7 for the filesystem).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).
    prog : str, optional
        The name the messages start with (``scripts/compare_splits.py`` passes ``compare_splits.py``).

    Returns
    -------
    int
        The exit code: 0, or the fault's code.
    """
    args = parse_args(argv, prog)
    # The report says which command made it (shell-quoted, so it can be pasted back).
    args.command = shlex.join([args.prog, *(sys.argv[1:] if argv is None else argv)])
    try:
        return _run(args)
    except Exception as e:
        fault = describe(e, where=f"writing {args.out} or the cache folder {args.cache_dir or 'of datasets'}")
        if fault is None:
            raise
        print(f"{args.prog}: error: {fault[1]}", file=sys.stderr)
        return fault[0]


def _run(args: argparse.Namespace) -> int:
    stages: dict[str, float] = {}
    t = time.perf_counter()
    ds = mnist_hf.load(args.dataset, data_dir=args.data_dir, cache_dir=args.cache_dir, image_format="array")
    groups = None
    if args.pool_where or args.test_where:
        pool_images, y, test_images, y_test, groups = _by_metadata(ds, args)
    else:
        pool_images, y = mnist_hf.to_numpy(ds["train"], normalize=False)
        if args.group_column:
            groups = _columns({"train": ds["train"]}, {args.group_column}, args.prog)[args.group_column]
        if args.target_images:
            test_images, y_test = mnist_hf.read_idx(args.target_images), None
        elif args.test_images:
            test_images, y_test = mnist_hf.read_idx(args.test_images), mnist_hf.read_idx(args.test_labels)
        else:
            test_images, y_test = mnist_hf.to_numpy(ds["test"], normalize=False)
    if args.shift:
        test_images, y_test = apply_shift(args.shift, test_images, y_test, seed=args.seed)
    stages["load"] = time.perf_counter() - t

    t = time.perf_counter()
    features = splitters.image_features(args.n_components, random_state=args.seed).fit(pool_images)
    X, X_test = features.transform(pool_images), features.transform(test_images)
    stages["features"] = time.perf_counter() - t

    val_size = int(args.val_size) if args.val_size >= 1 else args.val_size
    t = time.perf_counter()
    client = None
    if args.backend == "dask":
        from dask.distributed import Client

        client = Client(args.scheduler)
    with client if client is not None else contextlib.nullcontext():
        result = splitters.compare_strategies(
            X, y, X_test, y_test, strategies=args.strategies, models=args.models, metric=args.metric,
            repeats=args.repeats, random_state=args.seed, n_jobs=args.n_jobs, val_size=val_size,
            groups=groups, backend=args.backend,
            context={"dataset": args.dataset, "shift": _shift_label(args), "command": args.command},
        )
    stages["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    paths = result.write(args.out)
    stages["report"] = time.perf_counter() - t

    _print_summary(args, result, len(X), len(X_test), paths, stages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
