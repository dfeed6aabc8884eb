"""An export is never half-done: after a failure at any step, or a SIGKILL at any moment, the
export folder holds the previous export or the new one, its card agreeing with its Parquet files."""

from __future__ import annotations

import builtins
import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

import mnist_hf.export as export_module
from mnist_hf.__main__ import main
from mnist_hf.export import LOCK, export


def _opts(synthetic_dir, tmp_path, **kw):
    data_dir, _ = synthetic_dir
    return {"data_dir": str(data_dir), "cache_dir": str(tmp_path / "cache"), "system_dirs": (), **kw}


def _sizes(validation_size: int) -> dict[str, int]:  # the synthetic set: 300 train, 60 test rows
    return {"train": 300 - validation_size, "test": 60} | ({"validation": validation_size} if validation_size else {})


def _state(out: Path, config: str = "mnist") -> dict[str, int]:
    """Rows per split as the card declares them, after checking that the Parquet files its
    data_files name exist and hold exactly those rows (what load_dataset verifies)."""
    meta = DatasetCard.load(out / "README.md").data.to_dict()
    info = next(i for i in meta["dataset_info"] if i["config_name"] == config)
    declared = {s["name"]: s["num_examples"] for s in info["splits"]}
    entry = next(c for c in meta["configs"] if c["config_name"] == config)
    found = {}
    for df in entry["data_files"]:
        files = sorted(out.glob(df["path"]))
        assert files, f"card names {df['path']}, which matches no file"
        found[df["split"]] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert found == declared, f"card says {declared}, files hold {found}"
    return declared


def _load_sizes(out: Path, tmp_path: Path, config: str = "mnist") -> dict[str, int]:
    cache = tempfile.mkdtemp(dir=tmp_path)
    return {k: v.num_rows for k, v in datasets.load_dataset(str(out), config, cache_dir=cache).items()}


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


class InjectedError(OSError):
    pass


# Every filesystem operation export makes itself, plus the Parquet writer. Calls from other
# modules (datasets, filelock) pass through, so the n-th call is the n-th step of the export.
TARGETS = [(os, "mkdir"), (os, "makedirs"), (os, "rename"), (os, "replace"), (os, "unlink"), (os, "rmdir"),
           (os, "open"), (os, "fsync"), (shutil, "rmtree"), (tempfile, "mkdtemp"), (builtins, "open"),
           (datasets.Dataset, "to_parquet")]


def _inject(monkeypatch, owner, name, nth):
    real = getattr(owner, name)
    hit = {"calls": 0, "raised": False}

    def wrapper(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__")
        if owner is datasets.Dataset or caller == "mnist_hf.export":
            hit["calls"] += 1
            if hit["calls"] == nth:
                hit["raised"] = True
                raise InjectedError(f"injected: {name} call {nth}")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return hit


def test_a_failure_at_any_step_leaves_the_old_or_the_new_export(synthetic_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    current = _sizes(10)
    points = {}
    for owner, name in TARGETS:
        for nth in range(1, 40):
            size = 20 if current.get("validation") == 10 else 10
            with monkeypatch.context() as m:
                hit = _inject(m, owner, name, nth)
                try:
                    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=size))
                except InjectedError:
                    pass
            state = _state(out)
            assert state in (current, _sizes(size)), (name, nth, state)
            current = state
            if not hit["raised"]:
                assert state == _sizes(size), (name, nth)
                points[name] = nth - 1
                break
        else:
            pytest.fail(f"{name}: an export made 40 calls or more")
    # the steps that matter were each made to fail at least once
    for name in ("mkdtemp", "to_parquet", "open", "fsync", "rename", "replace", "rmtree", "unlink"):
        assert points[name] >= 1, (name, points)
    assert _load_sizes(out, tmp_path) == current == _state(out)
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != LOCK] == []
    assert len(list((out / "mnist").iterdir())) == 1  # old versions and leftovers are gone


# Imports and prepares once, then forks one child per export, so that each kill lands in an export
# rather than in the interpreter's start-up. Protocol: "SIZE" -> "pid PID", then "exit STATUS".
ZYGOTE = """
import os, sys
from mnist_hf.export import export
opts = dict(data_dir=sys.argv[2], cache_dir=sys.argv[3], system_dirs=())
for size in (10, 20):
    export("mnist", sys.argv[4], validation_size=size, **opts)  # both prepared in the cache
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        export("mnist", sys.argv[1], validation_size=int(line), **opts)
        os._exit(0)
    print("pid", pid, flush=True)
    print("exit", os.waitpid(pid, 0)[1], flush=True)
"""


def test_sigkill_at_random_moments_leaves_the_old_or_the_new_export(synthetic_dir, tmp_path):
    data_dir, _ = synthetic_dir
    out = tmp_path / "out"
    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(out), str(data_dir), str(tmp_path / "cache"), str(tmp_path / "warm")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def start(size):
        zygote.stdin.write(f"{size}\n")
        zygote.stdin.flush()
        word, pid = zygote.stdout.readline().split()
        assert word == "pid"
        return int(pid)

    def reap():
        word, status = zygote.stdout.readline().split()
        assert word == "exit"
        return int(status)

    try:
        assert zygote.stdout.readline().strip() == "ready"
        began = time.monotonic()  # how long one export takes here, to spread the kills over it
        start(20)
        assert reap() == 0
        duration = time.monotonic() - began
        current = _state(out)
        assert current == _sizes(20)
        rng = random.Random(0)
        killed = 0
        for _ in range(15):
            size = 20 if current.get("validation") == 10 else 10
            pid = start(size)
            time.sleep(rng.uniform(0, duration))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # already done
                pass
            killed += os.WIFSIGNALED(reap())
            state = _state(out)
            assert state in (current, _sizes(size))
            current = state
        assert killed >= 5  # most kills landed inside an export
    finally:
        zygote.stdin.close()
        zygote.wait(60)
    assert _load_sizes(out, tmp_path) == current
    # a later export cleans up whatever the killed ones left
    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    assert _state(out) == _sizes(10)
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != LOCK] == []
    assert len(list((out / "mnist").iterdir())) == 1


def test_broken_card_is_a_clear_error_and_nothing_changes(synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    out = tmp_path / "out"
    args = ["export", "mnist", str(out), "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            "--system-dir", str(tmp_path / "none")]
    assert main([*args, "--validation-size", "10"]) == 0
    card = out / "README.md"
    card.write_text(card.read_text().replace("pretty_name:", "pretty_name: 'unbalanced", 1))
    before = _files(out)
    capsys.readouterr()
    assert main([*args, "--validation-size", "50"]) == 2
    err = capsys.readouterr().err
    assert str(card) in err and "does not parse" in err and "Traceback" not in err
    assert _files(out) == before


def test_stale_staging_folders_are_removed(synthetic_dir, tmp_path, caplog):
    out = tmp_path / "out"
    export("mnist", out, **_opts(synthetic_dir, tmp_path))
    for name in (".mnist-k1ll3d00", ".fashion_mnist-abcdefgh"):
        (out / name / "data").mkdir(parents=True)
        (out / name / "data" / "train-00000-of-00001.parquet").write_bytes(b"half")
    (out / ".keep-me").write_text("not ours")
    caplog.set_level(logging.INFO, logger="mnist_hf.export")
    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    assert sorted(p.name for p in out.iterdir()) == [".keep-me", LOCK, "README.md", "mnist"]
    assert sorted(r.getMessage() for r in caplog.records if r.name == "mnist_hf.export") == [
        f"removing {out / name}, left by an interrupted export" for name in (".fashion_mnist-abcdefgh", ".mnist-k1ll3d00")]


def test_a_live_exports_staging_folder_is_left_alone(synthetic_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    export("mnist", out, **_opts(synthetic_dir, tmp_path))
    live = out / ".mnist-l1ve0000"
    # another export is staging: it holds the lock, in another process
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, os; from filelock import FileLock\n"
         "lock = FileLock(sys.argv[1]); lock.acquire(); os.mkdir(sys.argv[2]); print('held', flush=True)\n"
         "sys.stdin.readline(); print('intact' if os.path.isdir(sys.argv[2]) else 'gone', flush=True)\n"
         "os.rmdir(sys.argv[2]); lock.release()",
         str(out / LOCK), str(live)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    waiting = threading.Event()
    real_lock = export_module.FileLock

    def lock(path):
        waiting.set()
        return real_lock(path)

    monkeypatch.setattr(export_module, "FileLock", lock)
    errors = []
    t = threading.Thread(target=lambda: _run(errors, export, "mnist", out,
                                             **_opts(synthetic_dir, tmp_path, validation_size=10)))
    t.start()
    assert waiting.wait(60)
    time.sleep(0.5)  # room for an export that ignored the lock to reach the cleanup
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "intact"
    holder.wait()
    t.join(60)
    assert not errors and _state(out) == _sizes(10)


def _run(errors, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as e:  # reported by the test's assertion
        errors.append(e)


def test_exported_folders_and_files_follow_the_umask(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        result = export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    finally:
        os.umask(old)
    version = result.files[0].parent
    for folder in (out / "mnist", out / version):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder
    for rel in result.files:
        assert stat.S_IMODE((out / rel).stat().st_mode) == 0o640, rel


def test_same_export_twice_keeps_the_version_folder(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    first = export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    inode = (out / first.files[0]).stat().st_ino
    second = export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    assert second.files == first.files and (out / second.files[0]).stat().st_ino == inode
    assert _state(out) == _sizes(10)


def test_an_export_in_the_earlier_flat_layout_is_replaced(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    result = export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=10))
    version = result.files[0].parent  # mnist/VERSION -> mnist/, as earlier releases wrote it
    for p in (out / version).iterdir():
        p.rename(out / "mnist" / p.name)
    (out / version).rmdir()
    card = out / "README.md"
    card.write_text(card.read_text().replace(f"{version.as_posix()}/", "mnist/"))
    assert _state(out) == _sizes(10)
    export("mnist", out, **_opts(synthetic_dir, tmp_path, validation_size=20))
    assert _state(out) == _sizes(20)
    assert [p.is_dir() for p in (out / "mnist").iterdir()] == [True]
