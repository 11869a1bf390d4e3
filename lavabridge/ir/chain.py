"""The layer chain: the topology the quantizer and every backend handle today.

::

    Input -> synapse -> neuron [-> synapse -> neuron ...]    each neuron population optionally
                                                            with one recurrent synapse back to
                                                            itself; a bias-mode Input may drive
                                                            the first population directly

:func:`chain_parts` builds the nodes and edges of such a graph from :class:`ChainLayer` s
(``Graph.sequential``); :func:`layer_chain` reads a graph back as its layers
(``Graph.layer_chain``). Roles, not concrete kinds: any :class:`~lavabridge.ir.nodes.Synapse` and
any :class:`~lavabridge.ir.nodes.Neuron` fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir.nodes import Input, Neuron, Node, Synapse
from lavabridge.semantics import InputKind

Edge = tuple[str, str]


class Graph(Protocol):
    """What reading a layer chain needs of a :class:`lavabridge.ir.Graph`."""

    @property
    def nodes(self) -> Mapping[str, Node]: ...

    @property
    def input_name(self) -> str: ...

    def sources(self, name: str) -> tuple[str, ...]: ...

    def targets(self, name: str) -> tuple[str, ...]: ...


CHAIN_SUPPORTED = (
    "supported: Input -> [synapse -> neuron (+ one recurrent synapse from the neuron population "
    "to itself)]*, at least one layer, every node on the chain"
)


def describe(name: str, node: Node) -> str:
    """``node 'name' (Kind)``: how errors name a node."""
    return f"node '{name}' ({node.kind})"


@dataclass(frozen=True)
class ChainLayer:
    """One layer of a layer chain: ``synapse`` into ``neuron``, plus an optional recurrent synapse.

    Field order mirrors :class:`lavabridge.quant.QLayer`. ``name`` is the neuron node's name;
    ``synapse_name`` / ``recurrent_name`` name the synapse nodes (default ``"<name>.synapse"`` /
    ``"<name>.recurrent"``). ``synapse=None``: layer 0 driven by a bias-mode Input.
    """

    name: str
    neuron: Neuron
    synapse: Synapse | None
    recurrent: Synapse | None = None
    synapse_name: str = ""
    recurrent_name: str | None = None

    def __post_init__(self) -> None:
        where = f"layer '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(
                "ChainLayer", "name", f"must be a non-empty str (got {self.name!r})"
            )
        for param, cls, value in (
            ("neuron", Neuron, self.neuron),
            ("synapse", (Synapse, type(None)), self.synapse),
            ("recurrent", (Synapse, type(None)), self.recurrent),
        ):
            if not isinstance(value, cls):
                raise ValidationError(where, param, f"wrong node type {type(value).__name__}")
        if self.synapse is None:
            object.__setattr__(self, "synapse_name", "")
        elif not self.synapse_name:
            object.__setattr__(self, "synapse_name", f"{self.name}.synapse")
        if self.recurrent is None:
            object.__setattr__(self, "recurrent_name", None)
        elif not self.recurrent_name:
            object.__setattr__(self, "recurrent_name", f"{self.name}.recurrent")

    @property
    def size(self) -> int:
        """Number of neurons."""
        return self.neuron.size


LayerSpec = ChainLayer | tuple[Synapse, Neuron] | tuple[Synapse, Neuron, Synapse | None]


def _as_chain_layer(i: int, spec: LayerSpec) -> ChainLayer:
    if isinstance(spec, ChainLayer):
        return spec
    if isinstance(spec, Sequence) and len(spec) in (2, 3):
        rec = spec[2] if len(spec) == 3 else None
        return ChainLayer(f"layer{i}", spec[1], spec[0], rec)
    raise ValidationError(
        f"layer {i}",
        "layer",
        f"must be a ChainLayer or a (synapse, neuron[, recurrent]) tuple, got {type(spec).__name__}",
    )


def _layer_nodes(layer: ChainLayer) -> Iterable[tuple[str, Node]]:
    if layer.synapse is not None:
        yield layer.synapse_name, layer.synapse
    yield layer.name, layer.neuron
    if layer.recurrent is not None and layer.recurrent_name is not None:
        yield layer.recurrent_name, layer.recurrent


def chain_parts(
    input_size: int,
    layers: Sequence[LayerSpec],
    name: str,
    input_name: str,
    input_gain: float,
) -> tuple[dict[str, Node], tuple[Edge, ...]]:
    """Nodes and edges of the chain ``Input -> layers...`` (see ``Graph.sequential``)."""
    chain = [_as_chain_layer(i, spec) for i, spec in enumerate(layers)]
    bias_input = bool(chain) and chain[0].synapse is None
    mode = InputKind.BIAS if bias_input else InputKind.SPIKES
    nodes: dict[str, Node] = {input_name: Input(input_size, mode, input_gain)}
    edges: list[Edge] = []
    prev = input_name
    for i, layer in enumerate(chain):
        if layer.synapse is None and i > 0:
            raise ValidationError(
                f"graph '{name}'", "layers", f"layer {i} '{layer.name}' has no synapse "
                "(only layer 0 may, as a bias-driven input layer)",
            )  # fmt: skip
        for key, node in _layer_nodes(layer):
            if key in nodes:
                raise ValidationError(f"graph '{name}'", "nodes", f"duplicate node name '{key}'")
            nodes[key] = node
        if layer.synapse is None:
            edges.append((prev, layer.name))
        else:
            edges += [(prev, layer.synapse_name), (layer.synapse_name, layer.name)]
        if layer.recurrent_name is not None:
            edges += [(layer.name, layer.recurrent_name), (layer.recurrent_name, layer.name)]
        prev = layer.name
    return nodes, tuple(edges)


def _recurrent_of(graph: Graph, neuron: str) -> list[str]:
    """Synapses from ``neuron`` back to itself."""
    return [d for d in graph.targets(neuron) if graph.targets(d) == (neuron,)]


def _bias_layer(graph: Graph, name: str) -> ChainLayer:
    """Layer 0 of a bias-input graph: the population the Input drives, with its recurrent synapse."""
    neuron = graph.nodes[name]
    back = _recurrent_of(graph, name)
    others = [s for s in graph.sources(name) if s != graph.input_name and s not in back]
    if others or len(back) > 1:
        raise UnsupportedError(
            f"{describe(name, neuron)} has extra inputs {others + back[1:]} besides the bias "
            f"input; {CHAIN_SUPPORTED}",
            node=describe(name, neuron),
            stage="layer chain",
        )
    return ChainLayer(
        name=name,
        neuron=cast(Neuron, neuron),
        synapse=None,
        recurrent=cast(Synapse, graph.nodes[back[0]]) if back else None,
        recurrent_name=back[0] if back else None,
    )


def _next_layer(graph: Graph, current: str, syn: str, visited: set[str]) -> ChainLayer:
    """The layer whose synapse ``syn`` leaves ``current``; refuses what is not a chain."""
    target = graph.targets(syn)[0]
    neuron = graph.nodes[target]
    where = describe(target, neuron)
    if target in visited:
        raise UnsupportedError(
            f"{describe(syn, graph.nodes[syn])} feeds back from '{current}' to the earlier node "
            f"'{target}'; {CHAIN_SUPPORTED}",
            node=describe(syn, graph.nodes[syn]),
            stage="layer chain",
        )
    back = _recurrent_of(graph, target)
    others = [s for s in graph.sources(target) if s != syn and s not in back]
    if others:
        raise UnsupportedError(
            f"{where} has extra input(s) {others} besides '{syn}'; {CHAIN_SUPPORTED}",
            node=where,
            stage="layer chain",
        )
    if len(back) > 1:
        raise UnsupportedError(
            f"{where} has {len(back)} recurrent synapses {back}; {CHAIN_SUPPORTED}",
            node=where,
            stage="layer chain",
        )
    return ChainLayer(
        name=target,
        neuron=cast(Neuron, neuron),  # graph validation guarantees the roles on these edges
        synapse=cast(Synapse, graph.nodes[syn]),
        recurrent=cast(Synapse, graph.nodes[back[0]]) if back else None,
        synapse_name=syn,
        recurrent_name=back[0] if back else None,
    )


def layer_chain(graph: Graph) -> tuple[ChainLayer, ...]:
    """``graph`` as a layer chain, in execution order (see ``Graph.layer_chain``)."""
    layers: list[ChainLayer] = []
    visited = {graph.input_name}
    current = graph.input_name
    forward = list(graph.targets(current))
    inp = cast(Input, graph.nodes[current])
    if inp.mode == InputKind.BIAS and len(forward) == 1:
        layers.append(_bias_layer(graph, forward[0]))
    else:
        if len(forward) > 1:
            raise _branch(graph, current, forward)
        if forward:
            layers.append(_next_layer(graph, current, forward[0], visited))
    while layers and layers[-1].name not in visited:
        last = layers[-1]
        visited.update(n for n, _ in _layer_nodes(last))
        current = last.name
        forward = [d for d in graph.targets(current) if d != last.recurrent_name]
        if len(forward) > 1:
            raise _branch(graph, current, forward)
        if forward:
            layers.append(_next_layer(graph, current, forward[0], visited))
    if not layers:
        where = describe(graph.input_name, inp)
        raise UnsupportedError(
            f"{where} feeds no layer; {CHAIN_SUPPORTED}", node=where, stage="layer chain"
        )
    off = [k for k in graph.nodes if k not in visited]
    if off:
        where = describe(off[0], graph.nodes[off[0]])
        raise UnsupportedError(
            f"{where} is not on the chain from '{graph.input_name}' (off the chain: {off}); "
            f"{CHAIN_SUPPORTED}",
            node=where,
            stage="layer chain",
        )
    return tuple(layers)


def _branch(graph: Graph, current: str, forward: list[str]) -> UnsupportedError:
    where = describe(current, graph.nodes[current])
    return UnsupportedError(
        f"{where} feeds {len(forward)} synapses {forward} (a branch); {CHAIN_SUPPORTED}",
        node=where,
        stage="layer chain",
    )
