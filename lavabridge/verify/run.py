"""``verify()``: run the float reference, the golden emulator and Lava on one input and compare.

What runs (``B`` samples, ``T`` steps):

1. golden emulator with u/v probes (the health counters replay its arithmetic on its state);
2. float reference (when a float IR graph is given), spikes only, on the same spikes (or, for a
   bias-input model, on the graded input before its encoding);
3. Lava ``fixed_pt`` on the first ``lava_samples`` samples (:mod:`lavabridge.verify.lava_check`).

Every command that compares oracles (``lavabridge verify``, ``demo``, the pipeline's verify stage,
the netx example) goes through this function and writes the one
:class:`~lavabridge.verify.report.VerifyReport` schema.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.inputs import BatchInput, prepare_input
from lavabridge.errors import InputError, LavaBridgeError, ModelFileError
from lavabridge.importers.load import load_model
from lavabridge.quant.lower import describe_neuron
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind
from lavabridge.verify import compare
from lavabridge.verify.health import layer_health
from lavabridge.verify.lava_check import LavaOptions, check_lava
from lavabridge.verify.report import GoldenLava, LayerInfo, ModelInfo, OracleAccuracy, VerifyReport


@dataclass(frozen=True)
class VerifyArtifacts:
    """What the plots need (kept in memory beside the report, never serialised).

    ``recordings`` hold spikes of ``"float"``, ``"golden"``, ``"lava"`` (those that ran);
    ``traces`` hold one-sample recordings with u/v of sample ``trace_sample``.
    """

    graph: QGraph
    float_graph: Any
    batch: BatchInput
    labels: npt.NDArray[np.int64] | None
    recordings: dict[str, Recording]
    traces: dict[str, Recording]
    trace_sample: int


def _load(model: QGraph | str | Path) -> tuple[QGraph, str]:
    if isinstance(model, QGraph):
        return model, "<in memory>"
    return load_model(model), str(model)


def _load_float(float_model: Any, graph: QGraph, float_input: Any) -> tuple[Any, str | None]:
    if float_model is None:
        return None, None
    source = "<in memory>"
    if not isinstance(float_model, ir.Graph):
        source = str(float_model)
        try:
            float_model = ir.load(float_model)
        except LavaBridgeError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{source}: cannot read float IR ({exc})") from exc
    if graph.input_kind != InputKind.SPIKES and float_input is None:
        raise InputError(
            "a bias-input model's float reference takes the graded input before its encoding: "
            "pass float_input= (the values the model's InputEncoding turned into x)"
        )
    sizes = tuple(layer.size for layer in float_model.layer_chain())
    if (float_model.input_size, sizes) != (graph.n_in, graph.sizes):
        raise InputError(
            f"float model {source} has shape {float_model.input_size}-{sizes}, the quantized "
            f"model {graph.n_in}-{graph.sizes}: they are not the same network"
        )
    return float_model, source


def _labels(labels: npt.ArrayLike | None, batch: int, n_out: int) -> npt.NDArray[np.int64] | None:
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != batch or arr.dtype.kind not in "iu":
        raise InputError(
            f"labels: need {batch} integer class indices [B], got shape {arr.shape} "
            f"dtype {arr.dtype}"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n_out):
        raise InputError(f"labels: must lie in [0, {n_out - 1}] (output layer size)")
    return arr.astype(np.int64)


def auto_readout(graph: QGraph) -> str:
    """``"v"`` when the output layer can never fire (its ``vth << vth_shift`` at or above v's
    saturation, as netx's neuron-less output layers), else ``"spikes"``."""
    target = graph.target
    vth = getattr(graph.layers[-1].neuron, "vth", None)
    return "v" if vth is not None and (int(vth) << target.vth_shift) >= target.v_sat else "spikes"


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("lavabridge", "lava-nc", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _model_info(graph: QGraph, source: str, float_source: str | None) -> ModelInfo:
    def info(ly: Any, shape: tuple[int, ...]) -> LayerInfo:
        n = ly.neuron
        return LayerInfo(
            ly.name, ly.size, int(getattr(n, "du", 0)), int(getattr(n, "dv", 0)),
            int(getattr(n, "vth", 0)), ly.recurrent is not None, n.kind,
            None if ly.synapse is None else ly.synapse.kind,
            tuple(str(a) for a in ly.approximations), tuple(int(s) for s in shape),
            describe_neuron(n), bool(getattr(n, "custom", False)),
        )  # fmt: skip

    return ModelInfo(
        name=graph.name,
        source=source,
        float_source=float_source,
        n_in=graph.n_in,
        input_kind=graph.input_kind.value,
        layers=tuple(info(ly, s) for ly, s in zip(graph.layers, graph.shapes, strict=True)),
    )


def _accuracies(
    recordings: dict[str, Recording], y: npt.NDArray[np.int64] | None, readout: str
) -> tuple[OracleAccuracy, ...]:
    """Accuracy of every oracle on all its samples, plus float / golden on the Lava subset."""
    if y is None:
        return ()
    out = [
        OracleAccuracy(name, compare.accuracy(rec, y, readout), rec.batch)
        for name, rec in recordings.items()
    ]
    lava = recordings.get("lava")
    if lava is not None:
        n = lava.batch
        for name in ("float", "golden"):
            rec = recordings.get(name)
            if rec is not None and rec.batch > n:
                sub = rec.select(slice(0, n))
                out.append(OracleAccuracy(name, compare.accuracy(sub, y, readout), n))
    return tuple(out)


def _source_check(
    source_run: tuple[str, Sequence[npt.NDArray[np.generic]]] | None,
    float_rec: Recording | None,
    float_graph: ir.Graph | None,
    names: tuple[str, ...],
) -> compare.SourceCheck | None:
    if source_run is None:
        return None
    if float_rec is None or float_graph is None:
        raise InputError("verify: a source run is compared with the float reference: "
                         "give float_model")  # fmt: skip
    return compare.source_vs_float(
        source_run[0], float_rec, source_run[1], names, float_graph.latencies()
    )


def verify(
    model: QGraph | str | Path,
    x: npt.ArrayLike,
    *,
    labels: npt.ArrayLike | None = None,
    float_model: Any = None,
    float_input: npt.ArrayLike | None = None,
    num_steps: int | None = None,
    lava: bool = True,
    lava_samples: int | None = None,
    probe_uv: bool = True,
    chunk: int = 64,
    diagnose_samples: int = 8,
    sample: int = 0,
    tau: float = 4.0,
    readout: str = "auto",
    lava_graph: QGraph | None = None,
    progress: bool = False,
    source_run: tuple[str, Sequence[npt.NDArray[np.generic]]] | None = None,
) -> VerifyReport:
    """Compare float reference, golden emulator and Lava on the same input.

    Parameters
    ----------
    model : QGraph or path
        The quantized model (``.lbq`` or netx ``.net`` path, or a QGraph).
    x : array
        Spikes ``[B, T, n_in]`` (or bias mantissas ``[B, n_in]`` with ``num_steps``).
    labels : array [B] of int, optional
        Class labels: adds the accuracy of each oracle.
    float_model : lavabridge.ir.Graph or path, optional
        The float IR the model was quantized from (``.lbir``): adds float vs quantized statistics.
    float_input : array, optional
        The float reference's input when it differs from ``x``: for a bias-input model, the
        graded values ``[B, n_in]`` its ``InputEncoding`` turned into ``x``.
    num_steps : int, optional
        Time steps (required for bias input).
    lava : bool
        Run Lava (``False``: golden and float only; the report then does not pass).
    lava_samples : int, optional
        Run Lava on the first N samples only (all by default).
    probe_uv : bool
        Compare u and v of every sample on Lava (default). ``False`` halves the Lava time and
        compares u and v only on re-run diagnosis samples (:mod:`lavabridge.verify.lava_check`):
        a fault that changes states but no spike elsewhere then goes unnoticed.
    chunk : int
        Samples per Lava run call.
    diagnose_samples : int
        How many mismatching samples the state re-run covers.
    sample : int
        The sample whose traces are plotted when nothing differs.
    tau : float
        Time constant of the van Rossum distance, in steps.
    readout : {"auto", "spikes", "v"}
        How accuracies decode a class; ``"auto"`` reads v when the output layer cannot fire.
    lava_graph : QGraph, optional
        Run this graph on Lava instead of ``model`` (for fault-injection tests of the verifier).
    progress : bool
        Progress bar for the Lava run.
    source_run : (framework, spikes per layer [B, T, n]), optional
        For an imported model: its framework's own run on the same input
        (:func:`lavabridge.importers.source.source_spikes`), compared with the float reference
        shifted by each layer's latency (``float_model`` required).
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    graph, source = _load(model)
    float_graph, float_source = _load_float(float_model, graph, float_input)
    batch = prepare_input(graph, x, num_steps)
    B, T = batch.batch, batch.num_steps
    y = _labels(labels, B, graph.sizes[-1])
    if not 0 <= sample < B:
        raise InputError(f"sample {sample} is outside the batch [0, {B - 1}]")
    if tau <= 0:
        raise InputError(f"tau must be > 0 steps, got {tau}")
    if readout not in ("auto", *compare.READOUTS):
        raise InputError(f"readout must be auto, spikes or v, got {readout!r}")
    readout = auto_readout(graph) if readout == "auto" else readout
    fx = batch.data if float_input is None else np.asarray(float_input, np.float64)

    t0 = time.perf_counter()
    golden = emulate(graph, batch.data, num_steps=T, probe_uv=True)
    timings["golden"] = time.perf_counter() - t0
    recordings: dict[str, Recording] = {"golden": golden}
    traces = {"golden": golden.select([sample])}
    float_rec = None
    if float_graph is not None:
        t0 = time.perf_counter()
        float_rec = ir.interpret(float_graph, fx, num_steps=T, probe_uv=readout == "v")
        timings["float"] = time.perf_counter() - t0
        recordings = {"float": float_rec, **recordings}
    t0 = time.perf_counter()
    chain = float_graph.layer_chain() if float_graph is not None else None
    health = layer_health(graph, batch, golden, chain)
    timings["health"] = time.perf_counter() - t0

    gl = GoldenLava(False, None, 0, 0, False, (), None)
    trace_sample = sample
    if lava:
        opt = LavaOptions(lava_samples, probe_uv, chunk, diagnose_samples, progress)
        check = check_lava(graph, lava_graph or graph, batch.data, golden, steps=T,
                           sample=sample, opt=opt, timings=timings)  # fmt: skip
        gl, trace_sample = check.golden_lava, check.trace_sample
        recordings["lava"] = check.recording
        traces["lava"] = check.trace
        traces["golden"] = golden.select([trace_sample])
    if float_graph is not None:
        one = fx[trace_sample : trace_sample + 1]
        traces["float"] = ir.interpret(float_graph, one, num_steps=T, probe_uv=True)

    names = tuple(layer.name for layer in graph.layers)
    agreement = compare.float_vs_quant(float_rec, golden, names, tau) if float_rec else ()
    source_check = _source_check(source_run, float_rec, float_graph, names)
    timings["total"] = time.perf_counter() - t_start
    return VerifyReport(
        model=_model_info(graph, source, float_source),
        samples=B,
        num_steps=T,
        golden_lava=gl,
        float_quant=agreement,
        tau=float(tau),
        accuracy=_accuracies(recordings, y, readout),
        health=health,
        timings=timings,
        versions=_versions(),
        readout=readout,
        source=source_check,
        artifacts=VerifyArtifacts(graph, float_graph, batch, y, recordings, traces, trace_sample),
    )
