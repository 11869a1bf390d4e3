"""Writing a verification: ``report.json``, ``report.md`` and the plots, into one directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lavabridge.atomic import StageFiles
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
    ``divergence``). They are written under temporary names and published together
    (:class:`~lavabridge.atomic.StageFiles`): an error or an interruption leaves none of them.
    """
    out = Path(out_dir)
    with StageFiles(out) as stage:
        return _write(report, out, stage, plots, neurons)


def _write(
    report: VerifyReport,
    out: Path,
    stage: StageFiles,
    plots: bool,
    neurons: Sequence[tuple[int, int]] | None,
) -> dict[str, Path]:
    files: dict[str, Path] = {}
    captions: dict[str, str] = {}
    art = report.artifacts
    if plots and art is not None:
        s = art.trace_sample
        label = "" if art.labels is None else f" (label {int(art.labels[s])})"
        x_in = art.batch.data if art.batch.kind.value == "spikes" else None
        names = [layer.name for layer in art.graph.layers]
        files["raster"] = out / "raster.png"
        raster_plot(
            art.recordings,
            stage.path("raster.png"),
            sample=s,
            input_spikes=x_in,
            names=names,
            title=f"{art.graph.name}: spike rasters of sample {s}{label}",
        )
        div = report.golden_lava.first_divergence
        chosen = list(neurons) if neurons else default_neurons(art, report)
        traces_plot(art, stage.path("traces.png"), chosen, mark_step=div.step if div else None)
        divergence_plot(art, report, stage.path("divergence.png"))
        files["traces"], files["divergence"] = out / "traces.png", out / "divergence.png"
        captions = {
            f"Spike rasters, sample {s}": "raster.png",
            "Current and membrane traces": "traces.png",
            "Divergence over time": "divergence.png",
        }
    stage.path("report.json").write_text(report.to_json() + "\n")
    stage.path("report.md").write_text(to_markdown(report, captions))
    files["json"], files["markdown"] = out / "report.json", out / "report.md"
    return files
