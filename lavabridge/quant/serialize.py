"""QGraph files (``.lbq``): one numpy ``.npz`` archive holding a graph's integers exactly.

Layout of the archive (written through a file object, so the file keeps whatever name and
extension the caller gives it; ``.lbq`` is the recommended one)::

    meta                     uint8   UTF-8 JSON: {"format": "lavabridge.qgraph", "version": 2,
                                     "name", "n_in", "input_kind", "target": {LoihiTarget fields},
                                     "input_encoding": {scale, bias_exp, gain, bias} | null,
                                     "layers": [{"name",
                                                 "neuron": {"kind", <scalar fields>},
                                                 "synapse": {"kind", <scalar fields>,
                                                             <optional array>: bool} | null,
                                                 "recurrent": ... | null,
                                                 "approximations": [{param, source, deployed,
                                                                     effect}, ...]}, ...]}
    <i>.<field>              int     layer i's neuron arrays, e.g. <i>.bias_mant, <i>.bias_exp
    <i>.synapse.<field>      int     e.g. <i>.synapse.weights, <i>.synapse.delays (if present)
    <i>.recurrent.<field>    int

Serialization is generic over the node dataclasses: scalar fields go into the JSON (enums by
value; the sign mode by name), fields declared ``array`` into their own entries. The one table is
:data:`NODE_TYPES` (kind -> class); a node whose class is not in it cannot be written, a file
naming an unknown kind cannot be read (:class:`~lavabridge.errors.UnsupportedError`). Version 1
files (no ``kind``, no ``compare``, no approximations; lavabridge 0.1) read as CubaLIF / Dense.

Arrays are stored in the narrowest signed integer type that holds their values and read back as
int64, so every value round-trips exactly: ``graphs_equal(load_qgraph(p), g)`` after
``save_qgraph(g, p)``. Loading re-validates the graph (a hand-edited file cannot smuggle in an
out-of-range value).
"""

from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.archive import read_archive, write_archive
from lavabridge.dispatch import Table
from lavabridge.quant.encoding import InputEncoding
from lavabridge.quant.qgraph import QGraph, QLayer
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset, QDense, QNode
from lavabridge.quant.qspatial import QConv
from lavabridge.semantics import Approximation, InputKind
from lavabridge.target import LoihiTarget, SignMode

FORMAT_NAME = "lavabridge.qgraph"
FORMAT_VERSION = 2
SUFFIX = ".lbq"

NODE_TYPES: dict[str, type[QNode]] = {
    "Dense": QDense, "Conv": QConv, "CubaLIF": QCubaLIF, "CubaLIFReset": QCubaLIFReset,
}  # fmt: skip
"""QGraph node class by its ``kind`` (what files store)."""
WRITABLE: Table[str] = Table(".lbq writer", {cls: kind for kind, cls in NODE_TYPES.items()})
READABLE: Table[type[QNode]] = Table(".lbq reader", NODE_TYPES)
_V1_KINDS = {"neuron": "CubaLIF", "synapse": "Dense", "recurrent": "Dense"}


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


def _fields(cls: type[QNode]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init]


def _is_array(f: dataclasses.Field[Any]) -> bool:
    return bool(f.metadata.get("array"))


def _scalar(value: Any) -> Any:
    if isinstance(value, SignMode):
        return value.name
    return value.value if isinstance(value, enum.Enum) else value


def _node_meta(node: QNode | None, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    if node is None:
        return None
    meta: dict[str, Any] = {"kind": WRITABLE.get(type(node), f"{prefix} ({type(node).__name__})")}
    for f in _fields(type(node)):
        value = getattr(node, f.name)
        if not _is_array(f):
            meta[f.name] = _scalar(value)
            continue
        if value is not None:
            arrays[f"{prefix}.{f.name}"] = value
        if f.metadata.get("optional"):
            meta[f.name] = value is not None
    return meta


def _graph_meta(graph: QGraph, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    layers = []
    for i, layer in enumerate(graph.layers):
        layers.append(
            {
                "name": layer.name,
                "neuron": _node_meta(layer.neuron, str(i), arrays),
                "synapse": _node_meta(layer.synapse, f"{i}.synapse", arrays),
                "recurrent": _node_meta(layer.recurrent, f"{i}.recurrent", arrays),
                "approximations": [a.to_dict() for a in layer.approximations],
            }
        )
    enc = graph.input_encoding
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "n_in": graph.n_in,
        "input_kind": graph.input_kind.value,
        "target": dataclasses.asdict(graph.target),
        "input_encoding": None if enc is None else dataclasses.asdict(enc),
        "layers": layers,
    }


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
    arrays: dict[str, np.ndarray] = {}
    meta = _graph_meta(graph, arrays)
    return write_archive(path, meta, {k: _narrow(v) for k, v in arrays.items()}, "QGraph")


# ----------------------------------------------------------------------------- reading
def _int_array(npz: Any, key: str) -> npt.NDArray[np.int64]:
    arr = npz[key]
    if arr.dtype.kind not in "iu":
        raise ValueError(f"array '{key}' has dtype {arr.dtype}, expected integers")
    return np.asarray(arr, dtype=np.int64)


def _decode(cls: type[QNode], name: str, value: Any) -> Any:
    if name == "sign_mode" and isinstance(value, str):
        return SignMode[value]
    return value


def _node_from(npz: Any, prefix: str, meta: Any, role: str, version: int) -> Any:
    if meta is None:
        return None
    kind = str(meta.get("kind", _V1_KINDS[role] if version == 1 else ""))
    cls = READABLE.get(kind, f"layer {prefix.split('.')[0]} {role}")
    values: dict[str, Any] = {}
    for f in _fields(cls):
        if _is_array(f):
            present = bool(meta[f.name]) if f.metadata.get("optional") else True
            values[f.name] = _int_array(npz, f"{prefix}.{f.name}") if present else None
        elif f.name in meta:
            values[f.name] = _decode(cls, f.name, meta[f.name])
        elif version > 1:
            raise KeyError(f"{prefix} {kind}: {f.name}")
    return cls(**values)


def _target_from(fields: dict[str, Any]) -> LoihiTarget:
    known = {f.name for f in dataclasses.fields(LoihiTarget)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown target field(s) {unknown}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    return LoihiTarget(**values)


def _graph_from(npz: Any, meta: dict[str, Any]) -> QGraph:
    version = int(meta["version"])
    layers = []
    for i, lm in enumerate(meta["layers"]):
        neuron = _node_from(npz, str(i), lm["neuron"], "neuron", version)
        synapse = _node_from(npz, f"{i}.synapse", lm["synapse"], "synapse", version)
        recurrent = _node_from(npz, f"{i}.recurrent", lm["recurrent"], "recurrent", version)
        approx = tuple(Approximation(**a) for a in lm.get("approximations", []))
        layers.append(QLayer(str(lm["name"]), neuron, synapse, recurrent, approx))
    enc = meta.get("input_encoding")
    return QGraph(
        n_in=int(meta["n_in"]),
        layers=tuple(layers),
        input_kind=InputKind(meta["input_kind"]),
        name=str(meta["name"]),
        target=_target_from(meta["target"]),
        input_encoding=None
        if enc is None
        else InputEncoding(**{**enc, "bias": tuple(enc["bias"])}),
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
