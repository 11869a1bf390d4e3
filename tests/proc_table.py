"""The process table, read from /proc: which processes of a session are still alive."""

from __future__ import annotations

import os
from pathlib import Path


def _stat(pid: str) -> tuple[str, int, int] | None:
    try:
        text = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[3])  # state, ppid, session


def session_alive(sid: int) -> list[int]:
    """PIDs of processes in session ``sid`` that are alive (zombies excluded: reaping is init's)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        st = _stat(pid)
        if st is not None and st[2] == sid and st[0] not in ("Z", "X"):
            out.append(int(pid))
    return sorted(out)


def _is_resource_tracker(pid: str) -> bool:
    """Python's multiprocessing resource tracker: one per process, for its whole life."""
    try:
        cmd = (Path("/proc") / pid / "cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in cmd


def children_alive(ppid: int) -> list[int]:
    """Live (non-zombie) children of ``ppid``, Python's resource tracker excepted."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            st = _stat(pid)
            alive = st is not None and st[1] == ppid and st[0] not in ("Z", "X")
            if alive and not _is_resource_tracker(pid):
                out.append(int(pid))
    return sorted(out)
