"""LavaSession: compile a QGraph once on Lava's CPU simulator and stream batches through it.

Sample ``g`` of the session (counting over all ``run`` calls) occupies Lava time steps
``g*T + 1 .. (g+1)*T``. At the end of its last step, :class:`StateTap` processes zero every LIF's
``u``, ``v`` and every Dense's ``a_buff`` (and load the next sample's bias for a bias-input graph),
so each sample starts from rest exactly as the golden emulator assumes. Spikes (and u, v when
probed) are written by the recording processes into memory-mapped files and read in bulk.

The runtime is always stopped: use the session as a context manager, or call :func:`run_lava`
for a one-shot run. It stops on exceptions, on SIGINT / SIGTERM / SIGHUP (raised as
:class:`~lavabridge.signals.Interrupted`, a ``KeyboardInterrupt``, after the cleanup), when a Lava
worker crashes or dies, and when the run makes no step progress for ``stall_timeout`` seconds
(:class:`~lavabridge.errors.LavaRuntimeError`); its workers die with the parent process
(:mod:`lavabridge.backends.runtime`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.backends.inputs import BatchInput, prepare_input
from lavabridge.backends.runtime import WatchedRuntime
from lavabridge.backends.streaming import StreamingGraph, build_streaming_graph, workdir
from lavabridge.conv import whc_to_chw
from lavabridge.errors import InputError, LavaRuntimeError
from lavabridge.exporters.lava import to_lava_order
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind
from lavabridge.signals import Interrupted, deferred, handle_signals

QUICK_STOP_S = 1.5  # after an error or an interruption: Lava's stop, then the workers are killed
STOP_S = 30.0  # a healthy runtime: Lava's own stop gets this long


class LavaSession:
    """A QGraph compiled to Lava processes on ``Loihi2SimCfg(select_tag=...)``.

    Parameters
    ----------
    graph : QGraph
    num_steps : int
        Time steps per sample (T); fixed for the session.
    probe_uv : bool
        Record u and v of every layer at every step (adds a management phase per step).
    chunk : int
        Samples per ``run`` call of the Lava runtime (the size of the shared files).
    select_tag : str
        ``"fixed_pt"`` (bit-accurate models) by default.
    progress : bool
        Show a progress bar over chunks.
    stall_timeout : float or None
        Abort a run that makes no step progress for this many seconds (``None``: never).
    stop_timeout : float
        Seconds Lava's own stop may take when the session closes before its workers are killed.

    Examples
    --------
    >>> with LavaSession(graph, num_steps=32) as lava:      # doctest: +SKIP
    ...     rec = lava.run(spikes)                           # [B, 32, n_in] -> Recording
    """

    def __init__(
        self,
        graph: QGraph,
        num_steps: int,
        *,
        probe_uv: bool = False,
        chunk: int = 32,
        select_tag: str = "fixed_pt",
        progress: bool = False,
        stall_timeout: float | None = 120.0,
        stop_timeout: float = STOP_S,
    ) -> None:
        if num_steps < 1:
            raise InputError(f"num_steps must be >= 1, got {num_steps}")
        if chunk < 1:
            raise InputError(f"chunk must be >= 1, got {chunk}")
        self.graph = graph
        self.num_steps = int(num_steps)
        self.probe_uv = probe_uv
        self.chunk = int(chunk)
        self.select_tag = select_tag
        self.progress = progress
        self.stall_timeout = stall_timeout
        self.stop_timeout = float(stop_timeout)
        self.timings: dict[str, float] = {}
        self._workdir: Path | None = None
        self._sg: StreamingGraph | None = None
        self._rt: WatchedRuntime | None = None
        self._run_cfg: Any = None
        self._next_sample = 0  # global index of the next sample to run
        self._maps: dict[str, np.memmap] = {}

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> LavaSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, *, stop_timeout: float | None = None) -> None:
        """Stop the Lava runtime (if started) and delete the shared files. Idempotent.

        Lava's own stop gets ``stop_timeout`` seconds (default: the session's), then every worker
        still alive is killed. Signals arriving meanwhile are held until the cleanup is done.
        """
        t0 = time.perf_counter()
        rt, self._rt = self._rt, None
        self._sg = None
        with handle_signals(), deferred():
            try:
                if rt is not None:
                    rt.stop(self.stop_timeout if stop_timeout is None else stop_timeout)
            finally:
                self._maps.clear()
                if self._workdir is not None:
                    shutil.rmtree(self._workdir, ignore_errors=True)
                    self._workdir = None
                self.timings["stop"] = self.timings.get("stop", 0.0) + time.perf_counter() - t0

    def _start(self, batch: BatchInput) -> StreamingGraph:
        from lava.magma.core.run_configs import Loihi2SimCfg

        t0 = time.perf_counter()
        self._workdir = workdir("session")
        first_bias = batch.data[0] if batch.kind == InputKind.BIAS else None
        sg = build_streaming_graph(
            self.graph,
            self.num_steps,
            self.chunk,
            self._workdir,
            probe_uv=self.probe_uv,
            first_bias=first_bias,
        )
        self._sg = sg
        self._run_cfg = Loihi2SimCfg(select_tag=self.select_tag)
        t1 = time.perf_counter()
        self.timings["build"] = t1 - t0
        what = f"Lava run of graph '{self.graph.name}'"
        self._rt = WatchedRuntime(sg.entry(), what, sg.heartbeat, self.stall_timeout)
        self._rt.compile(self._run_cfg)
        self.timings["compile"] = time.perf_counter() - t1
        for key, path in sg.files.items():
            n_rows = self.chunk + 1 if key == "bias" else self.chunk * self.num_steps
            shape = (n_rows, *sg.shapes[key])
            self._maps[key] = np.memmap(path, dtype=np.int32, mode="r+", shape=shape)
        return sg

    # ----------------------------------------------------------------- running
    def run(self, x: npt.ArrayLike) -> Recording:
        """Run a batch (spikes ``[B, T, n_in]`` or bias ``[B, n_in]``) and return its Recording."""
        batch = prepare_input(self.graph, x, self.num_steps)
        if batch.num_steps != self.num_steps:
            raise InputError(
                f"session runs T={self.num_steps} steps, input has T={batch.num_steps}"
            )
        intervals = [int(getattr(ly.neuron, "reset_interval", 0)) for ly in self.graph.layers]
        if any(r > 0 and self.num_steps % r for r in intervals) and self._next_sample > 0:
            raise InputError(
                f"graph '{self.graph.name}': T={self.num_steps} is not a multiple of a layer's "
                f"reset_interval {max(intervals)}, so only the session's first sample has the "
                "reset phase the golden emulator assumes; open a new session per sample"
            )
        try:
            return self._run(batch)
        except BaseException as exc:
            self.close(stop_timeout=QUICK_STOP_S)  # never leave Lava processes behind
            if isinstance(exc, Interrupted) and not exc.during:
                exc.during = (f"the Lava run of graph '{self.graph.name}' (sample "
                              f"{self._next_sample} of the session); its runtime was stopped")  # fmt: skip
            raise

    def _run(self, batch: BatchInput) -> Recording:
        from lava.magma.core.run_conditions import RunSteps

        first_call = self._sg is None
        sg = self._sg if self._sg is not None else self._start(batch)
        B, T, C = batch.batch, self.num_steps, self.chunk
        sizes = self.graph.sizes
        spikes = [np.zeros((B, T, n), np.uint8) for n in sizes]
        us = [np.zeros((B, T, n), np.int64) for n in sizes] if self.probe_uv else None
        vs = [np.zeros((B, T, n), np.int64) for n in sizes] if self.probe_uv else None
        if batch.kind == InputKind.BIAS and not first_call:
            # the tap loaded a stale row at the end of the previous call: set this one directly
            first = sg.network.layers[0].neuron
            if first.input_var is not None:
                row = to_lava_order(batch.data[0], self.graph.shapes[0])
                first.var(first.input_var).set(row.astype(np.int32))
        t_run = t_io = 0.0
        starts = range(0, B, C)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=B, desc=f"lava {self.graph.name}", unit="sample")
        try:
            for b0 in starts:
                b1 = min(B, b0 + C)
                g0 = self._next_sample
                t1 = time.perf_counter()
                self._write_inputs(batch, b0, b1, g0)
                t2 = time.perf_counter()
                self._runtime().run(RunSteps(num_steps=(b1 - b0) * T), self._run_cfg)
                t3 = time.perf_counter()
                self._next_sample += b1 - b0
                self._read_outputs(b0, b1, g0, spikes, us, vs)
                t_io += (t2 - t1) + (time.perf_counter() - t3)
                t_run += t3 - t2
                if bar is not None:
                    bar.update(b1 - b0)
        finally:
            if bar is not None:
                bar.close()
        self.timings["run"] = self.timings.get("run", 0.0) + t_run
        self.timings["io"] = self.timings.get("io", 0.0) + t_io
        return Recording.from_layers(spikes, us, vs, "lava", dict(self.timings))

    def _runtime(self) -> WatchedRuntime:
        if self._rt is None:  # pragma: no cover - _start sets it
            raise LavaRuntimeError(f"graph '{self.graph.name}': the Lava runtime is not running")
        return self._rt

    def _rows(self, g0: int, n: int) -> npt.NDArray[np.int64]:
        """File rows of samples ``g0 .. g0+n-1`` (all their T steps), in sample-major order."""
        T, cap = self.num_steps, self.chunk * self.num_steps
        steps = (g0 * T + np.arange(n * T)) % cap
        return steps.astype(np.int64)

    def _write_inputs(self, batch: BatchInput, b0: int, b1: int, g0: int) -> None:
        n = b1 - b0
        if batch.kind == InputKind.SPIKES:
            steps = batch.data[b0:b1].reshape(n * self.num_steps, -1)
            self._maps["input"][self._rows(g0, n)] = to_lava_order(steps, self.graph.input_shape)
            return
        shape = self.graph.shapes[0]
        # the tap loads sample g's bias at the end of sample g-1, from row g % (chunk + 1);
        # sample g0 was loaded already (or set directly), so write g0+1 .. g0+n-1 (+ the next
        # call's first sample is unknown: it is set directly when that call starts)
        rows = self.chunk + 1
        for j in range(1, n):
            self._maps["bias"][(g0 + j) % rows] = to_lava_order(batch.data[b0 + j], shape)
        if b1 < batch.batch:
            self._maps["bias"][(g0 + n) % rows] = to_lava_order(batch.data[b1], shape)

    def _read_outputs(
        self,
        b0: int,
        b1: int,
        g0: int,
        spikes: list[np.ndarray],
        us: list[np.ndarray] | None,
        vs: list[np.ndarray] | None,
    ) -> None:
        n, T = b1 - b0, self.num_steps
        rows = self._rows(g0, n)
        for i, size in enumerate(self.graph.sizes):
            spikes[i][b0:b1] = self._flat(f"spikes_{i}", rows).reshape(n, T, size)
            if us is not None and vs is not None:
                us[i][b0:b1] = self._flat(f"u_{i}", rows).reshape(n, T, size)
                vs[i][b0:b1] = self._flat(f"v_{i}", rows).reshape(n, T, size)

    def _flat(self, key: str, rows: npt.NDArray[np.int64]) -> np.ndarray:
        """Rows of a shared file in lavabridge's flat C-major order (image files hold (W, H, C))."""
        arr = self._maps[key][rows]
        return whc_to_chw(arr) if arr.ndim == 4 else arr


def run_lava(
    graph: QGraph,
    x: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    probe_uv: bool = False,
    chunk: int = 32,
    progress: bool = False,
) -> Recording:
    """One-shot: compile ``graph``, run the batch ``x``, stop the runtime, return the Recording."""
    batch = prepare_input(graph, x, num_steps)
    with LavaSession(
        graph, batch.num_steps, probe_uv=probe_uv, chunk=chunk, progress=progress
    ) as session:
        return session.run(batch.data)
