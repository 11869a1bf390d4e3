"""``lavabridge import`` and the stages on an import run: real snnTorch / SpikingJelly models,
real Lava, the framework's own spikes compared with the float reference shifted by the latency.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.cli import main
from lavabridge.coding import predict_by_count
from lavabridge.pipeline.imported import import_model, quantize_import, verify_import
from lavabridge.recording import Recording

MODELS = textwrap.dedent(
    """
    import snntorch as snn
    import torch
    from spikingjelly.activation_based import functional, layer, neuron
    from torch import nn


    class Loop(nn.Module):  # snnTorch tutorial style: forward loops over time, explicit mem
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.fc1 = nn.Linear(6, 10)
            self.lif1 = snn.Leaky(beta=0.85)
            self.fc2 = nn.Linear(10, 4)
            self.lif2 = snn.Synaptic(alpha=0.6, beta=0.8, reset_mechanism="zero")
            with torch.no_grad():
                self.fc1.weight.mul_(3.0)
                self.fc2.weight.mul_(3.0)
                self.fc2.bias.zero_()

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            syn2, mem2 = self.lif2.init_synaptic()
            out = []
            for t in range(x.shape[0]):
                spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
                spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
                out.append(spk2)
            return torch.stack(out)


    def snntorch_loop():
        return Loop()


    def spikingjelly_conv():
        torch.manual_seed(2)
        net = nn.Sequential(
            layer.Conv2d(1, 4, 3, stride=2), layer.BatchNorm2d(4), neuron.IFNode(),
            layer.Flatten(), layer.Linear(4 * 3 * 3, 5),
            neuron.LIFNode(tau=2.0, v_reset=None, decay_input=False),
        )
        with torch.no_grad():
            net[0].weight.mul_(2.0)
            net[1].running_mean.uniform_(-0.2, 0.2)
            net[1].running_var.uniform_(0.5, 2.0)
        functional.set_step_mode(net, "m")
        return net.eval()


    def maxpool():
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2),
                             snn.Leaky(beta=0.9, init_hidden=True))
    """
)


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return path


def _spikes(shape: tuple[int, ...], path: Path, seed: int = 0) -> Path:
    np.save(path, (np.random.default_rng(seed).random(shape) < 0.5).astype(np.float32))
    return path


@pytest.mark.lava
@pytest.mark.parametrize(
    ("func", "framework", "shape"),
    [
        ("snntorch_loop", "snntorch", (16, 3, 6)),
        ("spikingjelly_conv", "spikingjelly", (16, 3, 1, 7, 7)),
    ],
)
def test_import_quantize_export_verify_on_lava(
    models: Path, tmp_path: Path, func: str, framework: str, shape: tuple[int, ...],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    run = tmp_path / "run"
    x = _spikes(shape, tmp_path / "x.npy")
    assert main(["import", f"{models}:{func}", "--from", framework, "--example", str(x),
                 "--out", str(run)]) == 0  # fmt: skip
    doc = json.loads((run / "import.json").read_text())
    assert doc["source_check"]["identical"] and doc["latencies"] == [1, 2]
    assert all(ly["steps"] == shape[0] for ly in doc["source_check"]["layers"])  # every step
    calib = _spikes(shape, tmp_path / "calib.npy", seed=5)
    assert main(["quantize", str(run), "--calibration", str(calib)]) == 0
    qdoc = json.loads((run / "quant_report.json").read_text())
    assert all(0.9 <= ly["spike_agreement"] <= 1.0 for ly in qdoc["layers"])
    assert main(["export", str(run)]) == 0
    assert main(["verify", str(run), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert f"{framework} vs float reference (shifted by each layer's latency): identical" in out
    report = json.loads((run / "verify" / "report.json").read_text())
    assert report["passed"] and report["source"]["identical"]
    assert report["source"]["framework"] == framework
    # the float reference of the import, from the CLI
    rec_path = tmp_path / "float.npz"
    assert main(["run", str(run / "model.lbir"), "--backend", "float", "--input",
                 str(run / "input.npy"), "--out", str(rec_path)]) == 0  # fmt: skip
    rec = Recording.from_npz(rec_path)
    ref = ir.interpret(ir.load(run / "model.lbir"), np.load(run / "input.npy"))
    assert all(np.array_equal(a, b) for a, b in zip(rec.spikes, ref.spikes, strict=True))


def test_refusals_name_the_problem(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = _spikes((8, 2, 1, 6, 6), tmp_path / "x.npy")
    out = str(tmp_path / "run")
    assert main(["import", f"{models}:maxpool", "--from", "snntorch", "--example", str(x),
                 "--out", out]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "1 (MaxPool2d)" in err and "AvgPool2d" in err
    graded = tmp_path / "graded.npy"
    np.save(graded, np.full((8, 2, 6), 0.5, np.float32))
    assert main(["import", f"{models}:snntorch_loop", "--from", "snntorch", "--example",
                 str(graded), "--out", out]) == 2  # fmt: skip
    assert "binary spikes" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.pt"), "--from", "snntorch", "--example",
                 str(x), "--out", out]) == 2  # fmt: skip
    assert "no such file" in capsys.readouterr().err
    assert main(["import", f"{models}:nothing", "--from", "snntorch", "--example", str(x),
                 "--out", out]) == 2  # fmt: skip
    assert "cannot call nothing()" in capsys.readouterr().err
    assert not Path(out).exists()  # nothing half-written


def test_labels_give_the_frameworks_accuracy_to_the_float_reference(
    models: Path, tmp_path: Path
) -> None:
    """With every source step covered, the float reference's output spikes are the framework's
    shifted: the same predictions (most spikes, ties to the earliest first spike), hence the
    same accuracy."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("models", models)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.snntorch_loop()
    x = (np.random.default_rng(3).random((20, 12, 6)) < 0.5).astype(np.float32)
    with torch.no_grad():
        out = net(torch.as_tensor(x)).numpy().transpose(1, 0, 2)  # [B, T, 4]
    labels = np.random.default_rng(4).integers(0, 4, 12)
    run = tmp_path / "run"
    import_model(net, "snntorch", x, run, labels=labels)
    quantize_import(run)
    report = verify_import(run, lava=False, progress=False)
    framework = float((predict_by_count(out) == labels).mean())
    float_acc = next(a.accuracy for a in report.accuracy if a.oracle == "float")
    assert report.source is not None and report.source.identical
    assert float_acc == framework


def test_assert_matches_source_guards_an_import() -> None:
    import snntorch as snn
    import torch
    from torch import nn

    from lavabridge.importers.snntorch import from_snntorch
    from lavabridge.testing import VerificationError, assert_matches_source

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), snn.Leaky(beta=0.9, init_hidden=True))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    x = (np.random.default_rng(1).random((15, 4, 5)) < 0.5).astype(np.float32)
    assert assert_matches_source(net, x, "snntorch").identical
    g = from_snntorch(net, torch.as_tensor(x))
    layer = g.layer_chain()[0].name
    nodes = {k: (n.with_(threshold=0.5 * n.threshold) if k == layer else n)  # type: ignore[attr-defined]
             for k, n in g.nodes.items()}  # fmt: skip
    wrong = ir.Graph(nodes, g.edges, g.name)
    with pytest.raises(VerificationError, match=rf"layer '{layer}' \(latency 1\) differs"):
        assert_matches_source(net, x, "snntorch", graph=wrong)
