"""One function per benchmark row: run one backend on one network and batch, return the numbers.

Every function returns a plain dict (JSON-ready) with at least ``network``, ``T``, ``batch``,
``backend``, ``wall_s`` (seconds for the whole batch), ``sample_steps_per_s``, ``syn_ops_per_s``,
``dense_macs_per_s`` and ``notes``. Peak RSS is added by the caller (:mod:`benchmarks.worker`),
which runs each row in a fresh process.

Backends
--------
``golden``        the fast golden emulator (:func:`lavabridge.backends.golden.emulate`), best of ``reps``
                  runs after one warm-up, u/v probing off;
``golden-int64``  the int64 oracle (``exact_int=True``), one run;
``lava-stream``   one :class:`LavaSession` streaming the batch (state reset between samples by
                  lavabridge's StateTap processes), wall time from building the processes to
                  stopping the runtime; optionally checked spike-for-spike against ``golden``;
``lava-naive``    a fresh :func:`run_lava` (build, compile, run, stop) per sample;
``float-torch``   the dequantized float network in torch (``SpikingNet``, float32, no grad),
                  best of ``reps``;
``gemm-numpy`` / ``gemm-torch``  float32 ``(B*T, n_in) @ (n_in, n_out)`` for every connection
                  of the network: the machine's dense-GEMM limit for these shapes, best of ``reps``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.networks import NetSpec, build_qgraph, build_torch, make_input, synaptic_ops


def _row(
    spec: NetSpec, steps: int, batch: int, backend: str, wall: float, syn_ops: int, **extra: Any
) -> dict[str, Any]:
    macs = spec.dense_macs(batch, steps)
    return {
        "network": spec.name,
        "T": steps,
        "batch": batch,
        "backend": backend,
        "wall_s": wall,
        "sample_steps_per_s": batch * steps / wall,
        "syn_ops": syn_ops,
        "syn_ops_per_s": syn_ops / wall,
        "dense_macs": macs,
        "dense_macs_per_s": macs / wall,
        **extra,
    }


def _best(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Best wall time of ``reps`` calls after one warm-up call, and the last result."""
    out = fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def row_golden(
    spec: NetSpec, steps: int, batch: int, *, reps: int = 3, exact_int: bool = False
) -> dict[str, Any]:
    """The golden emulator (fast path, or the int64 oracle with ``exact_int``)."""
    from lavabridge.backends.golden import emulate

    graph = build_qgraph(spec)
    x = make_input(spec, batch, steps)
    extra: dict[str, Any] = {}
    if exact_int:
        t0 = time.perf_counter()
        rec = emulate(graph, x, exact_int=True)
        wall = time.perf_counter() - t0
        extra["notes"] = "one run"
        extra["identical_to_golden"] = rec.identical(emulate(graph, x))
    else:
        wall, rec = _best(lambda: emulate(graph, x), reps)
        extra["notes"] = f"best of {reps} after a warm-up"
    extra["spike_rates"] = [float(s.mean()) for s in rec.spikes]
    ops = synaptic_ops(spec, x, list(rec.spikes))
    backend = "golden-int64" if exact_int else "golden"
    return _row(spec, steps, batch, backend, wall, ops, **extra)


def row_golden_pass(spec: NetSpec, steps: int, samples: int) -> dict[str, Any]:
    """One pass of ``samples`` samples through the fast golden emulator (u/v off), one run."""
    from lavabridge.backends.golden import emulate

    graph = build_qgraph(spec)
    x = make_input(spec, samples, steps)
    emulate(graph, x[:8])  # load the BLAS libraries outside the timed pass
    t0 = time.perf_counter()
    rec = emulate(graph, x)
    wall = time.perf_counter() - t0
    ops = synaptic_ops(spec, x, list(rec.spikes))
    note = f"one timed pass of {samples} samples (after an 8-sample warm-up)"
    return _row(spec, steps, samples, "golden", wall, ops, notes=note)


def row_lava_stream(
    spec: NetSpec, steps: int, batch: int, *, check_golden: bool = True, chunk: int = 32
) -> dict[str, Any]:
    """One compiled Lava runtime streaming the batch; spike-for-spike check against golden."""
    from lavabridge.backends.golden import emulate
    from lavabridge.backends.lava import LavaSession

    graph = build_qgraph(spec)
    x = make_input(spec, batch, steps)
    t0 = time.perf_counter()
    with LavaSession(graph, steps, chunk=chunk) as session:
        rec = session.run(x)
    wall = time.perf_counter() - t0
    timings = dict(session.timings)
    extra: dict[str, Any] = {
        "lava_timings_s": timings,
        "readout_fraction": timings.get("io", 0.0) / wall,
        "notes": f"one runtime, {chunk} samples per run() call; readout = host file I/O",
    }
    if check_golden:
        mismatch = emulate(graph, x).first_mismatch(rec)
        extra["bit_exact_vs_golden"] = mismatch is None
        extra["first_mismatch"] = None if mismatch is None else str(mismatch)
    ops = synaptic_ops(spec, x, list(rec.spikes))
    return _row(spec, steps, batch, "lava-stream", wall, ops, **extra)


def row_lava_naive(spec: NetSpec, steps: int, batch: int) -> dict[str, Any]:
    """A fresh Lava build + compile + run + stop per sample (what a user would write first)."""
    from lavabridge.backends.lava import run_lava

    graph = build_qgraph(spec)
    x = make_input(spec, batch, steps)
    counts = [0] * len(graph.layers)
    t0 = time.perf_counter()
    for b in range(batch):
        rec = run_lava(graph, x[b : b + 1])
        counts = [c + int(s.sum()) for c, s in zip(counts, rec.spikes, strict=True)]
    wall = time.perf_counter() - t0
    ops = synaptic_ops(spec, x, [np.array(c) for c in counts])
    return _row(spec, steps, batch, "lava-naive", wall, ops, notes="run_lava per sample")


def row_float_torch(spec: NetSpec, steps: int, batch: int, *, reps: int = 3) -> dict[str, Any]:
    """The dequantized float network in torch (float32, CPU, no gradients)."""
    import torch

    graph = build_qgraph(spec)
    net: Any = build_torch(spec, graph)
    x = make_input(spec, batch, steps)
    xt = torch.from_numpy(x.transpose(1, 0, 2).astype(np.float32))

    def run() -> list[Any]:
        with torch.no_grad():
            return list(net(xt))

    wall, outs = _best(run, reps)
    spikes = [o.numpy() for o in outs]
    ops = synaptic_ops(spec, x, spikes)
    note = f"best of {reps}, torch threads {torch.get_num_threads()}"
    return _row(spec, steps, batch, "float-torch", wall, ops, notes=note)


def row_gemm(spec: NetSpec, steps: int, batch: int, lib: str, *, reps: int = 5) -> dict[str, Any]:
    """float32 GEMMs of every connection with ``M = batch * T`` rows (0/1 left operand)."""
    rng = np.random.default_rng(0)
    m = batch * steps
    mats = [
        (
            (rng.random((m, a), dtype=np.float32) < 0.1).astype(np.float32),
            rng.integers(-128, 128, (a, b)).astype(np.float32),
        )
        for a, b in spec.connections
    ]
    if lib == "torch":
        import torch

        tmats = [(torch.from_numpy(a), torch.from_numpy(w)) for a, w in mats]

        def run() -> None:
            with torch.no_grad():
                for a, w in tmats:
                    torch.mm(a, w)

        note = f"torch.mm, {torch.get_num_threads()} threads"
    elif lib == "numpy":

        def run() -> None:
            for a, w in mats:
                np.matmul(a, w)

        note = "numpy.matmul"
    else:
        raise ValueError(f"lib must be 'numpy' or 'torch', got {lib!r}")
    wall, _ = _best(run, reps)
    macs = spec.dense_macs(batch, steps)
    return _row(
        spec, steps, batch, f"gemm-{lib}", wall, macs, notes=f"{note}, M=B*T, best of {reps}"
    )


ROWS: dict[str, Callable[..., dict[str, Any]]] = {
    "golden": row_golden,
    "golden-pass": row_golden_pass,
    "lava-stream": row_lava_stream,
    "lava-naive": row_lava_naive,
    "float-torch": row_float_torch,
    "gemm": row_gemm,
}
