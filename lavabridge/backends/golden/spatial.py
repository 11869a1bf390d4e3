"""The golden emulator's Conv: a :class:`~lavabridge.quant.qspatial.QConv` as Lava computes it.

Lava's fixed-point Conv (``PyConvModelFixed``) sends last step's result, then convolves this step's
binary spikes with its integer weights as given and wraps the sum to 24 bits::

    a_in[t] = wrap24(conv(s[t-1], W))        wrap24(x) = ((x + 2^23) mod 2^24) - 2^23

Both engines use :func:`lavabridge.conv.conv2d`: the fast engine in float32/float64 when
:meth:`ConvGeometry.row_bound` proves every sum exact and below 2^23 (no wrap can occur), with the
``2^shift`` of its units folded into the kernel; int64 and an explicit wrap otherwise. The oracle's
step form (:class:`ConvStep`) is always int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.conv import ConvGeometry, conv2d
from lavabridge.delays import exact_float_dtype
from lavabridge.quant.qspatial import QConv
from lavabridge.target import LoihiTarget

I64 = npt.NDArray[np.int64]


def wrap(x: I64, bits: int) -> I64:
    """Two's-complement wrap of ``x`` to ``bits`` bits (Lava's ``signed_clamp``)."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


@dataclass(frozen=True)
class ConvConn:
    """A conv prepared for the fast engine (the interface of :class:`~.ops.Conn`): one bucket
    ``(0, kernel)``, outputs in units of ``a_in * 2^shift``."""

    geom: ConvGeometry
    buckets: tuple[tuple[int, np.ndarray], ...]
    post: int
    wrap_bits: int | None  # set when a sum can reach the wrap (int64 path)
    max_delay: int = 0

    @classmethod
    def build(cls, ops: ConvOps, shift: int) -> ConvConn:
        """Choose the exact dtype from the bound; fold ``2^shift`` into a float kernel."""
        dtype = exact_float_dtype(ops.raw_bound) if ops.wrap_bits is None else None
        if dtype is None:
            return cls(ops.geom, ((0, ops.weights),), 1 << shift, ops.wrap_bits)
        kernel = ops.weights.astype(dtype) * dtype(2.0**shift)
        return cls(ops.geom, ((0, kernel),), 1, None)

    def apply(
        self, wt: np.ndarray, s: np.ndarray, out_dtype: type, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The conv of spikes ``s`` (M, n_in) -> (M, n_out) in ``a_in * 2^shift`` units."""
        g = conv2d(self.geom, s, wt)
        if wt.dtype == np.int64:
            if self.wrap_bits is not None:
                g = wrap(g, self.wrap_bits)
            g = g * self.post
        return g.astype(out_dtype, copy=False)


class ConvStep:
    """The step-major form for a batch: send last step's ``a_in``, then receive this step's."""

    def __init__(self, ops: ConvOps, batch: int) -> None:
        self.ops = ops
        self.buf = np.zeros((batch, ops.n_out), np.int64)

    def send(self) -> I64:
        """This step's ``a_in``."""
        out, self.buf = self.buf, np.zeros_like(self.buf)
        return out

    def receive(self, s: npt.NDArray[np.generic]) -> None:
        """Convolve this step's binary spikes ``s`` (B, n_in)."""
        acc = conv2d(self.ops.geom, s.astype(np.int64), self.ops.weights)
        self.buf = wrap(acc, self.ops.bits)


@dataclass(frozen=True)
class ConvOps:
    """A :class:`QConv` for both engines (the interface of :class:`~.ops.DenseOps`)."""

    geom: ConvGeometry
    weights: I64
    bits: int
    raw_bound: int

    @classmethod
    def build(cls, conv: QConv, target: LoihiTarget) -> ConvOps:
        """The weights as given (Lava's Conv neither clips nor truncates them)."""
        w = np.ascontiguousarray(conv.effective_weights(target), np.int64)
        return cls(conv.geometry, w, target.conv_out_bits, conv.geometry.row_bound(w))

    @property
    def n_out(self) -> int:
        """Output width."""
        return self.geom.n_out

    @property
    def wrap_bits(self) -> int | None:
        """``bits`` when a sum can reach ``2^(bits-1)`` (then the wrap must be computed)."""
        return self.bits if self.raw_bound >= 1 << (self.bits - 1) else None

    def bound(self) -> int:
        """Bound on ``|a_in|``: the row bound, at most ``2^(bits-1)`` (the wrap's range)."""
        return min(self.raw_bound, 1 << (self.bits - 1))

    def conn(self, shift: int) -> ConvConn:
        """The fast engine's form, outputs in ``a_in * 2^shift`` units."""
        return ConvConn.build(self, shift)

    def step(self, batch: int) -> ConvStep:
        """The oracle's form, for ``batch`` samples."""
        return ConvStep(self, batch)
