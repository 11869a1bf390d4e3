"""Torch conv and pooling synapses on flat spike tensors, for :class:`~lavabridge.nn.SpikingLayer`.

Populations are flat ``[T, B, N]`` tensors everywhere in :mod:`lavabridge.nn`; an image population
of shape ``(C, H, W)`` is its C-major flattening (``x.reshape(T, B, C, H, W)`` is torch's view),
so flatten between a conv layer and a dense layer is the identity (torch's ``nn.Flatten`` order).
Each module here takes ``[..., C_in * H * W]`` and returns ``[..., C_out * H_out * W_out]``; the
one-step hop latency is the :class:`~lavabridge.nn.SpikingLayer`'s, as for ``nn.Linear``::

    I[t] = conv(s_in[t - 1]) + b        (Conv2d; SumPool2d: window sums; AvgPool2d: window means)

``in_features`` / ``out_features`` give the flat widths, as ``nn.Linear`` does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lavabridge.conv import ConvGeometry
from lavabridge.errors import ValidationError

Pair = int | tuple[int, int]


def _pair(value: object, where: str = "", param: str = "") -> tuple[int, int]:
    """An int or a pair of ints as a pair (refusing anything else, e.g. ``padding="same"``)."""
    items = [value, value] if isinstance(value, int) else value
    if (
        not isinstance(items, (tuple, list))
        or len(items) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in items)
    ):
        raise ValidationError(where, param, f"must be an int or a pair of ints, got {value!r}")
    return (int(items[0]), int(items[1]))


def _flat_shape(shape: tuple[int, ...], where: str) -> tuple[int, int, int]:
    if len(shape) != 3 or any(not isinstance(s, int) or s < 1 for s in shape):
        raise ValidationError(where, "in_shape", f"must be 3 positive ints (C, H, W), got {shape}")
    return (shape[0], shape[1], shape[2])


def _images(x: torch.Tensor, shape: tuple[int, int, int], where: str) -> torch.Tensor:
    if x.shape[-1] != math.prod(shape):
        raise ValidationError(
            where, "input", f"last axis {x.shape[-1]} != C*H*W = {math.prod(shape)} of {shape}"
        )
    return x.reshape(-1, *shape)


class _Shaped:
    """``out_shape``, ``in_features``, ``out_features`` from a module's ``geometry``."""

    @property
    def geometry(self) -> ConvGeometry:
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(C_out, H_out, W_out)``."""
        return self.geometry.out_shape

    @property
    def in_features(self) -> int:
        """``C_in * H * W``."""
        return self.geometry.n_in

    @property
    def out_features(self) -> int:
        """``C_out * H_out * W_out``."""
        return self.geometry.n_out


class Conv2d(_Shaped, nn.Conv2d):
    """torch's ``Conv2d`` on flat C-major spike tensors ``[..., C_in*H*W]`` (see module docstring).

    Parameters
    ----------
    in_shape : (C_in, H, W)
    out_channels, kernel_size, stride, padding, dilation, groups, bias
        As ``torch.nn.Conv2d`` (zero padding, symmetric within an axis).
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        self.in_shape = _flat_shape(tuple(in_shape), "Conv2d")
        for name, value in (("kernel_size", kernel_size), ("stride", stride),
                            ("padding", padding), ("dilation", dilation)):  # fmt: skip
            _pair(value, "Conv2d", name)
        super().__init__(self.in_shape[0], out_channels, kernel_size, stride, padding, dilation,
                         groups, bias)  # fmt: skip
        self.geometry.check("Conv2d")

    @property
    def geometry(self) -> ConvGeometry:
        """The shape arithmetic (:mod:`lavabridge.conv`)."""
        return ConvGeometry(self.in_shape, self.out_channels, _pair(self.kernel_size),
                            _pair(self.stride), _pair(self.padding), _pair(self.dilation),
                            self.groups)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(_images(x, self.in_shape, "Conv2d"))
        return y.reshape(*x.shape[:-1], -1)


class SumPool2d(_Shaped, nn.Module):
    """Window sums of every channel on flat tensors (NIR's ``SumPool2d``; no parameters).

    Parameters
    ----------
    in_shape : (C, H, W)
    kernel_size : int or pair
    stride : int or pair, optional
        Default ``kernel_size``.
    padding : int or pair
    """

    divide = False

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
    ) -> None:
        super().__init__()
        self.in_shape = _flat_shape(tuple(in_shape), type(self).__name__)
        where = type(self).__name__
        self.kernel_size = _pair(kernel_size, where, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, where, "stride")
        self.padding = _pair(padding, where, "padding")
        self.geometry.check(type(self).__name__)

    @property
    def geometry(self) -> ConvGeometry:
        """The pool as a depthwise convolution."""
        c = self.in_shape[0]
        return ConvGeometry(self.in_shape, c, self.kernel_size, self.stride, self.padding,
                            (1, 1), c)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        imgs = _images(x, self.in_shape, type(self).__name__)
        y = F.avg_pool2d(imgs, self.kernel_size, self.stride, self.padding,
                         count_include_pad=True, divisor_override=None if self.divide else 1)  # fmt: skip
        return y.reshape(*x.shape[:-1], -1)

    def extra_repr(self) -> str:
        return (f"in_shape={self.in_shape}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")  # fmt: skip


class AvgPool2d(SumPool2d):
    """Window means (torch's ``AvgPool2d`` with ``count_include_pad=True``) on flat tensors."""

    divide = True


Spatial = (Conv2d, SumPool2d)
"""The image synapse modules (what :class:`~lavabridge.nn.SpikingLayer` accepts besides Linear)."""
