"""The image synapse of a QGraph: one 2-D convolution in Lava's integer units (``QConv``).

Lava's ``lava.proc.conv`` ``Conv`` fixed-point model (lava-nc 0.10, checked by
``tests/test_target.py``) computes, from binary input spikes::

    a_out = wrap24(conv(s, W))        weights used as given: no clipping, no LSB drop, and
                                      ``weight_exp`` / ``num_weight_bits`` are ignored

with one step of latency, like Dense. A QConv therefore carries integer weights and the geometry
only; the quantizer keeps the weights within :attr:`LoihiTarget.conv_weight_range` and the layer's
scale has ``weight_exp = 0``. Sum and average pooling are QConvs too (a depthwise kernel of ones,
``groups = C``), which is how Lava and netx run them. lavabridge's kernel layout is torch's
``(C_out, C_in / groups, kH, kW)`` over ``(C, H, W)`` images; the exporter converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lavabridge.conv import ConvGeometry
from lavabridge.errors import ValidationError
from lavabridge.quant.qnodes import ARRAY, QSynapse, check_int, check_range, frozen_int_array
from lavabridge.target import LOIHI2, LoihiTarget

IntArray = npt.NDArray[np.int64]


def _ints(value: Any, n: int, lo: int, where: str, param: str) -> tuple[int, ...]:
    items = [value] * n if isinstance(value, (int, np.integer)) else list(value)
    if len(items) != n:
        raise ValidationError(where, param, f"must be {n} ints (got {value!r})")
    return tuple(check_int(v, lo, 1 << 16, where, param) for v in items)


@dataclass(frozen=True, eq=False)
class QConv(QSynapse):
    """A 2-D convolution (Lava ``Conv``) in Lava's integer units.

    Parameters
    ----------
    weights : int array (C_out, C_in / groups, kH, kW)
        torch's cross-correlation kernel; used by Lava as given.
    in_shape : (C_in, H, W)
    stride, padding, dilation : (H, W) pairs (an int broadcasts)
    groups : int
    """

    weights: IntArray = field(metadata=ARRAY)
    in_shape: tuple[int, int, int] = (1, 1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    kind: ClassVar[str] = "Conv"

    def __post_init__(self) -> None:
        w = frozen_int_array(self.weights, None, "QConv", "weights")
        if w.ndim != 4:
            raise ValidationError(
                "QConv", "weights", f"must be 4-D (C_out, C_in/groups, kH, kW), got {w.shape}"
            )
        object.__setattr__(self, "weights", w)
        for name, n, lo in (("in_shape", 3, 1), ("stride", 2, 1), ("padding", 2, 0),
                            ("dilation", 2, 1)):  # fmt: skip
            object.__setattr__(self, name, _ints(getattr(self, name), n, lo, "QConv", name))
        object.__setattr__(self, "groups", check_int(self.groups, 1, 1 << 16, "QConv", "groups"))
        if w.shape[1] * self.groups != self.in_shape[0]:
            raise ValidationError(
                "QConv", "weights", f"shape {w.shape}: {w.shape[1]} channels per group x groups "
                f"{self.groups} != {self.in_shape[0]} channels of in_shape {self.in_shape}",
            )  # fmt: skip
        self.geometry.check("QConv")

    @property
    def geometry(self) -> ConvGeometry:
        """The convolution's shape arithmetic."""
        c_out, _, kh, kw = self.weights.shape
        return ConvGeometry(self.in_shape, int(c_out), (int(kh), int(kw)), self.stride,
                            self.padding, self.dilation, self.groups)  # fmt: skip

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(C_out, H_out, W_out)``."""
        return self.geometry.out_shape

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)`` of the equivalent dense map."""
        return (self.geometry.n_out, self.geometry.n_in)

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        """Raise :class:`ValidationError` if a value is outside what Lava computes exactly."""
        check_range(self.weights, *target.conv_weight_range, where, "weights")
        if self.geometry.row_bound(self.weights) > target.conv_sum_max:
            raise ValidationError(
                where, "weights", f"a sum of up to {self.geometry.row_bound(self.weights)} "
                f"overflows the int32 Lava's Conv casts to (max {target.conv_sum_max})",
            )  # fmt: skip
        hi = target.conv_param_max
        for name in ("stride", "padding", "dilation"):
            for v in getattr(self, name):
                check_int(v, 0, hi, where, name)
        for k in self.weights.shape[2:]:
            check_int(int(k), 1, hi, where, "kernel size")
        check_int(self.groups, 1, hi, where, "groups")

    def effective_weights(self, target: LoihiTarget = LOIHI2) -> IntArray:
        """The weights Lava's Conv multiplies with: the weights as given."""
        return self.weights
