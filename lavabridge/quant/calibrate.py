"""Calibration: the peaks of u and v the float reference reaches on representative input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.errors import LavaBridgeError
from lavabridge.ir import Graph, Input, interpret
from lavabridge.ir.chain import describe
from lavabridge.quant.lower import NEURONS


@dataclass(frozen=True)
class Calibration:
    """Peak ``|u|`` and a bound on the peak pre-reset ``|v|`` of one layer, in float units."""

    u_peak: float
    v_peak: float


def input_gain(graph: Graph) -> float:
    """The bias-input gain of ``graph``'s Input node (1 for spike input)."""
    inp = graph.nodes[graph.input_name]
    return float(inp.gain) if isinstance(inp, Input) else 1.0


def calibrate(graph: Graph, x: npt.ArrayLike, num_steps: int | None = None) -> list[Calibration]:
    """Per layer: peak ``|u|`` and ``max(|v|, threshold) + |u| + |bias| (+ |gain x|)`` bounds.

    ``v`` is recorded after the reset, so the pre-reset peak is bounded by the threshold (or the
    recorded ``|v|``) plus one step's drive: ``u``, the bias and, for a bias-driven input layer,
    the input itself.
    """
    rec = interpret(graph, x, num_steps=num_steps, probe_uv=True)
    if rec.u is None or rec.v is None:  # pragma: no cover - probe_uv=True records both
        raise LavaBridgeError("calibration needs u and v of the float reference")
    out = []
    for layer, u, v in zip(graph.layer_chain(), rec.u, rec.v, strict=True):
        rule = NEURONS.of(layer.neuron, describe(layer.name, layer.neuron))
        u_peak = float(np.abs(u).max()) if u.size else 0.0
        bias_peak = float(np.abs(rule.bias(layer.neuron)).max())
        in_peak = 0.0
        if layer.synapse is None:
            in_peak = float(np.abs(np.asarray(x, np.float64)).max()) * input_gain(graph)
        threshold = rule.threshold(layer.neuron)
        v_peak = max(float(np.abs(v).max()), threshold) + u_peak + bias_peak + in_peak
        out.append(Calibration(u_peak, v_peak))
    return out
