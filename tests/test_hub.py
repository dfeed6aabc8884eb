"""Export to Parquet + dataset card, load back, and push through a faked Hub API."""

from __future__ import annotations

import fnmatch
import inspect
import logging
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import create_autospec

import datasets
import numpy as np
import pytest
from huggingface_hub import DatasetCard, HfApi

import mnist_hf
from mnist_hf.__main__ import main
from mnist_hf.hub import export


def _pixels_and_labels(ds):
    return mnist_hf.to_numpy(ds, normalize=False)


def _assert_same_rows(a, b):
    xa, ya = _pixels_and_labels(a)
    xb, yb = _pixels_and_labels(b)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(xa, xb)


def _round_trip_real(shared_data, tmp_path, image_format):
    opts = {"data_dir": str(shared_data / "fashion-mnist"), "cache_dir": str(tmp_path / "cache"), "system_dirs": (),
            "validation_size": 5000, "validation_strategy": "random", "stratify": True, "image_format": image_format}
    out = tmp_path / "out"
    export("fashion_mnist", out, **opts)
    built = mnist_hf.load("fashion_mnist", **opts)
    back = datasets.load_dataset(str(out), "fashion_mnist", cache_dir=str(tmp_path / "lb"))
    assert set(back) == set(built) == {"train", "validation", "test"}
    for split in built:
        assert back[split].features == built[split].features
        assert back[split].num_rows == built[split].num_rows
        _assert_same_rows(back[split], built[split])
    streamed = datasets.load_dataset(str(out), "fashion_mnist", streaming=True)
    first = list(streamed["test"].take(50))
    x, y = _pixels_and_labels(built["test"].select(range(50)))
    np.testing.assert_array_equal([r["label"] for r in first], y)
    np.testing.assert_array_equal(np.stack([np.asarray(r["image"], dtype=np.uint8) for r in first]), x)


@pytest.mark.real_data
@pytest.mark.parametrize("image_format", ["png", "array"])
def test_round_trip_real_fashion_mnist(shared_data, tmp_path, image_format):
    _round_trip_real(shared_data, tmp_path, image_format)


@pytest.mark.loading_script  # runs in the datasets 3.6 environment too
@pytest.mark.real_data
def test_round_trip_real_fashion_mnist_on_this_datasets(shared_data, tmp_path):
    _round_trip_real(shared_data, tmp_path, "png")


def _synthetic_opts(synthetic_dir, tmp_path, **kw):
    data_dir, _ = synthetic_dir
    return {"data_dir": str(data_dir), "cache_dir": str(tmp_path / "cache"), "system_dirs": (), **kw}


def test_configs_accumulate_and_card_names_everything(synthetic_dir, tmp_path):
    from huggingface_hub import DatasetCard

    out = tmp_path / "out"
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=30))
    mnist_bytes = {p: p.read_bytes() for p in (out / "mnist").rglob("*") if p.is_file()}
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path, image_format="array"))
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path))  # re-export replaces, keeps mnist
    assert {p: p.read_bytes() for p in (out / "mnist").rglob("*") if p.is_file()} == mnist_bytes
    assert len(list((out / "kmnist").iterdir())) == 1  # the replaced version is gone

    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert {c["config_name"] for c in meta["configs"]} == {"mnist", "kmnist"}
    assert meta["task_categories"] == ["image-classification"]
    assert sorted(meta["license"]) == ["cc-by-sa-3.0", "cc-by-sa-4.0"]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in infos["mnist"]["splits"]} == {"train": 270, "validation": 30, "test": 60}
    assert {s["name"] for s in infos["kmnist"]["splits"]} == {"train", "test"}
    # every declared data_files pattern matches files, and every parquet file is declared
    declared = set()
    for c in meta["configs"]:
        for df in c["data_files"]:
            matched = set(out.glob(df["path"]))
            assert matched, df
            declared |= matched
    assert declared == set(out.rglob("*.parquet"))
    assert card.text.count("<!-- config: kmnist -->") == 1 and "<!-- config: mnist -->" in card.text
    assert "do **not** match the published checksums" in card.text  # synthetic files, said plainly
    assert "the first" not in card.text and "the last 30 rows" in card.text
    ds = datasets.load_dataset(str(out), "kmnist", cache_dir=str(tmp_path / "lb"))
    built = mnist_hf.load("kmnist", **_synthetic_opts(synthetic_dir, tmp_path))
    _assert_same_rows(ds["test"], built["test"])


def test_export_failure_leaves_previous_export_intact(synthetic_dir, tmp_path):
    out = tmp_path / "out"
    export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    data_dir, _ = synthetic_dir
    (data_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(mnist_hf.IDXFormatError):
        export("mnist", out, **_synthetic_opts(synthetic_dir, tmp_path, validation_size=10))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


# --- push, against a fake Hub held to HfApi's real signatures ----------------------------------

TOKEN = "hf_SECRETtoken1234567890"
REPO = "my-lab/mnist-family"


def _http_error(status, message=None, cls=None):
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    return (cls or HfHubHTTPError)(message or f"{status} Client Error for url {request.url}",
                                   response=httpx2.Response(status, request=request))


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=lambda: {".gitattributes": b"*.parquet filter=lfs\n"})


def _matches(path: str, pattern: str) -> bool:
    # data_files globs: `*` stays within one folder, as on the Hub
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


class FakeHub:
    """The Hub as seen through ``HfApi``: ``api`` is ``create_autospec(HfApi, instance=True)``, so a
    call with a wrong argument fails as it would on the real class; the remote is one file tree per
    (repo_type, repo_id), and a commit's card is parsed and checked as the Hub does."""

    METHODS = ("whoami", "repo_exists", "create_repo", "list_repo_files", "hf_hub_download", "create_commit",
               "delete_repo")

    def __init__(self, downloads: Path, user: str = "me", orgs: tuple[str, ...] = ("my-lab",)):
        self.downloads, self.user, self.orgs = downloads, user, orgs
        self.repos: dict[tuple[str, str], Repo] = {}
        self.fail: dict[str, BaseException] = {}
        self.calls: list[str] = []
        self.commits: list[str] = []
        self.tokens: list = []
        self.api = create_autospec(HfApi, instance=True)
        for name in self.METHODS:
            getattr(self.api, name).side_effect = self._answer(name)
        self.cls = create_autospec(HfApi)
        self.cls.side_effect = self._construct

    def _construct(self, *args, **kwargs):
        self.tokens.append(inspect.signature(HfApi).bind(*args, **kwargs).arguments.get("token"))
        return self.api

    def _answer(self, name):
        signature = inspect.signature(getattr(HfApi, name))

        def answer(*args, **kwargs):
            self.calls.append(name)
            if name in self.fail:
                raise self.fail[name]
            bound = signature.bind(None, *args, **kwargs)
            bound.apply_defaults()
            return getattr(self, "_" + name)(**{k: v for k, v in bound.arguments.items() if k != "self"})

        return answer

    def repo(self, repo_id, repo_type="dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def _get(self, repo_id, repo_type):
        key = (repo_type or "model", repo_id)  # HfApi's default repo_type is a model
        if key not in self.repos:
            raise _http_error(404, f"404 Repository Not Found for {key}")
        return self.repos[key]

    def _whoami(self, **kw):
        return {"name": self.user, "orgs": [{"name": o} for o in self.orgs]}

    def _repo_exists(self, repo_id, repo_type, **kw):
        return (repo_type or "model", repo_id) in self.repos

    def _create_repo(self, repo_id, repo_type, private, exist_ok, **kw):
        key = (repo_type or "model", repo_id)
        if key in self.repos and not exist_ok:
            raise _http_error(409, "409 Conflict: You already created this repo")
        self.repos.setdefault(key, Repo(private=bool(private)))

    def _list_repo_files(self, repo_id, repo_type, **kw):
        return sorted(self._get(repo_id, repo_type).files)

    def _hf_hub_download(self, repo_id, filename, repo_type, **kw):
        from huggingface_hub.errors import RemoteEntryNotFoundError

        files = self._get(repo_id, repo_type).files
        if filename not in files:
            raise _http_error(404, f"404 Entry Not Found: {filename}", RemoteEntryNotFoundError)
        path = self.downloads / f"{len(self.calls)}-{Path(filename).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[filename])
        return str(path)

    def _create_commit(self, repo_id, operations, commit_message, repo_type, **kw):
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        repo = self._get(repo_id, repo_type)
        files = dict(repo.files)
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                if op.path_in_repo not in files:
                    raise _http_error(404, f"404 cannot delete {op.path_in_repo}: not in the repository")
                del files[op.path_in_repo]
            else:
                assert isinstance(op, CommitOperationAdd)
                source = op.path_or_fileobj
                files[op.path_in_repo] = source if isinstance(source, bytes) else Path(source).read_bytes()
        if "README.md" in files:  # the Hub rejects a commit whose card metadata is invalid
            meta = DatasetCard(files["README.md"].decode()).data.to_dict()
            for config in meta.get("configs", []):
                for df in config["data_files"]:
                    if not any(_matches(f, df["path"]) for f in files):
                        raise _http_error(400, f"400 Bad Request: data_files {df['path']} match nothing")
        repo.files = files
        self.commits.append(commit_message)

    def _delete_repo(self, repo_id, repo_type, missing_ok, **kw):
        self._get(repo_id, repo_type)
        del self.repos[(repo_type or "model", repo_id)]

    def materialize(self, folder: Path, repo_id=REPO) -> Path:
        for rel, data in self.repo(repo_id).files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        return folder


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    import huggingface_hub

    hub = FakeHub(tmp_path / "downloads")
    monkeypatch.setattr(huggingface_hub, "HfApi", hub.cls)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return hub


def _push_args(synthetic_dir, tmp_path, *extra, config="mnist"):
    data_dir, _ = synthetic_dir
    return ["push", config, REPO, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            "--system-dir", str(tmp_path / "none"), *extra]


def _export_locally(synthetic_dir, tmp_path, folder, config="mnist", **kw):
    data_dir, _ = synthetic_dir
    return export(config, tmp_path / folder, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"),
                  system_dirs=(str(tmp_path / "none"),), **kw)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != mnist_hf.hub.LOCK}


@pytest.mark.parametrize("private", [True, False])
def test_push_uploads_exactly_the_export_in_one_commit(fake_hub, synthetic_dir, tmp_path, capsys, caplog, monkeypatch,
                                                       private):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert main(_push_args(synthetic_dir, tmp_path, "--validation-size", "20", *(["--private"] if private else []))) == 0
    out = capsys.readouterr()
    assert fake_hub.tokens == [TOKEN]
    assert list(fake_hub.repos) == [("dataset", REPO)]  # a dataset repository, nothing else
    assert fake_hub.repo(REPO).private is private
    assert len(fake_hub.commits) == 1
    local = _tree(_export_locally(synthetic_dir, tmp_path, "local", validation_size=20).out_dir)
    remote = fake_hub.repo(REPO).files
    assert set(remote) == set(local) | {".gitattributes"}
    assert all(remote[rel] == data for rel, data in local.items() if rel.endswith(".parquet"))
    back = datasets.load_dataset(str(fake_hub.materialize(tmp_path / "remote")), "mnist", cache_dir=str(tmp_path / "lb"))
    assert {k: v.num_rows for k, v in back.items()} == {"train": 280, "validation": 20, "test": 60}
    assert TOKEN not in out.out + out.err + caplog.text
    # a second configuration merges with the card already on the Hub; the first one's files stay
    before = {k: v for k, v in remote.items() if k.startswith("mnist/")}
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, config="kmnist")) == 0
    remote = fake_hub.repo(REPO).files
    assert {k: v for k, v in remote.items() if k.startswith("mnist/")} == before
    meta = DatasetCard(remote["README.md"].decode()).data.to_dict()
    assert {c["config_name"] for c in meta["configs"]} == {"mnist", "kmnist"}
    assert fake_hub.repo(REPO).private is private  # an existing repository keeps its visibility


def test_repush_leaves_exactly_the_new_files_of_that_config(fake_hub, synthetic_dir, tmp_path):
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, "--validation-size", "20")) == 0
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN, config="kmnist")) == 0
    kmnist = {k: v for k, v in fake_hub.repo(REPO).files.items() if k.startswith("kmnist/")}
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 0  # no validation split now
    remote = fake_hub.repo(REPO).files
    new = _tree(_export_locally(synthetic_dir, tmp_path, "local").out_dir)
    assert sorted(k for k in remote if k.startswith("mnist/")) == sorted(k for k in new if k.startswith("mnist/"))
    assert not any("validation" in k for k in remote if k.startswith("mnist/"))
    assert {k: v for k, v in remote.items() if k.startswith("kmnist/")} == kmnist
    assert ".gitattributes" in remote
    assert len(fake_hub.commits) == 3  # one per push, deletions included
    back = datasets.load_dataset(str(fake_hub.materialize(tmp_path / "remote")), "mnist", cache_dir=str(tmp_path / "lb"))
    assert {k: v.num_rows for k, v in back.items()} == {"train": 300, "test": 60}


def test_dry_run_writes_and_lists_without_calling_the_hub(fake_hub, synthetic_dir, tmp_path, capsys):
    dry = tmp_path / "dry"
    assert main(_push_args(synthetic_dir, tmp_path, "--dry-run", str(dry))) == 0
    out = capsys.readouterr().out
    assert "nothing uploaded" in out and "train-00000-of-00001.parquet" in out and "README.md" in out
    assert list(dry.glob("mnist/*/test-00000-of-00001.parquet"))
    assert fake_hub.calls == [] and fake_hub.tokens == []


@pytest.mark.parametrize("setup, code, fragment", [
    ({}, 3, "no token"),
    ({"whoami": "401"}, 3, "rejected the token"),
    ({"create_commit": "403"}, 4, "no write access to my-lab/mnist-family"),
    ({"create_commit": "network"}, 5, "could not reach the Hugging Face Hub"),
    ({"create_repo": "500"}, 6, "HTTP 500: 500 Server Error (request by Bearer ***)"),
    ({"create_commit": "other"}, 6, "push failed: RuntimeError: upload refused for Bearer ***"),
])
def test_push_errors_are_plain_and_never_show_the_token(fake_hub, synthetic_dir, tmp_path, capsys, caplog, setup,
                                                        code, fragment):
    caplog.set_level(logging.DEBUG)
    for name, kind in setup.items():
        fake_hub.fail[name] = {
            "network": ConnectionError(f"Connection refused (token {TOKEN})"),
            "other": RuntimeError(f"upload refused for Bearer {TOKEN}"),
            "500": _http_error(500, f"500 Server Error (request by Bearer {TOKEN})"),
        }.get(kind) or _http_error(int(kind))
    args = _push_args(synthetic_dir, tmp_path) + ([] if not setup else ["--token", TOKEN])
    assert main(args) == code
    out = capsys.readouterr()
    assert fragment in out.err
    assert "Traceback" not in out.err
    assert TOKEN not in out.out + out.err + caplog.text
    if code in (5, 6):  # the error text, token and all, went through the scrubber into the log
        assert "push to my-lab/mnist-family failed" in caplog.text and "***" in caplog.text
    if "create_commit" in setup:  # the repository this push created is removed again
        assert "delete_repo" in fake_hub.calls and not fake_hub.repos


def test_push_to_someone_elses_namespace(fake_hub, synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    code = main(["push", "mnist", "somebody-else/mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                 "--token", TOKEN])
    assert code == 4
    err = capsys.readouterr().err
    assert "belongs to 'somebody-else'" in err and TOKEN not in err
    assert "create_repo" not in fake_hub.calls and "create_commit" not in fake_hub.calls


@pytest.mark.parametrize("damage, fragment", [("missing", "t10k-labels-idx1-ubyte"), ("truncated", "truncated")])
def test_push_with_bad_local_data_is_bad_input_before_any_hub_call(fake_hub, synthetic_dir, tmp_path, capsys, damage,
                                                                   fragment):
    data_dir, _ = synthetic_dir
    labels = data_dir / "t10k-labels-idx1-ubyte.gz"
    if damage == "missing":
        labels.unlink()
    else:
        labels.write_bytes(labels.read_bytes()[:-8])
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Hub" not in err and "Traceback" not in err
    assert fake_hub.calls == [] and not fake_hub.repos


def test_push_with_a_broken_card_on_the_hub_changes_nothing(fake_hub, synthetic_dir, tmp_path, capsys):
    fake_hub.repos[("dataset", REPO)] = Repo(private=False)
    fake_hub.repo(REPO).files["README.md"] = b"---\npretty_name: 'unbalanced\n---\n# a card\n"
    before = dict(fake_hub.repo(REPO).files)
    assert main(_push_args(synthetic_dir, tmp_path, "--token", TOKEN)) == 2
    err = capsys.readouterr().err
    assert "README.md" in err and "does not parse" in err and "Traceback" not in err
    assert fake_hub.repo(REPO).files == before and not fake_hub.commits


class SilentServer:
    """A real TCP socket that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                self.connections.append(self.sock.accept()[0])
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.connections:
            c.close()


def test_push_to_a_hub_that_never_answers_times_out(synthetic_dir, tmp_path):
    server = SilentServer()
    url = server.url
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
        env.update(HF_ENDPOINT=url, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"))
        # bounded here too, so the test fails instead of hanging if the timeout is not applied
        proc = subprocess.run([sys.executable, "-m", "mnist_hf", *_push_args(synthetic_dir, tmp_path),
                               "--hub-timeout", "1"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert proc.returncode == 5, proc.stderr
    assert f"({url}) did not answer within 1 s" in proc.stderr
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout
    assert server.connections  # it did reach the socket
