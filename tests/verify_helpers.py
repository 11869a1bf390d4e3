"""Shared builders of the verification tests: a small QGraph, its input, fault injection."""

from __future__ import annotations

import dataclasses

import numpy as np

from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer

T_STEPS, BATCH = 16, 4


def verify_graph() -> QGraph:
    rng = np.random.default_rng(3)
    a = QCubaLIF(16, du=1024, dv=512, vth=3000, bias_mant=rng.integers(-30, 30, 16))
    b = QCubaLIF(6, du=1024, dv=256, vth=6000)
    return QGraph(
        12,
        (
            QLayer("hidden", a, QDense(rng.integers(-60, 128, (16, 12)) * 2, weight_exp=1)),
            QLayer("out", b, QDense(rng.integers(-64, 128, (6, 16)) * 2, weight_exp=1)),
        ),
        name="faults",
    )


def verify_input() -> np.ndarray:
    return (np.random.default_rng(5).random((BATCH, T_STEPS, 12)) < 0.3).astype(np.uint8)


def with_layer(graph: QGraph, i: int, **changes: object) -> QGraph:
    """A copy of ``graph`` whose layer ``i`` has neuron / synapse fields replaced."""
    layer = graph.layers[i]
    neuron_keys = {f.name for f in dataclasses.fields(QCubaLIF)}
    neuron = dataclasses.replace(
        layer.neuron, **{k: v for k, v in changes.items() if k in neuron_keys}
    )
    synapse = layer.synapse
    if "weights" in changes and synapse is not None:
        synapse = dataclasses.replace(synapse, weights=changes["weights"])
    layers = list(graph.layers)
    layers[i] = dataclasses.replace(layer, neuron=neuron, synapse=synapse)
    return dataclasses.replace(graph, layers=tuple(layers))


def first_of(mask: np.ndarray) -> tuple[int, int, int]:
    """(sample, step, neuron) of the first True entry in (step, sample, neuron) order."""
    b, t, n = min(map(tuple, np.argwhere(mask)), key=lambda e: (e[1], e[0], e[2]))
    return int(b), int(t), int(n)
