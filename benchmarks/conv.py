"""Conv benchmark: the golden emulator's exact convolution (fast engine and int64 oracle) and Lava.

The network is the pipeline's ``--arch conv`` shape on MNIST-sized input, in Lava's integer units
(fixed seed; conv weights within the ±255 conv grid, pools as depthwise kernels of ones)::

    1x28x28 -> conv 3x3 p1 8 -> avgpool 2 -> conv 3x3 p1 16 -> avgpool 2 -> dense 64 -> dense 10

T = 16, Bernoulli(0.1) input spikes. Every row checks its spikes against the fast golden engine's
(``identical``). Prints a table and writes ``benchmarks/results/conv.json``::

    .venv/bin/python -m benchmarks.conv [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import describe_machine, load_average
from lavabridge.backends.golden import emulate
from lavabridge.backends.golden.emulator import emulate_reference
from lavabridge.backends.inputs import prepare_input
from lavabridge.backends.lava import run_lava
from lavabridge.quant import QConv, QCubaLIF, QDense, QGraph, QLayer

STEPS = 16
OUT = Path(__file__).parent / "results" / "conv.json"


def conv_net(seed: int = 0) -> QGraph:
    """The benchmark network (see the module docstring)."""
    rng = np.random.default_rng(seed)

    def lif(n: int, vth: int) -> QCubaLIF:
        return QCubaLIF(n, du=1023, dv=511, vth=vth, bias_mant=rng.integers(-20, 21, n),
                        bias_exp=np.full(n, 6))  # fmt: skip

    c1 = QConv(rng.integers(-255, 256, (8, 1, 3, 3)), (1, 28, 28), padding=(1, 1))
    p1 = QConv(np.full((8, 1, 2, 2), 255), c1.out_shape, stride=(2, 2), groups=8)
    c2 = QConv(rng.integers(-60, 61, (16, 8, 3, 3)), p1.out_shape, padding=(1, 1))
    p2 = QConv(np.full((16, 1, 2, 2), 255), c2.out_shape, stride=(2, 2), groups=16)
    d1 = QDense(rng.integers(-128, 128, (64, p2.shape[0])))
    d2 = QDense(rng.integers(-128, 128, (10, 64)))
    layers = (
        QLayer("conv1", lif(c1.shape[0], 900), c1),
        QLayer("pool1", lif(p1.shape[0], 700), p1),
        QLayer("conv2", lif(c2.shape[0], 900), c2),
        QLayer("pool2", lif(p2.shape[0], 700), p2),
        QLayer("fc1", lif(64, 900), d1),
        QLayer("fc2", lif(10, 1500), d2),
    )
    return QGraph(784, layers, name="conv-28x28")


def _input(batch: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng([seed, batch])
    return (rng.random((batch, STEPS, 784), dtype=np.float32) < 0.1).astype(np.uint8)


def _row(backend: str, batch: int, wall: float, rec: Any, ref: Any) -> dict[str, Any]:
    return {
        "backend": backend,
        "batch": batch,
        "T": STEPS,
        "wall_s": wall,
        "samples_per_s": batch / wall,
        "spikes": [int(s.sum()) for s in rec.spikes],
        "identical": ref is None or rec.first_mismatch(ref) is None,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """Every row of the benchmark."""
    graph = conv_net()
    rows = []
    for batch in (1, 32) if quick else (1, 256, 1000):
        x = _input(batch)
        emulate(graph, x)  # warm-up: torch's import (large GEMMs run on its BLAS), threads
        t0 = time.perf_counter()
        fast = emulate(graph, x)
        rows.append(_row("golden", batch, time.perf_counter() - t0, fast, None))
    small = 4 if quick else 16
    x = _input(small)
    fast = emulate(graph, x, probe_uv=True)
    t0 = time.perf_counter()
    oracle = emulate_reference(graph, prepare_input(graph, x, None))
    rows.append(_row("golden-int64", small, time.perf_counter() - t0, oracle, fast))
    t0 = time.perf_counter()
    lava = run_lava(graph, x, probe_uv=True, chunk=small)
    wall = time.perf_counter() - t0
    row = _row("lava-stream", small, wall, lava, fast)
    row["timings"] = {k: float(v) for k, v in lava.timings.items()}
    rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="conv benchmark (golden fast / int64 / Lava)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    load_before = load_average()
    rows = run(args.quick)
    print(f"{'backend':<14}{'batch':>7}{'wall s':>10}{'samples/s':>12}  identical to golden")
    for r in rows:
        print(f"{r['backend']:<14}{r['batch']:>7}{r['wall_s']:>10.3f}{r['samples_per_s']:>12.1f}"
              f"  {r['identical']}")  # fmt: skip
    doc = {
        "schema": "lavabridge.bench-conv",
        "network": "1x28x28 conv8 pool conv16 pool 64 10",
        "machine": describe_machine(),
        "load_before": load_before,
        "load_after": load_average(),
        "rows": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
