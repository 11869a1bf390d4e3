"""``lavabridge.importers.nirsim.run_nir``: the NIR graph's own run, node by node.

Three kinds of check: hand-computed traces written out with the equations of the module
docstring (plain Python loops, independent of the interpreter's code paths), torch itself for
convolution and pooling, and snnTorch's own NIR export and import (``snntorch.export_nir`` and
``snntorch.import_nir``) run step by step against the NIR graph: identical spike trains.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir

from lavabridge.errors import InputError, UnsupportedError
from lavabridge.importers.nirsim import run_nir


def chain(shape: tuple[int, ...], **nodes: object) -> nir.NIRGraph:
    """``input -> nodes (in keyword order) -> output``, without NIR's type inference."""
    names = ["input", *nodes, "output"]
    all_nodes = {"input": nir.Input(np.array(shape)), **nodes, "output": nir.Output(np.array([0]))}
    return nir.NIRGraph(all_nodes, list(itertools.pairwise(names)), type_check=False)


def one(value: float) -> np.ndarray:
    return np.array([value])


# ----------------------------------------------------------------------------- hand traces

LIF_P = {"tau": 2e-3, "r": 2.0, "v_leak": 0.1, "v_threshold": 0.5, "v_reset": 0.2}
CURRENT = [0.5, 0.0, 0.35, 0.4, 0.0, 0.05, 0.6, 0.2]  # I[t] of the 1-neuron traces


def lif_by_hand(b: float, reset: str) -> list[float]:
    v, out = LIF_P["v_reset"], []  # v starts at v_reset
    for current in CURRENT:
        v = v + b * (LIF_P["v_leak"] - v + LIF_P["r"] * current)
        z = v > LIF_P["v_threshold"]
        if z:
            v = (
                LIF_P["v_reset"]
                if reset == "zero"
                else v - (LIF_P["v_threshold"] - LIF_P["v_reset"])
            )
        out.append(float(z))
    return out


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_lif_hand_trace(reset: str) -> None:
    """A 1-neuron LIF (b = dt/tau = 0.5) against the equations, both resets, euler and exp.

    Step 0 by hand: v = 0.2 + 0.5 (0.1 - 0.2 + 2·0.5) = 0.65 > 0.5: spike; then v = 0.2 (zero) or
    0.35 (subtract); step 1: 0.15 / 0.225; step 2 (I = 0.35): 0.475 (no spike) / 0.5125 (spike),
    so the two resets give different trains.
    """
    graph = chain((1,), lif=nir.LIF(**{k: one(v) for k, v in LIF_P.items()}))
    x = np.array(CURRENT).reshape(-1, 1, 1)
    out = run_nir(graph, x, 1e-3, reset=reset)
    expected = {"zero": [1, 0, 0, 1, 0, 0, 1, 0], "subtract": [1, 0, 1, 1, 0, 0, 1, 0]}[reset]
    assert lif_by_hand(0.5, reset) == expected
    assert out["lif"][:, 0, 0].tolist() == expected
    assert out["output"].tolist() == out["lif"].tolist()
    assert out["input"].tolist() == x.tolist()
    exp_b = 1 - math.exp(-0.5)
    exp_out = run_nir(graph, x, 1e-3, reset=reset, discretisation="exp")
    assert exp_out["lif"][:, 0, 0].tolist() == lif_by_hand(exp_b, reset)


def test_cubalif_if_li_cubali_i_hand_traces() -> None:
    """CubaLIF (i first, then v with this step's i), IF, LI, CubaLI and I against plain loops.

    Each node reads the same input; per-neuron parameters (2 neurons) check the broadcasting and
    that each neuron keeps its own state; batch 2 checks per-sample state.
    """
    dt, n = 1e-3, 2
    tau_syn, tau_mem, r, v_leak = np.array([2e-3, 4e-3]), np.array([4e-3, 5e-3]), 1.5, 0.05
    v_th, v_reset, w_in = np.array([0.3, 0.4]), np.array([0.0, -0.1]), np.array([2.0, 1.0])
    full = lambda v: np.broadcast_to(np.asarray(v, float), (n,)).copy()  # noqa: E731
    nodes = {
        "cuba": nir.CubaLIF(tau_syn, tau_mem, full(r), full(v_leak), v_th, v_reset, w_in),
        "if_": nir.IF(full(200.0), v_th, v_reset),
        "li": nir.LI(tau_mem, full(r), full(v_leak)),
        "cubali": nir.CubaLI(tau_syn, tau_mem, full(r), full(v_leak), w_in),
        "integ": nir.I(full(50.0)),
    }
    edges = [("input", k) for k in nodes]
    graph = nir.NIRGraph({"input": nir.Input(np.array([n])), **nodes}, edges, type_check=False)
    rng = np.random.default_rng(1)
    x = (rng.random((12, 2, n)) < 0.5).astype(float)
    out = run_nir(graph, x, dt)
    a, b = dt / tau_syn, dt / tau_mem
    for s in range(2):
        i = np.zeros(n)
        v = {"cuba": v_reset.copy(), "if_": v_reset.copy(), "li": np.zeros(n)}
        v |= {"cubali": np.zeros(n), "integ": np.zeros(n)}
        for t in range(12):
            current = x[t, s]
            i = i + a * (w_in * current - i)
            v["cuba"] = v["cuba"] + b * (v_leak - v["cuba"] + r * i)
            z_cuba = v["cuba"] > v_th
            v["cuba"] = np.where(z_cuba, v_reset, v["cuba"])
            v["if_"] = v["if_"] + dt * 200.0 * current
            z_if = v["if_"] > v_th
            v["if_"] = np.where(z_if, v_reset, v["if_"])
            v["li"] = v["li"] + b * (v_leak - v["li"] + r * current)
            v["cubali"] = v["cubali"] + b * (v_leak - v["cubali"] + r * i)
            v["integ"] = v["integ"] + dt * 50.0 * current
            assert out["cuba"][t, s].tolist() == z_cuba.astype(float).tolist()
            assert out["if_"][t, s].tolist() == z_if.astype(float).tolist()
            for key in ("li", "cubali", "integ"):
                assert out[key][t, s].tolist() == v[key].tolist()
    assert out["cuba"].sum() > 0 and out["if_"].sum() > 0
    assert not np.array_equal(out["cuba"][:, 0], out["cuba"][:, 1])  # per-sample state


def test_threshold_and_delay() -> None:
    """Threshold is strict (x == threshold gives 0); Delay shifts each element by delay/dt steps."""
    dt = 1e-3
    out = run_nir(chain((3,), th=nir.Threshold(np.array([0.5, 0.5, 0.2]))), [[[0.5, 0.6, 0.2]]], dt)
    assert out["th"].tolist() == [[[0.0, 1.0, 0.0]]]
    x = np.arange(1, 1 + 6 * 3, dtype=float).reshape(6, 1, 3)
    out = run_nir(chain((3,), d=nir.Delay(np.array([0.0, dt, 3 * dt]))), x, dt)["d"]
    for t in range(6):
        assert out[t, 0].tolist() == [
            x[t, 0, 0],
            x[t - 1, 0, 1] if t >= 1 else 0.0,
            x[t - 3, 0, 2] if t >= 3 else 0.0,
        ]
    for bad in (np.array([1.5 * dt]), np.array([-dt])):
        with pytest.raises(InputError, match="'d'"):
            run_nir(chain((1,), d=nir.Delay(bad)), np.zeros((2, 1, 1)), dt)


def test_recurrent_cycle_back_edge_one_step() -> None:
    """LIF -> Affine -> LIF: the cycle's delay sits on the edge leaving the LIF, so
    ``rec[t] = W_rec z[t-1] + b_rec`` (``z[-1] = 0``: the bias acts from step 0, as snnTorch's
    RLeaky has it) feeds the LIF in the same step. The edge list is given scrambled (the DFS
    follows listed order; the delay lands on lif -> rec either way).
    """
    w_in, b_in = np.array([[1.0, 0.5], [0.25, 1.0]]), np.array([0.1, 0.0])
    w_rec, b_rec = np.array([[0.0, 0.75], [-0.5, 0.25]]), np.array([0.05, 0.1])
    lif = nir.LIF(*(np.full(2, v) for v in (2e-3, 2.0, 0.0, 0.6, 0.0)))
    nodes = {"input": nir.Input(np.array([2])), "fc": nir.Affine(w_in, b_in), "lif": lif}
    nodes |= {"rec": nir.Affine(w_rec, b_rec), "output": nir.Output(np.array([2]))}
    edges = [("rec", "lif"), ("lif", "output"), ("input", "fc"), ("lif", "rec"), ("fc", "lif")]
    graph = nir.NIRGraph(nodes, edges, type_check=False)
    x = (np.random.default_rng(2).random((15, 1, 2)) < 0.6).astype(float)
    out = run_nir(graph, x, 1e-3)
    v, z = np.zeros(2), np.zeros(2)
    for t in range(15):
        rec = z @ w_rec.T + b_rec
        current = x[t, 0] @ w_in.T + b_in + rec
        v = v + 0.5 * (0.0 - v + 2.0 * current)
        z = (v > 0.6).astype(float)
        v = np.where(z > 0, 0.0, v)
        assert out["lif"][t, 0].tolist() == z.tolist()
        assert out["rec"][t, 0].tolist() == rec.tolist()
    assert out["lif"].sum() > 0


def test_nested_graph_flattened() -> None:
    """A nested NIRGraph runs as its flat equivalent: names "sub.node", the subgraph's Input and
    Output pass through, an edge to "sub" enters its Input, and "sub.lif" can be addressed."""
    lif = lambda: nir.LIF(*(np.full(3, v) for v in (3e-3, 1.0, 0.0, 0.4, 0.0)))  # noqa: E731
    w_rec = np.random.default_rng(3).normal(size=(3, 3))
    w = np.random.default_rng(4).normal(size=(3, 2))
    sub = nir.NIRGraph(
        {
            "input": nir.Input(np.array([3])),
            "lif": lif(),
            "w_rec": nir.Linear(w_rec),
            "output": nir.Output(np.array([3])),
        },
        [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    top = {
        "input": nir.Input(np.array([2])),
        "fc": nir.Linear(w),
        "sub": sub,
        "out": nir.Output(np.array([3])),
    }
    nested = nir.NIRGraph(
        top, [("input", "fc"), ("fc", "sub"), ("sub", "out"), ("sub.lif", "out")], type_check=False
    )
    flat_nodes = {
        "input": nir.Input(np.array([2])),
        "fc": nir.Linear(w),
        "lif": lif(),
        "w_rec": nir.Linear(w_rec),
    }
    flat_edges = [("input", "fc"), ("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif")]
    flat = nir.NIRGraph(flat_nodes, flat_edges, type_check=False)
    x = (np.random.default_rng(5).random((20, 2, 2)) < 0.5).astype(float) * 2
    got, want = run_nir(nested, x, 1e-3), run_nir(flat, x, 1e-3)
    assert want["lif"].sum() > 0
    assert got["sub.lif"].tolist() == want["lif"].tolist()
    assert got["sub.w_rec"].tolist() == want["w_rec"].tolist()
    assert got["sub.input"].tolist() == want["fc"].tolist()
    assert got["sub"].tolist() == got["sub.output"].tolist() == want["lif"].tolist()
    assert got["out"].tolist() == (2 * want["lif"]).tolist()  # "sub" and "sub.lif": two edges


# ----------------------------------------------------------------------------- linear maps


def test_conv_vs_torch_and_file_round_trip(tmp_path: Path) -> None:
    """Conv2d (stride, padding pair, dilation, groups, bias; and 'same') and Conv1d equal torch's
    float64 conv; the graph is also run from a .nir file (stride/padding come back as arrays)."""
    rng = np.random.default_rng(6)
    w2, b2 = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=4)
    x = rng.random((3, 2, 2, 7, 6))
    xt = torch.tensor(x.reshape(6, 2, 7, 6))
    for conv, kw in [
        (
            nir.Conv2d((7, 6), w2, (2, 1), (1, 0), (1, 2), 2, b2),
            dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
        ),
        (nir.Conv2d((7, 6), w2, 1, "same", 1, 2, b2), dict(padding="same", groups=2)),
    ]:
        graph = chain((2, 7, 6), conv=conv)
        nir.write(tmp_path / "g.nir", graph)
        want = F.conv2d(xt, torch.tensor(w2), torch.tensor(b2), **kw).numpy()
        for g in (graph, tmp_path / "g.nir", str(tmp_path / "g.nir")):
            got = run_nir(g, x, 1e-3)["conv"]
            assert np.array_equal(got, want.reshape(3, 2, *want.shape[1:]))
    w1 = rng.normal(size=(3, 2, 2))
    x1 = rng.random((2, 1, 2, 9))
    got = run_nir(chain((2, 9), c=nir.Conv1d(9, w1, 2, 1, 1, 1, np.zeros(3))), x1, 1e-3)["c"]
    want = F.conv1d(torch.tensor(x1[:, 0]), torch.tensor(w1), None, 2, 1).numpy()
    assert np.array_equal(got[:, 0], want)


def test_pooling_and_flatten() -> None:
    """SumPool2d = window sums and AvgPool2d = window mean with zero padding counted, both
    against explicit numpy windows; Flatten dims exclude batch (0 = first non-batch dim)."""
    x = np.random.default_rng(7).integers(0, 2, size=(2, 3, 2, 5, 5)).astype(float)
    k, s, p = np.array([3, 2]), np.array([2, 2]), np.array([1, 0])
    out = run_nir(chain((2, 5, 5), sp=nir.SumPool2d(k, s, p)), x, 1e-3)["sp"]
    avg = run_nir(chain((2, 5, 5), ap=nir.AvgPool2d(k, s, p)), x, 1e-3)["ap"]
    padded = np.pad(x, [(0, 0)] * 3 + [(1, 1), (0, 0)])
    assert out.shape == avg.shape == (2, 3, 2, 3, 2)
    for i in range(3):
        for j in range(2):
            window = padded[..., 2 * i : 2 * i + 3, 2 * j : 2 * j + 2].sum(axis=(-1, -2))
            assert out[..., i, j].tolist() == window.tolist()
            assert np.allclose(avg[..., i, j], window / 6, rtol=0, atol=1e-15)
    y = np.arange(2 * 3 * 24, dtype=float).reshape(2, 3, 2, 3, 4)
    for start, end, shape in [(0, -1, (24,)), (1, 2, (2, 12)), (0, 1, (6, 4)), (-2, -1, (2, 12))]:
        got = run_nir(
            chain((2, 3, 4), f=nir.Flatten({"input": np.array([2, 3, 4])}, start, end)), y, 1e-3
        )["f"]
        assert got.tolist() == y.reshape(2, 3, *shape).tolist()


def test_refusals() -> None:
    """Bad options, input shapes, Input counts, decay factors and unknown node types are refused,
    naming what is wrong."""
    graph = chain((1,), lif=nir.LIF(**{k: one(v) for k, v in LIF_P.items()}))
    x = np.zeros((2, 1, 1))
    for kw, match in [({"reset": "none"}, "reset"), ({"discretisation": "rk4"}, "discretisation")]:
        with pytest.raises(InputError, match=match):
            run_nir(graph, x, 1e-3, **kw)
    with pytest.raises(InputError, match="dt"):
        run_nir(graph, x, 0.0)
    with pytest.raises(InputError, match="input_shape"):
        run_nir(graph, np.zeros((2, 1, 2)), 1e-3)
    with pytest.raises(InputError, match="'lif': tau:"):
        run_nir(graph, x, 5e-3)  # k = dt/tau = 2.5 > 1
    two = nir.NIRGraph({"a": nir.Input(one(1)), "b": nir.Input(one(1))}, [], type_check=False)
    with pytest.raises(InputError, match=r"\['a', 'b'\]"):
        run_nir(two, x, 1e-3)
    odd = chain((1,), odd=nir.ir.graph.Identity(input_type={"input": one(1)}))
    with pytest.raises(UnsupportedError, match="'odd'") as info:
        run_nir(odd, x, 1e-3)
    assert "LIF" in info.value.supported and info.value.node is not None


# ----------------------------------------------------------------------------- snnTorch


def leaky(n: int, **kw: object) -> snn.Leaky:
    beta, threshold = torch.full((n,), 0.75), torch.full((n,), 1.0)
    return snn.Leaky(beta=beta, threshold=threshold, init_hidden=True, reset_mechanism="zero", **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snntorch_export_leaky_identical_spikes(seed: int) -> None:
    """snnTorch Linear-Leaky-Linear-Leaky (zero reset), exported with ``export_to_nir`` (per-neuron
    beta/threshold tensors, sample data without batch), run by snnTorch step by step in float64
    and by run_nir(dt=1e-4): identical spikes at every step for both layers (no shift)."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 6), leaky(6), torch.nn.Linear(6, 4), leaky(4, output=True)
    )
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.mul_(3.0)
    graph = export_to_nir(net, torch.zeros(8))
    assert [type(graph.nodes[k]).__name__ for k in ("0", "1", "2", "3")] == [
        "Affine",
        "LIF",
        "Affine",
        "LIF",
    ]
    net = net.double()
    x = (np.random.default_rng(seed).random((30, 3, 8)) < 0.4).astype(float)
    snn_utils.reset(net)
    spikes1, spikes2 = [], []
    with torch.no_grad():
        for t in range(30):
            z1 = net[1](net[0](torch.from_numpy(x[t])))
            z2, _ = net[3](net[2](z1.double()))  # the surrogate returns float32 spikes
            spikes1.append(z1.numpy())
            spikes2.append(z2.numpy())
    out = run_nir(graph, x, 1e-4, reset="zero")
    assert np.sum(spikes1) > 10 and np.sum(spikes2) > 10
    assert np.array_equal(out["1"], np.array(spikes1))
    assert np.array_equal(out["3"], np.array(spikes2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snntorch_export_rleaky_identical_spikes(seed: int) -> None:
    """snnTorch RLeaky (all-to-all recurrence, zero reset, ``reset_delay=False``) exports as the
    cycle "1.lif" <-> "1.w_rec"; snnTorch's V(spk[t-1]) is run_nir's back edge: identical spikes.

    The recurrent bias is kept and made large: snnTorch adds V(spk[-1] = 0) = bias at t = 0, as
    run_nir's cycle delay on the edge leaving the LIF does. One workaround: the spike function
    returns the membrane's dtype (the default surrogate returns float32 spikes, which RLeaky
    feeds to its float64 recurrent Linear: error).
    With ``reset_delay=True`` the zero reset wipes the next step's input too: trains differ.
    """
    torch.manual_seed(seed)
    rleaky = snn.RLeaky(
        beta=torch.full((6,), 0.75), threshold=torch.full((6,), 1.0), linear_features=6,
        init_hidden=True, reset_mechanism="zero", reset_delay=False,
        spike_grad=lambda u: (u > 0).to(u.dtype),
    )  # fmt: skip
    net = torch.nn.Sequential(torch.nn.Linear(8, 6), rleaky)
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        rleaky.recurrent.weight.mul_(2.0)
        rleaky.recurrent.bias.copy_(torch.linspace(-0.4, 0.6, 6))
    graph = export_to_nir(net, torch.zeros(8))
    assert {("1.lif", "1.w_rec"), ("1.w_rec", "1.lif")} <= set(graph.edges)
    net = net.double()
    x = (np.random.default_rng(seed).random((30, 3, 8)) < 0.4).astype(float)
    snn_utils.reset(net)
    with torch.no_grad():
        spikes = np.array([net(torch.from_numpy(x[t])).numpy() for t in range(30)])
    out = run_nir(graph, x, 1e-4, reset="zero")
    assert spikes.sum() > 10
    assert np.array_equal(out["1.lif"], spikes)
