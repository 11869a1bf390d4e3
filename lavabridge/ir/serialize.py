"""Float IR files: one numpy ``.npz`` archive holding a :class:`~lavabridge.ir.Graph` exactly.

Layout (written through a file object, so the file keeps the name and extension the caller gives;
``.lbir`` is the recommended one)::

    meta            uint8   UTF-8 JSON: {"format": "lavabridge.ir", "version": 1, "name",
                            "nodes": [{"name", "kind", "params": {scalar fields},
                                       "arrays": {field: "<i>.<field>" | null}}, ...],
                            "edges": [[source, target], ...]}
    <i>.<field>     any     node i's array field, in its own dtype (float16/32/64, int64)

Arrays keep their dtype and bytes, and scalars are written by JSON's shortest exact float repr, so
``load(save(g, p)) == g`` and every array is bit-identical (``-0.0`` and subnormals included).
Node and edge order are kept. Loading re-validates every node and the graph.

Serialization is generic: a node's fields are read from the dataclass and sorted into scalars and
arrays by their declared rules; there is no per-node-type code here. The one table is
:data:`~lavabridge.ir.kinds.NODE_TYPES` (kind name -> node class): a node whose class is not in it
cannot be written (it could not be read back), a file naming an unknown kind cannot be read; both
raise :class:`~lavabridge.errors.UnsupportedError`.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path
from typing import Any

import numpy as np

from lavabridge.archive import read_archive, write_archive
from lavabridge.dispatch import Table
from lavabridge.errors import LavaBridgeError, ModelFileError
from lavabridge.ir.fields import field_spec
from lavabridge.ir.graph import Graph
from lavabridge.ir.kinds import NODE_TYPES
from lavabridge.ir.nodes import Node

FORMAT_NAME = "lavabridge.ir"
FORMAT_VERSION = 1
SUFFIX = ".lbir"

WRITABLE: Table[str] = Table(".lbir writer", {cls: name for name, cls in NODE_TYPES.items()})
READABLE: Table[type[Node]] = Table(".lbir reader", NODE_TYPES)


# ----------------------------------------------------------------------------- writing
def _node_entry(i: int, key: str, node: Node, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    kind = WRITABLE.get(type(node), f"node '{key}'")
    params: dict[str, Any] = {}
    refs: dict[str, str | None] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if field_spec(f).is_array:
            ref = None if value is None else f"{i}.{f.name}"
            if ref is not None:
                arrays[ref] = value
            refs[f.name] = ref
        else:
            params[f.name] = value.value if isinstance(value, enum.Enum) else value
    return {"name": key, "kind": kind, "params": params, "arrays": refs}


def save(graph: Graph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path`` (any extension; ``.lbir`` recommended) and return the path.

    Written to a temporary name beside ``path`` and renamed, so a failed write never leaves a
    half-written file under the final name.

    Raises
    ------
    ModelFileError
        The file cannot be written (missing directory, permissions, disk full).
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"save needs an ir.Graph, got {type(graph).__name__}")
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": graph.name,
        "nodes": [_node_entry(i, k, n, arrays) for i, (k, n) in enumerate(graph.nodes.items())],
        "edges": [list(e) for e in graph.edges],
    }
    return write_archive(path, meta, arrays, "IR")


# ----------------------------------------------------------------------------- reading
def _node_from(npz: Any, entry: dict[str, Any], path: Path) -> tuple[str, Node]:
    key, kind = str(entry["name"]), str(entry["kind"])
    cls = READABLE.get(kind, f"{path}: node '{key}'")
    values: dict[str, Any] = dict(entry["params"])
    for name, ref in entry["arrays"].items():
        values[name] = None if ref is None else npz[ref]
    expected = {f.name for f in dataclasses.fields(cls)}
    if set(values) != expected:
        raise ModelFileError(
            f"{path}: node '{key}' ({kind}) has fields {sorted(values)}, expected {sorted(expected)}"
        )
    try:
        return key, cls(**values)
    except LavaBridgeError as exc:
        raise ModelFileError(f"{path}: invalid node '{key}': {exc}") from exc


def load(path: str | os.PathLike[str]) -> Graph:
    """Read a graph written by :func:`save`.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, not an IR archive, an unsupported format version, a damaged or
        incomplete archive, or values the node/graph validation refuses (the message names the
        file and, for the latter, the node and parameter).
    """
    p = Path(path)

    def build(npz: Any, meta: dict[str, Any]) -> Graph:
        nodes = dict(_node_from(npz, entry, p) for entry in meta["nodes"])
        if len(nodes) != len(meta["nodes"]):
            raise ModelFileError(f"{p}: duplicate node names")
        edges = tuple((str(s), str(d)) for s, d in meta["edges"])
        return Graph(nodes, edges, str(meta["name"]))

    return read_archive(p, FORMAT_NAME, FORMAT_VERSION, "IR", build)
