"""Integer arithmetic of Lava's ``fixed_pt`` Dense and LIF models, vectorised over any shape.

Every function here reproduces one rule of ``lava/proc/lif/models.py::AbstractPyLifModelFixed`` or
``lava/proc/dense/models.py::PyDenseModelBitAcc`` (lava-nc 0.10.0), including the int32
arithmetic the Lava model uses (sums wrap modulo 2^32 where Lava's int32 arrays would).
:func:`lif_trace` is the one LIF step: the int64 oracle steps with it, and the fixed-point health
check runs it over all recorded steps at once to count what happened inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from lavabridge.quant.qnodes import QCubaLIF, periodic_resets
from lavabridge.semantics import Compare, Reset, apply_reset, reset_bias
from lavabridge.target import LOIHI2, LoihiTarget

I64 = npt.NDArray[np.int64]


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
class LifParams:
    """The per-step constants of one LIF population."""

    keep_u: int  # 4096 - (du + ds_offset)
    keep_v: int  # 4096 - (dv + dm_offset)
    vth_scaled: int  # vth << vth_shift
    bias: I64  # bias_mant << bias_exp, shape (n,)
    bias_exp: I64  # shape (n,): also the exponent of a bias input's per-sample mantissas
    max_uv: int
    v_sat: int
    act_shift: int
    decay_shift: int
    reset_interval: int = 0  # > 0: u and v zeroed periodically (Lava's LIFReset)
    reset_offset: int = 0
    reset: Reset = Reset.ZERO  # the table of lavabridge.semantics.Reset, threshold vth_scaled
    compare: Compare = Compare.GT
    bias_start: int = 0  # the bias is 0 before this step of a sample

    def bias_on(self, num_steps: int) -> npt.NDArray[np.bool_]:
        """``(num_steps,)``: the steps at which the bias is added (``t >= bias_start``)."""
        return np.arange(num_steps) >= self.bias_start

    def reset_steps(self, num_steps: int) -> npt.NDArray[np.bool_]:
        """``(num_steps,)``: the steps at which u and v are zeroed before the update."""
        return periodic_resets(self.reset_interval, self.reset_offset, num_steps)

    @classmethod
    def build(cls, neuron: QCubaLIF, target: LoihiTarget = LOIHI2) -> LifParams:
        return cls(
            keep_u=target.decay_unity - (neuron.du + target.ds_offset),
            keep_v=target.decay_unity - (neuron.dv + target.dm_offset),
            vth_scaled=neuron.vth << target.vth_shift,
            bias=neuron.effective_bias(),
            bias_exp=neuron.bias_exp,
            max_uv=target.max_uv,
            v_sat=target.v_sat,
            act_shift=target.act_shift,
            decay_shift=target.decay_shift,
            reset_interval=int(getattr(neuron, "reset_interval", 0)),
            reset_offset=int(getattr(neuron, "reset_offset", 0)),
            reset=neuron.reset,
            compare=neuron.compare,
            bias_start=neuron.bias_start,
        )


def bias_from_mantissa(bias_mant: I64, bias_exp: I64) -> I64:
    """``bias_mant << bias_exp`` (``>>`` with floor for negative exponents), as ``scale_bias``."""
    return np.where(
        bias_exp >= 0, bias_mant << np.maximum(bias_exp, 0), bias_mant >> np.maximum(-bias_exp, 0)
    )


class LifTrace(NamedTuple):
    """One LIF step with what happened inside it (all arrays of the inputs' shape).

    ``u``, ``v``, ``s``: the new state and the spikes. ``u_star``: u after the int32 arithmetic,
    before the 24-bit wrap (wrapped where ``u_star > 2^23`` or ``<= -2^23``). ``v_star``: v before
    saturation (saturated where it differs from the clipped v). ``int32``: an int32 wrap changed
    a value (the shifted input, u or v). ``v_pre``: v after saturation, before the reset (``w``
    of :class:`~lavabridge.semantics.Reset`; a tie where it equals ``vth << 6``).
    """

    u: I64
    v: I64
    s: npt.NDArray[np.bool_]
    u_star: I64
    v_star: I64
    v_pre: I64
    int32: npt.NDArray[np.bool_]


def lif_trace(u: I64, v: I64, a_in: I64, p: LifParams, bias: I64 | None = None) -> LifTrace:
    """One ``run_spk`` of Lava's ``PyLifModelBitAcc`` (or of lavabridge's ``FlexLIF`` for the
    other resets and ``>=``), with its intermediate values.

    ::

        u <- wrap24(int32(trunc0(u * keep_u / 4096)) + int32(a_in << 6))
        w <- clip(int32(trunc0(v * keep_v / 4096)) + u + bias + r, -(2^23 - 1), 2^23 - 1)
        s <- w > vth << 6;  v <- w, v[s] <- 0                     (reset 'zero', compare '>')

    where ``r = -(vth << 6) R`` for ``subtract-next`` (0 otherwise) and the other resets and
    ``>=`` follow the table of :class:`~lavabridge.semantics.Reset` on ``w`` and the previous v.

    Parameters
    ----------
    u, v : int64 arrays
        State before the step (any shape, e.g. (B, n), or (B, T, n) for many steps at once).
    a_in : int64 array
        The summed input received this step.
    p : LifParams
    bias : int64 array, optional
        Overrides ``p.bias`` (broadcastable); used for bias-driven input layers.
    """
    b = p.bias if bias is None else bias
    pre = reset_bias(p.reset, p.compare, v, p.vth_scaled)
    if pre is not None:
        b = b + pre
    shifted = wrap_int32(wrap_int32(a_in) << p.act_shift)
    u_raw = trunc_shift(u * p.keep_u, p.decay_shift) + shifted
    u_star = wrap_int32(u_raw)
    cur = np.where(u_star > p.max_uv, u_star - 2 * p.max_uv, u_star)
    cur = np.where(cur <= -p.max_uv, cur + 2 * p.max_uv, cur)
    v_inner = trunc_shift(v * p.keep_v, p.decay_shift) + cur
    v_star = wrap_int32(wrap_int32(v_inner) + b)
    v_pre = np.clip(v_star, -p.v_sat, p.v_sat)
    v_new, s = apply_reset(p.reset, p.compare, v_pre, v, p.vth_scaled)
    int32 = (shifted != (a_in << p.act_shift)) | (u_star != u_raw) | (v_star != v_inner + b)
    return LifTrace(cur, v_new, s, u_star, v_star, v_pre, int32)


def lif_step(
    u: I64, v: I64, a_in: I64, p: LifParams, bias: I64 | None = None
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """One LIF step (:func:`lif_trace`): the new ``u``, ``v`` and the spikes."""
    t = lif_trace(u, v, a_in, p, bias)
    return t.u, t.v, t.s
