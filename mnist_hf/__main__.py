"""Command line: ``python -m mnist_hf prepare CONFIG [...]``.

>>> main(["prepare", "--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence

from .fetch import ChecksumError, MirrorError, MissingFilesError
from .idx import IDXFormatError
from .mnist_hf import IMAGE_FORMATS, PROVENANCE_FILE, VALIDATION_STRATEGIES, DataValidationError
from .sources import SPECS

USER_ERRORS = (IDXFormatError, DataValidationError, MissingFilesError, MirrorError, ChecksumError, ValueError)


def _add_dataset_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", choices=sorted(SPECS), help="which dataset")
    p.add_argument("--data-dir", help="folder holding the four IDX files (gz or raw); skips downloading")
    p.add_argument("--cache-dir", help="datasets cache folder (default: the Hugging Face cache)")
    p.add_argument("--validation-size", type=int, default=0, help="rows carved from train into validation")
    p.add_argument("--validation-strategy", choices=VALIDATION_STRATEGIES, default="tail")
    p.add_argument("--validation-seed", type=int, default=0)
    p.add_argument("--stratify", action="store_true", help="stratify the random validation split by label")
    p.add_argument("--image-format", choices=IMAGE_FORMATS, default="png")
    p.add_argument("--mirror", action="append", dest="mirrors", help="base URL to try (repeatable; replaces the built-in list)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a stalled mirror is abandoned")


def _builder_from_args(args: argparse.Namespace):
    from .api import builder

    return builder(
        args.config, data_dir=args.data_dir, cache_dir=args.cache_dir,
        validation_size=args.validation_size, validation_strategy=args.validation_strategy,
        validation_seed=args.validation_seed, stratify=args.stratify, image_format=args.image_format,
        mirrors=args.mirrors, timeout=args.timeout,
    )


def prepare(args: argparse.Namespace) -> int:
    b = _builder_from_args(args)
    b.download_and_prepare()
    ds = b.as_dataset()
    names = b.info.features["label"].names
    print(f"{args.config}: prepared in {b.cache_dir}")
    for split, d in ds.items():
        counts = Counter(d["label"])
        per_class = ", ".join(f"{names[k]}={counts.get(k, 0)}" for k in range(len(names)))
        print(f"  {split:<10} {d.num_rows:>7,} rows  [{per_class}]")
    provenance = os.path.join(b.cache_dir, PROVENANCE_FILE)
    if os.path.exists(provenance):
        with open(provenance, encoding="utf-8") as f:
            record = json.load(f)
        print("source files:")
        for entry in record.values():
            print(f"  {entry['file']}: {entry['verification']} ({entry['detail']}); from {entry['origin']}")
    if args.preview:
        path = write_preview(ds["train"], args.preview, names)
        print(f"preview: {path}")
    return 0


def write_preview(dataset, path: str, names: Sequence[str], rows: int = 4, cols: int = 8) -> str:
    """Write a PNG grid of the first ``rows * cols`` images with their labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = min(rows * cols, dataset.num_rows)
    sample = dataset.select(range(n))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5))
    for ax, ex in zip(np.ravel(axes), sample):
        ax.imshow(np.asarray(ex["image"], dtype=np.uint8), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(names[ex["label"]], fontsize=8)
    for ax in np.ravel(axes):
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _options(args: argparse.Namespace) -> dict:
    return {
        "data_dir": args.data_dir, "cache_dir": args.cache_dir, "validation_size": args.validation_size,
        "validation_strategy": args.validation_strategy, "validation_seed": args.validation_seed,
        "stratify": args.stratify, "image_format": args.image_format, "mirrors": args.mirrors,
        "timeout": args.timeout,
    }


def _list_files(result) -> None:
    for rel in result.files:
        print(f"  {rel}  ({result.sizes[rel] / 2**20:.1f} MB)")


def export_cmd(args: argparse.Namespace) -> int:
    from .hub import export

    result = export(args.config, args.out_dir, **_options(args))
    print(f"{args.config}: exported {', '.join(f'{k} {v:,}' for k, v in result.splits.items())} rows to {result.out_dir}")
    _list_files(result)
    return 0


def push_cmd(args: argparse.Namespace) -> int:
    from .hub import HubError, push

    try:
        result = push(args.config, args.repo_id, token=args.token, private=args.private, dry_run=args.dry_run,
                      **_options(args))
    except HubError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    if args.dry_run:
        print(f"dry run: nothing uploaded; {args.repo_id} would receive, from {result.out_dir}:")
    else:
        print(f"pushed {args.config} to https://huggingface.co/datasets/{args.repo_id} in one commit:")
    _list_files(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_hf", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="download/verify/convert a dataset into the datasets cache")
    _add_dataset_options(p)
    p.add_argument("--preview", metavar="PNG", help="write a grid of sample images with labels")
    p.set_defaults(func=prepare)

    p = sub.add_parser("export", help="write Parquet shards and a dataset card (Hub layout) to a folder")
    _add_dataset_options(p)
    p.add_argument("out_dir")
    p.set_defaults(func=export_cmd)

    p = sub.add_parser("push", help="export and upload to a Hub dataset repository in one commit",
                       description="Exit codes: 0 pushed, 2 bad input, 3 missing/rejected token, "
                                   "4 no write access, 5 no network, 6 other Hub error.")
    _add_dataset_options(p)
    p.add_argument("repo_id", help="namespace/name of the dataset repository")
    p.add_argument("--private", action="store_true")
    p.add_argument("--token", help="Hub token with write access (default: $HF_TOKEN); never printed")
    p.add_argument("--dry-run", metavar="DIR", help="write what would be uploaded to DIR and list it")
    p.set_defaults(func=push_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
