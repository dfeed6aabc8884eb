from __future__ import annotations

from mnist_hf.__main__ import main


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
