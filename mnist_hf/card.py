"""The dataset card of an export: YAML metadata (licence, features, splits, ``configs``) and text.

Several configurations share one card; each has its own ``dataset_info`` and ``configs`` entries
and its own text section between ``<!-- config: NAME -->`` and ``<!-- end config: NAME -->``,
so writing one configuration leaves the others' entries and the owner's own words as they are.
A card that does not parse is a :class:`CardError`, raised before anything is changed.
Imports nothing of this package but ``sources``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .sources import SPECS

CARD = "README.md"
_SECTION = re.compile(r"<!-- config: (?P<name>[\w-]+) -->.*?<!-- end config: (?P=name) -->\n?", re.S)
_SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]


class CardError(ValueError):
    """The dataset card already in the export folder (or repository) cannot be read.

    Examples
    --------
    >>> str(CardError("out/README.md: the YAML header does not parse"))
    'out/README.md: the YAML header does not parse'
    """


@dataclass
class Prepared:
    """A prepared configuration, what a card describes and an export writes.

    Attributes
    ----------
    config : MnistConfig
        The builder's resolved configuration.
    dataset : datasets.DatasetDict
        Its splits.
    provenance : dict
        Where each source file came from (:func:`mnist_hf.read_provenance`); empty when unknown.
    """

    config: Any
    dataset: Any
    provenance: dict[str, Any]


def _size_category(n: int) -> str:
    for bound, name in _SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>1M"


def _validation_note(cfg: Any) -> str:
    size = cfg.validation_size
    if not size:
        return "No validation split: `train` and `test` as published."
    how = {
        "tail": f"the last {size:,} rows of the published training set",
        "head": f"the first {size:,} rows of the published training set",
        "random": f"{size:,} rows drawn at random (seed {cfg.validation_seed}"
        + (", stratified by label" if cfg.stratify else "") + ") from the published training set",
    }[cfg.validation_strategy]
    return (f"`validation` holds {how} (strategy `{cfg.validation_strategy}`); `train` holds the rest, in the "
            "original order. `test` is the published test set.")


def _provenance_note(provenance: dict[str, Any]) -> str:
    statuses = {r["verification"] for r in provenance.values()}
    if not provenance:
        return "the original IDX files"
    if statuses <= {"md5", "content-sha256"}:
        return ("the original IDX files, each checked against its published MD5 or the SHA-256 of its "
                "content before conversion")
    return "IDX files that do **not** match the published checksums (a local or modified copy)"


def _metadata_note(cfg: Any, spec: Any) -> str:
    if cfg.compat or not spec.metadata:
        return ""
    return "\n- Metadata (int32, from the label files): " + "; ".join(
        f"`{c.name}`: {c.description}" for c in spec.metadata) + "."


def _section(prepared: Prepared, repo_id: str | None = None, folder: str | None = None) -> str:
    cfg = prepared.config
    # The card is read on the Hub: its example names the repository when one is known, so it can
    # be copied as it is. A plain export names its folder (by name only: a card may be shared, a
    # local path is nobody else's business) and says what to put there once the folder is pushed.
    source = repo_id or folder or "REPO_OR_FOLDER"
    where = "" if repo_id or not folder else "  # from the folder's parent; once pushed, the Hub repository"
    spec = SPECS[cfg.name]
    sizes = ", ".join(f"`{k}` {v.num_rows:,}" for k, v in prepared.dataset.items())
    image = ("PNG (`datasets.Image`)" if cfg.image_format == "png"
             else "28x28 uint8 arrays (`datasets.Array2D`)")
    return f"""<!-- config: {cfg.name} -->
## `{cfg.name}`

{spec.description}

- Source: {spec.homepage}; converted from {_provenance_note(prepared.provenance)}.
- Rows: {sizes}. Features: `image` as {image}; `label` as `ClassLabel` with names
  {", ".join(f"`{n}`" for n in spec.class_names)}.{_metadata_note(cfg, spec)}
- Validation: {_validation_note(cfg)}
- Licence: `{spec.license}`.

```python
from datasets import load_dataset
ds = load_dataset("{source}", "{cfg.name}"){where}
```

```bibtex
{spec.citation}
```
<!-- end config: {cfg.name} -->
"""


def _entries(meta: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = meta.get(key, [])
    value = [value] if isinstance(value, dict) else value  # the Hub accepts one entry as a mapping
    if not isinstance(value, list) or not all(isinstance(v, dict) and "config_name" in v for v in value):
        raise CardError(f"{where}: `{key}` in the card's YAML header is not a list of entries with a config_name")
    return value


def load_card(path: Path, where: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The metadata and text of the card at ``path``, checked.

    Parameters
    ----------
    path : pathlib.Path
        The card (``README.md``); it need not exist.
    where : str, optional
        How errors name the card (default: ``path``), e.g. ``"me/x/README.md on the Hub"``.

    Returns
    -------
    (dict, str or None)
        The YAML metadata and the text after it; ``({}, None)`` when there is no card.

    Raises
    ------
    CardError
        The YAML header does not parse, or its ``dataset_info`` / ``configs`` are not lists of
        entries with a ``config_name``.

    Examples
    --------
    >>> load_card(Path("/nonexistent/README.md"))
    ({}, None)
    """
    from huggingface_hub import DatasetCard

    where = where or str(path)
    if not path.exists():
        return {}, None
    try:
        card = DatasetCard.load(path)
    except (yaml.YAMLError, ValueError) as e:
        detail = " ".join(str(e).split())
        raise CardError(f"{where}: the dataset card's YAML header does not parse ({detail}); "
                        "fix it or remove the card, nothing was changed") from None
    meta = card.data.to_dict()
    for key in ("dataset_info", "configs"):
        _entries(meta, key, where)
    return meta, card.text


def card_meta(text: str) -> dict[str, Any]:
    """The YAML metadata of a card's text.

    Parameters
    ----------
    text : str
        A whole card, YAML header included.

    Returns
    -------
    dict
        The metadata.

    Examples
    --------
    >>> card_meta("---\\nlicense: mit\\n---\\n# Title\\n")
    {'license': 'mit'}
    """
    from huggingface_hub import DatasetCard

    return DatasetCard(text).data.to_dict()


def data_file_patterns(data_files: Any) -> list[str]:
    """The path patterns of a ``configs`` entry's ``data_files``, in any of the forms the Hub accepts.

    Parameters
    ----------
    data_files : str, list or dict
        A pattern, a list of them, ``{"split", "path"}`` entries, or a list of such entries
        (anything else in a hand-edited card, a number say, names no file).

    Returns
    -------
    list of str
        The patterns, in order.

    Examples
    --------
    >>> data_file_patterns([{"split": "train", "path": "a/*.parquet"}, "b/*.parquet", 3])
    ['a/*.parquet', 'b/*.parquet']
    """
    items = data_files if isinstance(data_files, list) else [data_files]
    out: list[str] = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        out += [p for p in (path if isinstance(path, list) else [path]) if isinstance(p, str)]
    return out


def card_text(meta: dict[str, Any], text: str | None, prepared: Prepared, data_dir: str, where: str,
              repo_id: str | None = None, folder: str | None = None) -> str:
    """The card with ``prepared``'s configuration added or replaced, the others kept.

    Parameters
    ----------
    meta, text
        The current card, as :func:`load_card` returns it.
    prepared : Prepared
        The configuration to describe.
    data_dir : str
        Its Parquet folder, relative to the card (``CONFIG/VERSION``).
    where : str
        How errors name the card.
    repo_id : str, optional
        The Hub repository the card is for: its ``load_dataset`` example names it.
    folder : str, optional
        Without ``repo_id``, the export folder's name, which the example names instead (neither:
        the placeholder ``REPO_OR_FOLDER``).

    Returns
    -------
    str
        The whole new card.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    name, ds = prepared.config.name, prepared.dataset
    info = {
        "config_name": name,
        "features": next(iter(ds.values())).features._to_yaml_list(),
        "splits": [{"name": split, "num_bytes": int(d.data.nbytes), "num_examples": d.num_rows}
                   for split, d in ds.items()],
        "dataset_size": int(sum(d.data.nbytes for d in ds.values())),
    }
    entry = {"config_name": name,
             "data_files": [{"split": split, "path": f"{data_dir}/{split}-*.parquet"} for split in ds]}
    infos = [i for i in _entries(meta, "dataset_info", where) if i["config_name"] != name] + [info]
    entries = [c for c in _entries(meta, "configs", where) if c["config_name"] != name] + [entry]
    names = [i["config_name"] for i in infos]
    licenses = sorted({SPECS[n].license for n in names if n in SPECS})
    total = max(sum(s["num_examples"] for s in i.get("splits", [])) for i in infos)
    meta = {**meta,
            "license": licenses[0] if len(licenses) == 1 else licenses,
            "task_categories": ["image-classification"],
            "size_categories": [_size_category(total)],
            "pretty_name": "MNIST family (" + ", ".join(sorted(names)) + ")",
            "dataset_info": sorted(infos, key=lambda i: i["config_name"]),
            "configs": sorted(entries, key=lambda c: c["config_name"])}
    body = text if text is not None else (
        "# MNIST-family datasets\n\nImage classification datasets in MNIST's format, converted from their "
        "original IDX files by the `mnist-hf` builder (Parquet, one folder per configuration).\n\n"
    )
    section = _section(prepared, repo_id, folder)
    body = _SECTION.sub(lambda m: section if m.group("name") == name else m.group(0), body)
    if f"<!-- config: {name} -->" not in body:
        body = body.rstrip("\n") + "\n\n" + section
    return str(DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{body}"))
