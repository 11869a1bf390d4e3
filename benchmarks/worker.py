"""Run benchmark rows in a fresh process and measure each row's peak RSS.

``python -m benchmarks.worker '<json list of row specs>'`` runs the rows in order and prints one
``BENCHROW <json>`` line per row (a row that raised carries ``error`` instead of numbers).

Peak RSS (method)
-----------------
Before each row the process writes ``5`` to ``/proc/self/clear_refs``, which resets the kernel's
resident-set high-water mark (``VmHWM``, Linux >= 4.0); after the row, ``VmHWM`` from
``/proc/self/status`` is the row's ``peak_rss_mb``. It includes what the process already held
(interpreter, numpy, torch, Lava: ``baseline_rss_mb`` is the RSS when the row started). Where the
reset is refused, ``ru_maxrss`` (the process-lifetime peak) is reported and ``rss_method`` says so.
Before Lava rows the worker runs one tiny Lava network, so that importing Lava's process models
(Python compiles them on first use) is not charged to the first timed row.
Lava runs every process of the network in a forked child: ``children_peak_rss_mb`` is the largest
child's peak (``RUSAGE_CHILDREN``), for Lava rows that run alone in their worker.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import traceback
from typing import Any

PREFIX = "BENCHROW "


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _preload(kinds: set[str]) -> None:
    """Import what the rows need before measuring (Lava first: it sets the fork start method)."""
    if kinds & {"lava-stream", "lava-naive"}:
        import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401

        _warm_up_lava()
    import numpy  # noqa: F401

    import lavabridge.backends.golden  # noqa: F401

    if kinds & {"golden", "golden-pass", "float-torch", "gemm"}:
        import torch  # noqa: F401


def _warm_up_lava() -> None:
    """One tiny Lava run, so module imports and first-use costs stay out of the timed rows."""
    import numpy as np

    from lavabridge.backends.lava import run_lava
    from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer

    graph = QGraph(2, (QLayer("warm", QCubaLIF(2, 0, 0, 10), QDense(np.ones((2, 2), int))),))
    run_lava(graph, np.ones((1, 2, 2), np.uint8))


def run_row(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one row spec and measure its RSS.

    A spec is ``{"row", "network", "T", "batch", "label", "kwargs"}`` (plus ``"net"``: the
    :class:`NetSpec` fields, for a network not in :data:`NETWORKS`).
    """
    from benchmarks.networks import NETWORKS, NetSpec
    from benchmarks.rows import ROWS

    gc.collect()
    reset = _reset_peak()
    base = _status_kb("VmRSS")
    try:
        net = NETWORKS.get(spec["network"]) or NetSpec(**spec["net"])
        row = ROWS[spec["row"]](net, spec["T"], spec["batch"], **spec.get("kwargs", {}))
    except Exception as exc:  # recorded, not fatal: the suite goes on with the other rows
        row = {
            "network": spec["network"],
            "T": spec["T"],
            "batch": spec["batch"],
            "backend": spec.get("label", spec["row"]),
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
        }
    peak = _status_kb("VmHWM") if reset else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    row["peak_rss_mb"] = peak / 1024
    row["baseline_rss_mb"] = None if base is None else base / 1024
    row["rss_method"] = "VmHWM after clear_refs" if reset else "ru_maxrss (process lifetime)"
    if spec["row"].startswith("lava"):
        row["children_peak_rss_mb"] = children / 1024
    row["cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return row


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    specs: list[dict[str, Any]] = json.loads(args[0])
    cpus = max((s.get("cpus") or 0) for s in specs) if specs else 0
    if cpus and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:cpus])
    _preload({s["row"] for s in specs})
    for spec in specs:
        row = run_row(spec)
        print(PREFIX + json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
