"""The NIR graph's own run, node by node: a literal float64 interpreter of a ``nir.NIRGraph``.

It is the reference that lavabridge's NIR importer (which folds NIR parameters into its own IR)
is checked against, so it is written straight from NIR's equations and uses nothing of lavabridge
but :mod:`lavabridge.errors`. NIR leaves time, dt, the discretisation and the reset open
(interop.md §3.2); the conventions fixed here are:

Time
    ``x`` is time-major ``[T, B, *input_shape]`` (per-step values, usually 0/1 spikes), fed to the
    single top-level ``Input``. At step ``t`` every node is evaluated once, in a topological order.
    Every cycle carries one step of delay (zeros at ``t=0``): a depth-first search from the
    ``Input`` (then from any node not reached, following edges in list order) finds the edge
    closing it; where that edge enters a neuron, the delay sits on the cycle's edge *leaving* the
    neuron instead, so the maps on the cycle act in the same step on the previous step's spikes
    (a recurrent ``Affine``'s bias is there from step 0, as in snnTorch's ``RLeaky``). All other
    edges are instantaneous. A node gets the sum of its incoming
    edges (a duplicated edge counts twice). Neuron state is per sample (batch axis).
Nesting
    Nested ``NIRGraph`` nodes are flattened first (recursively) and named ``"sub.node"``. An edge
    to (from) a subgraph's name goes to its single ``Input`` (from its single ``Output``); an
    edge may also address ``"sub.node"`` directly. A literal node name (which may itself contain
    dots, as nirtorch writes them) wins over that reading. The subgraph's own ``Input``/``Output``
    pass values through, and the subgraph's name is also reported, as its ``Output``'s value.
Decay
    ``k(tau) = dt / tau`` (``discretisation="euler"``) or ``k(tau) = 1 - exp(-dt / tau)``
    (``"exp"``); ``k`` outside ``(0, 1]`` is refused.
Nodes (shapes exclude batch; parameters broadcast to the node's input shape)
    * ``Input``, ``Output``: ``y = x``.
    * ``Affine``: ``y = x @ W.T + b``; ``Linear``: ``y = x @ W.T``; ``Scale``: ``y = s * x``.
    * ``Flatten(start_dim, end_dim)``: ``torch.flatten`` over the dims without batch (0 = first
      non-batch dim; negative dims count from the end).
    * ``Conv1d``/``Conv2d``: ``torch.nn.functional.conv1d``/``conv2d`` in float64 on ``(B, C, ...)``
      with the node's stride, padding (int, pair, ``'same'``, ``'valid'``), dilation, groups, bias.
    * ``SumPool2d``: window sums (a depthwise ones-kernel conv2d, zero padding);
      ``AvgPool2d``: ``avg_pool2d(count_include_pad=True)``.
    * ``Delay(delay)``: ``y[t] = x[t - d]``, ``d = delay / dt`` per element (0 before the start);
      ``d`` must be a non-negative integer within 1e-9 relative.
    * ``Threshold(threshold)``: ``y = (x > threshold)`` as 0/1.
    * ``LIF``: ``b = k(tau)``; ``v = v + b (v_leak - v + r I)``; ``z = v > v_threshold``; where ``z``:
      ``v = v_reset`` (``reset="zero"``) or ``v = v - (v_threshold - v_reset)`` (``"subtract"``).
      Output ``z``. ``v`` starts at ``v_reset`` (NIR stores no initial state).
    * ``IF``: ``v = v + dt r I`` (no decay factor), then threshold and reset as LIF; ``v0 = v_reset``.
    * ``CubaLIF``: ``a = k(tau_syn)``, ``b = k(tau_mem)``; ``i = i + a (w_in I - i)``, then
      ``v = v + b (v_leak - v + r i)`` with this step's ``i`` (Euler order A), then threshold and
      reset as LIF. ``i`` starts at 0, ``v`` at ``v_reset``.
    * ``LI``: ``v = v + b (v_leak - v + r I)``; ``CubaLI``: the CubaLIF update without threshold;
      ``I``: ``v = v + dt r I``. Output ``v``; ``v`` (and ``i``) start at 0 (not at ``v_leak``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray

from lavabridge.errors import InputError, UnsupportedError
from lavabridge.importers.nirsimgraph import flatten_graph, schedule

__all__ = ["run_nir"]

Array = NDArray[np.float64]
Step = Callable[[Array], Array]
Edge = tuple[str, str]
Flat = tuple[dict[str, Any], list[Edge], dict[str, str]]  # nodes, edges, aliases

RESETS = ("zero", "subtract")
DISCRETISATIONS = ("euler", "exp")


def _f64(value: Any) -> Array:
    return np.asarray(value, dtype=np.float64)


def _ints(value: Any, n: int) -> tuple[int, ...]:
    """``value`` (int, sequence or numpy array) as an ``n``-tuple of ints."""
    flat = [int(v) for v in np.atleast_1d(np.asarray(value)).ravel()]
    return tuple(flat * n) if len(flat) == 1 else tuple(flat)


def _broadcast(name: str, key: str, value: Array, shape: tuple[int, ...]) -> Array:
    """``value`` broadcast to a node's per-sample input shape, or InputError naming both."""
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        msg = f"node {name!r}: {key}: shape {value.shape} does not broadcast to the input {shape}"
    raise InputError(msg)


# --- stateless nodes: y = f(node, x) ----------------------------------------------------------
def _flatten(node: Any, v: Array) -> Array:
    nd = v.ndim - 1  # dims without batch
    s, e = int(node.start_dim) % nd, int(node.end_dim) % nd
    return v.reshape(*v.shape[: 1 + s], int(np.prod(v.shape[1 + s : 2 + e])), *v.shape[2 + e :])


def _conv(node: Any, v: Array) -> Array:
    n = 2 if isinstance(node, nir.Conv2d) else 1
    padding = node.padding.decode() if isinstance(node.padding, bytes) else node.padding
    padding = padding if isinstance(padding, str) else _ints(padding, n)
    b = None if node.bias is None else torch.tensor(_f64(node.bias))
    stride, dilation = _ints(node.stride, n), _ints(node.dilation, n)
    conv = F.conv2d if n == 2 else F.conv1d
    W, xt = torch.tensor(_f64(node.weight)), torch.tensor(v)
    return conv(xt, W, b, stride, padding, dilation, int(node.groups)).numpy()


def _pool(node: Any, v: Array) -> Array:
    k, s, p = _ints(node.kernel_size, 2), _ints(node.stride, 2), _ints(node.padding, 2)
    xt = torch.tensor(v)
    if isinstance(node, nir.AvgPool2d):
        return F.avg_pool2d(xt, k, s, p, count_include_pad=True).numpy()
    ones = torch.ones((xt.shape[1], 1, *k), dtype=torch.float64)  # SumPool2d: depthwise ones
    return F.conv2d(xt, ones, None, s, p, 1, xt.shape[1]).numpy()


_STATELESS: dict[type, Callable[[Any, Array], Array]] = {
    nir.Input: lambda node, v: v,
    nir.Output: lambda node, v: v,
    nir.Affine: lambda node, v: v @ _f64(node.weight).T + _f64(node.bias),
    nir.Linear: lambda node, v: v @ _f64(node.weight).T,
    nir.Scale: lambda node, v: _f64(node.scale) * v,
    nir.Threshold: lambda node, v: (v > _f64(node.threshold)).astype(np.float64),
    nir.Flatten: _flatten,
    nir.Conv1d: _conv,
    nir.Conv2d: _conv,
    nir.SumPool2d: _pool,
    nir.AvgPool2d: _pool,
}


# --- stateful nodes ----------------------------------------------------------------------------
class _Delay:
    """``y[t] = x[t - d]`` per element, ``d = round(delay / dt)``; zeros before the start."""

    def __init__(self, name: str, node: Any, dt: float) -> None:
        delay = _f64(node.delay)
        self.name, self.steps, self.history = name, np.round(delay / dt), list[Array]()
        if np.any(delay < 0) or np.any(np.abs(delay - self.steps * dt) > 1e-9 * np.abs(delay)):
            msg = f"delay {delay.tolist()} is not a non-negative integer multiple of dt={dt}"
            raise InputError(f"node {name!r} (Delay): {msg} (within 1e-9 relative)")

    def __call__(self, v: Array) -> Array:
        self.history.append(v)
        t, d = len(self.history) - 1, _broadcast(self.name, "delay", self.steps, v.shape[1:])
        y = np.zeros_like(v)
        for s in np.unique(d).astype(int):
            if t - s >= 0:
                y = np.where(d == s, self.history[t - s], y)
        return y


# kind -> (has a synaptic current i, leaky, spiking)
_NEURONS: dict[type, tuple[bool, bool, bool]] = {
    nir.LIF: (False, True, True),
    nir.IF: (False, False, True),
    nir.CubaLIF: (True, True, True),
    nir.LI: (False, True, False),
    nir.CubaLI: (True, True, False),
    nir.I: (False, False, False),
}


def _decay(name: str, field: str, tau: Any, dt: float, discretisation: str) -> Array:
    """``k(tau) = dt / tau`` (euler) or ``1 - exp(-dt / tau)`` (exp), checked to lie in (0, 1]."""
    tau = _f64(tau)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = dt / tau if discretisation == "euler" else 1.0 - np.exp(-dt / tau)
    if not np.all((k > 0) & (k <= 1)):
        got = f"got {np.asarray(k).tolist()} (dt={dt}, {field}={tau.tolist()})"
        raise InputError(f"node {name!r}: {field}: decay factor k must lie in (0, 1]; {got}")
    return k


class _Neuron:
    """One of LIF, IF, CubaLIF, LI, CubaLI, I (equations in the module docstring)."""

    def __init__(self, name: str, node: Any, dt: float, reset: str, discretisation: str) -> None:
        self.name, self.dt, self.reset = name, dt, reset
        self.cuba, self.leaky, self.spiking = _NEURONS[type(node)]
        p: dict[str, Any] = {"r": node.r}
        if self.leaky:
            tau_field = "tau_mem" if self.cuba else "tau"
            p["b"] = _decay(name, tau_field, getattr(node, tau_field), dt, discretisation)
            p["v_leak"] = node.v_leak
        if self.cuba:
            p["a"] = _decay(name, "tau_syn", node.tau_syn, dt, discretisation)
            p["w_in"] = node.w_in
        if self.spiking:
            p["v_threshold"] = node.v_threshold
            p["v_reset"] = 0.0 if getattr(node, "v_reset", None) is None else node.v_reset
        self.p = {key: _f64(value) for key, value in p.items()}
        self.v: Array | None = None  # state [B, *shape], set at the first step
        self.i: Array = np.zeros(())

    def __call__(self, x: Array) -> Array:
        if self.v is None:  # broadcast the parameters to the input shape; initial state
            self.p = {k: _broadcast(self.name, k, v, x.shape[1:]) for k, v in self.p.items()}
            self.v = np.zeros(x.shape) + (self.p["v_reset"] if self.spiking else 0.0)
            self.i = np.zeros(x.shape)
        p, current = self.p, x  # current: I, the node's input
        if self.cuba:
            self.i = self.i + p["a"] * (p["w_in"] * x - self.i)
            current = self.i
        if self.leaky:
            self.v = self.v + p["b"] * (p["v_leak"] - self.v + p["r"] * current)
        else:
            self.v = self.v + self.dt * p["r"] * current
        if not self.spiking:
            return self.v.copy()
        z = self.v > p["v_threshold"]
        if self.reset == "zero":
            self.v = np.where(z, p["v_reset"], self.v)
        else:
            self.v = np.where(z, self.v - (p["v_threshold"] - p["v_reset"]), self.v)
        return z.astype(np.float64)


SUPPORTED = sorted(t.__name__ for t in [*_STATELESS, *_NEURONS, nir.Delay])


def _make(name: str, node: Any, dt: float, reset: str, discretisation: str) -> Step:
    kind = type(node)
    if kind in _STATELESS:
        return functools.partial(_STATELESS[kind], node)
    if kind in _NEURONS:
        return _Neuron(name, node, dt, reset, discretisation)
    if kind is nir.Delay:
        return _Delay(name, node, dt)
    raise UnsupportedError(
        f"node {name!r}: NIR {kind.__name__} is not supported here; supported: {SUPPORTED}",
        node=f"node {name!r} ({kind.__name__})",
        stage="NIR reference run (lavabridge.importers.nirsim)",
        supported=SUPPORTED,
    )


def _check_args(
    graph: Any, x: Array, dt: float, reset: str | Mapping[str, str], discretisation: str
) -> str:
    """Refuse bad options or input; return the top-level Input's name."""
    for value in reset.values() if isinstance(reset, Mapping) else [reset]:
        if value not in RESETS:
            raise InputError(f"reset must be one of {RESETS}; got {value!r}")
    if discretisation not in DISCRETISATIONS:
        raise InputError(f"discretisation must be one of {DISCRETISATIONS}; got {discretisation!r}")
    if not (np.isfinite(dt) and dt > 0):
        raise InputError(f"dt must be a finite number > 0; got {dt!r}")
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise InputError(f"the NIR graph needs exactly one top-level Input node; it has {inputs}")
    shape = graph.nodes[inputs[0]].input_type.get("input")
    if x.ndim < 2 or (shape is not None and tuple(np.asarray(shape).ravel()) != x.shape[2:]):
        want = f"the Input {inputs[0]!r}'s {None if shape is None else np.asarray(shape).tolist()}"
        raise InputError(f"x must be [T, B, *input_shape], input_shape {want}; got {x.shape}")
    return str(inputs[0])


def _node_input(name: str, node: Any, terms: list[Array], batch: int) -> Array:
    """The sum of a node's incoming values (zeros of its input_type if none has arrived)."""
    if not terms:
        shape = getattr(node, "input_type", {}).get("input")
        if shape is None:
            raise InputError(f"node {name!r} has no incoming value and no input_type to size zeros")
        return np.zeros((batch, *(int(s) for s in np.asarray(shape).ravel())))
    if len({term.shape for term in terms}) > 1:
        raise InputError(f"node {name!r}: incoming shapes differ: {[t.shape[1:] for t in terms]}")
    return np.sum(terms, axis=0) if len(terms) > 1 else terms[0]


def run_nir(
    graph: nir.NIRGraph | str | Path,
    x: ArrayLike,
    dt: float,
    *,
    reset: str | Mapping[str, str] = "zero",
    discretisation: str = "euler",
) -> dict[str, Array]:
    """Run a NIR graph step by step in float64 (conventions: module docstring).

    Parameters
    ----------
    graph : nir.NIRGraph or str or Path
        The graph, or a ``.nir`` file, read with ``nir.read(path, type_check=False)`` (NIR's type
        inference is not needed here and refuses valid graphs, e.g. a Conv2d with groups > 1).
    x : array_like
        Input ``[T, B, *input_shape]`` fed to the single top-level ``Input`` node.
    dt : float
        Time step (> 0): enters the decay factors, ``IF``/``I`` and ``Delay``.
    reset : {"zero", "subtract"} or mapping of node name to one of them
        Where ``z``: ``v = v_reset``, or ``v = v - (v_threshold - v_reset)`` (a mapping: per
        node, ``"zero"`` for the nodes it leaves out).
    discretisation : {"euler", "exp"}
        ``k(tau) = dt / tau`` or ``k(tau) = 1 - exp(-dt / tau)``.

    Returns
    -------
    dict of str to numpy.ndarray
        Every node's output at every step, ``name -> [T, B, *output_shape]`` float64; nested
        nodes as ``"sub.node"``, a subgraph's own name as its Output's value.
    """
    if isinstance(graph, str | Path):
        graph = nir.read(str(graph), type_check=False)
    xs = np.asarray(x, dtype=np.float64)
    root = _check_args(graph, xs, dt, reset, discretisation)
    nodes, edges, aliases = flatten_graph(graph)
    state = {n for n, node in nodes.items() if type(node) in _NEURONS}
    order, back = schedule(names := list(nodes), edges, root, state)
    if any(dst == root for _, dst in edges):
        raise InputError(f"the top-level Input {root!r} has incoming edges: {edges}")
    resets = reset if isinstance(reset, Mapping) else dict.fromkeys(names, reset)
    steps = {n: _make(n, nodes[n], float(dt), resets.get(n, "zero"), discretisation) for n in names}
    incoming = {n: [(s, i in back) for i, (s, d) in enumerate(edges) if d == n] for n in names}
    outputs: dict[str, list[Array]] = {n: [] for n in names}
    previous: dict[str, Array] = {}
    for t in range(xs.shape[0]):
        current: dict[str, Array] = {root: xs[t]}
        for n in order:
            if n != root:
                terms = [previous[s] if b else current[s] for s, b in incoming[n] if t or not b]
                current[n] = steps[n](_node_input(n, nodes[n], terms, xs.shape[1]))
            outputs[n].append(current[n])
        previous = current
    result = {n: np.stack(v).astype(np.float64) for n, v in outputs.items() if v}
    return result | {alias: result[target] for alias, target in aliases.items() if target in result}
