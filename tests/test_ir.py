"""The float IR: node validation, immutability, graph topology rules, layer_chain, save/load.

Every refused value must raise a typed error naming the node (or edge) and the parameter; a round
trip through a file must give back the same graph with bit-identical arrays.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir import (
    IF,
    LIF,
    Compare,
    CubaLIF,
    Dense,
    Graph,
    Input,
    Node,
    Reset,
    load,
    save,
)

from ir_helpers import chain_graph, lif


# ----------------------------------------------------------------------------- nodes
def test_cubalif_normalises_fields() -> None:
    n = CubaLIF(3, 0.5, np.float32(0.25), 2, bias=0.5, reset="subtract", compare=">=")
    assert n.size == 3 and n.current_decay == 0.5 and n.voltage_decay == 0.25
    assert isinstance(n.threshold, float) and n.threshold == 2.0
    assert n.bias.dtype == np.float64 and n.bias.tolist() == [0.5, 0.5, 0.5]
    assert n.reset is Reset.SUBTRACT and n.compare is Compare.GE
    assert n.reset == "subtract"  # str enum: the plain spelling compares equal


def test_if_and_lif_factories() -> None:
    i = IF(5, threshold=2.0, reset="subtract")
    assert (i.current_decay, i.voltage_decay, i.threshold, i.reset) == (1.0, 0.0, 2.0, "subtract")
    l_ = LIF(5, voltage_decay=0.1, threshold=1.5, bias=np.arange(5.0))
    assert (l_.current_decay, l_.voltage_decay) == (1.0, 0.1)
    assert l_.bias.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_dense_keeps_float_dtype_and_broadcasts() -> None:
    w32 = np.ones((2, 3), np.float32)
    d = Dense(w32, bias=1, delay=2)
    assert d.weight.dtype == np.float32
    assert d.bias is not None and d.bias.dtype == np.float64 and d.bias.shape == (2,)
    assert d.delay is not None and d.delay.dtype == np.int64 and d.delay.shape == (2, 3)
    assert (d.n_out, d.n_in, d.max_delay) == (2, 3, 2)
    assert Dense(np.ones((2, 3), np.int8)).weight.dtype == np.float64
    assert Dense(np.ones((2, 3))).max_delay == 0


@pytest.mark.parametrize(
    ("kw", "param", "fragment"),
    [
        ({"size": 0}, "size", ">= 1"),
        ({"size": 2.0}, "size", "must be an int"),
        ({"size": True}, "size", "must be an int"),
        ({"current_decay": -0.1}, "current_decay", "[0, 1]"),
        ({"current_decay": 1.01}, "current_decay", "[0, 1]"),
        ({"voltage_decay": float("nan")}, "voltage_decay", "[0, 1]"),
        ({"voltage_decay": "0.5"}, "voltage_decay", "real number"),
        ({"threshold": 0.0}, "threshold", "(0, inf)"),
        ({"threshold": -1.0}, "threshold", "(0, inf)"),
        ({"threshold": float("inf")}, "threshold", "(0, inf)"),
        ({"bias": np.zeros(3)}, "bias", "expected (4,)"),
        ({"bias": np.zeros((4, 1))}, "bias", "1-D"),
        ({"bias": [0, 0, np.inf, 0]}, "bias", "finite"),
        ({"bias": ["a"] * 4}, "bias", "real numbers"),
        ({"reset": "hard"}, "reset", "'zero' | 'subtract'"),
        ({"compare": "<"}, "compare", "'>' | '>='"),
    ],
)
def test_cubalif_bad_values(kw: dict[str, Any], param: str, fragment: str) -> None:
    args: dict[str, Any] = {
        "size": 4,
        "current_decay": 0.5,
        "voltage_decay": 0.5,
        "threshold": 1.0,
        **kw,
    }
    with pytest.raises(ValidationError) as info:
        CubaLIF(**args)
    assert info.value.where == "CubaLIF" and info.value.param == param
    assert fragment in info.value.problem
    assert f"CubaLIF: {param}:" in str(info.value)


@pytest.mark.parametrize(
    ("kw", "param", "fragment"),
    [
        ({"weight": np.zeros(3)}, "weight", "2-D"),
        ({"weight": np.full((2, 2), np.nan)}, "weight", "finite"),
        ({"weight": np.zeros((2, 2), complex)}, "weight", "real numbers"),
        ({"weight": None}, "weight", "required"),
        ({"bias": np.zeros(3)}, "bias", "expected (2,)"),
        ({"delay": np.zeros((3, 2), int)}, "delay", "expected (2, 3)"),
        ({"delay": -np.ones((2, 3), int)}, "delay", ">= 0"),
        ({"delay": np.full((2, 3), 0.5)}, "delay", "integers"),
        ({"delay": np.full((2, 3), 1e30)}, "delay", "does not fit int64"),
        ({"weight": np.zeros((0, 3))}, "weight", "must not be empty"),
    ],
)
def test_dense_bad_values(kw: dict[str, Any], param: str, fragment: str) -> None:
    args: dict[str, Any] = {"weight": np.zeros((2, 3)), **kw}
    with pytest.raises(ValidationError) as info:
        Dense(**args)
    assert (info.value.where, info.value.param) == ("Dense", param)
    assert fragment in info.value.problem


def test_input_bad_size() -> None:
    with pytest.raises(ValidationError, match=r"Input: size: -1 is outside"):
        Input(-1)


def test_node_base_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Node()


def test_validation_error_is_not_an_assert() -> None:
    # typed, catchable as ValueError, and present under python -O (no assert involved)
    with pytest.raises(ValueError):
        lif(2, threshold=0)


# ----------------------------------------------------------------------------- immutability
def test_nodes_are_frozen_and_arrays_read_only() -> None:
    d = Dense(np.ones((2, 3)), bias=np.zeros(2), delay=np.ones((2, 3), int))
    n = lif(2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.weight = np.zeros((2, 3))  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.threshold = 2.0  # type: ignore[misc]
    for arr in (d.weight, d.bias, d.delay, n.bias):
        assert arr is not None
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 5
        with pytest.raises(ValueError):
            arr.setflags(write=True)


def test_nodes_copy_their_inputs() -> None:
    w = np.ones((2, 3))
    d = Dense(w)
    w[0, 0] = 99.0
    assert d.weight[0, 0] == 1.0


def test_with_revalidates() -> None:
    n = lif(3)
    m = n.with_(threshold=2.5, reset="subtract")
    assert (m.threshold, m.reset, n.threshold, n.reset) == (2.5, Reset.SUBTRACT, 1.0, Reset.ZERO)
    with pytest.raises(ValidationError, match="threshold"):
        n.with_(threshold=-1.0)
    with pytest.raises(ValidationError, match=r"bias: shape \(3,\) != expected \(5,\)"):
        n.with_(size=5)  # the old bias no longer fits
    with pytest.raises(ValidationError, match="voltage_decay"):
        dataclasses.replace(n, voltage_decay=2.0)


def test_pickle_and_deepcopy_keep_nodes_frozen() -> None:
    g = chain_graph()
    for h in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
        assert h == g
        w = h.nodes["d0"]
        assert isinstance(w, Dense) and not w.weight.flags.writeable
        with pytest.raises(TypeError):
            h.nodes["x"] = Input(1)  # type: ignore[index]


def test_node_equality_is_by_value_and_dtype() -> None:
    assert lif(3) == lif(3)
    assert lif(3) != lif(3, bias=1.0)
    assert Dense(np.ones((2, 2))) == Dense(np.ones((2, 2)))
    assert Dense(np.ones((2, 2))) != Dense(np.ones((2, 2), np.float32))
    assert Dense(np.ones((2, 2))) != Dense(np.ones((2, 2)), delay=0)
    assert Input(2) != lif(2, threshold=1.0)
    with pytest.raises(TypeError):
        hash(lif(3))


def test_graph_is_frozen() -> None:
    g = chain_graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        g.nodes["x"] = Input(1)  # type: ignore[index]
    assert isinstance(g.edges, tuple) and all(isinstance(e, tuple) for e in g.edges)


def test_graph_copies_its_nodes_mapping() -> None:
    nodes: dict[str, Node] = {"in": Input(2), "d": Dense(np.ones((1, 2))), "l": lif(1)}
    g = Graph(nodes, [("in", "d"), ("d", "l")])
    nodes["extra"] = Input(5)
    assert list(g.nodes) == ["in", "d", "l"]
    assert g.with_(name="renamed").name == "renamed"


# ----------------------------------------------------------------------------- graph validation
def test_graph_queries() -> None:
    g = chain_graph()
    assert (g.input_name, g.input_size) == ("in", 3)
    assert g.sources("l0") == ("d0", "r0") and g.targets("l0") == ("r0", "d1")


def _graph_error(nodes: dict[str, Node], edges: list[tuple[str, str]]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Graph(nodes, edges, name="g")
    return info.value


def test_edge_to_unknown_node() -> None:
    err = _graph_error({"in": Input(2)}, [("in", "ghost")])
    assert err.where == "graph 'g'" and err.param == "edges" and "'ghost'" in err.problem


@pytest.mark.parametrize(
    ("edges", "fragment"),
    [
        ([("l", "l")], "CubaLIF (neuron) -> CubaLIF (neuron) is not allowed"),  # no synapse
        ([("d", "d")], "Dense (synapse) -> Dense (synapse) is not allowed"),
        ([("d", "in")], "Dense (synapse) -> Input (input) is not allowed"),
    ],
)
def test_edge_types(edges: list[tuple[str, str]], fragment: str) -> None:
    err = _graph_error({"in": Input(2), "d": Dense(np.ones((2, 2))), "l": lif(2)}, edges)
    assert err.param == "edges" and fragment in err.problem and "allowed:" in err.problem


def test_spike_input_cannot_drive_neurons_and_bias_input_cannot_feed_a_dense() -> None:
    err = _graph_error({"in": Input(2), "l": lif(2)}, [("in", "l")])
    assert err.param == "edges" and "'spikes' Input feeds a synapse" in err.problem
    nodes = {"in": Input(2, mode="bias"), "d": Dense(np.ones((2, 2))), "l": lif(2)}  # type: ignore[arg-type]
    err = _graph_error(nodes, [("in", "d"), ("d", "l")])
    assert "'bias' Input feeds a neuron population directly" in err.problem
    err = _graph_error({"in": Input(3, mode="bias"), "l": lif(2)}, [("in", "l")])  # type: ignore[arg-type]
    assert "size 3 != 2" in err.problem


def test_bias_input_chain_round_trips(tmp_path: Path) -> None:
    rec = Dense(np.eye(3))
    g = Graph.sequential(3, (None, lif(3), rec), (Dense(np.ones((2, 3))), lif(2)), input_gain=2.5)
    assert g.nodes["input"] == Input(3, mode="bias", gain=2.5)  # type: ignore[arg-type]
    chain = g.layer_chain()
    assert chain[0].synapse is None and chain[0].recurrent == rec and chain[1].synapse is not None
    assert Graph.sequential(3, *chain, input_gain=2.5) == g
    assert load(save(g, tmp_path / "b.lbir")) == g
    with pytest.raises(ValidationError, match="only layer 0"):
        Graph.sequential(3, (Dense(np.ones((2, 3))), lif(2)), (None, lif(2)))


def test_dense_needs_one_source_and_one_target() -> None:
    nodes: dict[str, Node] = {"in": Input(2), "d": Dense(np.ones((2, 2))), "a": lif(2), "b": lif(2)}
    err = _graph_error(nodes, [("in", "d"), ("d", "a"), ("d", "b")])
    assert err.where == "node 'd' (Dense)" and "exactly one source and one target" in err.problem
    err = _graph_error(nodes, [("d", "a")])
    assert err.where == "node 'd' (Dense)" and "sources ()" in err.problem


def test_shape_mismatch_names_dense_and_neighbour() -> None:
    nodes: dict[str, Node] = {"in": Input(3), "d": Dense(np.ones((2, 4))), "l": lif(2)}
    err = _graph_error(nodes, [("in", "d"), ("d", "l")])
    assert (err.where, err.param) == ("node 'd' (Dense)", "weight")
    assert "n_in 4 != size 3 of source node 'in' (Input)" in err.problem
    nodes = {"in": Input(4), "d": Dense(np.ones((2, 4))), "l": lif(5)}
    err = _graph_error(nodes, [("in", "d"), ("d", "l")])
    assert "n_out 2 != size 5 of target node 'l' (CubaLIF)" in err.problem


def test_exactly_one_input() -> None:
    assert "exactly one Input" in _graph_error({"l": lif(1)}, []).problem
    assert "exactly one Input" in _graph_error({"a": Input(1), "b": Input(1)}, []).problem


def test_bad_graph_containers() -> None:
    assert (
        "appears twice"
        in _graph_error(
            {"in": Input(2), "d": Dense(np.ones((2, 2))), "l": lif(2)},
            [("in", "d"), ("d", "l"), ("in", "d")],
        ).problem
    )
    assert "pair of names" in _graph_error({"in": Input(1)}, ["in"]).problem  # type: ignore[list-item]
    assert "not an IR node" in _graph_error({"in": Input(1), "x": 3}, []).problem  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="mapping"):
        Graph([Input(1)])  # type: ignore[arg-type]


def test_cycle_across_layers_is_a_valid_graph_but_not_a_chain() -> None:
    # l1 -> back -> l0 closes a loop through a Dense: describable (one step per hop) ...
    g = chain_graph(recurrent=False)
    nodes = {**g.nodes, "back": Dense(np.ones((4, 2)))}
    h = Graph(nodes, (*g.edges, ("l1", "back"), ("back", "l0")))
    # ... but not the topology the quantizer handles
    with pytest.raises(UnsupportedError, match=r"node 'l0' \(CubaLIF\) has extra input"):
        h.layer_chain()
