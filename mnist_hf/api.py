"""One-call loading on datasets 4/5, and array helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .mnist_hf import MnistFamily


def builder(
    name: str,
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    validation_size: int = 0,
    validation_strategy: str = "tail",
    validation_seed: int = 0,
    stratify: bool = False,
    image_format: str = "png",
    mirrors: Sequence[str] | None = None,
    system_dirs: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> MnistFamily:
    """A configured :class:`MnistFamily` builder (not yet prepared)."""
    kwargs: dict[str, Any] = dict(
        validation_size=validation_size,
        validation_strategy=validation_strategy,
        validation_seed=validation_seed,
        stratify=stratify,
        image_format=image_format,
        timeout=timeout,
    )
    # Only pass overrides, so the default configs keep their cache ids.
    if mirrors is not None:
        kwargs["mirrors"] = tuple(mirrors)
    if system_dirs is not None:
        kwargs["system_dirs"] = tuple(system_dirs)
    return MnistFamily(config_name=name, data_dir=data_dir, cache_dir=cache_dir, **kwargs)


def load(
    name: str,
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    validation_size: int = 0,
    validation_strategy: str = "tail",
    image_format: str = "png",
    download_mode: str | None = None,
    **options: Any,
):
    """Prepare (once) and return a dataset as a ``DatasetDict``.

    ``options`` go to :class:`~mnist_hf.MnistConfig`: ``validation_seed``, ``stratify``,
    ``mirrors``, ``system_dirs``, ``timeout``.

    >>> ds = load("fashion_mnist", validation_size=5000)  # doctest: +SKIP
    >>> {k: v.num_rows for k, v in ds.items()}            # doctest: +SKIP
    {'train': 55000, 'validation': 5000, 'test': 10000}
    """
    b = builder(
        name, data_dir=data_dir, cache_dir=cache_dir, validation_size=validation_size,
        validation_strategy=validation_strategy, image_format=image_format, **options,
    )
    b.download_and_prepare(download_mode=download_mode)
    return b.as_dataset()


def to_numpy(dataset, *, normalize: bool = True, batch_size: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a split as numpy arrays.

    With ``normalize`` the pixels are float32 scaled to [-0.5, 0.5] (``x / 255 - 0.5``, the
    textbook chapter's normalisation); otherwise uint8 as stored.

    >>> import datasets, numpy as np
    >>> ds = datasets.Dataset.from_dict(
    ...     {"image": [np.full((2, 2), 255, np.uint8)], "label": [1]},
    ...     features=datasets.Features({"image": datasets.Array2D((2, 2), "uint8"), "label": datasets.Value("int64")}))
    >>> x, y = to_numpy(ds)
    >>> x.dtype, float(x.max()), y.tolist()
    (dtype('float32'), 0.5, [1])
    """
    import datasets

    images = np.empty((dataset.num_rows,) + _image_shape(dataset), dtype=np.uint8)
    is_png = isinstance(dataset.features["image"], datasets.Image)
    numpy_view = dataset.with_format("numpy")
    for start in range(0, dataset.num_rows, batch_size):
        stop = min(start + batch_size, dataset.num_rows)
        batch = numpy_view[start:stop]["image"]
        if is_png and (not isinstance(batch, np.ndarray) or batch.dtype == object):
            batch = np.stack([np.asarray(im) for im in batch])
        images[start:stop] = batch
    labels = np.asarray(dataset.with_format("numpy")["label"], dtype=np.int64)
    if not normalize:
        return images, labels
    out = images.astype(np.float32)
    out /= 255.0
    out -= 0.5
    return out, labels


def _image_shape(dataset) -> tuple[int, ...]:
    import datasets

    feature = dataset.features["image"]
    if isinstance(feature, datasets.Array2D):
        return tuple(feature.shape)
    if dataset.num_rows == 0:
        return (0, 0)
    return np.asarray(dataset.with_format("numpy")[0]["image"]).shape
