"""lava-dl netx on real Lava: netx-on-Lava == golden for written and shipped networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.netx_lava import run_netx
from lavabridge.errors import UnsupportedError
from lavabridge.exporters.netx import write_netx
from lavabridge.importers.netx import images_to_bias, netx_input_transform, read_netx
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer

IF_NEURON = {"type": b"CUBA", "iDecay": 4096, "vDecay": 4096, "vThMant": (1 << 18) - 1}


@pytest.fixture(scope="module")
def netx_data() -> Path:
    """lava-dl's shipped test networks (site-packages/tests/lava/lib/dl/netx)."""
    import lava

    for base in lava.__path__:
        cand = Path(base).parent / "tests" / "lava" / "lib" / "dl" / "netx"
        if (cand / "mnist.net").is_file():
            return cand
    pytest.fail("lava-dl's shipped netx test networks (mnist.net) not found next to lava")


def _write_raw(path: Path, layers: list[dict[str, Any]]) -> Path:
    """A .net file written by hand (what another tool, e.g. slayer, would write)."""
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, spec in enumerate(layers):
            g = group.create_group(str(i))
            for key, value in spec.items():
                if key == "neuron":
                    sub = g.create_group("neuron")
                    for k, v in value.items():
                        sub.create_dataset(k, data=v)
                elif key == "type":
                    g.create_dataset("type", data=np.array([value.encode()], "S10"))
                else:
                    g.create_dataset(key, data=value)
    return path


# ----------------------------------------------------------------------------- random graphs
FAMILIES = ("int8_even", "nwb9", "exc_shift", "inh", "mult8")


def _dense(rng: np.random.Generator, shape: tuple[int, int], family: str) -> QDense:
    """Connections netx expresses exactly, in the representations quantizers produce."""
    if family == "int8_even":  # int8 recipe: 2*w with weight_exp=-1
        return QDense(2 * rng.integers(-128, 128, shape), weight_exp=-1)
    if family == "nwb9":  # all 9 bits, the full mixed range
        w = rng.integers(-256, 255, shape)
        w.flat[0] = -256
        return QDense(w, num_weight_bits=9)
    if family == "exc_shift":
        return QDense(rng.integers(0, 64, shape), weight_exp=2)
    if family == "inh":
        return QDense(-rng.integers(1, 256, shape))
    return QDense(8 * rng.integers(-32, 32, shape), weight_exp=-3, num_weight_bits=9)


def _neuron(rng: np.random.Generator, n: int) -> QCubaLIF:
    exp = int(rng.choice([3, 6, 7]))  # stored at netx's bias_exp=6 as mant << exp >> 6
    mant = rng.integers(-60, 60, n) * (1 << max(0, 6 - exp))
    return QCubaLIF(
        n,
        du=int(rng.integers(-1, 4096)),
        dv=int(rng.integers(0, 4097)),
        vth=int(rng.integers(1, 600)),
        bias_mant=mant,
        bias_exp=exp,
    )


def _graph(seed: int, kind: InputKind = InputKind.SPIKES) -> QGraph:
    """1-3 layers, with bias, delays and recurrent connections (jointly optimisable)."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(3, 20))
    layers: list[QLayer] = []
    if kind == InputKind.BIAS:
        input_neuron = QCubaLIF(n_in, int(rng.integers(-1, 4096)), 100, 50, bias_exp=6)
        layers.append(QLayer("input", input_neuron))
    prev = n_in
    for i in range(int(rng.integers(1, 4))):
        n = int(rng.integers(2, 16))
        family = str(rng.choice(FAMILIES))
        syn = _dense(rng, (n, prev), family)
        rec = None
        if rng.random() < 0.4:  # the joint matrix stays mixed: both parts from mixed families
            family = str(rng.choice(["int8_even", "nwb9"]))
            syn, rec = _dense(rng, (n, prev), family), _dense(rng, (n, n), family)
        elif rng.random() < 0.5:
            syn = QDense(syn.weights, syn.weight_exp, syn.num_weight_bits, None,
                         rng.integers(0, 6, (n, prev)))  # fmt: skip
        layers.append(QLayer(f"l{i}", _neuron(rng, n), syn, rec))
        prev = n
    return QGraph(n_in, tuple(layers), input_kind=kind, name=f"g{seed}")


def _delayed_rec_graph() -> QGraph:
    """dense_rec with delays: one shared delay matrix and a joint weight_exp of 0."""
    rng = np.random.default_rng(7)
    d = rng.integers(0, 4, (10, 10))
    syn, rec = _dense(rng, (10, 10), "nwb9"), _dense(rng, (10, 10), "nwb9")
    syn = QDense(syn.weights, 0, 9, None, d)
    rec = QDense(rec.weights // 2, 0, 9, None, d)
    out = QDense(2 * rng.integers(-128, 128, (4, 10)), weight_exp=-1)
    neuron = QCubaLIF(10, 3000, 100, 250, bias_mant=rng.integers(-99, 99, 10), bias_exp=6)
    out_neuron = QCubaLIF(4, du=2000, dv=50, vth=30)
    return QGraph(10, (QLayer("rec", neuron, syn, rec), QLayer("out", out_neuron, out)))


def _lossy_exact_graph() -> QGraph:
    """{0, -1} weights: Lava runs them as -128/256 per spike, which floor() makes exact with at
    most one such synapse per row."""
    w = np.zeros((4, 6), np.int64)
    w[np.arange(4), [0, 2, 3, 5]] = -1
    neuron = QCubaLIF(4, du=-1, dv=4096, vth=10, bias_mant=20, bias_exp=6)
    return QGraph(6, (QLayer("a", neuron, QDense(w)),))


def _spikes(rng: np.random.Generator, graph: QGraph, batch: int, steps: int) -> np.ndarray:
    return (rng.random((batch, steps, graph.n_in)) < 0.4).astype(np.int8)


def _input(graph: QGraph, seed: int, batch: int = 2, steps: int = 20) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(1000 + seed)
    if graph.input_kind == InputKind.BIAS:
        return rng.integers(-40, 200, (batch, graph.n_in)), steps
    return _spikes(rng, graph, batch, steps), steps


# ----------------------------------------------------------------------------- real Lava
ROUNDTRIP_CASES = {
    "spikes-a": lambda: _graph(4),
    "spikes-b": lambda: _graph(5),
    "spikes-c": lambda: _graph(14),
    "bias-input": lambda: _graph(7, InputKind.BIAS),
    "delayed-dense_rec": _delayed_rec_graph,
    "lossy-but-exact": _lossy_exact_graph,
}


@pytest.mark.lava
@pytest.mark.parametrize("case", sorted(ROUNDTRIP_CASES))
def test_netx_on_lava_equals_golden(case: str, tmp_path: Path) -> None:
    """write_netx -> lava-dl's Network on fixed_pt: spikes, u and v identical to the golden run of
    the original graph, and the read-back graph runs identically too."""
    graph = ROUNDTRIP_CASES[case]()
    path = tmp_path / "net.net"
    write_netx(graph, path)
    x, steps = _input(graph, 11, batch=2, steps=24)
    want = emulate(graph, x, num_steps=steps, probe_uv=True)
    assert sum(want.spike_counts()) > 0
    got = run_netx(path, x, num_steps=steps, probe_uv=True)
    assert got.backend == "netx" and got.has_uv
    mismatch = want.first_mismatch(got)
    assert mismatch is None, str(mismatch)
    back = emulate(read_netx(path), x, num_steps=steps, probe_uv=True)
    assert want.first_mismatch(back) is None


def _digits(count: int) -> np.ndarray:
    """sklearn's 8x8 digits, nearest-neighbour upscaled to 28x28, values in [0, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images[:count] / 16.0
    idx = (np.arange(28) * 8) // 28
    return images[:, idx][:, :, idx]


@pytest.mark.lava
def test_shipped_mnist_net_golden_equals_lava(netx_data: Path) -> None:
    """lava-dl's trained mnist.net (784-512-512-10, input layer driven by bias): the golden run of
    read_netx equals lava-dl's own loader on Lava, spikes and u, v of every layer."""
    path = netx_data / "mnist.net"
    graph = read_netx(path)
    assert graph.input_kind == InputKind.BIAS and graph.sizes == (784, 512, 512, 10)
    assert graph.layers[3].neuron.vth == 1 << 17  # no neuron group: netx's integrator
    transform = netx_input_transform(path)
    assert transform is not None
    x = images_to_bias(_digits(3), transform)
    want = emulate(graph, x, num_steps=16, probe_uv=True)
    got = run_netx(path, x, num_steps=16, probe_uv=True)
    assert all(c > 0 for c in want.spike_counts()[:3])
    assert want.u is not None and np.any(want.u[3])  # the output layer integrates
    counts = [int(want.spikes[1][b].sum()) for b in range(3)]
    assert len(set(counts)) == 3  # three different digits, three different responses
    mismatch = want.first_mismatch(got)
    assert mismatch is None, str(mismatch)


@pytest.mark.lava
def test_mnist_net_with_spikes_into_the_first_dense_layer(netx_data: Path) -> None:
    """The other way to feed lava-dl's mnist.net: skip its input layer (netx's skip_layers=1)
    and send spikes straight into dense1; golden and netx-on-Lava agree on spikes and u, v."""
    path = netx_data / "mnist.net"
    graph = read_netx(path, skip_layers=1)
    assert graph.input_kind == InputKind.SPIKES and graph.sizes == (512, 512, 10)
    assert graph.n_in == 784
    x = (np.random.default_rng(5).random((2, 12, 784)) < 0.15).astype(np.int8)
    want = emulate(graph, x, probe_uv=True)
    got = run_netx(path, x, probe_uv=True, skip_layers=1)
    assert want.spike_counts()[0] > 0
    mismatch = want.first_mismatch(got)
    assert mismatch is None, str(mismatch)
    with pytest.raises(UnsupportedError, match="skip_layers"):
        read_netx(path, skip_layers=2)


@pytest.mark.lava
def test_reader_reproduces_netx_weight_clipping(tmp_path: Path) -> None:
    """Mixed weights with 255: netx's optimize_weight_bits clips to 254 (and says so). The read
    graph computes what Lava computes, which is not the stored integers' product."""
    rng = np.random.default_rng(3)
    w = rng.integers(-50, 50, (5, 8))
    w[:, 0] = 255
    path = _write_raw(tmp_path / "clip.net", [
        {"type": "dense", "shape": [5], "weight": w.astype(np.float32), "neuron": IF_NEURON}])  # fmt: skip
    with pytest.warns(UserWarning, match=r"layer 0 .*clipped to 254"):
        graph = read_netx(path)
    x = np.ones((1, 6, 8), np.int8)
    want = emulate(graph, x, probe_uv=True)
    got = run_netx(path, x, probe_uv=True)
    assert want.first_mismatch(got) is None
    assert want.u is not None and want.u[0][0, 1, 0] == 64 * (w[0].sum() - 1)  # 254, not 255
    stored = QGraph(8, (QLayer("a", QCubaLIF(5, 4095, 4096, (1 << 18) - 1),
                                QDense(w, num_weight_bits=9)),))  # fmt: skip
    with pytest.raises(UnsupportedError):
        write_netx(stored, tmp_path / "again.net")


@pytest.mark.lava
def test_three_d_input_layer_with_flatten(tmp_path: Path) -> None:
    """input (C, H, W) with neurons -> flatten -> dense: lavabridge's neuron order is the C, H, W
    order netx's flatten produces from its (W, H, C) neurons."""
    rng = np.random.default_rng(5)
    shape = (2, 3, 4)
    w = rng.integers(-60, 60, (5, 24))
    path = _write_raw(tmp_path / "chw.net", [
        {"type": "input", "shape": list(shape), "neuron": {**IF_NEURON, "vThMant": 40}},
        {"type": "flatten", "shape": [24]},
        {"type": "dense", "shape": [5], "weight": w.astype(np.float32),
         "bias": np.array([5000, -6000, 3, 0, -7], np.float32),  # beyond 13 bits: exp 7
         "neuron": {**IF_NEURON, "vThMant": 90}},
    ])  # fmt: skip
    graph = read_netx(path)
    assert graph.input_kind == InputKind.BIAS and graph.sizes == (24, 5)
    assert graph.layers[1].neuron.bias_mant.tolist() == [2500, -3000, 3, 0, -7]
    assert graph.layers[1].neuron.bias_exp.tolist() == [7, 7, 6, 6, 6]
    x = rng.integers(0, 120, (2, 24))
    want = emulate(graph, x, num_steps=12, probe_uv=True)
    got = run_netx(path, x, num_steps=12, probe_uv=True)
    assert sum(want.spike_counts()) > 0
    assert want.first_mismatch(got) is None
