"""How float input of a bias-input network becomes the integer bias mantissas Lava takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError
from lavabridge.target import LOIHI2, LoihiTarget


@dataclass(frozen=True)
class InputEncoding:
    """Float input ``x`` of a bias-input graph -> the bias mantissas of its first layer.

    ``mantissa = round(scale * (gain * x + bias) / 2^bias_exp)`` per neuron (13-bit, checked).
    The quantizer fits it (:meth:`fit`) and stores it in the QGraph (and so in ``.lbq`` files).
    """

    scale: float
    bias_exp: int
    gain: float
    bias: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        scale: float,
        gain: float,
        bias: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        target: LoihiTarget,
    ) -> InputEncoding:
        """The smallest exponent for which the calibration values fit the 13-bit mantissa."""
        peak = float(np.abs(values).max()) * scale
        exp = 0
        while exp < target.bias_exp_range[1] and round(peak / 2**exp) > target.bias_mant_range[1]:
            exp += 1
        return cls(
            scale, exp, gain, tuple(float(b) for b in np.broadcast_to(bias, values.shape[-1:]))
        )

    def encode(self, x: npt.ArrayLike, target: LoihiTarget = LOIHI2) -> npt.NDArray[np.int64]:
        """Float input ``[B, n_in]`` -> bias mantissas; raises ``InputError`` beyond 13 bits."""
        q = np.rint(
            self.scale
            * (self.gain * np.asarray(x, np.float64) + np.asarray(self.bias))
            / 2.0**self.bias_exp
        )
        lo, hi = target.bias_mant_range
        if q.size and (q.min() < lo or q.max() > hi):
            raise InputError(
                f"input: encoded bias mantissas reach [{q.min():.0f}, {q.max():.0f}], beyond the "
                f"13-bit range [{lo}, {hi}]: the input exceeds the calibration range; quantize "
                "again with representative calibration data"
            )
        return q.astype(np.int64)
