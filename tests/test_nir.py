"""NIR in and out on random graphs built with the real ``nir`` package (``nir_strategies``).

* the float reference of ``read_nir(g)`` reproduces the NIR graph's own run
  (:func:`lavabridge.importers.nirsim.run_nir`, node by node in NIR's units) spike for spike,
  every layer shifted by its latency;
* ``read_nir -> write_nir -> nir.write -> nir.read -> read_nir`` gives the same IR graph, node
  for node, bit for bit;
* after quantization, golden ≡ Lava on spikes, u and v at every step (real Lava).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from nir_strategies import NirCase, nir_case

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.lava import run_lava
from lavabridge.exporters.nir import to_nir, write_nir
from lavabridge.importers.nir import read_nir
from lavabridge.importers.nirsim import run_nir
from lavabridge.importers.source import ir_input
from lavabridge.quant.ptq import quantize

N_LAVA = int(os.environ.get("LAVABRIDGE_NIR_LAVA_EXAMPLES", "100"))
QUICK = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])


def _read(case: NirCase) -> ir.Graph:
    return read_nir(case.graph, case.dt, case.reset, discretisation=case.discretisation)


def assert_matches_nir_run(graph: ir.Graph, case: NirCase) -> int:
    """Float reference vs run_nir, every layer shifted by its latency; returns the spike count."""
    lat = graph.latencies()
    rec = ir.interpret(graph, ir_input(case.x, pad=max(lat)))
    out = run_nir(case.graph, case.x, case.dt, reset=case.reset, discretisation=case.discretisation)
    T, B = case.x.shape[:2]
    total = 0
    for layer, L, got in zip(graph.layer_chain(), lat, rec.spikes, strict=True):
        want = out[layer.name].reshape(T, B, -1).transpose(1, 0, 2) != 0
        bad = np.argwhere(got[:, L : L + T].astype(bool) != want)
        assert not bad.size, (
            f"layer {layer.name}: {len(bad)} spikes differ, first (b, t, n) {bad[0]}"
        )
        total += int(want.sum())
    return total


@QUICK
@given(case=nir_case())
def test_random_graphs_float_reference_equals_nir_run(case: NirCase) -> None:
    """Folding r, v_leak, v_reset, w_in, per-neuron thresholds and the maps into the IR keeps
    every spike of the graph as NIR defines it (dt, discretisation, reset as drawn)."""
    assert_matches_nir_run(_read(case), case)


def test_random_graphs_spike() -> None:
    """The strategy makes networks that spike (so the equality above can fail)."""
    seen: list[int] = []

    @settings(max_examples=40, database=None)
    @given(case=nir_case())
    def run(case: NirCase) -> None:
        seen.append(assert_matches_nir_run(_read(case), case))

    run()
    assert sum(n > 0 for n in seen) >= len(seen) // 2, seen


@QUICK
@given(case=nir_case())
def test_random_graphs_round_trip_exactly(case: NirCase) -> None:
    """read_nir(write_nir(g)) == g node for node, through a real file read by nir.read (its
    type check on), without dt / reset / discretisation given again: the metadata states them."""
    graph = _read(case)
    assert read_nir(to_nir(graph, case.dt, discretisation=case.discretisation), case.dt) == graph
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.nir"
        write_nir(graph, path, case.dt, discretisation=case.discretisation)
        back = nir.read(path)
        assert back.metadata["lavabridge.dt"] == case.dt
        assert read_nir(path, case.dt) == graph


@pytest.mark.lava
@pytest.mark.slow
@settings(max_examples=N_LAVA, suppress_health_check=[HealthCheck.too_slow])
@given(case=nir_case(deployable=True))
def test_random_nir_graphs_golden_equals_lava(case: NirCase) -> None:
    """Random NIR graphs, read and quantized (calibrated on their input): golden ≡ Lava on
    spikes, u and v at every step (subtract-reset layers on FlexLIF)."""
    graph = _read(case)
    xi = ir_input(case.x, pad=max(graph.latencies()))
    qgraph, _ = quantize(graph, xi)
    golden = emulate(qgraph, xi, probe_uv=True)
    lava = run_lava(qgraph, xi, probe_uv=True)
    mismatch = golden.first_mismatch(lava)
    assert mismatch is None, str(mismatch)
