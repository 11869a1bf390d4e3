"""Keep a deployed SNN honest in CI: copy this file into your repository's tests/ and adapt it.

What it guards:

* ``test_lava_matches_golden`` — Lava's ``fixed_pt`` simulator and lavabridge's golden emulator
  produce identical spikes, u and v at every step on your inputs (catches a Lava upgrade, an
  exporter change or a model Lava cannot express exactly). On failure the message names the first
  divergence: layer, time step, neuron, and the states on both sides.
* ``test_spikes_match_snapshot`` — the model's spikes equal a committed snapshot (catches any
  change of the model file, of your quantization settings or of a dependency that moves a single
  spike). Snapshots live in ``snapshots/test_bit_exact_example/`` beside this file.

Run (pytest finds the ``spike_snapshot`` fixture through lavabridge's pytest plugin; until the
plugin is registered by your install, add ``-p lavabridge.pytest_plugin``)::

    pytest tests/test_bit_exact_example.py --update-snapshots   # once: write the snapshots
    git add tests/snapshots                                     # commit them
    pytest tests/test_bit_exact_example.py                      # in CI: compare

The Lava test takes a few seconds per model (one compiled runtime streams all samples).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.testing import SpikeSnapshot, assert_bit_exact

# Your model: a lavabridge .lbq file or a lava-dl netx .net file, e.g. "models/my_snn.lbq".
MODEL_PATH = os.environ.get("MY_SNN_MODEL", "")
NUM_STEPS = 32


def _example_graph() -> QGraph:
    """A small stand-in network, used while MODEL_PATH is empty (delete it in your copy)."""
    rng = np.random.default_rng(7)
    hidden = QCubaLIF(24, du=1024, dv=256, vth=400, bias_mant=rng.integers(-20, 20, 24))
    out = QCubaLIF(5, du=2048, dv=128, vth=300)
    return QGraph(
        16,
        (
            QLayer("hidden", hidden, QDense(rng.integers(-128, 128, (24, 16)) * 2)),
            QLayer("out", out, QDense(rng.integers(-128, 128, (5, 24)) * 2, weight_exp=1)),
        ),
        name="example",
    )


@pytest.fixture(scope="module")
def model() -> QGraph:
    if MODEL_PATH:
        from lavabridge.importers.load import load_model

        return load_model(MODEL_PATH)
    return _example_graph()


@pytest.fixture(scope="module")
def inputs(model: QGraph) -> np.ndarray:
    """Fixed, seeded inputs: use samples of your own data set (a few are enough)."""
    rng = np.random.default_rng(0)
    return (rng.random((6, NUM_STEPS, model.n_in)) < 0.25).astype(np.uint8)


def test_lava_matches_golden(model: QGraph, inputs: np.ndarray) -> None:
    report = assert_bit_exact(model, inputs)  # raises VerificationError on any difference
    assert report.golden_lava.states_samples == len(inputs)  # u and v compared on every sample


def test_spikes_match_snapshot(
    model: QGraph, inputs: np.ndarray, spike_snapshot: SpikeSnapshot
) -> None:
    rec = spike_snapshot.check(model, inputs)  # golden emulator spikes vs the stored snapshot
    assert sum(int(s.sum()) for s in rec.spikes) > 0, "a silent network proves little"
