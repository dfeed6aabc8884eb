"""One-call loading on datasets 4/5, and array helpers."""

from __future__ import annotations

from typing import Any

from .arrays import to_numpy as to_numpy  # public as mnist_hf.to_numpy; the fast read path lives in arrays
from .mnist_hf import MnistFamily


def builder(name: str, **options: Any) -> MnistFamily:
    """A configured :class:`MnistFamily` builder (not yet prepared).

    Parameters
    ----------
    name : str
        any name in ``mnist_hf.SPECS`` (``"mnist"``, ``"fashion_mnist"``, ``"qmnist"``,
        ``"emnist_letters"``, ...).
    **options
        ``data_dir``, ``cache_dir`` and any :class:`~mnist_hf.MnistConfig` option
        (:func:`mnist_hf.options` lists them with their defaults); options not given keep
        MnistConfig's defaults.

    Returns
    -------
    MnistFamily
        The builder; ``builder.config`` holds the validated options.

    Raises
    ------
    ValueError
        An unknown dataset or option, or an option with a bad value.

    Examples
    --------
    >>> import tempfile
    >>> builder("mnist", cache_dir=tempfile.mkdtemp(), validation_size=10).config.validation_strategy
    'tail'
    """
    return MnistFamily(config_name=name, **options)


def load(name: str, *, download_mode: str | None = None, **options: Any):
    """Prepare (once) and return a dataset as a ``DatasetDict``.

    Parameters
    ----------
    name : str
        any name in ``mnist_hf.SPECS`` (``"mnist"``, ``"fashion_mnist"``, ``"qmnist"``,
        ``"emnist_letters"``, ...).
    download_mode : str, optional
        ``datasets``' download mode, e.g. ``"force_redownload"``.
    **options
        As for :func:`builder`.

    Returns
    -------
    datasets.DatasetDict
        ``train``, ``test`` and, with ``validation_size``, ``validation``.

    Examples
    --------
    >>> ds = load("fashion_mnist", validation_size=5000)  # doctest: +SKIP
    >>> {k: v.num_rows for k, v in ds.items()}            # doctest: +SKIP
    {'train': 55000, 'validation': 5000, 'test': 10000}
    """
    b = builder(name, **options)
    b.download_and_prepare(download_mode=download_mode)
    return b.as_dataset()
