"""Hypothesis strategies for random NIR graphs, built with the real ``nir`` package.

Chains of 1-3 layers from a flat or an image input: ``Conv2d`` (kernels 1-3, stride 1-2,
padding 0-1), ``SumPool2d`` / ``AvgPool2d``, ``Conv2d`` then ``AvgPool2d``, ``Flatten``
then ``Affine`` / ``Linear`` (optionally a ``Scale`` after, a ``Delay`` before), into ``LIF``,
``CubaLIF``, ``IF`` or ``Threshold`` with random ``tau`` (``0 < dt/tau <= 1``), ``r``, ``v_leak``,
``v_threshold``, ``v_reset`` (per neuron, or one value), a recurrent cycle on flat layers, random
``dt``, discretisation and reset. ``deployable=True`` keeps to what the quantizer takes (no
bias into a CubaLIF's current, delays <= 62, small sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nir
import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class NirCase:
    graph: Any  # nir.NIRGraph
    dt: float
    reset: str
    discretisation: str
    x: np.ndarray  # time-major [T, B, *input_shape]


def _per(
    rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float, vary: bool
) -> np.ndarray:
    if vary:
        return rng.uniform(lo, hi, size=shape)
    return np.full(shape, rng.uniform(lo, hi))


def _neuron(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...], dt: float,
            disc: str, deployable: bool) -> tuple[Any, float, bool]:  # fmt: skip
    """(node, input gain per unit weight, whether a map bias may feed it)."""
    kind = draw(st.sampled_from(["LIF", "LIF", "CubaLIF", "IF", "Threshold"]))
    vary = draw(st.booleans())
    v_reset = _per(rng, shape, -0.5, 0.5, vary) if draw(st.booleans()) else np.zeros(shape)
    v_th = v_reset + _per(rng, shape, 0.3, 2.0, vary)
    r = _per(rng, shape, 0.5, 2.0, vary)

    def tau() -> tuple[np.ndarray, float]:
        k = draw(st.sampled_from([0.05, 0.1, 0.3, 0.5, 0.9, 1.0]))
        if disc == "exp":
            k = min(k, 0.95)
            t = -dt / np.log1p(-k)
        else:
            t = dt / k
        return np.full(shape, t), k

    if kind == "Threshold":
        return nir.Threshold(_per(rng, shape, 0.3, 2.0, vary)), 1.0, True
    if kind == "IF":
        return nir.IF(r=r, v_threshold=v_th, v_reset=v_reset), dt * float(r.mean()), True
    leak = v_reset + _per(rng, shape, -0.2, 0.3, vary) if draw(st.booleans()) else v_reset.copy()
    t_mem, b = tau()
    if kind == "LIF":
        node = nir.LIF(tau=t_mem, r=r, v_leak=leak, v_threshold=v_th, v_reset=v_reset)
        return node, b * float(r.mean()), True
    t_syn, a = tau()
    w_in = _per(rng, shape, 0.5, 2.0, vary)
    node = nir.CubaLIF(tau_syn=t_syn, tau_mem=t_mem, r=r, v_leak=leak, v_threshold=v_th,
                       v_reset=v_reset, w_in=w_in)  # fmt: skip
    return node, a * b * float(r.mean() * w_in.mean()), not deployable


def _conv_maps(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, int, int],
               name: str) -> tuple[list[tuple[str, Any]], tuple[int, int, int]]:  # fmt: skip
    c, h, w = shape
    op = draw(st.sampled_from(["conv", "conv", "sumpool", "avgpool", "conv+avgpool"]))
    out: list[tuple[str, Any]] = []
    if op in ("sumpool", "avgpool") and min(h, w) >= 2:
        cls = nir.SumPool2d if op == "sumpool" else nir.AvgPool2d
        out.append((name, cls(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0]))))  # fmt: skip
        return out, (c, h // 2, w // 2)
    k = draw(st.integers(1, min(3, h, w)))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    groups = 1  # nir 1.0.8's type inference takes weight.shape[1] as C_in (groups > 1 fails)
    c_out = draw(st.integers(1, 3))
    weight = rng.normal(0.6, 1.0, size=(c_out, c // groups, k, k))
    bias = rng.normal(0, 0.3, size=c_out) if draw(st.booleans()) else np.zeros(c_out)
    out.append((name, nir.Conv2d(input_shape=(h, w), weight=weight, stride=stride, padding=pad,
                                 dilation=1, groups=groups, bias=bias)))  # fmt: skip
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if op == "conv+avgpool" and min(ho, wo) >= 2:
        out.append((f"{name}.pool", nir.AvgPool2d(kernel_size=np.array([2, 2]),
                                                  stride=np.array([2, 2]), padding=np.array([0, 0]))))  # fmt: skip
        return out, (c_out, ho // 2, wo // 2)
    return out, (c_out, ho, wo)


def _dense_maps(draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...], dt: float,
                i: int) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:  # fmt: skip
    """[Delay] [Flatten] Affine|Linear [Scale] on ``shape``."""
    maps: list[tuple[str, Any]] = []
    n_in = int(np.prod(shape))
    if draw(st.integers(0, 3)) == 0:
        steps = rng.integers(0, 4, size=shape) if draw(st.booleans()) else np.full(shape, 2)
        maps.append((f"delay{i}", nir.Delay(steps * dt)))
    if len(shape) == 3:
        maps.append((f"flat{i}", nir.Flatten({"input": np.array(shape)}, start_dim=0, end_dim=-1)))
    n_out = draw(st.integers(1, 8))
    w = rng.normal(0.5, 1.0, size=(n_out, n_in))
    maps.append((f"fc{i}", nir.Affine(w, rng.normal(0, 0.3, n_out)) if draw(st.booleans())
                 else nir.Linear(w)))  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        maps.append((f"scale{i}", nir.Scale(rng.uniform(0.5, 1.5, n_out))))
    return maps, (n_out,)


@st.composite
def nir_case(draw: st.DrawFn, deployable: bool = False) -> NirCase:
    """A random NIR graph (module docstring) with its dt, reset, discretisation and an input."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = draw(st.sampled_from([1e-4, 1e-3, 0.25, 1.0]))
    disc, reset = (
        draw(st.sampled_from(["euler", "exp"])),
        draw(st.sampled_from(["zero", "subtract"])),
    )
    image = draw(st.booleans())
    shape: tuple[int, ...] = (draw(st.integers(1, 2)), draw(st.integers(3, 6)), draw(st.integers(3, 6))) \
        if image else (draw(st.integers(1, 8)),)  # fmt: skip
    nodes: dict[str, Any] = {"input": nir.Input({"input": np.array(shape)})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for i in range(draw(st.integers(1, 3))):
        maps: list[tuple[str, Any]] = []
        if len(shape) == 3 and draw(st.booleans()):
            maps, out_shape = _conv_maps(draw, rng, shape, f"conv{i}")  # type: ignore[arg-type]
        else:
            maps, out_shape = _dense_maps(draw, rng, shape, dt, i)
        neuron, gain, bias_ok = _neuron(draw, rng, out_shape, dt, disc, deployable)
        scale = 1.0 / max(gain, 1e-9) * draw(st.sampled_from([0.5, 1.0, 2.0]))
        for key, node in maps:
            if isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)):
                w = np.asarray(node.weight) * scale
                keep_bias = bias_ok and getattr(node, "bias", None) is not None
                b = np.asarray(node.bias) * scale if keep_bias else np.zeros(w.shape[0])
                if isinstance(node, nir.Conv2d):
                    node = nir.Conv2d(
                        node.input_shape,
                        w,
                        node.stride,
                        node.padding,
                        node.dilation,
                        node.groups,
                        b,
                    )
                else:
                    node = nir.Affine(w, b) if keep_bias else nir.Linear(w)
            nodes[key] = node
            edges.append((prev, key))
            prev = key
        name = f"n{i}"
        nodes[name] = neuron
        edges.append((prev, name))
        if len(out_shape) == 1 and draw(st.integers(0, 2)) == 0:
            n = out_shape[0]
            wr = rng.normal(0, 0.5, size=(n, n)) * scale
            nodes[f"rec{i}"] = nir.Linear(wr)
            edges += [(name, f"rec{i}"), (f"rec{i}", name)]
        prev, shape = name, out_shape
    nodes["output"] = nir.Output({"output": np.array(shape)})
    edges.append((prev, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    T, B = draw(st.integers(4, 10 if deployable else 14)), draw(st.integers(1, 2))
    in_shape = tuple(int(s) for s in graph.nodes["input"].input_type["input"])
    x = (rng.random((T, B, *in_shape)) < draw(st.sampled_from([0.2, 0.5]))).astype(np.float64)
    return NirCase(graph, dt, reset, disc, x)
