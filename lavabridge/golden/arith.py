"""Integer arithmetic of Lava's ``fixed_pt`` Dense and LIF models, vectorised over a batch.

Every function here reproduces one rule of ``lava/proc/lif/models.py::AbstractPyLifModelFixed`` or
``lava/proc/dense/models.py::PyDenseModelBitAcc`` (lava-nc 0.10.0), including the int32
arithmetic the Lava model uses (sums wrap modulo 2^32 where Lava's int32 arrays would).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.quant.qgraph import QCubaLIF, QDense
from lavabridge.quant.target import LOIHI2, LoihiTarget

I64 = npt.NDArray[np.int64]

_F32_EXACT = 1 << 24  # every integer of magnitude <= 2^24 is exact in float32
_F64_EXACT = 1 << 53


def wrap_int32(x: I64) -> I64:
    """Two's-complement wrap to int32, as numpy's int32 arithmetic in Lava's models does."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def trunc_shift(x: I64, shift: int) -> I64:
    """``sign(x) * (|x| >> shift)``: division by ``2^shift`` rounded toward zero."""
    return (x + ((x >> 63) & ((1 << shift) - 1))) >> shift


def floor_shift(x: I64, exp: int) -> I64:
    """``x << exp`` for ``exp > 0``, else ``x >> -exp`` (floor), as Lava's Dense applies weight_exp."""
    return x << exp if exp > 0 else x >> -exp


@dataclass(frozen=True)
class DenseOp:
    """A Dense connection prepared for fast exact batched accumulation.

    The summed input ``W_eff @ s`` of binary spikes is bounded by ``sum_i |W_eff[o, i]|``; when
    that bound stays below 2^24 (2^53) a float32 (float64) GEMM is exact and BLAS does the work,
    otherwise the int64 path is used.

    Attributes
    ----------
    buckets : tuple of (delay, weight matrix transposed (n_in, n_out))
        One entry per distinct delay (a single ``(0, W.T)`` without delays).
    weight_exp : int
    max_delay : int
    """

    buckets: tuple[tuple[int, np.ndarray], ...]
    weight_exp: int
    max_delay: int
    n_out: int

    @classmethod
    def build(
        cls, dense: QDense, target: LoihiTarget = LOIHI2, *, exact_int: bool = False
    ) -> DenseOp:
        """Prepare ``dense``; ``exact_int=True`` forces the int64 reference path."""
        w_eff = dense.effective_weights(target)
        bound = int(np.abs(w_eff).sum(axis=1).max()) if w_eff.size else 0
        if exact_int or bound >= _F64_EXACT:
            dtype: type = np.int64
        elif bound < _F32_EXACT:
            dtype = np.float32
        else:
            dtype = np.float64
        delays = dense.delays if dense.delays is not None else np.zeros_like(w_eff)
        buckets: list[tuple[int, np.ndarray]] = []
        for d in np.unique(delays) if w_eff.size else [0]:
            w_d = np.where(delays == d, w_eff, 0)
            buckets.append((int(d), np.ascontiguousarray(w_d.T, dtype=dtype)))
        return cls(tuple(buckets), dense.weight_exp, dense.max_delay, dense.shape[0])

    def accumulate(self, s: npt.NDArray[np.generic]) -> list[tuple[int, I64]]:
        """Per delay ``d``: ``floor_shift(W_d @ s, weight_exp)`` for binary spikes ``s`` (B, n_in)."""
        out = []
        for d, wt in self.buckets:
            acc = s.astype(wt.dtype, copy=False) @ wt
            out.append((d, floor_shift(acc.astype(np.int64), self.weight_exp)))
        return out


class DenseState:
    """The ``a_buff`` of a Dense / DelayDense for a batch: what is sent at each coming step."""

    def __init__(self, op: DenseOp, batch: int) -> None:
        self.op = op
        self.buf = np.zeros((op.max_delay + 1, batch, op.n_out), dtype=np.int64)
        self.head = 0  # ring index of the slot sent at the next step

    def send(self) -> I64:
        """The value sent this step (accumulated ``1 + delay`` steps ago); frees its slot."""
        out = self.buf[self.head].copy()
        self.buf[self.head] = 0
        self.head = (self.head + 1) % self.buf.shape[0]
        return out

    def receive(self, s: npt.NDArray[np.generic]) -> None:
        """Accumulate this step's input spikes; delay ``d`` is sent ``1 + d`` steps later."""
        n = self.buf.shape[0]
        for d, contribution in self.op.accumulate(s):
            self.buf[(self.head + d) % n] += contribution


@dataclass(frozen=True)
class LifParams:
    """The per-step constants of one LIF population."""

    keep_u: int  # 4096 - (du + ds_offset)
    keep_v: int  # 4096 - (dv + dm_offset)
    vth_scaled: int  # vth << vth_shift
    bias: I64  # bias_mant << bias_exp, shape (n,)
    max_uv: int
    v_sat: int
    act_shift: int
    decay_shift: int

    @classmethod
    def build(cls, neuron: QCubaLIF, target: LoihiTarget = LOIHI2) -> LifParams:
        return cls(
            keep_u=target.decay_unity - (neuron.du + target.ds_offset),
            keep_v=target.decay_unity - (neuron.dv + target.dm_offset),
            vth_scaled=neuron.vth << target.vth_shift,
            bias=neuron.effective_bias(),
            max_uv=target.max_uv,
            v_sat=target.v_sat,
            act_shift=target.act_shift,
            decay_shift=target.decay_shift,
        )


def bias_from_mantissa(bias_mant: I64, bias_exp: I64) -> I64:
    """``bias_mant << bias_exp`` (``>>`` with floor for negative exponents), as ``scale_bias``."""
    return np.where(
        bias_exp >= 0, bias_mant << np.maximum(bias_exp, 0), bias_mant >> np.maximum(-bias_exp, 0)
    )


def lif_step(
    u: I64, v: I64, a_in: I64, p: LifParams, bias: I64 | None = None
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """One ``run_spk`` of Lava's ``PyLifModelBitAcc``.

    ::

        u <- wrap24(int32(trunc0(u * keep_u / 4096)) + int32(a_in << 6))
        v <- clip(int32(trunc0(v * keep_v / 4096)) + u + bias, -(2^23 - 1), 2^23 - 1)
        s <- v > vth << 6;  v[s] <- 0

    Parameters
    ----------
    u, v : int64 arrays (B, n)
        State before the step.
    a_in : int64 array (B, n)
        The summed input received this step.
    p : LifParams
    bias : int64 array, optional
        Overrides ``p.bias`` (broadcastable to (B, n)); used for bias-driven input layers.

    Returns
    -------
    u, v : the new state; s : the spikes (bool).
    """
    b = p.bias if bias is None else bias
    cur = wrap_int32(
        trunc_shift(u * p.keep_u, p.decay_shift) + wrap_int32(wrap_int32(a_in) << p.act_shift)
    )
    cur = np.where(cur > p.max_uv, cur - 2 * p.max_uv, cur)
    cur = np.where(cur <= -p.max_uv, cur + 2 * p.max_uv, cur)
    vol = wrap_int32(wrap_int32(trunc_shift(v * p.keep_v, p.decay_shift) + cur) + b)
    vol = np.clip(vol, -p.v_sat, p.v_sat)
    s = vol > p.vth_scaled
    vol = np.where(s, 0, vol)
    return cur, vol, s
