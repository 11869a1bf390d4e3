"""The quantized graph (``QGraph``): a network in Lava's integer units, ready to emulate or export.

A QGraph is a chain of layers. Each layer is a neuron population (a
:class:`~lavabridge.quant.qnodes.QNeuron`, e.g. :class:`QCubaLIF`) fed by a synapse
(:class:`~lavabridge.quant.qnodes.QSynapse`, e.g. :class:`QDense`) from the previous layer (or
from the input), optionally with a recurrent synapse from the population to itself. Layers hold
any node of the right role; what each stage can run is decided by that stage's dispatch table.

Timing (Lava's ``LoihiProtocol``): every Dense hop adds one time step, a DelayDense with delay ``d``
adds ``1 + d``. Input column ``t`` (0-based) is presented at Lava time step ``t + 1``.

Two input kinds (:class:`~lavabridge.semantics.InputKind`):

``InputKind.SPIKES``
    the input is a binary spike train ``[B, T, n_in]`` feeding layer 0's synapse (nonzero = spike,
    as Lava's binary Dense does; lavabridge refuses non-binary values instead of collapsing them).
``InputKind.BIAS``
    layer 0 has no synapse: its neurons are driven through ``bias_mant`` by a graded, per-sample
    value ``[B, n_in]`` held for all T steps (how lava-dl's netx ``input`` layers take images);
    ``input_encoding`` (when the quantizer made the graph) maps float input to those values.

A layer's ``approximations`` record the source semantics it does not reproduce, allowed by the user
(``QuantPolicy(allow_approximations=True)``); files and reports carry them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from lavabridge.errors import ValidationError
from lavabridge.quant.encoding import InputEncoding
from lavabridge.quant.qnodes import QNeuron, QSynapse, check_int
from lavabridge.semantics import Approximation, InputKind
from lavabridge.target import LOIHI2, LoihiTarget


@dataclass(frozen=True, eq=False)
class QLayer:
    """One layer: ``synapse`` into ``neuron``, plus an optional recurrent synapse ``neuron -> neuron``.

    ``synapse`` is ``None`` only for layer 0 of a :attr:`InputKind.BIAS` graph.
    """

    name: str
    neuron: QNeuron
    synapse: QSynapse | None = None
    recurrent: QSynapse | None = None
    approximations: tuple[Approximation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "approximations", tuple(self.approximations))
        where = f"layer '{self.name}'"
        if not isinstance(self.neuron, QNeuron):
            raise ValidationError(where, "neuron", f"must be a QNeuron, got {type(self.neuron)}")
        for role, node in (("synapse", self.synapse), ("recurrent", self.recurrent)):
            if node is not None and not isinstance(node, QSynapse):
                raise ValidationError(where, role, f"must be a QSynapse, got {type(node)}")
        for a in self.approximations:
            if not isinstance(a, Approximation):
                raise ValidationError(where, "approximations", f"{a!r} is not an Approximation")

    @property
    def size(self) -> int:
        """Number of neurons."""
        return self.neuron.size

    def nodes(self) -> Iterator[tuple[str, QNeuron | QSynapse]]:
        """``("neuron" | "synapse" | "recurrent", node)`` for every node of the layer."""
        yield "neuron", self.neuron
        if self.synapse is not None:
            yield "synapse", self.synapse
        if self.recurrent is not None:
            yield "recurrent", self.recurrent


@dataclass(frozen=True, eq=False)
class QGraph:
    """A quantized layer chain in Lava's integer units. Validated on construction.

    Parameters
    ----------
    n_in : int
        Input width.
    layers : tuple of QLayer
        Execution order; layer ``i`` feeds layer ``i + 1``.
    input_kind : InputKind
        ``SPIKES`` (binary spikes into layer 0's synapse) or ``BIAS`` (graded per-sample values
        written to layer 0's ``bias_mant``; layer 0 then has no synapse and ``n_in`` neurons).
    name : str
        A label for reports.
    target : LoihiTarget
        The constants and ranges the graph is checked against.
    input_encoding : InputEncoding, optional
        For a bias-input graph made by the quantizer: float input -> bias mantissas.
    """

    n_in: int
    layers: tuple[QLayer, ...]
    input_kind: InputKind = InputKind.SPIKES
    name: str = "qgraph"
    target: LoihiTarget = LOIHI2
    input_encoding: InputEncoding | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_kind", InputKind(self.input_kind))
        self.validate()

    def validate(self) -> None:
        """Check structure and every parameter range; raise :class:`ValidationError` naming it."""
        where = f"graph '{self.name}'"
        check_int(self.n_in, 1, 1 << 24, where, "n_in")
        if not self.layers:
            raise ValidationError(where, "layers", "needs at least one layer")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValidationError(where, "layers", f"duplicate names in {names}")
        if self.input_encoding is not None and self.input_kind != InputKind.BIAS:
            raise ValidationError(where, "input_encoding", "only a bias-input graph has one")
        prev = self.n_in
        for i, layer in enumerate(self.layers):
            self._check_layer(i, layer, prev)
            want = getattr(layer.synapse, "in_shape", None)
            have = self.shapes[i - 1] if i > 0 else None
            if want is not None and have is not None and len(have) == 3 and want != have:
                raise ValidationError(
                    f"layer {i} '{layer.name}' synapse", "in_shape",
                    f"{want} != shape {have} of layer {i - 1} '{self.layers[i - 1].name}'",
                )  # fmt: skip
            prev = layer.size

    def _check_layer(self, i: int, layer: QLayer, prev: int) -> None:
        where = f"layer {i} '{layer.name}'"
        layer.neuron.validate(where, self.target)
        bias_input = i == 0 and self.input_kind == InputKind.BIAS
        if layer.synapse is None:
            if not bias_input:
                raise ValidationError(
                    where, "synapse", "missing (only layer 0 of a bias-input graph has none)"
                )
            if layer.size != self.n_in:
                raise ValidationError(
                    where, "size", f"{layer.size} != n_in {self.n_in} (bias-driven input layer)"
                )
            if np.any(getattr(layer.neuron, "bias_mant", 0)):
                raise ValidationError(
                    where, "bias_mant", "must be 0: the bias input supplies it per sample"
                )
            if getattr(layer.neuron, "bias_start", 0):
                raise ValidationError(
                    where, "bias_start", "must be 0: the bias input acts from the first step"
                )
        else:
            if bias_input:
                raise ValidationError(
                    where, "synapse", "layer 0 of a bias-input graph takes no synapse"
                )
            self._check_synapse(f"{where} synapse", layer.synapse, (layer.size, prev))
        if layer.recurrent is not None:
            self._check_synapse(f"{where} recurrent", layer.recurrent, (layer.size, layer.size))

    def _check_synapse(self, where: str, syn: QSynapse, shape: tuple[int, int]) -> None:
        syn.validate(where, self.target)
        if syn.shape != shape:
            raise ValidationError(
                where, "weights", f"shape {syn.shape} != (n_out={shape[0]}, n_in={shape[1]})"
            )

    @property
    def sizes(self) -> tuple[int, ...]:
        """Neuron count of each layer."""
        return tuple(layer.size for layer in self.layers)

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Each layer's shape: ``(C, H, W)`` when an image synapse feeds it (its ``out_shape``) or
        reads it (the next layer's ``in_shape``), else ``(size,)``. Neurons are stored flat, in
        C-major order, whatever their shape."""
        out = []
        for i, layer in enumerate(self.layers):
            shape = getattr(layer.synapse, "out_shape", None)
            if shape is None and i + 1 < len(self.layers):
                shape = getattr(self.layers[i + 1].synapse, "in_shape", None)
            out.append(tuple(shape) if shape is not None else (layer.size,))
        return tuple(out)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input's shape: layer 0's synapse ``in_shape`` (an image), layer 0's shape for a
        bias input, else ``(n_in,)``."""
        first = self.layers[0]
        if first.synapse is None:
            return self.shapes[0]
        return tuple(getattr(first.synapse, "in_shape", None) or (self.n_in,))

    @property
    def approximations(self) -> tuple[tuple[str, Approximation], ...]:
        """``(layer name, approximation)`` of every layer."""
        return tuple((layer.name, a) for layer in self.layers for a in layer.approximations)

    def connections(self) -> Iterator[tuple[int, str, QSynapse]]:
        """Yield ``(layer_index, "synapse" | "recurrent", synapse)`` for every connection."""
        for i, layer in enumerate(self.layers):
            if layer.synapse is not None:
                yield i, "synapse", layer.synapse
            if layer.recurrent is not None:
                yield i, "recurrent", layer.recurrent


def _value_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is not None and b is not None and np.array_equal(a, b)
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_value_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_value_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def graphs_equal(a: QGraph, b: QGraph) -> bool:
    """True when two QGraphs hold the same structure and the same integers (names included)."""
    return _value_equal(a, b)
