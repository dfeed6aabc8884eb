"""Export to Parquet + dataset card, load back, and push through a faked Hub API."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest

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
    mnist_bytes = {p: p.read_bytes() for p in (out / "mnist").iterdir()}
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path, image_format="array"))
    export("kmnist", out, **_synthetic_opts(synthetic_dir, tmp_path))  # re-export replaces, keeps mnist
    assert {p: p.read_bytes() for p in (out / "mnist").iterdir()} == mnist_bytes

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
    assert declared == set(out.glob("*/*.parquet"))
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


# --- push, intercepted at the huggingface_hub API boundary -------------------------------------

TOKEN = "hf_SECRETtoken1234567890"


class FakeHub:
    """Stands in for ``huggingface_hub.HfApi``; the 'remote' is a folder."""

    remote: Path
    fail: dict = {}
    calls: list = []
    existing: set = set()

    def __init__(self, token=None, **kw):
        assert token == TOKEN
        self.token = token

    @classmethod
    def reset(cls, remote: Path):
        cls.remote, cls.fail, cls.calls, cls.existing = remote, {}, [], set()

    def _maybe_fail(self, name):
        FakeHub.calls.append(name)
        if name in FakeHub.fail:
            raise FakeHub.fail[name]

    def whoami(self):
        self._maybe_fail("whoami")
        return {"name": "me", "orgs": [{"name": "my-lab"}]}

    def repo_exists(self, repo_id, repo_type=None):
        self._maybe_fail("repo_exists")
        return repo_id in FakeHub.existing

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False):
        self._maybe_fail("create_repo")
        FakeHub.existing.add(repo_id)

    def hf_hub_download(self, repo_id, filename, repo_type=None):
        path = FakeHub.remote / filename
        if not path.exists():
            raise FileNotFoundError(filename)
        return str(path)

    def upload_folder(self, folder_path, repo_id, repo_type=None, commit_message=None):
        self._maybe_fail("upload_folder")
        FakeHub.calls.append(("commit", commit_message))
        shutil.copytree(folder_path, FakeHub.remote, dirs_exist_ok=True)

    def delete_repo(self, repo_id, repo_type=None):
        FakeHub.calls.append("delete_repo")
        FakeHub.existing.discard(repo_id)


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    import huggingface_hub

    FakeHub.reset(tmp_path / "remote")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return FakeHub


def _push_args(synthetic_dir, tmp_path, *extra):
    data_dir, _ = synthetic_dir
    return ["push", "mnist", "my-lab/mnist-family", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
            *extra]


def test_push_uploads_exactly_the_export_in_one_commit(fake_hub, synthetic_dir, tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert main(_push_args(synthetic_dir, tmp_path, "--validation-size", "20")) == 0
    out = capsys.readouterr()
    assert next(c for c in fake_hub.calls if isinstance(c, tuple))[0] == "commit"
    assert sum(isinstance(c, tuple) for c in fake_hub.calls) == 1
    local = tmp_path / "local"
    data_dir, _ = synthetic_dir
    export("mnist", local, data_dir=str(data_dir), cache_dir=str(tmp_path / "c"), validation_size=20)
    sent = sorted(p.relative_to(fake_hub.remote) for p in fake_hub.remote.rglob("*") if p.is_file())
    assert sent == sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    for rel in sent:
        if rel.suffix == ".parquet":
            assert (fake_hub.remote / rel).read_bytes() == (local / rel).read_bytes()
    back = datasets.load_dataset(str(fake_hub.remote), "mnist", cache_dir=str(tmp_path / "lb"))
    assert {k: v.num_rows for k, v in back.items()} == {"train": 280, "validation": 20, "test": 60}
    assert TOKEN not in out.out + out.err + caplog.text
    # a second config merges with the card already on the Hub
    assert main(["push", "kmnist", "my-lab/mnist-family", "--data-dir", str(data_dir), "--cache-dir",
                 str(tmp_path / "c"), "--token", TOKEN]) == 0
    from huggingface_hub import DatasetCard

    names = {c["config_name"] for c in DatasetCard.load(fake_hub.remote / "README.md").data.to_dict()["configs"]}
    assert names == {"mnist", "kmnist"}


def test_dry_run_writes_and_lists_without_calling_the_hub(fake_hub, synthetic_dir, tmp_path, capsys):
    dry = tmp_path / "dry"
    assert main(_push_args(synthetic_dir, tmp_path, "--dry-run", str(dry))) == 0
    out = capsys.readouterr().out
    assert "nothing uploaded" in out and "mnist/train-00000-of-00001.parquet" in out and "README.md" in out
    assert (dry / "mnist" / "test-00000-of-00001.parquet").exists()
    assert fake_hub.calls == []


def _http_error(status):
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    return HfHubHTTPError(f"{status} Client Error for url {request.url}",
                          response=httpx2.Response(status, request=request))


@pytest.mark.parametrize("setup, code, fragment", [
    ({}, 3, "no token"),
    ({"whoami": "401"}, 3, "rejected the token"),
    ({"upload_folder": "403"}, 4, "no write access to my-lab/mnist-family"),
    ({"upload_folder": "network"}, 5, "could not reach the Hugging Face Hub"),
    ({"create_repo": "500"}, 6, "HTTP 500"),
])
def test_push_errors_are_plain_and_never_show_the_token(fake_hub, synthetic_dir, tmp_path, capsys, caplog, setup,
                                                        code, fragment):
    caplog.set_level(logging.DEBUG)
    for name, kind in setup.items():
        fake_hub.fail[name] = (ConnectionError(f"Connection refused (token {TOKEN})") if kind == "network"
                               else _http_error(int(kind)))
    args = _push_args(synthetic_dir, tmp_path) + ([] if not setup else ["--token", TOKEN])
    assert main(args) == code
    out = capsys.readouterr()
    assert fragment in out.err
    assert "Traceback" not in out.err
    assert TOKEN not in out.out + out.err + caplog.text
    if "upload_folder" in setup:  # the repository this push created is removed again
        assert "delete_repo" in fake_hub.calls and not fake_hub.existing
        assert not fake_hub.remote.exists()


def test_push_to_someone_elses_namespace(fake_hub, synthetic_dir, tmp_path, capsys):
    data_dir, _ = synthetic_dir
    code = main(["push", "mnist", "somebody-else/mnist", "--data-dir", str(data_dir), "--token", TOKEN])
    assert code == 4
    err = capsys.readouterr().err
    assert "belongs to 'somebody-else'" in err and TOKEN not in err
    assert "upload_folder" not in fake_hub.calls and "create_repo" not in fake_hub.calls
