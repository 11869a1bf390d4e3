"""The target table: every Loihi / Lava ``fixed_pt`` constant lavabridge relies on, in one place.

Each entry is checked against the installed Lava process models by ``tests/test_target.py``,
so an upstream change fails loudly instead of silently breaking bit-exactness.

The CUBA-LIF update of Lava's ``PyLifModelBitAcc`` in these units (one time step)::

    u <- trunc0(u * (decay_unity - (du + ds_offset)) / decay_unity) + (a_in << act_shift)
    u <- wrap24(u)                                        # once: u > 2^23 -> u - 2^24, u <= -2^23 -> u + 2^24
    v <- trunc0(v * (decay_unity - (dv + dm_offset)) / decay_unity) + u + (bias_mant << bias_exp)
    v <- clip(v, -(2^23 - 1), 2^23 - 1)                   # saturate
    s <- v > (vth << vth_shift);  v[s] <- 0               # strict compare, hard reset

``trunc0`` rounds toward zero. The Dense ``fixed_pt`` model clips weights to 8 bits by sign mode,
drops ``8 - num_weight_bits + is_mixed`` LSBs (floor), and shifts the summed input by ``weight_exp``
(left, or right with floor). The Conv ``fixed_pt`` model uses its integer weights as given (no
clip, no LSB drop, ``weight_exp`` ignored) and wraps its output to 24 bits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SignMode(enum.IntEnum):
    """Weight sign mode of Lava's Dense (values as in ``lava.utils.weightutils.SignMode``)."""

    NULL = 0
    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


@dataclass(frozen=True)
class LoihiTarget:
    """Constants and legal ranges of the Loihi 2 CUBA-LIF + Dense path in Lava's ``fixed_pt`` models.

    Ranges are inclusive. Where Lava's CPU model accepts more than Loihi hardware, the range here is
    what the CPU model computes exactly (``vth_range`` vs ``vth_hw_max``).
    """

    # --- LIF (lava/proc/lif/models.py, AbstractPyLifModelFixed) ---
    decay_shift: int = 12
    decay_unity: int = 4096  # 1 << decay_shift
    ds_offset: int = 1  # added to du: current retention is (4096 - (du + 1)) / 4096
    dm_offset: int = 0  # added to dv
    act_shift: int = 6  # a_in << 6
    vth_shift: int = 6  # vth << 6
    uv_bits: int = 24  # u wraps once, v saturates, at 24 bits
    du_range: tuple[int, int] = (-1, 4095)  # du = -1: no current decay (netx, iDecay = 0)
    dv_range: tuple[int, int] = (0, 4096)  # dv = 4096: v = u + bias (no voltage memory)
    vth_range: tuple[int, int] = (
        0,
        (1 << 18) - 1,
    )  # hardware mantissa is 17 bits; >= 2^17 never fires
    vth_hw_max: int = (1 << 17) - 1
    bias_mant_range: tuple[int, int] = (-(1 << 12), (1 << 12) - 1)  # 13-bit signed mantissa
    bias_mant_var_range: tuple[int, int] = (
        -(1 << 15),
        (1 << 15) - 1,
    )  # Lava's int16 Var (wraps beyond)
    bias_exp_range: tuple[int, int] = (0, 7)  # 3-bit exponent

    # --- Dense (lava/proc/dense/models.py, lava/utils/weightutils.py) ---
    weight_bits: int = 8
    num_weight_bits_range: tuple[int, int] = (1, 9)  # 9 disables LSB truncation on the CPU model
    weight_exp_range: tuple[int, int] = (-8, 7)
    max_delay: int = 62  # netx clips DelayDense delays to 62
    # --- Conv (lava/proc/conv/models.py PyConvModelFixed, lava/proc/conv/utils.py) ---
    # the fixed_pt Conv convolves in float64 (scipy), casts to int32 and wraps to 24 bits; it
    # ignores weight_exp and num_weight_bits and never clips: weights are used as given
    conv_weight_range: tuple[int, int] = (-(1 << 15), (1 << 15) - 1)  # lavabridge's bound
    conv_weight_magnitude: int = 255  # what the quantizer writes: 8-bit magnitude plus sign
    conv_param_max: int = 127  # kernel, stride, padding, dilation and groups are int8 Vars
    conv_sum_max: int = (1 << 31) - 1  # |sum| must fit the int32 cast before the 24-bit wrap
    conv_out_bits: int = 24  # a_out = signed_clamp(x, 24): a wrap, not a saturation

    @property
    def max_uv(self) -> int:
        """``2^(uv_bits-1)``: the wrap point of u."""
        return 1 << (self.uv_bits - 1)

    @property
    def v_sat(self) -> int:
        """``2^(uv_bits-1) - 1``: v saturates to ``[-v_sat, v_sat]``."""
        return (1 << (self.uv_bits - 1)) - 1

    def weight_clip_range(self, sign_mode: SignMode) -> tuple[int, int]:
        """Raw weight range Lava's Dense keeps for a sign mode (it clips silently beyond it)."""
        full = 1 << self.weight_bits
        if sign_mode == SignMode.MIXED:
            return (-full, full - 1)
        if sign_mode == SignMode.EXCITATORY:
            return (0, full - 1)
        if sign_mode == SignMode.INHIBITORY:
            return (-(full - 1), 0)
        raise ValueError(f"sign mode {sign_mode!r} has no weight range")

    def truncate_bits(self, sign_mode: SignMode, num_weight_bits: int) -> int:
        """Number of LSBs Lava's Dense drops: ``8 - num_weight_bits + (1 if MIXED else 0)``."""
        return self.weight_bits - num_weight_bits + int(sign_mode == SignMode.MIXED)

    def weight_grid(self, sign_mode: SignMode) -> tuple[int, int, int]:
        """``(lo, hi, step)``: the effective weights of a full-width (8-bit) Dense of a sign mode.

        Lava keeps ``(w >> n) << n`` with ``n = truncate_bits(mode, 8)``: mixed signs give the even
        values in ``[-256, 254]``, excitatory ``[0, 255]``, inhibitory ``[-255, 0]``.
        """
        lo, hi = self.weight_clip_range(sign_mode)
        n = self.truncate_bits(sign_mode, self.weight_bits)
        return -((-lo >> n) << n), (hi >> n) << n, 1 << n

    def weight_magnitude(self, sign_mode: SignMode) -> int:
        """The largest weight magnitude the grid holds on both used sides (254 mixed, else 255)."""
        lo, hi, _ = self.weight_grid(sign_mode)
        return min(abs(r) for r in (lo, hi) if r != 0)

    @staticmethod
    def weight_magnitude_of(sign_mode: SignMode, target: LoihiTarget) -> int:
        """``target.weight_magnitude(sign_mode)`` (the Dense rule of the quantizer's table)."""
        return target.weight_magnitude(sign_mode)

    def decay_to_du(self, current_decay: float) -> int:
        """12-bit ``du`` for a current decay fraction: ``du + ds_offset = round(unity * decay)``."""
        lo, hi = self.du_range
        return int(min(hi, max(lo, round(self.decay_unity * current_decay) - self.ds_offset)))

    def decay_to_dv(self, voltage_decay: float) -> int:
        """12-bit ``dv`` for a voltage decay fraction: ``dv + dm_offset = round(unity * decay)``."""
        lo, hi = self.dv_range
        return int(min(hi, max(lo, round(self.decay_unity * voltage_decay) - self.dm_offset)))

    def current_decay(self, du: int) -> float:
        """The decay fraction of ``du``: ``(du + ds_offset) / unity`` (exact inverse on the grid)."""
        return (du + self.ds_offset) / self.decay_unity

    def voltage_decay(self, dv: int) -> float:
        """The decay fraction of ``dv``: ``(dv + dm_offset) / unity``."""
        return (dv + self.dm_offset) / self.decay_unity


LOIHI2 = LoihiTarget()
"""The default target: Loihi 2 as modelled by lava-nc 0.10.0's ``fixed_pt`` process models."""


def decay_to_du(current_decay: float, target: LoihiTarget = LOIHI2) -> int:
    """12-bit ``du`` for a current decay fraction: ``du + 1 = round(4096 * decay)``, in [-1, 4095]."""
    return target.decay_to_du(current_decay)


def decay_to_dv(voltage_decay: float, target: LoihiTarget = LOIHI2) -> int:
    """12-bit ``dv`` for a voltage decay fraction: ``dv = round(4096 * decay)``, in [0, 4096]."""
    return target.decay_to_dv(voltage_decay)
