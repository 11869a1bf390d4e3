"""A QGraph's values as a float IR graph (for exchange formats that hold real numbers).

In units of ``2^6`` of Lava's v (the threshold's mantissa unit), per layer::

    Dense weight   = W_eff * 2^weight_exp        (W_eff: clipped and LSB-truncated as Lava does)
    Conv weight    = W
    current_decay  = (du + 1) / 4096             voltage_decay = dv / 4096
    threshold      = vth                         bias          = (bias_mant << bias_exp) / 64

reset, compare and ``bias_start`` are kept. The float IR then computes the quantized network
without its integer rounding (decays toward zero, a negative ``weight_exp``'s floor, 24-bit
wrap and saturation): the same spikes wherever those do not act.
"""

from __future__ import annotations

import numpy as np

from lavabridge import ir
from lavabridge.errors import UnsupportedError
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset, QDense, QSynapse
from lavabridge.quant.qspatial import QConv
from lavabridge.semantics import InputKind

STAGE = "dequantize"


def _synapse(name: str, q: QSynapse, target: object) -> ir.Synapse:
    if isinstance(q, QDense):
        w = q.effective_weights(target).astype(np.float64) * 2.0**q.weight_exp  # type: ignore[arg-type]
        return ir.Dense(w, None, q.delays)
    if isinstance(q, QConv):
        return ir.Conv2d(q.weights.astype(np.float64), q.in_shape, q.stride, q.padding,
                         q.dilation, q.groups)  # fmt: skip
    raise UnsupportedError(f"layer '{name}': no float form of a {q.kind}", node=name, stage=STAGE,
                           supported=("Dense", "Conv"))  # fmt: skip


def dequantize(qgraph: QGraph) -> ir.Graph:
    """``qgraph`` as a float IR chain (module docstring); layer names are kept.

    Raises
    ------
    UnsupportedError
        A bias-input graph, or a neuron without a float form (netx's periodically reset ``CubaLIFReset``).
    """
    if qgraph.input_kind != InputKind.SPIKES:
        raise UnsupportedError(
            f"graph '{qgraph.name}': a bias-input graph (its input values are bias mantissas)",
            node=qgraph.name, stage=STAGE, supported=("spike input",),
        )  # fmt: skip
    layers = []
    for layer in qgraph.layers:
        q = layer.neuron
        if not isinstance(q, QCubaLIF) or isinstance(q, QCubaLIFReset):
            raise UnsupportedError(
                f"layer '{layer.name}': a {q.kind} (a periodic reset has no float IR form)",
                node=layer.name, stage=STAGE, supported=("CubaLIF",),
            )  # fmt: skip
        bias = q.effective_bias().astype(np.float64) / 64.0
        neuron = ir.CubaLIF(q.size, (q.du + 1) / 4096, q.dv / 4096, float(q.vth), bias,
                            q.reset, q.compare, q.bias_start)  # fmt: skip
        syn = None if layer.synapse is None else _synapse(layer.name, layer.synapse, qgraph.target)
        rec = (
            None
            if layer.recurrent is None
            else _synapse(layer.name, layer.recurrent, qgraph.target)
        )
        layers.append(ir.ChainLayer(layer.name, neuron, syn, rec))
    return ir.Graph.sequential(qgraph.n_in, *layers, name=qgraph.name)
