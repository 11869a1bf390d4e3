"""Offline datasets: digits split, idx parsing (plain and gzip), clear errors when data is missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lavabridge.data import DatasetNotFoundError, load_dataset, load_digits, load_idx, load_mnist


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def test_digits_split_is_stratified_and_scaled() -> None:
    ds = load_digits()
    assert ds.x_train.shape[1] == 64 and len(ds.y_test) >= 350
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0
    assert set(np.unique(ds.y_test)) == set(range(10))
    assert len(ds.y_train) + len(ds.y_test) == 1797


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_round_trip(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 4, 3))
    labels = rng.integers(0, 10, 7)
    _write_idx(tmp_path / "train-images-idx3-ubyte", imgs, gz)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, gz)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:3], gz)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:3], gz)
    ds = load_idx(tmp_path)
    assert ds.image_shape == (4, 3)
    np.testing.assert_allclose(ds.x_train * 255, imgs.reshape(7, -1), atol=1e-4)
    assert ds.y_test.tolist() == labels[:3].tolist()
    assert load_mnist(tmp_path).x_test.shape == (3, 12)


def test_missing_and_corrupt_data_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte"):
        load_idx(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"garbage!")
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"garbage!")
    with pytest.raises(DatasetNotFoundError, match="magic"):
        load_idx(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="unknown dataset"):
        load_dataset("cifar")
