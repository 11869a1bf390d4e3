"""QGraph -> lava-dl netx HDF5 (``.net``), written only where netx reproduces the graph exactly.

The file is what ``lava.lib.dl.netx.hdf5.Network`` (lava-dl 0.6.0) reads (layout: lava-fixed-point
§4.1). Per layer ``i`` (``/layer/<i>``):

* ``type``: ``dense``, or ``dense_rec`` with ``weight_rec`` for a recurrent layer; layer 0 of a
  bias-input graph is ``input`` (its neurons take the sample through ``bias_mant``);
* ``shape = [n]``, ``weight`` (n_out, n_in), optional ``bias`` and ``delay`` (n_out, n_in);
* ``conv`` layers (:mod:`lavabridge.formats.netx_conv`): ``shape = [C, H, W]``, torch's kernel,
  geometry, one bias per channel; a shape-only ``input`` entry comes first when layer 0 is a conv
  taking spikes, and a ``flatten`` entry before a dense layer reading an image layer;
* ``neuron``: ``type = CUBA``, ``iDecay = du + 1``, ``vDecay = dv``, ``vThMant = vth``.

Every connection is checked by building what netx will build from the stored integers
(:func:`lavabridge.formats.netx.netx_dense`: ``optimize_weight_bits``, sign mode re-inferred and
weights clipped by Lava's Dense) and requiring the same Dense output for every binary input.
Two dispatch tables pick the writer of each node kind: :data:`SYNAPSES` (:class:`QDense` ->
``dense`` / ``dense_rec``) and :data:`NEURONS` (:class:`QCubaLIF` -> a ``CUBA`` neuron group). netx
stores integers, so ``R = W_eff · 2^weight_exp`` must be integral; Lava then computes
``floor(R' @ s)`` per delay bucket with ``R' = W_eff' · 2^weight_exp'`` of netx's Dense, and::

    floor(R' @ s) == R @ s  for every binary s   <=>   E = R' - R >= 0 and each row of E sums < 1

(per delay bucket; usually ``E = 0``). The tests check this rule against brute force and Lava.
Anything else raises :class:`UnsupportedError` naming the layer: see :func:`netx_limits`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from lavabridge.atomic import atomic_path
from lavabridge.dispatch import Table
from lavabridge.errors import ModelFileError, UnsupportedError, ValidationError
from lavabridge.formats.netx import NETX_BIAS_EXP, NETX_MAX_DELAY, netx_dense
from lavabridge.formats.netx_conv import conv_items
from lavabridge.quant.qgraph import QGraph, QLayer
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset, QDense
from lavabridge.quant.qspatial import QConv
from lavabridge.semantics import Compare, InputKind, Reset
from lavabridge.target import LOIHI2

IntArray = npt.NDArray[np.int64]


def netx_limits() -> tuple[str, ...]:
    """What a QGraph must satisfy for :func:`write_netx` (netx cannot express the rest exactly)."""
    lo, hi = LOIHI2.bias_mant_range
    return (
        "weights: W_eff * 2^weight_exp must be an integer matrix (netx stores integer weights and "
        "chooses weight_exp itself); with weight_exp < 0 every effective weight must be divisible "
        "by 2^-weight_exp",
        "weights: netx + Lava reproduce stored integers exactly in mixed [-256, 254], "
        "excitatory [0, 255], inhibitory [-255, -1]; beyond that optimize_weight_bits clips mixed "
        "values to [-256, 254] and excitatory > 255 / inhibitory < -256 give undefined shifts; "
        "where Lava loses precision on what netx passes (e.g. a {0, -1} matrix runs as -128/256 "
        "per spike) the graph is written only if floor() still gives the exact sum for every "
        "binary input (here: at most one such synapse per row); all-zero matrices crash netx",
        "dense_rec: input and recurrent weights share one num_weight_bits / weight_exp (jointly "
        "optimized); with delays, both share one delay matrix (so n_in == n_out) and netx drops "
        "weight_exp, so the joint weight_exp must come out 0",
        f"bias: netx fixes bias_exp = {NETX_BIAS_EXP}, so bias_mant << bias_exp must be a multiple "
        f"of 64 with bias / 64 in the 13-bit mantissa range [{lo}, {hi}]",
        f"bias-input graphs: layer 0 needs bias_exp = {NETX_BIAS_EXP} and no recurrent connection "
        "(netx's input block has none); the input transform is metadata only",
        f"delays: at most {NETX_MAX_DELAY} (netx clips); only CUBA-LIF neurons with zero reset "
        "and '>'; target LOIHI2",
    )


def _same_function(orig: QDense, built: QDense) -> bool:
    """True when ``built`` computes ``orig``'s Dense output for every binary input.

    ``orig`` is exact (``R = W_eff 2^e`` integral, checked by :func:`netx_weights`); ``built``
    computes ``floor(R' @ s)`` per delay bucket. With ``E = R' - R``, ``floor(R' s) == R s`` for
    all binary ``s`` iff every ``E >= 0`` and every row of every delay bucket sums below 1.
    """
    m = min(orig.weight_exp, built.weight_exp, 0)
    r0 = orig.effective_weights() << (orig.weight_exp - m)  # R * 2^-m, in integers
    r1 = built.effective_weights() << (built.weight_exp - m)
    d0 = orig.delays if orig.delays is not None else np.zeros(orig.shape, np.int64)
    d1 = built.delays if built.delays is not None else np.zeros(built.shape, np.int64)
    for d in np.union1d(d0, d1):
        err = np.where(d1 == d, r1, 0) - np.where(d0 == d, r0, 0)
        if err.size and (err.min() < 0 or err.sum(axis=1).max() >= (1 << -m)):
            return False
    return True


def netx_weights(q: QDense, where: str) -> IntArray:
    """The integers netx must store: ``W_eff * 2^weight_exp`` (refused when not integral)."""
    w, e = q.effective_weights(), q.weight_exp
    if e >= 0:
        return w << e
    if np.any(w % (1 << -e)):
        raise UnsupportedError(
            f"{where}: W_eff * 2^{e} is not an integer matrix ({int(np.count_nonzero(w % (1 << -e)))}"
            f" effective weights are not multiples of {1 << -e}); netx stores integer weights"
        )
    return w >> -e


def _check_dense(layer: QLayer, where: str) -> tuple[IntArray, IntArray | None, IntArray | None]:
    """``(weight, weight_rec, delay)`` to store, after proving netx rebuilds the same function."""
    syn, rec = layer.synapse, layer.recurrent
    if not isinstance(syn, QDense) or not isinstance(rec, (QDense, type(None))):
        raise UnsupportedError(f"{where}: netx dense layers hold Dense synapses only",
                               node=where, stage="netx writer", supported=("Dense",))  # fmt: skip
    w = netx_weights(syn, f"{where} synapse")
    w_rec = None if rec is None else netx_weights(rec, f"{where} recurrent")
    delay = syn.delays if syn.delays is not None else (None if rec is None else rec.delays)
    with warnings.catch_warnings():  # netx's clipping notice: the check below refuses anyway
        warnings.simplefilter("ignore")
        built_syn, built_rec = netx_dense(w, w_rec, delay, where)
    for name, orig, built in (("synapse", syn, built_syn), ("recurrent", rec, built_rec)):
        if orig is None or built is None:
            continue
        if not _same_function(orig, built):
            delayed_rec = rec is not None and delay is not None
            raise UnsupportedError(_why(f"{where} {name}", orig, built, delayed_rec))
    return w, w_rec, delay


def _why(where: str, orig: QDense, built: QDense, delayed_rec: bool) -> str:
    d0 = orig.delays if orig.delays is not None else np.zeros(orig.shape, np.int64)
    d1 = built.delays if built.delays is not None else np.zeros(built.shape, np.int64)
    if not np.array_equal(d0[orig.weights != 0], d1[orig.weights != 0]):
        return (
            f"{where}: netx would build other delays (a dense_rec layer's input and recurrent "
            "Dense share one 'delay' dataset)"
        )
    want = netx_weights(orig, where)
    return (
        f"{where}: netx cannot reproduce the weights: the stored integers in [{want.min()}, "
        f"{want.max()}] become Dense(weight_exp={built.weight_exp}, num_weight_bits="
        f"{built.num_weight_bits}), which Lava computes differently for some inputs "
        f"{'(netx drops weight_exp for a delayed dense_rec) ' if delayed_rec else ''}"
        "(see netx_limits())"
    )


def _bias_mantissa(neuron: QCubaLIF, where: str) -> IntArray:
    """``bias_mant << bias_exp`` as a mantissa at netx's fixed ``bias_exp = 6``."""
    eff = neuron.effective_bias()
    unit = 1 << NETX_BIAS_EXP
    if np.any(eff % unit):
        raise UnsupportedError(
            f"{where}: bias_mant << bias_exp is not a multiple of 2^{NETX_BIAS_EXP} for "
            f"{int(np.count_nonzero(eff % unit))} neuron(s); netx fixes bias_exp = {NETX_BIAS_EXP}"
        )
    mant = eff >> NETX_BIAS_EXP
    lo, hi = LOIHI2.bias_mant_range
    if mant.size and (mant.min() < lo or mant.max() > hi):
        raise UnsupportedError(
            f"{where}: bias at bias_exp = {NETX_BIAS_EXP} spans [{mant.min()}, {mant.max()}], "
            f"outside the 13-bit mantissa [{lo}, {hi}]"
        )
    return mant


def _cuba_items(neuron: QCubaLIF, where: str) -> dict[str, Any]:
    """The ``neuron`` group of a CUBA-LIF population (netx's CUBA: zero reset, ``>``)."""
    if (neuron.reset, neuron.compare) != (Reset.ZERO, Compare.GT):
        raise UnsupportedError(
            f"{where}: netx's CUBA neurons reset to zero and compare with '>', not "
            f"reset={neuron.reset.value!r} with compare={neuron.compare.value!r}",
            node=where, stage="netx writer", supported=("CubaLIF with reset='zero', compare='>'",),
        )  # fmt: skip
    if neuron.bias_start and np.any(neuron.bias_mant):
        raise UnsupportedError(
            f"{where}: its bias starts at step {neuron.bias_start} (an imported layer aligned with "
            "its latency); a netx file holds a bias that acts from the first step",
            node=where, stage="netx writer", supported=("a bias from step 0, or no bias",),
        )  # fmt: skip
    return {
        "type": np.bytes_(b"CUBA"),
        "iDecay": np.int64(neuron.du + LOIHI2.ds_offset),
        "vDecay": np.int64(neuron.dv),
        "vThMant": np.int64(neuron.vth),
    }


def _dense_layer_items(layer: QLayer, where: str) -> dict[str, Any]:
    """``type`` / ``weight`` / ``weight_rec`` / ``delay`` / ``bias`` of a dense layer."""
    w, w_rec, delay = _check_dense(layer, where)
    items: dict[str, Any] = {
        "type": np.array([b"dense_rec" if w_rec is not None else b"dense"], "S10"),
        "weight": w.astype(np.float32),  # |w| <= 2^15: exact in float32, as slayer writes
    }
    if w_rec is not None:
        items["weight_rec"] = w_rec.astype(np.float32)
    if delay is not None:
        items["delay"] = delay.astype(np.float32)
    if isinstance(layer.neuron, QCubaLIF):
        bias = _bias_mantissa(layer.neuron, where)
        if np.any(bias):
            items["bias"] = bias.astype(np.float32)
    return items


def _conv_layer_items(layer: QLayer, where: str) -> dict[str, Any]:
    """``type`` / ``shape`` / ``weight`` / geometry / per-channel ``bias`` of a conv layer."""
    conv = layer.synapse
    if not isinstance(conv, QConv) or layer.recurrent is not None:
        raise UnsupportedError(f"{where}: netx conv layers have no recurrent connection",
                               node=where, stage="netx writer", supported=("Conv",))  # fmt: skip
    bias = _bias_mantissa(layer.neuron, where) if isinstance(layer.neuron, QCubaLIF) else None
    return conv_items(conv, bias, where)


SYNAPSES: Table[Callable[[QLayer, str], dict[str, Any]]] = Table(
    "netx writer", {QDense: _dense_layer_items, QConv: _conv_layer_items}
)


def _periodic_items(neuron: QCubaLIFReset, where: str) -> dict[str, Any]:
    raise UnsupportedError(
        f"{where}: a netx file cannot hold reset_interval={neuron.reset_interval} (it is an "
        "argument of netx's loader, Network(reset_interval=...)); write the graph without the "
        "periodic reset and load it with reset_interval, or keep it as .lbq",
        node=where, stage="netx writer", supported=("CubaLIF",),
    )  # fmt: skip


NEURONS: Table[Callable[[Any, str], dict[str, Any]]] = Table(
    "netx writer", {QCubaLIF: _cuba_items, QCubaLIFReset: _periodic_items}
)


def _layer_items(graph: QGraph, i: int, transform: dict[str, int] | None) -> dict[str, Any]:
    """Datasets of ``/layer/<i>`` (``neuron`` as a nested dict), after every exactness check."""
    layer = graph.layers[i]
    where = f"layer {i} '{layer.name}'"
    neuron = NEURONS.of(layer.neuron, f"{where} neuron")(layer.neuron, where)
    items: dict[str, Any] = {"shape": np.array(graph.shapes[i], np.int64)}
    if layer.synapse is None:  # bias-input layer 0
        if layer.recurrent is not None:
            raise UnsupportedError(f"{where}: netx's input layer has no recurrent connection")
        bias_exp = getattr(layer.neuron, "bias_exp", np.zeros(0, np.int64))
        if np.any(bias_exp != NETX_BIAS_EXP):
            raise UnsupportedError(
                f"{where}: the input layer's bias_exp must be {NETX_BIAS_EXP} (netx fixes it), "
                f"got {sorted(set(bias_exp.tolist()))}"
            )
        items["type"] = np.array([b"input"], "S10")
        for key, value in (transform or {}).items():
            items[key] = np.array([value], np.float32)
    else:
        items.update(SYNAPSES.of(layer.synapse, f"{where} synapse")(layer, where))
    items["neuron"] = neuron
    return items


def write_netx(
    graph: QGraph, path: str | Path, *, input_transform: dict[str, int] | None = None
) -> None:
    """Write ``graph`` as a netx ``.net`` file that netx + Lava run bit-exactly like the graph.

    Parameters
    ----------
    graph : QGraph
    path : str or Path
    input_transform : dict, optional
        ``{'weight': w, 'bias': b}`` stored on a bias-input graph's ``input`` layer (what netx
        exposes as ``net.in_layer.transform``; netx's default is ``weight=64, bias=0``).

    Raises
    ------
    UnsupportedError
        A layer netx cannot express exactly (see :func:`netx_limits`); nothing is written.
    ModelFileError
        The file cannot be written.
    """
    if graph.target != LOIHI2:
        raise UnsupportedError(f"graph '{graph.name}': netx targets LOIHI2 (lava-nc fixed_pt)")
    if input_transform is not None:
        where = f"write_netx(graph '{graph.name}')"
        if graph.input_kind != InputKind.BIAS:
            raise ValidationError(where, "input_transform", "needs a bias-input graph")
        if set(input_transform) != {"weight", "bias"}:
            raise ValidationError(where, "input_transform", f"keys must be weight, bias: "
                                  f"got {sorted(input_transform)}")  # fmt: skip
        input_transform = {k: int(v) for k, v in input_transform.items()}
    entries = _entries(graph, input_transform)
    p = Path(path)
    try:
        with atomic_path(p) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["lavabridge_name"] = graph.name
            _write_entries(f.create_group("layer"), entries)
    except OSError as exc:
        raise ModelFileError(f"{p}: cannot write netx file ({exc})") from exc


def _write_entries(group: Any, entries: list[tuple[str | None, dict[str, Any]]]) -> None:
    """``/layer/<i>`` groups from :func:`_entries` (a ``neuron`` entry becomes a subgroup)."""
    for i, (name, spec) in enumerate(entries):
        g = group.create_group(str(i))
        if name is not None:
            g.attrs["lavabridge_name"] = name
        for key, value in spec.items():
            if key == "neuron":
                neuron = g.create_group("neuron")
                for k, v in value.items():
                    neuron.create_dataset(k, data=v)
            else:
                g.create_dataset(key, data=value)


def _entries(
    graph: QGraph, transform: dict[str, int] | None
) -> list[tuple[str | None, dict[str, Any]]]:
    """``(lavabridge_name, datasets)`` of every ``/layer/<i>`` entry: the layers, a shape-only
    ``input`` before a conv that takes spikes, a ``flatten`` before a dense that reads a 3-D
    layer (netx's ``transpose([2, 1, 0]).flatten()``, lavabridge's C-major order)."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    shapes = graph.shapes
    if isinstance(graph.layers[0].synapse, QConv):
        out.append((None, {"type": np.array([b"input"], "S10"),
                           "shape": np.array(graph.input_shape, np.int64)}))  # fmt: skip
    for i, layer in enumerate(graph.layers):
        prev = shapes[i - 1] if i > 0 else graph.input_shape
        if isinstance(layer.synapse, QDense) and len(prev) == 3:
            out.append((None, {"type": np.array([b"flatten"], "S10"),
                               "shape": np.array([1, 1, int(np.prod(prev))], np.int64)}))  # fmt: skip
        out.append((layer.name, _layer_items(graph, i, transform)))
    return out
