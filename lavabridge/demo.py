"""The interim demo: lava-dl's trained MNIST network, golden emulator vs Lava, sample by sample.

lava-dl ships a trained netx network (``mnist.net``: a 784-neuron bias-driven input layer, two
512-neuron CUBA layers, a 10-neuron non-spiking output layer). The demo

1. reads it as a QGraph (:func:`lavabridge.importers.netx.read_netx`);
2. turns ``N`` scikit-learn digits (8x8, values 0..16) into 28x28 images in ``[0, 1]``
   (``scipy.ndimage.zoom``, bilinear) and then into bias mantissas with the network's own input
   transform, ``bias_mant = images_to_bias(image, transform)``;
3. runs them through the golden emulator and through Lava (one compiled
   :class:`~lavabridge.exporters.lava_session.LavaSession`, ``fixed_pt`` models), recording
   spikes, u and v of every layer at every step;
4. compares the two recordings everywhere and reports spike counts, timings, the predicted classes
   (argmax of the output layer's final v when it cannot fire, else of its spike counts) and the
   first mismatch if there is one; writes ``report.json``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, ModelFileError
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording

IMAGE_SIDE = 28


def mnist_net_path() -> Path:
    """Path of the trained ``mnist.net`` shipped in lava-dl's wheel (``tests/lava/lib/dl/netx``).

    Raises
    ------
    ModelFileError
        When the installed lava-dl does not ship it.
    """
    import lava

    for root in lava.__path__:  # a namespace package: no __file__
        path = Path(root).parent / "tests" / "lava" / "lib" / "dl" / "netx" / "mnist.net"
        if path.is_file():
            return path
    raise ModelFileError(
        "mnist.net: not found under site-packages/tests/lava/lib/dl/netx (lava-dl 0.6.0's wheel "
        "ships it there)"
    )


def digit_images(n: int, side: int = IMAGE_SIDE) -> tuple[npt.NDArray[np.float64], np.ndarray]:
    """The first ``n`` scikit-learn digits as ``[n, side*side]`` images in ``[0, 1]``, and labels.

    Each 8x8 digit (0..16) is zoomed bilinearly to ``side x side``, divided by 16 and clipped to
    ``[0, 1]``; pixels are flattened row by row.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 1 <= n <= len(digits.images):
        raise InputError(f"--samples: {n} is outside [1, {len(digits.images)}]")
    small = digits.images[:n].astype(np.float64)
    big = zoom(small, (1, side / small.shape[1], side / small.shape[2]), order=1)
    images = np.clip(big / 16.0, 0.0, 1.0).reshape(n, side * side)
    return images, digits.target[:n].astype(np.int64)


def output_readout(graph: QGraph) -> str:
    """``"v"`` when the output layer can never fire (``vth << 6`` at or above v's saturation, as
    netx's neuron-less output layers), else ``"spikes"``."""
    target = graph.target
    last = graph.layers[-1].neuron
    return "v" if (last.vth << target.vth_shift) >= target.v_sat else "spikes"


def predict(rec: Recording, readout: str) -> npt.NDArray[np.int64]:
    """Class per sample: argmax of the output layer's final v, or of its spike counts."""
    if readout == "v":
        if rec.v is None:
            raise ValueError("predict: the recording holds no v (run with probe_uv=True)")
        return np.asarray(rec.v[-1][:, -1, :].argmax(axis=1), dtype=np.int64)
    return np.asarray(rec.spikes[-1].sum(axis=1).argmax(axis=1), dtype=np.int64)


@dataclass
class DemoReport:
    """What ``report.json`` holds."""

    model: str
    samples: int
    steps: int
    identical: bool
    first_mismatch: str | None
    layers: list[dict[str, Any]]
    readout: str
    predictions: dict[str, list[int]]
    class_agreement: float
    accuracy: dict[str, float]
    timings_s: dict[str, Any] = field(default_factory=dict)


def _compare(graph: QGraph, golden: Recording, lava: Recording) -> tuple[list[dict[str, Any]], Any]:
    mismatch = golden.first_mismatch(lava, states=True)
    layers = []
    for i, layer in enumerate(graph.layers):
        same = bool(np.array_equal(golden.spikes[i], lava.spikes[i]))
        if (
            golden.u is not None
            and lava.u is not None
            and golden.v is not None
            and lava.v is not None
        ):
            same = same and np.array_equal(golden.u[i], lava.u[i])
            same = same and np.array_equal(golden.v[i], lava.v[i])
        layers.append(
            {
                "name": layer.name,
                "size": layer.size,
                "spikes_golden": int(golden.spikes[i].sum()),
                "spikes_lava": int(lava.spikes[i].sum()),
                "identical": bool(same),
            }
        )
    return layers, mismatch


def _print_report(report: DemoReport, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"{Path(report.model).name}: {report.samples} digits x {report.steps} steps"
    )
    for col in ("layer", "size", "spikes golden", "spikes Lava", "spikes, u, v identical"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for row in report.layers:
        mark = "[green]yes[/]" if row["identical"] else "[red]NO[/]"
        table.add_row(row["name"], str(row["size"]), str(row["spikes_golden"]),
                      str(row["spikes_lava"]), mark)  # fmt: skip
    console.print(table)
    t = report.timings_s
    console.print(
        f"golden emulator {t['golden']:.3f} s | Lava {t['lava']:.2f} s "
        f"(compile {t['lava_phases'].get('compile', 0.0):.2f} s, "
        f"run {t['lava_phases'].get('run', 0.0):.2f} s)"
    )
    console.print(
        f"predicted class ({report.readout} readout): golden and Lava agree on "
        f"{report.class_agreement:.0%} of samples; accuracy vs labels golden "
        f"{report.accuracy['golden']:.0%}, Lava {report.accuracy['lava']:.0%}"
    )
    if report.identical:
        console.print("[green]golden and Lava are identical (spikes, u, v, every step)[/]")
    else:
        console.print(f"[red]golden and Lava differ:[/] {report.first_mismatch}")
    console.print(f"report: {out}")


def run_demo(
    *,
    samples: int = 20,
    steps: int = 16,
    out_dir: str | Path = "runs/demo",
    chunk: int = 32,
    quiet: bool = False,
) -> DemoReport:
    """Run the demo, write ``out_dir/report.json``, print a table unless ``quiet``; see module doc.

    Raises
    ------
    ModelFileError
        ``mnist.net`` missing, or ``out_dir`` cannot be created.
    LavaRuntimeError
        Lava failed to compile or run the network.
    """
    from lavabridge.exporters.lava_session import LavaSession
    from lavabridge.golden import emulate
    from lavabridge.importers.netx import images_to_bias, netx_input_transform, read_netx

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"{out}: cannot create the output directory ({exc})") from exc
    path = mnist_net_path()
    with contextlib.redirect_stdout(sys.stderr):  # lava-dl prints a warning on import
        graph = read_netx(path)
        transform = netx_input_transform(path)
    if transform is None:
        raise ModelFileError(f"{path}: has no netx input layer transform to encode images with")
    images, labels = digit_images(samples)
    x = images_to_bias(images, transform)

    t0 = time.perf_counter()
    golden = emulate(graph, x, num_steps=steps, probe_uv=True)
    t_golden = time.perf_counter() - t0
    t0 = time.perf_counter()
    with LavaSession(graph, steps, probe_uv=True, chunk=chunk, progress=not quiet) as session:
        lava = session.run(x)
    t_lava = time.perf_counter() - t0

    layers, mismatch = _compare(graph, golden, lava)
    readout = output_readout(graph)
    pred_g, pred_l = predict(golden, readout), predict(lava, readout)
    report = DemoReport(
        model=str(path),
        samples=samples,
        steps=steps,
        identical=mismatch is None,
        first_mismatch=None if mismatch is None else str(mismatch),
        layers=layers,
        readout=readout,
        predictions={
            "golden": pred_g.tolist(),
            "lava": pred_l.tolist(),
            "labels": labels.tolist(),
        },
        class_agreement=float(np.mean(pred_g == pred_l)),
        accuracy={
            "golden": float(np.mean(pred_g == labels)),
            "lava": float(np.mean(pred_l == labels)),
        },
        timings_s={"golden": t_golden, "lava": t_lava, "lava_phases": dict(lava.timings)},
    )
    report_path = out / "report.json"
    report_path.write_text(json.dumps(asdict(report), indent=2) + "\n")
    if not quiet:
        _print_report(report, report_path)
    return report
