"""Writing a verification: ``report.json``, ``report.md`` and the plots, into one directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lavabridge.atomic import write_text
from lavabridge.verify.markdown import render
from lavabridge.verify.plots import default_neurons, divergence_plot, raster_plot, traces_plot
from lavabridge.verify.report import VerifyReport

REPORT_FILES = ("report.json", "report.md", "raster.png", "traces.png", "divergence.png")


def to_markdown(report: VerifyReport, plots: dict[str, str] | None = None) -> str:
    """A human-readable report; ``plots`` maps captions to image paths to embed."""
    return render(report, plots or {})


def write_report(
    report: VerifyReport,
    out_dir: str | Path,
    *,
    plots: bool = True,
    neurons: Sequence[tuple[int, int]] | None = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and (with ``plots``) the three PNGs into ``out_dir``.

    Returns the written files by kind (``json``, ``markdown``, ``raster``, ``traces``,
    ``divergence``). The JSON and Markdown are written through a temporary name and a rename.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    captions: dict[str, str] = {}
    art = report.artifacts
    if plots and art is not None:
        s = art.trace_sample
        label = "" if art.labels is None else f" (label {int(art.labels[s])})"
        x_in = art.batch.data if art.batch.kind.value == "spikes" else None
        names = [layer.name for layer in art.graph.layers]
        files["raster"] = raster_plot(
            art.recordings,
            out / "raster.png",
            sample=s,
            input_spikes=x_in,
            names=names,
            title=f"{art.graph.name}: spike rasters of sample {s}{label}",
        )
        div = report.golden_lava.first_divergence
        chosen = list(neurons) if neurons else default_neurons(art, report)
        files["traces"] = traces_plot(
            art, out / "traces.png", chosen, mark_step=div.step if div else None
        )
        files["divergence"] = divergence_plot(art, report, out / "divergence.png")
        captions = {
            f"Spike rasters, sample {s}": "raster.png",
            "Current and membrane traces": "traces.png",
            "Divergence over time": "divergence.png",
        }
    files["json"] = write_text(out / "report.json", report.to_json() + "\n")
    files["markdown"] = write_text(out / "report.md", to_markdown(report, captions))
    return files
