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
from lavabridge.golden import emulate
from lavabridge.ir import Graph
from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet, predict_by_count, rate_encode, trace
from lavabridge.nn.train import TrainConfig, TrainResult, default_encoder, fit
from lavabridge.quant.ptq import QuantPolicy, QuantReport, quantize
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.reference import interpret

TEST_SEED_OFFSET = 1_000_003
CALIB_SEED_OFFSET = 2_000_003


@dataclass
class PipelineConfig:
    """Everything :func:`run_pipeline` needs; the defaults are the ``make demo`` run."""

    dataset: str = "digits"
    data_dir: str | None = None
    hidden: tuple[int, ...] = (128,)
    num_steps: int = 16
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    current_decay: float = 1.0
    voltage_decay: float = 0.1
    threshold: float = 1.0
    seed: int = 0
    calib_samples: int = 256
    max_test: int | None = None
    lava: bool = True
    lava_chunk: int = 64
    device: str = "auto"
    out_dir: Path = field(default_factory=lambda: Path("runs/demo"))
    progress: bool = True


def build_model(n_in: int, n_out: int, cfg: PipelineConfig) -> SpikingNet:
    """``n_in -> hidden... -> n_out`` CUBA-LIF network with neuron biases and no Dense biases."""
    torch.manual_seed(cfg.seed)
    sizes = [*cfg.hidden, n_out]
    layers = []
    prev = n_in
    for n in sizes:
        neuron = CubaLIF(
            n,
            current_decay=cfg.current_decay,
            voltage_decay=cfg.voltage_decay,
            threshold=cfg.threshold,
        )
        layers.append(SpikingLayer(neuron, nn.Linear(prev, n, bias=False)))
        prev = n
    return SpikingNet(*layers)


def test_spikes(
    ds: Dataset, cfg: PipelineConfig
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The fixed, seeded test input every oracle sees (optionally the first ``max_test`` samples)."""
    n = len(ds.y_test) if cfg.max_test is None else min(cfg.max_test, len(ds.y_test))
    return rate_encode(ds.x_test[:n], cfg.num_steps, cfg.seed + TEST_SEED_OFFSET), ds.y_test[:n]


def train_model(cfg: PipelineConfig, ds: Dataset) -> tuple[SpikingNet, TrainResult]:
    """Build and train the model on ``ds`` (rate-coded, fresh spikes every epoch)."""
    net = build_model(ds.num_features, ds.num_classes, cfg)
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=cfg.device,
        checkpoint=cfg.out_dir / "checkpoint.pt",
        progress=cfg.progress,
    )
    result = fit(net, ds.x_train, ds.y_train, default_encoder(cfg.num_steps), tcfg)
    return net.cpu(), result


def quantize_model(
    net: SpikingNet, ds: Dataset, cfg: PipelineConfig
) -> tuple[Graph, QGraph, QuantReport]:
    """Trace to the float IR and quantize, calibrating on training samples."""
    graph = trace(net, name=f"{cfg.dataset}-snn")
    calib = rate_encode(
        ds.x_train[: cfg.calib_samples], cfg.num_steps, cfg.seed + CALIB_SEED_OFFSET
    )
    qgraph, report = quantize(graph, calib, policy=QuantPolicy())
    return graph, qgraph, report


def spike_agreement(a: Recording, b: Recording) -> list[float]:
    """Per layer: fraction of (sample, step, neuron) entries where both emit the same spike bit."""
    return [float(np.mean(x == y)) for x, y in zip(a.spikes, b.spikes, strict=True)]


def accuracy(rec: Recording, labels: npt.NDArray[np.int64]) -> float:
    """Classification accuracy by output spike count (ties: earliest first spike)."""
    return float(np.mean(predict_by_count(rec.spikes[-1]) == labels))


def _artifacts(net: SpikingNet, graph: Graph, qgraph: QGraph, out: Path) -> dict[str, str]:
    from lavabridge import ir
    from lavabridge.errors import UnsupportedError
    from lavabridge.quant.serialize import save_qgraph

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "float_model": out / "model.pt",
        "float_ir": out / "model.lbir",
        "qgraph": out / "model.lbq",
    }
    torch.save(net.state_dict(), paths["float_model"])
    ir.save(graph, paths["float_ir"])
    save_qgraph(qgraph, paths["qgraph"])
    result = {k: str(v) for k, v in paths.items()}
    try:
        from lavabridge.exporters.netx import write_netx

        write_netx(qgraph, out / "model.net")
        result["netx"] = str(out / "model.net")
    except UnsupportedError as exc:
        result["netx"] = f"not written: {exc}"
    return result


def run_pipeline(cfg: PipelineConfig) -> dict[str, Any]:
    """Train -> quantize -> export -> run float / golden / Lava on the test split -> compare.

    Returns the report (also written to ``out_dir/report.json``).
    """
    from lavabridge.exporters.lava_session import LavaSession
    from lavabridge.plots import raster_comparison

    timings: dict[str, float] = {}
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(cfg.dataset, cfg.data_dir)

    t0 = time.perf_counter()
    net, trained = train_model(cfg, ds)
    timings["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    graph, qgraph, qreport = quantize_model(net, ds, cfg)
    timings["quantize"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    artifacts = _artifacts(net, graph, qgraph, out)
    timings["export"] = time.perf_counter() - t0

    x, y = test_spikes(ds, cfg)
    t0 = time.perf_counter()
    float_rec = interpret(graph, x)
    timings["float"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    golden = emulate(qgraph, x)
    timings["golden"] = time.perf_counter() - t0

    report: dict[str, Any] = {
        "dataset": ds.name,
        "n_train": len(ds.y_train),
        "n_test": len(y),
        "num_steps": cfg.num_steps,
        "architecture": [ds.num_features, *qgraph.sizes],
        "float_accuracy": accuracy(float_rec, y),
        "golden_accuracy": accuracy(golden, y),
        "float_golden_spike_agreement": spike_agreement(float_rec, golden),
        "train": {"epochs": cfg.epochs, "final_loss": trained.losses[-1], "device": trained.device},
        "quantization": qreport.to_dict(),
        "artifacts": artifacts,
    }
    recordings = {"float": float_rec, "golden": golden}
    if cfg.lava:
        t0 = time.perf_counter()
        with LavaSession(
            qgraph, cfg.num_steps, chunk=cfg.lava_chunk, progress=cfg.progress
        ) as session:
            lava = session.run(x)
        timings["lava"] = time.perf_counter() - t0
        mismatch = golden.first_mismatch(lava)
        report["lava_accuracy"] = accuracy(lava, y)
        report["lava_golden_bit_exact"] = mismatch is None
        report["lava_golden_first_mismatch"] = None if mismatch is None else asdict(mismatch)
        report["lava_timings_s"] = lava.timings
        recordings["lava"] = lava
    report["timings_s"] = timings
    report["raster_png"] = str(
        raster_comparison(
            {k: recordings[k] for k in ("float", "lava" if cfg.lava else "golden")},
            out / "raster.png",
            sample=0,
            input_spikes=x,
            title=f"{ds.name}: sample 0, label {int(y[0])}",
        )
    )
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
