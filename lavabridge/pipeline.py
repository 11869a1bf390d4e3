"""The main job: train an SNN, quantize it, deploy it on Lava, and compare the three oracles.

:func:`run_pipeline` does it end to end and writes a report (``report.json``), the artifacts of
every stage and a raster plot into ``out_dir``; each stage is also a function of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from lavabridge.data import Dataset, load_dataset
from lavabridge.errors import ModelFileError, ValidationError
from lavabridge.golden import emulate
from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet, predict_by_count, rate_encode, trace
from lavabridge.nn.train import TrainConfig, TrainResult, default_encoder, fit, identity_encoder
from lavabridge.quant.ptq import InputEncoding, QuantPolicy, QuantReport, quantize
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.reference import interpret

TEST_SEED_OFFSET = 1_000_003
CALIB_SEED_OFFSET = 2_000_003
ENCODINGS = ("rate", "current")


@dataclass
class PipelineConfig:
    """Everything :func:`run_pipeline` needs; the defaults are the ``make demo`` run."""

    dataset: str = "digits"
    data_dir: str | None = None
    hidden: tuple[int, ...] = (256,)
    num_steps: int = 24
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    current_decay: float = 1.0
    voltage_decay: float = 0.1
    threshold: float = 1.0
    seed: int = 0
    encoding: str = "rate"  # "rate" (Bernoulli spikes) or "current" (bias-driven input layer)
    input_gain: float = 1.0
    qat: bool = False
    netx_compatible: bool = False  # quantize with weight_exp = 0 so the model exports to netx
    calib_samples: int = 256
    max_test: int | None = None
    lava: bool = True
    lava_samples: int | None = None  # run Lava on the first N evaluated samples (None: all)
    lava_chunk: int = 64
    device: str = "auto"
    out_dir: Path = field(default_factory=lambda: Path("runs/demo"))
    progress: bool = True


def build_model(n_in: int, n_out: int, cfg: PipelineConfig) -> SpikingNet:
    """``n_in -> hidden... -> n_out`` CUBA-LIF network with neuron biases and no Dense biases.

    With ``encoding="current"`` a bias-driven input layer of ``n_in`` neurons comes first: the
    graded input times ``input_gain`` is added to its v every step (direct current input).
    """
    if cfg.encoding not in ENCODINGS:
        raise ValidationError("PipelineConfig", "encoding", f"{cfg.encoding!r} not in {ENCODINGS}")
    torch.manual_seed(cfg.seed)

    def neuron(n: int) -> CubaLIF:
        return CubaLIF(
            n,
            current_decay=cfg.current_decay,
            voltage_decay=cfg.voltage_decay,
            threshold=cfg.threshold,
        )

    layers = []
    if cfg.encoding == "current":
        layers.append(SpikingLayer(neuron(n_in), None, input_gain=cfg.input_gain))
    prev = n_in
    for n in [*cfg.hidden, n_out]:
        layers.append(SpikingLayer(neuron(n), nn.Linear(prev, n, bias=False)))
        prev = n
    return SpikingNet(*layers)


def encoded_test_split(
    ds: Dataset, cfg: PipelineConfig
) -> tuple[np.ndarray, npt.NDArray[np.int64]]:
    """The fixed test input of the float reference: seeded spikes ``[B, T, n]`` (rate coding), or
    the graded values ``[B, n]`` (current coding; :func:`deployed_input` turns them into the bias
    mantissas the golden emulator and Lava take). Optionally only the first ``max_test`` samples."""
    n = len(ds.y_test) if cfg.max_test is None else min(cfg.max_test, len(ds.y_test))
    if cfg.encoding == "current":
        return ds.x_test[:n], ds.y_test[:n]
    return rate_encode(ds.x_test[:n], cfg.num_steps, cfg.seed + TEST_SEED_OFFSET), ds.y_test[:n]


def calibration_input(ds: Dataset, cfg: PipelineConfig) -> np.ndarray:
    """Training samples the quantizer calibrates on, encoded as the model takes them."""
    x = ds.x_train[: cfg.calib_samples]
    if cfg.encoding == "current":
        return x
    return rate_encode(x, cfg.num_steps, cfg.seed + CALIB_SEED_OFFSET)


def deployed_input(run_dir: str | Path, cfg: PipelineConfig, x: np.ndarray) -> np.ndarray:
    """What the golden emulator and Lava take for the float input ``x`` of this run."""
    if cfg.encoding != "current":
        return x
    data = json.loads((Path(run_dir) / "quant_report.json").read_text())["input_encoding"]
    return InputEncoding(data["scale"], data["bias_exp"], data["gain"], tuple(data["bias"])).encode(
        x
    )


def train_model(cfg: PipelineConfig, ds: Dataset) -> tuple[SpikingNet, TrainResult]:
    """Build and train the model on ``ds`` (rate-coded, fresh spikes every epoch)."""
    net = build_model(ds.num_features, ds.num_classes, cfg)
    if cfg.qat:
        from lavabridge.quant.qat import enable_qat

        enable_qat(net)
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=cfg.device,
        checkpoint=cfg.out_dir / "checkpoint.pt",
        progress=cfg.progress,
        num_steps=cfg.num_steps,
    )
    encoder = identity_encoder if cfg.encoding == "current" else default_encoder(cfg.num_steps)
    result = fit(net, ds.x_train, ds.y_train, encoder, tcfg)
    return net.cpu(), result


def spike_agreement(a: Recording, b: Recording) -> list[float]:
    """Per layer: fraction of (sample, step, neuron) entries where both emit the same spike bit."""
    return [float(np.mean(x == y)) for x, y in zip(a.spikes, b.spikes, strict=True)]


def accuracy(rec: Recording, labels: npt.NDArray[np.int64]) -> float:
    """Classification accuracy by output spike count (ties: earliest first spike)."""
    return float(np.mean(predict_by_count(rec.spikes[-1]) == labels))


CONFIG_FILE = "pipeline.json"


def save_config(cfg: PipelineConfig, out: Path) -> Path:
    """Write the run's configuration next to its artifacts (the later stages read it)."""
    out.mkdir(parents=True, exist_ok=True)
    data = asdict(cfg)
    data["out_dir"] = str(cfg.out_dir)
    data["hidden"] = list(cfg.hidden)
    (out / CONFIG_FILE).write_text(json.dumps(data, indent=2))
    return out / CONFIG_FILE


def load_config(run_dir: str | Path) -> PipelineConfig:
    """The configuration a ``train`` stage wrote into ``run_dir``."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
        data["out_dir"] = Path(run_dir)
        data["hidden"] = tuple(data["hidden"])
        return PipelineConfig(**data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a lavabridge run configuration ({exc})") from exc


def stage_train(cfg: PipelineConfig) -> dict[str, Any]:
    """Train; write ``model.pt`` (torch state), ``model.lbir`` (float IR) and ``pipeline.json``."""
    from lavabridge import ir

    out = Path(cfg.out_dir)
    save_config(cfg, out)
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    t0 = time.perf_counter()
    net, trained = train_model(cfg, ds)
    torch.save(net.state_dict(), out / "model.pt")
    graph = trace(net, name=f"{cfg.dataset}-snn")
    ir.save(graph, out / "model.lbir")
    return {
        "seconds": time.perf_counter() - t0,
        "epochs": cfg.epochs,
        "final_loss": trained.losses[-1],
        "train_accuracy": trained.train_accuracy[-1],
        "device": trained.device,
        "float_ir": str(out / "model.lbir"),
    }


def stage_quantize(run_dir: str | Path) -> tuple[QGraph, QuantReport]:
    """Quantize ``model.lbir``; write ``model.lbq`` and ``quant_report.json``."""
    from lavabridge import ir
    from lavabridge.quant.serialize import save_qgraph

    cfg = load_config(run_dir)
    out = Path(run_dir)
    graph = ir.load(out / "model.lbir")
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    calib = calibration_input(ds, cfg)
    policy = QuantPolicy.netx() if cfg.netx_compatible else QuantPolicy()
    qgraph, report = quantize(graph, calib, num_steps=cfg.num_steps, policy=policy)
    save_qgraph(qgraph, out / "model.lbq")
    (out / "quant_report.json").write_text(json.dumps(report.to_dict(), indent=2))
    return qgraph, report


def stage_export(run_dir: str | Path) -> dict[str, str]:
    """Write the quantized model as a lava-dl netx file (``model.net``) where netx can express it."""
    from lavabridge.errors import UnsupportedError
    from lavabridge.exporters.netx import write_netx
    from lavabridge.quant.serialize import load_qgraph

    out = Path(run_dir)
    qgraph = load_qgraph(out / "model.lbq")
    try:
        write_netx(qgraph, out / "model.net")
    except UnsupportedError as exc:
        return {"netx": f"not written: {exc}"}
    return {"netx": str(out / "model.net")}


def stage_verify(run_dir: str | Path, *, lava: bool = True) -> dict[str, Any]:
    """Run float / golden / Lava on the test split; write ``report.json`` and ``raster.png``."""
    from lavabridge import ir
    from lavabridge.exporters.lava_session import LavaSession
    from lavabridge.plots import raster_comparison
    from lavabridge.quant.serialize import load_qgraph

    cfg = load_config(run_dir)
    out = Path(run_dir)
    graph = ir.load(out / "model.lbir")
    qgraph = load_qgraph(out / "model.lbq")
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    x, y = encoded_test_split(ds, cfg)
    xq = deployed_input(out, cfg, x)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    float_rec = interpret(graph, x, num_steps=cfg.num_steps)
    timings["float"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    golden = emulate(qgraph, xq, num_steps=cfg.num_steps)
    timings["golden"] = time.perf_counter() - t0
    report: dict[str, Any] = {
        "dataset": ds.name,
        "n_test": len(y),
        "num_steps": cfg.num_steps,
        "architecture": [qgraph.n_in, *qgraph.sizes],
        "float_accuracy": accuracy(float_rec, y),
        "golden_accuracy": accuracy(golden, y),
        "float_golden_spike_agreement": spike_agreement(float_rec, golden),
    }
    recordings = {"float": float_rec, "golden": golden}
    if lava:
        n = len(y) if cfg.lava_samples is None else min(cfg.lava_samples, len(y))
        t0 = time.perf_counter()
        with LavaSession(qgraph, cfg.num_steps, chunk=cfg.lava_chunk, progress=cfg.progress) as s:
            lava_rec = s.run(xq[:n])
        timings["lava"] = time.perf_counter() - t0
        golden_n = golden.select(slice(0, n))
        mismatch = golden_n.first_mismatch(lava_rec)
        report["lava_samples"] = n
        report["lava_accuracy"] = accuracy(lava_rec, y[:n])
        report["lava_golden_bit_exact"] = mismatch is None
        report["lava_golden_first_mismatch"] = None if mismatch is None else asdict(mismatch)
        report["lava_timings_s"] = lava_rec.timings
        if n < len(y):  # accuracies of the other oracles on the same samples, for a fair delta
            report["float_accuracy_lava_samples"] = accuracy(float_rec.select(slice(0, n)), y[:n])
            report["golden_accuracy_lava_samples"] = accuracy(golden_n, y[:n])
        recordings["lava"] = lava_rec
    report["timings_s"] = timings
    shown = {k: recordings[k] for k in ("float", "lava" if lava else "golden")}
    report["raster_png"] = str(
        raster_comparison(
            shown, out / "raster.png", sample=0, input_spikes=x if x.ndim == 3 else None,
            title=f"{ds.name}: test sample 0 (label {int(y[0])}), float vs deployed",
        )
    )  # fmt: skip
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def run_pipeline(cfg: PipelineConfig) -> dict[str, Any]:
    """All stages: train -> quantize -> export -> verify. Returns (and writes) ``report.json``.

    ``report["timings_s"]`` holds ``train``, ``quantize``, ``export``, ``float``, ``golden`` and
    ``lava`` wall-clock seconds.
    """
    out = Path(cfg.out_dir)
    t0 = time.perf_counter()
    train_info = stage_train(cfg)
    t1 = time.perf_counter()
    _, qreport = stage_quantize(out)
    t2 = time.perf_counter()
    artifacts = stage_export(out)
    t3 = time.perf_counter()
    report = stage_verify(out, lava=cfg.lava)
    report["train"] = train_info
    report["quantization"] = qreport.to_dict()
    report["artifacts"] = {
        "float_model": str(out / "model.pt"),
        "float_ir": str(out / "model.lbir"),
        "qgraph": str(out / "model.lbq"),
        **artifacts,
    }
    report["timings_s"] = {
        "train": t1 - t0,
        "quantize": t2 - t1,
        "export": t3 - t2,
        **report["timings_s"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
