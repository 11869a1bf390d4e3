"""Interruptions: SIGINT, SIGTERM and SIGHUP become one typed exception, raised where it is safe.

Inside :func:`handle_signals` (the CLI wraps every command in it; every Lava run is wrapped in it
too) the three signals raise :class:`Interrupted` in the main thread, wherever it is blocked, so
the code above can stop the Lava runtime and remove temporary files before the process exits.
:class:`Interrupted` is a :class:`KeyboardInterrupt`: ``except Exception`` does not swallow it, and
the Python API propagates it after cleaning up. Its ``exit_code`` is the shell's ``128 + signal``
(130, 143, 129).

Inside :func:`deferred` (the few renames that publish a stage's files) a signal is held and
raised when the block ends, so a run directory never holds half of a stage's outputs.

Signal handlers are process-wide by nature; the state here is the one place that knows which of
them lavabridge installed. A SIGHUP that was ignored when the handlers were installed (``nohup``)
stays ignored. Outside the main thread Python cannot install handlers: the blocks are no-ops.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT, SIGTERM or SIGHUP.

    Attributes
    ----------
    signum : int
    signame : str
        ``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"``.
    exit_code : int
        ``128 + signum``: what a shell reports for a process killed by that signal.
    during : str
        What was running (set by the code that cleaned up, e.g. the Lava session).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.signame = signal.Signals(signum).name
        self.during = ""
        super().__init__(f"interrupted by {self.signame}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    """Which handlers lavabridge installed (nesting depth), and the deferred signals."""

    def __init__(self) -> None:
        self.depth = 0
        self.saved: dict[int, Any] = {}
        self.defer = 0
        self.pending: list[int] = []


_STATE = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _STATE.defer:
        _STATE.pending.append(signum)
        return
    raise Interrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _masked() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP held by the kernel inside the block (delivered after it)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _install() -> None:
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        _STATE.saved[int(sig)] = previous
        if sig == signal.SIGHUP and previous == signal.SIG_IGN:
            continue  # nohup: keep ignoring hang-ups
        signal.signal(sig, _handler)


def _restore() -> None:
    for signum, previous in _STATE.saved.items():
        signal.signal(signum, previous)
    _STATE.saved.clear()


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` inside the block (nestable).

    Handlers are installed and restored with the signals blocked, so a signal at the edge of the
    block is either raised inside it or delivered to the previous handler after it, and the
    previous handlers are always back when the outermost block ends.
    """
    if not _in_main_thread():
        yield
        return
    entered = False
    try:
        with _masked():
            if _STATE.depth == 0:
                _install()
            _STATE.depth += 1
            entered = True
        yield
    finally:
        if entered:
            _leave()


def _leave() -> None:
    _STATE.defer += 1  # a handler that still runs now only records its signal
    try:
        with _masked():
            _STATE.depth -= 1
            if _STATE.depth == 0:
                _restore()
    finally:
        _STATE.defer -= 1
    _raise_pending()


def _raise_pending() -> None:
    """Raise :class:`Interrupted` for the first held signal once nothing defers it any more."""
    if _STATE.defer == 0 and _STATE.pending:
        signum = _STATE.pending[0]
        _STATE.pending.clear()
        raise Interrupted(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then raise :class:`Interrupted`."""
    if not _in_main_thread() or _STATE.depth == 0:
        yield
        return
    _STATE.defer += 1
    try:
        yield
    finally:
        _STATE.defer -= 1
        _raise_pending()


def install_wakeup(signum: int, raiser: Any) -> Any:
    """Install a handler of ``signum`` that calls ``raiser()`` (which raises); returns the old one.

    Used by the Lava watchdog to interrupt a main thread blocked inside Lava (main thread only).
    """

    def wake(sig: int, frame: FrameType | None) -> None:
        raiser()

    return signal.signal(signum, wake)
