"""Checking and normalising the input every backend takes.

``InputKind.SPIKES``: binary spikes ``[B, T, n_in]`` (or ``[T, n_in]`` for one sample).
``InputKind.BIAS``: integer bias mantissas ``[B, n_in]`` (or ``[n_in]``) held for ``num_steps`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError
from lavabridge.quant.qgraph import QGraph
from lavabridge.semantics import InputKind


@dataclass(frozen=True)
class BatchInput:
    """A validated batch: ``data`` is int64 ``[B, T, n_in]`` spikes or ``[B, n_in]`` bias mantissas."""

    kind: InputKind
    data: npt.NDArray[np.int64]
    num_steps: int

    @property
    def batch(self) -> int:
        return int(self.data.shape[0])


def _as_int(x: npt.ArrayLike, what: str) -> npt.NDArray[np.int64]:
    arr = np.asarray(x)
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.trunc(arr)):
            raise InputError(f"{what}: must hold integers, got non-integral floats")
    elif arr.dtype.kind not in "iu":
        raise InputError(f"{what}: must be a numeric array, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _spikes(arr: npt.NDArray[np.int64], n_in: int, name: str, shape: tuple[int, ...],
            num_steps: int | None) -> BatchInput:  # fmt: skip
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[2] != n_in:
        raise InputError(
            f"input: spikes must be [B, T, {n_in}] or [T, {n_in}] for graph '{name}', "
            f"got shape {shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"input: empty batch or zero time steps (shape {arr.shape})")
    if num_steps is not None and num_steps != arr.shape[1]:
        raise InputError(f"input: num_steps={num_steps} but the spikes have T={arr.shape[1]}")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise InputError(
            "input: spikes must be binary (0/1) for a binary Dense input; "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return BatchInput(InputKind.SPIKES, np.ascontiguousarray(arr), int(arr.shape[1]))


def _bias(arr: npt.NDArray[np.int64], n_in: int, name: str, shape: tuple[int, ...],
          num_steps: int | None, bias_range: tuple[int, int]) -> BatchInput:  # fmt: skip
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != n_in:
        raise InputError(
            f"input: graph '{name}' takes bias input [B, {n_in}] (or [{n_in}]), got shape {shape}"
        )
    if num_steps is None or num_steps < 1:
        raise InputError("input: a bias-driven input layer needs num_steps >= 1 (e.g. --steps 16)")
    lo, hi = bias_range
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise InputError(
            f"input: bias mantissas must lie in [{lo}, {hi}] (13-bit); "
            f"got [{arr.min()}, {arr.max()}]"
        )
    return BatchInput(InputKind.BIAS, np.ascontiguousarray(arr), int(num_steps))


def check_input(
    kind: InputKind,
    n_in: int,
    x: npt.ArrayLike,
    num_steps: int | None,
    bias_range: tuple[int, int],
    name: str,
) -> BatchInput:
    """Validate ``x`` for a network of input ``kind`` and width ``n_in`` (see :func:`prepare_input`)."""
    arr = _as_int(x, "input")
    shape = tuple(np.shape(x))
    if kind == InputKind.SPIKES:
        return _spikes(arr, n_in, name, shape, num_steps)
    return _bias(arr, n_in, name, shape, num_steps, bias_range)


def prepare_input(graph: QGraph, x: npt.ArrayLike, num_steps: int | None = None) -> BatchInput:
    """Validate ``x`` against ``graph`` and return it as a :class:`BatchInput`.

    An image input (``graph.input_shape`` is ``(C, H, W)``) may also be given unflattened:
    spikes ``[B, T, C, H, W]`` / bias values ``[B, C, H, W]`` or ``[C, H, W]`` (C-major).

    Raises
    ------
    InputError
        Wrong rank or width, non-binary spikes, bias values beyond the LIF's ``bias_mant`` range,
        or a missing/contradicting ``num_steps``, or, for more than one sample, one that is not a
        multiple of a layer's ``reset_interval`` (every sample must see the same reset phase).
    """
    bias_range = graph.target.bias_mant_range
    shape = graph.input_shape
    arr = np.asarray(x)
    image_ndim = (3, 4) if graph.input_kind == InputKind.BIAS else (4, 5)  # flat: <= 2 / <= 3
    if len(shape) == 3 and arr.ndim in image_ndim and arr.shape[-3:] == shape:  # (..., C, H, W)
        x = arr.reshape(*arr.shape[:-3], -1)
    batch = check_input(graph.input_kind, graph.n_in, x, num_steps, bias_range, graph.name)
    for layer in graph.layers:
        interval = int(getattr(layer.neuron, "reset_interval", 0))
        if interval > 0 and batch.num_steps % interval and batch.batch > 1:
            raise InputError(
                f"graph '{graph.name}' layer '{layer.name}': T={batch.num_steps} steps per sample "
                f"is not a multiple of its reset_interval {interval} (samples follow each other "
                "on one Lava clock, so only one sample, or T = k * reset_interval, keeps every "
                "sample's reset phase)"
            )
    return batch
