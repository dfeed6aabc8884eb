from __future__ import annotations

import dataclasses

import datasets
import pytest

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
