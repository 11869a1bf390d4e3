"""Fixed-point health: the events that make "it works in torch but not on Loihi".

Counted on the golden run by re-doing the integer arithmetic of each step from the recorded
state, vectorised over all steps at once (every quantity of step ``t`` depends only on the recorded
``u[t-1]``, ``v[t-1]``, the spikes of the layer below and the layer's own spikes)::

    a_in[t] = sum_d floor_shift(W_d @ s_in[t-1-d], weight_exp)        (+ recurrent, same rule)
    u*[t]   = int32(trunc0(u[t-1] * keep_u / 4096) + int32(int32(a_in[t]) << 6))
    u[t]    = wrap24(u*[t])                      -> u wrap   where u*[t] > 2^23 or u*[t] <= -2^23
    v*[t]   = int32(int32(trunc0(v[t-1] * keep_v / 4096) + u[t]) + bias)
    v'[t]   = clip(v*[t], -(2^23-1), 2^23-1)     -> v saturation where v*[t] != v'[t]
    s[t]    = v'[t] > vth << 6                   -> threshold tie where v'[t] == vth << 6
                                                    (no spike with Loihi's '>', one with '>=')

The recomputed ``u[t]``, reset ``v[t]`` and ``s[t]`` must equal the recording; ``consistent``
says whether they do (a check of this module against the emulator, not of the network).
Static counts come from the QGraph (weights at the 8-bit rail, LSBs Lava truncates, biases at the
13-bit rail) and, when the float model is known, from the float weights (weights and biases the
quantization clipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError
from lavabridge.golden.arith import bias_from_mantissa, floor_shift, trunc_shift, wrap_int32
from lavabridge.inputs import BatchInput
from lavabridge.ir import ChainLayer
from lavabridge.quant.qgraph import InputKind, QDense, QGraph
from lavabridge.quant.target import LoihiTarget
from lavabridge.recording import Recording

I64 = npt.NDArray[np.int64]
_F64_EXACT = 1 << 53


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
def _dense_input(dense: QDense, s_in: npt.NDArray[np.generic], target: LoihiTarget) -> I64:
    """``a[:, t] = sum_d floor_shift(W_d @ s_in[:, t-1-d], weight_exp)`` for all t: ``[B, T, n_out]``."""
    B, T, n_in = s_in.shape
    w = dense.effective_weights(target)
    bound = int(np.abs(w).sum(axis=1).max()) if w.size else 0
    dtype = np.float64 if bound < _F64_EXACT else np.int64  # float64 GEMM is exact below 2^53
    flat = s_in.reshape(B * T, n_in).astype(dtype)
    delays = dense.delays if dense.delays is not None else np.zeros_like(w)
    out = np.zeros((B, T, w.shape[0]), np.int64)
    for d in np.unique(delays) if w.size else []:
        w_d = np.where(delays == d, w, 0).astype(dtype)
        contrib = floor_shift((flat @ w_d.T).astype(np.int64), dense.weight_exp)
        lag = 1 + int(d)
        if lag < T:
            out[:, lag:] += contrib.reshape(B, T, -1)[:, : T - lag]
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
        if dense is None:
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
    bm = layer.neuron.bias_mant
    return total, rail, trunc, int(((bm == lo_b) | (bm == hi_b)).sum())


def _float_clip_counts(graph: QGraph, i: int, float_layer: ChainLayer) -> tuple[int, int]:
    """Float weights / biases beyond the integer range at the layer's scale ``(vth<<6)/threshold``."""
    layer, target = graph.layers[i], graph.target
    scale = (layer.neuron.vth << target.vth_shift) / float(float_layer.neuron.threshold)
    clipped_w = 0
    for q, f in ((layer.synapse, float_layer.synapse), (layer.recurrent, float_layer.recurrent)):
        if q is None or f is None:
            continue
        lo, hi = target.weight_clip_range(q.mode)
        lsb = 1 << max(0, target.truncate_bits(q.mode, q.num_weight_bits))
        ideal = np.asarray(f.weight, np.float64) * scale / 2.0 ** (target.act_shift + q.weight_exp)
        clipped_w += int(((ideal > hi + lsb) | (ideal < lo - lsb)).sum())
    bias = np.asarray(float_layer.neuron.bias, np.float64) * np.ones(layer.size)
    for f in (float_layer.synapse, float_layer.recurrent):
        if f is not None and f.bias is not None:
            bias = bias + np.asarray(f.bias, np.float64)
    max_exp = target.bias_exp_range[1]
    limit = (target.bias_mant_range[1] + 1) << max_exp
    return clipped_w, int((np.abs(bias * scale) > limit).sum())


# ----------------------------------------------------------------------------- main entry
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
        Its input (``lavabridge.inputs.prepare_input``).
    golden : Recording
        With u and v.
    float_layers : tuple of lavabridge.ir.ChainLayer, optional
        The float model's layers, for the clipped weight / bias counts.
    """
    if golden.u is None or golden.v is None:
        raise InputError("layer_health needs a golden recording with u and v (probe_uv=True)")
    target = graph.target
    out = []
    s_in: npt.NDArray[np.generic] | None = batch.data if batch.kind == InputKind.SPIKES else None
    for i, layer in enumerate(graph.layers):
        spikes, u_rec, v_rec = golden.spikes[i], golden.u[i], golden.v[i]
        B, T, N = spikes.shape
        a_in = np.zeros((B, T, N), np.int64)
        if layer.synapse is not None and s_in is not None:
            a_in += _dense_input(layer.synapse, s_in, target)
        if layer.recurrent is not None:
            a_in += _dense_input(layer.recurrent, spikes, target)
        if i == 0 and batch.kind == InputKind.BIAS:
            bias = bias_from_mantissa(batch.data, layer.neuron.bias_exp[None, :])[:, None, :]
        else:
            bias = layer.neuron.effective_bias()[None, None, :]
        keep_u = target.decay_unity - (layer.neuron.du + target.ds_offset)
        keep_v = target.decay_unity - (layer.neuron.dv + target.dm_offset)
        max_uv, v_sat = target.max_uv, target.v_sat
        vth = layer.neuron.vth << target.vth_shift

        shifted_in = wrap_int32(wrap_int32(a_in) << target.act_shift)
        decayed_u = trunc_shift(_shifted(u_rec) * keep_u, target.decay_shift)
        u_raw = decayed_u + shifted_in
        u_star = wrap_int32(u_raw)
        u_new = np.where(u_star > max_uv, u_star - 2 * max_uv, u_star)
        u_new = np.where(u_new <= -max_uv, u_new + 2 * max_uv, u_new)
        decayed_v = trunc_shift(_shifted(v_rec) * keep_v, target.decay_shift)
        v_raw = decayed_v + u_rec + bias
        v_star = wrap_int32(wrap_int32(decayed_v + u_rec) + bias)
        v_clip = np.clip(v_star, -v_sat, v_sat)
        s_new = v_clip > vth
        v_new = np.where(s_new, 0, v_clip)
        int32 = (shifted_in != (a_in << target.act_shift)) | (u_star != u_raw) | (v_star != v_raw)
        wraps = (u_star > max_uv) | (u_star <= -max_uv)
        sats = v_star != v_clip
        ties = v_clip == vth
        consistent = bool(
            np.array_equal(u_new, u_rec)
            and np.array_equal(v_new, v_rec)
            and np.array_equal(s_new, spikes > 0)
        )
        total, rail, trunc, bias_rail = _rail_counts(graph, i)
        clip_w = clip_b = None
        if float_layers is not None:
            clip_w, clip_b = _float_clip_counts(graph, i, float_layers[i])
        u_peak = int(np.abs(u_star).max()) if u_star.size else 0
        v_peak = int(np.abs(v_star).max()) if v_star.size else 0
        out.append(
            LayerHealth(
                layer=i,
                name=layer.name,
                u_wraps=int(wraps.sum()),
                v_saturations=int(sats.sum()),
                threshold_ties=int(ties.sum()),
                int32_wraps=int(int32.sum()),
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
                first_u_wrap=_first(wraps),
                first_v_saturation=_first(sats),
                first_threshold_tie=_first(ties),
                consistent=consistent,
            )
        )
        s_in = spikes
    return tuple(out)
