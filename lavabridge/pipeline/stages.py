"""The main job: train an SNN, quantize it, deploy it on Lava, and compare the three oracles.

:func:`run_pipeline` does it end to end; each stage is also a function of its own, working on one
run directory::

    pipeline.json       the configuration (stage_train writes it, the later stages read it)
    model.pt, model.lbir, train.json          stage_train: torch state, float IR, training summary
    model.lbq, quant_report.json              stage_quantize: QGraph (with its input encoding)
    model.net                                 stage_export: lava-dl netx, where netx can express it
    report.json, report.md, *.png             stage_verify: the VerifyReport (lavabridge.verify)
    stages.json                               run_pipeline: stage timings and artifact paths

The verify stage is :func:`lavabridge.verify.verify` on the encoded test split: its
``report.json`` has the one VerifyReport schema (``"schema": "lavabridge.verify-report"``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from lavabridge import ir
from lavabridge.atomic import StageFiles, write_text
from lavabridge.coding import rate_encode
from lavabridge.data import Dataset, load_dataset
from lavabridge.errors import InputError, ModelFileError, UnsupportedError, ValidationError
from lavabridge.exporters.netx import write_netx
from lavabridge.nn import AvgPool2d, Conv2d, CubaLIF, SpikingLayer, SpikingNet, trace
from lavabridge.nn.qat import enable_qat
from lavabridge.nn.train import TrainConfig, TrainResult, default_encoder, fit, identity_encoder
from lavabridge.pipeline.config import (
    ARCHS,
    CONFIG_FILE,
    ENCODINGS,
    PipelineConfig,
    config_json,
    load_config,
    training_settings,
)
from lavabridge.pipeline.imported import is_import_run, quantize_import, verify_import
from lavabridge.quant.ptq import quantize
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.report import QuantPolicy, QuantReport
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.verify import VerifyReport, verify, write_report

TEST_SEED_OFFSET = 1_000_003
CALIB_SEED_OFFSET = 2_000_003


def build_model(
    n_in: int, n_out: int, cfg: PipelineConfig, image_shape: tuple[int, int] | None = None
) -> SpikingNet:
    """The pipeline's CUBA-LIF network, with neuron biases and no synapse biases.

    ``arch="dense"``: ``n_in -> hidden... -> n_out``. ``arch="conv"`` (needs ``image_shape``): per
    entry ``c`` of ``channels`` a 3x3 convolution (padding 1) to ``c`` channels and a 2x2 average
    pool (while the image is at least 2x2), each into its own neurons, then ``hidden...`` dense
    layers and ``n_out``. With ``encoding="current"`` a bias-driven input layer of ``n_in``
    neurons comes first: the graded input times ``input_gain`` is added to its v every step.
    """
    if cfg.encoding not in ENCODINGS:
        raise ValidationError("PipelineConfig", "encoding", f"{cfg.encoding!r} not in {ENCODINGS}")
    if cfg.arch not in ARCHS:
        raise ValidationError("PipelineConfig", "arch", f"{cfg.arch!r} not in {ARCHS}")
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
    if cfg.arch == "conv":
        if image_shape is None or image_shape[0] * image_shape[1] != n_in:
            raise ValidationError("PipelineConfig", "arch", f"'conv' needs images, got {n_in} "
                                  f"features of shape {image_shape}")  # fmt: skip
        shape: tuple[int, int, int] = (1, *image_shape)
        for c in cfg.channels:
            conv = Conv2d(shape, c, 3, padding=1)
            layers.append(SpikingLayer(neuron(conv.out_features), conv))
            shape = conv.out_shape
            if min(shape[1:]) >= 2:
                pool = AvgPool2d(shape, 2)
                layers.append(SpikingLayer(neuron(pool.out_features), pool))
                shape = pool.out_shape
        prev = int(np.prod(shape))
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


def deployed_input(qgraph: QGraph, x: np.ndarray) -> np.ndarray:
    """What the golden emulator and Lava take for the float input ``x``: the spikes themselves,
    or, for a bias-input model, ``x`` through the model's own ``InputEncoding``."""
    if qgraph.input_encoding is None:
        return x
    return qgraph.input_encoding.encode(x, qgraph.target)


def train_model(
    cfg: PipelineConfig, ds: Dataset, *, resume: bool = False
) -> tuple[SpikingNet, TrainResult]:
    """Build and train the model on ``ds`` (rate-coded, fresh spikes every epoch).

    The checkpoint ``<out_dir>/checkpoint.pt`` is written after every epoch; ``resume`` continues
    from it (to the same model an uninterrupted run ends with).
    """
    net = build_model(ds.num_features, ds.num_classes, cfg, ds.image_shape)
    if cfg.qat:
        enable_qat(net)
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=cfg.device,
        checkpoint=Path(cfg.out_dir) / "checkpoint.pt",
        progress=cfg.progress,
        num_steps=cfg.num_steps,
        resume=resume,
        settings=training_settings(cfg),
    )
    encoder = identity_encoder if cfg.encoding == "current" else default_encoder(cfg.num_steps)
    n = len(ds.y_train) if cfg.max_train is None else min(cfg.max_train, len(ds.y_train))
    result = fit(net, ds.x_train[:n], ds.y_train[:n], encoder, tcfg)
    return net.cpu(), result


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def stage_train(cfg: PipelineConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train; publish ``model.pt`` (torch state), ``model.lbir`` (float IR), ``train.json`` and
    ``pipeline.json`` together (:class:`~lavabridge.atomic.StageFiles`): an interrupted run leaves
    the run directory's previous files, and ``resume`` continues from ``checkpoint.pt``."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    t0 = time.perf_counter()
    net, trained = train_model(cfg, ds, resume=resume)
    graph = trace(net, name=f"{cfg.dataset}-snn")
    info = {
        "seconds": time.perf_counter() - t0,
        "epochs": cfg.epochs,
        "final_loss": trained.losses[-1],
        "train_accuracy": trained.train_accuracy[-1],
        "device": trained.device,
        "float_ir": str(out / "model.lbir"),
    }
    with StageFiles(out) as files:
        torch.save(net.state_dict(), files.path("model.pt"))
        ir.save(graph, files.path("model.lbir"))
        files.path("train.json").write_text(_json_text(info))
        files.path(CONFIG_FILE).write_text(config_json(cfg))  # what the later stages read
    return info


def stage_quantize(
    run_dir: str | Path, calibration: str | Path | None = None
) -> tuple[QGraph, QuantReport]:
    """Quantize ``model.lbir``; publish ``model.lbq`` and ``quant_report.json`` together.

    The calibration input is the dataset's (a training run), or ``calibration`` / the example
    (an import run, :func:`lavabridge.pipeline.imported.quantize_import`)."""
    if is_import_run(run_dir):
        return quantize_import(run_dir, calibration)
    if calibration is not None:
        raise InputError("--calibration: a training run calibrates on its dataset")
    cfg = load_config(run_dir)
    out = Path(run_dir)
    graph = ir.load(out / "model.lbir")
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    calib = calibration_input(ds, cfg)
    policy = QuantPolicy.netx() if cfg.netx_compatible else QuantPolicy()
    qgraph, report = quantize(graph, calib, num_steps=cfg.num_steps, policy=policy)
    with StageFiles(out) as files:
        save_qgraph(qgraph, files.path("model.lbq"))
        files.path("quant_report.json").write_text(_json_text(report.to_dict()))
    return qgraph, report


def stage_export(run_dir: str | Path) -> dict[str, str]:
    """Write the quantized model as a lava-dl netx file (``model.net``) where netx can express it."""
    out = Path(run_dir)
    qgraph = load_qgraph(out / "model.lbq")
    try:
        write_netx(qgraph, out / "model.net")
    except UnsupportedError as exc:
        return {"netx": f"not written: {exc}"}
    return {"netx": str(out / "model.net")}


def verify_run(
    run_dir: str | Path, *, lava: bool = True, probe_uv: bool = True, progress: bool | None = None
) -> VerifyReport:
    """:func:`lavabridge.verify.verify` on a run directory's model and encoded test split.

    The float reference is ``model.lbir`` (on the graded input for direct current encoding), the
    labels are the test labels, Lava runs the first ``lava_samples`` samples. An import run is
    verified on its example (:func:`lavabridge.pipeline.imported.verify_import`).
    """
    if is_import_run(run_dir):
        return verify_import(run_dir, lava=lava, probe_uv=probe_uv, progress=progress is not False)
    cfg = load_config(run_dir)
    out = Path(run_dir)
    for name in ("model.lbq", "model.lbir"):
        if not (out / name).is_file():
            raise ModelFileError(f"{out / name}: missing (run `lavabridge quantize {out}` first)")
    qgraph = load_qgraph(out / "model.lbq")
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    x, y = encoded_test_split(ds, cfg)
    try:
        xq = deployed_input(qgraph, x)
    except InputError as exc:
        raise InputError(
            f"{out / 'model.lbq'}: the test split does not fit its encoding: {exc}"
        ) from exc
    return verify(
        qgraph,
        xq,
        labels=y,
        float_model=out / "model.lbir",
        float_input=x if qgraph.input_encoding is not None else None,
        num_steps=cfg.num_steps,
        lava=lava,
        lava_samples=cfg.lava_samples,
        probe_uv=probe_uv,
        chunk=cfg.lava_chunk,
        progress=cfg.progress if progress is None else progress,
    )


def stage_verify(run_dir: str | Path, *, lava: bool = True) -> VerifyReport:
    """Verify the run (:func:`verify_run`); write ``report.json``, ``report.md`` and the plots
    into the run directory."""
    report = verify_run(run_dir, lava=lava)
    write_report(report, run_dir)
    return report


@dataclass(frozen=True)
class PipelineResult:
    """What :func:`run_pipeline` did: the VerifyReport and the stages before it."""

    report: VerifyReport
    train: dict[str, Any]
    quantization: QuantReport
    artifacts: dict[str, str]
    timings: dict[str, float]


def run_pipeline(cfg: PipelineConfig, *, resume: bool = False) -> PipelineResult:
    """All stages: train -> quantize -> export -> verify, into ``cfg.out_dir``.

    ``resume`` continues an interrupted training from its checkpoint.

    ``report.json`` there is the VerifyReport; ``stages.json`` holds the stage timings
    (``train``, ``quantize``, ``export``, ``verify`` seconds) and the artifact paths.
    """
    out = Path(cfg.out_dir)
    t0 = time.perf_counter()
    train_info = stage_train(cfg, resume=resume)
    t1 = time.perf_counter()
    _, qreport = stage_quantize(out)
    t2 = time.perf_counter()
    artifacts = {
        "float_model": str(out / "model.pt"),
        "float_ir": str(out / "model.lbir"),
        "qgraph": str(out / "model.lbq"),
        **stage_export(out),
        "report": str(out / "report.json"),
    }
    t3 = time.perf_counter()
    report = stage_verify(out, lava=cfg.lava)
    timings = {"train": t1 - t0, "quantize": t2 - t1, "export": t3 - t2,
               "verify": time.perf_counter() - t3}  # fmt: skip
    write_text(out / "stages.json", _json_text({"timings_s": timings, "artifacts": artifacts}))
    return PipelineResult(report, train_info, qreport, artifacts, timings)
