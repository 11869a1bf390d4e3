"""lavabridge.testing (assert_bit_exact, spike snapshots) and its pytest plugin, run as a user would."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.recording import Recording
from lavabridge.testing import (
    SpikeSnapshot,
    VerificationError,
    assert_bit_exact,
    assert_matches_snapshot,
    load_snapshot,
)

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "test_bit_exact_example.py"


def _graph(w_out: np.ndarray | None = None) -> QGraph:
    rng = np.random.default_rng(11)
    w1 = rng.integers(-100, 128, (5, 10)) * 2 if w_out is None else w_out
    return QGraph(
        8,
        (
            QLayer(
                "h",
                QCubaLIF(10, du=800, dv=300, vth=900),
                QDense(rng.integers(-50, 128, (10, 8)) * 2),
            ),
            QLayer("o", QCubaLIF(5, du=800, dv=300, vth=1500), QDense(w1)),
        ),
    )


def _x() -> np.ndarray:
    return (np.random.default_rng(1).random((3, 12, 8)) < 0.35).astype(np.uint8)


def _perturbed(graph: QGraph, o: int, i: int, value: int) -> QGraph:
    syn = graph.layers[1].synapse
    assert syn is not None
    w = syn.weights.copy()
    w[o, i] = value
    layer = dataclasses.replace(graph.layers[1], synapse=dataclasses.replace(syn, weights=w))
    return dataclasses.replace(graph, layers=(graph.layers[0], layer))


@pytest.mark.lava
def test_assert_bit_exact_passes_and_catches_a_lava_side_fault() -> None:
    graph, x = _graph(), _x()
    assert sum(int(s.sum()) for s in emulate(graph, x).spikes) > 0
    report = assert_bit_exact(graph, x)
    assert report.passed and report.golden_lava.states_samples == 3
    with pytest.raises(AssertionError, match=r"layer 1 'o'.*neuron 3") as info:
        assert_bit_exact(graph, x, lava_graph=_perturbed(graph, 3, 0, 254))
    assert isinstance(info.value, VerificationError)


def test_snapshot_lifecycle(tmp_path: Path) -> None:
    graph, x = _graph(), _x()
    path = tmp_path / "snaps" / "model.npz"
    with pytest.raises(VerificationError, match="--update-snapshots"):
        assert_matches_snapshot(graph, path, x)  # missing: fails, does not write
    assert not path.exists()
    written = assert_matches_snapshot(graph, path, x, update=True)
    stored = load_snapshot(path)
    assert stored.u is None and len(stored.spikes) == 2
    assert all(np.array_equal(a, b) for a, b in zip(stored.spikes, written.spikes, strict=True))
    assert_matches_snapshot(graph, path, x)  # unchanged model: passes
    assert_matches_snapshot(emulate(graph, x, probe_uv=True), path)  # a Recording works too

    # one changed weight: the message names the first differing layer, step and neuron
    gold = emulate(graph, x)
    for o, i, value in ((0, 2, 254), (1, 4, -256), (2, 7, 254), (4, 1, -256)):
        changed = emulate(_perturbed(graph, o, i, value), x)
        diff = changed.spikes[1] != gold.spikes[1]
        if diff.any():
            break
    else:
        pytest.fail("no perturbation changed a spike")
    b, t, n = min(map(tuple, np.argwhere(diff)), key=lambda e: (e[1], e[0], e[2]))
    with pytest.raises(VerificationError, match=rf"layer 1, sample {b}, t={t}, neuron {n}"):
        assert_matches_snapshot(_perturbed(graph, o, i, value), path, x)
    with pytest.raises(VerificationError, match="shapes"):
        assert_matches_snapshot(graph, path, x[:2])  # a different batch
    path.write_bytes(b"not a zip")
    with pytest.raises(VerificationError, match="unreadable"):
        assert_matches_snapshot(graph, path, x)


def test_spike_snapshot_paths(tmp_path: Path) -> None:
    snap = SpikeSnapshot(tmp_path, "test_x[param 1/2]")
    assert snap.path() == tmp_path / "test_x_param_1_2.npz"
    assert snap.path("out layer") == tmp_path / "test_x_param_1_2-out_layer.npz"
    rec = Recording((np.ones((1, 2, 3), np.uint8),))
    SpikeSnapshot(tmp_path, "t", update=True).check(rec)
    SpikeSnapshot(tmp_path, "t").check(rec)  # compares and passes
    with pytest.raises(VerificationError):
        SpikeSnapshot(tmp_path, "t").check(Recording((np.zeros((1, 2, 3), np.uint8),)))


def _plugin_args() -> list[str]:
    """``-p lavabridge.pytest_plugin`` unless an installed entry point already loads it."""
    eps = importlib.metadata.entry_points(group="pytest11")
    loaded = any(ep.value.split(":")[0] == "lavabridge.pytest_plugin" for ep in eps)
    return [] if loaded else ["-p", "lavabridge.pytest_plugin"]


@pytest.mark.lava
def test_example_test_file_as_a_user_runs_it(pytester: pytest.Pytester) -> None:
    source = EXAMPLE.read_text()
    pytester.makepyfile(test_bit_exact_example=source)
    args = [*_plugin_args(), "-p", "no:cacheprovider"]
    first = pytester.runpytest(*args)  # no snapshot yet: the snapshot test fails, Lava passes
    first.assert_outcomes(passed=1, failed=1)
    first.stdout.fnmatch_lines(["*no spike snapshot*--update-snapshots*"])
    pytester.runpytest(*args, "--update-snapshots").assert_outcomes(passed=2)
    snap = pytester.path / "snapshots" / "test_bit_exact_example" / "test_spikes_match_snapshot.npz"
    assert snap.is_file()
    pytester.runpytest(*args).assert_outcomes(passed=2)
    # the user's model changes (another bias): the snapshot test fails and says where
    changed = source.replace(
        "bias_mant=rng.integers(-20, 20, 24)", "bias_mant=rng.integers(-20, 20, 24) + 200"
    )
    assert changed != source
    pytester.makepyfile(test_bit_exact_example=changed)
    result = pytester.runpytest(*args, "-k", "snapshot")
    result.assert_outcomes(passed=0, failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*spikes differ from snapshot*first in layer *, sample *, t=*, neuron *"]
    )


def test_plugin_registers_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*_plugin_args(), "--help")
    result.stdout.fnmatch_lines(["*--update-snapshots*"])
