"""Fixed-point health: the events that make "it works in torch but not on Loihi".

Counted on the golden run by running the golden emulator's own arithmetic again over the recorded
state, all steps at once (every quantity of step ``t`` depends only on the recorded ``u[t-1]``,
``v[t-1]``, the spikes of the layer below and the layer's own spikes): the synapses' input comes
from their golden ops (:mod:`lavabridge.backends.golden.ops`, the layer-major form of the one
delayed-accumulation rule), the neuron step is the instrumented
:func:`~lavabridge.backends.golden.arith.lif_trace`, which reports::

    a_in[t] = sum_d floor_shift(W_d @ s_in[t-1-d], weight_exp)        (+ recurrent, same rule)
    u*[t]   = int32(trunc0(u[t-1] * keep_u / 4096) + int32(int32(a_in[t]) << 6))
    u[t]    = wrap24(u*[t])                      -> u wrap   where u*[t] > 2^23 or u*[t] <= -2^23
    v*[t]   = int32(int32(trunc0(v[t-1] * keep_v / 4096) + u[t]) + bias)
    v'[t]   = clip(v*[t], -(2^23-1), 2^23-1)     -> v saturation where v*[t] != v'[t]
    s[t]    = v'[t] > vth << 6                   -> threshold tie where v'[t] == vth << 6
                                                    (no spike with Loihi's '>', one with '>=')

The recomputed ``u[t]``, reset ``v[t]`` and ``s[t]`` must equal the recording; ``consistent``
says whether they do: the recording comes from the fast engine (float GEMMs, float64 LIF), the
replay from the int64 oracle's step, so this checks the engine, not the network.
Static counts come from the QGraph (weights at the 8-bit rail, LSBs Lava truncates, biases at the
13-bit rail) and, when the float model is known, from the float weights (weights and biases the
quantization clipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.backends.golden.arith import LifTrace, bias_from_mantissa, lif_trace
from lavabridge.backends.golden.fast import feed_forward
from lavabridge.backends.golden.ops import LayerOps, SynapseOps, layer_ops
from lavabridge.backends.inputs import BatchInput
from lavabridge.errors import InputError
from lavabridge.ir import ChainLayer, CubaLIF, Dense
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QDense
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind
from lavabridge.target import LoihiTarget

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Event:
    """Where an event happened first (earliest step, then sample, then neuron)."""

    sample: int
    step: int
    neuron: int


@dataclass(frozen=True)
class LayerHealth:
    """Fixed-point events of one layer over the verified batch.

    Attributes
    ----------
    u_wraps, v_saturations, threshold_ties, int32_wraps : int
        Counts of (sample, step, neuron) entries (see the module docstring).
    u_peak, v_peak : int
        Largest ``|u*|`` and ``|v*|`` before wrap / saturation.
    u_headroom_bits, v_headroom_bits : float
        ``log2(2^23 / peak)`` (23 for a silent layer); below 0 means wraps / saturation.
    weights_total, weights_at_rail, weights_lsb_truncated : int
        Synapse + recurrent weights; those at the largest magnitude the sign mode's 8-bit mantissa
        holds (every clipped weight lands there);
        those whose low bits Lava drops (raw != effective weight).
    biases_at_rail : int
        Bias mantissas at the 13-bit limit.
    weights_clipped, biases_clipped : int or None
        Float weights / biases whose scaled value lies beyond what the integers can hold (needs the
        float model; the layer's scale is ``(vth << 6) / threshold``).
    first_u_wrap, first_v_saturation, first_threshold_tie : Event or None
    consistent : bool
        The re-computation reproduced the golden recording exactly.
    """

    layer: int
    name: str
    u_wraps: int
    v_saturations: int
    threshold_ties: int
    int32_wraps: int
    u_peak: int
    v_peak: int
    u_headroom_bits: float
    v_headroom_bits: float
    weights_total: int
    weights_at_rail: int
    weights_lsb_truncated: int
    biases_at_rail: int
    weights_clipped: int | None
    biases_clipped: int | None
    first_u_wrap: Event | None
    first_v_saturation: Event | None
    first_threshold_tie: Event | None
    consistent: bool


# ----------------------------------------------------------------------------- arithmetic
def _drive(ops: SynapseOps, s_in: npt.NDArray[np.generic]) -> I64:
    """``a[:, t]`` for all t ``[B, T, n_out]`` of spikes ``s_in`` ``[B, T, n_in]``: the synapse's
    layer-major golden form, in int64 (``a_in(t) = H[t - 1]``)."""
    B, T, _ = s_in.shape
    h = feed_forward(ops.conn(0), np.ascontiguousarray(s_in.transpose(1, 0, 2)), np.int64)
    out = np.zeros((B, T, ops.n_out), np.int64)
    if T > 1:
        out[:, 1:] = h[:-1].transpose(1, 0, 2)
    return out


def _shifted(a: I64) -> I64:
    """``a[:, t-1]`` with the rest state (0) before the first step."""
    out = np.zeros_like(a)
    out[:, 1:] = a[:, :-1]
    return out


def _first(mask: npt.NDArray[np.bool_]) -> Event | None:
    steps = mask.any(axis=(0, 2))
    if not steps.any():
        return None
    t = int(np.argmax(steps))
    b = int(np.argmax(mask[:, t].any(axis=1)))
    return Event(b, t, int(np.argmax(mask[b, t])))


def _headroom(peak: int, target: LoihiTarget) -> float:
    return float(target.uv_bits - 1) if peak == 0 else math.log2(target.max_uv / peak)


# ----------------------------------------------------------------------------- static counts
def _rail_counts(graph: QGraph, i: int) -> tuple[int, int, int, int]:
    layer, target = graph.layers[i], graph.target
    total = rail = trunc = 0
    for dense in (layer.synapse, layer.recurrent):
        if not isinstance(dense, QDense):
            continue
        eff = dense.effective_weights(target)
        n = target.truncate_bits(dense.mode, dense.num_weight_bits)
        lo, hi = target.weight_clip_range(dense.mode)
        # the extreme effective weights: the rails after Lava's LSB truncation (floor)
        rails = [-(((-lo) >> n) << n), (hi >> n) << n]
        at = np.zeros(eff.shape, bool)
        for r in rails:
            if r != 0:
                at |= eff == r
        total += int(eff.size)
        rail += int(at.sum())
        trunc += int((eff != dense.weights).sum())
    lo_b, hi_b = target.bias_mant_range
    bm = getattr(layer.neuron, "bias_mant", np.zeros(0, np.int64))
    return total, rail, trunc, int(((bm == lo_b) | (bm == hi_b)).sum())


def _float_clip_counts(
    graph: QGraph, i: int, float_layer: ChainLayer
) -> tuple[int | None, int | None]:
    """Float weights / biases beyond the integer range at the layer's scale ``(vth<<6)/threshold``
    (``None`` for neuron kinds without a threshold scale)."""
    layer, target = graph.layers[i], graph.target
    qn, fn = layer.neuron, float_layer.neuron
    if not isinstance(qn, QCubaLIF) or not isinstance(fn, CubaLIF):
        return None, None
    scale = (qn.vth << target.vth_shift) / float(fn.threshold)
    clipped_w = 0
    for q, f in ((layer.synapse, float_layer.synapse), (layer.recurrent, float_layer.recurrent)):
        if not isinstance(q, QDense) or not isinstance(f, Dense):
            continue
        lo, hi = target.weight_clip_range(q.mode)
        lsb = 1 << max(0, target.truncate_bits(q.mode, q.num_weight_bits))
        ideal = np.asarray(f.weight, np.float64) * scale / 2.0 ** (target.act_shift + q.weight_exp)
        clipped_w += int(((ideal > hi + lsb) | (ideal < lo - lsb)).sum())
    bias = np.asarray(fn.bias, np.float64) * np.ones(layer.size)
    for f in (float_layer.synapse, float_layer.recurrent):
        if isinstance(f, Dense) and f.bias is not None:
            bias = bias + np.asarray(f.bias, np.float64)
    max_exp = target.bias_exp_range[1]
    limit = (target.bias_mant_range[1] + 1) << max_exp
    return clipped_w, int((np.abs(bias * scale) > limit).sum())


# ----------------------------------------------------------------------------- main entry
def _replay(
    graph: QGraph,
    ops: LayerOps,
    i: int,
    batch: BatchInput,
    s_in: npt.NDArray[np.generic] | None,
    golden: Recording,
) -> LifTrace:
    """Layer ``i``'s LIF step over every recorded step at once, from the recorded state."""
    spikes = golden.spikes[i]
    u_rec = golden.u[i] if golden.u is not None else np.zeros(spikes.shape, np.int64)
    v_rec = golden.v[i] if golden.v is not None else np.zeros(spikes.shape, np.int64)
    a_in = np.zeros(spikes.shape, np.int64)
    if ops.synapse is not None and s_in is not None:
        a_in += _drive(ops.synapse, s_in)
    if ops.recurrent is not None:
        a_in += _drive(ops.recurrent, spikes)
    bias = None
    if i == 0 and batch.kind == InputKind.BIAS:
        bias = bias_from_mantissa(batch.data, ops.lif.bias_exp[None, :])[:, None, :]
    if ops.lif.bias_start > 0:  # no bias before the layer's first input
        on = ops.lif.bias_on(spikes.shape[1])[None, :, None]
        bias = np.where(on, ops.lif.bias if bias is None else bias, 0)
    u_prev, v_prev = _shifted(u_rec), _shifted(v_rec)
    resets = ops.lif.reset_steps(u_rec.shape[1])  # Lava's LIFReset zeroes u, v before the step
    u_prev[:, resets] = 0
    v_prev[:, resets] = 0
    return lif_trace(u_prev, v_prev, a_in, ops.lif, bias)


def _events(graph: QGraph, ops: LayerOps, tr: LifTrace) -> dict[str, npt.NDArray[np.bool_]]:
    """Where the step wrapped u, saturated v, or left v exactly at the threshold."""
    max_uv = graph.target.max_uv
    return {
        "wraps": (tr.u_star > max_uv) | (tr.u_star <= -max_uv),
        "sats": tr.v_star != tr.v_pre,
        "ties": tr.v_pre == ops.lif.vth_scaled,
    }


def _layer_health(
    graph: QGraph,
    i: int,
    ops: LayerOps,
    tr: LifTrace,
    golden: Recording,
    float_layer: ChainLayer | None,
) -> LayerHealth:
    target: LoihiTarget = graph.target
    ev = _events(graph, ops, tr)
    consistent = bool(
        golden.u is not None
        and golden.v is not None
        and np.array_equal(tr.u, golden.u[i])
        and np.array_equal(tr.v, golden.v[i])
        and np.array_equal(tr.s, golden.spikes[i] > 0)
    )
    total, rail, trunc, bias_rail = _rail_counts(graph, i)
    clip_w: int | None = None
    clip_b: int | None = None
    if float_layer is not None:
        clip_w, clip_b = _float_clip_counts(graph, i, float_layer)
    u_peak = int(np.abs(tr.u_star).max()) if tr.u_star.size else 0
    v_peak = int(np.abs(tr.v_star).max()) if tr.v_star.size else 0
    return LayerHealth(
        layer=i,
        name=graph.layers[i].name,
        u_wraps=int(ev["wraps"].sum()),
        v_saturations=int(ev["sats"].sum()),
        threshold_ties=int(ev["ties"].sum()),
        int32_wraps=int(tr.int32.sum()),
        u_peak=u_peak,
        v_peak=v_peak,
        u_headroom_bits=_headroom(u_peak, target),
        v_headroom_bits=_headroom(v_peak, target),
        weights_total=total,
        weights_at_rail=rail,
        weights_lsb_truncated=trunc,
        biases_at_rail=bias_rail,
        weights_clipped=clip_w,
        biases_clipped=clip_b,
        first_u_wrap=_first(ev["wraps"]),
        first_v_saturation=_first(ev["sats"]),
        first_threshold_tie=_first(ev["ties"]),
        consistent=consistent,
    )


def layer_health(
    graph: QGraph,
    batch: BatchInput,
    golden: Recording,
    float_layers: tuple[ChainLayer, ...] | None = None,
) -> tuple[LayerHealth, ...]:
    """Health of every layer from a golden recording that holds u and v (``probe_uv=True``).

    Parameters
    ----------
    graph : QGraph
        The graph the golden recording ran.
    batch : BatchInput
        Its input (``lavabridge.backends.inputs.prepare_input``).
    golden : Recording
        With u and v.
    float_layers : tuple of lavabridge.ir.ChainLayer, optional
        The float model's layers, for the clipped weight / bias counts.
    """
    if golden.u is None or golden.v is None:
        raise InputError("layer_health needs a golden recording with u and v (probe_uv=True)")
    out = []
    s_in: npt.NDArray[np.generic] | None = batch.data if batch.kind == InputKind.SPIKES else None
    for i, ops in enumerate(layer_ops(graph)):
        tr = _replay(graph, ops, i, batch, s_in, golden)
        float_layer = float_layers[i] if float_layers is not None else None
        out.append(_layer_health(graph, i, ops, tr, golden, float_layer))
        s_in = golden.spikes[i]
    return tuple(out)
