"""The topology of a NIR graph as a layer chain (what :func:`lavabridge.importers.nir.read_nir`
can deploy): ``Input -> maps -> neuron [-> maps -> neuron ...]``, each neuron optionally with one
cycle ``neuron -> maps -> the same neuron`` (a recurrent connection), ``Output`` nodes fed by
neurons (read points, ignored).

*Maps* are the linear nodes (``Affine``, ``Linear``, ``Scale``, ``Conv1d``, ``Conv2d``,
``SumPool2d``, ``AvgPool2d``, ``Flatten``) and ``Delay``; *neurons* the spiking nodes (``LIF``,
``CubaLIF``, ``IF``, ``Threshold``). Anything else — a branch, a sum of two paths, a skip or
feedback across layers, a node off the chain, a graded value leaving the graph — is refused,
naming the node: every path from the input to a layer then has the same length, so each
layer's latency is its depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lavabridge.errors import UnsupportedError
from lavabridge.formats.nir import Flat

STAGE = "NIR reader"
MAP_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d",
             "Flatten", "Delay")  # fmt: skip
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "Threshold")
READOUT_TYPES = ("LI", "CubaLI", "I")
CHAIN = ("Input -> maps -> neuron [-> maps -> neuron]*, each neuron with at most one cycle "
         "neuron -> maps -> itself; maps: " + ", ".join(MAP_TYPES) + "; neurons: "
         + ", ".join(NEURON_TYPES))  # fmt: skip


def kind(node: Any) -> str:
    """The NIR node's type name (``LIF``, ``Affine``, ...)."""
    return type(node).__name__


def describe(name: str, node: Any) -> str:
    """``node 'name' (Type)``: how errors name a NIR node."""
    return f"node '{name}' ({kind(node)})"


def refuse(flat: Flat, name: str, problem: str) -> UnsupportedError:
    where = describe(name, flat.nodes[name])
    return UnsupportedError(f"{where}: {problem}", node=where, stage=STAGE, supported=(CHAIN,))


@dataclass(frozen=True)
class Segment:
    """One layer of the chain: the ``maps`` from the previous neuron (or the Input) to
    ``neuron``, in order, and the ``recurrent`` maps of its cycle (``None``: no cycle; ``()``:
    the neuron feeds itself directly)."""

    source: str
    maps: tuple[str, ...]
    neuron: str
    recurrent: tuple[str, ...] | None = None


def _path(flat: Flat, start: str, origin: str) -> tuple[tuple[str, ...], str]:
    """Follow maps from ``start`` (a target of ``origin``) to the first non-map node."""
    maps: list[str] = []
    prev, cur = origin, start
    while kind(flat.nodes[cur]) in MAP_TYPES:
        if flat.sources(cur) != [prev]:
            others = [s for s in flat.sources(cur) if s != prev]
            raise refuse(flat, cur, f"sums the paths from {[prev, *others]} (a join); {CHAIN}")
        outs = flat.targets(cur)
        if len(outs) != 1:
            what = "feeds nothing" if not outs else f"feeds {outs} (a branch)"
            raise refuse(flat, cur, f"{what}; {CHAIN}")
        if outs[0] in flat.outputs:
            raise refuse(flat, cur, "sends a graded value to the output: the deployed network "
                         "ends with a spiking layer (read its spikes; apply the map on the host)")  # fmt: skip
        maps.append(cur)
        prev, cur = cur, outs[0]
    return tuple(maps), cur


def _check_neuron(flat: Flat, name: str) -> None:
    k = kind(flat.nodes[name])
    if k in READOUT_TYPES:
        raise refuse(flat, name, "a non-spiking readout emits its voltage, not spikes; "
                     "lavabridge deploys spiking layers: end the graph with the last spiking "
                     "layer and apply the readout on the host, or make it a LIF")  # fmt: skip
    if k not in NEURON_TYPES:
        raise refuse(flat, name, f"unsupported node type {k}; {CHAIN}")


def _loops(flat: Flat, cur: str, fwd: list[str]) -> tuple[str, ...] | None:
    """The maps of ``cur``'s cycle back to itself (removed from ``fwd``); ``None``: none."""
    loops = []
    for d in list(fwd):
        maps, end = _path(flat, d, cur) if d != cur else ((), cur)
        if end == cur:
            loops.append(maps)
            fwd.remove(d)
    if len(loops) > 1:
        raise refuse(flat, cur, f"has {len(loops)} cycles back to itself; {CHAIN}")
    return loops[0] if loops else None


def _next(flat: Flat, cur: str, first: str, visited: set[str]) -> Segment:
    """The layer whose maps start at ``first``, a target of ``cur``."""
    maps, end = _path(flat, first, cur) if first != cur else ((), cur)
    if end in flat.outputs or end in visited:
        where = maps[-1] if maps else cur
        raise refuse(flat, where, f"feeds '{end}', an earlier node (a feedback across "
                     f"layers); {CHAIN}")  # fmt: skip
    _check_neuron(flat, end)
    feed = maps[-1] if maps else cur
    others = [s for s in flat.sources(end) if s not in (feed, end) and not _returns(flat, s, end)]
    if others:
        raise refuse(flat, end, f"has extra input(s) {others} (a join or a skip); {CHAIN}")
    return Segment(cur, maps, end)


def segments(flat: Flat) -> list[Segment]:
    """The layer chain of ``flat`` (see the module docstring); refuses other topologies."""
    if len(flat.inputs) != 1:
        raise UnsupportedError(
            f"NIR graph: needs exactly one top-level Input node, found {flat.inputs}",
            stage=STAGE,
            supported=(CHAIN,),
        )
    out: list[Segment] = []
    visited = {flat.inputs[0]}
    cur = flat.inputs[0]
    while True:
        fwd = [d for d in flat.targets(cur) if d not in flat.outputs]
        if out:
            last = out[-1]
            out[-1] = Segment(last.source, last.maps, cur, _loops(flat, cur, fwd))
        if len(fwd) > 1:
            raise refuse(flat, cur, f"feeds {fwd} (a branch); {CHAIN}")
        if not fwd:
            break
        out.append(_next(flat, cur, fwd[0], visited))
        visited.update(out[-1].maps)
        visited.add(out[-1].neuron)
        cur = out[-1].neuron
    if not out:
        raise UnsupportedError(
            f"NIR graph: the Input '{flat.inputs[0]}' feeds no neuron; {CHAIN}",
            stage=STAGE,
            supported=(CHAIN,),
        )
    on_loops = {m for s in out for m in (s.recurrent or ())}
    off = [k for k in flat.nodes if k not in visited | on_loops and k not in flat.outputs]
    if off:
        raise refuse(flat, off[0], f"is not on the chain from the Input (off the chain: {off})")
    return out


def _returns(flat: Flat, src: str, neuron: str) -> bool:
    """Whether ``src`` lies on a map path that starts at ``neuron`` (its own cycle)."""
    seen, cur = set(), src
    while cur not in seen and kind(flat.nodes[cur]) in MAP_TYPES:
        seen.add(cur)
        srcs = flat.sources(cur)
        if len(srcs) != 1:
            return False
        cur = srcs[0]
    return cur == neuron
