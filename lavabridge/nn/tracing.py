"""``trace``: a trained :class:`~lavabridge.nn.SpikingNet` -> the float IR (:class:`lavabridge.ir.Graph`).

The IR carries exactly the semantics the torch layers compute: decays are the 12-bit values the
layers use (``current_decay = (du + 1) / 4096``, ``voltage_decay = dv / 4096``), one step of latency
per Dense hop, the neurons' bias, threshold, reset and compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lavabridge.ir import ChainLayer, Compare, Graph, Reset
from lavabridge.ir import CubaLIF as IrCubaLIF
from lavabridge.ir import Dense as IrDense
from lavabridge.nn.layers import CubaLIF, SpikingNet


def _dense(linear: Any) -> IrDense:
    w = linear.weight.detach().cpu().double().numpy()
    b = None if linear.bias is None else linear.bias.detach().cpu().double().numpy()
    return IrDense(weight=w, bias=b)


def _neuron(neuron: CubaLIF) -> IrCubaLIF:
    return IrCubaLIF(
        size=neuron.size,
        current_decay=(neuron.du + 1) / 4096,
        voltage_decay=neuron.dv / 4096,
        threshold=float(neuron.threshold),
        bias=neuron.bias.detach().cpu().double().numpy().astype(np.float64),
        reset=Reset(neuron.reset),
        compare=Compare(neuron.compare),
    )


def trace(net: SpikingNet, name: str = "model") -> Graph:
    """The float IR of ``net`` (layers named ``layer0``, ``layer1``, ...).

    A bias-driven first layer (``SpikingLayer(neuron, synapse=None, input_gain=g)``) becomes a
    bias-mode :class:`~lavabridge.ir.Input` with ``gain=g`` driving ``layer0`` directly.
    """
    layers = []
    for i, layer in enumerate(net.layers):
        syn = None if layer.synapse is None else _dense(layer.synapse)
        rec = None if layer.recurrent is None else _dense(layer.recurrent)
        layers.append(ChainLayer(f"layer{i}", _neuron(layer.neuron), syn, rec))
    first = net.layers[0]
    if first.synapse is None:
        return Graph.sequential(first.neuron.size, *layers, name=name, input_gain=first.input_gain)
    return Graph.sequential(first.synapse.in_features, *layers, name=name)
