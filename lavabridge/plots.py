"""Plots (matplotlib, written as PNG files; the Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lavabridge.recording import Recording


def raster_comparison(
    recordings: Mapping[str, Recording],
    path: str | Path,
    *,
    sample: int = 0,
    input_spikes: npt.ArrayLike | None = None,
    title: str = "",
) -> Path:
    """Spike rasters of one sample, one row per layer, one column per backend.

    Where a backend's spikes differ from the first backend's, the differing spikes are drawn in red.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(recordings)
    first = recordings[names[0]]
    rows = first.num_layers + (input_spikes is not None)
    fig, axes = plt.subplots(
        rows, len(names), figsize=(4.2 * len(names), 1.9 * rows + 0.6), squeeze=False, sharex=True
    )
    for col, name in enumerate(names):
        rec = recordings[name]
        row = 0
        if input_spikes is not None:
            x = np.asarray(input_spikes)[sample]
            t, n = np.nonzero(x)
            axes[0, col].scatter(t, n, s=2, c="0.35", marker="|")
            axes[0, col].set_ylabel("input")
            row = 1
        for layer in range(rec.num_layers):
            ax = axes[row + layer, col]
            s = rec.spikes[layer][sample]
            ref = first.spikes[layer][sample]
            same = (s > 0) & (ref > 0)
            diff = (s > 0) & (ref == 0)
            t, n = np.nonzero(same if col else s > 0)
            ax.scatter(t, n, s=3, c="k", marker="|")
            if col:
                t, n = np.nonzero(diff)
                ax.scatter(t, n, s=6, c="tab:red", marker="|", label="not in " + names[0])
            ax.set_ylabel(f"layer {layer}")
            ax.set_ylim(-0.5, s.shape[1] - 0.5)
        axes[0, col].set_title(f"{name} (sample {sample})")
        axes[-1, col].set_xlabel("time step index t")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
