"""Torch tensors for training loops, read from a split's Arrow buffers in one go.

``dataset.with_format("torch")`` works, but formats every batch afresh (and decodes PNGs)
each epoch. Here the split is read once with :func:`mnist_hf.to_numpy` (uint8, about 47 MB
for 60,000 images); a shuffled batch is one numpy gather, handed to torch without a copy.
Batches are gathered with numpy rather than torch on purpose: torch runs such small ops on
its OpenMP pool, whose threads spin and stall (seconds per epoch) on a busy machine. torch is
an optional dependency (``pip install 'mnist-hf[torch]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .arrays import to_numpy


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("this helper needs PyTorch: pip install 'mnist-hf[torch]' (or torch itself)") from None
    return torch


def torch_dataset(dataset, *, normalize: bool = False):
    """A split as a ``torch.utils.data.TensorDataset`` of ``(image, label)`` pairs.

    Parameters
    ----------
    dataset : datasets.Dataset
        A split with ``image`` and ``label`` columns (see :func:`mnist_hf.to_numpy`).
    normalize : bool
        Images as float32 ``x / 255 - 0.5`` (the textbook chapter's normalisation); otherwise uint8.

    Returns
    -------
    torch.utils.data.TensorDataset
        Images ``(N, 1, H, W)`` (channel first, as torchvision gives them) and int64 labels ``(N,)``.

    Raises
    ------
    ImportError
        torch is not installed.
    ValueError
        As :func:`mnist_hf.to_numpy`.

    Examples
    --------
    >>> import datasets, numpy as np
    >>> ds = datasets.Dataset.from_dict({"image": [np.zeros((2, 2), np.uint8)] * 3, "label": [0, 1, 2]},
    ...     features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8"), "label": datasets.Value("int64")}))
    >>> image, label = torch_dataset(ds, normalize=True)[1]
    >>> tuple(image.shape), float(image.max()), int(label)
    ((1, 2, 2), -0.5, 1)
    """
    torch = _torch()
    images, labels = to_numpy(dataset, normalize=normalize)
    return torch.utils.data.TensorDataset(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels))


def _normalized(images: np.ndarray) -> np.ndarray:
    # The same float32 operations as to_numpy(normalize=True), so the values are identical.
    out = images.astype(np.float32)
    out /= np.float32(255)
    out -= np.float32(0.5)
    return out


class TorchBatches:
    """Shuffled ``(images, labels)`` batches of a split as torch tensors, epoch after epoch.

    A drop-in for ``DataLoader(dataset, batch_size, shuffle=True)`` over the whole split: the
    split is read once (uint8), each batch is gathered with one numpy take and, if asked,
    normalised. Each pass over the object is a new epoch with a new order, reproducible from
    ``seed``.

    Parameters
    ----------
    dataset : datasets.Dataset
        A split with ``image`` and ``label`` columns (see :func:`mnist_hf.to_numpy`).
    batch_size : int
        Images per batch (the last one may be smaller unless ``drop_last``).
    shuffle : bool
        Draw a new random order each epoch; otherwise the split's order.
    seed : int, optional
        Seed of the shuffling (a ``numpy.random.Generator``); None: fresh entropy.
    normalize : bool
        Images as float32 ``x / 255 - 0.5``; otherwise uint8.
    drop_last : bool
        Leave out the last, smaller batch.

    Attributes
    ----------
    images : torch.Tensor
        ``(N, 1, H, W)`` uint8, the whole split.
    labels : torch.Tensor
        ``(N,)`` int64.

    Raises
    ------
    ImportError
        torch is not installed.
    ValueError
        A batch size below 1; otherwise as :func:`mnist_hf.to_numpy`.

    Examples
    --------
    >>> import datasets, numpy as np
    >>> ds = datasets.Dataset.from_dict({"image": [np.full((2, 2), i, np.uint8) for i in range(5)], "label": [0, 1, 2, 3, 4]},
    ...     features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8"), "label": datasets.Value("int64")}))
    >>> batches = TorchBatches(ds, batch_size=2, seed=0)
    >>> len(batches), [tuple(x.shape) for x, _ in batches]
    (3, [(2, 1, 2, 2), (2, 1, 2, 2), (1, 1, 2, 2)])
    >>> all(bool((x[:, 0, 0, 0] == y).all()) for x, y in batches)
    True
    """

    def __init__(self, dataset, batch_size: int = 256, *, shuffle: bool = True, seed: int | None = None,
                 normalize: bool = False, drop_last: bool = False):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        torch = _torch()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.normalize = normalize
        self.drop_last = drop_last
        images, labels = to_numpy(dataset, normalize=False)
        self._images, self._labels = images[:, None], labels
        self.images, self.labels = torch.from_numpy(self._images), torch.from_numpy(labels)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self._labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        torch = _torch()
        order = self._rng.permutation(len(self._labels)) if self.shuffle else None
        for a in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:
                # Copies, so that changing a batch in place cannot change the stored split.
                x, y = self._images[a:a + self.batch_size].copy(), self._labels[a:a + self.batch_size].copy()
            else:
                pick = order[a:a + self.batch_size]
                x, y = self._images[pick], self._labels[pick]
            yield torch.from_numpy(_normalized(x) if self.normalize else x), torch.from_numpy(y)
