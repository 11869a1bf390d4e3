"""lavabridge.nn: the torch layers compute exactly what the float IR interpreter computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lavabridge.errors import InputError, ValidationError
from lavabridge.ir import interpret
from lavabridge.nn import (
    CubaLIF,
    SpikingLayer,
    SpikingNet,
    Surrogate,
    count_cross_entropy,
    first_spike_time,
    latency_encode,
    membrane_cross_entropy,
    predict_by_count,
    rate_encode,
    rate_mse_loss,
    to_time_major,
    trace,
)


def _net(seed: int, n_in: int, sizes: list[int], recurrent: list[bool], cfg: dict) -> SpikingNet:
    torch.manual_seed(seed)
    layers = []
    prev = n_in
    for n, rec in zip(sizes, recurrent, strict=True):
        neuron = CubaLIF(n, **cfg)
        with torch.no_grad():
            neuron.bias.uniform_(-0.1, 0.2)
        syn = nn.Linear(prev, n, bias=False)
        with torch.no_grad():
            syn.weight.mul_(3.0)
        layers.append(SpikingLayer(neuron, syn, nn.Linear(n, n, bias=False) if rec else None))
        prev = n
    return SpikingNet(*layers).double()


@settings(max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(1, 20),
    sizes=st.lists(st.integers(1, 24), min_size=1, max_size=3),
    rec=st.lists(st.booleans(), min_size=3, max_size=3),
    current_decay=st.floats(0.0, 1.0),
    voltage_decay=st.floats(0.0, 1.0),
    threshold=st.floats(0.05, 2.0),
    reset=st.sampled_from(["zero", "subtract"]),
    compare=st.sampled_from([">", ">="]),
)
def test_torch_layers_equal_float_ir_interpreter(
    seed: int,
    n_in: int,
    sizes: list[int],
    rec: list[bool],
    current_decay: float,
    voltage_decay: float,
    threshold: float,
    reset: str,
    compare: str,
) -> None:
    cfg = {
        "current_decay": current_decay,
        "voltage_decay": voltage_decay,
        "threshold": threshold,
        "reset": reset,
        "compare": compare,
    }
    net = _net(seed, n_in, sizes, rec[: len(sizes)], cfg)
    x = rate_encode(np.random.default_rng(seed).random((3, n_in)), 25, seed)
    with torch.no_grad():
        outs = net(to_time_major(x).double(), return_state=True)
    ref = interpret(trace(net), x, probe_uv=True)
    assert ref.u is not None and ref.v is not None
    for i, (s, u, v) in enumerate(outs):
        np.testing.assert_array_equal(
            s.transpose(0, 1).numpy(), ref.spikes[i], err_msg=f"layer {i}"
        )
        np.testing.assert_allclose(u.transpose(0, 1).numpy(), ref.u[i], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v.transpose(0, 1).numpy(), ref.v[i], rtol=1e-12, atol=1e-12)


def test_one_step_latency_per_hop() -> None:
    # a single input spike at t=2 reaches layer 0 at t=3 and layer 1 at t=4 (as in Lava)
    net = _net(0, 1, [1, 1], [False, False], {"threshold": 0.5})
    with torch.no_grad():
        for layer in net.layers:
            layer.synapse.weight.fill_(1.0)
            layer.neuron.bias.zero_()
    x = torch.zeros(8, 1, 1, dtype=torch.float64)
    x[2] = 1
    outs = net(x)
    assert outs[0][:, 0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert outs[1][:, 0, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]


@pytest.mark.parametrize("name", ["sigmoid", "atan", "fast_sigmoid", "straight"])
def test_surrogates_give_gradients_and_exact_forward(name: str) -> None:
    x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    s = Surrogate(name)(x)
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert Surrogate(name)(x.detach(), inclusive=True).tolist() == [0.0, 1.0, 1.0]
    s.sum().backward()
    assert x.grad is not None and bool((x.grad > 0).all())


def test_surrogate_rejects_bad_names() -> None:
    with pytest.raises(ValidationError, match="name"):
        Surrogate("relu")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="alpha"):
        Surrogate("atan", alpha=0.0)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"current_decay": 1.5}, "current_decay"),
        ({"threshold": 0.0}, "threshold"),
        ({"reset": "soft"}, "reset"),
    ],
)
def test_cubalif_validates(kwargs: dict, param: str) -> None:
    with pytest.raises(ValidationError, match=param):
        CubaLIF(4, **kwargs)


def test_training_reduces_loss() -> None:
    torch.manual_seed(0)
    net = _net(1, 6, [16, 3], [False, False], {"voltage_decay": 0.1}).float()
    x = rate_encode(np.random.default_rng(0).random((32, 6)), 12, 0)
    y = torch.as_tensor(np.arange(32) % 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = count_cross_entropy(net(to_time_major(x))[-1], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def test_losses_shapes_and_values() -> None:
    s = torch.zeros(10, 2, 3)
    s[:, 0, 1] = 1.0
    y = torch.tensor([1, 2])
    assert float(rate_mse_loss(s, y, 1.0, 0.0)) == pytest.approx(1 / 6)
    assert float(count_cross_entropy(s, y)) > 0
    assert float(membrane_cross_entropy(torch.randn(4, 2, 3), y)) > 0


def test_encoders_are_seeded_and_checked() -> None:
    x = np.random.default_rng(0).random((4, 5))
    a, b = rate_encode(x, 20, 7), rate_encode(x, 20, 7)
    assert a.dtype == np.uint8 and a.shape == (4, 20, 5)
    assert np.array_equal(a, b) and not np.array_equal(a, rate_encode(x, 20, 8))
    lat = latency_encode(np.array([[1.0, 0.5, 0.0]]), 11)
    assert first_spike_time(lat).tolist() == [[0, 5, 11]]
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        rate_encode(np.array([[1.5]]), 4, 0)


def test_predict_by_count_breaks_ties_by_first_spike() -> None:
    s = np.zeros((1, 5, 3), np.uint8)
    s[0, [1, 3], 0] = 1
    s[0, [0, 4], 2] = 1  # same count as neuron 0, earlier first spike
    assert predict_by_count(s).tolist() == [2]


def test_bias_input_layer_equals_float_ir_interpreter() -> None:
    """Direct current input: graded x * gain added to layer 0's v every step, no latency."""
    torch.manual_seed(3)
    first = CubaLIF(6, current_decay=0.5, voltage_decay=0.2, threshold=0.7)
    second = CubaLIF(4, voltage_decay=0.1, threshold=0.5)
    net = SpikingNet(
        SpikingLayer(first, None, nn.Linear(6, 6, bias=False), input_gain=0.4),
        SpikingLayer(second, nn.Linear(6, 4, bias=False)),
    ).double()
    x = np.random.default_rng(1).random((5, 6))
    with torch.no_grad():
        outs = net(torch.as_tensor(x), num_steps=20, return_state=True)
    graph = trace(net)
    assert graph.layer_chain()[0].synapse is None
    ref = interpret(graph, x, num_steps=20, probe_uv=True)
    assert ref.v is not None and sum(ref.spike_counts()) > 0
    for i, (s, _, v) in enumerate(outs):
        np.testing.assert_array_equal(s.transpose(0, 1).numpy(), ref.spikes[i])
        np.testing.assert_allclose(v.transpose(0, 1).numpy(), ref.v[i], rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match="num_steps"):
        interpret(graph, x)
