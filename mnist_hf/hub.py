"""Export prepared splits as Parquet with a dataset card, and push them to the Hugging Face Hub.

Layout (several configurations can share one folder or repository)::

    OUT_DIR/README.md                              dataset card: YAML metadata + description
    OUT_DIR/CONFIG/SPLIT-00000-of-00001.parquet    one folder per configuration

``load_dataset(OUT_DIR, CONFIG)`` reads it back on every version of ``datasets``.

>>> export("fashion_mnist", "out", data_dir="data/fashion")   # doctest: +SKIP
>>> push("fashion_mnist", "me/fashion-mnist", token="hf_...")   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sources import SPECS

MAX_SHARD_BYTES = 256 * 2**20
_SECTION = re.compile(r"<!-- config: (?P<name>[\w-]+) -->.*?<!-- end config: (?P=name) -->\n?", re.S)
_SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]


class HubError(RuntimeError):
    """A push failed; ``exit_code`` tells the CLI which way (3 auth, 4 permission, 5 network, 6 other)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ExportResult:
    """What :func:`export` wrote."""

    out_dir: Path
    config: str
    files: list[Path] = field(default_factory=list)  # relative to out_dir, card included
    splits: dict[str, int] = field(default_factory=dict)
    sizes: dict[Path, int] = field(default_factory=dict)  # bytes, kept for after a temporary folder is gone


def _size_category(n: int) -> str:
    for bound, name in _SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>1M"


def _validation_note(options: dict[str, Any]) -> str:
    size = options.get("validation_size", 0)
    if not size:
        return "No validation split: `train` and `test` as published."
    strategy = options.get("validation_strategy", "tail")
    how = {
        "tail": f"the last {size:,} rows of the published training set",
        "head": f"the first {size:,} rows of the published training set",
        "random": f"{size:,} rows drawn at random (seed {options.get('validation_seed', 0)}"
        + (", stratified by label" if options.get("stratify") else "") + ") from the published training set",
    }[strategy]
    return (f"`validation` holds {how} (strategy `{strategy}`); `train` holds the rest, in the original order. "
            "`test` is the published test set.")


def _provenance_note(provenance: dict[str, Any]) -> str:
    statuses = {r["verification"] for r in provenance.values()}
    if not provenance:
        return "the original IDX files"
    if statuses <= {"md5", "content-sha256"}:
        return ("the original IDX files, each checked against its published MD5 or the SHA-256 of its "
                "content before conversion")
    return "IDX files that do **not** match the published checksums (a local or modified copy)"


def _section(config: str, options: dict[str, Any], splits: dict[str, int], image_format: str,
             provenance: dict[str, Any]) -> str:
    spec = SPECS[config]
    sizes = ", ".join(f"`{k}` {v:,}" for k, v in splits.items())
    image = ("PNG (`datasets.Image`)" if image_format == "png"
             else "28x28 uint8 arrays (`datasets.Array2D`)")
    return f"""<!-- config: {config} -->
## `{config}`

{spec.description}

- Source: {spec.homepage}; converted from {_provenance_note(provenance)}.
- Rows: {sizes}. Features: `image` as {image}; `label` as `ClassLabel` with names
  {", ".join(f"`{n}`" for n in spec.class_names)}.
- Validation: {_validation_note(options)}
- Licence: `{spec.license}`.

```python
from datasets import load_dataset
ds = load_dataset("REPO_OR_FOLDER", "{config}")
```

```bibtex
{spec.citation}
```
<!-- end config: {config} -->
"""


def _write_card(out_dir: Path, config: str, dataset_dict, options: dict[str, Any], image_format: str,
                provenance: dict[str, Any]) -> None:
    from huggingface_hub import DatasetCard

    path = out_dir / "README.md"
    card = DatasetCard.load(path) if path.exists() else None
    meta = card.data.to_dict() if card else {}

    splits = {name: d.num_rows for name, d in dataset_dict.items()}
    info = {
        "config_name": config,
        "features": next(iter(dataset_dict.values())).features._to_yaml_list(),
        "splits": [{"name": name, "num_bytes": int(d.data.nbytes), "num_examples": d.num_rows}
                   for name, d in dataset_dict.items()],
        "dataset_size": int(sum(d.data.nbytes for d in dataset_dict.values())),
    }
    entry = {"config_name": config,
             "data_files": [{"split": name, "path": f"{config}/{name}-*.parquet"} for name in dataset_dict]}

    infos = [i for i in meta.get("dataset_info", []) if i.get("config_name") != config] + [info]
    entries = [c for c in meta.get("configs", []) if c.get("config_name") != config] + [entry]
    names = [i["config_name"] for i in infos]
    licenses = sorted({SPECS[n].license for n in names if n in SPECS})
    total = max(sum(s["num_examples"] for s in i["splits"]) for i in infos)
    meta.update({
        "license": licenses[0] if len(licenses) == 1 else licenses,
        "task_categories": ["image-classification"],
        "size_categories": [_size_category(total)],
        "pretty_name": "MNIST family (" + ", ".join(sorted(names)) + ")",
        "dataset_info": sorted(infos, key=lambda i: i["config_name"]),
        "configs": sorted(entries, key=lambda c: c["config_name"]),
    })

    body = card.text if card else (
        "# MNIST-family datasets\n\nImage classification datasets in MNIST's format, converted from their "
        "original IDX files by the `mnist-hf` builder (Parquet, one folder per configuration).\n\n"
    )
    section = _section(config, options, splits, image_format, provenance)
    body = _SECTION.sub(lambda m: section if m.group("name") == config else m.group(0), body)
    if f"<!-- config: {config} -->" not in body:
        body = body.rstrip("\n") + "\n\n" + section
    from huggingface_hub import DatasetCardData

    DatasetCard(f"---\n{DatasetCardData(**meta).to_yaml()}\n---\n{body}").save(path)


def export(config: str, out_dir: str | os.PathLike, *, max_shard_bytes: int = MAX_SHARD_BYTES,
           **options: Any) -> ExportResult:
    """Prepare ``config`` (options as for :func:`mnist_hf.load`) and write it to ``out_dir`` as
    Parquet shards plus a dataset card, adding to what other configurations wrote there."""
    import json

    from .api import builder
    from .mnist_hf import PROVENANCE_FILE

    out = Path(out_dir)
    b = builder(config, **options)
    b.download_and_prepare()
    ds = b.as_dataset()
    provenance_path = Path(b.cache_dir) / PROVENANCE_FILE
    provenance = json.loads(provenance_path.read_text()) if provenance_path.exists() else {}
    image_format = options.get("image_format", "png")
    # Write into a staging folder, then swap it in: an interrupted export never leaves a
    # configuration half-written next to a card that describes it.
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config}-", dir=out))
    result = ExportResult(out, config, splits={k: v.num_rows for k, v in ds.items()})
    try:
        for name, d in ds.items():
            n = max(1, math.ceil(d.data.nbytes / max_shard_bytes))
            for i in range(n):
                shard = d.shard(num_shards=n, index=i, contiguous=True)
                rel = Path(config) / f"{name}-{i:05d}-of-{n:05d}.parquet"
                shard.to_parquet(str(staging / rel.name))
                result.files.append(rel)
        target = out / config
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        _write_card(out, config, ds, options, image_format, provenance)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    result.files.append(Path("README.md"))
    result.sizes = {rel: (out / rel).stat().st_size for rel in result.files}
    return result


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def _classify(exc: BaseException, repo_id: str, token: str | None) -> HubError:
    from huggingface_hub.errors import HfHubHTTPError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, HfHubHTTPError) and status in (401,):
        return HubError("the Hub rejected the token (HTTP 401): check HF_TOKEN or --token, and that it has write access", 3)
    if isinstance(exc, HfHubHTTPError) and status == 403:
        return HubError(f"no write access to {repo_id} (HTTP 403): it may belong to someone else, "
                        "or the token is read-only", 4)
    if isinstance(exc, HfHubHTTPError):
        return HubError(_scrub(f"the Hub answered HTTP {status}: {str(exc).splitlines()[0]}", token), 6)
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "Connect" in type(exc).__name__:
        return HubError("could not reach the Hugging Face Hub (no network?); nothing was uploaded. "
                        "Use --dry-run DIR to see what would be sent.", 5)
    return HubError(_scrub(f"push failed: {type(exc).__name__}: {exc}", token), 6)


def push(config: str, repo_id: str, *, token: str | None = None, private: bool = False,
         dry_run: str | os.PathLike | None = None, api: Any = None, **options: Any) -> ExportResult:
    """Export ``config`` and upload it to the dataset repository ``repo_id`` in one commit.

    The token comes from ``token`` or ``HF_TOKEN`` and is never printed or logged. With
    ``dry_run`` the upload is replaced by writing the files to that folder. A repository this
    call created is deleted again if the upload fails, so nothing half-uploaded remains.
    Raises :class:`HubError` with a plain message.
    """
    token = token or os.environ.get("HF_TOKEN")
    if dry_run is not None:
        return export(config, dry_run, **options)
    if not token:
        raise HubError("no token: pass --token or set HF_TOKEN (a token with write access)", 3)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    created = False
    try:
        me = api.whoami()
        owners = {me.get("name")} | {o.get("name") for o in me.get("orgs", [])}
        namespace = repo_id.split("/")[0] if "/" in repo_id else me.get("name")
        if namespace not in owners:
            raise HubError(f"{repo_id} belongs to {namespace!r}, and this token is {me.get('name')!r}'s "
                           f"(member of: {', '.join(sorted(o for o in owners if o)) or 'no organisation'})", 4)
        created = not api.repo_exists(repo_id, repo_type="dataset")
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            if not created:  # merge with the card already there (other configurations)
                try:
                    card = api.hf_hub_download(repo_id, "README.md", repo_type="dataset")
                    shutil.copy(card, Path(tmp) / "README.md")
                except Exception:  # no card yet
                    pass
            result = export(config, tmp, **options)
            api.upload_folder(folder_path=tmp, repo_id=repo_id, repo_type="dataset",
                              commit_message=f"Add {config} ({', '.join(f'{k}: {v}' for k, v in result.splits.items())})")
        return result
    except HubError:
        raise
    except Exception as e:
        if created:
            try:
                api.delete_repo(repo_id, repo_type="dataset")
            except Exception:
                pass
        raise _classify(e, repo_id, token) from None
