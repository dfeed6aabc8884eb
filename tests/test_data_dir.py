"""Finding a dataset's files on disk: a user's ``data_dir`` and the system copies (mnist_hf/fetch.py).

Fast unit tests on tiny synthetic files: which names are accepted, what the errors say, which
folder wins, how each file is verified and what is logged. (The builder-level behaviour is in
test_mnist_hf.py; the mirrors in test_download.py.)
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os

import numpy as np
import pytest

from mnist_hf import fetch
from mnist_hf.fetch import MissingFilesError, local_path, local_paths, resolve_data_dir, resolve_files, resolve_system_dirs
from mnist_hf.idx import to_idx_bytes
from mnist_hf.sources import SPECS, FileSpec

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
ARCHIVES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _contents(seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": to_idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
        "train_labels": to_idx_bytes(np.arange(6, dtype=np.uint8) % 10),
        "test_images": to_idx_bytes(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
        "test_labels": to_idx_bytes(np.arange(3, dtype=np.uint8)),
    }


def _gz(data: bytes, level: int = 9) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


@pytest.fixture
def spec():
    """Fashion-MNIST's spec with its published archives replaced by tiny synthetic ones."""
    contents = _contents()
    files = {
        role: FileSpec(role, ARCHIVES[role], None, hashlib.md5(_gz(contents[role])).hexdigest(),
                       hashlib.sha256(contents[role]).hexdigest())
        for role in ROLES
    }
    return dataclasses.replace(SPECS["fashion_mnist"], files=files)


def _write_published(directory, roles=ROLES, seed: int = 0) -> dict[str, str]:
    """The published archives of ``roles`` in ``directory`` (seed != 0: other data, same names)."""
    directory.mkdir(parents=True, exist_ok=True)
    contents = _contents(seed)
    paths = {}
    for role in roles:
        path = directory / ARCHIVES[role]
        path.write_bytes(_gz(contents[role]))
        paths[role] = str(path)
    return paths


# --- local_path -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte",
                                  "t10k-labels.idx1-ubyte.gz", "t10k-labels.idx1-ubyte"])
def test_local_path_finds_each_accepted_name(tmp_path, spec, name):
    (tmp_path / name).write_bytes(b"x")
    assert local_path(str(tmp_path), spec.files["test_labels"]) == str(tmp_path / name)
    assert local_path(str(tmp_path), spec.files["train_labels"]) is None


def test_local_path_prefers_the_archive_and_ignores_folders(tmp_path, spec):
    (tmp_path / "t10k-labels-idx1-ubyte.gz").mkdir()  # a folder of that name is not the file
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"raw")
    assert local_path(str(tmp_path), spec.files["test_labels"]) == str(tmp_path / "t10k-labels-idx1-ubyte")
    (tmp_path / "t10k-labels.idx1-ubyte.gz").write_bytes(b"dotted")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").rmdir()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"archive")
    assert local_path(str(tmp_path), spec.files["test_labels"]) == str(tmp_path / "t10k-labels-idx1-ubyte.gz")


# --- local_paths ----------------------------------------------------------------------------------

def test_local_paths_maps_every_role_to_its_file(tmp_path, spec):
    paths = _write_published(tmp_path / "d", ROLES[:3])
    raw = tmp_path / "d" / "t10k-labels-idx1-ubyte"
    raw.write_bytes(_contents()["test_labels"])
    expected = {**paths, "test_labels": str(raw)}
    assert local_paths(str(tmp_path / "d"), spec) == expected
    assert local_paths(tmp_path / "d", spec) == expected  # a Path works too


def test_local_paths_expands_the_home_folder(tmp_path, spec, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    paths = _write_published(tmp_path / "mnist")
    assert local_paths("~/mnist", spec) == paths


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_local_paths_rejects_what_is_not_a_directory(tmp_path, spec, kind):
    target = tmp_path / "data"
    if kind == "file":
        target.write_bytes(b"not a folder")
    with pytest.raises(MissingFilesError) as err:
        local_paths(str(target), spec)
    assert str(err.value) == f"data_dir '{target}' is not a directory"
    assert isinstance(err.value, FileNotFoundError)


def test_local_paths_lists_what_is_missing_and_what_is_there(tmp_path, spec):
    _write_published(tmp_path, ("train_images", "test_images"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(MissingFilesError) as err:
        local_paths(str(tmp_path), spec)
    assert str(err.value) == (
        f"data_dir '{tmp_path}' lacks 2 file(s) of fashion_mnist: "
        "train-labels-idx1-ubyte.gz or train-labels-idx1-ubyte; t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte. "
        "Found there: notes.txt, t10k-images-idx3-ubyte.gz, train-images-idx3-ubyte.gz."
    )


def test_local_paths_says_when_the_folder_is_empty(tmp_path, spec):
    with pytest.raises(MissingFilesError) as err:
        local_paths(str(tmp_path), spec)
    assert str(err.value).startswith(f"data_dir '{tmp_path}' lacks 4 file(s) of fashion_mnist: train-images-idx3-ubyte.gz")
    assert str(err.value).endswith(". Found there: nothing.")


# --- resolve_data_dir -----------------------------------------------------------------------------

def test_resolve_data_dir_verifies_each_file_and_warns_about_unverified_ones(tmp_path, spec, caplog):
    paths = _write_published(tmp_path, ROLES[:2])
    contents = _contents()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(contents["test_images"])  # decompressed copy
    other = _contents(seed=1)["test_labels"] + b"\x00"  # another file under the right name
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(_gz(other))
    calls = []

    def recording_map(fn, roles):
        calls.append(list(roles))
        return [fn(role) for role in roles]

    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        out = resolve_data_dir(str(tmp_path), spec, recording_map)
    assert calls == [list(ROLES)]  # every check goes through the caller's map
    assert list(out) == list(ROLES)
    assert {role: f.verification.status for role, f in out.items()} == {
        "train_images": "md5", "train_labels": "md5", "test_images": "content-sha256", "test_labels": "unverified"}
    for role, f in out.items():
        assert f.spec is spec.files[role]
        assert f.origin == f"data_dir {tmp_path}"
    assert out["train_labels"].path == paths["train_labels"]
    assert out["test_images"].path == str(tmp_path / "t10k-images-idx3-ubyte")
    bad = out["test_labels"]
    assert bad.path == str(tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert bad.verification.detail.startswith(f"md5 {hashlib.md5(_gz(other)).hexdigest()} / ")
    warnings = [r.getMessage() for r in caplog.records if r.name == "mnist_hf.fetch"]
    assert warnings == [f"{bad.path} is not the published fashion_mnist file ({bad.verification.detail}); using it as given"]


def test_resolve_data_dir_uses_the_builtin_map_by_default(tmp_path, spec, caplog):
    _write_published(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        out = resolve_data_dir(str(tmp_path), spec)
    assert [f.verification.status for f in out.values()] == ["md5"] * 4
    assert not [r for r in caplog.records if r.name == "mnist_hf.fetch"]


def test_resolve_data_dir_reports_missing_files(tmp_path, spec):
    _write_published(tmp_path, ROLES[1:])
    with pytest.raises(MissingFilesError, match="lacks 1 file"):
        resolve_data_dir(str(tmp_path), spec)


# --- resolve_system_dirs --------------------------------------------------------------------------

def test_system_copy_is_the_first_complete_verified_folder(tmp_path, spec, caplog):
    missing = tmp_path / "absent"
    incomplete = tmp_path / "incomplete"
    _write_published(incomplete, ROLES[:3])
    wrong = tmp_path / "wrong"
    _write_published(wrong)
    bad_file = wrong / "train-labels-idx1-ubyte.gz"
    bad_file.write_bytes(_gz(_contents(seed=1)["train_labels"] + b"\x01"))
    good = tmp_path / "good"
    paths = _write_published(good)
    later = tmp_path / "later"
    _write_published(later)
    dirs = [str(d) for d in (missing, incomplete, wrong, good, later)]
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        out = resolve_system_dirs(dirs, spec)
    assert out is not None and list(out) == list(ROLES)
    assert {role: f.path for role, f in out.items()} == paths
    assert {f.origin for f in out.values()} == {f"system copy {good}"}
    assert all(f.spec is spec.files[role] and f.verification.status == "md5" for role, f in out.items())
    warnings = [r.getMessage() for r in caplog.records if r.name == "mnist_hf.fetch"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"ignoring system copy {bad_file}: md5 ")
    assert "match neither the published md5" in warnings[0]


def test_no_system_copy_gives_none(tmp_path, spec, caplog):
    _write_published(tmp_path / "incomplete", ROLES[1:])
    _write_published(tmp_path / "wrong", seed=1)
    with caplog.at_level(logging.WARNING, logger="mnist_hf.fetch"):
        assert resolve_system_dirs([str(tmp_path / "absent"), str(tmp_path / "incomplete"), str(tmp_path / "wrong")],
                                   spec) is None
        assert resolve_system_dirs([], spec) is None
    # The wrong folder: its first file is rejected, so the rest are not even checked.
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.name == "mnist_hf.fetch"] == [
        f"ignoring system copy {tmp_path / 'wrong' / 'train-images-idx3-ubyte.gz'}"]


def test_system_copy_in_a_single_folder(tmp_path, spec):
    paths = _write_published(tmp_path)
    out = resolve_system_dirs([str(tmp_path)], spec)
    assert {role: f.path for role, f in out.items()} == paths


# --- resolve_files: the order of the sources -----------------------------------------------------

class _NoDownloads:
    """A download manager that fails the test if anything is downloaded."""

    def __getattr__(self, name):
        raise AssertionError(f"the download manager was used ({name})")


def test_data_dir_comes_before_system_copies(tmp_path, spec):
    _write_published(tmp_path / "mine")
    _write_published(tmp_path / "system")
    seen = []

    def recording_map(fn, roles):
        seen.extend(roles)
        return map(fn, roles)

    out = resolve_files(spec, data_dir=str(tmp_path / "mine"), system_dirs=[str(tmp_path / "system")], mirrors=(),
                        dl_manager=_NoDownloads(), timeout=1.0, map_fn=recording_map)
    assert {f.origin for f in out.values()} == {f"data_dir {tmp_path / 'mine'}"}
    assert [f.spec for f in out.values()] == [spec.files[r] for r in ROLES]
    assert seen == list(ROLES)


def test_data_dir_errors_are_not_hidden_by_a_system_copy(tmp_path, spec):
    _write_published(tmp_path / "system")
    with pytest.raises(MissingFilesError, match="is not a directory"):
        resolve_files(spec, data_dir=str(tmp_path / "absent"), system_dirs=[str(tmp_path / "system")], mirrors=(),
                      dl_manager=_NoDownloads(), timeout=1.0)


def test_system_copy_comes_before_the_mirrors(tmp_path, spec):
    paths = _write_published(tmp_path / "system")
    out = resolve_files(spec, data_dir=None, system_dirs=[str(tmp_path / "system")], mirrors=("http://unused/",),
                        dl_manager=_NoDownloads(), timeout=1.0)
    assert {role: f.path for role, f in out.items()} == paths
    assert {f.origin for f in out.values()} == {f"system copy {tmp_path / 'system'}"}


def test_without_local_files_the_mirrors_are_used(tmp_path, spec):
    """No data_dir and no system copy: the download path is taken (here: no mirrors, so it says so)."""

    class Config:
        storage_options: dict = {}

    class Manager:
        download_config = Config()

    with pytest.raises(fetch.MirrorError, match=r"could not get train-images-idx3-ubyte\.gz: no mirrors to try"):
        resolve_files(spec, data_dir="", system_dirs=[str(tmp_path / "absent")], mirrors=(), dl_manager=Manager(),
                      timeout=2.5)
    assert set(Manager.download_config.storage_options) == {"http", "https"}
    timeout = Manager.download_config.storage_options["https"]["client_kwargs"]["timeout"]
    assert (timeout.connect, timeout.sock_read, timeout.total) == (2.5, 2.5, None)
    assert os.listdir(tmp_path) == []
