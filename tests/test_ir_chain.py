"""The layer chain of the float IR: Graph.sequential and Graph.layer_chain (roles, refusals)."""

from __future__ import annotations

import numpy as np
import pytest

from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir import (
    IF,
    ChainLayer,
    Dense,
    Graph,
    Input,
)

from ir_helpers import chain_graph, dense, lif


# ----------------------------------------------------------------------------- layer_chain
def test_layer_chain_extracts_layers_in_order() -> None:
    g = chain_graph()
    layers = g.layer_chain()
    assert [layer.name for layer in layers] == ["l0", "l1"]
    l0, l1 = layers
    assert l0.neuron is g.nodes["l0"] and l0.synapse is g.nodes["d0"]
    assert l0.recurrent is g.nodes["r0"] and (l0.synapse_name, l0.recurrent_name) == ("d0", "r0")
    assert l1.recurrent is None and l1.recurrent_name is None and l1.size == 2


def test_sequential_builds_the_chain_and_round_trips() -> None:
    d0, n0, r0, d1, n1 = dense(4, 3), lif(4), dense(4, 4), dense(2, 4), IF(2, 1.0)
    g = Graph.sequential(3, (d0, n0, r0), (d1, n1), name="seq")
    assert list(g.nodes) == [
        "input",
        "layer0.synapse",
        "layer0",
        "layer0.recurrent",
        "layer1.synapse",
        "layer1",
    ]
    assert set(g.edges) == {
        ("input", "layer0.synapse"),
        ("layer0.synapse", "layer0"),
        ("layer0", "layer0.recurrent"),
        ("layer0.recurrent", "layer0"),
        ("layer0", "layer1.synapse"),
        ("layer1.synapse", "layer1"),
    }
    # layer_chain and sequential are inverses, names included
    chain = chain_graph()
    rebuilt = Graph.sequential(
        chain.input_size, *chain.layer_chain(), name=chain.name, input_name=chain.input_name
    )
    assert rebuilt == chain


def test_sequential_validates() -> None:
    with pytest.raises(ValidationError, match=r"node 'layer0.synapse' \(Dense\): weight"):
        Graph.sequential(5, (dense(4, 3), lif(4)))
    with pytest.raises(ValidationError, match=r"duplicate node name 'a\.synapse'"):
        Graph.sequential(
            3, ChainLayer("a", lif(4), dense(4, 3)), ChainLayer("a", lif(4), dense(4, 4))
        )
    with pytest.raises(ValidationError, match="layer 'x': neuron"):
        ChainLayer("x", dense(4, 3), dense(4, 3))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="ChainLayer or a"):
        Graph.sequential(3, dense(4, 3))  # type: ignore[arg-type]


def _unsupported(g: Graph, *fragments: str) -> None:
    with pytest.raises(UnsupportedError) as info:
        g.layer_chain()
    msg = str(info.value)
    assert "supported: Input -> [synapse -> neuron" in msg
    for fragment in fragments:
        assert fragment in msg


def test_layer_chain_refuses_branch() -> None:
    g = chain_graph(recurrent=False)
    nodes = {**g.nodes, "d2": Dense(np.ones((5, 4))), "l2": lif(5)}
    _unsupported(
        Graph(nodes, (*g.edges, ("l0", "d2"), ("d2", "l2"))),
        "node 'l0' (CubaLIF) feeds 2 synapses",
    )


def test_layer_chain_refuses_skip_connection() -> None:
    g = chain_graph(recurrent=False)
    nodes = {**g.nodes, "skip": Dense(np.ones((2, 3)))}
    _unsupported(
        Graph(nodes, (*g.edges, ("in", "skip"), ("skip", "l1"))),
        "node 'in' (Input) feeds 2 synapses",
    )


def test_layer_chain_refuses_two_recurrent() -> None:
    g = chain_graph(recurrent=True)
    nodes = {**g.nodes, "r0b": dense(4, 4)}
    _unsupported(
        Graph(nodes, (*g.edges, ("l0", "r0b"), ("r0b", "l0"))),
        "node 'l0' (CubaLIF) has 2 recurrent synapses",
    )


def test_layer_chain_refuses_nodes_off_the_chain_and_empty_chain() -> None:
    g = chain_graph(recurrent=False)
    _unsupported(Graph({**g.nodes, "lonely": lif(3)}, g.edges), "node 'lonely' (CubaLIF) is not on")
    _unsupported(Graph({"in": Input(2)}), "node 'in' (Input) feeds no layer")
