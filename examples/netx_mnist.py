"""lava-dl's trained MNIST netx network on digits: golden emulator vs Lava, through ``verify``.

lava-dl ships a trained netx network (``mnist.net``: a 784-neuron bias-driven input layer, two
512-neuron CUBA layers, a 10-neuron non-spiking output layer). This example

1. reads it as a QGraph (``lavabridge verify`` does that from the file);
2. turns ``N`` scikit-learn digits (8x8, values 0..16) into MNIST-like 28x28 images in ``[0, 1]``
   (:func:`lavabridge.data.digit_images`) and then into bias mantissas with the network's own
   input transform ``{w, b}`` on ``x = 2 * image - 1``: ``bias_mant = trunc(w * x + b)``
   (``images_to_bias(..., signed=True)``, as lava-dl's PilotNet dataset does). Measured on the
   first 300 digits with the golden emulator: 83% of them are classified correctly this way;
3. runs :func:`lavabridge.verify.verify` on them: golden emulator and Lava (one compiled session,
   ``fixed_pt`` models) compared on spikes, u and v of every layer at every step, the class read
   from the output layer's final v (it cannot fire); writes the VerifyReport (``report.json``,
   ``report.md``, plots) into ``--out``.

Run from the repository root (18 s on 2 cores: 20 digits, Lava 3.1 s)::

    .venv/bin/python examples/netx_mnist.py --samples 20 --steps 16 --out runs/netx-demo

The same with the command line, from saved inputs::

    lavabridge verify "$(python -c 'from lavabridge.data import mnist_net_path as p; print(p())')" \\
        --input runs/netx-demo/x.npy --labels runs/netx-demo/labels.npy --steps 16 \\
        --out runs/netx-demo
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lavabridge.data import digit_images, mnist_net_path
from lavabridge.errors import LavaBridgeError, ModelFileError
from lavabridge.importers.netx import images_to_bias, netx_input_transform
from lavabridge.verify import verify, write_report


def run(samples: int, steps: int, out: Path, chunk: int, progress: bool = True) -> int:
    """The example; returns the exit code (0: golden == Lava, 1: they differ)."""
    path = mnist_net_path()
    with contextlib.redirect_stdout(sys.stderr):  # lava-dl prints a notice on import
        transform = netx_input_transform(path)
    if transform is None:
        raise ModelFileError(f"{path}: has no netx input layer transform to encode images with")
    images, labels = digit_images(samples)
    x = images_to_bias(images, transform, signed=True)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "x.npy", x)
    np.save(out / "labels.npy", labels)
    with contextlib.redirect_stdout(sys.stderr):
        report = verify(path, x, labels=labels, num_steps=steps, chunk=chunk, progress=progress)
    files = write_report(report, out)
    print(f"{report.status.upper()}: {report.summary()}")
    for acc in report.accuracy:
        print(f"  accuracy {acc.oracle}: {acc.accuracy:.2%} ({acc.samples} digits, "
              f"{report.readout} readout)")  # fmt: skip
    print(f"  golden {report.timings['golden']:.3f} s, Lava {report.timings.get('lava', 0):.2f} s")
    print(f"report: {files['json']}")
    return 0 if report.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--chunk", type=int, default=32)
    p.add_argument("--out", default="runs/netx-demo")
    args = p.parse_args(argv)
    try:
        return run(args.samples, args.steps, Path(args.out), args.chunk)
    except LavaBridgeError as exc:
        print(f"netx_mnist: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
