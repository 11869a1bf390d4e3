"""lava-dl netx HDF5 (``.net``) -> QGraph (running a ``.net`` with lava-dl's loader: :mod:`.netx_run`).

:func:`read_netx` reproduces what ``lava.lib.dl.netx.hdf5.Network`` (lava-dl 0.6.0, default
arguments) builds, integer for integer:

* ``input`` with a ``neuron`` group: layer 0 of an :attr:`InputKind.BIAS` graph. netx never
  connects ``net.inp`` to it; the sample enters through ``bias_mant`` (``bias_exp = 6``). Its
  ``weight`` / ``bias`` datasets are the *input transform* (:func:`netx_input_transform`), not a
  neuron bias. Without a neuron group it only sets the input shape.
* ``dense`` / ``dense_rec``: ``(w, num_weight_bits, weight_exp, _) = optimize_weight_bits(W)`` on
  the stored integers (``dense_rec``: on ``[W | W_rec]`` jointly), Lava's Dense infers the sign
  mode again. A ``delay`` dataset (clipped to ``[0, 62]`` when its max exceeds 62; scalar, per
  output ("axonal"), per input or full) makes it a ``DelayDense``; a delayed ``dense_rec`` shares
  the delays with its recurrent Dense and gets ``weight_exp = 0`` (netx does not pass it on).
* CUBA / LOIHI neurons: ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``,
  ``bias_mant = bias`` (wrapped to int16 as Lava's Var does) with ``bias_exp = 6``; a bias outside
  the 13-bit mantissa is stored as ``bias / 2`` with ``bias_exp = 7`` when that is exact. A dense
  layer without neurons gets netx's integrator ``iDecay = 0, vDecay = 4096, vThMant = 1 << 17``.
* ``flatten`` is accepted where it is a no-op in lavabridge's order: first, after a shape-only
  input, or after a 3-D ``(C, H, W)`` input layer (netx flattens its ``(W, H, C)`` output in C, H,
  W order, which is lavabridge's neuron order for that layer).

Anything else (``conv``, ``pool``, ``average``, ``concat``, ``dense_comp``, SDNN / RF neurons,
graded ``messageBits``) raises :class:`UnsupportedError`; unreadable files raise
:class:`ModelFileError`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from lavabridge.errors import ModelFileError, UnsupportedError, ValidationError
from lavabridge.quant.qgraph import InputKind, QCubaLIF, QDense, QGraph, QLayer, infer_sign_mode
from lavabridge.quant.target import LOIHI2

IntArray = npt.NDArray[np.int64]

NETX_BIAS_EXP = 6  # netx's get_neuron_params: bias_exp = 6
NETX_MAX_DELAY = 62  # netx clips larger delays
NO_NEURON = {"iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}  # netx: `1 << 18 - 1` == 1 << 17
SUPPORTED_LAYERS = ("input", "flatten", "dense", "dense_rec")
SUPPORTED_NEURONS = ("CUBA", "LOIHI")


def _quiet_import(module: str) -> Any:
    """Import a lava-dl module without its Prophesee notice on stdout."""
    import importlib

    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(module)


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: no such netx file")
    return p


def _open(path: str | Path) -> Any:
    p = _existing(path)
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise ModelFileError(f"{p}: not an HDF5 file netx can read ({exc})") from exc
    if "layer" not in f or not len(f["layer"]):
        f.close()
        raise ModelFileError(f"{p}: no '/layer' group with layers '0'..'n-1' (netx layout)")
    return f


def _str(group: Any, key: str, where: str) -> str:
    """A string dataset as netx's NetDict reads it (first element of an array, or the scalar)."""
    if key not in group:
        raise ModelFileError(f"{where}: missing '{key}'")
    ds = group[key]
    value = ds[0] if len(ds.shape) > 0 else ds[()]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _ints(group: Any, key: str, where: str) -> IntArray:
    """``weight``/``bias``-like datasets: netx reads them with ``.astype(int)`` (truncation)."""
    if key not in group or not hasattr(group[key], "shape"):
        raise ModelFileError(f"{where}: missing dataset '{key}'")
    arr = np.asarray(group[key][()])
    if arr.dtype.kind not in "iufb" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
        raise ModelFileError(f"{where}: '{key}' must hold finite numbers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _scalar_int(group: Any, key: str, where: str) -> int:
    """A neuron parameter: netx passes it to Lava's LIF unchanged, so it must be an integer."""
    if key not in group:
        raise ModelFileError(f"{where}: missing neuron parameter '{key}'")
    arr = np.asarray(group[key][()])
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise ModelFileError(
            f"{where}: neuron/{key} must be one integer (Lava's fixed-point LIF fails on floats), "
            f"got {arr.dtype} of shape {arr.shape}"
        )
    return int(arr.reshape(-1)[0])


def netx_bias(bias: IntArray | None, size: int, where: str) -> tuple[IntArray, IntArray]:
    """``(bias_mant, bias_exp)`` per neuron for a netx ``bias`` (int16-wrapped, exponent 6 or 7)."""
    if bias is None:
        return np.zeros(size, np.int64), np.full(size, NETX_BIAS_EXP, np.int64)
    try:
        b = np.broadcast_to(np.asarray(bias, np.int64), (size,)).copy()
    except ValueError as exc:
        raise ModelFileError(f"{where}: bias of shape {np.shape(bias)} for {size} neurons") from exc
    b = ((b + (1 << 15)) & 0xFFFF) - (1 << 15)  # Lava's bias_mant Var is int16
    lo, hi = LOIHI2.bias_mant_range
    exp = np.full(size, NETX_BIAS_EXP, np.int64)
    big = (b < lo) | (b > hi)
    halvable = big & (b % 2 == 0) & (b // 2 >= lo) & (b // 2 <= hi)
    if np.any(big & ~halvable):
        bad = b[big & ~halvable]
        raise UnsupportedError(
            f"{where}: bias {bad[:4].tolist()} at netx's bias_exp=6 is outside the 13-bit mantissa "
            f"[{lo}, {hi}] and not representable exactly with bias_exp=7"
        )
    b[halvable] //= 2
    exp[halvable] = NETX_BIAS_EXP + 1
    return b, exp


def netx_neuron(group: Any | None, size: int, bias: IntArray | None, where: str) -> QCubaLIF:
    """The LIF netx builds from a ``neuron`` group (``None``: its default integrator)."""
    if group is None:
        params = dict(NO_NEURON)
    else:
        kind = _str(group, "type", f"{where} neuron")
        if kind not in SUPPORTED_NEURONS:
            raise UnsupportedError(
                f"{where}: neuron type {kind!r} is not supported (supported: "
                f"{', '.join(SUPPORTED_NEURONS)}; SDNN and RF neurons have no QGraph form)"
            )
        if "messageBits" in group:
            raise UnsupportedError(f"{where}: neuron/messageBits (graded spikes) is not supported")
        params = {k: _scalar_int(group, k, where) for k in NO_NEURON}
    mant, exp = netx_bias(bias, size, where)
    return QCubaLIF(
        size,
        params["iDecay"] - 1,
        params["vDecay"],
        params["vThMant"],
        bias_mant=mant,
        bias_exp=exp,
    )


def netx_delays(raw: npt.ArrayLike, shape: tuple[int, int], where: str) -> IntArray:
    """The delay matrix netx's ``create_dense`` hands to ``DelayDense`` for a ``delay`` dataset."""
    d = np.asarray(raw)
    if d.size == 0 or d.dtype.kind not in "iuf":
        raise ModelFileError(f"{where}: 'delay' must hold numbers, got {d.dtype} {d.shape}")
    if d.max() > NETX_MAX_DELAY:
        warnings.warn(f"{where}: netx clips delays above {NETX_MAX_DELAY}", stacklevel=3)
        d = np.clip(d, 0, NETX_MAX_DELAY)
    if d.ndim == 0:
        d = d * np.ones(shape, np.int64)
    elif d.ndim == 1 and d.size == shape[0]:  # per output neuron ("axonal"), checked first
        d = np.repeat(d.reshape(-1, 1), shape[1], axis=1)
    elif d.ndim == 1 and d.size == shape[1]:  # per input
        d = np.repeat(d.reshape(1, -1), shape[0], axis=0)
    if d.shape != shape:
        raise ModelFileError(f"{where}: delay of shape {np.shape(raw)} for weights {shape}")
    d = d.astype(np.int64)
    if d.min() < 0:
        raise ModelFileError(f"{where}: negative delay {d.min()} (DelayDense refuses it)")
    return d


def netx_dense(
    weight: IntArray, weight_rec: IntArray | None, delay: Any | None, where: str
) -> tuple[QDense, QDense | None]:
    """The Dense (and recurrent Dense) netx builds from stored integer weights.

    ``w, num_weight_bits, weight_exp = optimize_weight_bits(W)`` (on ``[W | W_rec]`` for a
    recurrent layer); Lava computes ``floor_shift(W_eff(w) @ s, weight_exp)``. Raises
    :class:`UnsupportedError` where netx crashes or Lava's result is undefined. The weights are
    clipped to Lava's sign-mode range here, as Lava's Dense does (the computation is unchanged).
    """
    utils = _quiet_import("lava.lib.dl.netx.utils")
    full = weight if weight_rec is None else np.hstack((weight, weight_rec))
    if not np.any(full):
        raise UnsupportedError(f"{where}: all weights are 0; netx's optimize_weight_bits fails")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), np.errstate(divide="ignore"):
        w, nwb, wexp, _ = utils.optimize_weight_bits(full)
    if out.getvalue().strip():
        warnings.warn(f"{where}: netx: {' '.join(out.getvalue().split())}", stacklevel=2)
    if wexp > 0:
        raise UnsupportedError(
            f"{where}: weights in [{full.min()}, {full.max()}] make netx left-shift by a negative "
            "count (excitatory > 255 or inhibitory < -256): the result is undefined"
        )
    shape = (int(weight.shape[0]), int(weight.shape[1]))
    delays = None if delay is None else netx_delays(delay, shape, where)
    if weight_rec is not None and delays is not None:
        if weight_rec.shape != weight.shape:
            raise UnsupportedError(
                f"{where}: a delayed dense_rec needs n_in == n_out (netx gives the recurrent "
                f"DelayDense the input delays {weight.shape}, its weights are {weight_rec.shape})"
            )
        wexp = 0  # netx's RecurrentDense does not pass weight_exponent to DelayDense
    parts = [w[:, : weight.shape[1]]] + ([] if weight_rec is None else [w[:, weight.shape[1] :]])
    denses = []
    for name, part in zip(("synapse", "recurrent"), parts, strict=False):
        # Lava's Dense re-infers the sign mode and clips to its range on the first step: doing it
        # here changes nothing Lava computes (e.g. -256 in a non-positive matrix -> -255)
        part = np.clip(part, *LOIHI2.weight_clip_range(infer_sign_mode(part)))
        q = QDense(part, weight_exp=wexp, num_weight_bits=nwb, delays=delays)
        try:
            q.validate(f"{where} {name}")
        except ValidationError as exc:
            raise UnsupportedError(
                f"{exc} -- netx would pass Lava's Dense parameters it does not compute exactly "
                "(e.g. a dense_rec's joint num_weight_bits=9 on a single-signed part makes Lava "
                "shift by -1)"
            ) from exc
        denses.append(q)
    return denses[0], (denses[1] if len(denses) > 1 else None)


def _layer_name(g: Any, default: str) -> str:
    name = g.attrs.get("lavabridge_name", default)
    return name.decode() if isinstance(name, bytes) else str(name)


def _dense_layer(g: Any, kind: str, index: int, n_prev: int | None, where: str) -> QLayer:
    """A ``dense`` / ``dense_rec`` group; ``n_prev=None`` takes the input width from the weights."""
    if "weight" not in g or not hasattr(g["weight"], "shape"):
        if "weight" in g:
            raise UnsupportedError(f"{where}: complex weights (dense_comp) are not supported")
        raise ModelFileError(f"{where}: missing dataset 'weight'")
    if "shape" not in g:
        raise ModelFileError(f"{where}: missing dataset 'shape'")
    n_out = int(np.prod(np.asarray(g["shape"][()])))
    weight = _ints(g, "weight", where)
    weight_rec = _ints(g, "weight_rec", where) if kind == "dense_rec" else None
    if weight.ndim == 1:
        weight = weight.reshape(n_out, -1)
        weight_rec = None if weight_rec is None else weight_rec.reshape(n_out, -1)
    if weight.ndim != 2 or weight.shape[0] != n_out:
        raise ModelFileError(f"{where}: weight {weight.shape} does not match shape ({n_out},)")
    if n_prev is not None and weight.shape[1] != n_prev:
        raise ModelFileError(f"{where}: weight has {weight.shape[1]} inputs, previous has {n_prev}")
    if weight_rec is not None and weight_rec.shape != (n_out, n_out):
        raise ModelFileError(f"{where}: weight_rec {weight_rec.shape} != ({n_out}, {n_out})")
    delay = g["delay"][()] if "delay" in g else None
    syn, rec = netx_dense(weight, weight_rec, delay, where)
    bias = _ints(g, "bias", where) if "bias" in g else None
    neuron = netx_neuron(g.get("neuron"), n_out, bias, where)
    return QLayer(_layer_name(g, f"{kind}{index}"), neuron, syn, rec)


def read_netx(path: str | Path, *, num_layers: int | None = None, skip_layers: int = 0) -> QGraph:
    """Read a netx ``.net`` file into the QGraph that netx + Lava compute (see module docstring).

    ``num_layers`` reads only the first layers, as ``Network(num_layers=...)`` builds them.
    ``skip_layers=1`` drops a bias-driven ``input`` layer 0, as ``Network(skip_layers=1)`` does: the
    graph then takes spikes straight into the first dense layer (the other way to feed such nets).

    Raises
    ------
    ModelFileError
        Missing, unreadable or malformed file.
    UnsupportedError
        A layer or neuron type, or parameter, netx handles in a way a QGraph cannot express
        exactly (the message names the layer index and type).
    """
    p = _existing(path)
    if skip_layers not in (0, 1):
        raise UnsupportedError(
            f"{p.name}: skip_layers={skip_layers}; lavabridge skips at most the input layer (0 or 1)"
        )
    layers: list[QLayer] = []
    n_in = prev = 0
    kind_in = InputKind.SPIKES
    prev_kind, input_ndim = "", 1
    with _open(p) as f:
        group = f["layer"]
        name = _layer_name(f, p.stem)
        try:
            count = len(group) if num_layers is None else min(len(group), num_layers)
            for i in range(count):
                where = f"{p.name}: layer {i}"
                if str(i) not in group:
                    raise ModelFileError(f"{p}: layers must be named '0'..'{len(group) - 1}'")
                g = group[str(i)]
                kind = _str(g, "type", where)
                where = f"{where} ({kind!r})"
                if kind == "input" and i == 0:
                    shape = (
                        tuple(int(s) for s in np.atleast_1d(g["shape"][()])) if "shape" in g else ()
                    )
                    if not shape:
                        raise ModelFileError(f"{where}: missing 'shape'")
                    n_in = prev = int(np.prod(shape))
                    if "neuron" in g and not skip_layers:
                        input_ndim, kind_in = len(shape), InputKind.BIAS
                        neuron = netx_neuron(g["neuron"], n_in, None, where)
                        layers.append(QLayer(_layer_name(g, "input0"), neuron))
                        kind = "input_neuron"
                elif kind == "flatten":
                    if (prev_kind == "input_neuron" and input_ndim != 3) or prev_kind.startswith(
                        "dense"
                    ):
                        raise UnsupportedError(
                            f"{where}: netx flattens the previous output with transpose([2, 1, 0]), "
                            f"which needs a 3-D (W, H, C) output, not a {prev_kind!r} layer"
                        )
                elif skip_layers and i == 0:
                    raise UnsupportedError(
                        f"{where}: skip_layers=1 skips an 'input' layer 0 only (got {kind!r})"
                    )
                elif kind in ("dense", "dense_rec"):
                    if prev_kind == "input_neuron" and input_ndim != 1:
                        raise UnsupportedError(
                            f"{where}: netx cannot connect a {input_ndim}-D input layer to a dense "
                            "layer without a 'flatten' layer between them"
                        )
                    first = not layers  # netx ignores a shape-only input's width here
                    layers.append(_dense_layer(g, kind, i, None if first else prev, where))
                    if first:
                        n_in = layers[-1].synapse.shape[1]  # type: ignore[union-attr]
                    prev = layers[-1].size
                else:
                    raise UnsupportedError(
                        f"{where}: layer type {kind!r} is not supported by lavabridge's netx reader "
                        f"(supported: {', '.join(SUPPORTED_LAYERS)}; 'input' only as layer 0)"
                    )
                prev_kind = kind
        except (OSError, KeyError) as exc:  # damaged datasets / groups inside the file
            raise ModelFileError(f"{p}: unreadable netx content ({exc})") from exc
    if not layers:
        raise ModelFileError(f"{p}: no neuron layers")
    try:
        return QGraph(n_in, tuple(layers), input_kind=kind_in, name=name)
    except ValidationError as exc:
        raise UnsupportedError(f"{p.name}: netx's network has no exact QGraph form: {exc}") from exc


def netx_input_transform(path: str | Path) -> dict[str, int] | None:
    """``{'weight', 'bias'}`` of layer 0 as netx reads it (``net.in_layer.transform``).

    ``None`` when layer 0 is not an ``input`` layer with neurons (netx builds no Input block).
    Missing datasets default to netx's ``weight = 64``, ``bias = 0``.
    """
    p = _existing(path)
    with _open(p) as f:
        g = f["layer"].get("0")
        where = f"{p.name}: layer 0"
        if g is None or _str(g, "type", where) != "input" or "neuron" not in g:
            return None
        out = {}
        for key, default in (("weight", 64), ("bias", 0)):
            value = _ints(g, key, where).reshape(-1) if key in g else np.array([default])
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
