"""The float reference oracle: an IR graph run in float64 with the deployed discrete-time semantics.

Same update order, latency, delays, threshold compare and reset as the golden emulator and Lava
(equations in :mod:`lavabridge.ir.nodes`), but in real numbers: what the trained model means, before
quantization. Returns a :class:`~lavabridge.recording.Recording` (``backend="float"``; u and v in
float units when probed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lavabridge.conv import conv2d
from lavabridge.delays import DelayRing, split_by_delay
from lavabridge.dispatch import Table
from lavabridge.errors import InputError
from lavabridge.ir.chain import describe
from lavabridge.ir.graph import Graph
from lavabridge.ir.nodes import CubaLIF, Dense, Input, Neuron, Synapse
from lavabridge.ir.spatial import Spatial
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind, apply_reset, reset_bias

F64 = npt.NDArray[np.float64]


class FloatSynapse(Protocol):
    """A synapse in float64, stepped: ``send()`` this step's currents, then ``receive`` spikes.

    ``send(with_bias)`` adds the synapse's bias only when asked (the target's ``bias_start``)."""

    def send(self, with_bias: bool = True) -> F64: ...

    def receive(self, s: F64) -> None: ...


class DenseFloat:
    """A Dense with its delay line (:mod:`lavabridge.delays`): ``I[t] = sum_j W_ij s_j[t-1-D_ij] + b``."""

    def __init__(self, dense: Dense, batch: int) -> None:
        w = np.asarray(dense.weight, np.float64)
        self.buckets = [(d, w_d.T.copy()) for d, w_d in split_by_delay(w, dense.delay)]
        self.bias = None if dense.bias is None else np.asarray(dense.bias, np.float64)
        self.ring = DelayRing(dense.max_delay, (batch, dense.n_out), np.float64)

    def send(self, with_bias: bool = True) -> F64:
        out = self.ring.send()
        return out if self.bias is None or not with_bias else out + self.bias

    def receive(self, s: F64) -> None:
        for d, wt in self.buckets:
            self.ring.receive(d, s @ wt)


class SpatialFloat:
    """A conv or pool (:mod:`lavabridge.ir.spatial`): ``I[t] = conv(s[t-1]) + b`` (one step)."""

    def __init__(self, node: Spatial, batch: int) -> None:
        self.geom = node.geometry
        self.kernel = node.kernel()
        bias = getattr(node, "bias", None)
        hw = self.geom.out_shape[1] * self.geom.out_shape[2]
        self.bias = None if bias is None else np.repeat(np.asarray(bias, np.float64), hw)
        self.ring = DelayRing(0, (batch, node.n_out), np.float64)

    def send(self, with_bias: bool = True) -> F64:
        out = self.ring.send()
        return out if self.bias is None or not with_bias else out + self.bias

    def receive(self, s: F64) -> None:
        self.ring.receive(0, conv2d(self.geom, s, self.kernel))


NeuronStep = Callable[..., tuple[F64, F64, npt.NDArray[np.bool_]]]
"""``(neuron, u, v, current, extra_bias, with_bias) -> (u, v, spikes)``: one step of a kind."""


def cuba_step(
    neuron: CubaLIF,
    u: F64,
    v: F64,
    current: F64,
    extra_bias: F64 | None = None,
    with_bias: bool = True,
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """One step of :class:`~lavabridge.ir.CubaLIF` in float64 (equations in its docstring and in
    :class:`~lavabridge.semantics.Reset`); ``with_bias`` is false before its ``bias_start``."""
    u = (1.0 - neuron.current_decay) * u + current
    bias = np.asarray(neuron.bias, np.float64) if with_bias else np.zeros(neuron.size)
    if extra_bias is not None:
        bias = bias + extra_bias
    w = (1.0 - neuron.voltage_decay) * v + u + bias
    th = float(neuron.threshold)
    pre = reset_bias(neuron.reset, neuron.compare, v, th)
    if pre is not None:
        w = w + pre
    v, s = apply_reset(neuron.reset, neuron.compare, w, v, th)
    return u, v, s


SYNAPSES: Table[Callable[..., FloatSynapse]] = Table(
    "float reference", {Dense: DenseFloat, Spatial: SpatialFloat}
)
NEURONS: Table[NeuronStep] = Table("float reference", {CubaLIF: cuba_step})


def _input(graph: Graph, x: npt.ArrayLike, num_steps: int | None) -> tuple[F64, int, F64 | None]:
    """(spikes [B, T, n] or zeros, T, bias input [B, n] or None), checked against the graph."""
    inp = graph.nodes[graph.input_name]
    if not isinstance(inp, Input):  # pragma: no cover - a Graph has exactly one Input node
        raise InputError(f"graph '{graph.name}' has no Input node")
    arr = np.asarray(x, np.float64)
    n = graph.input_size
    if inp.mode == InputKind.BIAS:
        arr = arr[None] if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[1] != n or not num_steps or num_steps < 1:
            raise InputError(
                f"input: a bias-input graph takes graded values [B, {n}] and num_steps >= 1, "
                f"got shape {np.shape(x)} and num_steps={num_steps}"
            )
        return np.zeros((arr.shape[0], num_steps, 0)), num_steps, inp.gain * arr
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or arr.shape[2] != n:
        raise InputError(f"input: spikes must be [B, T, {n}], got {np.shape(x)}")
    return arr, arr.shape[1], None


def _synapse(name: str, node: Synapse | None, batch: int) -> FloatSynapse | None:
    return None if node is None else SYNAPSES.of(node, describe(name, node))(node, batch)


def interpret(
    graph: Graph, x: npt.ArrayLike, *, num_steps: int | None = None, probe_uv: bool = False
) -> Recording:
    """Run ``graph`` in float64: binary spikes ``[B, T, n_in]`` (or ``[T, n_in]``), or, for a
    bias-input graph, graded values ``[B, n_in]`` held for ``num_steps`` steps.

    Raises
    ------
    UnsupportedError
        A node kind the float reference has no entry for (names the node and the kinds it has).
    """
    t0 = time.perf_counter()
    arr, T, bias_in = _input(graph, x, num_steps)
    B = arr.shape[0]
    chain = graph.layer_chain()
    steps = [NEURONS.of(ly.neuron, describe(ly.name, ly.neuron)) for ly in chain]
    syn = [_synapse(ly.synapse_name, ly.synapse, B) for ly in chain]
    rec = [_synapse(ly.recurrent_name or "", ly.recurrent, B) for ly in chain]
    sizes = [layer.neuron.size for layer in chain]
    neurons: list[Neuron] = [layer.neuron for layer in chain]
    starts = [int(getattr(n, "bias_start", 0)) for n in neurons]
    u = [np.zeros((B, n)) for n in sizes]
    v = [np.zeros((B, n)) for n in sizes]
    spikes = [np.zeros((B, T, n), np.uint8) for n in sizes]
    us = [np.zeros((B, T, n)) for n in sizes] if probe_uv else None
    vs = [np.zeros((B, T, n)) for n in sizes] if probe_uv else None
    for t in range(T):
        s_prev = arr[:, t] if bias_in is None else np.zeros((B, 0))
        for i in range(len(chain)):
            current = np.zeros((B, sizes[i]))
            active = t >= starts[i]
            d = syn[i]
            if d is not None:
                current = d.send(active)
                d.receive(s_prev)
            r = rec[i]
            if r is not None:
                current = current + r.send(active)
            extra = bias_in if i == 0 else None
            u[i], v[i], s = steps[i](neurons[i], u[i], v[i], current, extra, active)
            if r is not None:
                r.receive(s.astype(np.float64))
            spikes[i][:, t] = s
            if us is not None and vs is not None:
                us[i][:, t] = u[i]
                vs[i][:, t] = v[i]
            s_prev = s.astype(np.float64)
    return Recording.from_layers(spikes, us, vs, "float", {"run": time.perf_counter() - t0})
