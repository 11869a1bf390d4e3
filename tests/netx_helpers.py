"""Shared builders of the netx tests: hand-written .net files and netx-expressible QGraphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer

IF_NEURON = {"type": b"CUBA", "iDecay": 4096, "vDecay": 4096, "vThMant": (1 << 18) - 1}


def write_raw(path: Path, layers: list[dict[str, Any]]) -> Path:
    """A .net file written by hand (what another tool, e.g. slayer, would write)."""
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, spec in enumerate(layers):
            g = group.create_group(str(i))
            for key, value in spec.items():
                if key == "neuron":
                    sub = g.create_group("neuron")
                    for k, v in value.items():
                        sub.create_dataset(k, data=v)
                elif key == "type":
                    g.create_dataset("type", data=np.array([value.encode()], "S10"))
                else:
                    g.create_dataset(key, data=value)
    return path


# ----------------------------------------------------------------------------- random graphs
FAMILIES = ("int8_even", "nwb9", "exc_shift", "inh", "mult8")


def dense_of(rng: np.random.Generator, shape: tuple[int, int], family: str) -> QDense:
    """Connections netx expresses exactly, in the representations quantizers produce."""
    if family == "int8_even":  # int8 recipe: 2*w with weight_exp=-1
        return QDense(2 * rng.integers(-128, 128, shape), weight_exp=-1)
    if family == "nwb9":  # all 9 bits, the full mixed range
        w = rng.integers(-256, 255, shape)
        w.flat[0] = -256
        return QDense(w, num_weight_bits=9)
    if family == "exc_shift":
        return QDense(rng.integers(0, 64, shape), weight_exp=2)
    if family == "inh":
        return QDense(-rng.integers(1, 256, shape))
    return QDense(8 * rng.integers(-32, 32, shape), weight_exp=-3, num_weight_bits=9)


def neuron_of(rng: np.random.Generator, n: int) -> QCubaLIF:
    exp = int(rng.choice([3, 6, 7]))  # stored at netx's bias_exp=6 as mant << exp >> 6
    mant = rng.integers(-60, 60, n) * (1 << max(0, 6 - exp))
    return QCubaLIF(
        n,
        du=int(rng.integers(-1, 4096)),
        dv=int(rng.integers(0, 4097)),
        vth=int(rng.integers(1, 600)),
        bias_mant=mant,
        bias_exp=exp,
    )


def graph_of(seed: int, kind: InputKind = InputKind.SPIKES) -> QGraph:
    """1-3 layers, with bias, delays and recurrent connections (jointly optimisable)."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(3, 20))
    layers: list[QLayer] = []
    if kind == InputKind.BIAS:
        input_neuron = QCubaLIF(n_in, int(rng.integers(-1, 4096)), 100, 50, bias_exp=6)
        layers.append(QLayer("input", input_neuron))
    prev = n_in
    for i in range(int(rng.integers(1, 4))):
        n = int(rng.integers(2, 16))
        family = str(rng.choice(FAMILIES))
        syn = dense_of(rng, (n, prev), family)
        rec = None
        if rng.random() < 0.4:  # the joint matrix stays mixed: both parts from mixed families
            family = str(rng.choice(["int8_even", "nwb9"]))
            syn, rec = dense_of(rng, (n, prev), family), dense_of(rng, (n, n), family)
        elif rng.random() < 0.5:
            syn = QDense(syn.weights, syn.weight_exp, syn.num_weight_bits, None,
                         rng.integers(0, 6, (n, prev)))  # fmt: skip
        layers.append(QLayer(f"l{i}", neuron_of(rng, n), syn, rec))
        prev = n
    return QGraph(n_in, tuple(layers), input_kind=kind, name=f"g{seed}")


def delayed_rec_graph() -> QGraph:
    """dense_rec with delays: one shared delay matrix and a joint weight_exp of 0."""
    rng = np.random.default_rng(7)
    d = rng.integers(0, 4, (10, 10))
    syn, rec = dense_of(rng, (10, 10), "nwb9"), dense_of(rng, (10, 10), "nwb9")
    syn = QDense(syn.weights, 0, 9, None, d)
    rec = QDense(rec.weights // 2, 0, 9, None, d)
    out = QDense(2 * rng.integers(-128, 128, (4, 10)), weight_exp=-1)
    neuron = QCubaLIF(10, 3000, 100, 250, bias_mant=rng.integers(-99, 99, 10), bias_exp=6)
    out_neuron = QCubaLIF(4, du=2000, dv=50, vth=30)
    return QGraph(10, (QLayer("rec", neuron, syn, rec), QLayer("out", out_neuron, out)))


def lossy_exact_graph() -> QGraph:
    """{0, -1} weights: Lava runs them as -128/256 per spike, which floor() makes exact with at
    most one such synapse per row."""
    w = np.zeros((4, 6), np.int64)
    w[np.arange(4), [0, 2, 3, 5]] = -1
    neuron = QCubaLIF(4, du=-1, dv=4096, vth=10, bias_mant=20, bias_exp=6)
    return QGraph(6, (QLayer("a", neuron, QDense(w)),))


def spikes_of(rng: np.random.Generator, graph: QGraph, batch: int, steps: int) -> np.ndarray:
    return (rng.random((batch, steps, graph.n_in)) < 0.4).astype(np.int8)


def input_of(graph: QGraph, seed: int, batch: int = 2, steps: int = 20) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(1000 + seed)
    if graph.input_kind == InputKind.BIAS:
        return rng.integers(-40, 200, (batch, graph.n_in)), steps
    return spikes_of(rng, graph, batch, steps), steps
