"""The float IR graph: named nodes and directed edges, validated on construction, frozen.

Edges carry spikes or currents, and their types are fixed::

    Input   -> Dense      spikes into a connection
    CubaLIF -> Dense      spikes into a connection (forward, or recurrent back to itself)
    Dense   -> CubaLIF    currents into a population (several Dense into one population add up)

Every Dense has exactly one source and one target, and its weight shape must be
``(target size, source size)``. Because every edge into a population comes from a Dense, and a
Dense adds one step of latency, every cycle passes through at least one Dense: there are no
zero-latency loops. A graph has exactly one :class:`~lavabridge.ir.nodes.Input`.

The quantizer handles one topology, the layer chain (see :meth:`Graph.layer_chain`)::

    Input -> Dense -> CubaLIF [-> Dense -> CubaLIF ...]    each CubaLIF optionally with one
                                                           recurrent Dense back to itself
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir.nodes import CubaLIF, Dense, Input, InputMode, Node

Edge = tuple[str, str]

CHAIN_SUPPORTED = (
    "supported: Input -> [Dense -> CubaLIF (+ one recurrent Dense from the CubaLIF to itself)]*, "
    "at least one layer, every node on the chain"
)

_ALLOWED_EDGES = {(Input, Dense), (Input, CubaLIF), (CubaLIF, Dense), (Dense, CubaLIF)}


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


def _describe(name: str, node: Node) -> str:
    return f"node '{name}' ({node.kind})"


@dataclass(frozen=True)
class ChainLayer:
    """One layer of a layer chain: ``synapse`` into ``neuron``, plus an optional recurrent Dense.

    Field order mirrors :class:`lavabridge.quant.QLayer`. ``name`` is the CubaLIF node's name;
    ``synapse_name`` / ``recurrent_name`` name the Dense nodes (default ``"<name>.synapse"`` /
    ``"<name>.recurrent"``).
    """

    name: str
    neuron: CubaLIF
    synapse: Dense | None
    recurrent: Dense | None = None
    synapse_name: str = ""
    recurrent_name: str | None = None

    def __post_init__(self) -> None:
        where = f"layer '{self.name}'"
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(
                "ChainLayer", "name", f"must be a non-empty str (got {self.name!r})"
            )
        for param, cls, value in (
            ("neuron", CubaLIF, self.neuron),
            ("synapse", (Dense, type(None)), self.synapse),
            ("recurrent", (Dense, type(None)), self.recurrent),
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


LayerSpec = ChainLayer | tuple[Dense, CubaLIF] | tuple[Dense, CubaLIF, Dense | None]


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
            if not isinstance(node, (Input, Dense, CubaLIF)):
                raise ValidationError(
                    where,
                    "nodes",
                    f"'{key}' is a {type(node).__name__}, not an Input, Dense or CubaLIF",
                )
        inputs = [k for k, n in self.nodes.items() if isinstance(n, Input)]
        if len(inputs) != 1:
            raise ValidationError(where, "nodes", f"needs exactly one Input node, found {inputs}")
        seen: set[Edge] = set()
        for edge in self.edges:
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
            if (type(src), type(dst)) not in _ALLOWED_EDGES:
                raise ValidationError(
                    where,
                    "edges",
                    f"edge {edge!r}: {src.kind} -> {dst.kind} is not allowed; allowed: Input -> "
                    "Dense, CubaLIF -> Dense, Dense -> CubaLIF (every connection is a Dense), and a "
                    "bias-mode Input -> CubaLIF",
                )
            if isinstance(src, Input) and (src.mode == InputMode.BIAS) != isinstance(dst, CubaLIF):
                raise ValidationError(
                    where,
                    "edges",
                    f"edge {edge!r}: a {src.mode.value!r} Input feeds "
                    + ("a CubaLIF directly" if src.mode == InputMode.BIAS else "a Dense")
                    + f", not a {dst.kind}",
                )
            if isinstance(src, Input) and isinstance(dst, CubaLIF) and src.size != dst.size:
                raise ValidationError(
                    where,
                    "edges",
                    f"edge {edge!r}: bias Input size {src.size} != {dst.size} neurons",
                )
        for key, node in self.nodes.items():
            if isinstance(node, Dense):
                self._check_dense(key, node)

    def _check_dense(self, key: str, dense: Dense) -> None:
        where = _describe(key, dense)
        srcs, dsts = self.sources(key), self.targets(key)
        if len(srcs) != 1 or len(dsts) != 1:
            raise ValidationError(
                where,
                "edges",
                f"needs exactly one source and one target (sources {srcs}, targets {dsts})",
            )
        src, dst = self.nodes[srcs[0]], self.nodes[dsts[0]]
        if dense.n_in != _size(src):
            raise ValidationError(
                where,
                "weight",
                f"shape {dense.weight.shape}: n_in {dense.n_in} != size {_size(src)} of source "
                f"{_describe(srcs[0], src)}",
            )
        if dense.n_out != _size(dst):
            raise ValidationError(
                where,
                "weight",
                f"shape {dense.weight.shape}: n_out {dense.n_out} != size {_size(dst)} of target "
                f"{_describe(dsts[0], dst)}",
            )

    # -------------------------------------------------------------------- queries
    def sources(self, name: str) -> tuple[str, ...]:
        """Names of the nodes with an edge into ``name``, in edge order."""
        return tuple(s for s, d in self.edges if d == name)

    def targets(self, name: str) -> tuple[str, ...]:
        """Names of the nodes ``name`` has an edge to, in edge order."""
        return tuple(d for s, d in self.edges if s == name)

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
        """Build a layer chain ``Input -> [Dense -> CubaLIF (+ recurrent Dense)]*``.

        Each layer is a :class:`ChainLayer` or a tuple ``(synapse, neuron)`` /
        ``(synapse, neuron, recurrent)``; a first layer with ``synapse=None`` makes the Input a
        bias-mode input (``input_gain``) driving that layer's neurons directly; tuples get the names ``layer<i>``, ``layer<i>.synapse``
        and ``layer<i>.recurrent``. ``Graph.sequential(g.input_size, *g.layer_chain(),
        name=g.name, input_name=g.input_name)`` rebuilds a chain graph ``g``.
        """
        chain = [_as_chain_layer(i, spec) for i, spec in enumerate(layers)]
        bias_input = bool(chain) and chain[0].synapse is None
        mode = InputMode.BIAS if bias_input else InputMode.SPIKES
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
                    raise ValidationError(
                        f"graph '{name}'", "nodes", f"duplicate node name '{key}'"
                    )
                nodes[key] = node
            if layer.synapse is None:
                edges.append((prev, layer.name))
            else:
                edges += [(prev, layer.synapse_name), (layer.synapse_name, layer.name)]
            if layer.recurrent_name is not None:
                edges += [(layer.name, layer.recurrent_name), (layer.recurrent_name, layer.name)]
            prev = layer.name
        return cls(nodes, tuple(edges), name)

    def _bias_layer(self, lif_name: str) -> ChainLayer:
        """Layer 0 of a bias-input graph: the CubaLIF the Input drives, with its recurrent Dense."""
        lif = self.nodes[lif_name]
        back = [d for d in self.targets(lif_name) if self.targets(d) == (lif_name,)]
        others = [s for s in self.sources(lif_name) if s != self.input_name and s not in back]
        if others or len(back) > 1:
            raise UnsupportedError(
                f"{_describe(lif_name, lif)} has extra inputs {others + back[1:]} besides the bias "
                f"input; {CHAIN_SUPPORTED}"
            )
        return ChainLayer(
            name=lif_name,
            neuron=cast(CubaLIF, lif),
            synapse=None,
            recurrent=cast(Dense, self.nodes[back[0]]) if back else None,
            recurrent_name=back[0] if back else None,
        )

    def layer_chain(self) -> tuple[ChainLayer, ...]:
        """The graph as a layer chain, in execution order (what the quantizer consumes).

        Raises
        ------
        UnsupportedError
            Any other topology (a branch, a skip or feedback connection across layers, a second
            recurrent Dense, a node off the chain, no layer at all); the message names the node.
        """
        layers: list[ChainLayer] = []
        visited = {self.input_name}
        forward = list(self.targets(self.input_name))
        current = self.input_name
        inp = cast(Input, self.nodes[self.input_name])
        if inp.mode == InputMode.BIAS and len(forward) == 1:
            first = self._bias_layer(forward[0])
            layers.append(first)
            visited.update([first.name, *([first.recurrent_name] if first.recurrent_name else [])])
            forward = [d for d in self.targets(first.name) if d != first.recurrent_name]
            current = first.name
        while True:
            if len(forward) > 1:
                raise UnsupportedError(
                    f"{_describe(current, self.nodes[current])} feeds {len(forward)} Dense nodes "
                    f"{forward} (a branch); {CHAIN_SUPPORTED}"
                )
            if not forward:
                break
            syn_name = forward[0]
            lif_name = self.targets(syn_name)[0]
            lif = self.nodes[lif_name]
            if lif_name in visited:
                raise UnsupportedError(
                    f"{_describe(syn_name, self.nodes[syn_name])} feeds back from '{current}' to "
                    f"the earlier node '{lif_name}'; {CHAIN_SUPPORTED}"
                )
            back = [d for d in self.targets(lif_name) if self.targets(d) == (lif_name,)]
            others = [s for s in self.sources(lif_name) if s != syn_name and s not in back]
            if others:
                raise UnsupportedError(
                    f"{_describe(lif_name, lif)} has extra input(s) {others} besides "
                    f"'{syn_name}'; {CHAIN_SUPPORTED}"
                )
            if len(back) > 1:
                raise UnsupportedError(
                    f"{_describe(lif_name, lif)} has {len(back)} recurrent Dense nodes {back}; "
                    f"{CHAIN_SUPPORTED}"
                )
            # validation guarantees the node types on these edges
            layer = ChainLayer(
                name=lif_name,
                neuron=cast(CubaLIF, lif),
                synapse=cast(Dense, self.nodes[syn_name]),
                recurrent=cast(Dense, self.nodes[back[0]]) if back else None,
                synapse_name=syn_name,
                recurrent_name=back[0] if back else None,
            )
            layers.append(layer)
            visited.update([syn_name, lif_name, *back])
            forward = [d for d in self.targets(lif_name) if d not in back]
            current = lif_name
        if not layers:
            raise UnsupportedError(
                f"{_describe(self.input_name, self.nodes[self.input_name])} feeds no layer; "
                f"{CHAIN_SUPPORTED}"
            )
        off = [k for k in self.nodes if k not in visited]
        if off:
            raise UnsupportedError(
                f"{_describe(off[0], self.nodes[off[0]])} is not on the chain from "
                f"'{self.input_name}' (off the chain: {off}); {CHAIN_SUPPORTED}"
            )
        return tuple(layers)


def _size(node: Node) -> int:
    if isinstance(node, (Input, CubaLIF)):
        return node.size
    raise TypeError(f"{node.kind} has no size")


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
