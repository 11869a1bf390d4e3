"""Plots of a verification (matplotlib, Agg backend, PNG files).

* ``raster.png``: spike rasters of one sample, float | golden | Lava, one row per layer; spikes
  that golden also has are black, extra spikes red, spikes golden has and this oracle misses blue.
* ``traces.png``: current u and membrane v of chosen neurons in Lava's integer units (the float
  reference scaled by the layer's ``(vth << 6) / threshold``), with the threshold line.
* ``divergence.png``: per layer, the fraction of (sample, neuron) entries whose spikes differ at
  each step (float vs golden, golden vs Lava), and when float and golden first part per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lavabridge.atomic import atomic_path
from lavabridge.coding import predict_by_count
from lavabridge.recording import Recording
from lavabridge.verify.compare import disagreement_over_time

if TYPE_CHECKING:
    from lavabridge.verify.report import VerifyReport
    from lavabridge.verify.run import VerifyArtifacts

_COLORS = {"float": "tab:orange", "golden": "black", "lava": "tab:blue"}
_TITLES = {"float": "float reference", "golden": "golden emulator", "lava": "Lava fixed_pt"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        _plt().close(fig)
    return out


def raster_plot(
    recordings: dict[str, Recording],
    path: str | Path,
    *,
    sample: int = 0,
    reference: str = "golden",
    input_spikes: npt.ArrayLike | None = None,
    names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Rasters of ``sample``, one column per oracle, differences to ``reference`` coloured."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    keys = list(recordings)
    ref = recordings[reference]
    sizes = [s.shape[2] for s in ref.spikes]
    rows: list[tuple[str, int | None]] = [("input", None)] if input_spikes is not None else []
    rows += [(names[i] if names else f"layer {i}", i) for i in range(len(sizes))]
    widths = [np.shape(input_spikes)[-1]] if input_spikes is not None else []
    roots = [float(np.sqrt(s)) for s in [*widths, *sizes]]
    heights = [max(1.0, r, max(roots) / 5) for r in roots]
    cmap = ListedColormap(["white", "black", "tab:red", "deepskyblue", "0.55"])
    fig, axes = plt.subplots(
        len(rows),
        len(keys),
        figsize=(3.6 * len(keys) + 0.6, min(14.0, 1.0 + 0.42 * sum(heights))),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    T = ref.num_steps
    for col, key in enumerate(keys):
        rec = recordings[key]
        for row, (label, layer) in enumerate(rows):
            ax = axes[row, col]
            if layer is None:
                img = (np.asarray(input_spikes)[sample].T > 0) * 4
            else:
                here = rec.spikes[layer][sample].T > 0
                there = ref.spikes[layer][sample].T > 0
                img = np.where(here & there, 1, 0) + np.where(here & ~there, 2, 0)
                img = img + np.where(~here & there, 3, 0)
            ax.imshow(
                img,
                aspect="auto",
                interpolation="nearest",
                cmap=cmap,
                vmin=0,
                vmax=4,
                origin="lower",
                extent=(-0.5, T - 0.5, -0.5, img.shape[0] - 0.5),
            )
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
            if col == 0:
                ax.set_ylabel(f"{label}\nneuron", fontsize=9)
            if layer is not None and key != reference:
                n_diff = int((rec.spikes[layer][sample] != ref.spikes[layer][sample]).sum())
                ax.text(
                    0.99,
                    0.97,
                    f"{n_diff} differ",
                    transform=ax.transAxes,
                    ha="right",
                    va="top",
                    fontsize=8,
                    color="tab:red" if n_diff else "0.3",
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
                )
        axes[0, col].set_title(_TITLES.get(key, key), fontsize=10)
        axes[-1, col].set_xlabel("time step t")
    handles = [
        Patch(color="black", label=f"spike (also in {reference})"),
        Patch(color="tab:red", label=f"extra spike (not in {reference})"),
        Patch(color="deepskyblue", label=f"missing spike (only in {reference})"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title or f"spike rasters, sample {sample}", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return _save(fig, path)


def default_neurons(
    art: VerifyArtifacts, report: VerifyReport, count: int = 4
) -> list[tuple[int, int]]:
    """Neurons worth a trace: the golden/Lava divergence, the output's predicted and labelled
    neurons, then per layer the neuron where float and golden disagree most (else the busiest)."""
    chosen: list[tuple[int, int]] = []

    def add(layer: int, n: int) -> None:
        if len(chosen) < count and (layer, n) not in chosen:
            chosen.append((layer, n))

    div = report.golden_lava.first_divergence
    if div is not None:
        add(div.layer, div.neuron)
    g = art.traces["golden"]
    f = art.traces.get("float")
    last = g.num_layers - 1
    add(last, int(predict_by_count(g.spikes[last])[0]))
    if art.labels is not None:
        add(last, int(art.labels[art.trace_sample]))
    for layer in range(last, -1, -1):
        busy = g.spikes[layer][0].sum(axis=0).astype(np.float64)
        score = busy.copy()
        if f is not None:
            score += 100.0 * (f.spikes[layer][0] != g.spikes[layer][0]).sum(axis=0)
        for best in np.argsort(-score, kind="stable")[:2]:
            if score[best] > 0:
                add(layer, int(best))
    return chosen


def _trace_diff(art: VerifyArtifacts, neurons: Sequence[tuple[int, int]]) -> bool:
    g, lv = art.traces["golden"], art.traces.get("lava")
    if lv is None or not (lv.has_uv and g.has_uv):
        return False
    assert g.u is not None and g.v is not None and lv.u is not None and lv.v is not None
    return any(
        not np.array_equal(g.u[i][0, :, n], lv.u[i][0, :, n])
        or not np.array_equal(g.v[i][0, :, n], lv.v[i][0, :, n])
        for i, n in neurons
    )


def traces_plot(
    art: VerifyArtifacts,
    path: str | Path,
    neurons: Sequence[tuple[int, int]],
    *,
    mark_step: int | None = None,
) -> Path:
    """u and v of ``neurons`` (``(layer, neuron)`` pairs) for the traced sample.

    Where Lava's states differ from golden's on these neurons, a third column shows Lava - golden.
    """
    plt = _plt()
    graph, target = art.graph, art.graph.target
    with_diff = _trace_diff(art, neurons)
    cols = 3 if with_diff else 2
    fig, axes = plt.subplots(
        len(neurons),
        cols,
        figsize=(5.5 * cols, 2.3 * len(neurons) + 0.8),
        squeeze=False,
        sharex=True,
    )
    chain = art.float_graph.layer_chain() if art.float_graph is not None else None
    styles = {"float": ("--", None), "golden": ("-", None), "lava": (":", "x")}
    for row, (layer, n) in enumerate(neurons):
        vth = int(getattr(graph.layers[layer].neuron, "vth", 0)) << target.vth_shift
        threshold = float(getattr(chain[layer].neuron, "threshold", 0.0)) if chain else 0.0
        scale = vth / threshold if threshold > 0 else 1.0
        series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, rec in art.traces.items():
            if rec.u is None or rec.v is None:
                continue
            k = scale if key == "float" else 1.0
            u = np.asarray(rec.u[layer][0, :, n], np.float64) * k
            v = np.asarray(rec.v[layer][0, :, n], np.float64) * k
            series[key] = (u, v)
            line, marker = styles[key]
            for col, y in enumerate((u, v)):
                axes[row, col].plot(
                    y, line, marker=marker, ms=4, lw=1.4, color=_COLORS[key], label=_TITLES[key]
                )
            fired = np.flatnonzero(rec.spikes[layer][0, :, n])
            axes[row, 1].plot(
                fired, np.full(fired.size, vth * 1.08), "v", ms=5, color=_COLORS[key], alpha=0.8
            )
        axes[row, 1].axhline(vth, color="tab:red", lw=1, ls="-.", label="threshold vth·64")
        axes[row, 0].set_ylabel(f"{graph.layers[layer].name} #{n}\nu (current)", fontsize=9)
        axes[row, 1].set_ylabel("v (membrane)", fontsize=9)
        if with_diff and "lava" in series:
            ax = axes[row, 2]
            (gu, gv), (lu, lv) = series["golden"], series["lava"]
            ax.plot(lu - gu, "-", marker=".", color="tab:purple", label="u: Lava - golden")
            ax.plot(lv - gv, "--", marker=".", color="tab:green", label="v: Lava - golden")
            ax.axhline(0, color="0.6", lw=0.8)
            ax.set_ylabel("Lava - golden", fontsize=9)
            ax.legend(fontsize=7, loc="best")
        if mark_step is not None:
            for ax in axes[row]:
                ax.axvline(mark_step, color="tab:red", alpha=0.3, lw=6)
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    axes[0, 0].set_title("current u (integer units)", fontsize=10)
    axes[0, 1].set_title("membrane v after reset (▼ spikes), threshold dash-dot", fontsize=10)
    if with_diff:
        axes[0, 2].set_title("state difference (the fault)", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("time step t")
    note = "; float scaled by (vth·64)/threshold" if chain is not None else ""
    mark = "; red band: first golden/Lava divergence" if mark_step is not None else ""
    fig.suptitle(f"state traces, sample {art.trace_sample}{note}{mark}", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, path)


def _rows(rec: Recording, n: int) -> Recording:
    u = None if rec.u is None else tuple(a[:n] for a in rec.u)
    v = None if rec.v is None else tuple(a[:n] for a in rec.v)
    return Recording(tuple(s[:n] for s in rec.spikes), u, v)


def divergence_plot(art: VerifyArtifacts, report: VerifyReport, path: str | Path) -> Path:
    """Per-layer spike disagreement over time, and the first-divergence-step histogram."""
    plt = _plt()
    recs = art.recordings
    fig, (ax_t, ax_h) = plt.subplots(1, 2, figsize=(11, 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = [layer.name for layer in art.graph.layers]
    if "float" in recs:
        for i, curve in enumerate(disagreement_over_time(recs["float"], recs["golden"])):
            ax_t.plot(curve, "-", color=colors[i % 10], label=f"{names[i]}: float vs golden")
    if "lava" in recs:
        lava = recs["lava"]
        gold = _rows(recs["golden"], lava.batch)
        what = "spikes/u/v" if lava.has_uv else "spikes"
        for i, curve in enumerate(disagreement_over_time(gold, lava, states=lava.has_uv)):
            ax_t.plot(
                curve,
                "--",
                marker=".",
                color=colors[i % 10],
                label=f"{names[i]}: golden vs Lava ({what})",
            )
    ax_t.set_xlabel("time step t")
    ax_t.set_ylabel("fraction of (sample, neuron)\nthat differ")
    ax_t.set_title("disagreement over time", fontsize=10)
    ax_t.legend(fontsize=8)
    if report.float_quant:
        width = 0.8 / len(report.float_quant)
        for i, a in enumerate(report.float_quant):
            steps = (
                np.arange(len(a.first_step_hist)) + (i - (len(report.float_quant) - 1) / 2) * width
            )
            ax_h.bar(
                steps,
                a.first_step_hist,
                width=width,
                color=colors[i % 10],
                label=f"{a.name} ({a.samples_never_differing} never differ)",
            )
        ax_h.legend(fontsize=8)
        ax_h.set_title("float vs golden: first differing step per sample", fontsize=10)
    else:
        ax_h.text(
            0.5,
            0.5,
            "no float model: float vs quantized not measured",
            ha="center",
            va="center",
            transform=ax_h.transAxes,
        )
    ax_h.set_xlabel("time step t")
    ax_h.set_ylabel("samples")
    fig.tight_layout()
    return _save(fig, path)
