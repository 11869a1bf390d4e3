"""The benchmark networks, their inputs, and the operation counts the suite reports.

Networks (dense CUBA-LIF chains in Lava's integer units, fixed seeds):

* ``784-128-10`` and ``784-512-512-10``: feed-forward;
* ``64-256r-10``: 64 inputs, 256 hidden neurons with a 256x256 recurrent Dense, 10 outputs.

Weights are uniform 8-bit mantissas (mixed sign, ``[-128, 127]``; recurrent ``[-64, 63]``),
``du = 1023`` (current keeps 3/4 per step), ``dv = 511``, small random biases, thresholds chosen for
hidden rates of roughly 10-25 % on Bernoulli(0.1) input spikes. The float model is the same
network dequantized into :class:`lavabridge.nn.SpikingNet` (weights ``W 2^e / vth``, threshold 1).

Operation counts
----------------
*dense MACs* = ``B * T * sum over connections of n_in * n_out`` (what a GEMM implementation
performs, recurrent connections included).
*synaptic ops* = weight reads an event-driven implementation performs:
``sum over samples, steps and connections of (presynaptic spikes) * fan-out``, counted from the
spikes the row itself produced (input spikes into layer 0, each layer's spikes into the next
layer and into its recurrent Dense; the last layer's spikes go nowhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer


@dataclass(frozen=True)
class NetSpec:
    """A benchmark network: layer widths (input first), recurrence of the hidden layers."""

    name: str
    sizes: tuple[int, ...]
    recurrent: bool = False
    vth_hidden: int = 900
    vth_out: int = 1500

    @property
    def connections(self) -> list[tuple[int, int]]:
        """``(n_in, n_out)`` of every Dense, recurrent ones included."""
        out = []
        for i in range(1, len(self.sizes)):
            out.append((self.sizes[i - 1], self.sizes[i]))
            if self.recurrent and i < len(self.sizes) - 1:
                out.append((self.sizes[i], self.sizes[i]))
        return out

    def dense_macs(self, batch: int, steps: int) -> int:
        """Multiply-adds of a dense implementation for ``batch`` samples of ``steps`` steps."""
        return batch * steps * sum(a * b for a, b in self.connections)


NETWORKS: dict[str, NetSpec] = {
    spec.name: spec
    for spec in (
        NetSpec("784-128-10", (784, 128, 10)),
        NetSpec("784-512-512-10", (784, 512, 512, 10)),
        NetSpec("64-256r-10", (64, 256, 10), recurrent=True, vth_hidden=700),
    )
}


def build_qgraph(spec: NetSpec, seed: int = 0) -> QGraph:
    """The quantized network of ``spec`` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    layers = []
    n_layers = len(spec.sizes) - 1
    for i in range(n_layers):
        n_in, n = spec.sizes[i], spec.sizes[i + 1]
        last = i == n_layers - 1
        neuron = QCubaLIF(
            n,
            du=1023,
            dv=511,
            vth=spec.vth_out if last else spec.vth_hidden,
            bias_mant=rng.integers(-20, 21, n),
            bias_exp=np.full(n, 6),
        )
        synapse = QDense(rng.integers(-128, 128, (n, n_in)))
        recurrent = QDense(rng.integers(-64, 64, (n, n))) if spec.recurrent and not last else None
        layers.append(QLayer(f"layer{i}", neuron, synapse, recurrent))
    return QGraph(spec.sizes[0], tuple(layers), name=spec.name)


def make_input(spec: NetSpec, batch: int, steps: int, seed: int = 1) -> npt.NDArray[np.uint8]:
    """Bernoulli(0.1) input spikes ``[batch, steps, n_in]`` (uint8), the same for every backend."""
    rng = np.random.default_rng([seed, batch, steps, spec.sizes[0]])
    out = np.empty((batch, steps, spec.sizes[0]), np.uint8)
    for b0 in range(0, batch, 256):  # bounded temporaries for large batches
        b1 = min(batch, b0 + 256)
        out[b0:b1] = rng.random((b1 - b0, steps, spec.sizes[0]), dtype=np.float32) < 0.1
    return out


def synaptic_ops(spec: NetSpec, x: np.ndarray, spikes: list[np.ndarray]) -> int:
    """Event-driven weight reads for input ``x`` and per-layer spike counts or arrays."""
    counts = [int(np.asarray(s).sum(dtype=np.int64)) for s in spikes]
    ops = int(np.asarray(x).sum(dtype=np.int64)) * spec.sizes[1]
    for i in range(len(spec.sizes) - 2):  # hidden layers: into the next layer (+ recurrent)
        fan_out = spec.sizes[i + 2] + (spec.sizes[i + 1] if spec.recurrent else 0)
        ops += counts[i] * fan_out
    return ops


def build_torch(spec: NetSpec, graph: QGraph) -> object:
    """The float network of ``graph`` as a :class:`lavabridge.nn.SpikingNet` (no gradients)."""
    import torch
    from torch import nn

    from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet

    def linear(dense: QDense, vth: int) -> nn.Linear:
        w = dense.effective_weights(graph.target) * 2.0**dense.weight_exp / vth
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight.data = torch.tensor(w, dtype=torch.float32)
        return lin

    layers = []
    for layer in graph.layers:
        q = layer.neuron
        neuron = CubaLIF(
            q.size, current_decay=(q.du + 1) / 4096, voltage_decay=q.dv / 4096, threshold=1.0
        )
        neuron.bias.data = torch.tensor(q.effective_bias() / (q.vth << 6), dtype=torch.float32)
        assert layer.synapse is not None  # benchmark graphs take spikes
        rec = linear(layer.recurrent, q.vth) if layer.recurrent is not None else None
        layers.append(SpikingLayer(neuron, linear(layer.synapse, q.vth), rec))
    net = SpikingNet(*layers)
    net.eval()
    return net
