"""lava-dl netx HDF5 semantics shared by the reader and the writer: what netx builds from a file.

Everything here reproduces lava-dl 0.6.0's ``lava.lib.dl.netx`` (``hdf5.Network`` with default
arguments, ``utils.optimize_weight_bits``, ``blocks``) integer for integer:

* neurons (:func:`netx_neuron`): CUBA / LOIHI, ``du = iDecay - 1``, ``dv = vDecay``,
  ``vth = vThMant``; a layer without a neuron group is netx's integrator :data:`NO_NEURON`;
* biases (:func:`netx_bias`): ``bias_mant = bias`` wrapped to int16 as Lava's Var does, with
  ``bias_exp = 6`` (:data:`NETX_BIAS_EXP`); outside the 13-bit mantissa, ``bias / 2`` with
  ``bias_exp = 7`` when exact;
* delays (:func:`netx_delays`): clipped to ``[0, 62]`` (:data:`NETX_MAX_DELAY`), scalar, per
  output ("axonal"), per input or full;
* dense weights (:func:`netx_dense`): ``optimize_weight_bits`` on the stored integers (jointly on
  ``[W | W_rec]`` for ``dense_rec``), the sign mode re-inferred and the weights clipped by Lava's
  Dense; a delayed ``dense_rec`` shares its delays and gets ``weight_exp = 0``;
* neuron order: netx's 3-D populations are ``(W, H, C)``; lavabridge's flat order is C, H, W
  (:func:`to_lavabridge_order`, :func:`to_netx_order`);
* file access (:func:`open_netx`, :func:`read_str`, :func:`read_ints`, :func:`read_scalar_int`):
  as netx's ``NetDict`` reads datasets, with typed errors.

The reader is :mod:`lavabridge.importers.netx`, the writer :mod:`lavabridge.exporters.netx`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt

from lavabridge.conv import chw_to_whc, whc_to_chw
from lavabridge.errors import LavaBridgeError, ModelFileError, UnsupportedError, ValidationError
from lavabridge.quant.qnodes import QCubaLIF, QDense, infer_sign_mode
from lavabridge.target import LOIHI2

IntArray = npt.NDArray[np.int64]

NETX_BIAS_EXP = 6  # netx's get_neuron_params: bias_exp = 6
NETX_MAX_DELAY = 62  # netx clips larger delays
NO_NEURON = {"iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}  # netx: `1 << 18 - 1` == 1 << 17
SUPPORTED_NEURONS = ("CUBA", "LOIHI")


def quiet_import(module: str) -> Any:
    """Import a lava-dl module without its Prophesee notice on stdout."""
    import importlib

    with contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(module)


def existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: no such netx file")
    return p


# what h5py and numpy raise on damaged or forged content (wrong object kinds, dtypes, shapes)
CONTENT_ERRORS = (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError,
                  OverflowError, RuntimeError, UnicodeDecodeError)  # fmt: skip


@contextlib.contextmanager
def open_netx(path: str | Path) -> Iterator[Any]:
    """The netx file, open for reading; whatever h5py raises on damaged content inside the block
    becomes a :class:`ModelFileError` naming the file (lavabridge's own errors pass through)."""
    p = existing(path)
    try:
        f = h5py.File(p, "r")
    except CONTENT_ERRORS as exc:
        raise ModelFileError(f"{p}: not an HDF5 file netx can read ({exc})") from exc
    try:
        layers = f.get("layer")
        if not isinstance(layers, h5py.Group) or not len(layers):
            raise ModelFileError(f"{p}: no '/layer' group with layers '0'..'n-1' (netx layout)")
        yield f
    except LavaBridgeError:
        raise
    except CONTENT_ERRORS as exc:
        raise ModelFileError(f"{p}: unreadable netx content ({exc})") from exc
    finally:
        with contextlib.suppress(*CONTENT_ERRORS):
            f.close()


MAX_DATASET_BYTES = 1 << 30  # a netx dataset of more than 1 GiB is not a network lavabridge runs


def read_dataset(group: Any, key: str, where: str, kinds: str = "iufb") -> np.ndarray:
    """A dataset's values, its declared size and dtype checked before anything is read.

    A file may declare a dataset of 10^12 elements while storing none (chunked, never written):
    that is refused here, not allocated.
    """
    if key not in group or not isinstance(group[key], h5py.Dataset):
        raise ModelFileError(f"{where}: missing dataset '{key}'")
    ds = group[key]
    dtype = ds.dtype
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFileError(f"{where}: '{key}' has dtype {dtype}, expected numbers")
    nbytes = int(np.prod(ds.shape, dtype=np.float64) * dtype.itemsize) if ds.shape else 0
    if nbytes > MAX_DATASET_BYTES:
        raise ModelFileError(
            f"{where}: '{key}' declares shape {ds.shape} ({nbytes} bytes), above the "
            f"{MAX_DATASET_BYTES}-byte limit of a netx dataset lavabridge reads"
        )
    return np.asarray(ds[()])


def read_str(group: Any, key: str, where: str) -> str:
    """A string dataset as netx's NetDict reads it (first element of an array, or the scalar)."""
    if key not in group or not isinstance(group[key], h5py.Dataset):
        raise ModelFileError(f"{where}: missing '{key}'")
    ds = group[key]
    if ds.dtype.kind not in "SUO" or (ds.shape and (ds.shape[0] == 0 or ds.size > 1024)):
        raise ModelFileError(f"{where}: '{key}' must be a short string, got {ds.dtype} {ds.shape}")
    value = ds[0] if len(ds.shape) > 0 else ds[()]
    if isinstance(value, np.ndarray):
        raise ModelFileError(f"{where}: '{key}' must be a string, got an array")
    try:
        return value.decode("ascii") if isinstance(value, bytes) else str(value)
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{where}: '{key}' is not an ASCII string") from exc


def read_ints(group: Any, key: str, where: str) -> IntArray:
    """``weight``/``bias``-like datasets: netx reads them with ``.astype(int)`` (truncation)."""
    arr = read_dataset(group, key, where)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ModelFileError(f"{where}: '{key}' must hold finite numbers (found NaN or inf)")
    if arr.size and arr.dtype.kind in "uf" and float(np.abs(arr).max()) >= 2.0**62:
        raise ModelFileError(f"{where}: '{key}' holds values beyond the int64 range")
    return arr.astype(np.int64)


def read_scalar_int(group: Any, key: str, where: str) -> int:
    """A neuron parameter: netx passes it to Lava's LIF unchanged, so it must be an integer."""
    if key not in group:
        raise ModelFileError(f"{where}: missing neuron parameter '{key}'")
    arr = read_dataset(group, key, where)
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
        kind = read_str(group, "type", f"{where} neuron")
        if kind not in SUPPORTED_NEURONS:
            raise UnsupportedError(
                f"{where}: neuron type {kind!r} is not supported (supported: "
                f"{', '.join(SUPPORTED_NEURONS)}; SDNN and RF neurons have no QGraph form)",
                node=where,
                stage="netx reader",
                supported=SUPPORTED_NEURONS,
            )
        if "messageBits" in group:
            raise UnsupportedError(f"{where}: neuron/messageBits (graded spikes) is not supported")
        params = {k: read_scalar_int(group, k, where) for k in NO_NEURON}
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
    if d.dtype.kind == "f" and not np.all(np.isfinite(d)):
        raise ModelFileError(f"{where}: 'delay' must hold finite numbers (found NaN or inf)")
    if d.max() > NETX_MAX_DELAY:  # netx clips to [0, 62], negatives included, only then
        warnings.warn(f"{where}: netx clips delays above {NETX_MAX_DELAY}", stacklevel=3)
        d = np.clip(d, 0, NETX_MAX_DELAY)
    if d.min() < 0:
        raise ModelFileError(f"{where}: negative delay {d.min()} (DelayDense refuses it)")
    if d.ndim == 0:
        d = d * np.ones(shape, np.int64)
    elif d.ndim == 1 and d.size == shape[0]:  # per output neuron ("axonal"), checked first
        d = np.repeat(d.reshape(-1, 1), shape[1], axis=1)
    elif d.ndim == 1 and d.size == shape[1]:  # per input
        d = np.repeat(d.reshape(1, -1), shape[0], axis=0)
    if d.shape != shape:
        raise ModelFileError(f"{where}: delay of shape {np.shape(raw)} for weights {shape}")
    return d.astype(np.int64)


def netx_dense(
    weight: IntArray, weight_rec: IntArray | None, delay: Any | None, where: str
) -> tuple[QDense, QDense | None]:
    """The Dense (and recurrent Dense) netx builds from stored integer weights.

    ``w, num_weight_bits, weight_exp = optimize_weight_bits(W)`` (on ``[W | W_rec]`` for a
    recurrent layer); Lava computes ``floor_shift(W_eff(w) @ s, weight_exp)``. Raises
    :class:`UnsupportedError` where netx crashes or Lava's result is undefined. The weights are
    clipped to Lava's sign-mode range here, as Lava's Dense does (the computation is unchanged).
    """
    utils = quiet_import("lava.lib.dl.netx.utils")
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


def layer_name(g: Any, default: str) -> str:
    """The layer's ``lavabridge_name`` attribute (written by :func:`write_netx`), or ``default``."""
    name = g.attrs.get("lavabridge_name", default)
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    if not isinstance(name, str) or not 0 < len(name) <= 256:
        raise ModelFileError(f"{default}: attribute 'lavabridge_name' must be a short string")
    return name


def to_lavabridge_order(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """netx's (..., W, H, C) neuron order -> lavabridge's flat C, H, W order (1-D: identity)."""
    if len(shape) == 3:
        return whc_to_chw(arr)
    return arr.reshape(*arr.shape[: arr.ndim - len(shape)], -1)


def to_netx_order(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """lavabridge's flat order -> netx's (..., W, H, C) neuron array of ``shape``."""
    if len(shape) == 3:
        return chw_to_whc(arr, (shape[2], shape[1], shape[0]))
    return arr.reshape(*arr.shape[:-1], *shape)
