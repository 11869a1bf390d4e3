"""Post-training quantization: float IR -> QGraph, reports, pathological layers, deployment on Lava."""

from __future__ import annotations

import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.lava import run_lava
from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir import CubaLIF, Dense, Graph, interpret
from lavabridge.nn import rate_encode
from lavabridge.quant import SignMode
from lavabridge.quant.ptq import quantize
from lavabridge.quant.report import QuantPolicy


def _graph(w0: np.ndarray, w1: np.ndarray, thr: float = 1.0, **neuron: object) -> Graph:
    n0, n1 = w0.shape[0], w1.shape[0]
    return Graph.sequential(
        w0.shape[1],
        (Dense(w0), CubaLIF(n0, current_decay=1.0, voltage_decay=0.05, threshold=thr, **neuron)),
        (Dense(w1), CubaLIF(n1, current_decay=0.5, voltage_decay=0.0, threshold=thr)),
    )


def _data(n_in: int, seed: int = 0) -> np.ndarray:
    return rate_encode(np.random.default_rng(seed).random((16, n_in)) * 0.6, 20, seed)


def test_quantized_model_tracks_float_and_runs_identically_on_lava() -> None:
    rng = np.random.default_rng(0)
    g = _graph(rng.normal(0, 0.4, (32, 20)), rng.normal(0, 0.5, (10, 32)))
    x = _data(20)
    q, report = quantize(g, x)
    ref = interpret(g, x)
    gold = emulate(q, x, probe_uv=True)
    for i in range(2):
        assert np.mean(ref.spikes[i] == gold.spikes[i]) > 0.95, f"layer {i} spike agreement"
    for lr in report.layers:
        assert lr.u_headroom_bits >= 1.0 and lr.v_headroom_bits >= 1.0
        assert abs(lr.threshold_quantized - lr.threshold) < 1e-3
        assert lr.clipped_fraction == 0.0
    lava = run_lava(q, x[:4], probe_uv=True)
    gold4 = emulate(q, x[:4], probe_uv=True)
    assert gold4.first_mismatch(lava) is None


def test_weights_use_the_full_mantissa_by_sign_mode() -> None:
    rng = np.random.default_rng(1)
    g = _graph(np.abs(rng.normal(0, 1, (8, 5))), -np.abs(rng.normal(0, 1, (4, 8))))
    q, report = quantize(g, _data(5))
    syn0, syn1 = q.layers[0].synapse, q.layers[1].synapse
    assert syn0 is not None and syn1 is not None
    assert syn0.mode == SignMode.EXCITATORY and syn0.weights.max() == 255
    assert syn1.mode == SignMode.INHIBITORY and syn1.weights.min() == -255
    mixed, _ = quantize(_graph(rng.normal(0, 1, (8, 5)), rng.normal(0, 1, (4, 8))), _data(5))
    w = mixed.layers[0].synapse.weights  # type: ignore[union-attr]
    assert np.all(w % 2 == 0) and max(w.max(), -w.min()) == 254  # exact under LSB truncation
    assert report.layers[0].max_weight_error <= 0.5 / report.layers[0].weight_scale + 1e-12


def test_thresholds_and_biases_round_to_nearest() -> None:
    """``vth = round(S threshold / 64)`` and ``bias_mant << bias_exp = round(S bias)``: each within
    half an integer step of the scaled float value (a floor or truncation errs by up to a whole
    step, which the 1e-3 tolerance above cannot see)."""
    rng = np.random.default_rng(7)
    for seed, thr in enumerate(rng.uniform(0.3, 3.0, 12)):
        r = np.random.default_rng(seed)
        bias = r.normal(0, 0.05, 5)
        g = Graph.sequential(
            6,
            (Dense(r.normal(0, 0.5, (5, 6))),
             CubaLIF(5, current_decay=0.5, voltage_decay=0.1, threshold=float(thr), bias=bias)),
        )  # fmt: skip
        q, report = quantize(g, _data(6, seed))
        neuron, scale = q.layers[0].neuron, report.layers[0].scale
        assert abs(neuron.vth * 64 - thr * scale) <= 32, (seed, thr)
        exact = neuron.bias_mant * 2.0**neuron.bias_exp
        assert np.all(np.abs(exact - scale * bias) <= 2.0 ** (neuron.bias_exp - 1) + 1e-9), seed


def test_weights_far_beyond_8_bits_are_scaled_not_clipped() -> None:
    rng = np.random.default_rng(2)
    g = _graph(rng.normal(0, 1, (8, 5)) * 1e4, rng.normal(0, 1, (4, 8)), thr=3e4)
    q, report = quantize(g, _data(5))
    assert report.layers[0].clipped_fraction == 0.0
    assert report.layers[0].max_weight_error / 1e4 < 0.01
    assert q.layers[0].neuron.vth > 0


def test_all_zero_weights_are_reported() -> None:
    g = _graph(np.zeros((4, 3)), np.ones((2, 4)))
    _, report = quantize(g, _data(3))
    assert any("all weights are zero" in a for a in report.layers[0].approximations)


def test_threshold_beyond_17_bits_raises_naming_the_layer() -> None:
    rng = np.random.default_rng(3)
    g = _graph(rng.normal(0, 1, (4, 3)) * 1e-6, rng.normal(0, 1, (2, 4)), thr=1e3)
    with pytest.raises(ValidationError, match="layer0: threshold"):
        quantize(g, _data(3))


def test_semantics_are_exact_refused_or_approximated_as_asked() -> None:
    rng = np.random.default_rng(4)
    g = _graph(rng.normal(0, 1, (4, 3)), rng.normal(0, 1, (2, 4)), reset="subtract", compare=">=")
    exact, exact_report = quantize(g, _data(3))  # exact by default: FlexLIF, CPU simulator only
    assert (exact.layers[0].neuron.reset, exact.layers[0].neuron.compare) == ("subtract", ">=")
    assert exact.layers[0].neuron.custom and not exact.layers[0].approximations
    assert exact_report.layers[0].cpu_simulator_only
    assert "CPU simulator only" in exact_report.layers[0].neuron
    with pytest.raises(
        UnsupportedError, match=r"layer0: reset='subtract'.*allow_approximations"
    ) as e:
        quantize(g, _data(3), policy=QuantPolicy(custom_neurons=False))  # a Loihi 2 target
    assert e.value.node == "layer0" and e.value.stage == "quantizer"
    q, report = quantize(g, _data(3), policy=QuantPolicy(allow_approximations=True))
    notes = " ".join(report.layers[0].approximations)
    assert (
        "reset 'subtract' deployed as 'zero'" in notes and "compare '>=' deployed as '>'" in notes
    )
    # the approximation is data of the deployed model, not only of the report
    assert [(a.param, a.source, a.deployed) for a in q.layers[0].approximations] == [
        ("reset", "subtract", "zero"),
        ("compare", ">=", ">"),
    ]
    assert (q.layers[0].neuron.reset, q.layers[0].neuron.compare) == ("zero", ">")


def test_dense_bias_folds_only_without_current_memory() -> None:
    rng = np.random.default_rng(5)
    folded = Graph.sequential(
        3, (Dense(rng.normal(0, 1, (4, 3)), bias=np.full(4, 0.1)), CubaLIF(4, 1.0, 0.0, 1.0))
    )
    q, report = quantize(folded, _data(3))
    assert np.all(q.layers[0].neuron.bias_mant > 0)
    assert "folded" in report.layers[0].approximations[0]
    leaky = Graph.sequential(
        3, (Dense(rng.normal(0, 1, (4, 3)), bias=np.full(4, 0.1)), CubaLIF(4, 0.5, 0.0, 1.0))
    )
    with pytest.raises(UnsupportedError, match="Dense has a bias"):
        quantize(leaky, _data(3))


def test_report_serialises() -> None:
    rng = np.random.default_rng(6)
    _, report = quantize(_graph(rng.normal(0, 1, (4, 3)), rng.normal(0, 1, (2, 4))), _data(3))
    d = report.to_dict()
    assert [layer["name"] for layer in d["layers"]] == ["layer0", "layer1"]
    assert set(d["layers"][0]) >= {"scale", "weight_exp", "clipped_fraction", "u_headroom_bits"}


def test_qat_trains_on_the_deployed_weight_grid() -> None:
    import torch
    from torch import nn

    from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet, to_time_major, trace
    from lavabridge.nn.qat import disable_qat, enable_qat

    torch.manual_seed(0)
    net = SpikingNet(
        SpikingLayer(CubaLIF(20), nn.Linear(8, 20, bias=False), nn.Linear(20, 20, bias=False)),
        SpikingLayer(CubaLIF(5, voltage_decay=0.1), nn.Linear(20, 5, bias=False)),
    )
    enable_qat(enable_qat(net))  # idempotent
    x = _data(8)
    net(to_time_major(x))[-1].sum().backward()
    raw = net.layers[0].synapse.parametrizations.weight.original  # type: ignore[union-attr]
    assert raw.grad is not None and bool(raw.grad.abs().sum() > 0)  # straight-through gradient
    _, report = quantize(trace(net), x)
    assert all(layer.max_weight_error < 1e-6 for layer in report.layers)
    disable_qat(net)
    _, again = quantize(trace(net), x)
    assert all(
        layer.max_weight_error < 1e-6 for layer in again.layers
    )  # quantized weights baked in


def test_direct_current_input_is_quantized_and_deploys_on_lava() -> None:
    """A bias-driven input layer: float x -> InputEncoding -> bias mantissas; golden == Lava."""
    from lavabridge.errors import InputError
    from lavabridge.quant import InputKind

    rng = np.random.default_rng(8)
    g = Graph.sequential(
        12,
        (None, CubaLIF(12, current_decay=1.0, voltage_decay=0.1, threshold=1.0, bias=-0.05)),
        (Dense(rng.normal(0, 0.5, (16, 12))), CubaLIF(16, current_decay=1.0, voltage_decay=0.1, threshold=1.0)),
        input_gain=0.6,
    )  # fmt: skip
    calib = rng.random((32, 12))
    q, report = quantize(g, calib, num_steps=16)
    assert q.input_kind == InputKind.BIAS and q.layers[0].synapse is None
    enc = report.input_encoding
    assert enc is not None and enc.gain == 0.6
    x = rng.random((6, 12))
    mant = enc.encode(x)
    ref = interpret(g, x, num_steps=16)
    gold = emulate(q, mant, num_steps=16, probe_uv=True)
    for i in range(2):
        assert np.mean(ref.spikes[i] == gold.spikes[i]) > 0.95, f"layer {i}"
    assert gold.spike_counts()[0] > 0
    lava = run_lava(q, mant, num_steps=16, probe_uv=True)
    assert gold.first_mismatch(lava) is None
    with pytest.raises(InputError, match="calibration range"):
        enc.encode(x * 1e4)
