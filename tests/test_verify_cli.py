"""The ``lavabridge verify`` command: model-file and run-directory modes, exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.cli.verify import add_verify_command
from lavabridge.errors import LavaBridgeError
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.quant.serialize import save_qgraph

T_STEPS, BATCH = 16, 4
DOCS = Path(__file__).resolve().parents[1] / "docs" / "verify-report-schema.md"


def _graph() -> QGraph:
    rng = np.random.default_rng(3)
    a = QCubaLIF(16, du=1024, dv=512, vth=3000, bias_mant=rng.integers(-30, 30, 16))
    b = QCubaLIF(6, du=1024, dv=256, vth=6000)
    return QGraph(
        12,
        (
            QLayer("hidden", a, QDense(rng.integers(-60, 128, (16, 12)) * 2, weight_exp=1)),
            QLayer("out", b, QDense(rng.integers(-64, 128, (6, 16)) * 2, weight_exp=1)),
        ),
        name="faults",
    )


def _input() -> np.ndarray:
    return (np.random.default_rng(5).random((BATCH, T_STEPS, 12)) < 0.3).astype(np.uint8)


def _with_layer(graph: QGraph, i: int, **changes: object) -> QGraph:
    """A copy of ``graph`` whose layer ``i`` has neuron / synapse fields replaced."""
    layer = graph.layers[i]
    neuron_keys = {f.name for f in dataclasses.fields(QCubaLIF)}
    neuron = dataclasses.replace(
        layer.neuron, **{k: v for k, v in changes.items() if k in neuron_keys}
    )
    synapse = layer.synapse
    if "weights" in changes and synapse is not None:
        synapse = dataclasses.replace(synapse, weights=changes["weights"])
    layers = list(graph.layers)
    layers[i] = dataclasses.replace(layer, neuron=neuron, synapse=synapse)
    return dataclasses.replace(graph, layers=tuple(layers))


def _first(mask: np.ndarray) -> tuple[int, int, int]:
    """(sample, step, neuron) of the first True entry in (step, sample, neuron) order."""
    b, t, n = min(map(tuple, np.argwhere(mask)), key=lambda e: (e[1], e[0], e[2]))
    return int(b), int(t), int(n)


@pytest.fixture(scope="module")
def base() -> tuple[QGraph, np.ndarray, object]:
    graph, x = _graph(), _input()
    gold = emulate(graph, x, probe_uv=True)
    assert all(s.sum() > 0 for s in gold.spikes), "the test network must be active"
    return graph, x, gold


# ----------------------------------------------------------------------------- CLI
def _cli(argv: list[str]) -> int:
    """``lavabridge verify`` as :func:`lavabridge.cli.main` runs it (errors -> exit code 2)."""
    parser = argparse.ArgumentParser(prog="lavabridge")
    add_verify_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["verify", *argv])
    try:
        return int(args.func(args))
    except LavaBridgeError:
        return 2


@pytest.mark.lava
def test_cli_model_mode_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    graph, x = _graph(), _input()
    save_qgraph(graph, tmp_path / "m.lbq")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(BATCH) % 6)
    out = tmp_path / "out"
    args = [
        str(tmp_path / "m.lbq"),
        "--input",
        str(tmp_path / "x.npy"),
        "--labels",
        str(tmp_path / "y.npy"),
        "--out",
        str(out),
        "--no-plots",
    ]
    assert _cli(args) == 0
    assert json.loads((out / "report.json").read_text())["status"] == "identical"
    assert "PASSED" in (out / "report.md").read_text()
    assert "IDENTICAL" in capsys.readouterr().out
    # a fault in the graph Lava runs (real Lava, perturbed weights): exit code 1
    import lavabridge.verify as lv

    w = graph.layers[0].synapse.weights.copy()
    w[3, 3] = 0 if w[3, 3] else 2  # stays in the legal range
    real = lv.verify
    monkeypatch.setattr(
        lv, "verify", lambda *a, **k: real(*a, **k, lava_graph=_with_layer(graph, 0, weights=w))
    )
    assert _cli(args) == 1
    assert json.loads((out / "report.json").read_text())["status"] == "mismatch"
    monkeypatch.undo()
    # bad input: exit code 2
    np.save(tmp_path / "bad.npy", x[:, :, :5])
    np.save(tmp_path / "y3.npy", np.arange(3))
    assert (
        _cli([str(tmp_path / "m.lbq"), "--input", str(tmp_path / "bad.npy"), "--out", str(out)])
        == 2
    )
    assert _cli([str(tmp_path / "m.lbq"), "--out", str(out)]) == 2  # no --input
    assert (
        _cli(
            [
                str(tmp_path / "m.lbq"),
                "--input",
                str(tmp_path / "x.npy"),
                "--labels",
                str(tmp_path / "y3.npy"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert _cli([str(tmp_path / "missing.lbq"), "--input", str(tmp_path / "x.npy")]) == 2
    assert _cli([str(tmp_path), "--input", str(tmp_path / "x.npy")]) == 2  # not a run dir


@pytest.mark.lava
def test_cli_run_directory_mode(tmp_path: Path) -> None:
    from lavabridge.pipeline import PipelineConfig, save_config
    from lavabridge.quant.ptq import quantize

    run = tmp_path / "run"
    cfg = PipelineConfig(hidden=(16,), num_steps=8, max_test=6, out_dir=run, progress=False)
    save_config(cfg, run)
    rng = np.random.default_rng(0)
    fg = ir.Graph.sequential(
        64,
        (ir.Dense(rng.normal(0, 0.3, (16, 64))), ir.CubaLIF(16, 1.0, 0.1, 1.0)),
        (ir.Dense(rng.normal(0, 0.5, (10, 16))), ir.CubaLIF(10, 1.0, 0.1, 1.0)),
    )
    ir.save(fg, run / "model.lbir")
    q, _ = quantize(fg, (rng.random((8, 8, 64)) < 0.3).astype(np.uint8))
    save_qgraph(q, run / "model.lbq")
    assert _cli([str(run), "--input", "x.npy"]) == 2  # a run directory brings its own input
    assert _cli([str(run)]) == 0
    data = json.loads((run / "verify" / "report.json").read_text())
    assert data["samples"] == 6 and data["num_steps"] == 8 and data["passed"] is True
    assert data["model"]["float_source"].endswith("model.lbir")
    assert {a["oracle"] for a in data["accuracy"]} == {"float", "golden", "lava"}
    assert (run / "verify" / "raster.png").is_file()
