"""Command line: ``python -m mnist_hf {prepare,export,push} CONFIG [...]``.

The dataset options (``--validation-size``, ``--image-format``, ...) are made from the fields of
:class:`mnist_hf.MnistConfig`, with its defaults, so a new builder option appears here by itself.

>>> args = build_parser().parse_args(["export", "mnist", "out", "--validation-size", "5000"])
>>> builder_options(args)["validation_size"]
5000
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np

from .api import builder
from .arrays import label_array
from .export import export
from .faults import describe
from .mnist_hf import IMAGE_FORMATS, VALIDATION_STRATEGIES, MnistConfig, read_provenance
from .push import DEFAULT_HUB_TIMEOUT, check_hub_timeout, push
from .sources import SPECS

# Builder options that are not fields of MnistConfig: where the files and the cache are.
_PATH_OPTIONS = {
    "data_dir": "folder holding the four IDX files (gz or raw); skips downloading",
    "cache_dir": "datasets cache folder (default: the Hugging Face cache)",
}
_CHOICES = {"validation_strategy": VALIDATION_STRATEGIES, "image_format": IMAGE_FORMATS}


def _config_options() -> list[dataclasses.Field]:
    """MnistConfig's options: its fields with a description (not those every datasets.BuilderConfig has)."""
    return [f for f in dataclasses.fields(MnistConfig) if "help" in f.metadata]


def _is_sequence(f: dataclasses.Field) -> bool:
    hint = typing.get_type_hints(MnistConfig)[f.name]
    # The hint itself (`tuple[str, ...]`) or one arm of a union (`list[str] | None`).
    return any(typing.get_origin(a) in (list, tuple, Sequence) for a in (hint, *typing.get_args(hint)))


def _add_dataset_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", choices=sorted(SPECS), help="which dataset")
    for name, text in _PATH_OPTIONS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, help=text)
    for f in _config_options():
        text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=text)
        elif _is_sequence(f):  # repeatable flag, named for one item: --mirror URL --mirror URL
            p.add_argument(flag.removesuffix("s"), dest=f.name, action="append", default=None,
                           help=f"{text} (repeatable)".strip())
        else:
            p.add_argument(flag, dest=f.name, type=type(default) if default is not None else str, default=default,
                           choices=f.metadata.get("choices", _CHOICES.get(f.name)),
                           help=f"{text} (default: %(default)s)".strip())


def builder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The builder options given on the command line.

    Options not given, or given at MnistConfig's default, are not passed, so the prepared
    dataset keeps the cache folder of the plain configuration.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by :func:`build_parser`.

    Returns
    -------
    dict
        Keyword arguments for :func:`mnist_hf.load`, :func:`mnist_hf.export.export` and :func:`mnist_hf.push.push`.

    Examples
    --------
    >>> builder_options(build_parser().parse_args(["prepare", "kmnist", "--image-format", "array"]))
    {'image_format': 'array'}
    """
    out = {name: getattr(args, name) for name in _PATH_OPTIONS if getattr(args, name) is not None}
    for f in _config_options():
        value = getattr(args, f.name)
        if value is not None and value != f.default:
            out[f.name] = value
    return out


def _prepare_cmd(args: argparse.Namespace) -> int:
    """``prepare``: build the dataset in the cache and print sizes, class counts and verification."""
    b = builder(args.config, **builder_options(args))
    b.download_and_prepare()
    ds = b.as_dataset()
    names = b.info.features["label"].names
    print(f"{args.config}: prepared in {b.cache_dir}")
    for split, d in ds.items():
        # One Arrow buffer copy: iterating d["label"] would decode row by row (a lazy Column on datasets 4/5).
        counts = np.bincount(label_array(d), minlength=len(names))
        per_class = ", ".join(f"{names[k]}={counts[k]}" for k in range(len(names)))
        print(f"  {split:<10} {d.num_rows:>7,} rows  [{per_class}]")
    try:
        record = read_provenance(b.cache_dir)
    except FileNotFoundError:  # a cache prepared before the builder kept a record
        record = {}
    if record:
        print("source files:")
        for entry in record.values():
            print(f"  {entry['file']}: {entry['verification']} ({entry['detail']}); from {entry['origin']}")
    if args.preview:
        path = write_preview(ds["train"], args.preview, names)
        print(f"preview: {path}")
    return 0


def write_preview(dataset: datasets.Dataset, path: str, names: Sequence[str], rows: int = 4, cols: int = 8) -> str:
    """Write a PNG grid of the first ``rows * cols`` images with their labels.

    Parameters
    ----------
    dataset : datasets.Dataset
        A split with ``image`` and ``label``.
    path : str
        The PNG file to write.
    names : sequence of str
        Class names, indexed by label.
    rows, cols : int
        Grid shape.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import tempfile, os
    >>> ds = datasets.Dataset.from_dict({"image": [np.zeros((28, 28), np.uint8)], "label": [0]})
    >>> out = write_preview(ds, os.path.join(tempfile.mkdtemp(), "grid.png"), ["zero"], rows=1, cols=1)
    >>> open(out, "rb").read(4)
    b'\\x89PNG'
    """
    # matplotlib is imported only when a preview is asked for: it is slow to import.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(rows * cols, dataset.num_rows)
    sample = dataset.select(range(n))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    for ax, ex in zip(np.ravel(axes), sample):
        ax.imshow(np.asarray(ex["image"], dtype=np.uint8), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(names[ex["label"]], fontsize=8)
    for ax in np.ravel(axes):
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_size(n_bytes: int) -> str:
    """A file size as a person reads it: MB from 0.1 MB up, KB below (a card is a few KB, not "0.0 MB").

    Parameters
    ----------
    n_bytes : int

    Returns
    -------
    str

    Examples
    --------
    >>> format_size(3 * 2**20), format_size(2048), format_size(100)
    ('3.0 MB', '2.0 KB', '0.1 KB')
    """
    if n_bytes >= 0.1 * 2**20:
        return f"{n_bytes / 2**20:.1f} MB"
    return f"{n_bytes / 2**10:.1f} KB"


def _list_files(result) -> None:
    for rel in result.files:
        print(f"  {rel}  ({format_size(result.sizes[rel])})")


def _export_cmd(args: argparse.Namespace) -> int:
    """``export``: write Parquet shards and the dataset card to a folder."""
    result = export(args.config, args.out_dir, **builder_options(args))
    print(f"{args.config}: exported {', '.join(f'{k} {v:,}' for k, v in result.splits.items())} rows to {result.out_dir}")
    _list_files(result)
    return 0


def _push_cmd(args: argparse.Namespace) -> int:
    """``push``: export and upload to a Hub dataset repository in one commit."""
    result = push(args.config, args.repo_id, token=args.token, private=args.private, dry_run=args.dry_run,
                  hub_timeout=args.hub_timeout, **builder_options(args))
    if args.dry_run:
        print(f"dry run: nothing uploaded; {args.repo_id} would receive, from {result.out_dir}:")
    else:
        print(f"pushed {args.config} to https://huggingface.co/datasets/{args.repo_id} in one commit:")
    _list_files(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m mnist_hf`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        With the sub-commands ``prepare``, ``export`` and ``push``.

    Examples
    --------
    >>> build_parser().parse_args(["push", "mnist", "me/mnist", "--private"]).private
    True
    """
    # The installed command (`mnist-hf`, from pyproject's [project.scripts]) or `python -m mnist_hf`.
    prog = "mnist-hf" if os.path.basename(sys.argv[0]) == "mnist-hf" else "python -m mnist_hf"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="download/verify/convert a dataset into the datasets cache",
                       description="Exit codes: 0 prepared, 2 bad input (a file, folder or option: one line names "
                                   "it), 7 filesystem (disk full, read-only, not a folder).")
    _add_dataset_options(p)
    p.add_argument("--preview", metavar="PNG", help="write a grid of sample images with labels")
    p.set_defaults(func=_prepare_cmd)

    p = sub.add_parser("export", help="write Parquet shards and a dataset card (Hub layout) to a folder",
                       description="Exit codes: 0 exported, 2 bad input (including a dataset card in OUT_DIR "
                                   "that does not parse; nothing is changed then), 7 filesystem (disk full, "
                                   "read-only, not a folder).")
    _add_dataset_options(p)
    p.add_argument("out_dir")
    p.set_defaults(func=_export_cmd)

    p = sub.add_parser("push", help="export and upload to a Hub dataset repository in one commit",
                       description="Exit codes: 0 pushed, 2 bad input, 3 missing/rejected token, "
                                   "4 no write access, 5 no network or no answer in time, 6 other Hub error, "
                                   "7 filesystem (disk full, read-only, not a folder).")
    _add_dataset_options(p)
    p.add_argument("repo_id", help="namespace/name of the dataset repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--token", help="Hub token with write access (default: $HF_TOKEN, then the saved "
                                   "`hf auth login`); never printed")
    p.add_argument("--dry-run", metavar="DIR", help="write what would be uploaded to DIR and list it")
    p.add_argument("--hub-timeout", type=float, default=DEFAULT_HUB_TIMEOUT, metavar="SECONDS",
                   help="seconds within which every Hub request must be answered in full (default: %(default)s)")
    p.set_defaults(func=_push_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors are one plain line on stderr and an exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 bad input, and for ``push`` 3 missing or rejected token, 4 no write
        access, 5 Hub unreachable or not answering in time, 6 other Hub error; 7 a filesystem
        fault (disk full, read-only, a file where a folder should be). See
        :data:`mnist_hf.faults.EXIT_CODES`.

    Examples
    --------
    >>> import tempfile
    >>> empty, cache = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> main(["prepare", "mnist", "--data-dir", empty, "--cache-dir", cache, "--system-dir", empty])
    2
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "push":  # checked before any work
            check_hub_timeout(args.hub_timeout, "--hub-timeout")
        return args.func(args)
    except Exception as e:
        fault = describe(e, where=_writing(args))
        if fault is None:
            raise
        print(f"error: {fault[1]}", file=sys.stderr)
        return fault[0]


def _writing(args: argparse.Namespace) -> str:
    """What a command writes, for a filesystem error that names no file (a full disk)."""
    cache = f"the cache folder {args.cache_dir or datasets.config.HF_DATASETS_CACHE}"
    return {"prepare": f"writing {cache}", "export": f"writing {getattr(args, 'out_dir', '')} or {cache}",
            "push": f"writing {cache} or a temporary folder"}[args.command]


if __name__ == "__main__":
    sys.exit(main())
