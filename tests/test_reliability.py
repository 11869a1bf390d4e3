"""Signals stop Lava cleanly: real subprocesses, real signals, then the process table and outputs.

Each case starts ``lavabridge run --backend lava`` (or a Python script with a ``LavaSession``) in a
new session, waits until its Lava workers run, sends a signal, and then checks the exit code, the
time to stop, the one-line message, that no process of the session is left alive (zombies are
init's to reap) and that no output (nor temporary file) was written.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.quant.serialize import save_qgraph

from proc_table import session_alive

pytestmark = pytest.mark.lava

LAVABRIDGE = Path(sys.executable).parent / "lavabridge"
MIN_WORKERS = 8  # Lava is running once the session holds this many processes


def _model(tmp: Path, samples: int = 4000) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    g = QGraph(
        16,
        (
            QLayer("h", QCubaLIF(32, 500, 200, 40), QDense(rng.integers(-200, 255, (32, 16)))),
            QLayer("o", QCubaLIF(4, 500, 200, 40), QDense(rng.integers(-200, 255, (4, 32)))),
        ),
        name="long-run",
    )
    model = save_qgraph(g, tmp / "m.lbq")
    x = (rng.random((samples, 20, 16)) < 0.3).astype(np.int8)  # ~2-3 minutes on Lava
    np.save(tmp / "x.npy", x)
    return model, tmp / "x.npy"


def _default_hangup() -> None:
    # a test runner started under nohup passes SIGHUP ignored, and lavabridge keeps an inherited
    # ignore (as nohup asks); the child here is a terminal session's command, hang-ups default
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_default_hangup,
    )  # fmt: skip


def _wait_for_lava(proc: subprocess.Popen[str], timeout: float = 90.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(
                f"exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}"
            )
        if len(session_alive(proc.pid)) >= MIN_WORKERS:
            time.sleep(1.0)  # inside the run, past compilation
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail("Lava did not start")


def _signal_and_wait(proc: subprocess.Popen[str], sig: int, group: bool) -> tuple[int, float, str]:
    t0 = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"{signal.Signals(sig).name} did not stop the process within 20 s")
    return proc.returncode, time.monotonic() - t0, err


def _no_process_left(sid: int, within: float = 5.0) -> None:
    t0 = time.monotonic()
    while session_alive(sid) and time.monotonic() - t0 < within:
        time.sleep(0.1)
    assert session_alive(sid) == [], f"processes left: {session_alive(sid)}"


@pytest.mark.parametrize(
    ("sig", "group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143), (signal.SIGHUP, False, 129)],
)
def test_cli_run_stops_on_signals(sig: int, group: bool, code: int, tmp_path: Path) -> None:
    model, x = _model(tmp_path)
    out = tmp_path / "rec.npz"
    proc = _start([str(LAVABRIDGE), "run", str(model), "--input", str(x), "--backend", "lava",
                   "--out", str(out)], tmp_path)  # fmt: skip
    _wait_for_lava(proc)
    rc, took, err = _signal_and_wait(proc, sig, group)
    name = signal.Signals(sig).name
    assert rc == code, err
    assert took < 2.0, f"{name}: stopped after {took:.2f} s"
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("lavabridge:")]
    assert lines == [lines[0]] and f"run interrupted by {name}" in lines[0], err
    assert "Lava run of graph 'long-run'" in lines[0] and "Traceback" not in err
    _no_process_left(proc.pid, within=1.0)
    assert not out.exists() and not list(tmp_path.glob(".*tmp*")), "partial output written"


def test_cli_parent_killed_takes_its_workers_along(tmp_path: Path) -> None:
    model, x = _model(tmp_path)
    proc = _start([str(LAVABRIDGE), "run", str(model), "--input", str(x), "--backend", "lava",
                   "--out", str(tmp_path / "rec.npz")], tmp_path)  # fmt: skip
    _wait_for_lava(proc)
    workers = session_alive(proc.pid)
    assert len(workers) >= MIN_WORKERS
    proc.kill()  # SIGKILL: no cleanup code of the parent runs
    proc.wait()
    _no_process_left(proc.pid, within=5.0)  # parent-death signal in every worker


SCRIPT = """
import multiprocessing, sys, numpy as np
from lavabridge.backends.lava import LavaSession
from lavabridge.quant.serialize import load_qgraph
graph = load_qgraph(sys.argv[1])
x = np.load(sys.argv[2])
try:
    with LavaSession(graph, 20, chunk=64) as session:
        session.run(x)
    print("finished")
except KeyboardInterrupt as exc:
    alive = [p.pid for p in multiprocessing.active_children() if p.is_alive()]
    print(f"propagated {type(exc).__name__} {getattr(exc, 'signame', '')} children={alive}")
    sys.exit(7)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_python_api_cleans_up_then_propagates(sig: int, tmp_path: Path) -> None:
    model, x = _model(tmp_path)
    script = tmp_path / "api.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = _start([sys.executable, str(script), str(model), str(x)], tmp_path)
    _wait_for_lava(proc)
    t0 = time.monotonic()
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 7, err
    assert f"propagated Interrupted {signal.Signals(sig).name} children=[]" in out, (out, err)
    _no_process_left(proc.pid, within=1.0)


@pytest.mark.slow
def test_python_api_parent_killed_takes_its_workers_along(tmp_path: Path) -> None:
    model, x = _model(tmp_path)
    script = tmp_path / "api.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = _start([sys.executable, str(script), str(model), str(x)], tmp_path)
    _wait_for_lava(proc)
    proc.kill()
    proc.wait()
    _no_process_left(proc.pid, within=5.0)


def test_cli_verify_interrupted_writes_no_report(tmp_path: Path) -> None:
    model, x = _model(tmp_path, samples=3000)
    out = tmp_path / "report"
    proc = _start([str(LAVABRIDGE), "verify", str(model), "--input", str(x), "--out", str(out)],
                  tmp_path)  # fmt: skip
    _wait_for_lava(proc)
    rc, took, err = _signal_and_wait(proc, signal.SIGTERM, group=False)
    assert rc == 143 and took < 2.0, err
    assert "verify interrupted by SIGTERM" in err
    _no_process_left(proc.pid, within=1.0)
    assert not out.exists() or not any(out.iterdir()), "a partial report was written"


def test_stale_workdirs_of_dead_processes_are_removed() -> None:
    """A SIGKILLed run leaves its /dev/shm folder; the next run removes it, and only it: folders of
    live processes, of other PID namespaces (containers sharing /dev/shm) and unknown names stay."""
    from lavabridge.backends.streaming import pid_namespace, workdir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    ns = pid_namespace()
    base = workdir("probe")
    root = base.parent
    made = {
        "dead": root / f"lavabridge-{dead}-{ns}-session-test",
        "live": root / f"lavabridge-{os.getpid()}-{ns}-session-test",
        "other namespace": root / f"lavabridge-{dead}-1{ns}-session-test",
        "unknown": root / "lavabridge-notes",
    }
    try:
        for path in made.values():
            path.mkdir()
            (path / "rows.i32").write_bytes(b"\0" * 64)
        fresh = workdir("probe")
        assert not made["dead"].exists()
        assert all(made[k].exists() for k in ("live", "other namespace", "unknown"))
        fresh.rmdir()
    finally:
        base.rmdir()
        for path in made.values():
            shutil.rmtree(path, ignore_errors=True)
