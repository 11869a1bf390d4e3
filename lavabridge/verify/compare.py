"""Comparisons of two recordings: exact (golden vs Lava) and statistical (float vs quantized).

All functions are pure numpy on :class:`~lavabridge.recording.Recording` arrays ``[B, T, N]``.
Indexing as everywhere in lavabridge: step ``t`` is Lava time step ``t + 1``; u and v are the state
at the end of the step (v after the reset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.coding import predict_by_count, predict_by_membrane
from lavabridge.errors import InputError
from lavabridge.recording import Recording, check_comparable, first_difference, quantity_pairs


# ----------------------------------------------------------------------------- exact comparison
@dataclass(frozen=True)
class NeuronState:
    """One neuron of one sample at one step, as a backend recorded it (``None``: not probed).

    ``step = -1`` is the rest state before the first step (spike 0, u = v = 0).
    """

    step: int
    spike: int
    u: int | None
    v: int | None


@dataclass(frozen=True)
class Divergence:
    """The first place where golden and Lava differ.

    Ordered by layer (divergence only propagates forward, so the lowest layer holds the cause),
    then time step, then sample, then neuron. ``quantities`` lists what differs there
    (``"spikes"``, ``"u"``, ``"v"``); ``others_at_step`` counts the other (sample, neuron) entries
    of that layer differing at the same step.
    """

    layer: int
    layer_name: str
    sample: int
    step: int
    neuron: int
    quantities: tuple[str, ...]
    golden: NeuronState
    lava: NeuronState
    golden_before: NeuronState
    lava_before: NeuronState
    others_at_step: int

    def __str__(self) -> str:
        what = "/".join(self.quantities)

        def show(s: NeuronState) -> str:
            return f"spike={s.spike} u={s.u} v={s.v}"

        return (
            f"golden and Lava differ first in layer {self.layer} '{self.layer_name}', sample "
            f"{self.sample}, t={self.step} (Lava step {self.step + 1}), neuron {self.neuron} "
            f"({what}): golden {show(self.golden)} vs Lava {show(self.lava)}; step before: "
            f"golden {show(self.golden_before)} vs Lava {show(self.lava_before)}"
        )


@dataclass(frozen=True)
class LayerExact:
    """Golden vs Lava counts for one layer.

    ``u_differing`` / ``v_differing`` are ``None`` where states were not compared;
    ``first_step`` is the earliest step with any difference (``None``: identical).
    """

    layer: int
    name: str
    spikes_differing: int
    u_differing: int | None
    v_differing: int | None
    samples_differing: int
    first_step: int | None


def _neuron_state(rec: Recording, layer: int, b: int, t: int, n: int) -> NeuronState:
    if t < 0:
        rest = 0 if rec.has_uv else None
        return NeuronState(t, 0, rest, rest)
    return NeuronState(
        t,
        int(rec.spikes[layer][b, t, n]),
        None if rec.u is None else int(rec.u[layer][b, t, n]),
        None if rec.v is None else int(rec.v[layer][b, t, n]),
    )


def first_divergence(
    golden: Recording,
    lava: Recording,
    names: tuple[str, ...] | None = None,
    sample_ids: npt.ArrayLike | None = None,
) -> Divergence | None:
    """The first difference (spikes, and u/v where both hold them), or ``None``.

    Parameters
    ----------
    golden, lava : Recording
        Same shapes.
    names : tuple of str, optional
        Layer names for the report.
    sample_ids : array of int, optional
        The original sample index of each row (when the recordings hold a subset of samples).
    """
    d = first_difference(golden, lava)
    if d is None:
        return None
    ids = np.arange(golden.batch) if sample_ids is None else np.asarray(sample_ids)
    b, t, n = d.sample, d.step, d.neuron
    return Divergence(
        layer=d.layer,
        layer_name=names[d.layer] if names else str(d.layer),
        sample=int(ids[b]),
        step=t,
        neuron=n,
        quantities=d.quantities,
        golden=_neuron_state(golden, d.layer, b, t, n),
        lava=_neuron_state(lava, d.layer, b, t, n),
        golden_before=_neuron_state(golden, d.layer, b, t - 1, n),
        lava_before=_neuron_state(lava, d.layer, b, t - 1, n),
        others_at_step=d.others_at_step,
    )


def exact_layers(
    golden: Recording, lava: Recording, names: tuple[str, ...]
) -> tuple[LayerExact, ...]:
    """Per-layer difference counts of spikes, and of u/v where both recordings hold them."""
    check_comparable(golden, lava)
    out = []
    for i in range(golden.num_layers):
        diff = golden.spikes[i] != lava.spikes[i]
        u_diff = v_diff = None
        any_diff = diff
        if golden.u is not None and lava.u is not None:
            du = golden.u[i] != lava.u[i]
            u_diff = int(du.sum())
            any_diff = any_diff | du
        if golden.v is not None and lava.v is not None:
            dv = golden.v[i] != lava.v[i]
            v_diff = int(dv.sum())
            any_diff = any_diff | dv
        steps = np.flatnonzero(any_diff.any(axis=(0, 2)))
        out.append(
            LayerExact(
                layer=i,
                name=names[i],
                spikes_differing=int(diff.sum()),
                u_differing=u_diff,
                v_differing=v_diff,
                samples_differing=int(any_diff.any(axis=(1, 2)).sum()),
                first_step=int(steps[0]) if steps.size else None,
            )
        )
    return tuple(out)


# ----------------------------------------------------------------------------- float vs quantized
@dataclass(frozen=True)
class LayerAgreement:
    """Float reference vs quantized (golden) spikes of one layer.

    Attributes
    ----------
    agreement : float
        Fraction of (sample, step, neuron) entries with the same spike bit.
    spikes_float, spikes_quant : int
        Total spikes.
    rate_float, rate_quant : float
        Spikes per neuron per step.
    count_rel_error : float or None
        ``(spikes_quant - spikes_float) / spikes_float`` (``None`` when the float layer is silent).
    rate_mae : float
        Mean over (sample, neuron) of ``|count_quant - count_float| / T`` (spikes per step).
    van_rossum : float
        Mean van Rossum distance over (sample, neuron) spike trains (see :func:`van_rossum`).
    first_step_hist : tuple of int
        ``T`` bins: number of samples whose first differing step in this layer is ``t``.
    samples_never_differing : int
    median_first_step : float or None
        Median of the first differing step over the samples that differ.
    """

    layer: int
    name: str
    agreement: float
    spikes_float: int
    spikes_quant: int
    rate_float: float
    rate_quant: float
    count_rel_error: float | None
    rate_mae: float
    van_rossum: float
    first_step_hist: tuple[int, ...]
    samples_never_differing: int
    median_first_step: float | None


def van_rossum(a: npt.ArrayLike, b: npt.ArrayLike, tau: float) -> npt.NDArray[np.float64]:
    """Discrete van Rossum distance per spike train, ``[B, T, N] -> [B, N]``.

    Each train is filtered with a causal exponential kernel and the filtered difference is
    integrated::

        f[t] = f[t-1] * exp(-1/tau) + s[t]
        D    = sqrt( (1/tau) * sum_t (f_a[t] - f_b[t])^2 )

    One unmatched spike far from the end contributes ``D^2 = 1 / (tau (1 - exp(-2/tau)))``, about
    1/2 for large ``tau``; two spikes ``k`` steps apart cost roughly ``sqrt(1 - exp(-k/tau))``.
    """
    if tau <= 0:
        raise InputError(f"van Rossum tau must be > 0 steps, got {tau}")
    x = np.asarray(a, np.float64)
    y = np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 3:
        raise InputError(f"van Rossum: shapes must be equal [B, T, N], got {x.shape}, {y.shape}")
    keep = float(np.exp(-1.0 / tau))
    f = np.zeros((x.shape[0], x.shape[2]))
    acc = np.zeros_like(f)
    d = x - y
    for t in range(x.shape[1]):
        f = f * keep + d[:, t]
        acc += f * f
    return np.asarray(np.sqrt(acc / tau))


def float_vs_quant(
    ref: Recording, quant: Recording, names: tuple[str, ...], tau: float
) -> tuple[LayerAgreement, ...]:
    """Per-layer statistics of the float reference ``ref`` against the quantized ``quant``."""
    check_comparable(ref, quant)
    out = []
    for i, (f, q) in enumerate(zip(ref.spikes, quant.spikes, strict=True)):
        B, T, N = f.shape
        diff = f != q
        sf, sq = int(f.sum()), int(q.sum())
        differs = diff.any(axis=2)  # [B, T]
        has = differs.any(axis=1)
        first = np.argmax(differs, axis=1)[has]
        hist = np.bincount(first, minlength=T)
        cf = f.sum(axis=1, dtype=np.int64)
        cq = q.sum(axis=1, dtype=np.int64)
        out.append(
            LayerAgreement(
                layer=i,
                name=names[i],
                agreement=float(1.0 - diff.mean()),
                spikes_float=sf,
                spikes_quant=sq,
                rate_float=sf / (B * T * N),
                rate_quant=sq / (B * T * N),
                count_rel_error=None if sf == 0 else (sq - sf) / sf,
                rate_mae=float(np.abs(cq - cf).mean() / T),
                van_rossum=float(van_rossum(f, q, tau).mean()),
                first_step_hist=tuple(int(c) for c in hist),
                samples_never_differing=int(B - has.sum()),
                median_first_step=float(np.median(first)) if first.size else None,
            )
        )
    return tuple(out)


def disagreement_over_time(
    a: Recording, b: Recording, *, states: bool = False
) -> list[npt.NDArray[np.float64]]:
    """Per layer: fraction of (sample, neuron) entries that differ at each step ``[T]``.

    Spikes only, or with ``states`` also u and v where both recordings hold them.
    """
    check_comparable(a, b)
    kinds = quantity_pairs(a, b, states=states)
    out = []
    for i in range(a.num_layers):
        diff = np.logical_or.reduce([x[i] != y[i] for _, x, y in kinds])
        out.append(np.mean(diff, axis=(0, 2)))
    return out


# ----------------------------------------------------------------------------- classification
READOUTS = ("spikes", "v")


def predict(rec: Recording, readout: str = "spikes") -> npt.NDArray[np.int64]:
    """Class per sample: most output spikes (ties: earliest first spike, then lowest index), or,
    with ``readout="v"``, the highest final membrane v of the output layer (non-spiking readout)."""
    if readout == "v":
        if rec.v is None:
            raise InputError("a 'v' readout needs a recording with v (probe_uv=True)")
        return predict_by_membrane(rec.v[-1])
    if readout != "spikes":
        raise InputError(f"readout must be one of {READOUTS}, got {readout!r}")
    return predict_by_count(rec.spikes[-1])


def accuracy(rec: Recording, labels: npt.NDArray[np.int64], readout: str = "spikes") -> float:
    """Accuracy of the output layer's prediction (:func:`predict`) against ``labels``."""
    n = rec.batch
    return float(np.mean(predict(rec, readout) == labels[:n]))


@dataclass(frozen=True)
class SourceLayer:
    """One layer of an imported model: the source framework's spikes vs the float reference's,
    the reference shifted by the layer's ``latency`` (its step ``t + latency`` is the source's
    step ``t``, for the ``steps`` steps both cover)."""

    name: str
    latency: int
    steps: int
    spikes_differing: int
    first_step: int | None


@dataclass(frozen=True)
class SourceCheck:
    """The source framework's own run (e.g. ``"snntorch"``) vs the float reference: identical
    spikes at every layer and step, shifted by each layer's latency, when ``identical``."""

    framework: str
    identical: bool
    layers: tuple[SourceLayer, ...]


def source_vs_float(
    framework: str,
    reference: Recording,
    source: Sequence[npt.NDArray[np.generic]],
    names: Sequence[str],
    latencies: Sequence[int],
) -> SourceCheck:
    """The source framework's spikes ``[B, T, n]`` per layer vs the float reference's, the
    reference read ``latencies[i]`` steps later: ``reference[:, t + L]`` against
    ``source[:, t]`` for every ``t`` both cover (all T when the reference ran ``T + L`` steps,
    e.g. on the input followed by ``L`` empty steps)."""
    layers = []
    for i, (name, lat) in enumerate(zip(names, latencies, strict=True)):
        src = np.asarray(source[i]) != 0
        ref = reference.spikes[i] != 0
        n = max(0, min(src.shape[1], ref.shape[1] - int(lat)))
        diff = ref[:, int(lat) : int(lat) + n] != src[:, :n]
        steps = np.flatnonzero(diff.any(axis=(0, 2)))
        first = int(steps[0]) if steps.size else None
        layers.append(SourceLayer(name, int(lat), n, int(diff.sum()), first))
    return SourceCheck(framework, all(ly.spikes_differing == 0 for ly in layers), tuple(layers))
