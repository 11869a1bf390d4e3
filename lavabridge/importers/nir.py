"""NIR graphs -> the float IR, exactly, with the time step, discretisation and reset explicit.

:func:`read_nir` maps the layer chain of a NIR graph (:mod:`lavabridge.importers.nirchain`) to
IR layers. With ``k(tau)`` the step factor of the discretisation
(:mod:`lavabridge.formats.nir`) and, per neuron, ``v~ = v - v_reset`` (so the IR's ``v`` starts
at 0 and resets to 0)::

    LIF       a = 1          b = k(tau)      g = b r              beta = b (v_leak - v_reset)
    CubaLIF   a = k(tau_syn) b = k(tau_mem)  g = (a w_in) (b r)   beta = b (v_leak - v_reset)
    IF        a = 1          b = 0           g = dt r             beta = 0
    Threshold a = 1          b = 1           g = 1                beta = 0     (v = I each step)

    theta_i = v_threshold_i - v_reset_i > 0;   theta = max theta_i;   s_i = theta / theta_i
    IR layer: current_decay a, voltage_decay b, threshold theta, bias s beta,
              synapse rows (and its bias) scaled by s g, recurrent rows by s g

which reproduces NIR's ``v <- v + b (v_leak - v + r I)`` (CubaLIF: ``I <- I + a (w_in x - I)``
first) spike for spike; the voltages are ``s_i (v - v_reset)``. ``a`` and ``b`` must be one
value per layer (a Lava process has one decay). The maps between two neurons compose into one
IR synapse (:func:`lavabridge.importers.torchlayers.synapse`): a single ``Affine``/``Linear``
is a Dense, ``Conv2d`` a Conv2d (``Conv1d`` one of height 1), ``SumPool2d``/``AvgPool2d`` a
pool, ``Conv2d`` then ``AvgPool2d`` one strided Conv2d, anything else one Dense; ``Flatten``
changes no value (populations are flat, C-major); ``Delay`` right after a neuron (or the Input)
becomes the Dense's delays (``delay / dt`` steps, an integer). A map's bias stays on the IR
synapse (a current, as in NIR).

**Latency**: NIR's edges are instantaneous, each IR synapse takes one step. IR layer ``i``
reproduces NIR layer ``i`` shifted by ``i + 1`` steps (``Graph.latencies()``); its biases start
there (``bias_start``), with its first input. A cycle ``neuron -> maps -> neuron`` reads the
previous step's spikes (one step, as every discrete simulator must).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.errors import InputError, UnsupportedError
from lavabridge.formats.nir import (
    META,
    Discretisation,
    Flat,
    check_dt,
    choose_discretisation,
    factor,
    flatten,
    load,
)
from lavabridge.importers import torchlayers as tl
from lavabridge.importers.nirchain import STAGE, Segment, describe, kind, refuse, segments
from lavabridge.importers.nirmaps import maps_of, shape_of
from lavabridge.ir.spatial import ungrouped
from lavabridge.semantics import Compare, Reset

F64 = npt.NDArray[np.float64]
RESETS = (Reset.ZERO, Reset.SUBTRACT)


@dataclass(frozen=True)
class _Neuron:
    """A NIR neuron in IR terms before the threshold folding (see the module docstring)."""

    a: float
    b: float
    gain: F64
    leak: F64 | None  # v_leak - v_reset (None: no leak term)
    theta: F64
    reset: Reset


def _arr(flat: Flat, name: str, field: str, n: int) -> F64:
    node = flat.nodes[name]
    try:
        value = np.broadcast_to(np.asarray(getattr(node, field), np.float64).ravel()
                                if np.size(getattr(node, field)) == n
                                else np.asarray(getattr(node, field), np.float64), (n,))  # fmt: skip
    except ValueError:
        raise refuse(flat, name, f"{field} has shape {np.shape(getattr(node, field))}, the "
                     f"neuron has {n} elements") from None  # fmt: skip
    if not np.all(np.isfinite(value)):
        raise refuse(flat, name, f"{field} holds non-finite values")
    return value.astype(np.float64)


def _decay(flat: Flat, name: str, field: str, n: int, dt: float, disc: Discretisation) -> float:
    k = factor(_arr(flat, name, field, n), dt, disc)
    if not np.all((k > 0) & (k <= 1)):
        bad = float(k[~((k > 0) & (k <= 1))][0])
        raise refuse(flat, name, f"{field} gives the step factor {bad:.6g} with dt={dt:g} "
                     f"({disc.value}); it must lie in (0, 1]: {field} > 0, and dt <= {field} "
                     "for euler (use a smaller dt, or discretisation='exp')")  # fmt: skip
    if not np.all(k == k[0]):
        raise refuse(flat, name, f"{field} differs between neurons: a Lava process has one "
                     "decay per layer (split the layer into populations of equal time constant)")  # fmt: skip
    return float(k[0])


def _theta(flat: Flat, name: str, n: int, threshold: str = "v_threshold") -> F64:
    node = flat.nodes[name]
    th = _arr(flat, name, threshold, n)
    if hasattr(node, "v_reset"):
        th = th - _arr(flat, name, "v_reset", n)
    if not np.all(th > 0):
        raise refuse(flat, name, f"{threshold} must exceed v_reset for every neuron (a "
                     "neuron at rest would fire every step)")  # fmt: skip
    return th


def _neuron(
    flat: Flat, name: str, n: int, dt: float, disc: Discretisation, reset: Reset
) -> _Neuron:
    node, k = flat.nodes[name], kind(flat.nodes[name])
    if k == "Threshold":
        return _Neuron(1.0, 1.0, np.ones(n), None, _theta(flat, name, n, "threshold"), Reset.ZERO)
    r = _arr(flat, name, "r", n)
    theta = _theta(flat, name, n)
    if k == "IF":
        return _Neuron(1.0, 0.0, dt * r, None, theta, reset)
    leak = _arr(flat, name, "v_leak", n) - _arr(flat, name, "v_reset", n)
    if k == "LIF":
        b = _decay(flat, name, "tau", n, dt, disc)
        return _Neuron(1.0, b, b * r, leak, theta, reset)
    a = _decay(flat, name, "tau_syn", n, dt, disc)
    b = _decay(flat, name, "tau_mem", n, dt, disc)
    w_in = _arr(flat, name, "w_in", n) if getattr(node, "w_in", None) is not None else np.ones(n)
    return _Neuron(a, b, (a * w_in) * (b * r), leak, theta, reset)


def _node_reset(flat: Flat, name: str, reset: Reset | str | None) -> Reset:
    value = reset
    if value is None:
        value = (flat.nodes[name].metadata or {}).get(META["reset"])
    if value is None:
        value = flat.metadata.get(META["reset"], Reset.ZERO)
    try:
        out = Reset(str(value.value if isinstance(value, Reset) else value))
    except ValueError:
        out = None
    if out not in RESETS:
        raise InputError(f"reset {value!r} ({describe(name, flat.nodes[name])}): NIR's reset is "
                         "'zero' (v <- v_reset) or 'subtract' (v <- v - (v_threshold - v_reset))")  # fmt: skip
    return out


# ----------------------------------------------------------------------------- layers
def _synapse(flat: Flat, names: Sequence[str], source: str, shape: tuple[int, ...], dt: float,
             rows: F64 | None = None, flat_source: bool = False) -> tuple[ir.Synapse, tuple[int, ...]]:  # fmt: skip
    """One IR synapse for the maps ``names`` leaving ``source`` (an identity Dense without
    maps), rows scaled by ``rows``, with the Delay's delays; a Dense where the IR holds the
    source population flat (``flat_source``: a conv would need a reshape NIR lacks)."""
    maps, delays, out_shape = maps_of(flat, names, shape, dt)
    n_in = int(np.prod(shape))
    where = " -> ".join([describe(n, flat.nodes[n]) for n in names] or [f"'{source}'"])
    if not maps:
        tl.check_size(n_in, n_in, where, STAGE)
        syn: ir.Synapse = ir.Dense(np.eye(n_in))
    else:
        syn = tl.synapse(maps, STAGE)
    if rows is not None:
        if syn.n_out != rows.size:
            raise UnsupportedError(
                f"{where}: gives {syn.n_out} values, the neuron after it has {rows.size}",
                node=where, stage=STAGE,
            )  # fmt: skip
        syn = tl.scaled(syn, rows, np.ones(syn.n_in), where, STAGE)
    if isinstance(syn, ir.Spatial) and flat_source:
        syn = tl.dense_of([tl.Map("", where, syn)], where, STAGE)
    if isinstance(syn, ir.Conv2d):
        syn = ungrouped(syn)  # as NIR files hold them (a pool scaled per channel is grouped)
    if delays is not None and np.any(delays):
        d = (
            syn
            if isinstance(syn, ir.Dense)
            else tl.dense_of([tl.Map("", where, syn)], where, STAGE)
        )
        syn = d.with_(delay=np.broadcast_to(delays.astype(np.int64)[None, :], d.weight.shape))
    return syn, out_shape


def _name(flat: Flat, names: Sequence[str], default: str) -> str:
    named = [n for n in names if kind(flat.nodes[n]) not in ("Flatten", "Delay")]
    return "+".join(named) if named else default


def _layer(flat: Flat, seg: Segment, latency: int, dt: float, disc: Discretisation,
           reset: Reset | str | None, flat_source: bool) -> ir.ChainLayer:  # fmt: skip
    shape = shape_of(flat, seg.neuron)
    n = int(np.prod(shape))
    p = _neuron(flat, seg.neuron, n, dt, disc, _node_reset(flat, seg.neuron, reset))
    ref = float(p.theta.max())
    scale = ref / p.theta
    rows = p.gain * scale
    syn, _ = _synapse(flat, seg.maps, seg.source, shape_of(flat, seg.source), dt, rows, flat_source)
    rec = rec_name = None
    if seg.recurrent is not None:
        rec, _ = _synapse(flat, seg.recurrent, seg.neuron, shape, dt, rows)
        rec_name = _name(flat, seg.recurrent, f"{seg.neuron}.recurrent")
    bias = np.zeros(n) if p.leak is None else p.b * (scale * p.leak)
    starts = flat.metadata.get(META["bias_start"]) or {}
    start = int(starts.get(seg.neuron, latency)) if isinstance(starts, dict) else latency
    neuron = ir.CubaLIF(n, p.a, p.b, ref, bias, p.reset, Compare.GT, start)
    return ir.ChainLayer(seg.neuron, neuron, syn, rec, _name(flat, seg.maps, f"{seg.neuron}.synapse"),
                         rec_name)  # fmt: skip


def read_nir(
    src: Any,
    dt: float,
    reset: Reset | str | None = None,
    *,
    discretisation: Discretisation | str | None = None,
    name: str | None = None,
) -> ir.Graph:
    """A NIR graph (``nir.NIRGraph`` or ``.nir`` path) as the float IR (module docstring).

    Parameters
    ----------
    src : nir.NIRGraph or path
    dt : float
        Seconds per step; required (NIR stores none). snnTorch's exports assume ``1e-4``.
    reset : 'zero' | 'subtract', optional
        Same-step reset of every LIF / CubaLIF / IF: ``v <- v_reset`` or
        ``v <- v - (v_threshold - v_reset)``. ``None``: a node's or the graph's
        ``lavabridge.reset`` metadata (files lavabridge wrote), else ``'zero'``. Never inferred
        from ``v_reset``.
    discretisation : 'euler' | 'exp', optional
        ``None``: the graph's ``lavabridge.discretisation`` metadata, else ``'euler'``
        (:mod:`lavabridge.formats.nir`).
    name : str, optional
        The IR graph's name (default: the metadata's, else ``'nir'``).

    Raises
    ------
    UnsupportedError
        A node or topology lavabridge cannot deploy exactly; names the node and what to do.
    InputError, ModelFileError
        Bad arguments; a missing or damaged file.
    """
    step = check_dt(dt)
    flat = flatten(load(src))
    meta = flat.metadata
    disc = choose_discretisation(discretisation, meta)
    chain = segments(flat)
    layers: list[ir.ChainLayer] = []
    for i, seg in enumerate(chain):
        flat_source = i > 0 and not isinstance(layers[-1].synapse, ir.Spatial)
        layers.append(_layer(flat, seg, i + 1, step, disc, reset, flat_source))
    label = name or str(meta.get(META["name"], "") or "nir")
    inp = flat.inputs[0]
    return ir.Graph.sequential(
        int(np.prod(shape_of(flat, inp))), *layers, name=label, input_name=inp
    )


def nir_summary(src: Any) -> dict[str, Any]:
    """What a NIR file states about itself: node types by name, edges, and the metadata
    lavabridge reads (dt, discretisation, reset)."""
    flat = flatten(load(src))
    keys = {k: flat.metadata[v] for k, v in META.items() if v in flat.metadata}
    return {
        "nodes": {k: kind(v) for k, v in flat.nodes.items()},
        "edges": [list(e) for e in flat.edges],
        "metadata": {
            k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in keys.items()
        },
    }


__all__ = ["RESETS", "nir_summary", "read_nir"]
