"""FlexLIF and the neuron kinds beyond Lava's LIF: pinned by hand, identical in all three oracles.

* the reset table of :class:`lavabridge.semantics.Reset` on snnTorch's documented trace
  (``../shared/reference/interop.md`` §1.1), in the float reference;
* every reset kind x compare on real Lava (``fixed_pt``): float reference (integer-valued, so
  exact) = golden fast engine = int64 oracle = Lava, on spikes, u and v;
* FlexLIF's ``floating_pt`` model on Lava = the float reference;
* ``bias_start``: the bias starts at that step of every sample, on Lava too;
* ``>=`` with zero reset on the 64-grid deploys on Lava's own LIF, exactly.

The random-graph tests (``test_lava_diff.py``, ``test_conv.py``) draw these kinds as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.lava import run_lava
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.quant.ptq import quantize
from lavabridge.semantics import Compare, Reset

# snnTorch Leaky, beta = 0.5, threshold 1, input x below (interop.md section 1.1)
SNNTORCH_X = [1.5, 0.0, 0.0, 2.5, 0.0, 1.0, 0.5]
SNNTORCH_SPIKES = {
    Reset.SUBTRACT_NEXT: [1, 0, 0, 1, 0, 1, 0],  # subtract, reset_delay=True
    Reset.SUBTRACT_GUARDED: [1, 0, 0, 1, 0, 1, 0],  # subtract, reset_delay=False
    Reset.ZERO: [1, 0, 0, 1, 0, 0, 0],
    Reset.NONE: [1, 0, 0, 1, 1, 1, 1],
}
SNNTORCH_MEM = {  # what snnTorch returns as mem (before the reset with reset_delay=True)
    Reset.SUBTRACT_NEXT: [1.5, -0.25, -0.125, 2.4375, 0.21875, 1.109375, 0.0546875],
    Reset.SUBTRACT_GUARDED: [0.5, 0.25, 0.125, 1.5625, 0.78125, 0.390625, 0.6953125],
    Reset.NONE: [1.5, 0.75, 0.375, 2.6875, 1.34375, 1.671875, 1.3359375],
}


def _current_graph(x: list[float], neuron: ir.CubaLIF) -> tuple[ir.Graph, np.ndarray]:
    """A graph whose one neuron receives the current ``x[t]`` at step ``t + 1`` (input channel
    ``t`` spikes once, at step ``t``, through weight ``x[t]``)."""
    n = len(x)
    g = ir.Graph.sequential(n, (ir.Dense(np.asarray([x], np.float64)), neuron))
    return g, np.eye(n + 1, n)[None]


@pytest.mark.parametrize("reset", list(SNNTORCH_SPIKES))
def test_reset_table_reproduces_snntorch_trace(reset: Reset) -> None:
    g, s = _current_graph(SNNTORCH_X, ir.LIF(1, 0.5, 1.0, reset=reset))
    rec = ir.interpret(g, s, probe_uv=True)
    assert rec.spikes[0][0, 1:, 0].tolist() == SNNTORCH_SPIKES[reset]  # one step of latency
    if reset in SNNTORCH_MEM:
        assert rec.v is not None
        np.testing.assert_allclose(rec.v[0][0, 1:, 0], SNNTORCH_MEM[reset], rtol=0, atol=1e-12)


def test_zero_next_is_snntorch_synaptic_delayed_zero_reset() -> None:
    """snnTorch Synaptic, alpha = beta = 0.5, zero reset, reset_delay=True (interop 1.2): the step
    after a spike is zeroed whole, its input lost; syn (u) is never reset."""
    neuron = ir.CubaLIF(1, 0.5, 0.5, 1.0, reset=Reset.ZERO_NEXT)
    g, s = _current_graph([1.5, 0.0, 0.0, 0.0, 0.0], neuron)
    rec = ir.interpret(g, s, probe_uv=True)
    assert rec.spikes[0][0, 1:, 0].tolist() == [1, 0, 0, 0, 0]
    assert rec.v is not None and rec.u is not None
    np.testing.assert_allclose(rec.v[0][0, 1:, 0], [1.5, 0.0, 0.375, 0.375, 0.28125], atol=1e-12)
    np.testing.assert_allclose(rec.u[0][0, 1:, 0], [1.5, 0.75, 0.375, 0.1875, 0.09375])


def test_guarded_subtract_quirk_and_spikingjelly_equality() -> None:
    """snnTorch reset_delay=False: v stays above the threshold without a spike (interop 1.1);
    SpikingJelly's soft reset with '>=' fires at equality and every step while v stays high."""
    g, s = _current_graph([2.6, 0.5, 0.0], ir.LIF(1, 0.5, 1.0, reset=Reset.SUBTRACT_GUARDED))
    rec = ir.interpret(g, s, probe_uv=True)
    assert rec.spikes[0][0, 1:, 0].tolist() == [1, 0, 0]
    assert rec.v is not None
    np.testing.assert_allclose(rec.v[0][0, 1:, 0], [1.6, 1.3, 0.65], atol=1e-12)
    sj = ir.IF(1, 1.0, reset=Reset.SUBTRACT, compare=Compare.GE)
    g, s = _current_graph([0.6, 0.6, 0.6, 2.5, 0.0], sj)
    rec = ir.interpret(g, s, probe_uv=True)
    assert rec.spikes[0][0, 1:, 0].tolist() == [0, 1, 0, 1, 1]
    assert rec.v is not None
    np.testing.assert_allclose(rec.v[0][0, 1:, 0], [0.6, 0.2, 0.8, 2.3, 1.3], atol=1e-12)


def _integer_case(reset: Reset, compare: Compare, bias_start: int) -> tuple[ir.Graph, QGraph]:
    """One layer of 3 IF neurons whose float and integer forms coincide: ``du = 4095``
    (u = 64 a_in), ``dv = 0``, integer weights, threshold ``64 vth``, bias a multiple of 64."""
    w = np.array([[40, -14], [26, 26], [50, 8]])  # even: Lava drops the LSB of mixed signs
    bias_mant = np.array([3, 0, -2])
    vth = 50
    q = QGraph(
        2,
        (
            QLayer(
                "l",
                QCubaLIF(3, 4095, 0, vth, bias_mant, np.full(3, 6), reset, compare, bias_start),
                QDense(w),
            ),
        ),
    )
    neuron = ir.IF(3, 64.0 * vth, 64.0 * bias_mant, reset, compare, bias_start)
    return ir.Graph.sequential(2, (ir.Dense(64.0 * w), neuron)), q


def _input(steps: int = 24, batch: int = 2) -> np.ndarray:
    return (np.random.default_rng(3).random((batch, steps, 2)) < 0.6).astype(np.int8)


@pytest.mark.lava
@pytest.mark.parametrize("compare", list(Compare))
@pytest.mark.parametrize("reset", list(Reset))
def test_every_kind_float_golden_oracle_and_lava_agree(reset: Reset, compare: Compare) -> None:
    g, q = _integer_case(reset, compare, bias_start=3)
    x = _input()
    ref = ir.interpret(g, x, probe_uv=True)
    fast = emulate(q, x, probe_uv=True)
    oracle = emulate(q, x, probe_uv=True, exact_int=True)
    lava = run_lava(q, x, probe_uv=True)
    assert fast.first_mismatch(oracle) is None
    assert fast.first_mismatch(lava) is None, str(fast.first_mismatch(lava))
    assert ref.v is not None and fast.v is not None
    np.testing.assert_array_equal(ref.spikes[0], fast.spikes[0])
    np.testing.assert_array_equal(ref.v[0], fast.v[0])
    assert fast.spikes[0].sum() > 0


@pytest.mark.lava
def test_bias_starts_at_its_step_in_every_sample_on_lava() -> None:
    _, q = _integer_case(Reset.ZERO, Compare.GT, bias_start=5)
    x = np.zeros((3, 8, 2), np.int8)  # no input: only the bias drives the layer
    lava = run_lava(q, x, probe_uv=True)
    assert lava.v is not None and emulate(q, x, probe_uv=True).first_mismatch(lava) is None
    # neuron 0: bias 3 << 6 = 192 per step from step 5 on, in each of the three samples
    assert lava.v[0][:, :, 0].tolist() == [[0, 0, 0, 0, 0, 192, 384, 576]] * 3


@pytest.mark.lava
def test_flexlif_floating_point_model_equals_the_float_reference() -> None:
    """FlexLIF's floating_pt ProcessModel on Lava = the float reference, for every kind."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from lavabridge.processes.flexlif.process import FlexLIF

    rng = np.random.default_rng(5)
    T, n_in, n = 30, 4, 5
    x = (rng.random((T, n_in)) < 0.5).astype(float)
    w = rng.normal(0.4, 0.6, (n, n_in))
    bias = rng.normal(0.05, 0.05, n)
    kinds = [(r, c) for r in Reset for c in Compare]
    src = Source(data=x.T)
    sinks, expected = [], []
    for reset, compare in kinds:
        dense = Dense(weights=w)
        lif = FlexLIF(shape=(n,), du=0.3, dv=0.2, vth=1.0, bias_mant=bias, reset=reset.value,
                      compare=compare.value)  # fmt: skip
        sink = Sink(shape=(n,), buffer=T)
        src.s_out.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(sink.a_in)
        sinks.append(sink)
        neuron = ir.CubaLIF(n, 0.3, 0.2, 1.0, bias, reset, compare)
        graph = ir.Graph.sequential(n_in, (ir.Dense(w), neuron))
        expected.append(ir.interpret(graph, x[None]).spikes[0][0])
    try:
        src.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        got = [sink.data.get().T for sink in sinks]
    finally:
        src.stop()
    for (reset, compare), want, have in zip(kinds, expected, got, strict=True):
        np.testing.assert_array_equal(have, want, err_msg=f"{reset.value} {compare.value}")
    assert sum(int(e.sum()) for e in expected) > 0


@pytest.mark.lava
def test_ge_on_the_64_grid_runs_on_lavas_own_lif() -> None:
    """SpikingJelly's IFNode (``>=``, hard reset) quantizes onto Lava's LIF with ``vth - 1``."""
    rng = np.random.default_rng(2)
    g = ir.Graph.sequential(
        6,
        (ir.Dense(rng.normal(0.5, 0.5, (8, 6))), ir.IF(8, 1.0, compare=">=")),
        (ir.Dense(rng.normal(0.5, 0.5, (3, 8))), ir.IF(3, 1.0, compare=">=")),
    )
    x = (rng.random((4, 20, 6)) < 0.5).astype(np.int8)
    q, report = quantize(g, x)
    for layer, lr in zip(q.layers, report.layers, strict=True):
        assert isinstance(layer.neuron, QCubaLIF) and not layer.neuron.custom
        assert layer.neuron.compare == Compare.GT and not lr.cpu_simulator_only
    golden = emulate(q, x, probe_uv=True)
    assert golden.first_mismatch(run_lava(q, x, probe_uv=True)) is None
    # on the grid '>' with vth - 1 is '>=' with vth: the same spikes as a FlexLIF '>='
    flex = QGraph(6, tuple(
        QLayer(ly.name, QCubaLIF(ly.neuron.size, ly.neuron.du, ly.neuron.dv,  # type: ignore[attr-defined]
                                 ly.neuron.vth + 1, ly.neuron.bias_mant, ly.neuron.bias_exp,  # type: ignore[attr-defined]
                                 compare=Compare.GE), ly.synapse)
        for ly in q.layers
    ))  # fmt: skip
    assert emulate(flex, x, probe_uv=True).first_mismatch(golden) is None


def test_netx_writer_refuses_a_late_bias_and_keeps_an_unbiased_layer(tmp_path: Path) -> None:
    from lavabridge.errors import UnsupportedError
    from lavabridge.exporters.netx import write_netx

    _, late = _integer_case(Reset.ZERO, Compare.GT, bias_start=2)
    with pytest.raises(UnsupportedError, match="bias starts at step 2"):
        write_netx(late, tmp_path / "late.net")
    layer = late.layers[0]
    n = layer.neuron
    assert isinstance(n, QCubaLIF)
    unbiased = QGraph(
        2, (QLayer("l", QCubaLIF(3, n.du, n.dv, n.vth, bias_start=2), layer.synapse),)
    )
    write_netx(unbiased, tmp_path / "ok.net")  # no bias: bias_start changes nothing
    assert (tmp_path / "ok.net").is_file()
