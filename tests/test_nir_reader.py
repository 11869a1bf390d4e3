"""read_nir / write_nir by hand: the mapping's equations, nesting, metadata, and every refusal
(a typed error naming the node or layer and what is allowed)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest

from lavabridge import ir
from lavabridge.errors import InputError, ModelFileError, UnsupportedError
from lavabridge.exporters.nir import to_nir
from lavabridge.importers.load import detect_format, load_model
from lavabridge.importers.nir import read_nir
from lavabridge.importers.nirsim import run_nir
from lavabridge.semantics import Compare, Reset


def lif(n: int, tau: float = 2e-3, r: float = 1.0, v_leak: float = 0.0, v_th: Any = 1.0,
        v_reset: float = 0.0) -> nir.LIF:  # fmt: skip
    f = lambda v: np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()  # noqa: E731
    return nir.LIF(tau=f(tau), r=f(r), v_leak=f(v_leak), v_threshold=f(v_th), v_reset=f(v_reset))


def chain(n_in: int, *nodes: tuple[str, Any], extra: list[tuple[str, str]] = ()) -> nir.NIRGraph:  # type: ignore[assignment]
    names = ["input", *(k for k, _ in nodes), "output"]
    last = nodes[-1][1]
    out_shape = np.shape(getattr(last, "v_threshold", getattr(last, "threshold", np.zeros(1))))
    all_nodes = {
        "input": nir.Input(np.array([n_in])),
        **dict(nodes),
        "output": nir.Output(np.array(out_shape)),
    }
    edges = list(itertools.pairwise(names)) + list(extra)
    return nir.NIRGraph(all_nodes, edges, type_check=False)


W = np.array([[0.5, -0.25, 1.0], [1.5, 0.5, -0.5]])


def test_lif_mapping_equations() -> None:
    """LIF(tau, r, v_leak, v_threshold, v_reset) -> CubaLIF(1, b, theta, bias) with b = dt/tau,
    weights b r W, theta = v_th - v_reset, bias = b (v_leak - v_reset), bias_start = latency."""
    g = read_nir(chain(3, ("fc", nir.Affine(W, np.array([0.1, 0.2]))),
                       ("lif", lif(2, tau=4e-3, r=2.0, v_leak=0.3, v_th=1.5, v_reset=0.5))), 1e-3)  # fmt: skip
    (layer,) = g.layer_chain()
    n = layer.neuron
    assert isinstance(n, ir.CubaLIF) and isinstance(layer.synapse, ir.Dense)
    assert (n.current_decay, n.voltage_decay, n.threshold) == (1.0, 0.25, 1.0)
    assert np.allclose(layer.synapse.weight, 0.5 * W) and np.allclose(
        layer.synapse.bias, [0.05, 0.1]
    )
    assert np.allclose(n.bias, 0.25 * (0.3 - 0.5)) and n.bias_start == 1 and n.reset == Reset.ZERO
    assert (layer.name, layer.synapse_name) == ("lif", "fc")


def test_per_neuron_thresholds_scale_rows() -> None:
    """Unequal thresholds: theta = max, each neuron's inputs scaled by theta / theta_i."""
    g = read_nir(chain(3, ("fc", nir.Linear(W)), ("lif", lif(2, tau=1e-3, v_th=[1.0, 2.0]))), 1e-3)
    (layer,) = g.layer_chain()
    assert layer.neuron.threshold == 2.0  # type: ignore[attr-defined]
    assert np.allclose(layer.synapse.weight, W * np.array([[2.0], [1.0]]))  # type: ignore[union-attr]


def test_cubalif_if_threshold_and_exp() -> None:
    """CubaLIF: a = k(tau_syn), gain (a w_in)(b r); IF: gain dt r, no decay; Threshold: v = I;
    exp: k = 1 - exp(-dt / tau)."""
    cuba = nir.CubaLIF(tau_syn=np.full(2, 4e-3), tau_mem=np.full(2, 2e-3), r=np.full(2, 2.0),
                       v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2), w_in=np.full(2, 3.0))  # fmt: skip
    n = read_nir(chain(3, ("fc", nir.Linear(W)), ("c", cuba)), 1e-3).layer_chain()[0]
    assert (n.neuron.current_decay, n.neuron.voltage_decay) == (0.25, 0.5)  # type: ignore[attr-defined]
    assert np.allclose(n.synapse.weight, W * 0.25 * 3 * 0.5 * 2)  # type: ignore[union-attr]
    fi = nir.IF(r=np.full(2, 4.0), v_threshold=np.ones(2), v_reset=np.zeros(2))
    n = read_nir(chain(3, ("fc", nir.Linear(W)), ("i", fi)), 0.5).layer_chain()[0]
    assert n.neuron.voltage_decay == 0.0 and np.allclose(n.synapse.weight, 2.0 * W)  # type: ignore[attr-defined, union-attr]
    n = read_nir(
        chain(3, ("fc", nir.Linear(W)), ("t", nir.Threshold(np.full(2, 0.5)))), 0.5
    ).layer_chain()[0]
    assert (n.neuron.current_decay, n.neuron.voltage_decay, n.neuron.threshold) == (1.0, 1.0, 0.5)  # type: ignore[attr-defined]
    n = read_nir(
        chain(3, ("fc", nir.Linear(W)), ("l", lif(2, tau=1e-3))), 1e-3, discretisation="exp"
    ).layer_chain()[0]
    assert n.neuron.voltage_decay == pytest.approx(1 - np.exp(-1))  # type: ignore[attr-defined]


def test_nested_graph_and_recurrence() -> None:
    """A nested graph {input, lif, w_rec, output} with the cycle lif <-> w_rec reads as the flat
    graph: one layer with a recurrent synapse named after w_rec."""
    sub = nir.NIRGraph({"input": nir.Input(np.array([2])), "lif": lif(2), "w_rec": nir.Linear(np.eye(2) * 0.5),
                        "output": nir.Output(np.array([2]))},
                       [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")], type_check=False)  # fmt: skip
    g = nir.NIRGraph({"input": nir.Input(np.array([3])), "fc": nir.Linear(W), "rnn": sub,
                      "output": nir.Output(np.array([2]))},
                     [("input", "fc"), ("fc", "rnn"), ("rnn", "output")], type_check=False)  # fmt: skip
    (layer,) = read_nir(g, 1e-3).layer_chain()
    assert layer.name == "rnn.lif" and layer.recurrent_name == "rnn.w_rec"
    assert np.allclose(layer.recurrent.weight, 0.25 * np.eye(2))  # type: ignore[union-attr]


def test_reset_and_discretisation_from_arguments_or_metadata() -> None:
    """reset=None: a node's lavabridge.reset, else the graph's, else 'zero'; an argument wins.
    Never inferred from v_reset."""
    g = chain(3, ("fc", nir.Linear(W)), ("lif", lif(2, v_reset=-0.5)))
    assert read_nir(g, 1e-3).layer_chain()[0].neuron.reset == Reset.ZERO  # type: ignore[attr-defined]
    assert read_nir(g, 1e-3, "subtract").layer_chain()[0].neuron.reset == Reset.SUBTRACT  # type: ignore[attr-defined]
    g.metadata["lavabridge.reset"] = "subtract"
    g.metadata["lavabridge.discretisation"] = "exp"
    n = read_nir(g, 1e-3).layer_chain()[0].neuron
    assert n.reset == Reset.SUBTRACT and n.voltage_decay == pytest.approx(1 - np.exp(-0.5))  # type: ignore[attr-defined]
    g.nodes["lif"].metadata["lavabridge.reset"] = "zero"
    assert read_nir(g, 1e-3).layer_chain()[0].neuron.reset == Reset.ZERO  # type: ignore[attr-defined]
    assert (
        read_nir(g, 1e-3, "subtract", discretisation="euler").layer_chain()[0].neuron.voltage_decay
        == 0.5
    )  # type: ignore[attr-defined]


def _branch() -> nir.NIRGraph:
    return nir.NIRGraph({"input": nir.Input(np.array([3])), "a": nir.Linear(W), "b": nir.Linear(W),
                         "l1": lif(2), "l2": lif(2), "output": nir.Output(np.array([2]))},
                        [("input", "a"), ("input", "b"), ("a", "l1"), ("b", "l2"), ("l1", "output")], type_check=False)  # fmt: skip


def _join() -> nir.NIRGraph:
    return nir.NIRGraph({"input": nir.Input(np.array([3])), "a": nir.Linear(W), "l1": lif(2),
                         "b": nir.Linear(np.eye(2)), "c": nir.Linear(W), "l2": lif(2), "output": nir.Output(np.array([2]))},
                        [("input", "a"), ("a", "l1"), ("l1", "b"), ("b", "l2"), ("c", "l2"),
                         ("l2", "output")], type_check=False)  # fmt: skip  # c: a source off the chain


REFUSED = {
    "branch": (lambda: _branch(), 1e-3, r"node 'input' \(Input\).*branch"),
    "join or skip": (lambda: _join(), 1e-3, r"node 'l2' \(LIF\).*extra input"),
    "per-neuron tau": (lambda: chain(3, ("fc", nir.Linear(W)), ("l", lif(2, tau=np.array([1e-3, 2e-3])))), 1e-3,
                       r"node 'l' \(LIF\): tau differs between neurons"),
    "dt > tau": (lambda: chain(3, ("fc", nir.Linear(W)), ("l", lif(2, tau=1e-4))), 1e-3, r"node 'l' \(LIF\).*\(0, 1\]"),
    "readout": (lambda: chain(3, ("fc", nir.Linear(W)), ("li", nir.LI(np.ones(2), np.ones(2), np.zeros(2)))), 1e-3,
                r"node 'li' \(LI\): a non-spiking readout"),
    "graded output": (lambda: nir.NIRGraph({"input": nir.Input(np.array([3])), "fc": nir.Linear(W), "l": lif(2),
                                            "fc2": nir.Linear(np.eye(2)), "output": nir.Output(np.array([2]))},
                                           [("input", "fc"), ("fc", "l"), ("l", "fc2"), ("fc2", "output")], type_check=False),
                      1e-3, r"node 'fc2' \(Linear\): sends a graded value"),
    "delay not a multiple of dt": (lambda: chain(3, ("d", nir.Delay(np.full(3, 1.5e-3))), ("fc", nir.Linear(W)), ("l", lif(2))),
                                   1e-3, r"node 'd' \(Delay\).*integer"),
    "delay after a map": (lambda: chain(3, ("fc", nir.Linear(W)), ("d", nir.Delay(np.full(2, 1e-3))), ("l", lif(2))),
                          1e-3, r"node 'd' \(Delay\): a Delay must directly follow"),
    "threshold below reset": (lambda: chain(3, ("fc", nir.Linear(W)), ("l", lif(2, v_th=0.2, v_reset=0.5))), 1e-3,
                              r"node 'l' \(LIF\): v_threshold must exceed v_reset"),
    "even 'same' kernel": (lambda: nir.NIRGraph({"input": nir.Input(np.array([1, 4, 4])),
                                                "c": nir.Conv2d((4, 4), np.ones((1, 1, 2, 2)), 1, "same", 1, 1, np.zeros(1)),
                                                "l": lif(16), "output": nir.Output(np.array([16]))},
                                               [("input", "c"), ("c", "l"), ("l", "output")], type_check=False),
                           1e-3, r"node 'c' \(Conv2d\): padding 'same'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
def test_refusals_name_the_node(case: str) -> None:
    make, dt, match = REFUSED[case]
    with pytest.raises(UnsupportedError, match=match) as info:
        read_nir(make(), dt)
    assert info.value.stage == "NIR reader"


@pytest.mark.parametrize("dt", [None, 0, -1e-3, float("nan"), "fast"])
def test_dt_is_required_and_checked(dt: Any) -> None:
    with pytest.raises(InputError, match="dt"):
        read_nir(chain(3, ("fc", nir.Linear(W)), ("l", lif(2))), dt)


def test_bad_arguments_and_files(tmp_path: Path) -> None:
    g = chain(3, ("fc", nir.Linear(W)), ("l", lif(2)))
    with pytest.raises(InputError, match="reset 'none'"):
        read_nir(g, 1e-3, "none")
    with pytest.raises(InputError, match="discretisation 'rk4'"):
        read_nir(g, 1e-3, discretisation="rk4")
    with pytest.raises(ModelFileError, match="no such NIR file"):
        read_nir(tmp_path / "missing.nir", 1e-3)
    (tmp_path / "junk.nir").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ModelFileError, match="cannot read as NIR"):
        read_nir(tmp_path / "junk.nir", 1e-3)
    nir.write(tmp_path / "g.nir", g)
    assert detect_format(tmp_path / "g.nir") == "nir"
    with pytest.raises(InputError, match="--from nir --dt DT"):
        load_model(tmp_path / "g.nir")


def _native(**neuron: Any) -> ir.Graph:
    return ir.Graph.sequential(3, (ir.Dense(W), ir.CubaLIF(2, 1.0, 0.5, 1.0, **neuron)))


@pytest.mark.parametrize(
    ("graph", "match"),
    [
        (_native(compare=Compare.GE), "compare '>='"),
        (_native(reset=Reset.SUBTRACT_NEXT), "reset 'subtract-next'"),
        (_native(reset=Reset.NONE), "reset 'none'"),
        (ir.Graph.sequential(3, (ir.Dense(W, delay=np.array([[0, 1, 2], [1, 1, 1]])), ir.LIF(2, 0.5, 1.0))),
         "per-synapse delays"),
        (ir.Graph.sequential(4, (None, ir.LIF(4, 0.5, 1.0))), "bias-input graph"),
        (ir.Graph.sequential(3, (ir.Dense(W), ir.CubaLIF(2, 0.0, 0.5, 1.0))), "current_decay 0"),
    ],
)  # fmt: skip
def test_writer_refusals_name_the_layer(graph: ir.Graph, match: str) -> None:
    with pytest.raises(UnsupportedError, match=match) as info:
        to_nir(graph, 1e-3)
    assert info.value.stage == "NIR writer"


def test_writer_keeps_bias_start_and_delays() -> None:
    """A lavabridge-trained model's biases act from step 0 (bias_start 0, not its latency): the
    metadata states it and read_nir restores it; column delays become a Delay node."""
    g = ir.Graph.sequential(3, (ir.Dense(W, delay=np.array([[0, 2, 1], [0, 2, 1]])),
                                ir.LIF(2, 0.5, 1.0, bias=np.array([0.1, -0.2]))))  # fmt: skip
    h = to_nir(g, 1e-3)
    assert h.metadata["lavabridge.bias_start"] == {"layer0": 0}
    assert np.allclose(h.nodes["layer0.synapse.delay"].delay, [0, 2e-3, 1e-3])
    assert read_nir(h, 1e-3) == g


def test_duplicate_edge_and_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edge listed twice is refused (not summed twice, nor dropped); without the nir package
    the error says how to install it."""
    g = chain(3, ("fc", nir.Linear(W)), ("l", lif(2)), extra=[("fc", "l")])
    with pytest.raises(UnsupportedError, match=r"edge \('fc', 'l'\) appears twice"):
        read_nir(g, 1e-3)
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(UnsupportedError, match=r"pip install 'lavabridge\[nir\]'"):
        read_nir("model.nir", 1e-3)


def test_writer_refuses_recurrence_on_an_image_population() -> None:
    conv = ir.Conv2d(np.ones((1, 1, 3, 3)), (1, 4, 4))
    rec = ir.Dense(np.eye(4) * 0.5)
    g = ir.Graph.sequential(16, (conv, ir.LIF(4, 0.5, 1.0), rec))
    with pytest.raises(UnsupportedError, match="recurrent synapse on an image population"):
        to_nir(g, 1e-3)


def _lif_of(shape: tuple[int, ...], tau: float = 2e-3) -> nir.LIF:
    f = lambda v: np.full(shape, v, np.float64)  # noqa: E731
    return nir.LIF(tau=f(tau), r=f(1.5), v_leak=f(0.1), v_threshold=f(1.0), v_reset=f(0.0))


@pytest.mark.parametrize("case", ["conv1d", "conv2d-same-scale", "input-to-neuron"])
def test_maps_the_random_graphs_do_not_draw(case: str) -> None:
    """Conv1d (as height 1), padding 'same', a Scale after a Conv2d (a diagonal Dense), an Input
    feeding a neuron directly (an identity Dense): the float reference equals NIR's own run."""
    rng = np.random.default_rng(5)
    if case == "conv1d":
        nodes = {"input": nir.Input(np.array([2, 9])),
                 "c": nir.Conv1d(9, rng.normal(0.8, 1, (3, 2, 3)), 2, 1, 1, 1, rng.normal(0, 0.2, 3)),
                 "l": _lif_of((3, 5))}  # fmt: skip
        shape: tuple[int, ...] = (2, 9)
    elif case == "conv2d-same-scale":
        nodes = {"input": nir.Input(np.array([1, 5, 5])),
                 "c": nir.Conv2d((5, 5), rng.normal(0.8, 1, (2, 1, 3, 3)), 1, "same", 1, 1, np.zeros(2)),
                 "s": nir.Scale(rng.uniform(0.5, 1.5, (2, 5, 5))), "l": _lif_of((2, 5, 5))}  # fmt: skip
        shape = (1, 5, 5)
    else:
        nodes, shape = {"input": nir.Input(np.array([4])), "l": _lif_of((4,), tau=1e-3)}, (4,)
    names = list(nodes)
    out_shape = np.shape(nodes["l"].v_threshold)
    graph = nir.NIRGraph({**nodes, "output": nir.Output(np.array(out_shape))},
                         [*itertools.pairwise(names), ("l", "output")], type_check=False)  # fmt: skip
    g = read_nir(graph, 1e-3)
    x = (rng.random((12, 2, *shape)) < 0.5).astype(np.float64)
    rec = ir.interpret(g, x.reshape(12, 2, -1).transpose(1, 0, 2))
    want = run_nir(graph, x, 1e-3)["l"].reshape(12, 2, -1).transpose(1, 0, 2)
    assert want.sum() > 3
    assert np.array_equal(rec.spikes[0][:, 1:], want[:, :-1] != 0)
