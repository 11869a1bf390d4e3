"""``Recording``: what one backend produced for a batch — spikes, and u/v when probed, per layer.

Indexing convention (the same for every backend):

* input ``X[:, t]`` is presented at Lava time step ``t + 1`` (as a Lava ``RingBuffer`` source does);
* ``spikes[i][:, t]`` is what layer ``i`` emitted at time step ``t + 1`` (what a Lava ``RingBuffer``
  sink on its ``s_out`` records); layer 0 is the first neuron layer;
* ``u[i][:, t]`` and ``v[i][:, t]`` are the state at the end of time step ``t + 1`` (what a Lava
  ``Monitor`` on the Var records: v after the reset).

So with one Dense hop per layer, layer 0 answers input column ``t`` at index ``t + 1``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, ModelFileError


@dataclass(frozen=True)
class Mismatch:
    """The first place two recordings differ (in layer, then time, then sample, then neuron order)."""

    what: str  # "spikes", "u" or "v"
    layer: int
    sample: int
    step: int  # 0-based index t (Lava time step t + 1)
    neuron: int
    left: int
    right: int

    def __str__(self) -> str:
        return (
            f"{self.what} differ first at layer {self.layer}, sample {self.sample}, "
            f"t={self.step} (Lava step {self.step + 1}), neuron {self.neuron}: "
            f"{self.left} != {self.right}"
        )


@dataclass(frozen=True)
class Recording:
    """Per-layer spikes ``[B, T, N_i]`` (uint8), and u, v ``[B, T, N_i]`` (int64) when probed.

    Parameters
    ----------
    spikes : tuple of arrays
        One array per neuron layer.
    u, v : tuple of arrays or None
        Current and voltage at the end of each step, when probed.
    backend : str
        Who produced it (``"golden"``, ``"lava"``, ``"netx"``, ...).
    timings : dict
        Wall-clock seconds of the phases the backend measured.
    """

    spikes: tuple[npt.NDArray[np.uint8], ...]
    u: tuple[npt.NDArray[np.int64], ...] | None = None
    v: tuple[npt.NDArray[np.int64], ...] | None = None
    backend: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_layers(
        cls,
        spikes: Sequence[np.ndarray],
        u: Sequence[np.ndarray] | None,
        v: Sequence[np.ndarray] | None,
        backend: str,
        timings: dict[str, float],
    ) -> Recording:
        """Build from per-layer lists (u and v present only when both were recorded)."""
        has_uv = u is not None and v is not None
        return cls(
            tuple(spikes),
            tuple(u) if has_uv and u is not None else None,
            tuple(v) if has_uv and v is not None else None,
            backend,
            dict(timings),
        )

    @property
    def num_layers(self) -> int:
        return len(self.spikes)

    @property
    def batch(self) -> int:
        return int(self.spikes[0].shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.spikes[0].shape[1])

    @property
    def has_uv(self) -> bool:
        return self.u is not None and self.v is not None

    def select(self, idx: npt.ArrayLike | slice) -> Recording:
        """The samples ``idx`` (an index array or a slice) of every layer."""
        sel = idx if isinstance(idx, slice) else np.asarray(idx)
        u = None if self.u is None else tuple(a[sel] for a in self.u)
        v = None if self.v is None else tuple(a[sel] for a in self.v)
        return Recording(tuple(a[sel] for a in self.spikes), u, v, self.backend, self.timings)

    def spike_counts(self) -> list[int]:
        """Total spikes per layer over the whole batch."""
        return [int(s.sum()) for s in self.spikes]

    def first_mismatch(self, other: Recording, *, states: bool = True) -> Mismatch | None:
        """The first difference to ``other`` (spikes, then u, then v per layer), or ``None``.

        u/v are compared only when ``states`` and both recordings hold them.
        """
        if len(self.spikes) != len(other.spikes):
            raise InputError(f"layer counts differ: {len(self.spikes)} != {len(other.spikes)}")
        kinds: list[tuple[str, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = [
            ("spikes", self.spikes, other.spikes)
        ]
        if states and self.u is not None and other.u is not None:
            kinds.append(("u", self.u, other.u))
        if states and self.v is not None and other.v is not None:
            kinds.append(("v", self.v, other.v))
        for layer in range(len(self.spikes)):
            for what, mine, theirs in kinds:
                a, b = mine[layer], theirs[layer]
                if a.shape != b.shape:
                    raise InputError(f"{what} of layer {layer}: shapes {a.shape} != {b.shape}")
                diff = np.argwhere(a.astype(np.int64) != b.astype(np.int64))
                if diff.size:
                    # order by time step first: the earliest divergence is the informative one
                    b_i, t_i, n_i = min(map(tuple, diff), key=lambda x: (x[1], x[0], x[2]))
                    return Mismatch(
                        what, layer, int(b_i), int(t_i), int(n_i), int(a[b_i, t_i, n_i]),
                        int(b[b_i, t_i, n_i]),
                    )  # fmt: skip
        return None

    def identical(self, other: Recording, *, states: bool = True) -> bool:
        """True when spikes (and u/v where both have them) are equal everywhere."""
        return self.first_mismatch(other, states=states) is None

    def to_npz(self, path: str | Path) -> None:
        """Write ``spikes_<i>`` (and ``u_<i>``, ``v_<i>``) plus a ``meta`` JSON string."""
        arrays: dict[str, np.ndarray] = {}
        for i, s in enumerate(self.spikes):
            arrays[f"spikes_{i}"] = s
        if self.u is not None and self.v is not None:
            for i, (u, v) in enumerate(zip(self.u, self.v, strict=True)):
                arrays[f"u_{i}"] = u
                arrays[f"v_{i}"] = v
        meta = {"backend": self.backend, "timings_s": self.timings, "layers": self.num_layers}
        arrays["meta"] = np.array(json.dumps(meta))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def from_npz(cls, path: str | Path) -> Recording:
        """Read a file written by :meth:`to_npz`."""
        try:
            with np.load(path) as f:
                meta = json.loads(str(f["meta"])) if "meta" in f else {}
                n = sum(1 for k in f.files if k.startswith("spikes_"))
                spikes = tuple(f[f"spikes_{i}"] for i in range(n))
                has_uv = all(f"u_{i}" in f.files and f"v_{i}" in f.files for i in range(n))
                u = tuple(f[f"u_{i}"] for i in range(n)) if has_uv and n else None
                v = tuple(f[f"v_{i}"] for i in range(n)) if has_uv and n else None
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a lavabridge recording ({exc})") from exc
        return cls(spikes, u, v, meta.get("backend", ""), meta.get("timings_s", {}))
