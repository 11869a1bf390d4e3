"""The golden-vs-Lava part of :func:`lavabridge.verify.verify`: run Lava, compare exactly.

One compiled :class:`~lavabridge.backends.lava.LavaSession` streams the samples and records
spikes, u and v (``probe_uv=True``). With ``probe_uv=False`` (about half the Lava time) it records
spikes only, and a second, small session re-runs with u/v probes the plotted sample and up to
``diagnose`` samples whose spikes differ, so a mismatch is still reported with the states on both
sides at its first step and the step before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.backends.lava import LavaSession
from lavabridge.errors import InputError
from lavabridge.quant.qgraph import QGraph, graphs_equal
from lavabridge.recording import Recording
from lavabridge.verify import compare
from lavabridge.verify.report import GoldenLava


@dataclass(frozen=True)
class LavaOptions:
    """How the Lava side of a verification runs."""

    samples: int | None = None  # the first N samples (all when None)
    probe_uv: bool = True
    chunk: int = 64
    diagnose: int = 8
    progress: bool = False


@dataclass(frozen=True)
class LavaCheck:
    """What the Lava side found: the comparison, Lava's spikes, and one traced sample."""

    golden_lava: GoldenLava
    recording: Recording
    trace: Recording  # u/v of ``trace_sample`` on Lava
    trace_sample: int


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


def _run(
    graph: QGraph,
    data: npt.NDArray[np.int64],
    golden: Recording,
    steps: int,
    sample: int,
    opt: LavaOptions,
    timings: dict[str, float],
) -> tuple[Recording, Recording, Recording, npt.NDArray[np.int64]]:
    """Lava on ``data``; returns (spike recording, golden states, Lava states, their sample ids)."""
    t0 = time.perf_counter()
    with LavaSession(
        graph, steps, probe_uv=opt.probe_uv, chunk=opt.chunk, progress=opt.progress
    ) as s:
        lava = s.run(data)
    timings["lava"] = time.perf_counter() - t0
    if opt.probe_uv:
        return lava, golden, lava, np.arange(len(data))
    ids = np.asarray(_diagnosis_samples(golden, lava, opt.diagnose, sample))
    t0 = time.perf_counter()
    with LavaSession(graph, steps, probe_uv=True, chunk=len(ids)) as s:
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


def check_lava(
    graph: QGraph,
    lava_graph: QGraph,
    data: npt.NDArray[np.int64],
    golden: Recording,
    *,
    steps: int,
    sample: int,
    opt: LavaOptions,
    timings: dict[str, float],
) -> LavaCheck:
    """Run ``lava_graph`` on Lava for the first ``opt.samples`` rows of ``data`` and compare with
    the golden recording of ``graph`` (spikes everywhere; u, v where recorded)."""
    lg = lava_graph
    if (lg.n_in, lg.sizes, lg.input_kind) != (graph.n_in, graph.sizes, graph.input_kind):
        raise InputError("lava_graph must have the model's input kind, width and layer sizes")
    B = len(data)
    n = B if opt.samples is None else max(1, min(opt.samples, B))
    if sample >= n:
        raise InputError(f"sample {sample} is not among the {n} samples run on Lava")
    names = tuple(layer.name for layer in graph.layers)
    golden_n = golden.select(slice(0, n))
    lava_rec, g_states, l_states, ids = _run(lg, data[:n], golden_n, steps, sample, opt, timings)
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
        lava_graph_differs=lava_graph is not graph and not graphs_equal(graph, lava_graph),
        layers=layers,
        first_divergence=div,
    )
    trace_sample = div.sample if div is not None and div.sample in ids else sample
    row = int(np.flatnonzero(ids == trace_sample)[0])
    return LavaCheck(gl, lava_rec, l_states.select([row]), trace_sample)
