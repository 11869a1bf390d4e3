"""lava-dl netx HDF5 (``.net``) -> QGraph: what ``lava.lib.dl.netx.hdf5.Network`` builds.

:func:`read_netx` reproduces lava-dl 0.6.0's netx (default arguments) integer for integer, with the
semantics of :mod:`lavabridge.formats.netx` and one reader per netx layer type (:data:`READERS`):

* ``input`` with a ``neuron`` group: layer 0 of an :attr:`InputKind.BIAS` graph. netx never
  connects ``net.inp`` to it; the sample enters through ``bias_mant`` (``bias_exp = 6``). Its
  ``weight`` / ``bias`` datasets are the *input transform* (:func:`netx_input_transform`), not a
  neuron bias. Without a neuron group it only sets the input shape.
* ``dense`` / ``dense_rec``: a Dense (and recurrent Dense) and its neurons
  (:func:`~lavabridge.formats.netx.netx_dense`, :func:`~lavabridge.formats.netx.netx_neuron`).
* ``flatten`` is accepted where it is a no-op in lavabridge's order: first, after a shape-only
  input, or after a 3-D ``(C, H, W)`` input layer (netx flattens its ``(W, H, C)`` output in C, H,
  W order, which is lavabridge's neuron order for that layer).

Any other type (``conv``, ``pool``, ``average``, ``concat``, ``dense_comp``, SDNN / RF neurons,
graded ``messageBits``) raises :class:`UnsupportedError` naming the layer and the supported types;
unreadable files raise :class:`ModelFileError`. Running a ``.net`` with lava-dl's own loader on
Lava is :func:`lavabridge.backends.netx_lava.run_netx`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from lavabridge.dispatch import Table
from lavabridge.errors import ModelFileError, UnsupportedError, ValidationError
from lavabridge.formats.netx import (
    existing,
    layer_name,
    netx_dense,
    netx_neuron,
    open_netx,
    read_dataset,
    read_ints,
    read_str,
)
from lavabridge.formats.netx_conv import netx_conv_layer
from lavabridge.quant.qgraph import QGraph, QLayer
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset
from lavabridge.semantics import InputKind

IntArray = npt.NDArray[np.int64]


@dataclass
class _Reading:
    """What :func:`read_netx` knows after the layers read so far."""

    skip_layers: int
    layers: list[QLayer] = field(default_factory=list)
    n_in: int = 0
    prev: int = 0  # width of the previous layer's output
    kind_in: InputKind = InputKind.SPIKES
    prev_kind: str = ""
    input_ndim: int = 1
    prev_shape: tuple[int, ...] = ()  # (C, H, W) of the previous output, once known


MAX_WIDTH = 1 << 24  # neurons in one netx layer (a QGraph's limit)


def _shape(g: Any, where: str) -> tuple[int, ...]:
    """A layer's ``shape`` dataset: 1 to 3 positive sizes whose product lavabridge can hold."""
    raw = np.atleast_1d(read_ints(g, "shape", where))
    if (
        raw.ndim != 1
        or not 1 <= raw.size <= 3
        or raw.min() < 1
        or np.prod(raw, dtype=np.float64) > MAX_WIDTH
    ):
        raise ModelFileError(f"{where}: 'shape' must be 1-3 positive sizes of at most {MAX_WIDTH} "
                             f"neurons in all, got {raw.tolist()[:8]}")  # fmt: skip
    return tuple(int(s) for s in raw)


def _read_input(g: Any, i: int, where: str, st: _Reading) -> str:
    if i != 0:
        raise UnsupportedError(
            f"{where}: an 'input' layer is supported as layer 0 only", node=where,
            stage="netx reader", supported=("input (layer 0)",),
        )  # fmt: skip
    shape = _shape(g, where) if "shape" in g else ()
    if not shape:
        raise ModelFileError(f"{where}: missing 'shape'")
    st.n_in = st.prev = int(np.prod(shape))
    st.prev_shape = shape
    if "neuron" not in g or st.skip_layers:
        return "input"
    st.input_ndim, st.kind_in = len(shape), InputKind.BIAS
    st.layers.append(
        QLayer(layer_name(g, "input0"), netx_neuron(g["neuron"], st.n_in, None, where))
    )
    return "input_neuron"


def _read_flatten(g: Any, i: int, where: str, st: _Reading) -> str:
    if (st.prev_kind == "input_neuron" and st.input_ndim != 3) or st.prev_kind.startswith("dense"):
        raise UnsupportedError(
            f"{where}: netx flattens the previous output with transpose([2, 1, 0]), which needs a "
            f"3-D (W, H, C) output, not a {st.prev_kind!r} layer",
            node=where, stage="netx reader",
            supported=("flatten after a 3-D input layer", "flatten after a conv layer"),
        )  # fmt: skip
    return "flatten"


def _dense_layer(g: Any, kind: str, index: int, n_prev: int | None, where: str) -> QLayer:
    """A ``dense`` / ``dense_rec`` group; ``n_prev=None`` takes the input width from the weights."""
    if "weight" not in g or not hasattr(g["weight"], "shape"):
        if "weight" in g:
            raise UnsupportedError(f"{where}: complex weights (dense_comp) are not supported",
                                   node=where, stage="netx reader")  # fmt: skip
        raise ModelFileError(f"{where}: missing dataset 'weight'")
    if "shape" not in g:
        raise ModelFileError(f"{where}: missing dataset 'shape'")
    n_out = int(np.prod(_shape(g, where)))
    weight = read_ints(g, "weight", where)
    weight_rec = read_ints(g, "weight_rec", where) if kind == "dense_rec" else None
    if weight.ndim == 1:
        weight = weight.reshape(n_out, -1)
        weight_rec = None if weight_rec is None else weight_rec.reshape(n_out, -1)
    if weight.ndim != 2 or weight.shape[0] != n_out:
        raise ModelFileError(f"{where}: weight {weight.shape} does not match shape ({n_out},)")
    if n_prev is not None and weight.shape[1] != n_prev:
        raise ModelFileError(f"{where}: weight has {weight.shape[1]} inputs, previous has {n_prev}")
    if weight_rec is not None and weight_rec.shape != (n_out, n_out):
        raise ModelFileError(f"{where}: weight_rec {weight_rec.shape} != ({n_out}, {n_out})")
    delay = read_dataset(g, "delay", where) if "delay" in g else None
    syn, rec = netx_dense(weight, weight_rec, delay, where)
    bias = read_ints(g, "bias", where) if "bias" in g else None
    neuron = netx_neuron(g.get("neuron"), n_out, bias, where)
    return QLayer(layer_name(g, f"{kind}{index}"), neuron, syn, rec)


def _read_dense(g: Any, i: int, where: str, st: _Reading) -> str:
    kind = read_str(g, "type", where)
    if st.skip_layers and i == 0:
        raise UnsupportedError(
            f"{where}: skip_layers=1 skips an 'input' layer 0 only (got {kind!r})",
            node=where, stage="netx reader", supported=("input",),
        )  # fmt: skip
    if (st.prev_kind == "input_neuron" and st.input_ndim != 1) or st.prev_kind == "conv":
        raise UnsupportedError(
            f"{where}: netx cannot connect a 3-D ({st.prev_kind}) layer to a dense layer "
            "without a 'flatten' layer between them", node=where, stage="netx reader",
        )  # fmt: skip
    first = not st.layers  # netx ignores a shape-only input's width here
    layer = _dense_layer(g, kind, i, None if first else st.prev, where)
    st.layers.append(layer)
    if first and layer.synapse is not None:
        st.n_in = layer.synapse.shape[1]
    st.prev = layer.size
    return kind


def _read_conv(g: Any, i: int, where: str, st: _Reading) -> str:
    if st.skip_layers and i == 0:
        raise UnsupportedError(
            f"{where}: skip_layers=1 skips an 'input' layer 0 only (got 'conv')",
            node=where, stage="netx reader", supported=("input",),
        )  # fmt: skip
    if len(st.prev_shape) != 3 or st.prev_kind in ("flatten", "dense", "dense_rec"):
        raise UnsupportedError(
            f"{where}: a conv layer needs a 3-D (C, H, W) input: an 'input' layer with a 3-D "
            f"shape or a conv layer before it (previous: {st.prev_kind or 'none'})",
            node=where, stage="netx reader", supported=("conv after input or conv",),
        )  # fmt: skip
    layer = netx_conv_layer(g, st.prev_shape, f"conv{i}", where)
    st.layers.append(layer)
    if not st.n_in:
        st.n_in = int(np.prod(st.prev_shape))
    st.prev, st.prev_shape = layer.size, getattr(layer.synapse, "out_shape", ())
    return "conv"


READERS: Table[Callable[[Any, int, str, _Reading], str]] = Table(
    "netx reader",
    {
        "input": _read_input,
        "flatten": _read_flatten,
        "dense": _read_dense,
        "dense_rec": _read_dense,
        "conv": _read_conv,
    },
)
"""netx layer type -> reader; each updates the reading state and returns the kind it read."""


def read_netx(
    path: str | Path,
    *,
    num_layers: int | None = None,
    skip_layers: int = 0,
    reset_interval: int | None = None,
    reset_offset: int = 0,
) -> QGraph:
    """Read a netx ``.net`` file into the QGraph that netx + Lava compute (see module docstring).

    ``num_layers`` reads only the first layers, as ``Network(num_layers=...)`` builds them.
    ``skip_layers=1`` drops a bias-driven ``input`` layer 0, as ``Network(skip_layers=1)`` does: the
    graph then takes spikes straight into the first dense layer (the other way to feed such nets).
    ``reset_interval=R`` (and ``reset_offset``) gives every layer Lava's ``LIFReset`` with netx's
    staggered offsets, as ``Network(reset_interval=R, reset_offset=...)`` builds it: layer ``i``
    (of the layers kept) gets offset ``reset_offset + 1 + i`` (:class:`QCubaLIFReset`).

    Raises
    ------
    ModelFileError
        Missing, unreadable or malformed file.
    UnsupportedError
        A layer or neuron type, or parameter, netx handles in a way a QGraph cannot express
        exactly (the message names the layer index and type).
    """
    p = existing(path)
    if skip_layers not in (0, 1):
        raise UnsupportedError(
            f"{p.name}: skip_layers={skip_layers}; lavabridge skips at most the input layer (0 or 1)"
        )
    st = _Reading(skip_layers)
    with open_netx(p) as f:
        group = f["layer"]
        name = layer_name(f, p.stem)
        count = len(group) if num_layers is None else min(len(group), num_layers)
        for i in range(count):
            if str(i) not in group:
                raise ModelFileError(f"{p}: layers must be named '0'..'{len(group) - 1}'")
            g = group[str(i)]
            if not isinstance(g, h5py.Group):
                raise ModelFileError(f"{p}: layer {i} is not an HDF5 group")
            kind = read_str(g, "type", f"{p.name}: layer {i}")
            where = f"{p.name}: layer {i} ({kind!r})"
            st.prev_kind = READERS.get(kind, where)(g, i, where, st)
    if not st.layers:
        raise ModelFileError(f"{p}: no neuron layers")
    if reset_interval is not None:
        st.layers = with_resets(st.layers, reset_interval, reset_offset, p.name)
    try:
        return QGraph(st.n_in, tuple(st.layers), input_kind=st.kind_in, name=name)
    except ValidationError as exc:
        raise UnsupportedError(f"{p.name}: netx's network has no exact QGraph form: {exc}") from exc


def with_resets(layers: list[QLayer], interval: int, offset: int, where: str) -> list[QLayer]:
    """``layers`` with netx's periodic resets: layer ``i`` resets at offset ``offset + 1 + i``
    (modulo ``interval``, as Lava's ``LIFReset`` takes it)."""
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValidationError(where, "reset_interval", f"must be an int >= 1, got {interval!r}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise ValidationError(where, "reset_offset", f"must be an int, got {offset!r}")
    out = []
    for i, layer in enumerate(layers):
        n = layer.neuron
        if type(n) is not QCubaLIF:
            raise UnsupportedError(f"{where}: layer {i} '{layer.name}' ({n.kind}) has no periodic "
                                   "reset form", node=layer.name, stage="netx reader")  # fmt: skip
        own = {f.name: getattr(n, f.name) for f in dataclasses.fields(QCubaLIF)}
        periodic = QCubaLIFReset(**own, reset_interval=interval,
                                 reset_offset=(offset + 1 + i) % interval)  # fmt: skip
        out.append(dataclasses.replace(layer, neuron=periodic))
    return out


def netx_input_transform(path: str | Path) -> dict[str, int] | None:
    """``{'weight', 'bias'}`` of layer 0 as netx reads it (``net.in_layer.transform``).

    ``None`` when layer 0 is not an ``input`` layer with neurons (netx builds no Input block).
    Missing datasets default to netx's ``weight = 64``, ``bias = 0``.
    """
    p = existing(path)
    with open_netx(p) as f:
        return _transform(f["layer"].get("0"), f"{p.name}: layer 0")


def _transform(g: Any, where: str) -> dict[str, int] | None:
    if not isinstance(g, h5py.Group) or read_str(g, "type", where) != "input" or "neuron" not in g:
        return None
    out = {}
    for key, default in (("weight", 64), ("bias", 0)):
        value = read_ints(g, key, where).reshape(-1) if key in g else np.array([default])
        if value.size != 1:
            raise ModelFileError(f"{where}: input transform '{key}' must be one number")
        out[key] = int(value[0])
    return out


def images_to_bias(
    images: npt.ArrayLike, transform: dict[str, int], *, signed: bool = False
) -> IntArray:
    """Graded inputs in ``[0, 1]`` -> the integer ``bias_mant`` of a netx input layer, ``[B, n]``.

    What lava-dl does (``tutorials/lava/lib/dl/netx/pilotnet_snn/dataset.py``, PilotNetDataset,
    used with ``transform=net.in_layer.transform``)::

        image = np.array(pil_image) / 255
        bias  = (2 * w * image - w + b).astype(np.int32)      # signed=True: x = 2*image - 1

    i.e. ``bias_mant = trunc(w * x + b)`` (rounded toward zero by ``astype``), the integer form of
    slayer's ``Input`` block, which feeds its neuron ``x * w/64 + b/64`` (netx adds ``bias << 6``
    to v, so one ``bias_mant`` unit is ``1/64`` of slayer's unit). ``signed=False`` uses
    ``x = image`` (``bias = w * image + b``), for networks trained on inputs in ``[0, 1]``.

    Parameters
    ----------
    images : array [B, ...] (or one sample [...] with ``B`` = 1 when 1-D)
        Values in ``[0, 1]``, each sample in the file's ``shape`` order (C, H, W for 3-D: a PIL
        HWC image needs ``.transpose(2, 0, 1)``); flattened in C order.
    transform : dict
        ``{'weight': w, 'bias': b}``, e.g. from :func:`netx_input_transform`.
    signed : bool
        Map ``[0, 1]`` to ``[-1, 1]`` first, as the PilotNet dataset does.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if not np.all(np.isfinite(x)):
        raise ValidationError("images_to_bias", "images", "must be finite")
    w, b = transform["weight"], transform["bias"]
    value = 2 * w * x - w + b if signed else w * x + b
    return value.astype(np.int32).astype(np.int64).reshape(x.shape[0], -1)
