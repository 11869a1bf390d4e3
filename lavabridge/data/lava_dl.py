"""What lava-dl's wheel ships: trained netx networks, and digits shaped like their input.

lava-dl 0.6.0 installs its test networks and ground truths under ``site-packages/tests/lava/lib/
dl/netx`` (``mnist.net``: a 784-neuron bias-driven input layer, two 512-neuron CUBA layers and a
10-neuron non-spiking output layer; ``pilotnet_lif``, ``ntidigits``, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, ModelFileError

IMAGE_SIDE = 28
DIGIT_BOX = 20


def lava_dl_netx_dir() -> Path:
    """The folder of lava-dl's shipped netx networks (the one holding ``mnist.net``).

    Raises
    ------
    ModelFileError
        When the installed lava-dl does not ship it.
    """
    import lava

    for root in lava.__path__:  # a namespace package: no __file__
        path = Path(root).parent / "tests" / "lava" / "lib" / "dl" / "netx"
        if (path / "mnist.net").is_file():
            return path
    raise ModelFileError(
        "mnist.net: not found under site-packages/tests/lava/lib/dl/netx (lava-dl 0.6.0's wheel "
        "ships it there)"
    )


def mnist_net_path() -> Path:
    """Path of the trained ``mnist.net`` shipped in lava-dl's wheel."""
    return lava_dl_netx_dir() / "mnist.net"


def digit_images(
    n: int, side: int = IMAGE_SIDE, box: int = DIGIT_BOX
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The first ``n`` scikit-learn digits as MNIST-like ``[n, side*side]`` images in ``[0, 1]``.

    Each 8x8 digit (values 0..16) is zoomed bilinearly to ``box x box``, divided by 16, clipped to
    ``[0, 1]`` and centred in a ``side x side`` frame (MNIST puts its digits in a 20x20 box inside
    28x28); pixels are flattened row by row. Returns the images and the labels.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 1 <= n <= len(digits.images):
        raise InputError(f"--samples: {n} is outside [1, {len(digits.images)}]")
    small = digits.images[:n].astype(np.float64)
    big = np.clip(zoom(small, (1, box / small.shape[1], box / small.shape[2]), order=1) / 16, 0, 1)
    lo = (side - box) // 2
    images = np.zeros((n, side, side))
    images[:, lo : lo + box, lo : lo + box] = big
    return images.reshape(n, side * side), digits.target[:n].astype(np.int64)
