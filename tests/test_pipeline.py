"""The main job end to end (shortened): train -> quantize -> export -> verify, and its CLI stages.

The verify stage writes the one VerifyReport schema (``lavabridge.verify-report``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lavabridge.cli import main
from lavabridge.data import load_dataset
from lavabridge.pipeline import PipelineConfig, encoded_test_split, load_config, run_pipeline
from lavabridge.quant.serialize import load_qgraph


def _accuracy(report: dict, oracle: str) -> float:
    return next(a["accuracy"] for a in report["accuracy"] if a["oracle"] == oracle)


@pytest.mark.lava
def test_pipeline_report_and_artifacts(tmp_path: Path) -> None:
    cfg = PipelineConfig(
        epochs=3, hidden=(32,), num_steps=12, max_test=40, out_dir=tmp_path, progress=False
    )
    result = run_pipeline(cfg)
    assert set(result.timings) == {"train", "quantize", "export", "verify"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(result.report.to_json())
    assert report["schema"] == "lavabridge.verify-report" and report["status"] == "identical"
    assert report["samples"] == 40 and report["model"]["name"] == "digits-snn"
    assert report["golden_lava"]["samples"] == 40 and report["golden_lava"]["states_samples"] == 40
    assert _accuracy(report, "lava") == _accuracy(report, "golden")
    assert _accuracy(report, "float") > 0.5  # 3 epochs already learn something
    assert all(a["agreement"] > 0.9 for a in report["float_quant"])
    stages = json.loads((tmp_path / "stages.json").read_text())
    assert set(stages["timings_s"]) == set(result.timings)
    for name in ("model.pt", "model.lbir", "model.lbq", "raster.png", "report.md", "traces.png",
                 "quant_report.json", "train.json"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    assert load_config(tmp_path).hidden == (32,)


def test_cli_stages_on_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = str(tmp_path / "run")
    args = ["--epochs", "2", "--hidden", "16", "--steps", "8", "--max-test", "20", "--out", run]
    assert main(["train", *args]) == 0
    assert main(["quantize", run]) == 0
    assert "weight_exp" in capsys.readouterr().out
    assert main(["export", run]) == 0
    assert main(["verify", run, "--no-lava"]) == 0
    report = json.loads((tmp_path / "run" / "verify" / "report.json").read_text())
    assert report["samples"] == 20 and report["status"] == "lava-not-run"
    assert report["schema"] == "lavabridge.verify-report"  # the schema of demo and verify MODEL
    assert main(["quantize", str(tmp_path / "missing")]) == 2
    assert "pipeline.json" in capsys.readouterr().err


@pytest.mark.lava
def test_pipeline_with_direct_current_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--encoding current: a bias-driven input layer, quantized with its InputEncoding, on Lava."""
    cfg = PipelineConfig(
        epochs=3, hidden=(24,), num_steps=10, max_test=30, encoding="current", input_gain=1.5,
        out_dir=tmp_path, progress=False,
    )  # fmt: skip
    result = run_pipeline(cfg)
    report = json.loads((tmp_path / "report.json").read_text())
    sizes = [report["model"]["n_in"], *(layer["size"] for layer in report["model"]["layers"])]
    assert sizes == [64, 64, 24, 10]  # 64 input neurons driven by their bias
    assert report["model"]["input_kind"] == "bias" and report["status"] == "identical"
    assert result.quantization.input_encoding is not None
    assert result.quantization.input_encoding.gain == 1.5
    assert load_qgraph(tmp_path / "model.lbq").input_encoding == result.quantization.input_encoding
    assert _accuracy(report, "float") > 0.5  # the float reference ran on the graded input
    assert main(["verify", str(tmp_path), "--spikes-only"]) == 0
    verify = json.loads((tmp_path / "verify" / "report.json").read_text())
    assert verify["status"] == "identical"


@pytest.mark.lava
def test_netx_compatible_run_exports_a_net_that_lava_dl_runs_identically(tmp_path: Path) -> None:
    from lavabridge.backends.golden import emulate
    from lavabridge.backends.netx_lava import run_netx

    cfg = PipelineConfig(
        epochs=2, hidden=(24,), num_steps=10, max_test=8, netx_compatible=True, lava=False,
        out_dir=tmp_path, progress=False,
    )  # fmt: skip
    result = run_pipeline(cfg)
    assert result.artifacts["netx"] == str(tmp_path / "model.net")
    assert all(layer.weight_exp == 0 for layer in result.quantization.layers)
    assert result.report.status == "lava-not-run"
    x, _ = encoded_test_split(load_dataset("digits"), cfg)
    golden = emulate(load_qgraph(tmp_path / "model.lbq"), x, probe_uv=True)
    netx = run_netx(tmp_path / "model.net", x, probe_uv=True)
    assert sum(golden.spike_counts()) > 0
    assert golden.first_mismatch(netx) is None
