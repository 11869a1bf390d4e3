"""The main job end to end (shortened): train -> quantize -> export -> verify, and its CLI stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lavabridge.cli import main
from lavabridge.data import load_dataset
from lavabridge.pipeline import PipelineConfig, encoded_test_split, load_config, run_pipeline

REPORT_KEYS = {
    "dataset",
    "n_test",
    "float_accuracy",
    "golden_accuracy",
    "lava_accuracy",
    "lava_golden_bit_exact",
    "float_golden_spike_agreement",
    "timings_s",
}


@pytest.mark.lava
def test_pipeline_report_and_artifacts(tmp_path: Path) -> None:
    cfg = PipelineConfig(
        epochs=3, hidden=(32,), num_steps=12, max_test=40, out_dir=tmp_path, progress=False
    )
    report = run_pipeline(cfg)
    assert set(report) >= REPORT_KEYS
    assert set(report["timings_s"]) >= {"train", "quantize", "export", "golden", "lava"}
    assert report["n_test"] == 40 and report["dataset"] == "digits"
    assert report["lava_golden_bit_exact"] is True
    assert report["lava_accuracy"] == report["golden_accuracy"]
    assert report["float_accuracy"] > 0.5  # 3 epochs already learn something
    assert all(a > 0.9 for a in report["float_golden_spike_agreement"])
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["lava_golden_bit_exact"] is True
    for name in ("model.pt", "model.lbir", "model.lbq", "raster.png", "quant_report.json"):
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
    report = run_pipeline(cfg)
    assert report["architecture"] == [64, 64, 24, 10]  # 64 input neurons driven by their bias
    assert report["lava_golden_bit_exact"] is True
    assert report["quantization"]["input_encoding"]["gain"] == 1.5
    assert report["float_accuracy"] > 0.5
    assert main(["verify", str(tmp_path), "--spikes-only"]) == 0
    verify = json.loads((tmp_path / "verify" / "report.json").read_text())
    assert verify["status"] == "identical"


@pytest.mark.lava
def test_netx_compatible_run_exports_a_net_that_lava_dl_runs_identically(tmp_path: Path) -> None:
    from lavabridge.backends.golden import emulate
    from lavabridge.backends.netx_lava import run_netx
    from lavabridge.quant.serialize import load_qgraph

    cfg = PipelineConfig(
        epochs=2, hidden=(24,), num_steps=10, max_test=8, netx_compatible=True, lava=False,
        out_dir=tmp_path, progress=False,
    )  # fmt: skip
    report = run_pipeline(cfg)
    assert report["artifacts"]["netx"] == str(tmp_path / "model.net")
    assert all(layer["weight_exp"] == 0 for layer in report["quantization"]["layers"])
    x, _ = encoded_test_split(load_dataset("digits"), cfg)
    golden = emulate(load_qgraph(tmp_path / "model.lbq"), x, probe_uv=True)
    netx = run_netx(tmp_path / "model.net", x, probe_uv=True)
    assert sum(golden.spike_counts()) > 0
    assert golden.first_mismatch(netx) is None
