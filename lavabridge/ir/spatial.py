"""Float IR nodes on images: 2-D convolution and pooling, synapses with one step of latency.

A population fed by one of these has the shape ``out_shape = (C, H, W)`` of that synapse and is
stored, like every population, as a flat vector in C-major order (torch's ``x.reshape(C, H, W)``).
Flatten is therefore the identity: a :class:`~lavabridge.ir.nodes.Dense` reads an image population
as its C-major flat vector (torch's and NIR's ``Flatten``), and the graph checks that the widths
agree, while a conv or pool reading a population checks that its ``in_shape`` equals the shape the
population has. Geometry and the exact convolution are :mod:`lavabridge.conv`::

    Conv2d:     I[o, i, j, t] = sum_{c,p,q} w[o, c, p, q] s[c', i sH + p dH - pH, j sW + q dW - pW, t-1]
                                + b[o]
    SumPool2d:  I[c, i, j, t] = sum_{p<kH, q<kW} s[c, i sH + p - pH, j sW + q - pW, t-1]
    AvgPool2d:  SumPool2d / (kH kW)      (zero padding counts: torch's count_include_pad=True)

(``c' = g(o) C_in/groups + c``; out-of-image positions read 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lavabridge.conv import ConvGeometry, sum_pool_kernel
from lavabridge.errors import ValidationError
from lavabridge.ir.fields import Array, Int, Ints, rule
from lavabridge.ir.nodes import Synapse

FloatArray = npt.NDArray[np.floating[Any]]
MAX_EXTENT = 1 << 16  # image sides, kernels, strides, paddings, dilations


def _shape3() -> dict[str, Any]:
    return rule(Ints(3, 1, MAX_EXTENT))


def _pair(lo: int, optional: bool = False) -> dict[str, Any]:
    return rule(Ints(2, lo, MAX_EXTENT, optional))


@dataclass(frozen=True, eq=False, repr=False)
class Spatial(Synapse):
    """Base of the image synapses (not instantiable): each has an ``in_shape`` ``(C, H, W)`` and
    is a convolution (:attr:`geometry`, :meth:`kernel`)."""

    @property
    def geometry(self) -> ConvGeometry:
        """The convolution's shape arithmetic."""
        raise NotImplementedError

    def kernel(self) -> npt.NDArray[np.float64]:
        """The float kernel ``(C_out, C_in/groups, kH, kW)`` this synapse convolves with."""
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(C_out, H_out, W_out)``: the shape of the population it feeds."""
        return self.geometry.out_shape

    @property
    def n_in(self) -> int:
        """``C_in * H * W``."""
        return self.geometry.n_in

    @property
    def n_out(self) -> int:
        """``C_out * H_out * W_out``."""
        return self.geometry.n_out

    def check(self) -> None:
        self.geometry.check(type(self).__name__)


@dataclass(frozen=True, eq=False, repr=False)
class Conv2d(Spatial):
    """A 2-D convolution of spikes (torch's ``Conv2d``; equations in the module docstring).

    Parameters
    ----------
    weight : float array (C_out, C_in / groups, kH, kW)
    in_shape : (C_in, H, W)
    stride, padding, dilation : int or (H, W) pair
        Padding adds ``pH`` zero rows on both sides, ``pW`` zero columns on both sides.
    groups : int
        Divides C_in and C_out.
    bias : float array (C_out,), optional
        Added to every position of a channel's current, every step.
    """

    weight: FloatArray = field(metadata=rule(Array("float", 4)))
    in_shape: tuple[int, int, int] = field(metadata=_shape3())
    stride: tuple[int, int] = field(default=(1, 1), metadata=_pair(1))
    padding: tuple[int, int] = field(default=(0, 0), metadata=_pair(0))
    dilation: tuple[int, int] = field(default=(1, 1), metadata=_pair(1))
    groups: int = field(default=1, metadata=rule(Int(1)))
    bias: FloatArray | None = field(
        default=None,
        metadata=rule(Array("float", 1, shape=lambda n: (n.weight.shape[0],), optional=True)),
    )

    kind: ClassVar[str] = "Conv2d"

    @property
    def geometry(self) -> ConvGeometry:
        c_out, _, kh, kw = self.weight.shape
        return ConvGeometry(self.in_shape, int(c_out), (int(kh), int(kw)), self.stride,
                            self.padding, self.dilation, self.groups)  # fmt: skip

    def kernel(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.weight, np.float64)

    def check(self) -> None:
        c_g = self.weight.shape[1]
        if c_g * self.groups != self.in_shape[0]:
            raise ValidationError(
                "Conv2d", "weight", f"shape {self.weight.shape}: {c_g} input channels per group "
                f"x groups {self.groups} != {self.in_shape[0]} channels of in_shape {self.in_shape}",
            )  # fmt: skip
        super().check()


@dataclass(frozen=True, eq=False, repr=False)
class SumPool2d(Spatial):
    """Sum of each ``kernel_size`` window of every channel (NIR's ``SumPool2d``).

    Parameters
    ----------
    kernel_size : int or (kH, kW)
    in_shape : (C, H, W)
    stride : int or pair, optional
        Default: ``kernel_size`` (non-overlapping windows).
    padding : int or pair
    """

    kernel_size: tuple[int, int] = field(metadata=_pair(1))
    in_shape: tuple[int, int, int] = field(metadata=_shape3())
    stride: tuple[int, int] | None = field(default=None, metadata=_pair(1, optional=True))
    padding: tuple[int, int] = field(default=(0, 0), metadata=_pair(0))

    kind: ClassVar[str] = "SumPool2d"
    divisor: ClassVar[bool] = False

    @property
    def geometry(self) -> ConvGeometry:
        c = self.in_shape[0]
        stride = self.kernel_size if self.stride is None else self.stride
        return ConvGeometry(self.in_shape, c, self.kernel_size, stride, self.padding, (1, 1), c)

    def kernel(self) -> npt.NDArray[np.float64]:
        kh, kw = self.kernel_size
        value = 1.0 / (kh * kw) if self.divisor else 1.0
        return sum_pool_kernel(self.in_shape[0], self.kernel_size, value)


@dataclass(frozen=True, eq=False, repr=False)
class AvgPool2d(SumPool2d):
    """Mean of each ``kernel_size`` window of every channel (NIR's ``AvgPool2d``; torch's with
    ``count_include_pad=True``): :class:`SumPool2d` divided by ``kH * kW``."""

    kind: ClassVar[str] = "AvgPool2d"
    divisor: ClassVar[bool] = True


def ungrouped(conv: Conv2d) -> Conv2d:
    """``conv`` with ``groups = 1``: its kernel placed in the diagonal blocks of a full
    ``(C_out, C_in, kH, kW)`` kernel, zeros elsewhere (the same currents, exactly; NIR 1.0.8's
    type inference reads ``weight.shape[1]`` as C_in, so files hold grouped convs this way)."""
    if conv.groups == 1:
        return conv
    c_out, c_g, kh, kw = conv.weight.shape
    o_g = c_out // conv.groups
    w = np.zeros((c_out, c_g * conv.groups, kh, kw), conv.weight.dtype)
    for g in range(conv.groups):
        w[g * o_g : (g + 1) * o_g, g * c_g : (g + 1) * c_g] = conv.weight[g * o_g : (g + 1) * o_g]
    return conv.with_(weight=w, groups=1)
