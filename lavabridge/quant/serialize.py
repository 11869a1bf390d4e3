"""QGraph files (``.lbq``): one numpy ``.npz`` archive holding a graph's integers exactly.

Layout of the archive (written through a file object, so the file keeps whatever name and
extension the caller gives it; ``.lbq`` is the recommended one)::

    meta                     uint8   UTF-8 JSON: {"format": "lavabridge.qgraph", "version": 1,
                                     "name", "n_in", "input_kind", "target": {LoihiTarget fields},
                                     "layers": [{"name", "neuron": {size, du, dv, vth, reset},
                                                 "synapse": {weight_exp, num_weight_bits,
                                                             sign_mode, delays: bool} | null,
                                                 "recurrent": ... | null}, ...]}
    <i>.bias_mant            int     layer i's LIF bias mantissas  [size]
    <i>.bias_exp             int     layer i's LIF bias exponents  [size]
    <i>.synapse.weights      int     [n_out, n_in]    (only when the layer has a synapse)
    <i>.synapse.delays       int     [n_out, n_in]    (only when that synapse has delays)
    <i>.recurrent.weights    int     [size, size]     (only with a recurrent connection)
    <i>.recurrent.delays     int     [size, size]

Arrays are stored in the narrowest signed integer type that holds their values and read back as
int64, so every value round-trips exactly: ``graphs_equal(load_qgraph(p), g)`` after
``save_qgraph(g, p)``. Loading re-validates the graph (a hand-edited file cannot smuggle in an
out-of-range value).

:func:`load_model` opens either a ``.lbq`` file or a lava-dl netx HDF5 ``.net`` file, telling them
apart by content, not by name.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.archive import read_archive, write_archive
from lavabridge.errors import ModelFileError
from lavabridge.quant.qgraph import InputKind, QCubaLIF, QDense, QGraph, QLayer, ResetMode
from lavabridge.quant.target import LoihiTarget, SignMode

FORMAT_NAME = "lavabridge.qgraph"
FORMAT_VERSION = 1
SUFFIX = ".lbq"

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK"

# what a damaged archive raises inside numpy / zipfile / zlib / json
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error)


# ----------------------------------------------------------------------------- writing
def _narrow(arr: npt.NDArray[np.int64]) -> np.ndarray:
    """``arr`` in the narrowest of int8/16/32/64 that holds every value (exact)."""
    if arr.size == 0:
        return arr.astype(np.int8)
    lo, hi = int(arr.min()), int(arr.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return arr.astype(dtype)
    return arr


def _dense_meta(dense: QDense | None) -> dict[str, Any] | None:
    if dense is None:
        return None
    return {
        "weight_exp": int(dense.weight_exp),
        "num_weight_bits": int(dense.num_weight_bits),
        "sign_mode": dense.mode.name,
        "delays": dense.delays is not None,
    }


def _graph_meta(graph: QGraph) -> dict[str, Any]:
    layers = []
    for layer in graph.layers:
        n = layer.neuron
        layers.append(
            {
                "name": layer.name,
                "neuron": {
                    "size": n.size,
                    "du": n.du,
                    "dv": n.dv,
                    "vth": n.vth,
                    "reset": n.reset.value,
                },
                "synapse": _dense_meta(layer.synapse),
                "recurrent": _dense_meta(layer.recurrent),
            }
        )
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "n_in": graph.n_in,
        "input_kind": graph.input_kind.value,
        "target": dataclasses.asdict(graph.target),
        "layers": layers,
    }


def _graph_arrays(graph: QGraph) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(graph.layers):
        arrays[f"{i}.bias_mant"] = layer.neuron.bias_mant
        arrays[f"{i}.bias_exp"] = layer.neuron.bias_exp
        for role, dense in (("synapse", layer.synapse), ("recurrent", layer.recurrent)):
            if dense is not None:
                arrays[f"{i}.{role}.weights"] = dense.weights
                if dense.delays is not None:
                    arrays[f"{i}.{role}.delays"] = dense.delays
    return {key: _narrow(arr) for key, arr in arrays.items()}


def save_qgraph(graph: QGraph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path`` (any extension; ``.lbq`` recommended) and return the path.

    The file is written to a temporary name beside ``path`` and renamed, so a failed write never
    leaves a half-written model under the final name.

    Raises
    ------
    ModelFileError
        The file cannot be written (missing directory, permissions, disk full).
    """
    if not isinstance(graph, QGraph):
        raise TypeError(f"save_qgraph needs a QGraph, got {type(graph).__name__}")
    return write_archive(path, _graph_meta(graph), _graph_arrays(graph), "QGraph")


# ----------------------------------------------------------------------------- reading
def _int_array(npz: Any, key: str) -> npt.NDArray[np.int64]:
    arr = npz[key]
    if arr.dtype.kind not in "iu":
        raise ValueError(f"array '{key}' has dtype {arr.dtype}, expected integers")
    return np.asarray(arr, dtype=np.int64)


def _dense_from(npz: Any, prefix: str, meta: dict[str, Any] | None) -> QDense | None:
    if meta is None:
        return None
    return QDense(
        weights=_int_array(npz, f"{prefix}.weights"),
        weight_exp=int(meta["weight_exp"]),
        num_weight_bits=int(meta["num_weight_bits"]),
        sign_mode=SignMode[meta["sign_mode"]],
        delays=_int_array(npz, f"{prefix}.delays") if meta["delays"] else None,
    )


def _target_from(fields: dict[str, Any]) -> LoihiTarget:
    known = {f.name for f in dataclasses.fields(LoihiTarget)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown target field(s) {unknown}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    return LoihiTarget(**values)


def _graph_from(npz: Any, meta: dict[str, Any]) -> QGraph:
    layers = []
    for i, lm in enumerate(meta["layers"]):
        nm = lm["neuron"]
        neuron = QCubaLIF(
            size=int(nm["size"]),
            du=int(nm["du"]),
            dv=int(nm["dv"]),
            vth=int(nm["vth"]),
            bias_mant=_int_array(npz, f"{i}.bias_mant"),
            bias_exp=_int_array(npz, f"{i}.bias_exp"),
            reset=ResetMode(nm["reset"]),
        )
        synapse = _dense_from(npz, f"{i}.synapse", lm["synapse"])
        recurrent = _dense_from(npz, f"{i}.recurrent", lm["recurrent"])
        layers.append(QLayer(str(lm["name"]), neuron, synapse, recurrent))
    return QGraph(
        n_in=int(meta["n_in"]),
        layers=tuple(layers),
        input_kind=InputKind(meta["input_kind"]),
        name=str(meta["name"]),
        target=_target_from(meta["target"]),
    )


def load_qgraph(path: str | os.PathLike[str]) -> QGraph:
    """Read a QGraph written by :func:`save_qgraph`.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, not a QGraph archive, an unsupported format version, a damaged
        or incomplete archive, or values the graph's validation refuses (the message names the file
        and, for the latter, the layer and parameter).
    """
    return read_archive(path, FORMAT_NAME, FORMAT_VERSION, "QGraph", _graph_from)


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"netx"`` (HDF5 signature) or ``"qgraph"`` (zip archive), read from the file's first bytes.

    Raises
    ------
    ModelFileError
        The file is missing, unreadable, or neither format.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(HDF5_SIGNATURE))
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.strerror or exc})") from exc
    if head == HDF5_SIGNATURE:
        return "netx"
    if head.startswith(ZIP_SIGNATURE):
        return "qgraph"
    raise ModelFileError(
        f"{path}: unknown model format (expected a lava-dl netx HDF5 .net file "
        f"or a lavabridge QGraph {SUFFIX} file)"
    )


def load_model(path: str | os.PathLike[str]) -> QGraph:
    """Open a model file as a QGraph, whatever its name: netx HDF5 (``.net``) or ``.lbq``.

    Raises
    ------
    ModelFileError
        Missing, unreadable or unknown file (see :func:`detect_format`, :func:`load_qgraph`).
    UnsupportedError
        A netx file holding a layer or neuron type lavabridge cannot express exactly.
    """
    if detect_format(path) == "netx":
        from lavabridge.importers.netx import read_netx

        return read_netx(Path(path))
    return load_qgraph(path)
