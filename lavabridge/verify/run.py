"""``verify()``: run the float reference, the golden emulator and Lava on one input and compare.

What runs (``B`` samples, ``T`` steps):

1. golden emulator with u/v probes (the health counters are recomputed from its state);
2. float reference (when a float IR graph is given), spikes only;
3. Lava ``fixed_pt``: one compiled session streams the first ``lava_samples`` samples and records
   spikes, u and v (``probe_uv=True``, the default). With ``probe_uv=False`` (about half the Lava
   time) it records spikes only, and a second, small session re-runs with u/v probes the plotted
   sample and up to ``diagnose_samples`` samples whose spikes differ, so a mismatch is still
   reported with the states on both sides at its first step and the step before.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, LavaBridgeError, ModelFileError
from lavabridge.golden import emulate
from lavabridge.inputs import BatchInput, prepare_input
from lavabridge.quant.qgraph import InputKind, QGraph, graphs_equal
from lavabridge.recording import Recording
from lavabridge.verify import compare
from lavabridge.verify.health import layer_health
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
    from lavabridge.quant.serialize import load_model

    try:
        return load_model(model), str(model)
    except LavaBridgeError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # what h5py/numpy raise on a damaged file
        raise ModelFileError(f"{model}: cannot read model ({exc})") from exc


def _load_float(float_model: Any, graph: QGraph) -> tuple[Any, str | None]:
    if float_model is None:
        return None, None
    from lavabridge import ir

    source = "<in memory>"
    if not isinstance(float_model, ir.Graph):
        source = str(float_model)
        try:
            float_model = ir.load(float_model)
        except LavaBridgeError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{source}: cannot read float IR ({exc})") from exc
    if graph.input_kind != InputKind.SPIKES:
        raise InputError("a float reference needs a spike-input model (this one takes bias input)")
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


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("lavabridge", "lava-nc", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _diagnosis_samples(golden: Recording, lava: Recording, keep: int, always: int) -> list[int]:
    """The plotted sample plus up to ``keep`` samples whose spikes differ earliest."""
    chosen = [always]
    for g, o in zip(golden.spikes, lava.spikes, strict=True):
        diff = (g != o).any(axis=2)  # [B, T]
        has = np.flatnonzero(diff.any(axis=1))
        if has.size:
            first = np.argmax(diff[has], axis=1)
            order = has[np.lexsort((has, first))]
            chosen += [int(b) for b in order[:keep] if int(b) != always]
            break
    return sorted(set(chosen))


def _run_lava(
    lava_graph: QGraph,
    data: npt.NDArray[np.int64],
    golden: Recording,
    *,
    steps: int,
    probe_uv: bool,
    chunk: int,
    diagnose: int,
    sample: int,
    progress: bool,
    timings: dict[str, float],
) -> tuple[Recording, Recording, Recording, npt.NDArray[np.int64]]:
    """Lava on ``data``; returns (spike recording, golden states, Lava states, their sample ids)."""
    from lavabridge.exporters.lava_session import LavaSession

    t0 = time.perf_counter()
    with LavaSession(lava_graph, steps, probe_uv=probe_uv, chunk=chunk, progress=progress) as s:
        lava = s.run(data)
    timings["lava"] = time.perf_counter() - t0
    if probe_uv:
        return lava, golden, lava, np.arange(len(data))
    ids = np.asarray(_diagnosis_samples(golden, lava, diagnose, sample))
    t0 = time.perf_counter()
    with LavaSession(lava_graph, steps, probe_uv=True, chunk=len(ids)) as s:
        states = s.run(data[ids])
    timings["lava_states"] = time.perf_counter() - t0
    return lava, golden.select(ids), states, ids


def _merge_exact(
    spikes: tuple[compare.LayerExact, ...], states: tuple[compare.LayerExact, ...]
) -> tuple[compare.LayerExact, ...]:
    out = []
    for a, b in zip(spikes, states, strict=True):
        steps = [s for s in (a.first_step, b.first_step) if s is not None]
        out.append(
            compare.LayerExact(
                a.layer,
                a.name,
                a.spikes_differing,
                b.u_differing,
                b.v_differing,
                max(a.samples_differing, b.samples_differing),
                min(steps) if steps else None,
            )
        )
    return tuple(out)


def verify(
    model: QGraph | str | Path,
    x: npt.ArrayLike,
    *,
    labels: npt.ArrayLike | None = None,
    float_model: Any = None,
    num_steps: int | None = None,
    lava: bool = True,
    lava_samples: int | None = None,
    probe_uv: bool = True,
    chunk: int = 64,
    diagnose_samples: int = 8,
    sample: int = 0,
    tau: float = 4.0,
    lava_graph: QGraph | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Compare float reference, golden emulator and Lava on the same input.

    Parameters
    ----------
    model : QGraph or path
        The quantized model (``.lbq`` or netx ``.net`` path, or a QGraph).
    x : array
        Spikes ``[B, T, n_in]`` (or bias mantissas ``[B, n_in]`` with ``num_steps``).
    labels : array [B] of int, optional
        Class labels: adds the accuracy of each oracle (output spike count, ties: first spike).
    float_model : lavabridge.ir.Graph or path, optional
        The float IR the model was quantized from (``.lbir``): adds float vs quantized statistics.
    num_steps : int, optional
        Time steps (required for bias input).
    lava : bool
        Run Lava (``False``: golden and float only; the report then does not pass).
    lava_samples : int, optional
        Run Lava on the first N samples only (all by default).
    probe_uv : bool
        Compare u and v of every sample on Lava (default). ``False`` halves the Lava time and
        compares u and v only on the re-run diagnosis samples (see the module docstring): a fault
        that changes states but no spike elsewhere then goes unnoticed.
    chunk : int
        Samples per Lava run call.
    diagnose_samples : int
        How many mismatching samples the state re-run covers.
    sample : int
        The sample whose traces are plotted when nothing differs.
    tau : float
        Time constant of the van Rossum distance, in steps.
    lava_graph : QGraph, optional
        Run this graph on Lava instead of ``model`` (for fault-injection tests of the verifier).
    progress : bool
        Progress bar for the Lava run.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    graph, source = _load(model)
    float_graph, float_source = _load_float(float_model, graph)
    batch = prepare_input(graph, x, num_steps)
    B, T = batch.batch, batch.num_steps
    y = _labels(labels, B, graph.sizes[-1])
    if not 0 <= sample < B:
        raise InputError(f"sample {sample} is outside the batch [0, {B - 1}]")
    if tau <= 0:
        raise InputError(f"tau must be > 0 steps, got {tau}")
    names = tuple(layer.name for layer in graph.layers)

    t0 = time.perf_counter()
    golden = emulate(graph, batch.data, num_steps=T, probe_uv=True)
    timings["golden"] = time.perf_counter() - t0
    recordings = {"golden": golden}
    traces = {"golden": golden.select([sample])}
    float_rec = None
    if float_graph is not None:
        from lavabridge.reference import interpret

        t0 = time.perf_counter()
        float_rec = interpret(float_graph, batch.data)
        timings["float"] = time.perf_counter() - t0
        recordings = {"float": float_rec, **recordings}
    t0 = time.perf_counter()
    chain = float_graph.layer_chain() if float_graph is not None else None
    health = layer_health(graph, batch, golden, chain)
    timings["health"] = time.perf_counter() - t0

    gl = GoldenLava(False, None, 0, 0, False, (), None)
    trace_sample = sample
    if lava:
        lg = graph if lava_graph is None else lava_graph
        if (lg.n_in, lg.sizes, lg.input_kind) != (graph.n_in, graph.sizes, graph.input_kind):
            raise InputError("lava_graph must have the model's input kind, width and layer sizes")
        n = B if lava_samples is None else max(1, min(lava_samples, B))
        if sample >= n:
            raise InputError(f"sample {sample} is not among the {n} samples run on Lava")
        golden_n = golden.select(slice(0, n))
        lava_rec, g_states, l_states, ids = _run_lava(
            lg,
            batch.data[:n],
            golden_n,
            steps=T,
            probe_uv=probe_uv,
            chunk=chunk,
            diagnose=diagnose_samples,
            sample=sample,
            progress=progress,
            timings=timings,
        )
        spikes_only = Recording(golden_n.spikes)
        layers = compare.exact_layers(spikes_only, Recording(lava_rec.spikes), names)
        layers = _merge_exact(layers, compare.exact_layers(g_states, l_states, names))
        div = compare.first_divergence(g_states, l_states, names, ids)
        if div is None and any(e.first_step is not None for e in layers):
            div = compare.first_divergence(spikes_only, Recording(lava_rec.spikes), names)
        gl = GoldenLava(
            ran=True,
            identical=div is None,
            samples=n,
            states_samples=len(ids),
            lava_graph_differs=lava_graph is not None and not graphs_equal(graph, lava_graph),
            layers=layers,
            first_divergence=div,
        )
        recordings["lava"] = lava_rec
        trace_sample = div.sample if div is not None and div.sample in ids else sample
        row = int(np.flatnonzero(ids == trace_sample)[0])
        traces["lava"] = l_states.select([row])
        traces["golden"] = golden.select([trace_sample])
    if float_graph is not None:
        from lavabridge.reference import interpret

        traces["float"] = interpret(
            float_graph, batch.data[trace_sample : trace_sample + 1], probe_uv=True
        )

    agreement = compare.float_vs_quant(float_rec, golden, names, tau) if float_rec else ()
    acc: list[OracleAccuracy] = []
    if y is not None:
        for name, rec in recordings.items():
            acc.append(OracleAccuracy(name, compare.accuracy(rec, y), rec.batch))
    timings["total"] = time.perf_counter() - t_start
    info = ModelInfo(
        name=graph.name,
        source=source,
        float_source=float_source,
        n_in=graph.n_in,
        input_kind=graph.input_kind.value,
        layers=tuple(
            LayerInfo(
                ly.name,
                ly.size,
                ly.neuron.du,
                ly.neuron.dv,
                ly.neuron.vth,
                ly.recurrent is not None,
            )
            for ly in graph.layers
        ),
    )
    return VerifyReport(
        model=info,
        samples=B,
        num_steps=T,
        golden_lava=gl,
        float_quant=agreement,
        tau=float(tau),
        accuracy=tuple(acc),
        health=health,
        timings=timings,
        versions=_versions(),
        artifacts=VerifyArtifacts(graph, float_graph, batch, y, recordings, traces, trace_sample),
    )
