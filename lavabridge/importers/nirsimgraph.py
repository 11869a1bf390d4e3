"""The structure of a NIR graph for :mod:`lavabridge.importers.nirsim`: nested graphs
flattened, and the evaluation order with one delayed edge per cycle (conventions in that
module's docstring)."""

from __future__ import annotations

from typing import Any

import nir

from lavabridge.errors import InputError

Edge = tuple[str, str]
Flat = tuple[dict[str, Any], list[Edge], dict[str, str]]  # nodes, edges, aliases


def _resolve(graph: Any, name: str, prefix: str, kind: type) -> str:
    """The flat name an edge endpoint ``name`` of ``graph`` stands for (``kind``: Input/Output)."""
    node = graph.nodes.get(name)
    if isinstance(node, nir.NIRGraph):
        ends = [k for k, v in node.nodes.items() if isinstance(v, kind)]
        if len(ends) != 1:
            what = (
                f"edge endpoint {prefix + name!r} is a subgraph with {kind.__name__} nodes {ends}"
            )
            raise InputError(f"{what}; name one of its nodes as '{name}.<node>'")
        return f"{prefix}{name}.{ends[0]}"
    if node is not None:
        return prefix + name
    head, _, rest = name.partition(".")
    if rest and isinstance(graph.nodes.get(head), nir.NIRGraph):
        return _resolve(graph.nodes[head], rest, f"{prefix}{head}.", kind)
    raise InputError(f"edge endpoint {prefix + name!r}: no such node")


def flatten_graph(graph: Any, prefix: str = "") -> Flat:
    """Flat ``(nodes, edges, aliases)``; aliases map a subgraph's name to its single Output."""
    items: list[tuple[str, Any]] = []
    edges: list[Edge] = []
    aliases: dict[str, str] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_aliases = flatten_graph(node, f"{prefix}{name}.")
            items += sub_nodes.items()
            edges += sub_edges
            aliases.update(sub_aliases)
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(outs) == 1:
                aliases[prefix + name] = f"{prefix}{name}.{outs[0]}"
        else:
            items.append((prefix + name, node))
    nodes = dict(items)
    if len(nodes) != len(items):
        raise InputError(f"node names collide once flattened: {sorted(n for n, _ in items)}")
    for src, dst in graph.edges:
        edges.append(
            (_resolve(graph, src, prefix, nir.Output), _resolve(graph, dst, prefix, nir.Input))
        )
    return nodes, edges, aliases


def _back_edges(names: list[str], edges: list[Edge], root: str) -> set[int]:
    """Indices of the edges that close a cycle: depth-first search from ``root`` (then from
    every unvisited node, in ``names`` order), following edges in list order; an edge into a
    node on the current DFS path closes one."""
    succ = _successors(names, edges)
    on_path: dict[str, bool] = {}  # visited node -> still on the DFS path
    back: set[int] = set()
    for start in [root, *names]:
        if start in on_path:
            continue
        on_path[start] = True
        stack = [(start, iter(succ[start]))]
        while stack:
            nxt = next(stack[-1][1], None)
            if nxt is None:
                on_path[stack.pop()[0]] = False
            elif nxt[1] not in on_path:
                on_path[nxt[1]] = True
                stack.append((nxt[1], iter(succ[nxt[1]])))
            elif on_path[nxt[1]]:
                back.add(nxt[0])
    return back


def _successors(names: list[str], edges: list[Edge]) -> dict[str, list[tuple[int, str]]]:
    succ: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for i, (src, dst) in enumerate(edges):
        succ[src].append((i, dst))
    return succ


def schedule(
    names: list[str], edges: list[Edge], root: str, state: set[str]
) -> tuple[list[str], set[int]]:
    """An evaluation order and the indices of the delayed edges.

    Every cycle gets one delayed edge: the one :func:`_back_edges` finds closing it, or, where
    that edge enters a neuron (in ``state``), the cycle's edge leaving the neuron (so the maps
    on the cycle act on its previous step's spikes). The order is a topological order of the
    graph without the delayed edges (Kahn's algorithm, ties in ``names`` order).
    """
    back = _back_edges(names, edges, root)
    delayed = {_at_state(edges, back, i) if edges[i][1] in state else i for i in back}
    succ = _successors(names, edges)
    indeg = {n: 0 for n in names}
    for k, (_, dst) in enumerate(edges):
        indeg[dst] += k not in delayed
    order, ready = [], [n for n in names if indeg[n] == 0]
    while ready:
        order.append(node := ready.pop(0))
        for k, dst in succ[node]:
            if k not in delayed:
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    ready.append(dst)
    return order, delayed


def _at_state(edges: list[Edge], back: set[int], i: int) -> int:
    """The edge leaving ``v`` on the cycle that the back edge ``i`` (``u -> v``) closes."""
    u, v = edges[i]
    via: dict[str, int | None] = {v: None}
    queue = [v]
    while queue:
        n = queue.pop(0)
        for k, (src, dst) in enumerate(edges):
            if src == n and k not in back and dst not in via:
                via[dst] = k
                queue.append(dst)
    first, n = i, u
    while n != v and via.get(n) is not None:
        first = via[n]  # type: ignore[assignment]
        n = edges[first][0]
    return first
