"""QGraph -> a graph of real Lava processes (``Dense`` / ``DelayDense`` / ``LIF``).

:func:`build_network` creates the network processes only (what a user deploys).
:func:`build_streaming_graph` adds lavabridge's I/O and control processes around it for the CPU
simulator: a :class:`MemSource` for input spikes, a :class:`SpikeRecorder` per layer, and
:class:`StateTap` processes that reset ``u``, ``v`` and every ``a_buff`` at sample boundaries
(and record ``u``, ``v`` when probing), so many samples stream through one compiled runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lavabridge.errors import UnsupportedError
from lavabridge.quant.qgraph import InputKind, QCubaLIF, QDense, QGraph, ResetMode


@dataclass
class LavaNetwork:
    """The Lava processes of a QGraph, per layer.

    Attributes
    ----------
    neurons : list of LIF processes
    synapses : list of Dense / DelayDense processes (``None`` for a bias-driven input layer)
    recurrents : list of Dense / DelayDense processes or ``None``
    inp : the InPort input spikes connect to (layer 0's synapse), ``None`` for bias input
    """

    neurons: list[Any] = field(default_factory=list)
    synapses: list[Any] = field(default_factory=list)
    recurrents: list[Any] = field(default_factory=list)
    inp: Any = None

    def connections(self) -> list[Any]:
        """Every Dense / DelayDense process."""
        return [p for p in (*self.synapses, *self.recurrents) if p is not None]


def make_dense(dense: QDense, name: str) -> Any:
    """A Lava ``Dense`` (or ``DelayDense`` when ``dense`` has delays) with the exact integers."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.utils.weightutils import SignMode as LavaSignMode

    kwargs: dict[str, Any] = {
        "weights": dense.weights.astype(np.int32),
        "weight_exp": int(dense.weight_exp),
        "num_weight_bits": int(dense.num_weight_bits),
        "sign_mode": LavaSignMode(int(dense.mode)),
        "name": name,
    }
    if dense.delays is None:
        return Dense(**kwargs)
    return DelayDense(delays=dense.delays.astype(int), max_delay=dense.max_delay, **kwargs)


def make_lif(neuron: QCubaLIF, name: str, bias_mant: np.ndarray | None = None) -> Any:
    """A Lava ``LIF`` with Python-int decays/threshold (Lava keeps those objects as given)."""
    from lava.proc.lif.process import LIF

    if neuron.reset != ResetMode.ZERO:
        raise UnsupportedError(f"{name}: Lava's LIF has no reset mode {neuron.reset.value!r}")
    bm = neuron.bias_mant if bias_mant is None else bias_mant
    return LIF(
        shape=(neuron.size,),
        du=int(neuron.du),
        dv=int(neuron.dv),
        vth=int(neuron.vth),
        bias_mant=bm.astype(np.int32),
        bias_exp=neuron.bias_exp.astype(np.int32),
        name=name,
    )


def build_network(graph: QGraph, first_bias: np.ndarray | None = None) -> LavaNetwork:
    """Create and connect the network's Lava processes.

    Parameters
    ----------
    graph : QGraph
    first_bias : array, optional
        For a bias-input graph: the initial ``bias_mant`` of layer 0 (the first sample's input).
    """
    net = LavaNetwork()
    prev_out = None
    for i, layer in enumerate(graph.layers):
        init_bias = first_bias if (i == 0 and graph.input_kind == InputKind.BIAS) else None
        lif = make_lif(layer.neuron, f"{layer.name}.lif", init_bias)
        syn = None
        if layer.synapse is not None:
            syn = make_dense(layer.synapse, f"{layer.name}.dense")
            if prev_out is None:
                net.inp = syn.s_in
            else:
                prev_out.connect(syn.s_in)
            syn.a_out.connect(lif.a_in)
        rec = None
        if layer.recurrent is not None:
            rec = make_dense(layer.recurrent, f"{layer.name}.recurrent")
            lif.s_out.connect(rec.s_in)
            rec.a_out.connect(lif.a_in)
        net.neurons.append(lif)
        net.synapses.append(syn)
        net.recurrents.append(rec)
        prev_out = lif.s_out
    return net


@dataclass
class StreamingGraph:
    """A network plus lavabridge's streaming I/O, and the files they share with the host."""

    network: LavaNetwork
    source: Any  # MemSource or None (bias input)
    recorders: list[Any]
    taps: list[Any]
    files: dict[str, Path]
    capacity: int  # samples per file

    def entry(self) -> Any:
        """A process to call ``run`` on (any process of the connected graph)."""
        return self.source if self.source is not None else self.network.neurons[0]


def _memfile(path: Path, rows: int, width: int) -> Path:
    np.memmap(path, dtype=np.int32, mode="w+", shape=(rows, width)).flush()
    return path


def build_streaming_graph(
    graph: QGraph,
    num_steps: int,
    capacity: int,
    workdir: Path,
    *,
    probe_uv: bool = False,
    first_bias: np.ndarray | None = None,
) -> StreamingGraph:
    """Build the network and the I/O around it; files of ``capacity`` samples live in ``workdir``."""
    from lavabridge.processes.memsource.process import MemSource
    from lavabridge.processes.recorder.process import SpikeRecorder
    from lavabridge.processes.statetap.process import StateTap

    T = num_steps
    rows = capacity * T
    net = build_network(graph, first_bias)
    files: dict[str, Path] = {}
    source = None
    taps: list[Any] = []
    if graph.input_kind == InputKind.SPIKES:
        files["input"] = _memfile(workdir / "input.i32", rows, graph.n_in)
        source = MemSource(shape=(graph.n_in,), path=str(files["input"]), capacity=rows)
        source.s_out.connect(net.inp)
    else:
        # one spare row: the next call's first sample is loaded while the current one runs
        files["bias"] = _memfile(workdir / "bias.i32", capacity + 1, graph.n_in)
        taps.append(
            StateTap(
                var=net.neurons[0].bias_mant,
                period=T,
                load_path=str(files["bias"]),
                load_rows=capacity + 1,
            )
        )
    recorders = []
    for i, (layer, lif) in enumerate(zip(graph.layers, net.neurons, strict=True)):
        files[f"spikes_{i}"] = _memfile(workdir / f"spikes_{i}.i32", rows, layer.size)
        rec = SpikeRecorder(shape=(layer.size,), path=str(files[f"spikes_{i}"]), capacity=rows)
        lif.s_out.connect(rec.a_in)
        recorders.append(rec)
        for var_name in ("u", "v"):
            record: dict[str, Any] = {}
            if probe_uv:
                files[f"{var_name}_{i}"] = _memfile(
                    workdir / f"{var_name}_{i}.i32", rows, layer.size
                )
                record = {"record_path": str(files[f"{var_name}_{i}"]), "record_capacity": rows}
            taps.append(StateTap(var=getattr(lif, var_name), period=T, **record))
    taps.extend(StateTap(var=conn.a_buff, period=T) for conn in net.connections())
    return StreamingGraph(net, source, recorders, taps, files, capacity)
