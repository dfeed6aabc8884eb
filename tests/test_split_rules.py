"""One rule per strategy: the builder's validation split and the splitter's are the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedShuffleSplit

import mnist_hf
import splitters
from mnist_hf.idx import write_idx
from splitters.rules import head_rows, random_rows, tail_rows, validation_rows

NO_SYSTEM = {"system_dirs": ()}


def _idx_dir(directory, n_train, seed):
    """Synthetic files whose pixel 0 is the row number (to identify rows) and whose classes are
    imbalanced (so stratifying is not the same as not stratifying)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = np.arange(n_train)
    images = np.zeros((n_train, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = rows % 256, rows // 256
    labels = rng.choice(10, size=n_train, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum()).astype(np.uint8)
    labels[:20] = np.arange(20) % 10  # every class has at least two rows
    write_idx(directory / "train-images-idx3-ubyte.gz", images)
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels)
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images[:10])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels[:10])
    return labels


def _rows(split) -> np.ndarray:
    x, _ = mnist_hf.to_numpy(split, normalize=False)
    return x[:, 0, 0].astype(np.int64) + 256 * x[:, 0, 1].astype(np.int64)


CASES = [(s, None) for s in ("tail", "head")] + [(s, seed) for s in ("random", "stratified") for seed in (0, 1, 42)]


@pytest.mark.parametrize("n_train", [120, 301])
@pytest.mark.parametrize("size", [13, 60])
@pytest.mark.parametrize(("strategy", "seed"), CASES)
def test_builder_and_splitter_pick_the_same_rows(tmp_path, n_train, size, strategy, seed):
    labels = _idx_dir(tmp_path / "idx", n_train, seed or 0)
    stratify = strategy == "stratified"
    rule = "random" if stratify else strategy
    options = {"validation_strategy": rule, "stratify": stratify}
    if seed is not None:
        options["validation_seed"] = seed
    ds = mnist_hf.load("mnist", data_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"), image_format="array",
                       validation_size=size, **options, **NO_SYSTEM)
    splitter = {"tail": splitters.TailSplit(val_size=size), "head": splitters.HeadSplit(val_size=size),
                "random": splitters.RandomSplit(val_size=size, stratify=stratify, random_state=seed)}[rule]
    train, val = next(splitter.split(np.zeros((n_train, 1)), labels))
    np.testing.assert_array_equal(_rows(ds["validation"]), val)
    np.testing.assert_array_equal(_rows(ds["train"]), train)


# --- the rules themselves, against independent derivations --------------------------------------

@pytest.mark.parametrize("n", [2, 7, 100])
def test_positional_rules(n):
    for k in range(1, n):
        assert tail_rows(n, k).tolist() == list(range(n - k, n))
        assert head_rows(n, k).tolist() == list(range(k))


@pytest.mark.parametrize("seed", [0, 3, 99])
def test_random_rule_is_the_documented_permutation(seed):
    expected = np.sort(np.random.RandomState(seed).permutation(50)[:12])
    np.testing.assert_array_equal(random_rows(50, 12, seed), expected)


@pytest.mark.parametrize("seed", [0, 3, 99])
def test_stratified_rule_is_stratified_shuffle_split(seed):
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    expected = next(StratifiedShuffleSplit(n_splits=1, test_size=25, random_state=seed).split(np.zeros((100, 1)), y))[1]
    got = random_rows(100, 25, seed, labels=y)
    np.testing.assert_array_equal(got, np.sort(expected))
    assert np.bincount(y[got]).tolist() == [2, 5, 8, 10] or np.abs(np.bincount(y[got]) - [2.5, 5, 7.5, 10]).max() <= 1


def test_repeats_draw_anew_from_one_generator():
    s = splitters.RandomSplit(val_size=10, n_splits=3, random_state=0)
    vals = [v for _, v in s.split(np.zeros((40, 1)))]
    rng = np.random.RandomState(0)
    for v in vals:
        np.testing.assert_array_equal(v, random_rows(40, 10, rng))
    assert not np.array_equal(vals[0], vals[1])


def test_bad_rule_input():
    with pytest.raises(ValueError, match="unknown strategy"):
        validation_rows("middle", 10, 2)
    with pytest.raises(ValueError, match="between 1 and 9"):
        validation_rows("tail", 10, 10)
    with pytest.raises(ValueError, match="needs 'random'"):
        validation_rows("head", 10, 2, labels=np.zeros(10))
