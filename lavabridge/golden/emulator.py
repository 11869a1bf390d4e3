"""The golden emulator: a QGraph run in integers, bit-exact with Lava's ``fixed_pt`` CPU models.

One time step ``t`` (1-based) of Lava's ``LoihiProtocol`` with every process in its SPK phase::

    for layer l in order:
        a_in   = dense_l.send() + recurrent_l.send()     # accumulated at step t-1 (1 + delay ago)
        dense_l.receive(s_{l-1}(t))                      # s_{-1}(t) = input column t-1
        u, v, s_l(t) = lif_step(u, v, a_in)
        recurrent_l.receive(s_l(t))

Every sample starts from zero state (u = v = 0, empty Dense buffers). The batch is processed at
once; the Dense sums run on BLAS where a bound proves float exactness (see :class:`DenseOp`).
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from lavabridge.golden.arith import DenseOp, DenseState, LifParams, bias_from_mantissa, lif_step
from lavabridge.inputs import prepare_input
from lavabridge.quant.qgraph import InputKind, QGraph
from lavabridge.recording import Recording


def emulate(
    graph: QGraph,
    x: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    probe_uv: bool = False,
    exact_int: bool = False,
) -> Recording:
    """Run ``graph`` on a batch and return spikes (and u, v when ``probe_uv``) of every layer.

    Parameters
    ----------
    graph : QGraph
    x : array
        Spikes ``[B, T, n_in]`` / ``[T, n_in]``, or bias mantissas ``[B, n_in]`` for a bias-input
        graph (then ``num_steps`` is required).
    num_steps : int, optional
        Number of steps T (taken from the spikes when omitted).
    probe_uv : bool
        Also record u and v at the end of every step (memory: 16 bytes per neuron-step-sample).
    exact_int : bool
        Use the int64 reference path for the Dense sums instead of BLAS.

    Returns
    -------
    Recording
        ``backend="golden"``; see :mod:`lavabridge.recording` for the indexing convention.
    """
    t0 = time.perf_counter()
    batch = prepare_input(graph, x, num_steps)
    B, T = batch.batch, batch.num_steps
    target = graph.target

    dense: list[DenseState | None] = []
    rec: list[DenseState | None] = []
    lif: list[LifParams] = []
    for layer in graph.layers:
        syn = layer.synapse
        dense.append(
            DenseState(DenseOp.build(syn, target, exact_int=exact_int), B) if syn else None
        )
        rd = layer.recurrent
        rec.append(DenseState(DenseOp.build(rd, target, exact_int=exact_int), B) if rd else None)
        lif.append(LifParams.build(layer.neuron, target))

    input_bias = None
    if batch.kind == InputKind.BIAS:
        input_bias = bias_from_mantissa(batch.data, graph.layers[0].neuron.bias_exp[None, :])

    sizes = graph.sizes
    u = [np.zeros((B, n), np.int64) for n in sizes]
    v = [np.zeros((B, n), np.int64) for n in sizes]
    spikes = [np.zeros((B, T, n), np.uint8) for n in sizes]
    us = [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None
    vs = [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None
    zeros_in = [np.zeros((B, n), np.int64) for n in sizes]

    for t in range(T):
        s_prev: npt.NDArray[np.generic] | None = (
            batch.data[:, t] if batch.kind == InputKind.SPIKES else None
        )
        for i in range(len(sizes)):
            a_in = zeros_in[i]
            d, r = dense[i], rec[i]
            if d is not None:
                a_in = d.send()
                assert s_prev is not None  # a layer with a synapse always has an input
                d.receive(s_prev)
            if r is not None:
                a_in = a_in + r.send()
            bias = input_bias if i == 0 and input_bias is not None else None
            u[i], v[i], s = lif_step(u[i], v[i], a_in, lif[i], bias)
            if r is not None:
                r.receive(s)
            spikes[i][:, t] = s
            if us is not None and vs is not None:
                us[i][:, t] = u[i]
                vs[i][:, t] = v[i]
            s_prev = s

    elapsed = time.perf_counter() - t0
    return Recording(
        spikes=tuple(spikes),
        u=tuple(us) if us is not None else None,
        v=tuple(vs) if vs is not None else None,
        backend="golden",
        timings={"run": elapsed},
    )
