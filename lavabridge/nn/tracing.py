"""``trace``: a trained :class:`~lavabridge.nn.SpikingNet` -> the float IR (:class:`lavabridge.ir.Graph`).

The IR carries exactly the semantics the torch layers compute: decays are the 12-bit values the
layers use (``current_decay = (du + 1) / 4096``, ``voltage_decay = dv / 4096``, from the target
table), one step of latency per synapse hop, the neurons' bias, threshold, reset and compare.

Two dispatch tables map torch module types to IR nodes: :data:`SYNAPSES` (``nn.Linear`` ->
:class:`~lavabridge.ir.Dense`; lavabridge's ``Conv2d`` / ``SumPool2d`` / ``AvgPool2d`` -> their IR
nodes) and :data:`NEURONS` (:class:`~lavabridge.nn.CubaLIF` ->
:class:`~lavabridge.ir.CubaLIF`). A module type without an entry is refused, naming its path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from lavabridge import ir
from lavabridge.dispatch import Table
from lavabridge.nn.layers import CubaLIF, SpikingNet
from lavabridge.nn.spatial import AvgPool2d, Conv2d, SumPool2d


def _dense(linear: nn.Linear) -> ir.Dense:
    w = linear.weight.detach().cpu().double().numpy()
    b = None if linear.bias is None else linear.bias.detach().cpu().double().numpy()
    return ir.Dense(weight=w, bias=b)


def _neuron(neuron: CubaLIF) -> ir.CubaLIF:
    return ir.CubaLIF(
        size=neuron.size,
        current_decay=neuron.target.current_decay(neuron.du),
        voltage_decay=neuron.target.voltage_decay(neuron.dv),
        threshold=float(neuron.threshold),
        bias=neuron.bias.detach().cpu().double().numpy().astype(np.float64),
        reset=neuron.reset,
        compare=neuron.compare,
    )


def _conv(conv: Conv2d) -> ir.Conv2d:
    g = conv.geometry
    b = None if conv.bias is None else conv.bias.detach().cpu().double().numpy()
    w = conv.weight.detach().cpu().double().numpy()
    return ir.Conv2d(w, g.in_shape, g.stride, g.padding, g.dilation, g.groups, b)


def _pool(pool: SumPool2d) -> ir.SumPool2d:
    cls = ir.AvgPool2d if isinstance(pool, AvgPool2d) else ir.SumPool2d
    return cls(pool.kernel_size, pool.in_shape, pool.stride, pool.padding)


SYNAPSES: Table[Callable[[Any], ir.Synapse]] = Table(
    "trace", {nn.Linear: _dense, Conv2d: _conv, SumPool2d: _pool, AvgPool2d: _pool}
)
NEURONS: Table[Callable[[Any], ir.Neuron]] = Table("trace", {CubaLIF: _neuron})


def _synapse(module: nn.Module | None, path: str) -> ir.Synapse | None:
    if module is None:
        return None
    return SYNAPSES.of(module, f"module '{path}' ({type(module).__name__})")(module)


def trace(net: SpikingNet, name: str = "model") -> ir.Graph:
    """The float IR of ``net`` (layers named ``layer0``, ``layer1``, ...).

    A bias-driven first layer (``SpikingLayer(neuron, synapse=None, input_gain=g)``) becomes a
    bias-mode :class:`~lavabridge.ir.Input` with ``gain=g`` driving ``layer0`` directly.

    Raises
    ------
    UnsupportedError
        A module type the trace tables have no entry for (names the module path).
    """
    layers = []
    for i, layer in enumerate(net.layers):
        path = f"layers.{i}"
        neuron = NEURONS.of(layer.neuron, f"module '{path}.neuron' ({type(layer.neuron).__name__})")
        syn = _synapse(layer.synapse, f"{path}.synapse")
        rec = _synapse(layer.recurrent, f"{path}.recurrent")
        layers.append(ir.ChainLayer(f"layer{i}", neuron(layer.neuron), syn, rec))
    first = net.layers[0]
    if first.synapse is None:
        return ir.Graph.sequential(
            first.neuron.size, *layers, name=name, input_gain=first.input_gain
        )
    return ir.Graph.sequential(int(first.synapse.in_features), *layers, name=name)
