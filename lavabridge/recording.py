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
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.atomic import write_bytes
from lavabridge.errors import InputError, ModelFileError
from lavabridge.npyfiles import Arrays, read_npz


@dataclass(frozen=True)
class Difference:
    """Where two recordings differ first, and what differs there.

    Ordered by layer (a divergence only propagates forward, so the lowest layer holds the cause),
    then time step, then sample, then neuron; spikes, u and v count alike. ``quantities`` lists
    what differs at that entry (``"spikes"``, ``"u"``, ``"v"``); ``others_at_step`` counts the
    other (sample, neuron) entries of that layer differing at the same step.
    """

    layer: int
    sample: int  # row of the recordings
    step: int  # 0-based index t (Lava time step t + 1)
    neuron: int
    quantities: tuple[str, ...]
    others_at_step: int


@dataclass(frozen=True)
class Mismatch:
    """The first difference of :meth:`Recording.first_mismatch`, with both values."""

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


def check_comparable(a: Recording, b: Recording) -> None:
    """Raise :class:`InputError` unless both hold the same layers with the same spike shapes."""
    if a.num_layers != b.num_layers:
        raise InputError(f"recordings have {a.num_layers} and {b.num_layers} layers")
    for i, (x, y) in enumerate(zip(a.spikes, b.spikes, strict=True)):
        if x.shape != y.shape:
            raise InputError(f"layer {i}: spike shapes differ: {x.shape} != {y.shape}")


def quantity_pairs(
    a: Recording, b: Recording, *, states: bool = True
) -> list[tuple[str, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]:
    """``[("spikes", a, b), ("u", ...), ("v", ...)]``: u and v where both hold them."""
    pairs: list[tuple[str, tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = [
        ("spikes", a.spikes, b.spikes)
    ]
    if states and a.u is not None and b.u is not None:
        pairs.append(("u", a.u, b.u))
    if states and a.v is not None and b.v is not None:
        pairs.append(("v", a.v, b.v))
    return pairs


def first_difference(a: Recording, b: Recording, *, states: bool = True) -> Difference | None:
    """The first :class:`Difference` of spikes (and u, v where both hold them), or ``None``."""
    check_comparable(a, b)
    pairs = quantity_pairs(a, b, states=states)
    for layer in range(a.num_layers):
        masks = {}
        for what, x, y in pairs:
            if x[layer].shape != y[layer].shape:
                raise InputError(f"{what} of layer {layer}: shapes {x[layer].shape} != "
                                 f"{y[layer].shape}")  # fmt: skip
            masks[what] = x[layer].astype(np.int64) != y[layer].astype(np.int64)
        diff = np.logical_or.reduce(list(masks.values()))
        per_step = diff.any(axis=(0, 2))
        if not per_step.any():
            continue
        t = int(np.argmax(per_step))
        at_t = diff[:, t, :]
        row = int(np.argmax(at_t.any(axis=1)))
        n = int(np.argmax(at_t[row]))
        what_differs = tuple(w for w, m in masks.items() if m[row, t, n])
        return Difference(layer, row, t, n, what_differs, int(at_t.sum()) - 1)
    return None


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
        """The first difference to ``other`` (see :func:`first_difference`), or ``None``.

        u/v are compared only when ``states`` and both recordings hold them.
        """
        d = first_difference(self, other, states=states)
        if d is None:
            return None
        what = d.quantities[0]
        mine = dict((w, x) for w, x, _ in quantity_pairs(self, other))[what][d.layer]
        theirs = dict((w, y) for w, _, y in quantity_pairs(self, other))[what][d.layer]
        at = (d.sample, d.step, d.neuron)
        return Mismatch(what, d.layer, d.sample, d.step, d.neuron, int(mine[at]), int(theirs[at]))

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
        write_bytes(path, buf.getvalue())  # atomic: complete or absent

    @classmethod
    def from_npz(cls, path: str | Path) -> Recording:
        """Read a file written by :meth:`to_npz`, checking every array.

        Raises
        ------
        ModelFileError
            Missing, damaged or forged file, unknown entries, non-binary or non-3-D spikes, layers
            of different batch or step counts, u/v of other shapes than their spikes.
        """
        arrays = read_npz(path, what="recording")
        try:
            return _recording_from(arrays, str(path))
        except (ValueError, TypeError, KeyError, RecursionError, OverflowError) as exc:
            raise ModelFileError(f"{path}: not a lavabridge recording ({exc})") from exc


def _meta(arrays: Arrays, where: str) -> dict[str, Any]:
    if "meta" not in arrays:
        return {}
    raw = arrays["meta"]
    if raw.ndim != 0 or raw.dtype.kind != "U":
        raise ModelFileError(f"{where}: 'meta' must be a JSON string, got {raw.dtype} {raw.shape}")
    meta = json.loads(str(raw))
    if not isinstance(meta, dict):
        raise ModelFileError(f"{where}: 'meta' must be a JSON object")
    timings = meta.get("timings_s", {})
    if (
        not isinstance(meta.get("backend", ""), str)
        or not isinstance(timings, dict)
        or not all(isinstance(t, (int, float)) for t in timings.values())
    ):
        raise ModelFileError(f"{where}: 'meta' holds a wrong backend or timings")
    return meta


def _layer_arrays(arrays: Arrays, where: str) -> tuple[list[np.ndarray], list[np.ndarray] | None,
                                                       list[np.ndarray] | None]:  # fmt: skip
    n = sum(1 for k in arrays if k.startswith("spikes_"))
    expected = {f"spikes_{i}" for i in range(n)}
    with_uv = expected | {f"{w}_{i}" for w in "uv" for i in range(n)}
    keys = set(arrays) - {"meta"}
    if n == 0 or keys not in (expected, with_uv):
        raise ModelFileError(
            f"{where}: entries {sorted(keys)} are not spikes_0..spikes_<n-1> (with u_<i>, v_<i> "
            "for every layer, or for none)"
        )
    spikes = [arrays[f"spikes_{i}"] for i in range(n)]
    if keys != with_uv:
        return spikes, None, None
    return spikes, [arrays[f"u_{i}"] for i in range(n)], [arrays[f"v_{i}"] for i in range(n)]


def _recording_from(arrays: Arrays, where: str) -> Recording:
    meta = _meta(arrays, where)
    spikes, us, vs = _layer_arrays(arrays, where)
    bt = spikes[0].shape[:2] if spikes[0].ndim == 3 else None
    for i, s in enumerate(spikes):
        if s.ndim != 3 or s.shape[:2] != bt or s.dtype.kind not in "biu":
            raise ModelFileError(f"{where}: spikes_{i} must be [B, T, N] integers with the batch "
                                 f"and steps of layer 0, got {s.dtype} {s.shape}")  # fmt: skip
        if s.size and (s.min() < 0 or s.max() > 1):
            raise ModelFileError(f"{where}: spikes_{i} must be binary (0/1)")
    for name, states in (("u", us), ("v", vs)):
        for i, (a, s) in enumerate(zip(states or [], spikes, strict=False)):
            if a.shape != s.shape or a.dtype.kind not in "iu":
                raise ModelFileError(f"{where}: {name}_{i} must be integers shaped like "
                                     f"spikes_{i} {s.shape}, got {a.dtype} {a.shape}")  # fmt: skip
    return Recording(
        tuple(s.astype(np.uint8) for s in spikes),
        None if us is None else tuple(a.astype(np.int64) for a in us),
        None if vs is None else tuple(a.astype(np.int64) for a in vs),
        str(meta.get("backend", "")),
        {str(k): float(t) for k, t in meta.get("timings_s", {}).items()},
    )
