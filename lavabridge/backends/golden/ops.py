"""The golden emulator's dispatch tables: how each QGraph node kind is computed, exactly.

:data:`SYNAPSES` maps a synapse kind to its ops (:class:`DenseOps` for :class:`QDense`,
:class:`~lavabridge.backends.golden.spatial.ConvOps` for :class:`QConv`): the bound
on ``|a_in|`` it can deliver (the input of every exactness proof), its fast form for the
layer-major engine (:class:`Conn`: float GEMMs, exact under that bound) and its step-major form
for the int64 oracle (:class:`DenseStep`). Both forms evaluate the one delayed-accumulation rule of
:mod:`lavabridge.delays`. :data:`NEURONS` maps a neuron kind to its per-step constants
(:class:`~lavabridge.backends.golden.arith.LifParams` for :class:`QCubaLIF`, stepped by
:func:`~lavabridge.backends.golden.arith.lif_trace`). :func:`plan_layers` prepares a graph; a kind
without an entry is refused with :class:`~lavabridge.errors.UnsupportedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.backends.golden.arith import LifParams, floor_shift
from lavabridge.backends.golden.spatial import ConvConn, ConvOps
from lavabridge.delays import DelayRing, Split, exact_float_dtype, row_bound, split_by_delay
from lavabridge.dispatch import Table
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QDense
from lavabridge.quant.qspatial import QConv
from lavabridge.target import LoihiTarget

I64 = npt.NDArray[np.int64]
TORCH_MIN_MACS = 1 << 20  # smaller GEMMs stay in numpy (call overhead)


def _use_torch(a: np.ndarray, w: np.ndarray) -> bool:
    if w.dtype.kind != "f" or a.shape[0] * a.shape[1] * w.shape[1] < TORCH_MIN_MACS:
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.get_float32_matmul_precision() == "highest")


def gemm(a: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ w`` for float32/float64 operands, on torch's CPU BLAS for large shapes.

    torch (MKL) is used when importable, the product has at least 2^20 multiply-adds, and
    ``torch.get_float32_matmul_precision() == "highest"`` (no TF32/bf16 shortcuts, which would
    break exactness); numpy's BLAS otherwise. Integer operands always use numpy. ``out``: a
    C-contiguous array of the result's shape and dtype to write into.
    """
    if not _use_torch(a, w):
        return np.matmul(a, w, out=out) if out is not None else np.asarray(a @ w)
    import torch

    with torch.no_grad():
        ta, tw = torch.from_numpy(a), torch.from_numpy(w)
        if out is None:
            return torch.mm(ta, tw).numpy()
        torch.mm(ta, tw, out=torch.from_numpy(out))
        return out


@dataclass(frozen=True)
class Conn:
    """A synapse prepared for exact float GEMMs, with outputs in units of ``a_in * 2^shift``.

    Attributes
    ----------
    buckets : tuple of (delay, W_d.T * 2^scale_exp) in float32/float64 (int64 if no float is exact)
    floor_exp : int
        ``weight_exp`` when it is negative (floor the GEMM result), else 0.
    post : int
        ``2^shift`` applied after the floor (1 when the scale is folded into the weights).
    max_delay : int
    """

    buckets: tuple[tuple[int, np.ndarray], ...]
    floor_exp: int
    post: int
    max_delay: int

    @classmethod
    def build(cls, split: Split, weight_exp: int, shift: int) -> Conn:
        """Prepare the buckets of ``split`` (:func:`lavabridge.delays.split_by_delay`)."""
        e = int(weight_exp)
        dtype: type = exact_float_dtype(max(row_bound(w_d) for _, w_d in split)) or np.int64
        scale_exp = e + shift if e >= 0 else e
        buckets = []
        for d, w_d in split:
            if dtype is np.int64:
                wt = np.ascontiguousarray(w_d.T, dtype=np.int64)
            else:  # a transposed view: BLAS reads it as is
                wt = w_d.astype(dtype).T
                wt *= dtype(2.0**scale_exp)
            buckets.append((d, wt))
        floor_exp = e if (e < 0 or dtype is np.int64) else 0
        post = 1 << shift if (e < 0 or dtype is np.int64) else 1
        return cls(tuple(buckets), floor_exp, post, max(d for d, _ in split))

    def apply(
        self, wt: np.ndarray, s: np.ndarray, out_dtype: type, out: np.ndarray | None = None
    ) -> np.ndarray:
        """One bucket on spikes ``s`` (M, n_in) -> (M, n_out) in ``a_in * 2^shift`` units.

        ``out`` (used when its dtype is the weights' and ``out_dtype``'s) avoids an allocation.
        """
        if wt.dtype == np.int64:
            acc = s.astype(np.int64) @ wt
            acc = acc << self.floor_exp if self.floor_exp >= 0 else acc >> -self.floor_exp
            return (acc * self.post).astype(out_dtype, copy=False)
        usable = out is not None and out.dtype == wt.dtype and np.dtype(out_dtype) == out.dtype
        g = gemm(s.astype(wt.dtype, copy=False), wt, out if usable else None)
        if self.floor_exp < 0:
            np.floor(g, out=g)
        if out_dtype is np.int64:
            return (g.astype(np.int64) * self.post) if self.post != 1 else g.astype(np.int64)
        if self.post != 1:
            g *= self.post
        return g


class DenseStep:
    """The step-major form of a Dense for a batch: Lava's ``a_buff``, in int64.

    At each step: :meth:`send` what arrives now (accumulated ``1 + delay`` steps ago), then
    :meth:`receive` this step's spikes: ``floor_shift(W_d @ s, weight_exp)`` per delay ``d``.
    """

    def __init__(self, ops: DenseOps, batch: int) -> None:
        self.buckets = [(d, np.ascontiguousarray(w_d.T, np.int64)) for d, w_d in ops.split]
        self.weight_exp = ops.weight_exp
        self.ring = DelayRing(ops.max_delay, (batch, ops.n_out), np.int64)

    def send(self) -> I64:
        """This step's ``a_in`` (frees its slot)."""
        return self.ring.send()

    def receive(self, s: npt.NDArray[np.generic]) -> None:
        """Accumulate this step's binary spikes ``s`` (B, n_in)."""
        for d, wt in self.buckets:
            self.ring.receive(d, floor_shift(s.astype(np.int64) @ wt, self.weight_exp))


@dataclass(frozen=True)
class DenseOps:
    """A :class:`QDense` as Lava's ``PyDenseModelBitAcc`` computes it (effective weights)."""

    split: Split  # (delay, effective weights W_d)
    weight_exp: int
    n_out: int
    max_delay: int

    @classmethod
    def build(cls, dense: QDense, target: LoihiTarget) -> DenseOps:
        """The effective weights (clipped by sign mode, LSB-truncated) split by delay."""
        split = split_by_delay(dense.effective_weights(target), dense.delays)
        return cls(split, int(dense.weight_exp), dense.shape[0], dense.max_delay)

    def bound(self) -> int:
        """Bound on ``|a_in|``: ``sum_d ceil(max_o sum_i |W_d[o, i]| * 2^weight_exp)``."""
        e, total = self.weight_exp, 0
        for _, w_d in self.split:
            rs = row_bound(w_d)
            total += rs << e if e >= 0 else -((-rs) >> -e)
        return total

    def conn(self, shift: int) -> Conn:
        """The fast engine's form, outputs in ``a_in * 2^shift`` units."""
        return Conn.build(self.split, self.weight_exp, shift)

    def step(self, batch: int) -> DenseStep:
        """The oracle's form, for ``batch`` samples."""
        return DenseStep(self, batch)


def cuba_params(neuron: QCubaLIF, target: LoihiTarget, where: str) -> LifParams:
    """The per-step constants of a :class:`QCubaLIF` (Lava's LIF, or ``FlexLIF`` for the other
    resets and ``>=``)."""
    return LifParams.build(neuron, target)


SynapseOps = DenseOps | ConvOps
Connection = Conn | ConvConn

SYNAPSES: Table[Callable[[Any, LoihiTarget], SynapseOps]] = Table(
    "golden emulator", {QDense: DenseOps.build, QConv: ConvOps.build}
)
NEURONS: Table[Callable[[Any, LoihiTarget, str], LifParams]] = Table(
    "golden emulator", {QCubaLIF: cuba_params}
)


@dataclass(frozen=True)
class LayerOps:
    """One layer's ops: its synapses (``None`` where absent) and its neuron constants."""

    synapse: SynapseOps | None
    recurrent: SynapseOps | None
    lif: LifParams


def layer_ops(graph: QGraph) -> tuple[LayerOps, ...]:
    """The ops of every layer of ``graph`` from the tables (refusing unknown kinds)."""
    target = graph.target
    out = []
    for i, layer in enumerate(graph.layers):
        where = f"layer {i} '{layer.name}'"
        ops = [
            None if node is None else SYNAPSES.of(node, f"{where} {role}")(node, target)
            for role, node in (("synapse", layer.synapse), ("recurrent", layer.recurrent))
        ]
        lif = NEURONS.of(layer.neuron, f"{where} neuron")(layer.neuron, target, where)
        out.append(LayerOps(ops[0], ops[1], lif))
    return tuple(out)


@dataclass(frozen=True)
class LayerPlan:
    """One layer prepared for the fast engine."""

    ff: Connection | None
    rec: Connection | None
    lif: LifParams
    fast: bool  # float64 LIF (A < 2^18); else the int64 oracle step
    rec_bound: int  # bound on |a_in| from the recurrent connection


def fast_lif_bound(target: LoihiTarget) -> int:
    """``|a_in|`` below ``2^(uv_bits - act_shift)`` (2^18 on Loihi 2): the fast engine's float64
    LIF is exact (the proof is in :mod:`lavabridge.backends.golden.fast`)."""
    return 1 << (target.uv_bits - target.act_shift)


def plan_layers(graph: QGraph) -> tuple[LayerPlan, ...]:
    """Prepare every layer of ``graph`` for the fast engine (see :mod:`.fast`)."""
    limit = fast_lif_bound(graph.target)
    plans = []
    for ops in layer_ops(graph):
        ff_bound = ops.synapse.bound() if ops.synapse is not None else 0
        rec_bound = ops.recurrent.bound() if ops.recurrent is not None else 0
        fast = ff_bound + rec_bound < limit
        shift = graph.target.act_shift if fast else 0
        ff = ops.synapse.conn(shift) if ops.synapse is not None else None
        rc = ops.recurrent.conn(shift) if ops.recurrent is not None else None
        plans.append(LayerPlan(ff, rc, ops.lif, fast, rec_bound))
    return tuple(plans)
