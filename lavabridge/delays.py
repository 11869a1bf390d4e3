"""Delayed synaptic accumulation and its exactness bounds: the one implementation of the rule.

A synapse with weights ``W`` (n_out, n_in) and integer delays ``D >= 0`` delivers a spike that
source ``j`` sends at step ``t`` to neuron ``i`` at step ``t + 1 + D[i, j]`` (one step of hop
latency, as Lava's Dense, plus the delay)::

    I[t] = sum_j W[i, j] s_j[t - 1 - D[i, j]]          (spikes before step 0 count as 0)

Split by distinct delay, ``W_d = W * (D == d)``, it reads ``I[t] = sum_d (W_d s)[t - 1 - d]``.
Every engine evaluates it through this module, in one of two orders:

* **layer-major** (all T steps of a batch at once): ``G_d = S @ W_d.T`` over ``[T*B, n_in]``, then
  :func:`delay_sum` gives ``H[t] = sum_d G_d[t - d]`` and ``I[t] = H[t - 1]``;
* **step-major**: a :class:`DelayRing` of ``1 + max_delay`` slots; at step ``t`` the slot
  :meth:`~DelayRing.arriving` holds ``I[t]``, :meth:`~DelayRing.advance` frees it, and
  :meth:`~DelayRing.receive` adds this step's contribution of delay ``d`` to step ``t + 1 + d``.

Exactness: with binary spikes and integer weights every partial sum is an integer bounded by the
row bound ``max_i sum_j |W[i, j]|`` (:func:`row_bound`). float32 holds every integer below 2^24
exactly and float64 every integer below 2^53, so a float GEMM is exact in any summation order while
the bound stays below that (:func:`exact_float_dtype`); a power-of-two scale of the weights only
moves the exponent.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

F32_EXACT = 1 << 24  # every integer of magnitude below 2^24 is exact in float32
F64_EXACT = 1 << 53  # ... below 2^53 in float64

Split = list[tuple[int, np.ndarray]]


def split_by_delay(weight: np.ndarray, delay: npt.NDArray[np.int64] | None) -> Split:
    """``[(d, W_d)]`` for every distinct delay ``d`` (``[(0, W)]`` without delays)."""
    if delay is None or weight.size == 0:
        return [(0, weight)]
    zero = np.zeros((), weight.dtype)
    return [(int(d), np.where(delay == d, weight, zero)) for d in np.unique(delay)]


def row_bound(weight: np.ndarray) -> int:
    """``max_i sum_j |W[i, j]|`` of an integer matrix: the bound on any ``|W s|`` of binary s."""
    return int(np.abs(weight).sum(axis=1).max()) if weight.size else 0


def exact_float_dtype(bound: int) -> type | None:
    """float32 when ``bound < 2^24``, float64 when ``< 2^53``, else ``None`` (use int64)."""
    if bound < F32_EXACT:
        return np.float32
    if bound < F64_EXACT:
        return np.float64
    return None


def delay_sum(parts: Iterable[tuple[int, np.ndarray]]) -> np.ndarray:
    """``H[t] = sum_d G_d[t - d]`` over the leading (time) axis of each ``G_d``.

    The first part with ``d = 0`` is used in place (no copy). So a synapse's input at step ``t``
    is ``H[t - 1]`` when ``G_d`` holds the contributions of the spikes sent at each step.
    """
    h: np.ndarray | None = None
    for d, g in parts:
        if d == 0 and h is None:
            h = g
            continue
        if h is None:
            h = np.zeros_like(g)
        steps = g.shape[0]
        if d < steps:
            h[d:] += g[: steps - d]
    if h is None:
        raise ValueError("delay_sum needs at least one part")
    return h


class DelayRing:
    """The step-major form: what each coming step receives, ``1 + max_delay`` slots.

    At every step: read :meth:`arriving` (this step's input), call :meth:`advance`, then
    :meth:`receive` this step's contributions (delay ``d`` arrives ``1 + d`` steps later). This is
    the order Lava's Dense processes keep their ``a_buff`` in.
    """

    def __init__(self, max_delay: int, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.buf = np.zeros((max_delay + 1, *shape), dtype=dtype)
        self.head = 0  # the slot that arrives at the current step

    def arriving(self) -> np.ndarray:
        """This step's input (a view of the slot; read it before :meth:`advance`)."""
        return self.buf[self.head]

    def advance(self) -> None:
        """Free this step's slot and move to the next step."""
        self.buf[self.head] = 0
        self.head = (self.head + 1) % self.buf.shape[0]

    def send(self) -> np.ndarray:
        """:meth:`arriving` (copied) and :meth:`advance` in one call."""
        out = self.buf[self.head].copy()
        self.advance()
        return out

    def receive(self, delay: int, contribution: np.ndarray) -> None:
        """Add ``contribution`` (sent at the step just advanced from) to step ``+ 1 + delay``."""
        self.buf[(self.head + delay) % self.buf.shape[0]] += contribution
