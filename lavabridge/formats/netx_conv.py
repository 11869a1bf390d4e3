"""netx ``conv`` layers: what lava-dl 0.6.0's ``Network.create_conv`` builds (read and written).

A netx conv group holds (``hdf5.py::create_conv``, ``blocks/process.py::Conv``)::

    shape     [C_out, H_out, W_out]            the block's output (netx reverses it to W, H, C)
    weight    (C_out, C_in/groups, kH, kW[, 1]) torch's kernel, read with .astype(int); netx flips
                                                and transposes it for Lava's Conv, which then
                                                computes torch's conv2d exactly
    stride, padding, dilation                   a scalar or [H, W] (reversed to [W, H])
    groups                                      a scalar
    bias      (C_out,)                          per channel, broadcast over H x W (optional)
    neuron                                      CUBA / LOIHI parameters (required by netx)

Conv ``delay`` datasets are ignored by netx (commented out in ``create_conv``); lavabridge warns.
"""

from __future__ import annotations

import warnings
from typing import Any

import h5py
import numpy as np

from lavabridge.errors import ModelFileError, UnsupportedError, ValidationError
from lavabridge.formats.netx import layer_name, netx_neuron, read_dataset, read_ints
from lavabridge.quant.qgraph import QLayer
from lavabridge.quant.qspatial import QConv
from lavabridge.target import LOIHI2


def _pair(g: Any, key: str, where: str) -> tuple[int, int]:
    """A netx ``stride`` / ``padding`` / ``dilation``: a scalar or ``[H, W]``."""
    raw = read_dataset(g, key, where, "iu")
    flat = raw.reshape(-1)
    if flat.size not in (1, 2):
        raise ModelFileError(f"{where}: '{key}' must be a scalar or [H, W], got shape {raw.shape}")
    if flat.size == 1:
        return (int(flat[0]), int(flat[0]))
    return (int(flat[0]), int(flat[1]))


def _kernel(g: Any, where: str) -> np.ndarray:
    weight = read_ints(g, "weight", where)
    if weight.ndim == 5 and weight.shape[4] == 1:
        weight = weight.reshape(weight.shape[:4])
    if weight.ndim != 4:
        raise ModelFileError(
            f"{where}: conv 'weight' must be (C_out, C_in/groups, kH, kW[, 1]), got {weight.shape}"
        )
    return weight


def _conv(g: Any, in_shape: tuple[int, ...], where: str) -> QConv:
    """The QConv of a conv group, its declared ``shape`` checked against the geometry."""
    for key in ("shape", "weight", "stride", "padding", "dilation", "groups"):
        if key not in g:
            raise ModelFileError(f"{where}: conv layer without '{key}'")
    out = tuple(int(v) for v in np.atleast_1d(read_ints(g, "shape", where)).reshape(-1))
    groups = read_dataset(g, "groups", where, "iu").reshape(-1)
    if groups.size != 1:
        raise ModelFileError(f"{where}: 'groups' must be one integer")
    try:
        conv = QConv(
            _kernel(g, where),
            in_shape,  # type: ignore[arg-type]
            _pair(g, "stride", where),
            _pair(g, "padding", where),
            _pair(g, "dilation", where),
            int(groups[0]),
        )
    except ValidationError as exc:
        raise ModelFileError(f"{where}: {exc}") from exc
    if out != conv.out_shape:
        raise ModelFileError(
            f"{where}: 'shape' {list(out)} != the convolution's output {list(conv.out_shape)} "
            f"for input {list(in_shape)}"
        )
    try:
        conv.validate(where, LOIHI2)
    except ValidationError as exc:
        raise UnsupportedError(f"{exc} -- outside what lavabridge runs exactly") from exc
    return conv


def _bias(g: Any, out: tuple[int, int, int], where: str) -> np.ndarray | None:
    """A conv layer's per-channel bias as flat C-major per-neuron values (``None``: no bias)."""
    if "bias" not in g:
        return None
    b = read_ints(g, "bias", where).reshape(-1)
    if b.size == 1:
        b = np.repeat(b, out[0])
    if b.size != out[0]:
        raise UnsupportedError(
            f"{where}: conv bias of {b.size} values; lavabridge reads one per channel ({out[0]})",
            node=where, stage="netx reader",
        )  # fmt: skip
    return np.repeat(b, out[1] * out[2])


def netx_conv_layer(g: Any, in_shape: tuple[int, ...], default: str, where: str) -> QLayer:
    """The QLayer (QConv into a CUBA LIF) of a netx ``conv`` group reading ``in_shape`` (C, H, W)."""
    if not isinstance(g.get("neuron"), h5py.Group):
        raise ModelFileError(f"{where}: netx needs a 'neuron' group in a conv layer")
    if "delay" in g:
        warnings.warn(f"{where}: netx ignores the delays of conv layers", stacklevel=3)
    conv = _conv(g, in_shape, where)
    out = conv.out_shape
    neuron = netx_neuron(g["neuron"], int(np.prod(out)), _bias(g, out, where), where)
    return QLayer(layer_name(g, default), neuron, conv)


def conv_items(conv: QConv, bias: np.ndarray | None, where: str) -> dict[str, Any]:
    """The datasets of a netx conv layer for ``conv`` and its neurons' flat C-major ``bias``
    mantissas (at netx's ``bias_exp``; netx holds one bias per channel)."""
    items: dict[str, Any] = {
        "type": np.array([b"conv"], dtype="S10"),
        "shape": np.array(conv.out_shape, np.int64),
        "weight": conv.weights.astype(np.float32),  # |w| <= 2^15: exact in float32
        "stride": np.array(conv.stride, np.int64),
        "padding": np.array(conv.padding, np.int64),
        "dilation": np.array(conv.dilation, np.int64),
        "groups": np.int64(conv.groups),
        "inChannels": np.int64(conv.in_shape[0]),
        "outChannels": np.int64(conv.out_shape[0]),
        "kernelSize": np.array(conv.weights.shape[2:], np.int64),
    }
    if bias is not None and np.any(bias):
        per_channel = bias.reshape(conv.out_shape[0], -1)
        if np.any(per_channel != per_channel[:, :1]):
            raise UnsupportedError(
                f"{where}: the neurons' bias varies within a channel; netx's conv layers hold "
                "one bias per channel", node=where, stage="netx writer",
            )  # fmt: skip
        items["bias"] = per_channel[:, 0].astype(np.float32)
    return items
