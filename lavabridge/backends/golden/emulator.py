"""The golden emulator: a QGraph run in integers, bit-exact with Lava's ``fixed_pt`` CPU models.

One time step ``t`` (1-based) of Lava's ``LoihiProtocol`` with every process in its SPK phase::

    for layer l in order:
        a_in   = dense_l.send() + recurrent_l.send()     # accumulated at step t-1 (1 + delay ago)
        dense_l.receive(s_{l-1}(t))                      # s_{-1}(t) = input column t-1
        u, v, s_l(t) = lif_step(u, v, a_in)
        recurrent_l.receive(s_l(t))

Every sample starts from zero state (u = v = 0, empty Dense buffers).

Two implementations of exactly these rules:

* ``exact_int=True`` — the **oracle**: the loop above, step-major, int64 everywhere
  (:func:`emulate_reference`). Slow and obviously faithful to the rules in :mod:`.arith`.
* default — the **fast engine** (:mod:`.fast`): layer-major, one float GEMM per layer and delay
  over all steps of a chunk of samples, a float64 LIF where a bound proves it exact (the int64
  rules otherwise). Samples are processed ``chunk`` at a time, which bounds memory, and chunks
  are shared among ``threads`` worker threads (torch's GEMMs run single-threaded meanwhile).

Speed and memory are measured by ``python -m benchmarks.run`` (see ``benchmarks/``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from lavabridge.backends.golden.arith import LifParams, bias_from_mantissa, lif_step
from lavabridge.backends.golden.fast import feed_forward, run_layer
from lavabridge.backends.golden.ops import TORCH_MIN_MACS, LayerPlan, layer_ops, plan_layers
from lavabridge.backends.inputs import BatchInput, prepare_input
from lavabridge.errors import InputError
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind

I64 = npt.NDArray[np.int64]
_CHUNK_ELEMENTS = 1 << 23  # default chunk: about this many (sample, step, neuron) cells
_MIN_SAMPLES_PER_THREAD = 32  # a thread gets at least this many samples


def default_chunk(graph: QGraph, num_steps: int) -> int:
    """Samples per chunk: ~8M sample-step-neurons (tens of MB of float buffers), at least 1."""
    width = max(graph.n_in, *graph.sizes)
    return max(1, _CHUNK_ELEMENTS // max(1, num_steps * width))


def emulate(
    graph: QGraph,
    x: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    probe_uv: bool = False,
    exact_int: bool = False,
    chunk: int | None = None,
    threads: int | None = None,
) -> Recording:
    """Run ``graph`` on a batch and return spikes (and u, v when ``probe_uv``) of every layer.

    Parameters
    ----------
    graph : QGraph
    x : array
        Spikes ``[B, T, n_in]`` / ``[T, n_in]``, or bias mantissas ``[B, n_in]`` for a bias-input
        graph (then ``num_steps`` is required). bool/uint8 spikes avoid an int64 copy.
    num_steps : int, optional
        Number of steps T (taken from the spikes when omitted).
    probe_uv : bool
        Also record u and v at the end of every step (memory: 16 bytes per neuron-step-sample).
    exact_int : bool
        Run the int64 step-major oracle instead of the fast engine.
    chunk : int, optional
        Samples processed at once by the fast engine (default :func:`default_chunk`).
    threads : int, optional
        Threads that split the batch (default: the CPUs this process may use, at most 4; each
        gets at least 32 samples). With more than one, torch's own GEMM threads are set to 1
        for the duration of the call (and restored).

    Returns
    -------
    Recording
        ``backend="golden"``; see :mod:`lavabridge.recording` for the indexing convention.
    """
    t0 = time.perf_counter()
    arr = np.asarray(x)
    if arr.ndim == (2 if graph.input_kind == InputKind.SPIKES else 1):
        arr = arr[None]
    first = prepare_input(graph, arr[:1] if arr.ndim >= 1 and len(arr) else arr, num_steps)
    B, T = int(arr.shape[0]), first.num_steps
    if chunk is not None and chunk < 1:
        raise InputError(f"chunk must be >= 1 samples, got {chunk}")
    n_threads = default_threads() if threads is None else threads
    if n_threads < 1:
        raise InputError(f"threads must be >= 1, got {threads}")
    if exact_int:
        rec = emulate_reference(graph, prepare_input(graph, arr, num_steps), probe_uv=probe_uv)
        return Recording(rec.spikes, rec.u, rec.v, "golden", {"run": time.perf_counter() - t0})
    sizes = graph.sizes
    out = _Outputs(
        [np.zeros((B, T, n), np.uint8) for n in sizes],
        [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None,
        [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None,
    )
    plans = plan_layers(graph)
    trusted = _binary_spikes(graph, arr)  # validated here without an int64 copy
    step = chunk or default_chunk(graph, T)
    workers = max(1, min(n_threads, B // _MIN_SAMPLES_PER_THREAD))
    step = min(step, -(-B // workers))  # every worker gets work
    starts = list(range(0, B, step))
    groups = [starts[k::workers] for k in range(workers)]

    def work(group: list[int]) -> None:
        scratch = _Scratch()
        for b0 in group:
            job = (b0, min(B, b0 + step))
            _run_chunk(graph, plans, arr, job, num_steps, T, trusted, out, scratch)

    if workers == 1:
        work(starts)
    else:
        big = T * step * max(a * b for a, b in zip((graph.n_in, *sizes), sizes, strict=False))
        torch_gemm = big >= TORCH_MIN_MACS
        with _single_threaded_torch(torch_gemm), ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, groups))
    spikes, us, vs = out
    return Recording.from_layers(spikes, us, vs, "golden", {"run": time.perf_counter() - t0})


class _Scratch:
    """Buffers reused across the layers and chunks of one call (fresh memory costs page faults)."""

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, str], np.ndarray] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """An uninitialised array of ``shape`` backed by the buffer ``key`` (grown as needed)."""
        size = int(np.prod(shape))
        name = (key, np.dtype(dtype).str)
        buf = self._bufs.get(name)
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype)
            self._bufs[name] = buf
        return buf[:size].reshape(shape)


def default_threads() -> int:
    """CPUs this process may use (``os.sched_getaffinity``), capped at 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


class _Outputs(NamedTuple):
    spikes: list[npt.NDArray[np.uint8]]
    u: list[npt.NDArray[np.int64]] | None
    v: list[npt.NDArray[np.int64]] | None


def _run_chunk(
    graph: QGraph,
    plans: tuple[LayerPlan, ...],
    arr: np.ndarray,
    job: tuple[int, int],
    num_steps: int | None,
    T: int,
    trusted: bool,
    out: _Outputs,
    scratch: _Scratch,
) -> None:
    """Samples ``job = (b0, b1)`` through every layer (layer-major), into ``out``."""
    b0, b1 = job
    nb, sizes = b1 - b0, graph.sizes
    s_prev: np.ndarray | None = None  # the previous layer's spikes, float32, time-major
    bias = None
    if trusted:
        s_prev = scratch.get("float spikes", (T, nb, graph.n_in), np.float32)
        np.copyto(s_prev, arr[b0:b1].transpose(1, 0, 2))
    else:
        batch = prepare_input(graph, arr[b0:b1], num_steps)
        if batch.kind == InputKind.SPIKES:
            s_prev = scratch.get("float spikes", (T, nb, graph.n_in), np.float32)
            np.copyto(s_prev, batch.data.transpose(1, 0, 2))
        else:
            bias = bias_from_mantissa(batch.data, plans[0].lif.bias_exp[None, :])
    for i, plan in enumerate(plans):
        h = None
        if plan.ff is not None:
            assert s_prev is not None  # a layer with a synapse always has an input
            buf = scratch.get("drive", (T, nb, sizes[i]), np.float32) if plan.fast else None
            h = feed_forward(plan.ff, s_prev, np.float32 if plan.fast else np.int64, buf)
        s_tm = scratch.get(f"spikes {i % 2}", (T, nb, sizes[i]), np.uint8)
        u_out = out.u[i][b0:b1] if out.u is not None else None
        v_out = out.v[i][b0:b1] if out.v is not None else None
        run_layer(plan, h, bias if i == 0 else None, s_tm, u_out, v_out)
        out.spikes[i][b0:b1] = s_tm.transpose(1, 0, 2)
        if i + 1 < len(plans):
            s_prev = scratch.get("float spikes", s_tm.shape, np.float32)
            np.copyto(s_prev, s_tm)


@contextlib.contextmanager
def _single_threaded_torch(import_torch: bool) -> Iterator[None]:
    """torch's GEMMs on one thread while our threads split the batch; restored afterwards.

    Two levels of threads would oversubscribe the cores, and OpenMP workers spinning after
    each GEMM would steal them from the numpy LIF updates.
    """
    module: Any = sys.modules.get("torch")
    if module is None and import_torch:
        with contextlib.suppress(ImportError):  # torch is a dependency; numpy does the rest
            import torch as module
    if module is None:  # no GEMM of this call goes to torch
        yield
        return
    # the first torch.from_numpy runs a static initialiser that imports numpy; two threads
    # reaching it at once deadlock (one holds the GIL, the other the initialiser's guard)
    module.from_numpy(np.zeros(1))
    previous = module.get_num_threads()
    module.set_num_threads(1)
    try:
        yield
    finally:
        module.set_num_threads(previous)


def _binary_spikes(graph: QGraph, arr: np.ndarray) -> bool:
    """True for a bool/uint8 ``[B, T, n_in]`` spike batch that is valid as is (0/1, non-empty)."""
    if graph.input_kind != InputKind.SPIKES or arr.dtype not in (np.bool_, np.uint8):
        return False
    if arr.ndim != 3 or arr.shape[2] != graph.n_in or 0 in arr.shape[:2]:
        return False
    return arr.dtype == np.bool_ or int(arr.max()) <= 1


def _step_bias(p: LifParams, t: int, input_bias: I64 | None, zeros: I64) -> I64 | None:
    """The bias of step ``t`` (``None``: the neurons' own): a bias input's, or 0 before the
    layer's ``bias_start`` (its biases start with its first input)."""
    if t < p.bias_start:
        return zeros
    return input_bias


def emulate_reference(graph: QGraph, batch: BatchInput, *, probe_uv: bool = True) -> Recording:
    """The int64 oracle: Lava's step-major SPK phase order, every Dense sum in int64."""
    t0 = time.perf_counter()
    B, T = batch.batch, batch.num_steps
    ops = layer_ops(graph)
    dense = [None if o.synapse is None else o.synapse.step(B) for o in ops]
    rec = [None if o.recurrent is None else o.recurrent.step(B) for o in ops]
    lif = [o.lif for o in ops]

    input_bias = None
    if batch.kind == InputKind.BIAS:
        input_bias = bias_from_mantissa(batch.data, lif[0].bias_exp[None, :])

    sizes = graph.sizes
    u = [np.zeros((B, n), np.int64) for n in sizes]
    v = [np.zeros((B, n), np.int64) for n in sizes]
    spikes = [np.zeros((B, T, n), np.uint8) for n in sizes]
    us = [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None
    vs = [np.zeros((B, T, n), np.int64) for n in sizes] if probe_uv else None
    zeros_in = [np.zeros((B, n), np.int64) for n in sizes]
    resets = [p.reset_steps(T) for p in lif]

    for t in range(T):
        s_prev: npt.NDArray[np.generic] | None = (
            batch.data[:, t] if batch.kind == InputKind.SPIKES else None
        )
        for i in range(len(sizes)):
            a_in = zeros_in[i]
            d, r = dense[i], rec[i]
            if d is not None:
                a_in = d.send()
                if s_prev is not None:  # a layer with a synapse always has an input
                    d.receive(s_prev)
            if r is not None:
                a_in = a_in + r.send()
            bias = _step_bias(lif[i], t, input_bias if i == 0 else None, zeros_in[i])
            if resets[i][t]:  # Lava's LIFReset
                u[i], v[i] = np.zeros_like(u[i]), np.zeros_like(v[i])
            u[i], v[i], s = lif_step(u[i], v[i], a_in, lif[i], bias)
            if r is not None:
                r.receive(s)
            spikes[i][:, t] = s
            if us is not None and vs is not None:
                us[i][:, t] = u[i]
                vs[i][:, t] = v[i]
            s_prev = s

    return Recording.from_layers(spikes, us, vs, "golden-int64", {"run": time.perf_counter() - t0})
