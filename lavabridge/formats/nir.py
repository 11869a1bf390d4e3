"""NIR files and graphs: what the reader and the writer share (NIR 1.0.8).

NIR graphs are continuous-time; a discrete simulator must fix what the file leaves open
(``../shared/reference/interop.md`` §3.2). lavabridge makes every choice explicit:

* **dt**: always an argument (never guessed); lavabridge's own files state it in the metadata.
* **discretisation** (:class:`Discretisation`): the factor ``k(tau)`` a time constant gives per
  step, used as ``x <- x + k(tau) (target - x)``:

  ``euler`` (default)
      forward Euler, ``k = dt / tau``, with the synaptic current updated first and the
      voltage using this step's current (variant A: snnTorch, NIR's Lava examples).
  ``exp``
      the exact exponential decay of a constant input over the step, ``k = 1 - exp(-dt/tau)``.

  An integrator without leak (``IF``, ``I``) adds ``dt * r * I`` either way.
* **reset** (:class:`~lavabridge.semantics.Reset` ``zero`` or ``subtract``, same step; default
  ``zero``): ``v <- v_reset`` or ``v <- v - (v_threshold - v_reset)`` where ``v > v_threshold``.
* **initial state**: NIR stores none; v starts at ``v_reset`` and the synaptic current at 0
  (the frameworks' ``v = 0`` when ``v_reset = 0``).
* **input**: per-step values (spikes 0/1), each a current of ``w_in * x[t]`` into ``tau_syn``'s
  equation (the Euler jump is ``k(tau_syn) * w_in * x[t]``).

:data:`META` names the graph metadata keys lavabridge writes (and reads when the arguments
leave a choice open); :func:`load` opens a file or graph; :func:`flatten` inlines nested graphs.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, ModelFileError, UnsupportedError

F64 = npt.NDArray[np.float64]
Edge = tuple[str, str]

META = {
    "dt": "lavabridge.dt",
    "discretisation": "lavabridge.discretisation",
    "reset": "lavabridge.reset",
    "name": "lavabridge.name",
    "bias_start": "lavabridge.bias_start",
    "writer": "lavabridge.writer",
}
"""Graph metadata keys (nodes carry ``lavabridge.reset`` in their own metadata too)."""


class Discretisation(str, enum.Enum):
    """How a NIR time constant becomes a per-step factor (see the module docstring)."""

    EULER = "euler"
    EXP = "exp"


def parse_discretisation(value: Discretisation | str) -> Discretisation:
    """``value`` as a :class:`Discretisation`; :class:`InputError` naming the choices."""
    try:
        return Discretisation(value)
    except ValueError:
        allowed = " | ".join(repr(d.value) for d in Discretisation)
        raise InputError(f"discretisation {value!r}: expected {allowed}") from None


def choose_discretisation(
    value: Discretisation | str | None, metadata: Mapping[str, Any]
) -> Discretisation:
    """The discretisation to use: ``value``, else the graph's ``lavabridge.discretisation``
    metadata (a file lavabridge wrote), else ``euler``."""
    return parse_discretisation(value or metadata.get(META["discretisation"], Discretisation.EULER))


def check_dt(dt: Any) -> float:
    """``dt`` as a positive finite float (:class:`InputError` otherwise)."""
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise InputError(f"dt {dt!r}: must be a positive number (seconds per step)") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"dt {dt!r}: must be a positive finite number (seconds per step)")
    return value


def factor(tau: npt.ArrayLike, dt: float, disc: Discretisation) -> F64:
    """``k(tau)``: ``dt / tau`` (euler) or ``1 - exp(-dt / tau)`` (exp), elementwise, float64."""
    t = np.asarray(tau, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if disc == Discretisation.EULER:
            return np.asarray(dt / t, np.float64)
        return np.asarray(-np.expm1(-dt / t), np.float64)


def tau_of(k: float, dt: float, disc: Discretisation) -> float:
    """The time constant whose :func:`factor` is ``k`` (before rounding), ``0 < k <= 1``."""
    if disc == Discretisation.EULER:
        return dt / k
    return -dt / math.log1p(-k) if k < 1.0 else 0.0


def nir_package() -> Any:
    """The ``nir`` package, or an :class:`UnsupportedError` saying how to install it."""
    try:
        import nir
    except ImportError:
        raise UnsupportedError(
            "NIR support needs the nir package: pip install 'lavabridge[nir]' (or pip install nir)",
            stage="NIR",
        ) from None
    return nir


def load(src: Any) -> Any:
    """``src`` as a ``nir.NIRGraph``: a graph, or the path of a ``.nir`` file (``nir.read``).

    Raises
    ------
    ModelFileError
        Missing or unreadable file, or not a NIR graph.
    """
    nir = nir_package()

    if isinstance(src, nir.NIRGraph):
        return src
    if not isinstance(src, (str, Path)):
        raise InputError(f"NIR source: a nir.NIRGraph or a .nir path, got {type(src).__name__}")
    path = Path(src)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such NIR file")
    try:
        graph = nir.read(path)
    except Exception as exc:  # h5py and nir raise anything reading a damaged file can
        raise ModelFileError(f"{path}: cannot read as NIR ({type(exc).__name__}: {exc})") from exc
    if not isinstance(graph, nir.NIRGraph):
        raise ModelFileError(f"{path}: holds a single {type(graph).__name__}, not a NIR graph")
    return graph


@dataclass(frozen=True)
class Flat:
    """A NIR graph with its nested graphs inlined: nodes by dotted name, edges between them.

    The nested graphs' own ``Input`` / ``Output`` nodes are gone (their edges joined through);
    ``inputs`` / ``outputs`` are the top level's."""

    nodes: dict[str, Any]
    edges: list[Edge]
    inputs: list[str]
    outputs: list[str]
    metadata: Mapping[str, Any]

    def sources(self, name: str) -> list[str]:
        return [s for s, d in self.edges if d == name]

    def targets(self, name: str) -> list[str]:
        return [d for s, d in self.edges if s == name]


def _end(graph: Any, name: str, kind: str, prefix: str) -> str:
    """The flat name an edge end ``name`` of ``graph`` addresses (a nested graph: its single
    Input for a target, its single Output for a source)."""
    nir = nir_package()

    node = graph.nodes.get(name)
    if node is None:
        head, _, rest = name.partition(".")
        sub = graph.nodes.get(head)
        if isinstance(sub, nir.NIRGraph) and rest:
            return _end(sub, rest, kind, f"{prefix}{head}.")
        raise ModelFileError(f"NIR graph: edge end {prefix}{name!r} names no node")
    if not isinstance(node, nir.NIRGraph):
        return prefix + name
    cls = nir.Input if kind == "target" else nir.Output
    ends = [k for k, n in node.nodes.items() if isinstance(n, cls)]
    if len(ends) != 1:
        raise UnsupportedError(
            f"nested graph '{prefix}{name}' has {len(ends)} {cls.__name__} nodes {ends}: an "
            f"edge into or out of it must name one (e.g. '{name}.<node>')",
            node=f"node '{prefix}{name}' (NIRGraph)",
            stage="NIR reader",
        )
    return _end(node, ends[0], kind, f"{prefix}{name}.")


def _inline(graph: Any, prefix: str, nodes: dict[str, Any], edges: list[Edge]) -> None:
    nir = nir_package()

    for key, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            _inline(node, f"{prefix}{key}.", nodes, edges)
        else:
            nodes[prefix + key] = node
    for src, dst in graph.edges:
        edges.append((_end(graph, src, "source", prefix), _end(graph, dst, "target", prefix)))


def flatten(graph: Any) -> Flat:
    """``graph`` with nested graphs inlined (see :class:`Flat`)."""
    nir = nir_package()

    nodes: dict[str, Any] = {}
    raw: list[Edge] = []
    _inline(graph, "", nodes, raw)
    top_in = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    top_out = [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)]
    inner = [k for k, n in nodes.items() if isinstance(n, (nir.Input, nir.Output))
             and k not in top_in + top_out]  # fmt: skip
    twice = [e for i, e in enumerate(raw) if e in raw[:i]]
    if twice:
        raise UnsupportedError(
            f"NIR graph: edge {twice[0]} appears twice (would its value count twice?): list each "
            "connection once",
            node=f"edge {twice[0]}",
            stage="NIR reader",
        )
    edges = list(raw)
    for k in inner:  # join the edges through a nested graph's Input / Output
        ins = [s for s, d in edges if d == k]
        outs = [d for s, d in edges if s == k]
        edges = [e for e in edges if k not in e] + [(s, d) for s in ins for d in outs]
        del nodes[k]
    return Flat(nodes, list(dict.fromkeys(edges)), top_in, top_out, dict(graph.metadata or {}))
