"""The float IR graph: named nodes and directed edges, validated on construction, frozen.

Edges carry spikes or currents, and are allowed by the *roles* of their ends (so a new synapse
or neuron kind fits without a change here)::

    input   -> synapse    spikes into a connection (a spike-mode Input)
    input   -> neuron     a graded bias into the first population (a bias-mode Input)
    neuron  -> synapse    spikes into a connection (forward, or recurrent back to itself)
    synapse -> neuron     currents into a population (several synapses into one add up)

Every synapse has exactly one source and one target, and ``n_in`` / ``n_out`` must match their
sizes. Because every edge into a population comes from a synapse or the Input, and a synapse adds
one step of latency, every cycle passes through at least one synapse: there are no zero-latency
loops. A graph has exactly one :class:`~lavabridge.ir.nodes.Input`.

The quantizer handles one topology, the layer chain (:mod:`lavabridge.ir.chain`)::

    Input -> synapse -> neuron [-> synapse -> neuron ...]    each population optionally with one
                                                            recurrent synapse back to itself
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lavabridge.errors import ValidationError
from lavabridge.ir.chain import (
    CHAIN_SUPPORTED,
    ChainLayer,
    Edge,
    LayerSpec,
    chain_parts,
    describe,
    layer_chain,
)
from lavabridge.ir.nodes import Input, Neuron, Node, Synapse
from lavabridge.semantics import InputKind

__all__ = ["CHAIN_SUPPORTED", "ChainLayer", "Edge", "Graph", "LayerSpec"]

_ALLOWED_ROLES = {("input", "synapse"), ("input", "neuron"), ("neuron", "synapse"),
                  ("synapse", "neuron")}  # fmt: skip


class _FrozenMap(Mapping[str, Node]):
    """A read-only, insertion-ordered, picklable mapping (``MappingProxyType`` cannot pickle)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Node]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Node:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {v!r}' for k, v in self._items.items())}}}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FrozenMap, (self._items,))


def _size(node: Node) -> int:
    """Width of an input or neuron node (what a synapse's n_in / n_out must match)."""
    if isinstance(node, (Input, Neuron)):
        return node.size
    raise TypeError(f"{node.kind} has no size")


@dataclass(frozen=True, eq=False)
class Graph:
    """A network description: named nodes and directed edges. Validated on construction, frozen.

    Parameters
    ----------
    nodes : mapping of str to Node
        Copied into a read-only mapping (insertion order kept).
    edges : sequence of (source, target) names
        Stored as a tuple of pairs; order kept, duplicates refused.
    name : str
        A label for reports and files.

    Raises
    ------
    ValidationError
        Unknown edge endpoint, an edge type outside the table in the module docstring, a Dense
        without exactly one source and one target, a weight shape that does not fit its
        neighbours, or not exactly one Input. The error names the node or edge.
    """

    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...] = ()
    name: str = "graph"

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, Mapping):
            raise ValidationError(
                f"graph '{self.name}'",
                "nodes",
                f"must be a mapping of name to node (got {type(self.nodes).__name__})",
            )
        object.__setattr__(self, "nodes", _FrozenMap(self.nodes))
        edges = tuple(e if isinstance(e, (str, bytes)) else tuple(e) for e in self.edges)
        object.__setattr__(self, "edges", edges)
        self._validate()

    # -------------------------------------------------------------------- validation
    def _validate(self) -> None:
        where = f"graph '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError("Graph", "name", f"must be a non-empty str (got {self.name!r})")
        for key, node in self.nodes.items():
            if not isinstance(key, str) or not key:
                raise ValidationError(where, "nodes", f"node names must be non-empty str ({key!r})")
            if not isinstance(node, Node):
                raise ValidationError(
                    where, "nodes", f"'{key}' is a {type(node).__name__}, not an IR node "
                    "(an Input, a synapse such as Dense, or a neuron such as CubaLIF)",
                )  # fmt: skip
        inputs = [k for k, n in self.nodes.items() if isinstance(n, Input)]
        if len(inputs) != 1:
            raise ValidationError(where, "nodes", f"needs exactly one Input node, found {inputs}")
        seen: set[Edge] = set()
        for edge in self.edges:
            self._check_edge(where, edge, seen)
        for key, node in self.nodes.items():
            if isinstance(node, Synapse):
                self._check_synapse(key, node)

    def _check_edge(self, where: str, edge: Any, seen: set[Edge]) -> None:
        if (
            not isinstance(edge, tuple)
            or len(edge) != 2
            or not all(isinstance(x, str) for x in edge)
        ):
            raise ValidationError(
                where, "edges", f"{edge!r} is not a (source, target) pair of names"
            )
        for end in edge:
            if end not in self.nodes:
                raise ValidationError(
                    where,
                    "edges",
                    f"edge {edge!r}: unknown node '{end}' (nodes: {list(self.nodes)})",
                )
        if edge in seen:
            raise ValidationError(where, "edges", f"edge {edge!r} appears twice")
        seen.add(edge)
        src, dst = self.nodes[edge[0]], self.nodes[edge[1]]
        if (src.role, dst.role) not in _ALLOWED_ROLES:
            raise ValidationError(
                where, "edges", f"edge {edge!r}: {src.kind} ({src.role}) -> {dst.kind} "
                f"({dst.role}) is not allowed; allowed: input -> synapse, neuron -> synapse, "
                "synapse -> neuron (every connection is a synapse), and a bias-mode input -> neuron",
            )  # fmt: skip
        if isinstance(src, Input):
            self._check_input_edge(where, edge, src, dst)

    @staticmethod
    def _check_input_edge(where: str, edge: Edge, src: Input, dst: Node) -> None:
        bias = src.mode == InputKind.BIAS
        if bias != isinstance(dst, Neuron):
            raise ValidationError(
                where, "edges", f"edge {edge!r}: a {src.mode.value!r} Input feeds "
                + ("a neuron population directly" if bias else "a synapse") + f", not a {dst.kind}",
            )  # fmt: skip
        if isinstance(dst, Neuron) and src.size != dst.size:
            raise ValidationError(
                where, "edges", f"edge {edge!r}: bias Input size {src.size} != {dst.size} neurons"
            )

    def _check_synapse(self, key: str, syn: Synapse) -> None:
        where = describe(key, syn)
        srcs, dsts = self.sources(key), self.targets(key)
        if len(srcs) != 1 or len(dsts) != 1:
            raise ValidationError(
                where, "edges",
                f"needs exactly one source and one target (sources {srcs}, targets {dsts})",
            )  # fmt: skip
        src, dst = self.nodes[srcs[0]], self.nodes[dsts[0]]
        shape = getattr(syn, "weight", None)
        shown = f"shape {shape.shape}: " if shape is not None else ""
        if syn.n_in != _size(src):
            raise ValidationError(
                where, "weight", f"{shown}n_in {syn.n_in} != size {_size(src)} of source "
                f"{describe(srcs[0], src)}",
            )  # fmt: skip
        want, have = getattr(syn, "in_shape", None), self.shape_of(srcs[0])
        if want is not None and have is not None and tuple(want) != have:
            raise ValidationError(
                where, "in_shape", f"{tuple(want)} != shape {have} of source "
                f"{describe(srcs[0], src)}",
            )  # fmt: skip
        if syn.n_out != _size(dst):
            raise ValidationError(
                where, "weight", f"{shown}n_out {syn.n_out} != size {_size(dst)} of target "
                f"{describe(dsts[0], dst)}",
            )  # fmt: skip

    # -------------------------------------------------------------------- queries
    def sources(self, name: str) -> tuple[str, ...]:
        """Names of the nodes with an edge into ``name``, in edge order."""
        return tuple(s for s, d in self.edges if d == name)

    def targets(self, name: str) -> tuple[str, ...]:
        """Names of the nodes ``name`` has an edge to, in edge order."""
        return tuple(d for s, d in self.edges if s == name)

    def shape_of(self, name: str) -> tuple[int, ...] | None:
        """The (C, H, W) shape of population ``name`` when an image synapse (``out_shape``) feeds
        it, else ``None`` (a flat population, or the Input)."""
        for src in self.sources(name):
            shape = getattr(self.nodes[src], "out_shape", None)
            if shape is not None and name not in self.sources(src):
                return tuple(shape)
        return None

    @property
    def input_name(self) -> str:
        """Name of the (single) Input node."""
        return next(k for k, n in self.nodes.items() if isinstance(n, Input))

    @property
    def input_size(self) -> int:
        """Width of the Input node."""
        return _size(self.nodes[self.input_name])

    def with_(self, **changes: Any) -> Graph:
        """A copy with ``changes`` (``nodes``, ``edges``, ``name``) applied, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        """Same name, same nodes by name (values compared), same set of edges (order ignored)."""
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self.name == other.name
            and dict(self.nodes) == dict(other.nodes)
            and set(self.edges) == set(other.edges)
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild through the constructor, so an unpickled graph is validated again
        return (Graph, (dict(self.nodes), self.edges, self.name))

    # -------------------------------------------------------------------- chain
    @classmethod
    def sequential(
        cls,
        input_size: int,
        *layers: LayerSpec,
        name: str = "graph",
        input_name: str = "input",
        input_gain: float = 1.0,
    ) -> Graph:
        """Build a layer chain ``Input -> [synapse -> neuron (+ recurrent synapse)]*``.

        Each layer is a :class:`ChainLayer` or a tuple ``(synapse, neuron)`` /
        ``(synapse, neuron, recurrent)``; a first layer with ``synapse=None`` makes the Input a
        bias-mode input (``input_gain``) driving that layer's neurons directly; tuples get the
        names ``layer<i>``, ``layer<i>.synapse`` and ``layer<i>.recurrent``.
        ``Graph.sequential(g.input_size, *g.layer_chain(), name=g.name,
        input_name=g.input_name)`` rebuilds a chain graph ``g``.
        """
        nodes, edges = chain_parts(input_size, layers, name, input_name, input_gain)
        return cls(nodes, edges, name)

    def layer_chain(self) -> tuple[ChainLayer, ...]:
        """The graph as a layer chain, in execution order (what the quantizer consumes).

        Raises
        ------
        UnsupportedError
            Any other topology (a branch, a skip or feedback connection across layers, a second
            recurrent synapse, a node off the chain, no layer at all); the message names the node.
        """
        return layer_chain(self)

    def latencies(self) -> tuple[int, ...]:
        """Steps from the input to each layer of the chain: one per synapse hop, so layer ``i``
        of a spike-input chain answers input column ``t`` at step ``t + i + 1`` (a bias input
        drives layer 0 with no hop: ``i``). Extra Dense delays are not counted.

        A model from a framework that propagates within a step (snnTorch, SpikingJelly) is
        layer ``i``'s source spikes shifted by ``latencies()[i]`` steps; its importer sets each
        layer's ``bias_start`` to that latency, so biases start with the first input.
        """
        chain = self.layer_chain()
        first = 0 if chain[0].synapse is None else 1
        return tuple(first + i for i in range(len(chain)))
