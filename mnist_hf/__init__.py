"""MNIST-family IDX datasets as Hugging Face ``datasets``.

>>> import mnist_hf                                                  # doctest: +SKIP
>>> ds = mnist_hf.load("fashion_mnist", data_dir="data/fashion")     # doctest: +SKIP
>>> ds["train"].num_rows                                             # doctest: +SKIP
60000
"""

from .api import builder, load, to_numpy
from .arrays import label_array
from .fetch import ChecksumError, MirrorError, MissingFilesError
from .idx import IDXFormatError, read_idx, write_idx
from .mnist_hf import DataValidationError, MnistConfig, MnistFamily, options, read_provenance, split_indices
from .sources import SPECS
from .torch_data import TorchBatches, torch_dataset

__all__ = [
    "SPECS",
    "ChecksumError",
    "DataValidationError",
    "IDXFormatError",
    "MirrorError",
    "MissingFilesError",
    "MnistConfig",
    "MnistFamily",
    "TorchBatches",
    "builder",
    "label_array",
    "load",
    "options",
    "read_idx",
    "read_provenance",
    "split_indices",
    "to_numpy",
    "torch_dataset",
    "write_idx",
]
