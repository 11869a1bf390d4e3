"""The NIR commands end to end on real packages and real Lava: ``lavabridge info MODEL.nir --dt``,
``import MODEL.nir --from nir --dt DT [--reset]``, then ``quantize`` / ``export`` / ``verify``,
``export --to nir``; and their refusals (one line, exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir
from torch import nn

from lavabridge import ir
from lavabridge.cli import main
from lavabridge.importers.nir import read_nir


@pytest.fixture(scope="module")
def nir_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """snnTorch's export of a 12-16-5 Leaky(subtract) network with a hidden Synaptic (CubaLIF)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(12, 16, bias=False),
        snn.Synaptic(alpha=torch.full((16,), 0.5), beta=torch.full((16,), 0.8),
                     threshold=torch.ones(16), init_hidden=True),
        nn.Linear(16, 5),
        snn.Leaky(beta=torch.full((5,), 0.9), threshold=torch.ones(5), init_hidden=True),
    )  # fmt: skip
    with torch.no_grad():
        model[0].weight.mul_(6.0)
        model[2].weight.mul_(4.0)
    path = tmp_path_factory.mktemp("nir") / "net.nir"
    nir.write(path, export_to_nir(model, torch.zeros(12)))
    return path


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("x") / "x.npy"
    np.save(path, (np.random.default_rng(3).random((20, 3, 12)) < 0.4).astype(np.uint8))
    return path


def test_info(nir_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(nir_file), "--dt", "1e-4", "--reset", "subtract"]) == 0
    out = capsys.readouterr().out
    assert "NIR graph, 6 nodes" in out and "read with dt 0.0001 s, euler" in out
    assert "layer 0 '1': 16 neurons, current_decay 0.5" in out and "reset subtract" in out
    assert "CPU simulator only" in out


@pytest.mark.lava
def test_import_quantize_export_verify(nir_file: Path, example: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The whole chain on a NIR file: the NIR graph's own run equals the float reference on the
    example, golden equals Lava, and the export as NIR reads back as the imported graph."""
    run = tmp_path / "run"
    assert main(["import", str(nir_file), "--from", "nir", "--dt", "1e-4", "--reset", "subtract",
                 "--example", str(example), "--out", str(run)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "reset subtract (same step)" in out and "identical spikes" in out
    doc = json.loads((run / "import.json").read_text())
    assert (doc["framework"], doc["dt"], doc["reset"], doc["latencies"]) == (
        "nir",
        1e-4,
        "subtract",
        [1, 2],
    )
    assert doc["source_check"]["identical"]
    assert main(["quantize", str(run)]) == 0
    assert main(["export", str(run), "--to", "nir"]) == 0
    assert capsys.readouterr().out.strip().endswith("model.nir")
    assert read_nir(run / "model.nir", 1e-4) == ir.load(run / "model.lbir")
    assert main(["export", str(run), "--to", "nir", "--quantized"]) == 0
    assert nir.read(run / "model.quantized.nir").metadata["lavabridge.reset"] == "subtract"
    assert main(["verify", str(run), "--no-plots"]) == 0
    report = json.loads((run / "verify" / "report.json").read_text())
    assert report["golden_lava"]["identical"] and report["source"]["identical"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "{nir}", "--from", "nir", "--example", "{x}", "--out", "{tmp}/r"], "--from nir needs --dt"),
        (["import", "{nir}", "--from", "snntorch", "--dt", "1e-3", "--example", "{x}", "--out", "{tmp}/r"],
         "only for --from nir"),
        (["info", "{nir}"], "--dt is required"),
        (["import", "{nir}", "--from", "nir", "--dt", "-1", "--example", "{x}", "--out", "{tmp}/r"],
         "expected a positive finite number"),
        (["import", "{nir}", "--from", "nir", "--dt", "1e-3", "--example", "{x}", "--out", "{tmp}/r"],
         r"node '1' \(CubaLIF\): tau_syn gives the step factor"),
        (["run", "{nir}", "--input", "{x}", "--out", "{tmp}/r.npz"], "a NIR graph; import it first"),
    ],
)  # fmt: skip
def test_refusals(argv: list[str], message: str, nir_file: Path, example: Path, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    args = [a.format(nir=nir_file, x=example, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
