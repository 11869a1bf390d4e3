"""QGraph -> a graph of real Lava processes (``Dense`` / ``DelayDense`` / ``LIF``).

:func:`build_network` creates and connects the network's processes (what a user deploys); the
streaming I/O around them for the CPU simulator is :mod:`lavabridge.backends.streaming`.

Two dispatch tables map QGraph node kinds to builders: :data:`SYNAPSES` (:class:`QDense` ->
``Dense`` / ``DelayDense``) and :data:`NEURONS` (:class:`QCubaLIF` -> ``LIF``). A builder returns
a :class:`Built`: the process, its input and output ports, and the names of its state Vars
(:data:`STATE_VARS`, the one place those names live), so whoever runs the graph can record and
reset state without knowing the process kind. A kind without a builder, or a semantic Lava's
process cannot compute, is refused with :class:`~lavabridge.errors.UnsupportedError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lavabridge.dispatch import Table
from lavabridge.errors import UnsupportedError
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QDense
from lavabridge.semantics import Compare, InputKind, Reset

STATE_VARS: dict[str, tuple[str, ...]] = {
    "Dense": ("a_buff",),
    "DelayDense": ("a_buff",),
    "LIF": ("u", "v"),
}
"""Lava process class name -> the Vars that carry state from one step to the next."""


def state_vars(process: Any) -> tuple[str, ...]:
    """The state Var names of a Lava process (also those lava-dl's netx builds)."""
    name = type(process).__name__
    if name not in STATE_VARS:
        raise UnsupportedError(
            f"Lava process {process.name!r} ({name}): its state Vars are not known",
            node=str(process.name),
            stage="Lava export",
            supported=tuple(sorted(STATE_VARS)),
        )
    return STATE_VARS[name]


@dataclass(frozen=True)
class Built:
    """One Lava process made for a QGraph node.

    Attributes
    ----------
    process : the Lava process
    in_port, out_port : its ports (a synapse takes spikes and sends currents, a neuron the reverse)
    state : names of the Vars that hold state between steps (zeroed between samples)
    observed : names of the Vars recorded when u/v are probed (neurons: ``("u", "v")``)
    input_var : the Var a bias input writes per sample (neurons), else ``None``
    """

    process: Any
    in_port: Any
    out_port: Any
    state: tuple[str, ...]
    observed: tuple[str, ...] = ()
    input_var: str | None = None

    def var(self, name: str) -> Any:
        """The process's Var ``name``."""
        return getattr(self.process, name)


def make_dense(dense: QDense, name: str) -> Built:
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
        proc = Dense(**kwargs)
    else:
        proc = DelayDense(delays=dense.delays.astype(int), max_delay=dense.max_delay, **kwargs)
    return Built(proc, proc.s_in, proc.a_out, state_vars(proc))


def make_lif(neuron: QCubaLIF, name: str, bias_mant: np.ndarray | None = None) -> Built:
    """A Lava ``LIF`` with Python-int decays/threshold (Lava keeps those objects as given).

    ``bias_mant`` overrides the neurons' bias mantissas (the first sample of a bias input).
    """
    from lava.proc.lif.process import LIF

    if (neuron.reset, neuron.compare) != (Reset.ZERO, Compare.GT):
        raise UnsupportedError(
            f"{name}: Lava's LIF computes reset='zero' with compare='>', not "
            f"reset={neuron.reset.value!r} with compare={neuron.compare.value!r}",
            node=name,
            stage="Lava export",
            supported=("CubaLIF with reset='zero', compare='>'",),
        )
    bm = neuron.bias_mant if bias_mant is None else bias_mant
    proc = LIF(
        shape=(neuron.size,),
        du=int(neuron.du),
        dv=int(neuron.dv),
        vth=int(neuron.vth),
        bias_mant=bm.astype(np.int32),
        bias_exp=neuron.bias_exp.astype(np.int32),
        name=name,
    )
    return Built(proc, proc.a_in, proc.s_out, state_vars(proc), ("u", "v"), "bias_mant")


SYNAPSES: Table[Callable[[Any, str], Built]] = Table("Lava export", {QDense: make_dense})
NEURONS: Table[Callable[[Any, str, np.ndarray | None], Built]] = Table(
    "Lava export", {QCubaLIF: make_lif}
)


@dataclass
class LavaLayer:
    """The processes of one QGraph layer (``synapse`` is ``None`` for a bias-driven input layer)."""

    name: str
    neuron: Built
    synapse: Built | None = None
    recurrent: Built | None = None

    def built(self) -> Iterator[Built]:
        """Every process of the layer, neuron first."""
        yield self.neuron
        yield from (b for b in (self.synapse, self.recurrent) if b is not None)


@dataclass
class LavaNetwork:
    """The Lava processes of a QGraph, per layer.

    ``inp`` is the InPort input spikes connect to (layer 0's synapse), ``None`` for bias input.
    """

    layers: list[LavaLayer] = field(default_factory=list)
    inp: Any = None

    @property
    def neurons(self) -> list[Any]:
        """The neuron process of every layer."""
        return [layer.neuron.process for layer in self.layers]

    @property
    def synapses(self) -> list[Any]:
        """The synapse process of every layer (``None`` for a bias-driven input layer)."""
        return [None if ly.synapse is None else ly.synapse.process for ly in self.layers]

    @property
    def recurrents(self) -> list[Any]:
        """The recurrent synapse process of every layer, or ``None``."""
        return [None if ly.recurrent is None else ly.recurrent.process for ly in self.layers]

    def connections(self) -> list[Any]:
        """Every synapse process."""
        return [p for p in (*self.synapses, *self.recurrents) if p is not None]


def build_network(graph: QGraph, first_bias: np.ndarray | None = None) -> LavaNetwork:
    """Create and connect the network's Lava processes.

    Parameters
    ----------
    graph : QGraph
    first_bias : array, optional
        For a bias-input graph: the initial ``bias_mant`` of layer 0 (the first sample's input).

    Raises
    ------
    UnsupportedError
        A node kind without a builder (names the layer and the supported kinds).
    """
    net = LavaNetwork()
    prev_out = None
    for i, layer in enumerate(graph.layers):
        where = f"layer {i} '{layer.name}'"
        init_bias = first_bias if (i == 0 and graph.input_kind == InputKind.BIAS) else None
        lif = NEURONS.of(layer.neuron, f"{where} neuron")(
            layer.neuron, f"{layer.name}.lif", init_bias
        )
        built = LavaLayer(layer.name, lif)
        if layer.synapse is not None:
            syn = SYNAPSES.of(layer.synapse, f"{where} synapse")(
                layer.synapse, f"{layer.name}.dense"
            )
            if prev_out is None:
                net.inp = syn.in_port
            else:
                prev_out.connect(syn.in_port)
            syn.out_port.connect(lif.in_port)
            built.synapse = syn
        if layer.recurrent is not None:
            make = SYNAPSES.of(layer.recurrent, f"{where} recurrent")
            rec = make(layer.recurrent, f"{layer.name}.recurrent")
            lif.out_port.connect(rec.in_port)
            rec.out_port.connect(lif.in_port)
            built.recurrent = rec
        net.layers.append(built)
        prev_out = lif.out_port
    return net
