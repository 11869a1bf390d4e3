"""The ``lavabridge verify`` command: model-file and run-directory modes, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.cli.verify import add_verify_command
from lavabridge.errors import LavaBridgeError
from lavabridge.quant.serialize import save_qgraph

from verify_helpers import BATCH, verify_graph, verify_input, with_layer

DOCS = Path(__file__).resolve().parents[1] / "docs" / "verify-report-schema.md"


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
    graph, x = verify_graph(), verify_input()
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
        lv, "verify", lambda *a, **k: real(*a, **k, lava_graph=with_layer(graph, 0, weights=w))
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
