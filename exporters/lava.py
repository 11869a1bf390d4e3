"""QGraph -> a graph of real Lava processes (``Dense`` / ``DelayDense`` / ``Conv`` / ``LIF``).

:func:`build_network` creates and connects the network's processes (what a user deploys); the
streaming I/O around them for the CPU simulator is :mod:`lavabridge.backends.streaming`.

Two dispatch tables map QGraph node kinds to builders: :data:`SYNAPSES` (:class:`QDense` ->
``Dense`` / ``DelayDense``, :class:`QConv` -> ``Conv``) and :data:`NEURONS` (:class:`QCubaLIF` ->
``LIF``). An image layer's LIF has Lava's ``(W, H, C)`` shape (as netx builds it); a flat port
meets an image port through netx's flatten (``transpose([2, 1, 0]).flatten()``) or its inverse. A builder returns
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

from lavabridge.conv import chw_to_whc, lava_kernel
from lavabridge.dispatch import Table
from lavabridge.errors import UnsupportedError
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset, QDense
from lavabridge.quant.qspatial import QConv
from lavabridge.semantics import InputKind

STATE_VARS: dict[str, tuple[str, ...]] = {
    "Dense": ("a_buff",),
    "DelayDense": ("a_buff",),
    "Conv": ("a_buf",),
    "LIF": ("u", "v"),
    "LIFReset": ("u", "v"),
    "FlexLIF": ("u", "v"),
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


def make_conv(conv: QConv, name: str) -> Built:
    """A Lava ``Conv`` on ``(W, H, C)`` images: torch's kernel flipped and transposed to
    ``(C_out, kW, kH, C_in/groups)``, stride / padding / dilation reversed to ``(W, H)``."""
    from lava.proc.conv.process import Conv

    c, h, w = conv.in_shape
    proc = Conv(
        weight=lava_kernel(conv.weights).astype(np.int32),
        input_shape=(w, h, c),
        padding=conv.padding[::-1],
        stride=conv.stride[::-1],
        dilation=conv.dilation[::-1],
        groups=conv.groups,
        name=name,
    )
    return Built(proc, proc.s_in, proc.a_out, state_vars(proc))


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """lavabridge's ``(C, H, W)`` (or ``(n,)``) -> Lava's ``(W, H, C)`` (or ``(n,)``)."""
    return tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)


def make_lif(
    neuron: QCubaLIF,
    name: str,
    bias_mant: np.ndarray | None = None,
    shape: tuple[int, ...] | None = None,
) -> Built:
    """A Lava ``LIF`` with Python-int decays/threshold (Lava keeps those objects as given), or
    lavabridge's ``FlexLIF`` for the resets and ``>=`` Lava's LIF cannot compute (CPU simulator
    only).

    ``bias_mant`` overrides the neurons' bias mantissas (the first sample of a bias input);
    ``shape`` is lavabridge's ``(C, H, W)`` of an image layer (the LIF gets Lava's ``(W, H, C)``,
    its flat C-major bias reordered to match), default ``(size,)``.
    """
    from lava.proc.lif.process import LIF, LIFReset

    from lavabridge.processes.flexlif.process import FlexLIF

    bm = neuron.bias_mant if bias_mant is None else bias_mant
    shape = (neuron.size,) if shape is None else shape
    extra: dict[str, Any] = {}
    if isinstance(neuron, QCubaLIFReset):
        extra = {"reset_interval": neuron.reset_interval, "reset_offset": neuron.reset_offset}
    if neuron.custom:
        if extra:
            raise UnsupportedError(
                f"{name}: a periodic reset (reset_interval) with reset={neuron.reset.value!r}, "
                f"compare={neuron.compare.value!r}: no Lava process computes both",
                node=name,
                stage="Lava export",
                supported=("CubaLIFReset with reset='zero', compare='>'",),
            )
        extra = {"reset": neuron.reset.value, "compare": neuron.compare.value}
    make = FlexLIF if neuron.custom else (LIFReset if isinstance(neuron, QCubaLIFReset) else LIF)
    proc = make(
        **extra,
        shape=lava_shape(shape),
        du=int(neuron.du),
        dv=int(neuron.dv),
        vth=int(neuron.vth),
        bias_mant=to_lava_order(bm, shape).astype(np.int32),
        bias_exp=to_lava_order(neuron.bias_exp, shape).astype(np.int32),
        name=name,
    )
    return Built(proc, proc.a_in, proc.s_out, state_vars(proc), ("u", "v"), "bias_mant")


def to_lava_order(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat C-major values (..., n) -> Lava's (..., W, H, C) for a 3-D ``shape``, else as is."""
    return chw_to_whc(arr, shape) if len(shape) == 3 else arr


def flat_out(port: Any, shape: tuple[int, ...]) -> Any:
    """An OutPort of Lava shape ``(W, H, C)`` as lavabridge's flat C-major vector (netx's flatten:
    ``transpose([2, 1, 0]).flatten()``)."""
    return port.transpose([2, 1, 0]).flatten() if len(shape) == 3 else port


def shaped_out(port: Any, shape: tuple[int, ...]) -> Any:
    """A flat C-major OutPort as Lava's ``(W, H, C)`` of lavabridge's ``shape`` ``(C, H, W)``."""
    return port.reshape(tuple(shape)).transpose([2, 1, 0]) if len(shape) == 3 else port


def _wire(out_port: Any, out_shape: tuple[int, ...], in_port: Any) -> None:
    """Connect ``out_port`` (Lava shape of lavabridge shape ``out_shape``) to ``in_port``, through
    netx's flatten / its inverse where the two sides disagree (a flat port and an image port)."""
    want = tuple(in_port.shape)
    have = tuple(out_port.shape)
    if have == want:
        out_port.connect(in_port)
    elif len(want) == 1:
        flat_out(out_port, out_shape).connect(in_port)
    else:
        shaped_out(out_port, (want[2], want[1], want[0])).connect(in_port)


SYNAPSES: Table[Callable[[Any, str], Built]] = Table(
    "Lava export", {QDense: make_dense, QConv: make_conv}
)
NEURONS: Table[Callable[[Any, str, np.ndarray | None, tuple[int, ...] | None], Built]] = Table(
    "Lava export", {QCubaLIF: make_lif}
)


@dataclass
class LavaLayer:
    """The processes of one QGraph layer (``synapse`` is ``None`` for a bias-driven input layer).

    ``bias_start > 0``: the neurons' bias starts at that step of every sample. Their
    ``bias_mant`` is built as 0, and whoever runs the network writes ``bias_mant`` (in Lava's
    order) at that step and 0 at every sample boundary (lavabridge's streaming session does,
    with a ``StateTap``; a host would, on a chip).
    """

    name: str
    neuron: Built
    synapse: Built | None = None
    recurrent: Built | None = None
    bias_start: int = 0
    bias_mant: np.ndarray | None = None

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
    prev_out, prev_shape = None, graph.input_shape
    for i, (layer, shape) in enumerate(zip(graph.layers, graph.shapes, strict=True)):
        where = f"layer {i} '{layer.name}'"
        init_bias = first_bias if (i == 0 and graph.input_kind == InputKind.BIAS) else None
        start, gated = _bias_start(layer.neuron)
        if gated is not None:
            init_bias = np.zeros_like(gated)
        lif = NEURONS.of(layer.neuron, f"{where} neuron")(
            layer.neuron, f"{layer.name}.lif", init_bias, shape
        )
        built = LavaLayer(layer.name, lif, bias_start=start)
        if gated is not None:
            built.bias_mant = to_lava_order(gated, shape)
        if layer.synapse is not None:
            syn = SYNAPSES.of(layer.synapse, f"{where} synapse")(
                layer.synapse, f"{layer.name}.{_SUFFIX.get(layer.synapse.kind, 'synapse')}"
            )
            if prev_out is None:
                net.inp = syn.in_port
            else:
                _wire(prev_out, prev_shape, syn.in_port)
            _wire(syn.out_port, shape, lif.in_port)
            built.synapse = syn
        if layer.recurrent is not None:
            make = SYNAPSES.of(layer.recurrent, f"{where} recurrent")
            rec = make(layer.recurrent, f"{layer.name}.recurrent")
            _wire(lif.out_port, shape, rec.in_port)
            _wire(rec.out_port, shape, lif.in_port)
            built.recurrent = rec
        net.layers.append(built)
        prev_out, prev_shape = lif.out_port, shape
    return net


def _bias_start(neuron: Any) -> tuple[int, np.ndarray | None]:
    """``(bias_start, bias_mant)`` of a population whose nonzero bias starts late, else
    ``(0, None)``."""
    start = int(getattr(neuron, "bias_start", 0))
    bm = getattr(neuron, "bias_mant", None)
    if start == 0 or bm is None or not np.any(bm):
        return 0, None
    return start, np.asarray(bm)


_SUFFIX = {"Dense": "dense", "Conv": "conv"}  # process names: "<layer>.dense", "<layer>.conv"
