"""A Lava runtime that always stops: on signals, crashed or dead workers, stalls, a dead parent.

Lava's CPU simulator runs every process model, every runtime service and a shared-memory manager
as forked OS processes, and on its own it hangs or leaks them in four situations (lava-nc 0.10):
a worker that dies (the parent waits forever), a stop after a model raised (it waits forever),
SIGTERM to the parent (the workers stay, re-parented to init), and SIGINT to the process group
(every worker gets it too). :class:`WatchedRuntime` wraps the runtime of one process graph:

* **children**: processes forked while it compiles ignore SIGINT / SIGTERM / SIGHUP (the parent
  decides when they stop) and get ``PR_SET_PDEATHSIG = SIGKILL``, so they die with the parent even
  when it is SIGKILLed or killed for memory;
* **signals**: during compile and run, SIGINT / SIGTERM / SIGHUP raise
  :class:`~lavabridge.signals.Interrupted` in the main thread (:mod:`lavabridge.signals`);
* **watchdog**: a thread checks the workers (a dead one is reported by the name of its Lava
  process and its exit code; one that exited cleanly, with code 0, only after
  ``CLEAN_EXIT_GRACE_S``, as Lava's own error path ends the others so while it reports a model's
  exception) and the graph's heartbeat (a step counter the recorders write); on a death, or no
  step progress for ``stall_timeout`` seconds, it interrupts the main thread with a
  :class:`~lavabridge.errors.LavaRuntimeError`;
* **stop**: Lava's own stop, bounded in time (``stop_timeout``), then SIGKILL of every worker
  still alive, and removal of the shared-memory segments they held. After a crash, a dead worker
  or a stall Lava's stop would block, so it is skipped.

This relies on lava-nc 0.10's runtime internals (``runtime._messaging_infrastructure``, its
``actors`` and shared-memory manager); ``tests/test_reliability.py`` checks every case against
real Lava with real signals.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lavabridge.errors import LavaRuntimeError
from lavabridge.signals import SIGNALS, handle_signals, install_wakeup

_PR_SET_PDEATHSIG = 1
_WAKE = signal.SIGUSR1
CLEAN_EXIT_GRACE_S = 2.0  # a worker gone with exit code 0: wait this long for Lava's own report


class _ChildPolicy:
    """Whether a fork happens inside :meth:`WatchedRuntime.compile` (read in the forked child)."""

    def __init__(self) -> None:
        self.armed = False
        self.parent = 0
        self.registered = False


_POLICY = _ChildPolicy()


def _after_fork_in_child() -> None:
    if not _POLICY.armed:
        return
    _POLICY.armed = False  # a worker's own children (if a model forks) are not Lava workers
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):  # not Linux: no parent-death signal
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _POLICY.parent:  # the parent died before the death signal was armed
        os._exit(1)


def _arm_children() -> None:
    if not _POLICY.registered:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _POLICY.registered = True
    _POLICY.parent = os.getpid()
    _POLICY.armed = True


@dataclass
class _Worker:
    name: str  # the Lava process it runs, or what it is
    process: Any  # multiprocessing.Process


@dataclass
class WatchedRuntime:
    """The runtime of the process graph around ``entry``, watched and always stoppable.

    Parameters
    ----------
    entry : a Lava process of the graph (``create_runtime`` / ``run`` / ``stop`` are called on it)
    what : how errors name the graph (e.g. ``"Lava run of graph 'digits-snn'"``)
    heartbeat : a raw int64 file whose first value the graph's recorders set to the time step
    stall_timeout : seconds without step progress before the run is aborted (``None``: never)
    stop_timeout : seconds Lava's own stop may take before the workers are killed
    """

    entry: Any
    what: str
    heartbeat: Path | None = None
    stall_timeout: float | None = 120.0
    stop_timeout: float = 1.5  # callers pass their own (LavaSession: 30 s, 1.5 s after errors)
    workers: list[_Worker] = field(default_factory=list)
    broken: bool = False  # a worker crashed, died or stalled: Lava's stop would block
    started: bool = False
    _reason: BaseException | None = None
    _handles: list[Any] = field(default_factory=list)

    # ------------------------------------------------------------------ compile and run
    def compile(self, run_cfg: Any) -> None:
        """``create_runtime`` with armed children and signals; records the workers."""
        _arm_children()
        try:
            with handle_signals():
                self.entry.create_runtime(run_cfg=run_cfg)
        except Exception as exc:
            raise LavaRuntimeError(f"{self.what}: Lava could not compile it: {exc}") from exc
        finally:
            _POLICY.armed = False
            self._collect()  # also after a failed compile: its workers must be stopped too
        self.started = True

    def run(self, condition: Any, run_cfg: Any) -> None:
        """``run(condition)`` under the watchdog; Lava's errors become a typed error."""
        try:
            with handle_signals(), self._watch():
                self.entry.run(condition=condition, run_cfg=run_cfg)
            self._raise_reason()  # the watchdog fired as the run returned
        except LavaRuntimeError:  # the watchdog's: a dead worker or a stall
            self.broken = True
            raise
        except RuntimeError as exc:  # Lava's "N Exception(s) occurred", or its wrong responses
            self.broken = True
            raise LavaRuntimeError(f"{self.what}: {self._failures() or exc}") from exc

    def _collect(self) -> None:
        """The worker processes and shared-memory segments of the runtime (Lava internals)."""
        runtime = getattr(self.entry, "_runtime", None)
        infra = getattr(runtime, "_messaging_infrastructure", None)
        if runtime is None or infra is None:
            return
        builders = getattr(getattr(runtime, "_executable", None), "proc_builders", {})
        names = [getattr(p, "name", "?") for p, b in builders.items()
                 if type(b).__name__ == "PyProcessBuilder"]  # fmt: skip
        actors = list(getattr(infra, "actors", []))
        self.workers = [
            _Worker(names[i] if i < len(names) else f"runtime service {i - len(names)}", a)
            for i, a in enumerate(actors)
        ]
        smm = getattr(infra, "smm", None)
        manager = getattr(getattr(smm, "_manager", None), "_process", None)
        if manager is not None:
            self.workers.append(_Worker("shared-memory manager", manager))
        self._handles = list(getattr(smm, "_shared_memory_handles", []))

    def _failures(self) -> str:
        """The Lava processes whose model raised, with their exception (joined workers only)."""
        out = []
        for w in self.workers:
            exc = getattr(w.process, "_exception", None)
            if exc:
                error, trace = exc
                last = str(trace).strip().splitlines()[-1] if trace else repr(error)
                out.append(f"the model of Lava process '{w.name}' raised {last}")
        return "; ".join(out)

    # ------------------------------------------------------------------ watchdog
    def _watch(self) -> _Watchdog:
        return _Watchdog(self)

    def _dead_worker(self) -> _Worker | None:
        for w in self.workers:
            code = w.process.exitcode if getattr(w.process, "_popen", None) else None
            if code is not None:
                return w
        return None

    def _step(self) -> int:
        if self.heartbeat is None or not self.heartbeat.exists():
            return -1
        try:
            return int(np.fromfile(self.heartbeat, dtype=np.int64, count=1)[0])
        except (OSError, IndexError, ValueError):
            return -1

    def _raise_reason(self) -> None:
        reason, self._reason = self._reason, None
        if reason is not None:
            raise reason

    # ------------------------------------------------------------------ stop
    def stop(self, timeout: float | None = None) -> None:
        """Stop the runtime (Lava's stop for at most ``timeout`` seconds, default
        ``stop_timeout``), then kill every worker left and release the shared memory."""
        stopped = False
        if self.started and not self.broken:
            done = threading.Event()

            def lava_stop() -> None:
                with contextlib.suppress(BaseException):  # the workers are killed below anyway
                    self.entry.stop()
                done.set()

            threading.Thread(target=lava_stop, name="lava-stop", daemon=True).start()
            stopped = done.wait(self.stop_timeout if timeout is None else timeout)
        self.started = False
        self._kill_workers()
        self._release_shm(unlink=not stopped)

    def _kill_workers(self) -> None:
        for w in self.workers:
            p = w.process
            if getattr(p, "_popen", None) is None:
                continue
            if p.exitcode is None:
                try:
                    p.kill()
                except (OSError, ValueError):  # already gone / closed by Lava
                    continue
            try:  # Lava's SystemProcess.join takes no timeout: the base class's does
                multiprocessing.Process.join(p, 1.0)
            except (AssertionError, ValueError):  # not our child / closed
                continue
        self.workers.clear()

    def _release_shm(self, unlink: bool) -> None:
        """Close our mappings of the segments; without Lava's stop (its shared-memory manager was
        killed) also unlink them, which removes them from Python's resource tracker too."""
        for handle in self._handles:
            with contextlib.suppress(OSError, BufferError):
                handle.close()
            if unlink:
                with contextlib.suppress(OSError):  # FileNotFoundError: already removed
                    handle.unlink()
        self._handles = []


class _Watchdog:
    """Within a ``run``: interrupt the main thread when a worker dies or the steps stall."""

    def __init__(self, rt: WatchedRuntime) -> None:
        self.rt = rt
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.previous: Any = None
        self.active = False
        self.main = 0

    def __enter__(self) -> _Watchdog:
        if threading.current_thread() is not threading.main_thread():
            return self  # no way to interrupt the caller: Lava's own error handling only
        self.main = threading.get_ident()
        self.active = True
        self.previous = install_wakeup(_WAKE, self._wake)
        self.thread = threading.Thread(target=self._loop, name="lava-watchdog", daemon=True)
        self.thread.start()
        return self

    def _wake(self) -> None:
        if self.active:  # after __exit__ began, WatchedRuntime.run raises the reason itself
            self.rt._raise_reason()

    def __exit__(self, *_: object) -> None:
        self.active = False
        self.stop.set()
        if self.thread is None:
            return
        self.thread.join()
        signal.pthread_sigmask(signal.SIG_BLOCK, {_WAKE})
        try:
            signal.sigtimedwait({_WAKE}, 0)  # a wake-up sent but not delivered yet: consumed
            signal.signal(_WAKE, self.previous)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {_WAKE})

    def _loop(self) -> None:
        rt = self.rt
        step, since = rt._step(), time.monotonic()
        clean_exit: float | None = None  # when a worker was first seen gone with exit code 0
        while not self.stop.wait(0.1):
            dead = rt._dead_worker()
            reason: BaseException | None = None
            if dead is not None and dead.process.exitcode == 0:
                # Lava's own error path ends the other workers cleanly while it reports a model's
                # exception to the caller: give that report CLEAN_EXIT_GRACE_S to arrive first
                clean_exit = time.monotonic() if clean_exit is None else clean_exit
                if time.monotonic() - clean_exit < CLEAN_EXIT_GRACE_S:
                    continue
            if dead is not None:
                code = dead.process.exitcode
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                reason = LavaRuntimeError(
                    f"{rt.what}: the worker of Lava process '{dead.name}' died ({how})"
                )
            else:
                now = rt._step()
                if now != step:
                    step, since = now, time.monotonic()
                elif rt.stall_timeout is not None and time.monotonic() - since > rt.stall_timeout:
                    reason = LavaRuntimeError(
                        f"{rt.what}: no step progress for {rt.stall_timeout:g} s (at time step "
                        f"{max(step, 0)}); the runtime was aborted (stall_timeout)"
                    )
            if reason is not None:
                rt.broken = True
                rt._reason = reason
                signal.pthread_kill(self.main, _WAKE)
                return
