"""The performance suite on tiny networks, and the fast golden engine against the int64 oracle.

The suite's row functions run in-process here (real Lava for the Lava rows: no mocks), the JSON
report is checked for its structure, and the Lava stream row must find golden == Lava.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.networks import (
    NETWORKS,
    NetSpec,
    build_qgraph,
    make_input,
    synaptic_ops,
)
from benchmarks.rows import (
    row_float_torch,
    row_gemm,
    row_golden,
    row_golden_pass,
    row_lava_naive,
    row_lava_stream,
)
from benchmarks.run import build_report, format_table, plan, run_group
from lavabridge.backends.golden import emulate
from lavabridge.backends.golden.ops import plan_layers
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer

from qgraph_strategies import graph_and_input

TINY = NetSpec("12-9-3", (12, 9, 3), vth_hidden=40, vth_out=60)
TINY_REC = NetSpec("6-8r-2", (6, 8, 2), recurrent=True, vth_hidden=40, vth_out=60)


@settings(max_examples=150)
@given(case=graph_and_input(max_steps=30), chunk=st.integers(1, 3), threads=st.integers(1, 2))
def test_fast_engine_equals_int64_oracle(
    case: tuple[QGraph, np.ndarray, int], chunk: int, threads: int
) -> None:
    """Random graphs over the full parameter ranges: u, v and spikes identical at every step."""
    graph, x, T = case
    fast = emulate(graph, x, num_steps=T, probe_uv=True, chunk=chunk, threads=threads)
    oracle = emulate(graph, x, num_steps=T, probe_uv=True, exact_int=True)
    mismatch = fast.first_mismatch(oracle)
    assert mismatch is None, str(mismatch)


@settings(max_examples=40)
@given(case=graph_and_input(max_steps=12), chunk=st.integers(5, 80), threads=st.integers(2, 3))
def test_threads_and_chunks_split_big_batches_exactly(
    case: tuple[QGraph, np.ndarray, int], chunk: int, threads: int
) -> None:
    """Batches large enough for several worker threads and chunks: still the oracle's output."""
    graph, x, T = case
    rng = np.random.default_rng(0)
    big = np.concatenate([x] * 40)[:100]  # >= 64 samples: the batch is split across threads
    if big.ndim == 3:  # spikes: make the copies differ
        big = big ^ (rng.random(big.shape) < 0.1).astype(big.dtype)
    fast = emulate(graph, big, num_steps=T, probe_uv=True, chunk=chunk, threads=threads)
    oracle = emulate(graph, big, num_steps=T, probe_uv=True, exact_int=True)
    mismatch = fast.first_mismatch(oracle)
    assert mismatch is None, str(mismatch)


@pytest.mark.parametrize("weight_exp", [3, 4])  # |a_in| bound 256 * 64 * 2^e: 2^17 / 2^18
@pytest.mark.parametrize("threads", [1, 2])
def test_fast_path_at_its_bound_wraps_and_saturates_exactly(weight_exp: int, threads: int) -> None:
    """|a_in| just below 2^18 runs the float64 LIF, just above the int64 one; both exact."""
    a = QCubaLIF(5, du=-1, dv=0, vth=(1 << 18) - 1, bias_mant=[4095, -4096, 0, 7, -7],
                 bias_exp=[7, 7, 0, 3, 3])  # fmt: skip
    b = QCubaLIF(3, du=100, dv=0, vth=(1 << 18) - 1)
    w_a = np.repeat([[255], [255], [255], [-255], [-255]], 64, axis=1)
    graph = QGraph(
        64,
        (
            QLayer("a", a, QDense(w_a, weight_exp=weight_exp)),
            QLayer("b", b, QDense(np.full((3, 5), -255), weight_exp=7)),
        ),
    )
    plans = plan_layers(graph)
    assert plans[0].fast == (weight_exp == 3)
    x = np.ones((70, 40, 64), np.uint8)
    x[1::2, ::3] = 0
    fast = emulate(graph, x, probe_uv=True, threads=threads)
    oracle = emulate(graph, x, probe_uv=True, exact_int=True)
    assert fast.first_mismatch(oracle) is None
    assert fast.u is not None and fast.v is not None
    assert (np.diff(fast.u[0][0, :, 0]) < 0).any(), "u never wrapped"
    assert (np.abs(fast.v[0]) == (1 << 23) - 1).any(), "v never saturated"


def test_synaptic_ops_count_spikes_times_fan_out() -> None:
    x = np.zeros((1, 2, 6), np.uint8)
    x[0, 0, :3] = 1  # 3 input spikes * 8 (fan-out into the hidden layer)
    hidden = np.zeros((1, 2, 8), np.uint8)
    hidden[0, 1, :2] = 1  # 2 hidden spikes * (2 outputs + 8 recurrent)
    assert synaptic_ops(TINY_REC, x, [hidden, np.ones((1, 2, 2))]) == 3 * 8 + 2 * 10
    assert TINY_REC.dense_macs(3, 4) == 3 * 4 * (6 * 8 + 8 * 8 + 8 * 2)


def test_benchmark_networks_spike() -> None:
    """The suite's networks are neither silent nor saturated on their inputs."""
    for spec in NETWORKS.values():
        rec = emulate(build_qgraph(spec), make_input(spec, 4, 32))
        rates = [float(s.mean()) for s in rec.spikes]
        assert all(0.01 < r < 0.6 for r in rates), (spec.name, rates)


def test_plan_has_every_backend_and_the_pass() -> None:
    labels = {(s["network"], s["label"], s["batch"]) for g in plan(quick=True) for s in g}
    for name in NETWORKS:
        for label in ("golden", "golden-int64", "float-torch", "gemm-numpy", "gemm-torch"):
            assert (name, label, 1) in labels
    assert ("784-512-512-10", "golden", 10_000) in labels
    assert any(lab == "lava-naive" for _, lab, _ in labels)


@pytest.mark.lava
def test_rows_and_report_on_tiny_networks() -> None:
    rows = []
    for spec in (TINY, TINY_REC):
        for b in (1, 5):
            rows += [row_golden(spec, 8, b, reps=1), row_golden(spec, 8, b, exact_int=True)]
            rows += [row_float_torch(spec, 8, b, reps=1)]
            rows += [row_gemm(spec, 8, b, lib, reps=1) for lib in ("numpy", "torch")]
        rows.append(row_lava_stream(spec, 8, 5, chunk=2))
    rows.append(row_lava_naive(TINY, 8, 2))
    rows.append(row_golden_pass(TINY, 8, 40))
    for r in rows:
        r["peak_rss_mb"] = 1.0  # the worker adds it (tested below)
    doc = build_report(rows, "test", {"cpu": "x"}, {"revision": "abc", "dirty": False}, 1.0,
                       big=TINY.name, batch=5, pass_samples=40)  # fmt: skip
    doc = json.loads(json.dumps(doc))  # JSON-ready
    assert {"machine", "git", "rows", "targets", "definitions"} <= doc.keys()
    stream = [r for r in doc["rows"] if r["backend"] == "lava-stream"]
    assert len(stream) == 2 and all(r["bit_exact_vs_golden"] for r in stream)
    assert all(r["identical_to_golden"] for r in doc["rows"] if r["backend"] == "golden-int64")
    for r in doc["rows"]:
        assert r["wall_s"] > 0 and r["sample_steps_per_s"] > 0 and r["dense_macs_per_s"] > 0
        if r["batch"] == 5 and r["network"] in (TINY.name, TINY_REC.name):
            assert r["ratio_vs_lava_stream"] is not None
    names = [t["name"] for t in doc["targets"]]
    assert len(names) == 8 and len(set(names)) == 8
    for t in doc["targets"]:
        assert {"name", "measured", "threshold", "passed"} <= t.keys()
        assert t["measured"] is not None, t["name"]
    exact = next(t for t in doc["targets"] if t["name"] == "golden_bit_exact_vs_lava_stream")
    assert exact["passed"]
    assert "lava-stream" in format_table(doc["rows"])


def test_worker_process_reports_rows_with_peak_rss() -> None:
    """A fresh process: torch's GEMMs from two emulator threads at once (a first-use deadlock
    of torch.from_numpy once hid there), per-row peak RSS, and a failing row recorded."""
    net = {"name": "100-50-3", "sizes": [100, 50, 3], "vth_hidden": 40, "vth_out": 60}
    specs = [
        {"row": "golden", "network": "100-50-3", "net": net, "T": 8, "batch": 64,
         "label": "golden", "kwargs": {"reps": 1}},
        {"row": "gemm", "network": "100-50-3", "net": net, "T": 8, "batch": 4, "label": "gemm-x",
         "kwargs": {"lib": "nope"}},
    ]  # fmt: skip
    rows = run_group(specs, timeout=120)
    assert "error" not in rows[0], rows[0].get("error")
    assert rows[0]["backend"] == "golden" and rows[0]["peak_rss_mb"] > 10
    assert rows[0]["peak_rss_mb"] >= rows[0]["baseline_rss_mb"] > 0
    assert "error" in rows[1] and "lib" in rows[1]["error"]  # recorded, the worker went on
