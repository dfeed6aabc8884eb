"""Fast tests of the command line (mnist_hf/__main__.py) and its faults (mnist_hf/faults.py).

Nothing is prepared: the builder, export and push are replaced by fakes that record what reaches
them and return small results (or raise a chosen fault), so the whole file runs in seconds and
serves as the test selection of the mutation run of these two files. tests/test_cli.py prepares
real (synthetic) datasets end to end.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import sys
from collections.abc import Sequence
from pathlib import PurePosixPath
from types import SimpleNamespace

import datasets
import numpy as np
import pytest

import mnist_hf.__main__ as cli
from mnist_hf.faults import EXIT_CODES, describe
from mnist_hf.fetch import MirrorError, MissingFilesError
from mnist_hf.mnist_hf import PROVENANCE_FILE, MnistConfig
from mnist_hf.push import DEFAULT_HUB_TIMEOUT, HubError
from mnist_hf.sources import SPECS

FULL_DISK = "No space left on device (errno 28): the disk is full; free some space or write elsewhere"


# --- helpers -----------------------------------------------------------------------------------------

def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _sub(name: str) -> argparse.ArgumentParser:
    return _subparsers(cli.build_parser()).choices[name]


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions}


def _spec(a: argparse.Action) -> dict:
    return {"flags": a.option_strings, "kind": type(a).__name__, "default": a.default, "type": a.type,
            "choices": None if a.choices is None else list(a.choices), "help": a.help, "metavar": a.metavar,
            "required": a.required}


def _split(labels) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"label": list(labels)})


class FakeBuilder:
    """What _prepare_cmd uses of a builder: prepare, as_dataset, the label names, the cache folder."""

    def __init__(self, cache_dir, splits, names, fault: BaseException | None = None):
        self.cache_dir = str(cache_dir)
        self.splits = splits
        self.info = SimpleNamespace(features={"label": datasets.ClassLabel(names=names)})
        self.fault = fault
        self.prepared = False

    def download_and_prepare(self):
        if self.fault is not None:
            raise self.fault
        self.prepared = True

    def as_dataset(self):
        assert self.prepared
        return self.splits


class Recorder:
    """A fake for builder/export/push: records each call, returns ``result`` or raises ``fault``."""

    def __init__(self, result=None, fault: BaseException | None = None):
        self.calls: list[tuple[tuple, dict]] = []
        self.result, self.fault = result, fault

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.fault is not None:
            raise self.fault
        return self.result


def _result(out_dir="/out/mnist", splits=None):
    files = [PurePosixPath("mnist/train-00000-of-00001.parquet"), PurePosixPath("mnist/test-00000-of-00001.parquet"),
             PurePosixPath("README.md")]
    sizes = dict(zip(files, [3 * 2**20, 104857, 2048]))
    return SimpleNamespace(out_dir=out_dir, files=files, sizes=sizes,
                           splits=splits if splits is not None else {"train": 60000, "test": 10000})


FILES_LISTED = ["  mnist/train-00000-of-00001.parquet  (3.0 MB)", "  mnist/test-00000-of-00001.parquet  (102.4 KB)",
                "  README.md  (2.0 KB)"]


@pytest.fixture
def argv0(monkeypatch):
    """sys.argv as python -m mnist_hf leaves it, with arguments that are not a command line of ours
    (main must parse what it is given, not sys.argv)."""
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/mnist_hf/__main__.py", "bogus"])


@pytest.fixture
def hf_cache(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", "/home/me/.cache/huggingface/datasets")
    return "/home/me/.cache/huggingface/datasets"


# --- the parser --------------------------------------------------------------------------------------

def test_program_name_follows_how_it_was_started(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/mnist-hf", "prepare"])
    parser = cli.build_parser()
    assert parser.prog == "mnist-hf"
    assert _subparsers(parser).choices["export"].prog == "mnist-hf export"
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/mnist-hf-old", "mnist-hf"])
    assert cli.build_parser().prog == "python -m mnist_hf"
    monkeypatch.setattr(sys, "argv", ["/x/__main__.py"])
    parser = cli.build_parser()
    assert parser.prog == "python -m mnist_hf"
    assert parser.description == "Command line: ``python -m mnist_hf {prepare,export,push} CONFIG [...]``."
    assert parser.description == cli.__doc__.splitlines()[0]


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args([])
    assert exc.value.code == 2
    assert "the following arguments are required: command" in capsys.readouterr().err


def test_the_three_commands_with_their_help_and_exit_codes():
    sub = _subparsers(cli.build_parser())
    assert sub.dest == "command" and sub.required is True
    assert list(sub.choices) == ["prepare", "export", "push"]
    assert {a.dest: a.help for a in sub._choices_actions} == {
        "prepare": "download/verify/convert a dataset into the datasets cache",
        "export": "write Parquet shards and a dataset card (Hub layout) to a folder",
        "push": "export and upload to a Hub dataset repository in one commit",
    }
    assert sub.choices["prepare"].description == (
        "Exit codes: 0 prepared, 2 bad input (a file, folder or option: one line names it), 7 filesystem "
        "(disk full, read-only, not a folder).")
    assert sub.choices["export"].description == (
        "Exit codes: 0 exported, 2 bad input (including a dataset card in OUT_DIR that does not parse; nothing "
        "is changed then), 7 filesystem (disk full, read-only, not a folder).")
    assert sub.choices["push"].description == (
        "Exit codes: 0 pushed, 2 bad input, 3 missing/rejected token, 4 no write access, 5 no network or no "
        "answer in time, 6 other Hub error, 7 filesystem (disk full, read-only, not a folder).")
    for name, func in [("prepare", cli._prepare_cmd), ("export", cli._export_cmd), ("push", cli._push_cmd)]:
        assert sub.choices[name].get_default("func") is func, name


# (flags, action kind, default, type, choices) of the builder options MnistConfig has today.
KNOWN_OPTIONS = {
    "validation_size": (["--validation-size"], "_StoreAction", 0, int, None),
    "validation_strategy": (["--validation-strategy"], "_StoreAction", "tail", str, ["tail", "head", "random"]),
    "validation_seed": (["--validation-seed"], "_StoreAction", 0, int, None),
    "stratify": (["--stratify", "--no-stratify"], "BooleanOptionalAction", False, None, None),
    "image_format": (["--image-format"], "_StoreAction", "png", str, ["png", "array"]),
    "compat": (["--compat", "--no-compat"], "BooleanOptionalAction", False, None, None),
    "mirrors": (["--mirror"], "_AppendAction", None, None, None),
    "system_dirs": (["--system-dir"], "_AppendAction", None, None, None),
    "timeout": (["--timeout"], "_StoreAction", 60.0, float, None),
}


def _expected_help(field: dataclasses.Field, kind: str) -> str:
    text = field.metadata["help"]
    return {"BooleanOptionalAction": text, "_AppendAction": f"{text} (repeatable)"}.get(
        kind, f"{text} (default: %(default)s)")


@pytest.mark.parametrize("command", ["prepare", "export", "push"])
def test_dataset_options_of_every_command(command):
    acts = _actions(_sub(command))
    assert _spec(acts["config"]) == {"flags": [], "kind": "_StoreAction", "default": None, "type": None,
                                     "choices": sorted(SPECS), "help": "which dataset", "metavar": None,
                                     "required": True}
    assert "mnist" in acts["config"].choices and "fashion_mnist" in acts["config"].choices
    assert _spec(acts["data_dir"]) == {"flags": ["--data-dir"], "kind": "_StoreAction", "default": None, "type": None,
                                       "choices": None, "metavar": None, "required": False,
                                       "help": "folder holding the four IDX files (gz or raw); skips downloading"}
    assert _spec(acts["cache_dir"]) == {"flags": ["--cache-dir"], "kind": "_StoreAction", "default": None,
                                        "type": None, "choices": None, "metavar": None, "required": False,
                                        "help": "datasets cache folder (default: the Hugging Face cache)"}
    fields = {f.name: f for f in dataclasses.fields(MnistConfig) if "help" in f.metadata}
    assert set(KNOWN_OPTIONS) <= set(fields)
    for name, field in fields.items():
        a = acts[name]
        if name in KNOWN_OPTIONS:
            flags, kind, default, type_, choices = KNOWN_OPTIONS[name]
            assert (a.option_strings, type(a).__name__, a.default, a.type) == (flags, kind, default, type_), name
            assert (list(a.choices) if a.choices is not None else None) == choices, name
        assert a.help == _expected_help(field, type(a).__name__), name
        assert a.metavar is None and a.required is False, name
    # BuilderConfig's own fields (name, version, data_files, ...) are not options.
    assert not {"name", "version", "data_files", "description"} & set(acts)
    assert [f.name for f in cli._config_options()] == list(fields)


def test_prepare_export_and_push_options():
    prepare, export, push = (_actions(_sub(c)) for c in ("prepare", "export", "push"))
    assert _spec(prepare["preview"]) == {"flags": ["--preview"], "kind": "_StoreAction", "default": None, "type": None,
                                         "choices": None, "help": "write a grid of sample images with labels",
                                         "metavar": "PNG", "required": False}
    assert "preview" not in export and "preview" not in push
    assert _spec(export["out_dir"]) == {"flags": [], "kind": "_StoreAction", "default": None, "type": None,
                                        "choices": None, "help": None, "metavar": None, "required": True}
    assert "out_dir" not in prepare and "out_dir" not in push
    assert _spec(push["repo_id"]) == {"flags": [], "kind": "_StoreAction", "default": None, "type": None,
                                      "choices": None, "help": "namespace/name of the dataset repository",
                                      "metavar": None, "required": True}
    assert _spec(push["private"]) == {"flags": ["--private"], "kind": "_StoreTrueAction", "default": False,
                                      "type": None, "choices": None, "help": "create the repository as private",
                                      "metavar": None, "required": False}
    assert _spec(push["token"]) == {"flags": ["--token"], "kind": "_StoreAction", "default": None, "type": None,
                                    "choices": None, "metavar": None, "required": False,
                                    "help": "Hub token with write access (default: $HF_TOKEN, then the saved "
                                            "`hf auth login`); never printed"}
    assert _spec(push["dry_run"]) == {"flags": ["--dry-run"], "kind": "_StoreAction", "default": None, "type": None,
                                      "choices": None, "help": "write what would be uploaded to DIR and list it",
                                      "metavar": "DIR", "required": False}
    assert _spec(push["hub_timeout"]) == {"flags": ["--hub-timeout"], "kind": "_StoreAction", "default": 60.0,
                                          "type": float, "choices": None, "metavar": "SECONDS", "required": False,
                                          "help": "seconds within which every Hub request must be answered in full "
                                                  "(default: %(default)s)"}
    assert push["hub_timeout"].default == DEFAULT_HUB_TIMEOUT
    assert not {"repo_id", "private", "token", "dry_run", "hub_timeout"} & (set(prepare) | set(export))


def test_help_shows_defaults_and_metavars(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = " ".join(_sub("push").format_help().split())
    assert "--hub-timeout SECONDS seconds within which every Hub request must be answered in full (default: 60.0)" in text
    assert "--dry-run DIR" in text and "--mirror MIRRORS" in text
    assert "--validation-size VALIDATION_SIZE rows carved from train into validation (0: no validation split) " \
           "(default: 0)" in text
    assert "--stratify, --no-stratify" in text


def test_parsed_values_are_typed():
    args = cli.build_parser().parse_args([
        "push", "qmnist", "me/q", "--validation-size", "12", "--validation-seed", "4", "--timeout", "2.5",
        "--hub-timeout", "7", "--private", "--token", "hf_x", "--dry-run", "d", "--compat", "--no-stratify",
        "--mirror", "m1", "--mirror", "m2", "--system-dir", "s"])
    assert (args.command, args.config, args.repo_id) == ("push", "qmnist", "me/q")
    assert (args.validation_size, args.validation_seed, args.timeout, args.hub_timeout) == (12, 4, 2.5, 7.0)
    assert type(args.validation_size) is int and type(args.timeout) is float and type(args.hub_timeout) is float
    assert (args.private, args.token, args.dry_run, args.compat, args.stratify) == (True, "hf_x", "d", True, False)
    assert (args.mirrors, args.system_dirs) == (["m1", "m2"], ["s"])


@pytest.mark.parametrize("bad", [["--validation-strategy", "middle"], ["--image-format", "jpeg"],
                                 ["--validation-size", "many"], ["--timeout", "soon"]])
def test_bad_choices_and_types_are_refused_by_the_parser(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["prepare", "mnist", *bad])
    assert exc.value.code == 2
    assert bad[0] in capsys.readouterr().err


# --- builder_options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["prepare", "export", "push"])
def test_nothing_given_passes_nothing(command):
    extra = {"prepare": [], "export": ["out"], "push": ["me/x"]}[command]
    assert cli.builder_options(cli.build_parser().parse_args([command, "mnist", *extra])) == {}


def test_values_given_at_the_default_are_not_passed():
    args = cli.build_parser().parse_args([
        "prepare", "mnist", "--validation-size", "0", "--validation-strategy", "tail", "--validation-seed", "0",
        "--no-stratify", "--image-format", "png", "--no-compat", "--timeout", "60"])
    assert cli.builder_options(args) == {}


def test_values_given_reach_the_builder_options():
    args = cli.build_parser().parse_args([
        "export", "kmnist", "out", "--data-dir", "", "--cache-dir", "c", "--validation-size", "5",
        "--validation-strategy", "head", "--validation-seed", "9", "--stratify", "--image-format", "array",
        "--compat", "--mirror", "http://a/", "--system-dir", "/x", "--system-dir", "/y", "--timeout", "0.5"])
    # an empty --data-dir is passed on (the builder refuses it with a message), not dropped
    assert cli.builder_options(args) == {
        "data_dir": "", "cache_dir": "c", "validation_size": 5, "validation_strategy": "head", "validation_seed": 9,
        "stratify": True, "image_format": "array", "compat": True, "mirrors": ["http://a/"],
        "system_dirs": ["/x", "/y"], "timeout": 0.5}


@dataclasses.dataclass
class _OtherConfig:
    """Another builder config: the options follow its fields (``a new builder option appears here by itself``)."""

    where: str = dataclasses.field(metadata={"help": "where to look"})  # no default
    name: str = "x"  # no description: not an option
    label: str | None = dataclasses.field(default=None, metadata={"help": "a label"})
    colour: str = dataclasses.field(default="red", metadata={"help": "", "choices": ("red", "blue")})
    tags: list[str] | None = dataclasses.field(default=None, metadata={"help": ""})
    kinds: tuple[str, ...] = dataclasses.field(default=(), metadata={"help": "a kind"})
    sizes: Sequence[int] = dataclasses.field(default=(), metadata={"help": ""})
    loud: bool = dataclasses.field(default=True, metadata={"help": "say it"})


def test_options_follow_the_config_fields(monkeypatch):
    monkeypatch.setattr(cli, "MnistConfig", _OtherConfig)
    acts = _actions(_sub("prepare"))
    assert [f.name for f in cli._config_options()] == ["where", "label", "colour", "tags", "kinds", "sizes", "loud"]
    assert "name" not in acts
    assert _spec(acts["where"]) == {"flags": ["--where"], "kind": "_StoreAction", "default": None, "type": str,
                                    "choices": None, "help": "where to look (default: %(default)s)", "metavar": None,
                                    "required": False}
    assert _spec(acts["label"]) == {"flags": ["--label"], "kind": "_StoreAction", "default": None, "type": str,
                                    "choices": None, "help": "a label (default: %(default)s)", "metavar": None,
                                    "required": False}
    assert _spec(acts["colour"]) == {"flags": ["--colour"], "kind": "_StoreAction", "default": "red", "type": str,
                                     "choices": ["red", "blue"], "help": "(default: %(default)s)", "metavar": None,
                                     "required": False}
    assert _spec(acts["tags"]) == {"flags": ["--tag"], "kind": "_AppendAction", "default": None, "type": None,
                                   "choices": None, "help": "(repeatable)", "metavar": None, "required": False}
    # A sequence without None in its hint is repeatable too (the hint is the sequence, not one arm of a union).
    assert _spec(acts["kinds"])["flags"] == ["--kind"] and _spec(acts["kinds"])["kind"] == "_AppendAction"
    assert _spec(acts["sizes"])["flags"] == ["--size"] and _spec(acts["sizes"])["kind"] == "_AppendAction"
    assert _spec(acts["loud"]) == {"flags": ["--loud", "--no-loud"], "kind": "BooleanOptionalAction",
                                   "default": True, "type": None, "choices": None, "help": "say it",
                                   "metavar": None, "required": False}
    args = cli.build_parser().parse_args(["prepare", "mnist", "--where", "here", "--no-loud", "--tag", "a",
                                          "--colour", "red"])
    assert cli.builder_options(args) == {"where": "here", "loud": False, "tags": ["a"]}
    assert cli.builder_options(cli.build_parser().parse_args(["prepare", "mnist", "--label", "l"])) == {"label": "l"}


def test_sequence_options_are_told_by_their_type_hint():
    fields = {f.name: f for f in dataclasses.fields(MnistConfig)}
    assert cli._is_sequence(fields["mirrors"]) and cli._is_sequence(fields["system_dirs"])
    for name in ("validation_size", "validation_strategy", "stratify", "image_format", "timeout"):
        assert not cli._is_sequence(fields[name]), name


# --- prepare -----------------------------------------------------------------------------------------

NAMES = ["zero", "one", "two"]


def _prepare_fakes(monkeypatch, tmp_path, record: dict | None = None, fault=None):
    cache = tmp_path / "cache" / "mnist" / "v1"
    cache.mkdir(parents=True)
    if record is not None:
        (cache / PROVENANCE_FILE).write_text(json.dumps(record))
    train = _split([0, 1, 1, 2] * 300 + [2] * 34)  # 1,234 rows: 300 zeros, 600 ones, 334 twos
    test = _split([0, 1, 0, 1, 0])  # no "two": still listed, with 0
    b = FakeBuilder(cache, {"train": train, "test": test}, NAMES, fault=fault)
    make = Recorder(result=b)
    preview = Recorder(result="/returned/grid.png")
    monkeypatch.setattr(cli, "builder", make)
    monkeypatch.setattr(cli, "write_preview", preview)
    return cache, make, preview, train


SPLIT_LINES = ["  train        1,234 rows  [zero=300, one=600, two=334]",
               "  test             5 rows  [zero=3, one=2, two=0]"]


def test_prepare_prints_the_cache_rows_class_counts_and_sources(monkeypatch, tmp_path, capsys, argv0):
    record = {"train_images": {"file": "train-images-idx3-ubyte.gz", "verification": "md5", "detail": "matches",
                               "origin": "https://mirror.example/mnist/", "path": "/p"},
              "test_labels": {"file": "t10k-labels-idx1-ubyte.gz", "verification": "unverified",
                              "detail": "not the published file", "origin": "/data/mnist", "path": "/q"}}
    cache, make, preview, train = _prepare_fakes(monkeypatch, tmp_path, record)
    code = cli.main(["prepare", "mnist", "--cache-dir", "c", "--validation-size", "10"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert make.calls == [(("mnist",), {"cache_dir": "c", "validation_size": 10})]
    assert out.splitlines() == [
        f"mnist: prepared in {cache}", *SPLIT_LINES, "source files:",
        "  train-images-idx3-ubyte.gz: md5 (matches); from https://mirror.example/mnist/",
        "  t10k-labels-idx1-ubyte.gz: unverified (not the published file); from /data/mnist"]
    assert preview.calls == []


def test_prepare_writes_the_preview_when_asked(monkeypatch, tmp_path, capsys, argv0):
    cache, make, preview, train = _prepare_fakes(monkeypatch, tmp_path)
    code = cli.main(["prepare", "fashion_mnist", "--preview", "grid.png"])
    out = capsys.readouterr().out
    assert code == 0
    assert make.calls == [(("fashion_mnist",), {})]
    (args, kwargs), = preview.calls
    assert args[0] is train and args[1:] == ("grid.png", NAMES) and kwargs == {}
    # no provenance record (a cache prepared before the builder kept one): no "source files" section
    assert out.splitlines() == [f"fashion_mnist: prepared in {cache}", *SPLIT_LINES, "preview: /returned/grid.png"]


def test_prepare_with_an_empty_record_lists_no_sources(monkeypatch, tmp_path, capsys, argv0):
    cache, *_ = _prepare_fakes(monkeypatch, tmp_path, record={})
    assert cli.main(["prepare", "mnist"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"mnist: prepared in {cache}", *SPLIT_LINES]


# --- export and push ---------------------------------------------------------------------------------

def test_export_passes_the_folder_and_options_and_lists_the_files(monkeypatch, capsys, argv0):
    fake = Recorder(result=_result("/abs/out"))
    monkeypatch.setattr(cli, "export", fake)
    code = cli.main(["export", "mnist", "out", "--image-format", "array", "--mirror", "http://m/"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert fake.calls == [(("mnist", "out"), {"image_format": "array", "mirrors": ["http://m/"]})]
    assert out.splitlines() == ["mnist: exported train 60,000, test 10,000 rows to /abs/out", *FILES_LISTED]


def test_push_passes_the_hub_options(monkeypatch, capsys, argv0):
    fake = Recorder(result=_result("/tmp/staging"))
    monkeypatch.setattr(cli, "push", fake)
    code = cli.main(["push", "mnist", "me/mnist", "--validation-size", "100"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert fake.calls == [(("mnist", "me/mnist"), {"token": None, "private": False, "dry_run": None,
                                                   "hub_timeout": 60.0, "validation_size": 100})]
    assert out.splitlines() == ["pushed mnist to https://huggingface.co/datasets/me/mnist in one commit:",
                                *FILES_LISTED]


def test_push_dry_run_says_nothing_was_uploaded(monkeypatch, capsys, argv0):
    fake = Recorder(result=_result("/tmp/dry"))
    monkeypatch.setattr(cli, "push", fake)
    code = cli.main(["push", "kmnist", "me/k", "--dry-run", "/tmp/dry", "--private", "--token", "hf_SeCrEt123",
                     "--hub-timeout", "2.5"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert fake.calls == [(("kmnist", "me/k"), {"token": "hf_SeCrEt123", "private": True, "dry_run": "/tmp/dry",
                                               "hub_timeout": 2.5})]
    assert out.splitlines() == ["dry run: nothing uploaded; me/k would receive, from /tmp/dry:", *FILES_LISTED]
    assert "hf_SeCrEt123" not in out


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_bad_hub_timeout_is_refused_before_any_work(monkeypatch, capsys, argv0, value):
    fake = Recorder(result=_result())
    monkeypatch.setattr(cli, "push", fake)
    assert cli.main(["push", "mnist", "me/m", "--hub-timeout", value]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: --hub-timeout must be a positive number of seconds, got {float(value)!r}\n"
    assert fake.calls == []


def test_a_hub_timeout_that_is_not_a_number_is_a_usage_error(monkeypatch, capsys, argv0):
    monkeypatch.setattr(cli, "push", Recorder(result=_result()))
    with pytest.raises(SystemExit) as exc:
        cli.main(["push", "mnist", "me/m", "--hub-timeout", "soon"])
    assert exc.value.code == 2 and "--hub-timeout" in capsys.readouterr().err


def test_main_reads_sys_argv_by_default(monkeypatch, capsys):
    fake = Recorder(result=_result("/o", {"train": 3}))
    monkeypatch.setattr(cli, "export", fake)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/mnist-hf", "export", "mnist", "o"])
    assert cli.main() == 0
    assert fake.calls == [(("mnist", "o"), {})]
    assert capsys.readouterr().out.splitlines()[0] == "mnist: exported train 3 rows to /o"


# --- faults through main: one line on stderr, the exit code ------------------------------------------

def _run(monkeypatch, capsys, command: str, fault: BaseException, extra=()):
    argv = {"prepare": ["prepare", "mnist"], "export": ["export", "mnist", "/out/dir"],
            "push": ["push", "mnist", "me/m"]}[command] + list(extra)
    fake = Recorder(fault=fault)
    monkeypatch.setattr(cli, {"prepare": "builder"}.get(command, command), fake)
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert out == ""
    return code, err


@pytest.mark.parametrize(("command", "where"), [
    ("prepare", "writing the cache folder /c"),
    ("export", "writing /out/dir or the cache folder /c"),
    ("push", "writing the cache folder /c or a temporary folder"),
])
def test_a_full_disk_names_what_was_being_written(monkeypatch, capsys, argv0, hf_cache, command, where):
    fault = OSError(errno.ENOSPC, "No space left on device")
    assert _run(monkeypatch, capsys, command, fault, ["--cache-dir", "/c"]) == (7, f"error: {where}: {FULL_DISK}\n")


@pytest.mark.parametrize(("command", "where"), [
    ("prepare", "writing the cache folder /home/me/.cache/huggingface/datasets"),
    ("export", "writing /out/dir or the cache folder /home/me/.cache/huggingface/datasets"),
    ("push", "writing the cache folder /home/me/.cache/huggingface/datasets or a temporary folder"),
])
def test_the_default_cache_folder_is_named(monkeypatch, capsys, argv0, hf_cache, command, where):
    fault = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert _run(monkeypatch, capsys, command, fault) == (
        7, f"error: {where}: Disk quota exceeded (errno {errno.EDQUOT}): the disk quota is used up; free some "
           "space or write elsewhere\n")


def test_a_full_disk_wrapped_by_datasets_is_unwrapped(monkeypatch, capsys, argv0, tmp_path):
    wrapped = datasets.exceptions.DatasetGenerationError("An error occurred while generating the dataset")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    cache, *_ = _prepare_fakes(monkeypatch, tmp_path, fault=wrapped)
    assert cli.main(["prepare", "mnist", "--cache-dir", "/my/cache"]) == 7
    assert capsys.readouterr() == ("", f"error: writing the cache folder /my/cache: {FULL_DISK}\n")


def test_a_fault_naming_its_file_is_told_with_that_file(monkeypatch, capsys, argv0):
    fault = NotADirectoryError(errno.ENOTDIR, "Not a directory", "/out/dir")
    assert _run(monkeypatch, capsys, "export", fault) == (
        7, "error: /out/dir: Not a directory (errno 20): a file stands where a folder is needed\n")


@pytest.mark.parametrize("command", ["prepare", "export", "push"])
def test_bad_input_is_exit_2(monkeypatch, capsys, argv0, command):
    fault = ValueError("validation_size=70000 is more than the 60000 training rows")
    assert _run(monkeypatch, capsys, command, fault) == (
        2, "error: validation_size=70000 is more than the 60000 training rows\n")


@pytest.mark.parametrize(("kind", "code"), [("auth", 3), ("permission", 4), ("network", 5), ("hub", 6)])
def test_hub_faults_have_their_exit_codes_and_never_show_the_token(monkeypatch, capsys, argv0, kind, code):
    fault = HubError(f"the Hub said no ({kind})", kind)
    got = _run(monkeypatch, capsys, "push", fault, ["--token", "hf_TopSecretToken"])
    assert got == (code, f"error: the Hub said no ({kind})\n")
    assert "hf_TopSecretToken" not in got[1]


def test_a_password_in_a_mirror_url_is_never_printed(monkeypatch, capsys, argv0):
    fault = MirrorError("every mirror failed for train-images-idx3-ubyte.gz: http://alice:S3cretPw@mirror.example/"
                        "mnist/: HTTP 404")
    code, err = _run(monkeypatch, capsys, "prepare", fault, ["--mirror", "http://alice:S3cretPw@mirror.example/mnist/"])
    assert code == 2
    assert err == ("error: every mirror failed for train-images-idx3-ubyte.gz: http://***@mirror.example/mnist/: "
                   "HTTP 404\n")


@pytest.mark.parametrize("fault", [RuntimeError("a bug"), KeyError("x"), OSError(errno.EIO, "I/O error")])
def test_anything_else_is_a_bug_with_its_traceback(monkeypatch, capsys, argv0, fault):
    monkeypatch.setattr(cli, "export", Recorder(fault=fault))
    with pytest.raises(type(fault)) as exc:
        cli.main(["export", "mnist", "out"])
    assert exc.value is fault
    assert capsys.readouterr() == ("", "")


# --- faults.describe ---------------------------------------------------------------------------------

def test_exit_codes():
    assert EXIT_CODES == {"input": 2, "auth": 3, "permission": 4, "network": 5, "hub": 6, "filesystem": 7}


@pytest.mark.parametrize(("code", "strerror", "advice"), [
    (errno.ENOSPC, "No space left on device", "the disk is full; free some space or write elsewhere"),
    (errno.EDQUOT, "Disk quota exceeded", "the disk quota is used up; free some space or write elsewhere"),
    (errno.EROFS, "Read-only file system", "the folder is read-only (datasets takes a lock file there even to read "
                                           "a prepared dataset); give a folder you can write to"),
    (errno.EACCES, "Permission denied", "no permission; give a folder you can write to"),
    (errno.EPERM, "Operation not permitted", "not permitted; give a folder you can write to"),
    (errno.ENOTDIR, "Not a directory", "a file stands where a folder is needed"),
    (errno.EEXIST, "File exists", "a file stands where a folder is needed"),
    (errno.EISDIR, "Is a directory", "a folder stands where a file is needed"),
    (errno.ENAMETOOLONG, "File name too long", "the name is too long"),
])
def test_each_filesystem_fault_has_its_advice(code, strerror, advice):
    text = f"{strerror} (errno {code}): {advice}"
    assert describe(OSError(code, strerror, "/a/file"), where="writing /b") == (7, f"/a/file: {text}")
    assert describe(OSError(code, strerror), where="writing /b") == (7, f"writing /b: {text}")
    assert describe(OSError(code, strerror)) == (7, text)  # nothing to name: the text alone
    assert describe(OSError(code, strerror), where="") == (7, text)


def test_a_fault_without_its_text_is_named_by_its_errno_code():
    assert describe(OSError(errno.EROFS, "")) == (
        7, "EROFS (errno 30): the folder is read-only (datasets takes a lock file there even to read a prepared "
           "dataset); give a folder you can write to")
    assert describe(OSError(errno.ENOSPC, None), where="w") == (
        7, "w: ENOSPC (errno 28): the disk is full; free some space or write elsewhere")


def test_secrets_are_redacted_from_filesystem_faults():
    fault = PermissionError(errno.EACCES, "Permission denied", "https://bob:hunter2@host/share/x")
    assert describe(fault) == (7, "https://***@host/share/x: Permission denied (errno 13): no permission; give a "
                                  "folder you can write to")
    assert describe(OSError(errno.ENOSPC, "No space left on device"), where="writing ftp://u:pw@h/d") == (
        7, f"writing ftp://***@h/d: {FULL_DISK}")


@pytest.mark.parametrize("fault", [
    ValueError("bad value http://carol:pw123@m.example/x"),
    MissingFilesError("/data holds none of the files; http://carol:pw123@m.example/x"),
    MirrorError("every mirror failed: http://carol:pw123@m.example/x: timed out"),
])
def test_user_errors_are_exit_2_and_redacted(fault):
    code, text = describe(fault)
    assert code == 2
    assert text == str(fault).replace("carol:pw123@", "***@")


def test_a_missing_file_is_bad_input_not_a_filesystem_fault():
    fault = MissingFilesError(errno.ENOENT, "No such file or directory", "/data/train-images-idx3-ubyte.gz")
    assert describe(fault) == (2, str(fault))


@pytest.mark.parametrize(("kind", "code"), [("auth", 3), ("permission", 4), ("network", 5), ("hub", 6)])
def test_hub_errors_keep_their_message(kind, code):
    assert describe(HubError("no write access to me/x", kind)) == (code, "no write access to me/x")


@pytest.mark.parametrize("fault", [RuntimeError("bug"), TypeError("bug"), KeyError("k"),
                                   FileNotFoundError(errno.ENOENT, "No such file or directory", "/x"),
                                   OSError(errno.EIO, "Input/output error"), OSError("no errno"),
                                   ConnectionResetError(errno.ECONNRESET, "reset")])
def test_anything_else_is_not_described(fault):
    assert describe(fault) is None
    assert describe(fault, where="writing /x") is None


def _generation_error(cause=None, context=None) -> BaseException:
    e = datasets.exceptions.DatasetGenerationError("An error occurred while generating the dataset")
    e.__cause__, e.__context__ = cause, context
    return e


def test_datasets_generation_errors_are_unwrapped():
    disk = OSError(errno.ENOSPC, "No space left on device")
    bad = ValueError("label 12 is out of range")
    assert describe(_generation_error(cause=disk), where="w") == (7, f"w: {FULL_DISK}")
    assert describe(_generation_error(context=disk), where="w") == (7, f"w: {FULL_DISK}")
    assert describe(_generation_error(cause=disk, context=bad), where="w") == (7, f"w: {FULL_DISK}")  # cause first
    assert describe(_generation_error(cause=bad, context=disk)) == (2, "label 12 is out of range")
    # wrapped twice
    assert describe(_generation_error(context=_generation_error(cause=bad))) == (2, "label 12 is out of range")
    # nothing inside: a bug
    assert describe(_generation_error()) is None


def test_only_datasets_generation_errors_are_unwrapped():
    class DatasetGenerationError(Exception):  # same name, another module: unwrapped too (matched by name)
        pass

    disk = OSError(errno.ENOSPC, "No space left on device")
    e = DatasetGenerationError("x")
    e.__cause__ = disk
    assert describe(e, where="w") == (7, f"w: {FULL_DISK}")
    # another exception caused by a full disk is told as itself
    other = ValueError("the card does not parse")
    other.__cause__ = disk
    assert describe(other, where="w") == (2, "the card does not parse")
    bug = RuntimeError("bug")
    bug.__context__ = disk
    assert describe(bug) is None


# --- sizes and the file list --------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "text"), [
    (0, "0.0 KB"), (100, "0.1 KB"), (1024, "1.0 KB"), (2048, "2.0 KB"), (104857, "102.4 KB"),
    (104858, "0.1 MB"), (3 * 2**20, "3.0 MB"), (5 * 2**20 + 2**19, "5.5 MB"), (3 * 2**30, "3072.0 MB"),
])
def test_format_size(n, text):
    assert cli.format_size(n) == text


def test_list_files(capsys):
    cli._list_files(_result())
    assert capsys.readouterr().out.splitlines() == FILES_LISTED


# --- the preview grid --------------------------------------------------------------------------------

def _images(n: int) -> datasets.Dataset:
    features = datasets.Features({"image": datasets.Array2D((28, 28), "uint8"), "label": datasets.ClassLabel(names=NAMES)})
    images = [np.full((28, 28), 200 + k, np.uint8) for k in range(n)]
    return datasets.Dataset.from_dict({"image": images, "label": [k % 3 for k in range(n)]}, features=features)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def pyplot(monkeypatch):
    """matplotlib.pyplot, recording the figures write_preview makes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    real = plt.subplots

    def subplots(*args, **kwargs):
        fig, axes = real(*args, **kwargs)
        made.append((args, kwargs, fig))
        return fig, axes

    monkeypatch.setattr(plt, "subplots", subplots)
    return plt, made


@pytest.mark.parametrize("n", [1, 3])
def test_preview_grid(tmp_path, pyplot, n):
    import matplotlib

    plt, made = pyplot
    path = str(tmp_path / "grid.png")
    # the user's matplotlibrc does not change the grid: 1.3 x 1.5 inches a cell, 100 dpi
    with matplotlib.rc_context({"savefig.dpi": 50, "figure.dpi": 50, "figure.figsize": (2.0, 2.0)}):
        assert cli.write_preview(_images(n), path, NAMES, rows=1, cols=2) == path
    with open(path, "rb") as fh:
        assert _png_size(fh.read()) == (260, 150)
    (_, _, fig), = made
    assert not plt.fignum_exists(fig.number)  # closed
    drawn = min(n, 2)
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_subplotspec().get_gridspec().get_geometry() == (1, 2)
    assert all(not ax.axison for ax in axes)
    for k, ax in enumerate(axes[:drawn]):
        (image,) = ax.images
        assert image.get_array().dtype == np.uint8
        assert image.get_array().shape == (28, 28) and int(image.get_array()[0, 0]) == 200 + k
        assert image.get_clim() == (0, 255) and image.get_cmap().name == "gray_r"
        assert ax.get_title() == NAMES[k % 3] and ax.title.get_fontsize() == 8
    for ax in axes[drawn:]:
        assert not ax.images and ax.get_title() == ""


def test_preview_grid_default_shape(tmp_path, pyplot, monkeypatch):
    # 4 x 8 images by default (stopped once the figure is made: drawing 32 images takes seconds)
    plt, made = pyplot
    subplots = plt.subplots

    class Made(Exception):
        pass

    def stop(*args, **kwargs):
        subplots(*args, **kwargs)
        raise Made

    monkeypatch.setattr(plt, "subplots", stop)
    with pytest.raises(Made):
        cli.write_preview(_images(40), str(tmp_path / "grid.png"), NAMES)
    (_, _, fig), = made
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (4, 8)
    assert tuple(fig.get_size_inches()) == pytest.approx((8 * 1.3, 4 * 1.5))
    plt.close(fig)


def test_preview_leaves_matplotlib_on_the_agg_backend_by_its_documented_name(tmp_path, pyplot):
    # write_preview selects matplotlib's non-interactive "Agg" backend (no window, works headless), from
    # whatever backend was in use. matplotlib keeps the name as given: code that checks
    # matplotlib.get_backend() == "Agg" afterwards must see "Agg", not "agg" or "AGG".
    import matplotlib

    matplotlib.use("svg")
    assert matplotlib.get_backend() == "svg"
    path = str(tmp_path / "grid.png")
    assert cli.write_preview(_images(1), path, NAMES, rows=1, cols=1) == path
    assert matplotlib.get_backend() == "Agg"
    with open(path, "rb") as fh:
        assert _png_size(fh.read()) == (130, 150)
