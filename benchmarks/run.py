"""The performance suite: ``python -m benchmarks.run [--quick]`` (``make bench`` runs the full one).

Prints a table and writes ``benchmarks/results/latest.json`` (machine, library versions, BLAS and
thread settings, git revision, every row, and the ``targets`` list).

Rows (see :mod:`benchmarks.rows` for what each backend runs and :mod:`benchmarks.networks` for the
networks and the definitions of *synaptic ops* and *dense MACs*); T = 32 everywhere:

=================  ============================  ============================================
backend            full run (batches)            ``--quick`` (batches)
=================  ============================  ============================================
golden             1, 256 (+32 on 784-512-512-10) 1, 256 (+32 on 784-512-512-10)
golden-int64       1, 256                         1, 8
float-torch        1, 256                         1, 256
gemm-numpy/torch   1, 256                         1, 256
lava-stream        1, 256 (+32 on 784-512-512-10) 1 (32 on 784-512-512-10)
lava-naive         1 (+32 on 784-512-512-10)      1 (4 on 784-512-512-10)
golden pass        10,000 samples of 784-512-512-10 on 2 cores (both modes)
=================  ============================  ============================================

The *ratio* column is the row's sample-steps/s over that of the ``lava-stream`` row of the same
network, T and batch in the same run (empty where that batch ran no Lava stream).

Rows run in worker processes (:mod:`benchmarks.worker`): one per network for the in-process
backends, one per Lava row, one for the 10,000-sample pass (pinned to 2 CPUs). Timings are wall
clock on a machine that may be shared: the load average is recorded at start and end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.machine import describe_machine, git_revision, load_average
from benchmarks.worker import PREFIX

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.json"
BIG = "784-512-512-10"
STEPS = 32
PASS_SAMPLES = 10_000


def _spec(row: str, network: str, batch: int, label: str, **kwargs: Any) -> dict[str, Any]:
    return {"row": row, "network": network, "T": STEPS, "batch": batch, "label": label,
            "kwargs": kwargs}  # fmt: skip


def plan(quick: bool) -> list[list[dict[str, Any]]]:
    """Worker groups (each a list of row specs run in one fresh process)."""
    from benchmarks.networks import NETWORKS

    groups: list[list[dict[str, Any]]] = []
    big_b = 256
    stream_b, naive_b = (32, 4) if quick else (32, 32)
    for name in NETWORKS:
        cpu: list[dict[str, Any]] = []
        extra = [stream_b] if name == BIG else []
        for b in (1, big_b, *extra):
            cpu.append(_spec("golden", name, b, "golden", reps=3 if quick else 5))
        for b in (1, 8) if quick else (1, big_b):
            cpu.append(_spec("golden", name, b, "golden-int64", exact_int=True))
        for b in (1, big_b):
            cpu.append(_spec("float-torch", name, b, "float-torch", reps=2 if quick else 3))
            for lib in ("numpy", "torch"):
                cpu.append(_spec("gemm", name, b, f"gemm-{lib}", lib=lib, reps=3 if quick else 5))
        groups.append(cpu)
        lava_batches = [1] if quick else [1, big_b]
        if name == BIG:
            lava_batches = [stream_b] if quick else [1, stream_b, big_b]
        for b in lava_batches:
            groups.append([_spec("lava-stream", name, b, "lava-stream")])
        naive_batches = [1] if name != BIG else ([naive_b] if quick else [1, naive_b])
        for b in naive_batches:
            groups.append([_spec("lava-naive", name, b, "lava-naive")])
    pass_spec = _spec("golden-pass", BIG, PASS_SAMPLES, "golden")
    pass_spec["cpus"] = 2
    groups.append([pass_spec])
    return groups


def run_group(specs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Run one worker process; rows it did not report come back with an ``error``."""
    cmd = [sys.executable, "-m", "benchmarks.worker", json.dumps(specs)]
    rows: list[dict[str, Any]] = []
    err = ""
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        for line in proc.stdout.splitlines():
            if line.startswith(PREFIX):
                rows.append(json.loads(line[len(PREFIX) :]))
        err = proc.stderr[-2000:] if proc.returncode else ""
    except subprocess.TimeoutExpired:
        err = f"worker timed out after {timeout:.0f} s"
    for spec in specs[len(rows) :]:
        rows.append({"network": spec["network"], "T": spec["T"], "batch": spec["batch"],
                     "backend": spec["label"], "error": err or "no result"})  # fmt: skip
    return rows


def _find(rows: list[dict[str, Any]], backend: str, network: str, batch: int | None = None,
          ) -> dict[str, Any] | None:  # fmt: skip
    for r in rows:
        same = r["backend"] == backend and r["network"] == network and "error" not in r
        if same and (batch is None or r["batch"] == batch):
            return r
    return None


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """``ratio_vs_lava_stream`` for every row with a Lava stream row of the same group."""
    for r in rows:
        ref = _find(rows, "lava-stream", r["network"], r["batch"])
        ok = ref is not None and "error" not in r and r.get("T") == ref.get("T")
        r["ratio_vs_lava_stream"] = (
            r["sample_steps_per_s"] / ref["sample_steps_per_s"] if ok and ref else None
        )


def _target(name: str, measured: Any, threshold: Any, op: str, detail: str) -> dict[str, Any]:
    if measured is None:
        passed = False
    elif op == ">=":
        passed = measured >= threshold
    elif op == "<=":
        passed = measured <= threshold
    else:
        passed = measured == threshold
    return {"name": name, "measured": measured, "threshold": threshold, "comparison": op,
            "passed": bool(passed), "detail": detail}  # fmt: skip


def _largest(rows: list[dict[str, Any]], backend: str, network: str, below: int,
             ) -> dict[str, Any] | None:  # fmt: skip
    cands = [r for r in rows if r["backend"] == backend and r["network"] == network
             and "error" not in r and r["batch"] < below]  # fmt: skip
    return max(cands, key=lambda r: r["batch"]) if cands else None


def evaluate_targets(
    rows: list[dict[str, Any]],
    doc: dict[str, Any],
    *,
    big: str = BIG,
    batch: int = 256,
    pass_samples: int = PASS_SAMPLES,
) -> list[dict[str, Any]]:
    """The issue's targets, measured from this run's rows (``big``: the network they name)."""
    out = []
    gold = _find(rows, "golden", big, batch)
    stream = _largest(rows, "lava-stream", big, pass_samples)
    speed = gold["sample_steps_per_s"] / stream["sample_steps_per_s"] if gold and stream else None
    where = (
        f"{big}, T={STEPS}: golden batch {batch} vs lava-stream batch {stream and stream['batch']}"
    )
    out.append(_target("golden_speedup_vs_lava_stream", speed, 100.0, ">=", where))
    exact = stream.get("bit_exact_vs_golden") if stream else None
    out.append(_target("golden_bit_exact_vs_lava_stream", exact, True, "==",
                       f"spikes of every layer, {where.split(': ')[1]}"))  # fmt: skip
    gemms = [_find(rows, f"gemm-{lib}", big, batch) for lib in ("numpy", "torch")]
    best = max((g["dense_macs_per_s"] for g in gemms if g), default=None)
    frac = gold["dense_macs_per_s"] / best if gold and best else None
    out.append(_target("golden_fraction_of_gemm_rate", frac, 0.40, ">=",
                       f"{big} batch {batch}: golden dense MAC/s over the best float32 GEMM "
                       "(numpy or torch) MAC/s for the same shapes"))  # fmt: skip
    big_pass = _find(rows, "golden", big, pass_samples)
    wall = big_pass["wall_s"] if big_pass else None
    rss = big_pass["peak_rss_mb"] if big_pass else None
    cpus = big_pass.get("cpus") if big_pass else None
    desc = f"{pass_samples} samples of {big}, T={STEPS}, 10% input spikes, u/v off, {cpus} cpus"
    out.append(_target("mnist_pass_wall_s", wall, 30.0, "<=", desc))
    out.append(_target("mnist_pass_peak_rss_mb", rss, 2048.0, "<=", desc + " (whole process)"))
    naive = _largest(rows, "lava-naive", big, pass_samples)
    s_stream = _find(rows, "lava-stream", big, naive["batch"]) if naive else None
    s_stream = s_stream or stream
    ratio = None
    if naive and s_stream:
        ratio = (naive["wall_s"] / naive["batch"]) / (s_stream["wall_s"] / s_stream["batch"])
    detail = (f"{big}: per-sample wall, naive batch {naive and naive['batch']} vs stream "
              f"batch {s_stream and s_stream['batch']}")  # fmt: skip
    out.append(_target("lava_stream_speedup_vs_naive", ratio, 3.0, ">=", detail))
    fracs = [r["readout_fraction"] for r in rows if r["backend"] == "lava-stream"
             and "error" not in r and r["batch"] > 1]  # fmt: skip
    out.append(_target("lava_readout_fraction", max(fracs) if fracs else None, 0.10, "<=",
                       "host I/O (input writes + output reads) over Lava wall time, worst "
                       "Lava stream row with batch > 1"))  # fmt: skip
    has_meta = bool(doc.get("machine")) and bool(doc.get("git", {}).get("revision"))
    out.append(_target("report_has_machine_and_revision", has_meta, True, "==",
                       "machine description and git revision in this file"))  # fmt: skip
    return out


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"
    return str(x)


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    cols = [("network", "network"), ("T", "T"), ("batch", "batch"), ("backend", "backend"),
            ("wall_s", "wall s"), ("sample_steps_per_s", "sample-steps/s"),
            ("syn_ops_per_s", "syn-ops/s"), ("dense_macs_per_s", "dense MAC/s"),
            ("peak_rss_mb", "peak RSS MB"), ("ratio_vs_lava_stream", "x lava-stream")]  # fmt: skip
    table = [[h for _, h in cols]]
    for r in rows:
        if "error" in r:
            table.append([_fmt(r.get(k)) for k, _ in cols[:4]] + ["ERROR: " + r["error"][:60]])
            continue
        table.append([_fmt(r.get(k)) for k, _ in cols])
    widths = [max(len(row[i]) for row in table if i < len(row)) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_report(rows: list[dict[str, Any]], mode: str, machine: dict[str, Any],
                 git: dict[str, Any], seconds: float, **target_args: Any,
                 ) -> dict[str, Any]:  # fmt: skip
    """The JSON document: metadata, rows with ratios, targets (``target_args``: see
    :func:`evaluate_targets`)."""
    add_ratios(rows)
    doc: dict[str, Any] = {
        "schema": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "suite_seconds": seconds,
        "machine": machine,
        "git": git,
        "definitions": {
            "wall_s": "seconds for the whole batch (see each row's notes for best-of / one run)",
            "sample_steps_per_s": "batch * T / wall_s",
            "syn_ops": "event-driven weight reads: presynaptic spikes * fan-out, summed over "
            "samples, steps and connections (gemm rows: dense MACs)",
            "dense_macs": "batch * T * sum over connections of n_in * n_out",
            "peak_rss_mb": "VmHWM of the worker process during the row (see benchmarks.worker)",
            "ratio_vs_lava_stream": "sample_steps_per_s / that of lava-stream, same network/T/batch",
        },
        "rows": rows,
    }
    doc["targets"] = evaluate_targets(rows, doc, **target_args)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="smaller Lava batches (under 3 minutes)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report path")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker process")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    machine = describe_machine()
    git = git_revision(ROOT)
    rows: list[dict[str, Any]] = []
    for specs in plan(args.quick):
        t1 = time.perf_counter()
        got = run_group(specs, args.timeout)
        rows.extend(got)
        labels = ", ".join(f"{s['label']}@{s['batch']}" for s in specs)
        print(f"[{time.perf_counter() - t0:6.1f} s] {specs[0]['network']}: {labels} "
              f"({time.perf_counter() - t1:.1f} s)", file=sys.stderr, flush=True)  # fmt: skip
    machine["load_average_end"] = load_average()
    doc = build_report(rows, "quick" if args.quick else "full", machine, git,
                       time.perf_counter() - t0)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(format_table(rows))
    print()
    for t in doc["targets"]:
        mark = "PASS" if t["passed"] else "FAIL"
        print(f"{mark}  {t['name']}: {_fmt(t['measured'])} {t['comparison']} "
              f"{_fmt(t['threshold'])}  ({t['detail']})")  # fmt: skip
    print(f"\nwrote {args.out} in {doc['suite_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
