"""lava-dl netx on real Lava: netx-on-Lava == golden for written and shipped networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.netx_lava import run_netx
from lavabridge.errors import UnsupportedError
from lavabridge.exporters.netx import write_netx
from lavabridge.importers.netx import images_to_bias, netx_input_transform, read_netx
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer

from netx_helpers import (
    IF_NEURON,
    delayed_rec_graph,
    graph_of,
    input_of,
    lossy_exact_graph,
    write_raw,
)

# ----------------------------------------------------------------------------- real Lava
ROUNDTRIP_CASES = {
    "spikes-a": lambda: graph_of(4),
    "spikes-b": lambda: graph_of(5),
    "spikes-c": lambda: graph_of(14),
    "bias-input": lambda: graph_of(7, InputKind.BIAS),
    "delayed-dense_rec": delayed_rec_graph,
    "lossy-but-exact": lossy_exact_graph,
}


@pytest.mark.lava
@pytest.mark.parametrize("case", sorted(ROUNDTRIP_CASES))
def test_netx_on_lava_equals_golden(case: str, tmp_path: Path) -> None:
    """write_netx -> lava-dl's Network on fixed_pt: spikes, u and v identical to the golden run of
    the original graph, and the read-back graph runs identically too."""
    graph = ROUNDTRIP_CASES[case]()
    path = tmp_path / "net.net"
    write_netx(graph, path)
    x, steps = input_of(graph, 11, batch=2, steps=24)
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
    path = write_raw(tmp_path / "clip.net", [
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
    path = write_raw(tmp_path / "chw.net", [
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
