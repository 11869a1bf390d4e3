"""The interim demo: lava-dl's trained MNIST network, golden emulator vs Lava, sample by sample.

lava-dl ships a trained netx network (``mnist.net``: a 784-neuron bias-driven input layer, two
512-neuron CUBA layers, a 10-neuron non-spiking output layer). The demo

1. reads it as a QGraph (:func:`lavabridge.importers.netx.read_netx`);
2. turns ``N`` scikit-learn digits (8x8, values 0..16) into MNIST-like 28x28 images in
   ``[0, 1]`` (``scipy.ndimage.zoom`` to 20x20, centred) and then into bias mantissas with the
   network's own input transform ``{w, b}`` on ``x = 2 * image - 1``:
   ``bias_mant = trunc(w * x + b)`` (``images_to_bias(..., signed=True)``, as lava-dl's PilotNet
   dataset does). Measured on the first 300 digits with the golden emulator: 83% of them are
   classified correctly this way, 21% with ``x = image`` in ``[0, 1]``;
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
DIGIT_BOX = 20


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


def digit_images(
    n: int, side: int = IMAGE_SIDE, box: int = DIGIT_BOX
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The first ``n`` scikit-learn digits as MNIST-like ``[n, side*side]`` images in ``[0, 1]``.

    Each 8x8 digit (values 0..16) is zoomed bilinearly to ``box x box``, divided by 16, clipped to
    ``[0, 1]`` and centred in a ``side x side`` frame (MNIST puts its digits in a 20x20 box inside
    28x28); pixels are flattened row by row. Returns the images and the labels.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 1 <= n <= len(digits.images):
        raise InputError(f"--samples: {n} is outside [1, {len(digits.images)}]")
    small = digits.images[:n].astype(np.float64)
    big = np.clip(zoom(small, (1, box / small.shape[1], box / small.shape[2]), order=1) / 16, 0, 1)
    lo = (side - box) // 2
    images = np.zeros((n, side, side))
    images[:, lo : lo + box, lo : lo + box] = big
    return images.reshape(n, side * side), digits.target[:n].astype(np.int64)


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


def _layer_rows(graph: QGraph, golden: Recording, lava: Recording) -> list[dict[str, Any]]:
    """Spike counts per layer, and whether spikes, u and v (where recorded) are equal."""

    def same(a: tuple[np.ndarray, ...] | None, b: tuple[np.ndarray, ...] | None, i: int) -> bool:
        return a is None or b is None or bool(np.array_equal(a[i], b[i]))

    pairs = ((golden.spikes, lava.spikes), (golden.u, lava.u), (golden.v, lava.v))
    return [
        {
            "name": layer.name,
            "size": layer.size,
            "spikes_golden": int(golden.spikes[i].sum()),
            "spikes_lava": int(lava.spikes[i].sum()),
            "identical": all(same(a, b, i) for a, b in pairs),
        }
        for i, layer in enumerate(graph.layers)
    ]


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
        counts = (str(row[k]) for k in ("size", "spikes_golden", "spikes_lava"))
        table.add_row(row["name"], *counts, mark)
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
    x = images_to_bias(images, transform, signed=True)

    t0 = time.perf_counter()
    golden = emulate(graph, x, num_steps=steps, probe_uv=True)
    t_golden = time.perf_counter() - t0
    t0 = time.perf_counter()
    with LavaSession(graph, steps, probe_uv=True, chunk=chunk, progress=not quiet) as session:
        lava = session.run(x)
    t_lava = time.perf_counter() - t0

    mismatch = golden.first_mismatch(lava, states=True)
    readout = output_readout(graph)
    pred_g, pred_l = predict(golden, readout), predict(lava, readout)
    report = DemoReport(
        model=str(path),
        samples=samples,
        steps=steps,
        identical=mismatch is None,
        first_mismatch=None if mismatch is None else str(mismatch),
        layers=_layer_rows(graph, golden, lava),
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
