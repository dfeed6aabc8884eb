from __future__ import annotations

import dataclasses
import errno
import os
import re
import shutil

import datasets
import pytest
from helpers import cache_is_clean

import mnist_hf
from mnist_hf.__main__ import build_parser, builder_options, main


def test_prepare_prints_sizes_counts_cache_and_verification(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    preview = tmp_path / "grid.png"
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--validation-size", "30", "--validation-strategy", "random", "--stratify",
                 "--image-format", "array", "--preview", str(preview)])
    out = capsys.readouterr().out
    assert code == 0
    assert "train" in out and "270 rows" in out and "validation" in out and "30 rows" in out
    assert "0=3" in out  # class counts: 30 stratified rows over 10 classes
    assert str(tmp_path / "c") in out
    assert "unverified" in out  # synthetic files are not the published ones, and it says so
    assert preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prepare_bad_input_exit_code_and_message(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    (data_dir / "train-images-idx3-ubyte.gz").write_bytes(b"")
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2
    assert "train-images-idx3-ubyte.gz" in err and "empty" in err
    assert "Traceback" not in err


def _option_fields():
    return [f for f in dataclasses.fields(mnist_hf.MnistConfig) if "help" in f.metadata]


@pytest.mark.parametrize("command", ["prepare", "export", "push"])
def test_every_builder_option_is_a_flag_with_its_default_and_description(command, capsys):
    fields = _option_fields()
    assert {f.name for f in fields} >= {"validation_size", "validation_strategy", "stratify", "image_format",
                                        "mirrors", "system_dirs", "timeout"}
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in fields:
        flag = "--" + f.name.replace("_", "-")
        assert flag.removesuffix("s") in text, f.name
        assert " ".join(f.metadata["help"].split()) in text, f.name
        if f.default not in (None, False):
            assert f"(default: {f.default})" in text, f.name
    extra = ["out"] if command == "export" else ["me/x"] if command == "push" else []
    # nothing given: nothing passed, so the builder's own defaults apply (and its cache ids stay)
    assert builder_options(build_parser().parse_args([command, "mnist", *extra])) == {}


def test_options_given_reach_the_builder_as_typed_values(tmp_path, monkeypatch):
    # Building the builder creates its cache folder: paths under tmp_path, and a working directory
    # that must stay empty, so the test leaves nothing in the checkout.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    data, cache = str(tmp_path / "d"), str(tmp_path / "c")
    args = build_parser().parse_args([
        "export", "mnist", "out", "--validation-size", "7", "--validation-strategy", "random", "--validation-seed", "3",
        "--stratify", "--image-format", "array", "--mirror", "http://a/", "--mirror", "http://b/",
        "--system-dir", "/x", "--timeout", "5", "--data-dir", data, "--cache-dir", cache])
    assert builder_options(args) == {
        "data_dir": data, "cache_dir": cache, "validation_size": 7, "validation_strategy": "random", "validation_seed": 3,
        "stratify": True, "image_format": "array", "mirrors": ["http://a/", "http://b/"], "system_dirs": ["/x"],
        "timeout": 5.0}
    b = mnist_hf.builder("mnist", **builder_options(args))
    assert (b.config.validation_size, b.config.validation_seed, b.config.timeout) == (7, 3, 5.0)
    assert list(cwd.iterdir()) == []


def test_prepare_counts_classes_without_reading_labels_row_by_row(synthetic_dir, tmp_path, capsys, monkeypatch):
    # On datasets 4/5 ds["label"] is a lazy Column: iterating it decodes one row at a time.
    column = getattr(datasets.arrow_dataset, "Column", None)
    if column is not None:
        def per_row(self):
            raise AssertionError("the label column was read row by row")

        monkeypatch.setattr(column, "__iter__", per_row)
    data_dir, labels = synthetic_dir
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--validation-size", "30", "--validation-strategy", "head", "--image-format", "array"])
    out = capsys.readouterr().out
    assert code == 0, out
    train = labels["train-labels-idx1-ubyte"]
    for split, part in [("train", train[30:]), ("validation", train[:30]), ("test", labels["t10k-labels-idx1-ubyte"])]:
        counts = ", ".join(f"{k}={int((part == k).sum())}" for k in range(10))
        assert f"{split:<10} {len(part):>7,} rows  [{counts}]" in out, out


def test_bad_option_value_is_exit_2_with_the_builders_message(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--timeout", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and "timeout" in err and "Traceback" not in err


def test_docstring_examples_run():
    # pytest's doctest collection skips __main__.py, so its examples are run here
    import doctest

    import mnist_hf.__main__

    result = doctest.testmod(mnist_hf.__main__)
    assert result.attempted >= 5 and result.failed == 0


# --- operating-system faults: one plain line and exit 7 (issue 19, case 5) --------------------------

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _one_line(err: str) -> str:
    """The one error line among the progress bars; nothing else said."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err and "Error" not in err, err
    return lines[0]


def test_prepare_on_a_full_disk(synthetic_dir, tmp_path, capsys, monkeypatch):
    # Was a traceback of 18 frames ending in DatasetGenerationError, exit 1.
    data_dir, _ = synthetic_dir
    monkeypatch.setattr(datasets.arrow_writer.ArrowWriter, "write_table", _no_space)
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--image-format", "array"])
    assert code == 7
    assert _one_line(capsys.readouterr().err) == (
        f"error: writing the cache folder {tmp_path / 'c'}: No space left on device (errno 28): the disk is full; "
        "free some space or write elsewhere")
    assert cache_is_clean(tmp_path / "c")


def test_export_on_a_full_disk_keeps_the_previous_export(synthetic_dir, tmp_path, capsys, monkeypatch):
    data_dir, _ = synthetic_dir
    args = ["export", "mnist", str(tmp_path / "out"), "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c")]
    assert main(args) == 0
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*"))
    monkeypatch.setattr(datasets.Dataset, "to_parquet", _no_space)
    assert main([*args, "--validation-size", "10"]) == 7
    assert _one_line(capsys.readouterr().err).startswith(
        f"error: writing {tmp_path / 'out'} or the cache folder {tmp_path / 'c'}: No space left on device (errno 28)")
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*")) == before


@pytest.mark.parametrize("prepared", [False, True])
def test_a_read_only_cache_is_named_with_its_lock_file(synthetic_dir, tmp_path, capsys, monkeypatch, prepared):
    # Root ignores permissions, so the read-only file system is simulated where datasets meets it:
    # opening its lock file, which it does even to read a dataset prepared before.
    data_dir, _ = synthetic_dir
    args = ["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c")]
    if prepared:
        assert main(args) == 0
        capsys.readouterr()
    real_open = os.open

    def read_only(path, flags, *rest, **kw):
        if str(path).startswith(str(tmp_path / "c")) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *rest, **kw)

    monkeypatch.setattr(os, "open", read_only)
    assert main(args) == 7
    line = _one_line(capsys.readouterr().err)
    assert re.fullmatch(rf"error: {re.escape(str(tmp_path / 'c'))}/\S+\.lock: Read-only file system \(errno 30\): "
                        r"the folder is read-only \(datasets takes a lock file there even to read a prepared dataset\); "
                        r"give a folder you can write to", line), line


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_export_into_a_file_is_refused_before_any_work(synthetic_dir, tmp_path, capsys, where):
    # Was FileExistsError's traceback, after the data was prepared.
    data_dir, _ = synthetic_dir
    (tmp_path / "afile").write_text("mine")
    out = tmp_path / "afile" if where == "file" else tmp_path / "afile" / "out"
    code = main(["export", "mnist", str(out), "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c")])
    assert code == 7
    assert _one_line(capsys.readouterr().err) == (f"error: {out}: Not a directory (errno 20): a file stands where a "
                                                  "folder is needed")
    assert (tmp_path / "afile").read_text() == "mine" and not (tmp_path / "c").exists()


# --- bad option values: one line naming the option (issue 19, case 9) --------------------------------

def test_an_empty_data_dir_is_refused(tmp_path, capsys):
    # Was silently ignored: the mirrors were tried instead.
    code = main(["prepare", "mnist", "--data-dir", "", "--cache-dir", str(tmp_path / "c"), "--mirror", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == ("error: data_dir is an empty string: give the folder that holds the files, or "
                                       "leave data_dir out to use a system copy or the mirrors\n")


def test_a_data_dir_that_is_not_utf8_is_named(synthetic_dir, tmp_path, capsys):
    # Was "'utf-8' codec can't encode characters ...", naming neither the option nor the path.
    data_dir, _ = synthetic_dir
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xffname")
    shutil.copytree(data_dir, odd)
    assert main(["prepare", "mnist", "--data-dir", odd, "--cache-dir", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err == (f"error: data_dir {odd!r} is not valid UTF-8 (the name holds bytes the file "
                                       "system could not decode): rename it or give another path\n")


def test_a_stratified_validation_size_that_leaves_no_room_names_the_options(synthetic_dir, tmp_path, capsys):
    # Was scikit-learn's "The train_size = 1 should be greater or equal to the number of classes".
    data_dir, _ = synthetic_dir
    code = main(["prepare", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--validation-size", "299", "--validation-strategy", "random", "--stratify"])
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: validation_size=299 with stratify=True leaves 1 row(s) on one side for 10 classes: a stratified split "
        "needs a row of each class on both sides (validation_size between 10 and 290)")
