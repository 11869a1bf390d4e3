"""The verification suite: injected faults are caught and located, health counters, report, CLI.

Fault injection: Lava runs a QGraph with one perturbed weight, threshold, decay or bias while the
golden emulator runs the original (or the other way round). The expected location of the first
divergence is derived independently from the golden recording and the arithmetic of the fault
(which neuron the perturbed value reaches first), not from the verifier's own code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.inputs import prepare_input
from lavabridge.errors import InputError, ModelFileError
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.verify import VerificationError, VerifyReport, verify, write_report
from lavabridge.verify.compare import predict_by_count, van_rossum
from lavabridge.verify.health import layer_health

from verify_helpers import BATCH, first_of, verify_graph, verify_input, with_layer

DOCS = Path(__file__).resolve().parents[1] / "docs" / "verify-report-schema.md"


@pytest.fixture(scope="module")
def base() -> tuple[QGraph, np.ndarray, object]:
    graph, x = verify_graph(), verify_input()
    gold = emulate(graph, x, probe_uv=True)
    assert all(s.sum() > 0 for s in gold.spikes), "the test network must be active"
    return graph, x, gold


# ----------------------------------------------------------------------------- fault injection
@pytest.mark.lava
def test_clean_model_passes_with_states_compared(base: tuple) -> None:
    graph, x, _ = base
    report = verify(graph, x, probe_uv=True, chunk=BATCH)
    assert report.passed and report.status == "identical"
    assert (
        report.golden_lava.states_samples == BATCH and report.golden_lava.first_divergence is None
    )
    assert all(e.spikes_differing == 0 and e.u_differing == 0 for e in report.golden_lava.layers)
    report.raise_for_mismatch()  # no exception


@pytest.mark.lava
def test_perturbed_weight_is_located(base: tuple) -> None:
    graph, x, gold = base
    o, i, delta = 2, 5, 40  # even: survives Lava's LSB truncation of mixed-sign weights
    w = graph.layers[1].synapse.weights.copy()
    w[o, i] += delta
    faulty = with_layer(graph, 1, weights=w)
    report = verify(graph, x, probe_uv=True, lava_graph=faulty, chunk=BATCH)
    assert not report.passed and report.golden_lava.lava_graph_differs
    d = report.golden_lava.first_divergence
    assert d is not None
    # hidden neuron i first spikes at t0 -> out neuron o receives the changed weight at t0 + 1
    b0, t0, _ = first_of(gold.spikes[0][:, :, i : i + 1] > 0)
    assert (d.layer, d.sample, d.step, d.neuron) == (1, b0, t0 + 1, o)
    assert "u" in d.quantities
    shift = 6 + graph.layers[1].synapse.weight_exp
    assert d.lava.u - d.golden.u == delta << shift  # exactly the injected weight, in u units
    assert d.lava_before == d.golden_before  # identical the step before
    assert report.golden_lava.layers[0].first_step is None  # the layer below is untouched
    # the layer's first differing step: the step after neuron i first fires in any sample
    assert (
        report.golden_lava.layers[1].first_step
        == int(np.argmax(gold.spikes[0][:, :, i].any(0))) + 1
    )
    with pytest.raises(VerificationError, match=r"layer 1 'out'.*neuron 2"):
        report.raise_for_mismatch()


@pytest.mark.lava
def test_perturbed_threshold_is_located(base: tuple) -> None:
    graph, x, gold = base
    old = graph.layers[0].neuron.vth
    new = old - 60
    faulty = with_layer(graph, 0, vth=new)
    report = verify(graph, x, probe_uv=True, lava_graph=faulty, chunk=BATCH)
    d = report.golden_lava.first_divergence
    assert d is not None
    # first entry where golden stays silent with v in (new << 6, old << 6]: the faulty one fires
    v = gold.v[0]
    mask = (gold.spikes[0] == 0) & (v > new << 6) & (v <= old << 6)
    b, t, n = first_of(mask)
    assert (d.layer, d.sample, d.step, d.neuron) == (0, b, t, n)
    assert (d.golden.spike, d.lava.spike, d.lava.v) == (0, 1, 0)
    assert d.golden.v == v[b, t, n]


@pytest.mark.lava
def test_perturbed_decay_is_located(base: tuple) -> None:
    graph, x, gold = base
    old_du, new_du = graph.layers[1].neuron.du, 1800
    faulty = with_layer(graph, 1, du=new_du)
    report = verify(graph, x, probe_uv=True, lava_graph=faulty, chunk=BATCH)
    d = report.golden_lava.first_divergence
    assert d is not None
    # first entry where the decayed previous u differs between the two retentions
    u_prev = np.zeros_like(gold.u[1])
    u_prev[:, 1:] = gold.u[1][:, :-1]

    def decayed(du: int) -> np.ndarray:
        prod = u_prev * (4096 - (du + 1))
        return np.sign(prod) * (np.abs(prod) >> 12)  # round toward zero

    b, t, n = first_of(decayed(old_du) != decayed(new_du))
    assert (d.layer, d.sample, d.step, d.neuron) == (1, b, t, n)
    assert "u" in d.quantities and d.golden_before.u == d.lava_before.u != 0


@pytest.mark.lava
def test_perturbed_bias_is_located_and_golden_side_faults_too(base: tuple) -> None:
    graph, x, _ = base
    k, delta = 9, 50
    bm = graph.layers[0].neuron.bias_mant.copy()
    bm[k] += delta
    faulty = with_layer(graph, 0, bias_mant=bm)
    # the fault sits in the golden model this time; Lava runs the original
    report = verify(faulty, x, probe_uv=True, lava_graph=graph, chunk=BATCH)
    d = report.golden_lava.first_divergence
    assert d is not None
    assert (d.layer, d.sample, d.step, d.neuron) == (0, 0, 0, k)  # bias acts from the first step
    assert "v" in d.quantities and d.golden_before.v == d.lava_before.v == 0  # from rest
    # v differs from step 0 in every sample (before any spike differs)
    layer0 = report.golden_lava.layers[0]
    assert layer0.first_step == 0 and layer0.samples_differing == BATCH
    bias_exp = int(graph.layers[0].neuron.bias_exp[k])
    assert d.golden.v - d.lava.v == delta << bias_exp


@pytest.mark.lava
def test_spike_only_run_rechecks_states_of_mismatching_samples(base: tuple) -> None:
    graph, x, gold = base
    w = graph.layers[1].synapse.weights.copy()
    o, i = 2, 5
    w[o, i] = -250  # a big change: spikes differ too
    faulty = with_layer(graph, 1, weights=w)
    report = verify(graph, x, probe_uv=False, lava_graph=faulty, chunk=BATCH)
    gl = report.golden_lava
    assert not gl.identical and 1 <= gl.states_samples <= BATCH
    assert gl.layers[1].spikes_differing > 0 and gl.layers[0].spikes_differing == 0
    d = gl.first_divergence
    assert d is not None and d.layer == 1 and d.neuron == o and d.golden.u is not None
    # u of neuron o diverges the step after hidden neuron i first fires in that sample
    assert d.step == int(np.argmax(gold.spikes[0][d.sample, :, i])) + 1


# ----------------------------------------------------------------------------- health
def _health_graph() -> QGraph:
    # layer "wrap": du=-1 keeps u, input 255 << 7 every step -> u wraps at 2^23;
    # layer "ties": dv=4096 and u=0 make v = bias: neuron 1 has v == vth << 6 every step (a tie),
    #               neurons 0 and 2 sit above the threshold (they fire every step)
    wrap = QCubaLIF(1, du=-1, dv=4096, vth=(1 << 18) - 1)
    sat = QCubaLIF(3, du=4095, dv=4096, vth=10, bias_mant=[4095, 640, 641], bias_exp=[7, 0, 0])
    return QGraph(
        1,
        (
            QLayer("wrap", wrap, QDense(np.array([[255]]), weight_exp=7)),
            QLayer("ties", sat, QDense(np.zeros((3, 1), int))),
        ),
    )


def test_health_counts_wraps_saturations_and_ties() -> None:
    T = 30
    g = _health_graph()
    x = np.ones((1, T, 1), np.uint8)
    rec = emulate(g, x, probe_uv=True)
    h = layer_health(g, prepare_input(g, x), rec)
    assert all(layer.consistent for layer in h)
    # independent count of u wraps: u += 255 << 13 from step 1 on, wrapping once above 2^23
    u, wraps = 0, 0
    for t in range(T):
        if t >= 1:
            u += 255 << 13
        if u > 1 << 23:
            u -= 1 << 24
            wraps += 1
    assert h[0].u_wraps == wraps > 0 and h[0].first_u_wrap is not None
    assert h[0].first_u_wrap.step == 5  # 5 * 2088960 > 2^23 first at t = 5
    assert h[1].threshold_ties == T and h[1].first_threshold_tie.neuron == 1  # type: ignore[union-attr]
    assert rec.spikes[1][0, :, 2].all() and not rec.spikes[1][0, :, 1].any()

    sat_only = QGraph(
        1,
        (
            QLayer(
                "s",
                QCubaLIF(1, du=4095, dv=0, vth=(1 << 18) - 1, bias_mant=[4095], bias_exp=[7]),
                QDense(np.zeros((1, 1), int)),
            ),
        ),
    )
    rec2 = emulate(sat_only, x, probe_uv=True)
    h2 = layer_health(sat_only, prepare_input(sat_only, x), rec2)[0]
    # v grows by 4095 << 7 = 524160 per step: beyond 2^23 - 1 from the 17th step (t = 16) on
    assert h2.v_saturations == T - 16 and h2.first_v_saturation.step == 16  # type: ignore[union-attr]
    assert h2.consistent and h2.v_headroom_bits < 0 and h2.u_wraps == 0


def test_health_counts_downward_wraps() -> None:
    """u falling to -2^23 or below wraps upwards (``u <= -2^23 -> u + 2^24``) and is counted."""
    T = 30
    wrap = QCubaLIF(1, du=-1, dv=4096, vth=(1 << 18) - 1)
    g = QGraph(1, (QLayer("down", wrap, QDense(np.array([[-255]]), weight_exp=7)),))
    x = np.ones((1, T, 1), np.uint8)
    rec = emulate(g, x, probe_uv=True)
    h = layer_health(g, prepare_input(g, x), rec)[0]
    u, wraps = 0, 0
    for t in range(T):
        if t >= 1:
            u -= 255 << 13
        if u <= -(1 << 23):
            u += 1 << 24
            wraps += 1
    assert h.consistent and h.u_wraps == wraps > 0
    assert h.first_u_wrap is not None and h.first_u_wrap.step == 5  # -5 * 2088960 <= -2^23


def test_health_static_counts() -> None:
    w = np.array([[254, -256, 3, 0], [255, 1, -255, 8]])  # mixed, nwb 8: odd values truncated
    g = QGraph(
        4, (QLayer("l", QCubaLIF(2, du=0, dv=0, vth=10, bias_mant=[4095, -4096]), QDense(w)),)
    )
    x = np.zeros((1, 4, 4), np.uint8)
    h = layer_health(g, prepare_input(g, x), emulate(g, x, probe_uv=True))[0]
    assert h.weights_total == 8 and h.weights_lsb_truncated == 4  # 3, 255, 1, -255
    assert h.weights_at_rail == 4  # 254, -256, 255 (Lava uses 254) and -255 (Lava uses -256)
    assert h.biases_at_rail == 2 and h.weights_clipped is None


def test_float_clip_counts_use_the_layer_scale() -> None:
    from lavabridge.quant.ptq import quantize

    rng = np.random.default_rng(0)
    w0, w1 = rng.normal(0, 0.4, (8, 6)), rng.normal(0, 0.5, (3, 8))
    chain = (ir.Dense(w0), ir.CubaLIF(8, current_decay=1.0, voltage_decay=0.1, threshold=1.0))
    fg = ir.Graph.sequential(6, chain, (ir.Dense(w1), ir.CubaLIF(3, 1.0, 0.1, 1.0)))
    x = (rng.random((4, 10, 6)) < 0.3).astype(np.uint8)
    q, _ = quantize(fg, x)
    big = w0.copy()
    big[0, 0] = 10 * np.abs(w0).max()  # would need 10x the 8-bit mantissa at this layer's scale
    fg_big = ir.Graph.sequential(
        6, (ir.Dense(big), chain[1]), (ir.Dense(w1), ir.CubaLIF(3, 1.0, 0.1, 1.0))
    )
    gold = emulate(q, x, probe_uv=True)
    clean = layer_health(q, prepare_input(q, x), gold, fg.layer_chain())
    assert [h.weights_clipped for h in clean] == [0, 0] and [h.biases_clipped for h in clean] == [
        0,
        0,
    ]
    dirty = layer_health(q, prepare_input(q, x), gold, fg_big.layer_chain())
    assert [h.weights_clipped for h in dirty] == [1, 0]


# ----------------------------------------------------------------------------- float vs quant
def test_van_rossum_distance() -> None:
    z = np.zeros((1, 200, 2))
    one = z.copy()
    one[0, 10, 0] = 1
    tau = 4.0
    d = van_rossum(one, z, tau)
    expected = np.sqrt(1.0 / (tau * (1 - np.exp(-2 / tau))))  # one lone spike
    assert d[0, 0] == pytest.approx(expected, rel=1e-6) and d[0, 1] == 0
    shifted = z.copy()
    shifted[0, 12, 0] = 1
    assert 0 < van_rossum(one, shifted, tau)[0, 0] < d[0, 0]  # closer in time: smaller
    assert np.all(van_rossum(one, one, tau) == 0)
    with pytest.raises(InputError):
        van_rossum(one, z, 0)


def test_prediction_rule_matches_lavabridge_nn() -> None:
    from lavabridge.nn import predict_by_count as nn_predict

    s = (np.random.default_rng(1).random((50, 12, 5)) < 0.15).astype(np.uint8)
    assert np.array_equal(predict_by_count(s), nn_predict(s))


def test_float_vs_quantized_statistics_and_report_round_trip(tmp_path: Path) -> None:
    from lavabridge.quant.ptq import quantize

    rng = np.random.default_rng(2)
    fg = ir.Graph.sequential(
        10,
        (ir.Dense(rng.normal(0, 0.5, (12, 10))), ir.CubaLIF(12, 1.0, 0.1, 1.0)),
        (ir.Dense(rng.normal(0, 0.5, (4, 12))), ir.CubaLIF(4, 1.0, 0.1, 1.0)),
    )
    x = (rng.random((8, 14, 10)) < 0.3).astype(np.uint8)
    y = rng.integers(0, 4, 8)
    q, _ = quantize(fg, x)
    report = verify(q, x, labels=y, float_model=fg, lava=False)
    assert report.status == "lava-not-run" and not report.passed
    with pytest.raises(VerificationError, match="not checked"):
        report.raise_for_mismatch()
    golden = emulate(q, x)
    for a, f, g in zip(
        report.float_quant, report.artifacts.recordings["float"].spikes, golden.spikes, strict=True
    ):
        assert a.agreement == pytest.approx(np.mean(f == g))
        assert (a.spikes_float, a.spikes_quant) == (f.sum(), g.sum())
        assert sum(a.first_step_hist) + a.samples_never_differing == 8
    assert {o.oracle for o in report.accuracy} == {"float", "golden"}
    # JSON round trip into the same dataclasses
    again = VerifyReport.from_json(report.to_json())
    with pytest.raises(ModelFileError, match=r"not a lavabridge\.verify-report document"):
        VerifyReport.from_json('{"schema": "other"}')
    assert again == report
    files = write_report(report, tmp_path)
    assert VerifyReport.from_json(files["json"]) == report
    md = files["markdown"].read_text()
    assert "NOT CHECKED" in md and "Float reference vs quantized" in md
    for name in ("raster.png", "traces.png", "divergence.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
    _assert_documented(json.loads(report.to_json()))


def _keys(obj: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= {prefix + k} | _keys(v, prefix + k + ".")
    elif isinstance(obj, list) and obj:
        out |= _keys(obj[0], prefix.rstrip(".") + "[].")
    return out


@pytest.mark.lava
def test_json_schema_document_lists_every_field(base: tuple) -> None:
    graph, x, _ = base
    w = graph.layers[1].synapse.weights.copy()
    w[0, 0] = 0 if w[0, 0] else 2
    report = verify(graph, x, probe_uv=True, lava_graph=with_layer(graph, 1, weights=w))
    assert report.golden_lava.first_divergence is not None  # so every nested field is present
    _assert_documented(json.loads(report.to_json()))


def _assert_documented(data: dict) -> None:
    documented = set(re.findall(r"^\| `([^`]+)`", DOCS.read_text(), flags=re.M))
    keys = {k for k in _keys(data) if not k.startswith(("timings.", "versions."))}
    assert keys <= documented, f"undocumented: {sorted(keys - documented)}"
