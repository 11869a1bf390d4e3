"""Crashes and stalls inside Lava reach the caller as typed errors, in seconds, never as a hang.

Real Lava throughout: a process model that raises or exits (``lava_faults.Faulty``), a worker of a
running ``LavaSession`` killed or stopped from outside, a netx run with a dead worker. After each
failure no worker process is left.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lavabridge.backends.lava import LavaSession
from lavabridge.backends.runtime import WatchedRuntime
from lavabridge.errors import LavaRuntimeError
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer

from proc_table import children_alive

pytestmark = pytest.mark.lava


def _faulty_graph(mode: str) -> tuple[object, object]:
    from lava.proc.lif.process import LIF

    from lava_faults.process import Faulty

    lif = LIF(shape=(3,), du=0, dv=0, vth=1, bias_mant=np.full(3, 100), bias_exp=6, name="src")
    bad = Faulty(shape=(3,), at_step=5, mode=mode, name="faulty.sink")
    lif.s_out.connect(bad.a_in)
    return lif, bad


def _cfg() -> object:
    from lava.magma.core.run_configs import Loihi2SimCfg

    return Loihi2SimCfg(select_tag="fixed_pt")


def _steps(n: int) -> object:
    from lava.magma.core.run_conditions import RunSteps

    return RunSteps(num_steps=n)


def _no_children_left(within: float = 3.0) -> None:
    t0 = time.monotonic()
    while children_alive(os.getpid()) and time.monotonic() - t0 < within:
        time.sleep(0.05)
    assert children_alive(os.getpid()) == [], children_alive(os.getpid())
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("raise", r"model of Lava process 'faulty\.sink' raised ValueError: faulty model: boom"),
        ("exit", r"worker of Lava process 'faulty\.sink' died \(exit code 3\)"),
    ],
)
def test_a_failing_model_is_a_typed_error_naming_the_process(mode: str, message: str) -> None:
    entry, _ = _faulty_graph(mode)
    rt = WatchedRuntime(entry, "test graph", stall_timeout=None)
    rt.compile(_cfg())
    t0 = time.monotonic()
    try:
        with pytest.raises(LavaRuntimeError, match=message):
            rt.run(_steps(50), _cfg())
        assert time.monotonic() - t0 < 10.0
    finally:
        rt.stop(1.0)
    _no_children_left()


def _graph() -> QGraph:
    rng = np.random.default_rng(1)
    return QGraph(
        8,
        (
            QLayer("hid", QCubaLIF(16, 300, 200, 30), QDense(rng.integers(-100, 255, (16, 8)))),
            QLayer("out", QCubaLIF(3, 300, 200, 30), QDense(rng.integers(-100, 255, (3, 16)))),
        ),
        name="victim",
    )


def _long_input() -> np.ndarray:
    return (np.random.default_rng(2).random((2000, 20, 8)) < 0.3).astype(np.int8)


def _hit_a_worker(after: float, sig: int) -> threading.Timer:
    def hit() -> None:
        workers = children_alive(os.getpid())
        os.kill(workers[len(workers) // 2], sig)  # a process model, not the first fork

    timer = threading.Timer(after, hit)
    timer.start()
    return timer


def test_a_killed_worker_of_a_session_is_reported_within_seconds() -> None:
    session = LavaSession(_graph(), 20, chunk=500)
    session.run(_long_input()[:2])  # compiled and running
    timer = _hit_a_worker(1.0, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(LavaRuntimeError, match=r"worker of Lava process '.+' died \(signal 9\)"):
        session.run(_long_input())
    timer.join()
    assert time.monotonic() - t0 < 10.0
    _no_children_left()


def test_a_stalled_run_is_aborted_after_the_stall_timeout() -> None:
    session = LavaSession(_graph(), 20, chunk=500, stall_timeout=2.0)
    session.run(_long_input()[:2])
    timer = _hit_a_worker(1.0, signal.SIGSTOP)  # the worker stops: no step progress any more
    t0 = time.monotonic()
    with pytest.raises(LavaRuntimeError, match=r"no step progress for 2 s .*stall_timeout"):
        session.run(_long_input())
    timer.join()
    took = time.monotonic() - t0
    assert 2.0 < took < 10.0, took
    _no_children_left()


def test_the_session_works_again_after_a_failure(tmp_path: Path) -> None:
    """A failed session is closed; a new one in the same process runs normally."""
    from lavabridge.backends.golden import emulate

    session = LavaSession(_graph(), 20, chunk=500)
    session.run(_long_input()[:2])
    timer = _hit_a_worker(0.5, signal.SIGKILL)
    with pytest.raises(LavaRuntimeError):
        session.run(_long_input())
    timer.join()
    x = _long_input()[:5]
    with LavaSession(_graph(), 20, probe_uv=True) as again:
        rec = again.run(x)
    assert emulate(_graph(), x, probe_uv=True).first_mismatch(rec) is None
    _no_children_left()
