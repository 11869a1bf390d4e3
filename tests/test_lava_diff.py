"""Golden emulator vs real Lava (``Loihi2SimCfg(select_tag="fixed_pt")``): identical spikes, u and v.

No mocks: every test here compiles and runs real lava-nc processes.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
from hypothesis import given, settings

from lavabridge.backends.golden import emulate
from lavabridge.backends.lava import LavaSession, run_lava
from lavabridge.errors import InputError
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer

from qgraph_strategies import graph_and_input

pytestmark = pytest.mark.lava

N_EXAMPLES = int(os.environ.get("LAVABRIDGE_LAVA_EXAMPLES", "150"))


@pytest.mark.slow
@settings(max_examples=N_EXAMPLES)
@given(case=graph_and_input(), chunk=__import__("hypothesis").strategies.integers(1, 3))
def test_random_graphs_golden_equals_lava(case: tuple[QGraph, np.ndarray, int], chunk: int) -> None:
    """Random graphs over the full legal ranges: spikes and u, v identical at every step."""
    graph, x, T = case
    golden = emulate(graph, x, num_steps=T, probe_uv=True)
    lava = run_lava(graph, x, num_steps=T, probe_uv=True, chunk=chunk)
    mismatch = golden.first_mismatch(lava)
    assert mismatch is None, str(mismatch)


def _wrap_saturate_graph() -> QGraph:
    # layer a: du=-1 (no current decay) and big positive input -> u wraps at 2^23;
    # layer b: dv=0, bias at max and threshold never reached -> v saturates at 2^23 - 1
    a = QCubaLIF(4, du=-1, dv=4096, vth=(1 << 18) - 1)
    b = QCubaLIF(
        3, du=4095, dv=0, vth=(1 << 18) - 1, bias_mant=[4095, -4096, 7], bias_exp=[7, 7, 0]
    )
    return QGraph(
        6,
        (
            QLayer("a", a, QDense(np.full((4, 6), 255), weight_exp=7)),
            QLayer(
                "b",
                b,
                QDense(np.full((3, 4), -255), weight_exp=7),
                QDense(np.eye(3, dtype=int) * 200),
            ),
        ),
    )


def test_wrap_and_saturation_identical() -> None:
    graph = _wrap_saturate_graph()
    x = np.ones((2, 30, 6), np.int8)
    x[1, ::3] = 0
    golden = emulate(graph, x, probe_uv=True)
    assert golden.u is not None and golden.v is not None
    # the case really exercises the rules: u crossed the wrap point, v sits at saturation
    du = np.diff(golden.u[0][0, :, 0])
    assert (du < 0).any(), "u never wrapped"
    assert (golden.v[1] == (1 << 23) - 1).any() and (golden.v[1] == -((1 << 23) - 1)).any()
    lava = run_lava(graph, x, probe_uv=True)
    assert golden.first_mismatch(lava) is None


def test_streaming_matches_lava_ringbuffer_convention() -> None:
    """Our MemSource/SpikeRecorder/StateTap reproduce Lava's RingBuffer + Monitor indexing."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    from lavabridge.exporters.lava import build_network

    rng = np.random.default_rng(1)
    graph = QGraph(
        5,
        (
            QLayer("a", QCubaLIF(6, 300, 200, 20, bias_mant=rng.integers(-9, 9, 6)),
                   QDense(rng.integers(-256, 256, (6, 5)))),
            QLayer("b", QCubaLIF(3, 100, 50, 10), QDense(rng.integers(-256, 256, (3, 6)))),
        ),
    )  # fmt: skip
    T = 20
    x = (rng.random((T, 5)) < 0.5).astype(np.int32)
    net = build_network(graph)
    src = Source(data=x.T.copy())
    src.s_out.connect(net.inp)
    sinks = []
    for lif in net.neurons:
        sink = Sink(shape=lif.s_out.shape, buffer=T)
        lif.s_out.connect(sink.a_in)
        sinks.append(sink)
    mon = Monitor()
    mon.probe(net.neurons[1].v, T)
    try:
        src.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        ring = [s.data.get().astype(np.int64).T for s in sinks]
        v1 = np.asarray(mon.get_data()[net.neurons[1].name]["v"]).astype(np.int64)
    finally:
        src.stop()
    ours = run_lava(graph, x, probe_uv=True)
    golden = emulate(graph, x, probe_uv=True)
    assert ours.v is not None and golden.v is not None
    for i in range(2):
        np.testing.assert_array_equal(ours.spikes[i][0], ring[i])
        np.testing.assert_array_equal(golden.spikes[i][0], ring[i])
    np.testing.assert_array_equal(ours.v[1][0], v1.reshape(T, 3))
    assert sum(int(r.sum()) for r in ring) > 0


def test_one_session_streams_many_batches() -> None:
    """State is reset between samples and between run() calls; chunk boundaries are invisible."""
    rng = np.random.default_rng(7)
    graph = QGraph(
        10,
        (
            QLayer("a", QCubaLIF(12, 50, 20, 15, bias_mant=rng.integers(-30, 30, 12)),
                   QDense(rng.integers(-256, 256, (12, 10)), delays=rng.integers(0, 4, (12, 10))),
                   QDense(rng.integers(-256, 256, (12, 12)))),
            QLayer("b", QCubaLIF(4, 4095, 0, 40), QDense(rng.integers(-256, 256, (4, 12)))),
        ),
    )  # fmt: skip
    T = 16
    batches = [(rng.random((n, T, 10)) < 0.4).astype(np.int8) for n in (3, 1, 5)]
    with LavaSession(graph, T, probe_uv=True, chunk=2) as session:
        for x in batches:
            lava = session.run(x)
            golden = emulate(graph, x, probe_uv=True)
            assert golden.first_mismatch(lava) is None
            assert sum(golden.spike_counts()) > 0
        with pytest.raises(InputError):
            session.run(np.zeros((1, T + 1, 10)))


def test_bias_input_graph_across_calls() -> None:
    rng = np.random.default_rng(11)
    graph = QGraph(
        7,
        (
            QLayer("in", QCubaLIF(7, 4095, 123, 80, bias_exp=np.full(7, 6))),
            QLayer("out", QCubaLIF(3, 100, 100, 50), QDense(rng.integers(-256, 256, (3, 7)))),
        ),
        input_kind=InputKind.BIAS,
    )
    T = 12
    with LavaSession(graph, T, probe_uv=True, chunk=2) as session:
        for n in (3, 2, 1):
            x = rng.integers(0, 200, (n, 7))
            lava = session.run(x)
            golden = emulate(graph, x, num_steps=T, probe_uv=True)
            assert golden.first_mismatch(lava) is None
            assert golden.spike_counts()[0] > 0


def test_runtime_stops_on_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = QGraph(2, (QLayer("a", QCubaLIF(2, 0, 0, 1), QDense(np.ones((2, 2), int))),))
    session = LavaSession(graph, 4)
    session.run(np.ones((1, 4, 2), np.int8))
    assert multiprocessing.active_children(), "Lava should have started worker processes"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "_read_outputs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        session.run(np.ones((1, 4, 2), np.int8))
    assert session._sg is None
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_hand_derived_latency_trace_on_lava() -> None:
    """Spec §1.2 trace, run on Lava: one spike in column 2 reaches layer 0 at index 3, layer 1 at 4."""
    lif = QCubaLIF(1, du=4095, dv=4095, vth=50)
    graph = QGraph(1, (QLayer("a", lif, QDense([[100]])), QLayer("b", lif, QDense([[100]]))))
    x = np.zeros((1, 8, 1), np.int8)
    x[0, 2, 0] = 1
    lava = run_lava(graph, x, probe_uv=True)
    assert lava.u is not None
    assert lava.u[0][0, :, 0].tolist() == [0, 0, 0, 6400, 0, 0, 0, 0]
    assert lava.spikes[0][0, :, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert lava.spikes[1][0, :, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]


def test_u_wrap_boundaries_on_lava() -> None:
    """Lava wraps u only above 2^23 but already at -2^23 (``u <= -2^23``), as the golden rule says:
    eight input spikes through w = +-128, weight_exp = 7 give a_in = +-2^17, u* = +-2^23."""
    lif = QCubaLIF(2, du=4095, dv=4096, vth=(1 << 18) - 1)
    w = np.array([[128] * 8, [-128] * 8])
    graph = QGraph(8, (QLayer("a", lif, QDense(w, weight_exp=7)),))
    x = np.zeros((1, 3, 8), np.int8)
    x[0, 0] = 1
    lava = run_lava(graph, x, probe_uv=True)
    assert lava.u is not None and lava.v is not None
    assert lava.u[0][0, 1].tolist() == [1 << 23, 1 << 23]  # +2^23 kept, -2^23 wrapped to +2^23
    assert lava.v[0][0, 1].tolist() == [(1 << 23) - 1] * 2  # v = u, saturated
    assert emulate(graph, x, probe_uv=True).first_mismatch(lava) is None
