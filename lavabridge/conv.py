"""2-D convolution geometry and one exact convolution, shared by every stage that convolves.

lavabridge speaks torch's layout: an image population of shape ``(C, H, W)`` is a flat vector in
C-major order (``x.reshape(C, H, W)`` is torch's view of it; flatten is the identity), a kernel is
``(C_out, C_in / groups, kH, kW)``, and the convolution is torch's cross-correlation::

    y[o, i, j] = sum_{c, p, q} w[o, c, p, q] * xpad[g(o) * C_in/groups + c,
                                                    i * sH + p * dH,  j * sW + q * dW]

where ``xpad`` is ``x`` with ``pH`` zero rows above and below and ``pW`` zero columns left and right
(padding is symmetric within an axis, may differ between the axes, as Lava's Conv and netx hold
it), and ``g(o) = o // (C_out / groups)``. Output size per axis (torch, Lava and netx agree)::

    H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1

Exactness: :func:`conv2d` gathers patches (im2col) and multiplies them with the kernel as one matrix
product per group. With 0/1 spikes and integer (times a power of two) weights, every partial sum is
an integer bounded by :meth:`ConvGeometry.row_bound`; below 2^24 (2^53) float32 (float64) holds it
exactly whatever order the BLAS adds in, and int64 is exact always — the argument of
:mod:`lavabridge.delays` for Dense. Lava's layout ``(W, H, C)`` appears only at export
(:func:`chw_to_whc`, :func:`whc_to_chw`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.errors import ValidationError

Pair = tuple[int, int]
Shape3 = tuple[int, int, int]
CHUNK_ELEMENTS = 1 << 23  # im2col rows are gathered in chunks of at most this many elements


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1`` (may be < 1)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvGeometry:
    """The shape arithmetic of one convolution (no weights).

    Attributes
    ----------
    in_shape : (C_in, H, W)
    out_channels : C_out
    kernel : (kH, kW)
    stride, padding, dilation : (H, W) pairs
    groups : divides C_in and C_out
    """

    in_shape: Shape3
    out_channels: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1

    def check(self, where: str) -> None:
        """Raise :class:`ValidationError` (naming ``where``) for an impossible geometry."""
        c_in, c_out, g = self.in_shape[0], self.out_channels, self.groups
        if c_in % g or c_out % g:
            raise ValidationError(
                where, "groups", f"{g} must divide in channels {c_in} and out channels {c_out}"
            )
        h, w = self.out_shape[1:]
        if h < 1 or w < 1:
            raise ValidationError(
                where, "kernel", f"kernel {self.kernel} (dilation {self.dilation}) does not fit "
                f"the input {self.in_shape[1:]} padded by {self.padding}: output would be {h}x{w}",
            )  # fmt: skip

    @property
    def out_shape(self) -> Shape3:
        """``(C_out, H_out, W_out)``."""
        hw = [
            out_size(self.in_shape[1 + a], self.kernel[a], self.stride[a], self.padding[a],
                     self.dilation[a])
            for a in (0, 1)
        ]  # fmt: skip
        return (self.out_channels, hw[0], hw[1])

    @property
    def n_in(self) -> int:
        """Input width ``C_in * H * W``."""
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        """Output width ``C_out * H_out * W_out``."""
        return int(np.prod(self.out_shape))

    def row_bound(self, weight: npt.ArrayLike) -> int:
        """``max_o sum |w[o]|`` over one output channel's kernel: bounds every output of a
        convolution of 0/1 input (padding only removes terms)."""
        w = np.abs(np.asarray(weight))
        if w.size == 0:
            return 0
        return int(np.ceil(w.reshape(w.shape[0], -1).sum(axis=1).max()))

    def windows(self, x: np.ndarray) -> np.ndarray:
        """Patches of ``x`` (M, C_in*H*W) as (M, C_in, H_out, W_out, kH, kW) (a strided view)."""
        c, h, w = self.in_shape
        (ph, pw), (dh, dw), (sh, sw) = self.padding, self.dilation, self.stride
        img = x.reshape(x.shape[0], c, h, w)
        if ph or pw:
            img = np.pad(img, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        span = (dh * (self.kernel[0] - 1) + 1, dw * (self.kernel[1] - 1) + 1)
        view = np.lib.stride_tricks.sliding_window_view(img, span, axis=(2, 3))  # type: ignore[call-overload]
        _, ho, wo = self.out_shape
        return view[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]


def conv2d(geom: ConvGeometry, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The convolution of ``x`` (M, C_in*H*W) with ``weight`` (C_out, C_in/g, kH, kW), in the
    dtype of ``weight`` (``x`` is cast), as (M, C_out*H_out*W_out) in C-major order.

    Exact for integer-valued operands under the bound in the module docstring.
    """
    m = x.shape[0]
    g = geom.groups
    c_g = geom.in_shape[0] // g
    o_g = geom.out_channels // g
    _, ho, wo = geom.out_shape
    k = c_g * geom.kernel[0] * geom.kernel[1]
    w = weight.reshape(g, o_g, k)
    out = np.empty((m, g, o_g, ho, wo), dtype=weight.dtype)
    rows = max(1, CHUNK_ELEMENTS // max(1, ho * wo * k * g))
    xs = x.astype(weight.dtype, copy=False)
    for m0 in range(0, m, rows):
        win = geom.windows(xs[m0 : m0 + rows])  # (b, C, Ho, Wo, kH, kW)
        b = win.shape[0]
        win = win.reshape(b, g, c_g, ho, wo, *geom.kernel).transpose(1, 0, 3, 4, 2, 5, 6)
        cols = win.reshape(g, b * ho * wo, k)
        for gi in range(g):
            res = cols[gi] @ w[gi].T  # (b*Ho*Wo, o_g)
            out[m0 : m0 + b, gi] = res.reshape(b, ho, wo, o_g).transpose(0, 3, 1, 2)
    return out.reshape(m, -1)


def sum_pool_kernel(channels: int, kernel: Pair, value: float = 1.0) -> npt.NDArray[np.float64]:
    """The depthwise kernel ``(C, 1, kH, kW)`` of ``value`` that makes a sum (or average) pool a
    convolution with ``groups = C``."""
    return np.full((channels, 1, *kernel), value, np.float64)


def chw_to_whc(arr: np.ndarray, shape: Shape3) -> np.ndarray:
    """lavabridge's flat C-major rows (..., C*H*W) -> Lava's (..., W, H, C) arrays."""
    lead = arr.shape[:-1]
    return np.swapaxes(arr.reshape(*lead, *shape), -1, -3)


def whc_to_chw(arr: np.ndarray) -> np.ndarray:
    """Lava's (..., W, H, C) arrays -> lavabridge's flat C-major rows (..., C*H*W)."""
    lead = arr.shape[:-3]
    return np.ascontiguousarray(np.swapaxes(arr, -1, -3)).reshape(*lead, -1)


def lava_kernel(weight: np.ndarray) -> np.ndarray:
    """torch's cross-correlation kernel (C_out, C_in/g, kH, kW) -> Lava Conv's true-convolution
    kernel (C_out, kW, kH, C_in/g): flipped in both spatial axes, then transposed (as netx does)."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))
