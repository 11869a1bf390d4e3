"""Conv and pooling end to end: IR vs torch, quantization, golden engines, and real Lava.

The Lava tests compile and run real lava-nc ``Conv`` / ``Dense`` / ``LIF`` processes (no mocks) and
compare spikes, u and v at every step with the golden emulator.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conv_strategies import conv_graph_and_input
from hypothesis import given, settings
from hypothesis import strategies as st

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.golden.emulator import emulate_reference
from lavabridge.backends.golden.spatial import ConvOps
from lavabridge.backends.inputs import prepare_input
from lavabridge.backends.lava import run_lava
from lavabridge.conv import conv2d
from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.quant import (
    LOIHI2,
    InputKind,
    QConv,
    QCubaLIF,
    QDense,
    QGraph,
    QLayer,
    graphs_equal,
)
from lavabridge.quant.ptq import quantize
from lavabridge.quant.report import QuantPolicy
from lavabridge.quant.serialize import load_qgraph, save_qgraph

N_LAVA = int(os.environ.get("LAVABRIDGE_CONV_EXAMPLES", "100"))


@st.composite
def _ir_conv(draw: st.DrawFn) -> tuple[ir.Conv2d, np.ndarray]:
    g = draw(st.sampled_from([1, 2, 3]))
    c_in, c_out = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    k = (draw(st.integers(1, min(5, h + 2))), draw(st.integers(1, min(5, w + 2))))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weight = rng.integers(-8, 9, (c_out, c_in // g, *k)) / 4.0
    bias = rng.integers(-8, 9, c_out) / 8.0 if draw(st.booleans()) else None
    try:
        node = ir.Conv2d(weight, (c_in, h, w), stride, pad, 1, g, bias)
    except ValidationError:
        node = ir.Conv2d(weight, (c_in, h + 8, w + 8), stride, pad, 1, g, bias)
    return node, rng.random((3, node.n_in)) < 0.4


@settings(max_examples=150, deadline=None)
@given(case=_ir_conv())
def test_conv2d_is_torch_conv2d(case: tuple[ir.Conv2d, np.ndarray]) -> None:
    """lavabridge's convolution (float64 and int64) is torch's ``conv2d`` on the C-major view."""
    node, x = case
    c, h, w = node.in_shape
    xt = torch.tensor(x.reshape(-1, c, h, w), dtype=torch.float64)
    ref = torch.nn.functional.conv2d(
        xt, torch.tensor(node.weight), torch.tensor(node.bias) if node.bias is not None else None,
        node.stride, node.padding, node.dilation, node.groups,
    ).numpy()  # fmt: skip
    assert ref.shape[1:] == node.out_shape
    got = conv2d(node.geometry, x.astype(np.float64), node.kernel())
    if node.bias is not None:
        got = got + np.repeat(node.bias, ref.shape[2] * ref.shape[3])
    np.testing.assert_array_equal(got, ref.reshape(3, -1))
    w4 = (node.kernel() * 4).astype(np.int64)
    np.testing.assert_array_equal(
        conv2d(node.geometry, x.astype(np.int64), w4),
        torch.nn.functional.conv2d(xt, torch.tensor(w4, dtype=torch.float64), None, node.stride,
                                   node.padding, node.dilation, node.groups).numpy().reshape(3, -1),
    )  # fmt: skip


def test_pools_are_torch_pools() -> None:
    rng = np.random.default_rng(3)
    x = (rng.random((4, 3 * 7 * 9)) < 0.5).astype(np.float64)
    xt = torch.tensor(x.reshape(4, 3, 7, 9))
    for k, s, p in (((2, 2), None, (0, 0)), ((3, 2), (2, 1), (1, 1)), ((1, 3), (1, 3), (0, 1))):
        avg = ir.AvgPool2d(k, (3, 7, 9), s, p)
        ref = torch.nn.functional.avg_pool2d(xt, k, s or k, p, count_include_pad=True).numpy()
        assert avg.out_shape == ref.shape[1:]
        np.testing.assert_allclose(conv2d(avg.geometry, x, avg.kernel()), ref.reshape(4, -1))
        total = ir.SumPool2d(k, (3, 7, 9), s, p)
        np.testing.assert_allclose(
            conv2d(total.geometry, x, total.kernel()), ref.reshape(4, -1) * k[0] * k[1]
        )


def test_shapes_are_checked_with_typed_errors() -> None:
    with pytest.raises(ValidationError, match="groups"):
        ir.Conv2d(np.ones((3, 1, 2, 2)), (2, 4, 4), groups=2)
    with pytest.raises(ValidationError, match="does not fit"):
        ir.Conv2d(np.ones((1, 1, 5, 5)), (1, 3, 3))
    with pytest.raises(ValidationError, match="in_shape"):
        ir.SumPool2d(2, (1, 4))
    with pytest.raises(ValidationError, match="stride"):
        ir.SumPool2d(2, (1, 4, 4), stride=0)
    conv = ir.Conv2d(np.ones((2, 1, 3, 3)), (1, 6, 6))  # out (2, 4, 4)
    with pytest.raises(ValidationError, match=r"in_shape: \(2, 2, 8\) != shape \(2, 4, 4\)"):
        ir.Graph.sequential(36, (conv, ir.IF(32, 1.0)), (ir.SumPool2d(2, (2, 2, 8)), ir.IF(8, 1.0)))
    with pytest.raises(ValidationError, match="n_in"):
        ir.Graph.sequential(36, (conv, ir.IF(32, 1.0)), (ir.Dense(np.ones((2, 31))), ir.IF(2, 1.0)))
    with pytest.raises(ValidationError, match="in_shape"):
        QGraph(36, (QLayer("a", QCubaLIF(32, 0, 0, 1), QConv(np.ones((2, 1, 3, 3)), (1, 6, 6))),
                    QLayer("b", QCubaLIF(8, 0, 0, 1), QConv(np.ones((2, 1, 2, 2)), (2, 2, 8),
                                                             stride=2, groups=2))))  # fmt: skip


def _conv_net(rng: np.random.Generator) -> ir.Graph:
    conv = ir.Conv2d(rng.normal(0, 0.6, (4, 2, 3, 3)), (2, 9, 8), 1, (1, 0), bias=np.full(4, 0.05))
    avg = ir.AvgPool2d(2, conv.out_shape)
    total = ir.SumPool2d((1, 2), avg.out_shape, padding=(0, 1))
    dense = ir.Dense(rng.normal(0, 0.4, (6, total.n_out)))
    return ir.Graph.sequential(
        conv.n_in,
        (conv, ir.LIF(conv.n_out, 0.1, 1.0)),
        (avg, ir.LIF(avg.n_out, 0.2, 0.4)),
        (total, ir.IF(total.n_out, 1.5)),
        (dense, ir.CubaLIF(6, 0.5, 0.1, 0.8)),
        name="convnet",
    )


def test_quantized_conv_net_tracks_float_and_round_trips(tmp_path: object) -> None:
    rng = np.random.default_rng(0)
    g = _conv_net(rng)
    x = (rng.random((8, 24, g.input_size)) < 0.3).astype(np.uint8)
    q, report = quantize(g, x)
    assert [type(ly.synapse).__name__ for ly in q.layers] == ["QConv", "QConv", "QConv", "QDense"]
    assert [r.weight_exp for r in report.layers[:3]] == [0, 0, 0]  # Lava's Conv ignores it
    assert q.shapes == ((4, 9, 6), (4, 4, 3), (4, 4, 2), (6,)) and q.input_shape == (2, 9, 8)
    # the average pool is a depthwise kernel of one integer (1/k^2 is in the layer's scale)
    pool = q.layers[1].synapse
    assert isinstance(pool, QConv) and pool.groups == 4 and len(np.unique(pool.weights)) == 1
    float_rec = ir.interpret(g, x)
    golden = emulate(q, x, probe_uv=True)
    for f, s in zip(float_rec.spikes, golden.spikes, strict=True):
        assert (f == s).mean() > 0.97
    oracle = emulate_reference(q, prepare_input(q, x, None))
    assert golden.first_mismatch(oracle) is None
    path = save_qgraph(q, os.path.join(str(tmp_path), "conv.lbq"))
    assert graphs_equal(load_qgraph(path), q)
    assert ir.load(ir.save(g, os.path.join(str(tmp_path), "conv.lbir"))) == g
    with pytest.raises(UnsupportedError, match="fixed_weight_exp"):
        quantize(g, x, policy=QuantPolicy(fixed_weight_exp=2))


@settings(max_examples=300, deadline=None)
@given(case=conv_graph_and_input())
def test_fast_engine_equals_int64_oracle(case: tuple[QGraph, np.ndarray, int]) -> None:
    """Random conv graphs over the full legal ranges: the fast engine is the int64 oracle."""
    graph, x, steps = case
    fast = emulate(graph, x, num_steps=steps, probe_uv=True)
    oracle = emulate_reference(graph, prepare_input(graph, x, steps))
    mismatch = fast.first_mismatch(oracle)
    assert mismatch is None, str(mismatch)


@pytest.mark.lava
@pytest.mark.slow
@settings(max_examples=N_LAVA, deadline=None)
@given(case=conv_graph_and_input())
def test_random_conv_graphs_golden_equals_lava(case: tuple[QGraph, np.ndarray, int]) -> None:
    """Random conv graphs: golden and Lava spikes, u and v identical at every step."""
    graph, x, steps = case
    golden = emulate(graph, x, num_steps=steps, probe_uv=True)
    lava = run_lava(graph, x, num_steps=steps, probe_uv=True)
    mismatch = golden.first_mismatch(lava)
    assert mismatch is None, str(mismatch)


@pytest.mark.lava
def test_conv_output_wraps_at_24_bits_on_lava() -> None:
    """400 inputs x weight 32767 sum to 13.1 M: Lava's Conv wraps it to 24 bits, so does golden."""
    conv = QConv(np.full((1, 16, 5, 5), 32767), (16, 5, 5))
    neuron = QCubaLIF(1, du=4095, dv=4096, vth=(1 << 18) - 1)
    probe = QDense(np.zeros((1, 1)))
    graph = QGraph(400, (QLayer("c", neuron, conv), QLayer("p", QCubaLIF(1, 0, 0, 1), probe)))
    x = np.ones((1, 3, 400), np.int8)
    step = ConvOps.build(conv, LOIHI2).step(1)
    step.receive(np.ones((1, 400), np.int8))
    total = 400 * 32767
    assert step.send()[0, 0] == total - (1 << 24)  # 13.1 M wrapped into [-2^23, 2^23)
    assert ConvOps.build(conv, LOIHI2).conn(6).wrap_bits == 24  # the fast engine wraps too
    golden = emulate(graph, x, probe_uv=True)
    lava = run_lava(graph, x, probe_uv=True)
    assert golden.first_mismatch(lava) is None
    np.testing.assert_array_equal(golden.u[0], lava.u[0])


def _torch_conv_net(seed: int, bias: bool = True) -> object:
    from lavabridge.nn import AvgPool2d, Conv2d, CubaLIF, SpikingLayer, SpikingNet, SumPool2d

    torch.manual_seed(seed)
    conv = Conv2d((2, 9, 8), 4, (3, 2), stride=(1, 2), padding=(1, 0), bias=bias)
    avg = AvgPool2d(conv.out_shape, 2)
    total = SumPool2d(avg.out_shape, (1, 2), padding=(0, 1))
    grouped = Conv2d(total.out_shape, 4, 1, groups=2)

    def lif(n: int) -> CubaLIF:
        return CubaLIF(n, current_decay=0.5, voltage_decay=0.1, threshold=0.5)

    return SpikingNet(
        SpikingLayer(lif(conv.out_features), conv),
        SpikingLayer(lif(avg.out_features), avg),
        SpikingLayer(lif(total.out_features), total),
        SpikingLayer(lif(grouped.out_features), grouped),
        SpikingLayer(lif(5), torch.nn.Linear(grouped.out_features, 5, bias=False)),
    )


def test_torch_conv_layers_equal_the_traced_float_ir() -> None:
    from lavabridge.coding import rate_encode
    from lavabridge.nn import to_time_major, trace

    net = _torch_conv_net(0)
    x = rate_encode(np.random.default_rng(0).random((3, 144)), 20, 0)
    with torch.no_grad():
        outs = net.double()(to_time_major(x).double(), return_state=True)  # type: ignore[operator, attr-defined]
    graph = trace(net)  # type: ignore[arg-type]
    kinds = [type(graph.nodes[f"layer{i}.synapse"]).__name__ for i in range(5)]
    assert kinds == ["Conv2d", "AvgPool2d", "SumPool2d", "Conv2d", "Dense"]
    ref = ir.interpret(graph, x, probe_uv=True)
    assert ref.u is not None and ref.v is not None
    for i, (s, u, v) in enumerate(outs):
        np.testing.assert_array_equal(s.transpose(0, 1).numpy(), ref.spikes[i], err_msg=str(i))
        np.testing.assert_allclose(u.transpose(0, 1).numpy(), ref.u[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v.transpose(0, 1).numpy(), ref.v[i], rtol=1e-12, atol=1e-12)


def test_conv_qat_trains_on_the_conv_grid() -> None:
    from lavabridge.coding import rate_encode
    from lavabridge.nn import disable_qat, enable_qat, to_time_major, trace

    net = _torch_conv_net(1, bias=False)  # a conv bias with a current decay is refused
    enable_qat(net)  # type: ignore[arg-type]
    x = rate_encode(np.random.default_rng(1).random((8, 144)), 12, 1)
    out = net(to_time_major(x))  # type: ignore[operator]
    loss = sum(o.sum() for o in out)
    loss.backward()  # the straight-through gradient reaches the conv weights
    conv = net.layers[0].synapse  # type: ignore[attr-defined]
    assert conv.parametrizations.weight.original.grad is not None
    _, before = quantize(trace(_torch_conv_net(1, bias=False)), x)  # type: ignore[arg-type]
    disable_qat(net)  # type: ignore[arg-type]
    _, report = quantize(trace(net), x)  # type: ignore[arg-type]
    step = 1 / report.layers[0].weight_scale
    # on the grid PTQ picks, up to float32 storage of the weights (a grid step is ~1e-3)
    assert report.layers[0].max_weight_error < 1e-4 * step < before.layers[0].max_weight_error


def test_max_pool_and_foreign_modules_are_refused() -> None:
    from lavabridge.nn import CubaLIF, SpikingLayer

    with pytest.raises(ValidationError, match="AvgPool2d or SumPool2d"):
        SpikingLayer(CubaLIF(4), torch.nn.MaxPool2d(2))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not a synapse"):
        SpikingLayer(CubaLIF(4), torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValidationError, match="pair of ints"):
        from lavabridge.nn import Conv2d

        Conv2d((1, 4, 4), 2, 3, padding="same")  # type: ignore[arg-type]


@pytest.mark.lava
def test_conv_export_matches_golden_on_lava() -> None:
    """One asymmetric conv of every kind of geometry (kernel 3x2, stride (2, 1), padding (1, 2),
    dilation (1, 2), groups 2) and a sum pool, fed by spikes and by a bias-driven image layer."""
    rng = np.random.default_rng(7)
    conv = QConv(rng.integers(-200, 201, (4, 2, 3, 2)), (4, 7, 9), (2, 1), (1, 2), (1, 2), 2)
    pool = QConv(np.ones((4, 1, 2, 2), np.int64), conv.out_shape, (2, 2), groups=4)
    dense = QDense(rng.integers(-100, 101, (3, pool.shape[0])))

    def lif(n: int, bias: bool = True) -> QCubaLIF:
        b = rng.integers(-50, 51, n) if bias else 0
        return QCubaLIF(n, du=1023, dv=511, vth=300, bias_mant=b, bias_exp=np.full(n, 3))

    tail = (QLayer("conv", lif(conv.shape[0]), conv), QLayer("pool", lif(pool.shape[0]), pool),
            QLayer("fc", lif(3), dense))  # fmt: skip
    spikes = QGraph(252, tail, name="spikes")
    x = (rng.random((3, 10, 252)) < 0.4).astype(np.int8)
    assert emulate(spikes, x, probe_uv=True).first_mismatch(run_lava(spikes, x, probe_uv=True)) \
        is None  # fmt: skip
    image = QGraph(252, (QLayer("in", lif(252, bias=False)), *tail), InputKind.BIAS, "image")
    b = rng.integers(-4000, 4000, (3, 4, 7, 9))  # [B, C, H, W] is accepted as is
    golden = emulate(image, b, num_steps=10, probe_uv=True)
    assert golden.first_mismatch(run_lava(image, b, num_steps=10, probe_uv=True)) is None
    assert golden.spike_counts()[1] > 0
