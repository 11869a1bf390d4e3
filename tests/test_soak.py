"""Long runs leak nothing: 50 LavaSession cycles, and one 20,000-step stream through one runtime.

Measured from /proc before and after: open file descriptors, /dev/shm entries this process could
have left behind (see :func:`shm_entries`), OS threads, live child processes (Python's resource
tracker excepted) and resident memory. The bounds are stated below; the figures are printed
(``pytest -s``) for the record.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.lava import LavaSession
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer

from proc_table import children_alive

pytestmark = [pytest.mark.lava, pytest.mark.slow]

CYCLES = 50
STREAM_STEPS = 20_000
MAX_FD_GROWTH = 0  # descriptors: exactly as many as before
MAX_SHM_GROWTH = 0  # /dev/shm entries: none left behind
MAX_THREAD_GROWTH = 1  # OS threads: one may still be on its way out
MAX_RSS_GROWTH_MB = 40.0  # resident memory: allocator noise, not a leak (about 0.8 MB a cycle)


def _referenced_shm() -> set[str]:
    """Names under /dev/shm that some live process has open or mapped."""
    used: set[str] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as f:
                used.update(line.split("/dev/shm/", 1)[1].split()[0] for line in f
                            if "/dev/shm/" in line)  # fmt: skip
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    used.add(target[len("/dev/shm/") :].split("/")[0])
        except OSError:  # the process ended, or is not ours to read
            continue
    return used


def shm_entries() -> int:
    """/dev/shm entries a leak of this process would leave: its own ``lavabridge-<pid>-`` folders,
    and segments that no live process has open or mapped. (Another live run's folders and
    segments, e.g. a parallel test worker's, are not counted.)"""
    if not os.path.isdir("/dev/shm"):
        return 0
    ours, used = f"lavabridge-{os.getpid()}-", _referenced_shm()
    return sum(
        1 for name in os.listdir("/dev/shm")
        if name.startswith(ours) or (not name.startswith("lavabridge-") and name not in used)
    )  # fmt: skip


@dataclass(frozen=True)
class Usage:
    fds: int
    shm: int
    threads: int
    children: int
    rss_mb: float

    @classmethod
    def now(cls) -> Usage:
        with open("/proc/self/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        return cls(
            fds=len(os.listdir("/proc/self/fd")),
            shm=shm_entries(),
            threads=len(os.listdir("/proc/self/task")),
            children=len(children_alive(os.getpid())),
            rss_mb=rss / 1024,
        )


def _assert_no_growth(before: Usage, after: Usage, what: str) -> None:
    print(f"\n{what}: before {before}\n{what}: after  {after}")
    assert after.fds - before.fds <= MAX_FD_GROWTH, (before, after)
    assert after.shm - before.shm <= MAX_SHM_GROWTH, (before, after)
    assert after.threads - before.threads <= MAX_THREAD_GROWTH, (before, after)
    assert after.children == before.children, (before, after)
    assert after.rss_mb - before.rss_mb <= MAX_RSS_GROWTH_MB, (before, after)


def _graph() -> QGraph:
    rng = np.random.default_rng(1)
    return QGraph(
        8,
        (
            QLayer("a", QCubaLIF(16, 300, 200, 30), QDense(rng.integers(-100, 255, (16, 8)))),
            QLayer("b", QCubaLIF(3, 300, 200, 30), QDense(rng.integers(-100, 255, (3, 16)))),
        ),
        name="soak",
    )


def test_fifty_session_cycles_leak_nothing() -> None:
    graph = _graph()
    x = (np.random.default_rng(2).random((4, 10, 8)) < 0.3).astype(np.int8)
    golden = emulate(graph, x, probe_uv=True)
    for _ in range(2):  # warm-up: imports, Lava's caches, the resource tracker
        with LavaSession(graph, 10, chunk=4, probe_uv=True) as s:
            s.run(x)
    before = Usage.now()
    t0 = time.monotonic()
    for _ in range(CYCLES):
        with LavaSession(graph, 10, chunk=4, probe_uv=True) as s:
            assert golden.first_mismatch(s.run(x)) is None
    print(f"\n{CYCLES} cycles in {time.monotonic() - t0:.1f} s")
    after = Usage.now()
    _assert_no_growth(before, after, f"{CYCLES} open/run/close cycles")
    assert after.children == 0


def test_a_long_stream_through_one_runtime_leaks_nothing() -> None:
    graph = _graph()
    T, per_call = 20, 100  # 100 samples x 20 steps per run call
    rng = np.random.default_rng(3)
    calls = STREAM_STEPS // (T * per_call)
    with LavaSession(graph, T, chunk=per_call) as session:
        x = (rng.random((per_call, T, 8)) < 0.3).astype(np.int8)
        assert emulate(graph, x).first_mismatch(session.run(x)) is None  # compiled and warm
        before = Usage.now()  # (the golden emulator's thread pool, too, exists from here on)
        steps = per_call * T
        for _ in range(calls - 1):
            x = (rng.random((per_call, T, 8)) < 0.3).astype(np.int8)
            rec = session.run(x)
            assert emulate(graph, x).first_mismatch(rec) is None
            steps += per_call * T
        during = Usage.now()
    assert steps == STREAM_STEPS
    print(f"\n{steps} steps through one runtime")
    _assert_no_growth(before, during, f"{steps}-step stream (inside the session)")
    after = Usage.now()
    assert after.children == 0 and after.shm <= before.shm, (before, after)
