"""The float IR (or a QGraph's dequantized values) as a NIR graph, exactly.

:func:`write_nir` inverts :func:`lavabridge.importers.nir.read_nir`: every layer is written with
``v_reset = 0``, one ``v_threshold`` and the input gain 1, so ``read_nir(write_nir(g, dt), dt)
== g`` node for node, bit for bit, for every graph ``read_nir`` makes. Per IR layer (``a`` =
current_decay, ``b`` = voltage_decay, ``theta``, ``beta`` = its bias)::

    a = 1, b = 0      IF(r = 1/dt, v_threshold = theta); beta joins the map's bias
    a = b = 1, exp    Threshold(theta); beta joins the map's bias (v = I every step)
    a = 1, b > 0      LIF(tau: k(tau) = b, r = 1/b, v_leak = beta / b, v_threshold = theta)
    a < 1             CubaLIF(tau_syn: k = a, tau_mem: k = b, w_in = 1/a, r = 1/b,
                              v_leak = beta / b, v_threshold = theta)

each value chosen among the floats nearest the quotient so that ``read_nir``'s arithmetic gives
back ``a``, ``b``, the gain 1 and ``beta`` exactly. Synapses: a Dense is an ``Affine`` (``Linear``
without bias) after a ``Flatten`` where its source is an image, with a ``Delay`` before it
when it has delays (NIR delays each source element: one delay per column); Conv2d, SumPool2d,
AvgPool2d are themselves. The graph's metadata states ``lavabridge.dt``,
``lavabridge.discretisation``, ``lavabridge.reset`` (each neuron node its own too) and the
graph's name; a ``bias_start`` other than the layer's latency (a model trained in lavabridge,
whose biases act from step 0) is stated in ``lavabridge.bias_start``; a NIR simulator starts
every bias at step 0 of its own time, i.e. with the layer's first input.

Refused, naming the layer: a bias-input graph, resets other than ``zero`` / ``subtract``, the
``>=`` compare (NIR compares ``v > v_threshold``), per-synapse delays, a bias an IF layer's
map cannot hold, a convolution on a population NIR holds flat, recurrence on an image population.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.errors import UnsupportedError
from lavabridge.formats.nir import (
    META,
    Discretisation,
    check_dt,
    factor,
    nir_package,
    parse_discretisation,
    tau_of,
)
from lavabridge.ir.spatial import ungrouped
from lavabridge.quant.dequantize import dequantize
from lavabridge.quant.qgraph import QGraph
from lavabridge.semantics import Compare, InputKind, Reset

F64 = npt.NDArray[np.float64]
STAGE = "NIR writer"


def solve(
    f: Callable[[F64], F64], target: npt.ArrayLike, guess: npt.ArrayLike, ulps: int = 8
) -> F64:
    """``x`` within ``ulps`` floats of ``guess`` with ``f(x) == target`` exactly (elementwise;
    the nearest ``f(x)`` where none is)."""
    shape = np.shape(target)
    want = np.atleast_1d(np.asarray(target, np.float64)).ravel()
    best = np.array(np.broadcast_to(np.asarray(guess, np.float64), shape)).reshape(want.shape)
    with np.errstate(invalid="ignore"):
        err = np.abs(f(best) - want)
    up, down = best.copy(), best.copy()
    for _ in range(ulps):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        for cand in (up, down):
            with np.errstate(invalid="ignore"):
                e = np.abs(f(cand) - want)
            better = e < err
            best[better], err[better] = cand[better], e[better]
    return best.reshape(shape)


def _refuse(layer: str, problem: str, supported: tuple[str, ...] = ()) -> UnsupportedError:
    return UnsupportedError(f"layer '{layer}': {problem}", node=layer, stage=STAGE,
                            supported=supported)  # fmt: skip


class _Writer:
    def __init__(self, graph: ir.Graph, dt: float, disc: Discretisation) -> None:
        nir = nir_package()

        self.nir, self.graph, self.dt, self.disc = nir, graph, dt, disc
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, node: Any, src: str) -> str:
        while name in self.nodes:
            name = f"{name}_"
        self.nodes[name] = node
        self.edges.append((src, name))
        return name

    # ------------------------------------------------------------------ neurons
    def neuron(self, ly: ir.ChainLayer, shape: tuple[int, ...]) -> tuple[Any, F64]:
        """The NIR neuron of ``ly`` and the bias its map must carry (IF)."""
        n = ly.neuron
        if not isinstance(n, ir.CubaLIF):
            raise _refuse(ly.name, f"a {n.kind} has no NIR neuron", ("CubaLIF",))
        if n.compare != Compare.GT:
            raise _refuse(ly.name, "compare '>=': NIR's neurons fire on v > v_threshold")
        if n.reset not in (Reset.ZERO, Reset.SUBTRACT):
            raise _refuse(ly.name, f"reset {n.reset.value!r}: NIR's reset is same-step "
                          "'zero' or 'subtract'", ("zero", "subtract"))  # fmt: skip
        a, b, dt, disc = float(n.current_decay), float(n.voltage_decay), self.dt, self.disc
        full = lambda v: np.full(shape, v, np.float64)  # noqa: E731
        meta = {META["reset"]: n.reset.value}
        th, zero, beta = full(n.threshold), full(0.0), np.asarray(n.bias, np.float64).reshape(shape)
        one = lambda k: float(solve(lambda x: k * x, 1.0, 1.0 / k)[()])  # noqa: E731
        if a == 1.0 and b == 0.0:
            node = self.nir.IF(r=full(one(dt)), v_threshold=th, v_reset=zero, metadata=meta)
            return node, beta.ravel()
        if a == 1.0 and b == 1.0 and disc == Discretisation.EXP:  # no leak factor 1 under exp
            return self.nir.Threshold(th, metadata=meta), beta.ravel()
        if b == 0.0 or a == 0.0 or (b == 1.0 and disc == Discretisation.EXP):
            raise _refuse(ly.name, f"current_decay {a:g}, voltage_decay {b:g}: no NIR neuron "
                          f"has this step factor ({disc.value}; tau would be 0 or infinite)")  # fmt: skip
        tau = lambda k: float(solve(lambda t: factor(t, dt, disc), k, tau_of(k, dt, disc))[()])  # noqa: E731
        leak = solve(lambda x: b * x, beta, beta / b)
        if a == 1.0:
            node = self.nir.LIF(tau=full(tau(b)), r=full(one(b)), v_leak=leak, v_threshold=th,
                                v_reset=zero, metadata=meta)  # fmt: skip
        else:
            node = self.nir.CubaLIF(tau_syn=full(tau(a)), tau_mem=full(tau(b)), r=full(one(b)),
                                    v_leak=leak, v_threshold=th, v_reset=zero, w_in=full(one(a)),
                                    metadata=meta)  # fmt: skip
        return node, np.zeros(int(np.prod(shape)))

    # ------------------------------------------------------------------ synapses
    def synapse(self, ly: ir.ChainLayer, name: str, syn: ir.Synapse, src: str,
                src_shape: tuple[int, ...], extra: F64) -> str:  # fmt: skip
        """Write ``syn`` (with ``extra`` added to its bias) after ``src``; the last node's name."""
        nir = self.nir
        if isinstance(syn, ir.Dense):
            if syn.delay is not None and np.any(syn.delay):
                d = np.asarray(syn.delay)
                if not np.all(d == d[:1]):
                    raise _refuse(ly.name, f"synapse '{name}' has per-synapse delays: NIR's Delay "
                                  "delays each source element (one delay per column)")  # fmt: skip
                delay = (d[0] * self.dt).reshape(src_shape).astype(np.float64)
                src = self.add(f"{name}.delay", nir.Delay(delay), src)
            if len(src_shape) > 1:
                ft = {"input": np.array(src_shape)}
                src = self.add(f"{name}.flatten", nir.Flatten(ft, start_dim=0, end_dim=-1), src)
            bias = None if syn.bias is None else np.asarray(syn.bias, np.float64)
            if np.any(extra):
                bias = extra if bias is None else bias + extra
            w = np.asarray(syn.weight, np.float64)
            node = nir.Linear(w) if bias is None else nir.Affine(w, bias)
            return self.add(name, node, src)
        if len(src_shape) != 3:
            raise _refuse(ly.name, f"the {syn.kind} '{name}' reads a population NIR holds flat "
                          "(NIR has no reshape after an Affine)")  # fmt: skip
        return self.add(name, self.spatial(ly, name, syn, extra), src)

    def spatial(self, ly: ir.ChainLayer, name: str, syn: Any, extra: F64) -> Any:
        nir, geo = self.nir, syn.geometry
        hw = geo.out_shape[1] * geo.out_shape[2]
        per_channel = np.asarray(extra).reshape(geo.out_channels, hw)
        if np.any(extra) and (
            not isinstance(syn, ir.Conv2d) or np.any(per_channel != per_channel[:, :1])
        ):
            raise _refuse(ly.name, f"an IF layer's bias must ride on its map; the {syn.kind} "
                          f"'{name}' holds one value per channel at most")  # fmt: skip
        if isinstance(syn, ir.Conv2d):
            syn = ungrouped(syn)
            bias = (
                np.zeros(geo.out_channels) if syn.bias is None else np.asarray(syn.bias, np.float64)
            )
            return nir.Conv2d(input_shape=tuple(syn.in_shape[1:]), weight=np.asarray(syn.weight, np.float64),
                              stride=syn.stride, padding=syn.padding, dilation=syn.dilation,
                              groups=syn.groups, bias=bias + per_channel[:, 0])  # fmt: skip
        cls = nir.AvgPool2d if isinstance(syn, ir.AvgPool2d) else nir.SumPool2d
        return cls(kernel_size=np.array(syn.kernel_size), stride=np.array(geo.stride),
                   padding=np.array(syn.padding))  # fmt: skip

    # ------------------------------------------------------------------ graph
    def build(self) -> Any:
        g, nir = self.graph, self.nir
        inp = g.nodes[g.input_name]
        if not isinstance(inp, ir.Input) or inp.mode != InputKind.SPIKES:
            raise _refuse(g.input_name, "a bias-input graph (graded input into the first neurons "
                          "without a synapse) has no NIR form here", ("spike input",))  # fmt: skip
        chain = g.layer_chain()
        first = getattr(chain[0].synapse, "in_shape", None)
        shape: tuple[int, ...] = tuple(first) if first is not None else (g.input_size,)
        self.nodes[g.input_name] = nir.Input({"input": np.array(shape)})
        src, starts, resets = g.input_name, {}, set()
        for i, ly in enumerate(chain):
            out_shape = g.shape_of(ly.name) or (ly.size,)
            neuron, extra = self.neuron(ly, out_shape)
            assert ly.synapse is not None  # spike input: every layer has a synapse
            last = self.synapse(ly, ly.synapse_name, ly.synapse, src, shape, extra)
            self.nodes[ly.name] = neuron
            self.edges.append((last, ly.name))
            if ly.recurrent is not None:
                if len(out_shape) > 1:
                    raise _refuse(ly.name, "a recurrent synapse on an image population: NIR "
                                  "has no reshape from the recurrent Affine back to its shape")  # fmt: skip
                rec = self.synapse(ly, ly.recurrent_name or f"{ly.name}.recurrent", ly.recurrent,
                                   ly.name, out_shape, np.zeros(ly.size))  # fmt: skip
                self.edges.append((rec, ly.name))
            if int(getattr(ly.neuron, "bias_start", 0)) != i + 1:
                starts[ly.name] = int(getattr(ly.neuron, "bias_start", 0))
            resets.add(ly.neuron.reset.value)  # type: ignore[attr-defined]
            src, shape = ly.name, out_shape
        out = "output" if "output" not in self.nodes else "output_"
        self.nodes[out] = nir.Output({"output": np.array(shape)})
        self.edges.append((src, out))
        meta: dict[str, Any] = {META["dt"]: self.dt, META["discretisation"]: self.disc.value,
                                META["name"]: g.name, META["writer"]: "lavabridge"}  # fmt: skip
        if len(resets) == 1:
            meta[META["reset"]] = resets.pop()
        if starts:
            meta[META["bias_start"]] = starts
        try:
            return nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=meta)
        except ValueError as exc:  # nir's type inference: shapes that do not chain
            raise UnsupportedError(f"graph '{g.name}': nir refuses the graph ({exc})",
                                   stage=STAGE) from exc  # fmt: skip


def to_nir(
    model: ir.Graph | QGraph, dt: float, *, discretisation: Discretisation | str = "euler"
) -> Any:
    """``model`` as a ``nir.NIRGraph`` (module docstring); a QGraph is written with its
    dequantized values (:func:`lavabridge.quant.dequantize.dequantize`)."""
    graph = dequantize(model) if isinstance(model, QGraph) else model
    if not isinstance(graph, ir.Graph):
        raise UnsupportedError(f"write_nir: a float IR Graph or a QGraph, got {type(model).__name__}",
                               stage=STAGE)  # fmt: skip
    return _Writer(graph, check_dt(dt), parse_discretisation(discretisation)).build()


def write_nir(
    model: ir.Graph | QGraph,
    path: str | os.PathLike[str],
    dt: float,
    *,
    discretisation: Discretisation | str = "euler",
) -> Any:
    """Write ``model`` to the NIR file ``path`` (``nir.write``, gzip); returns the graph."""
    nir = nir_package()

    graph = to_nir(model, dt, discretisation=discretisation)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nir.write(out, graph)
    return graph
