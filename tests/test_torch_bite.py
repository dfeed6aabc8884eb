"""TorchBatches as a training loop sees it: the seed decides the order, and nothing the loop does
to a batch it was handed reaches later epochs."""

import datasets
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is an optional extra (installed in .venv by `make test`)")

from mnist_hf.torch_data import TorchBatches  # noqa: E402 (needs torch, skipped above without it)

N = 50


@pytest.fixture(scope="module")
def numbered():
    """Image i is filled with i and labelled i, so a batch shows which rows it holds."""
    images = np.arange(N, dtype=np.uint8)[:, None, None] * np.ones((1, 3, 4), np.uint8)
    return datasets.Dataset.from_dict(
        {"image": list(images), "label": list(range(N))},
        features=datasets.Features({"image": datasets.Array2D((3, 4), "uint8"), "label": datasets.Value("int64")}))


def _order(batches) -> list[int]:
    """One epoch's row order, after checking that each image came with its own label."""
    rows = []
    for x, y in batches:
        assert (x[:, 0, 0, 0].to(torch.int64) == y).all()
        rows += y.tolist()
    return rows


def test_the_same_seed_gives_the_same_orders_epoch_after_epoch(numbered):
    a, b = TorchBatches(numbered, 8, seed=123), TorchBatches(numbered, 8, seed=123)
    first = [_order(a) for _ in range(3)]
    assert first == [_order(b) for _ in range(3)]
    assert all(sorted(order) == list(range(N)) for order in first)
    assert first[0] != first[1] != first[2]  # a new order each epoch


def test_different_seeds_give_different_orders(numbered):
    orders = [tuple(_order(TorchBatches(numbered, 8, seed=seed))) for seed in range(6)]
    assert len(set(orders)) == len(orders)
    assert all(order != tuple(range(N)) for order in orders)  # shuffled, not the stored order
    # Fresh entropy without a seed: two loaders almost surely (1 in 50!) disagree.
    assert _order(TorchBatches(numbered, 8)) != _order(TorchBatches(numbered, 8))


@pytest.mark.parametrize("normalize", [False, True], ids=["uint8", "normalized"])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in-order"])
def test_in_place_edits_of_a_batch_never_reach_the_next_epoch(numbered, shuffle, normalize):
    batches = TorchBatches(numbered, 8, shuffle=shuffle, seed=0, normalize=normalize)
    for x, y in batches:  # what careless training loops do: augment or relabel in place
        x.mul_(0).add_(7)
        y.fill_(-1)
    second = list(batches)
    for x, y in second:
        expected = y.to(torch.float32) / 255 - 0.5 if normalize else y.to(torch.uint8)
        assert (y >= 0).all()
        assert (x == expected[:, None, None, None]).all()
    assert sorted(torch.cat([y for _, y in second]).tolist()) == list(range(N))
    # The stored split, which the loader exposes, is untouched too.
    assert batches.labels.tolist() == list(range(N))
    assert (batches.images[:, 0, 0, 0].to(torch.int64) == batches.labels).all()
