"""Encoders (data -> spikes) and decoders (spikes/membrane -> predictions).

Encoders are numpy functions with an explicit seed, so the float model, the golden emulator and
Lava all see the *same* spikes. Output layout ``[B, T, N]`` (uint8), the layout of every backend;
torch layers take ``[T, B, N]`` (use :func:`lavabridge.nn.to_time_major`). Nothing here imports
torch: the verification suite decodes with the same functions the training loop uses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError

U8 = npt.NDArray[np.uint8]


def _unit_interval(x: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1 or np.isnan(arr).any()):
        raise InputError(
            f"{what}: values must lie in [0, 1], got [{np.nanmin(arr)}, {np.nanmax(arr)}]"
        )
    return arr


def rate_encode(x: npt.ArrayLike, num_steps: int, seed: int) -> U8:
    """Bernoulli ("Poisson") rate coding: ``P(spike at t) = x`` independently per step.

    Parameters
    ----------
    x : array [B, N] in [0, 1]
    num_steps : int
    seed : int
        Seed of the numpy generator; the same seed gives the same spikes everywhere.
    """
    arr = _unit_interval(x, "rate_encode")
    rng = np.random.default_rng(seed)
    draws = rng.random((arr.shape[0], num_steps, arr.shape[1]))
    return (draws < arr[:, None, :]).astype(np.uint8)


def latency_encode(x: npt.ArrayLike, num_steps: int, *, threshold: float = 0.0) -> U8:
    """Time-to-first-spike coding: one spike at ``t = round((1 - x) * (T - 1))``, none if ``x <= threshold``."""
    arr = _unit_interval(x, "latency_encode")
    t = np.rint((1.0 - arr) * (num_steps - 1)).astype(np.int64)
    out = np.zeros((arr.shape[0], num_steps, arr.shape[1]), np.uint8)
    b, n = np.nonzero(arr > threshold)
    out[b, t[b, n], n] = 1
    return out


def spike_count(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Spikes per neuron over time: ``[B, T, N] -> [B, N]``."""
    return np.asarray(spikes).sum(axis=1).astype(np.int64)


def first_spike_time(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Index of each neuron's first spike (``T`` when it never fires): ``[B, T, N] -> [B, N]``."""
    s = np.asarray(spikes) > 0
    T = s.shape[1]
    return np.where(s.any(axis=1), s.argmax(axis=1), T).astype(np.int64)


def predict_by_count(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Class = most spikes; ties broken by the earliest first spike, then by the lowest index."""
    counts = spike_count(spikes)
    first = first_spike_time(spikes)
    T = np.asarray(spikes).shape[1]
    score = counts * (T + 1) + (T - first)  # count dominates; earlier first spike wins a tie
    return np.argmax(score, axis=1).astype(np.int64)


def predict_by_first_spike(spikes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Class = the neuron that fires first (ties: most spikes, then lowest index)."""
    counts = spike_count(spikes)
    first = first_spike_time(spikes)
    T = np.asarray(spikes).shape[1]
    return np.argmax((T - first) * (T + 1) + counts, axis=1).astype(np.int64)


def predict_by_membrane(v: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Class = highest membrane potential at the last step of a non-spiking readout ``[B, T, N]``."""
    return np.argmax(np.asarray(v)[:, -1], axis=1).astype(np.int64)
