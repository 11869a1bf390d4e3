"""Hypothesis strategies for random conv QGraphs: conv / sum pool chains, then flatten -> dense.

Geometry is drawn over what issue 10 asks for: kernels 1-5, stride 1-3, padding 0-2 per axis (the
two axes independent), dilation 1-3, groups dividing both channel counts, 1-8 channels, inputs up
to 16x16, spike or bias (image) input; neurons over the full legal LIF ranges
(:func:`qgraph_strategies.qneuron`).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lavabridge.conv import out_size
from lavabridge.quant import LOIHI2, InputKind, QConv, QCubaLIF, QGraph, QLayer

from qgraph_strategies import input_for, qdense, qneuron

T = LOIHI2


def _axis(draw: st.DrawFn, size: int) -> tuple[int, int, int, int]:
    """(kernel, stride, padding, dilation) for one axis of ``size`` with an output >= 1."""
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    dil = draw(st.integers(1, 3))
    k_max = max(1, min(5, (size + 2 * pad - 1) // dil + 1))
    kernel = draw(st.integers(1, k_max))
    assert out_size(size, kernel, stride, pad, dil) >= 1
    return kernel, stride, pad, dil


@st.composite
def qconv(draw: st.DrawFn, in_shape: tuple[int, int, int], pool: bool = False) -> QConv:
    """A random conv (or a sum pool: depthwise ones) on ``in_shape``."""
    c_in, h, w = in_shape
    (kh, sh, ph, dh), (kw, sw, pw, dw) = _axis(draw, h), _axis(draw, w)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if pool:
        return QConv(np.ones((c_in, 1, kh, kw), np.int64), in_shape, (sh, sw), (ph, pw),
                     (1, 1), c_in)  # fmt: skip
    groups = draw(st.sampled_from([g for g in (1, 2, 4, 8) if c_in % g == 0]))
    c_out = groups * draw(st.integers(1, max(1, 8 // groups)))
    shape = (c_out, c_in // groups, kh, kw)
    dist = draw(st.sampled_from(["small", "full", "edges", "sparse"]))
    lo, hi = T.conv_weight_range
    if dist == "small":
        wt = rng.integers(-255, 256, size=shape)
    elif dist == "edges":
        wt = rng.choice(np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi]), size=shape)
    elif dist == "sparse":
        wt = rng.integers(lo, hi + 1, size=shape) * (rng.random(shape) < 0.2)
    else:
        wt = rng.integers(lo, hi + 1, size=shape)
    return QConv(wt, in_shape, (sh, sw), (ph, pw), (dh, dw), groups)


@st.composite
def conv_graphs(draw: st.DrawFn) -> QGraph:
    """Input -> 1..3 conv / sum-pool layers [-> flatten -> dense]; recurrent Dense sometimes."""
    kind = draw(st.sampled_from([InputKind.SPIKES, InputKind.SPIKES, InputKind.BIAS]))
    shape = (draw(st.integers(1, 8)), draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    layers: list[QLayer] = []
    n_in = int(np.prod(shape))
    if kind == InputKind.BIAS:
        n = draw(qneuron(n_in))
        layers.append(QLayer("in", QCubaLIF(n_in, n.du, n.dv, n.vth, bias_exp=n.bias_exp)))
    for i in range(draw(st.integers(1, 3))):
        syn = draw(qconv(shape, pool=draw(st.integers(0, 3)) == 0))
        shape = syn.out_shape
        size = int(np.prod(shape))
        rec = draw(qdense(size, size, allow_delays=False)) if size <= 64 and draw(
            st.integers(0, 4)) == 0 else None  # fmt: skip
        layers.append(QLayer(f"c{i}", draw(qneuron(size)), syn, rec))
    if draw(st.booleans()):
        size = int(np.prod(shape))
        n_out = draw(st.integers(1, 16))
        layers.append(QLayer("fc", draw(qneuron(n_out)), draw(qdense(n_out, size))))
    return QGraph(n_in, tuple(layers), input_kind=kind, name="conv-hyp")


@st.composite
def conv_graph_and_input(
    draw: st.DrawFn, max_batch: int = 2, max_steps: int = 12
) -> tuple[QGraph, np.ndarray, int]:
    """A random conv graph with a matching input batch and T."""
    g = draw(conv_graphs())
    x, steps = draw(input_for(g, max_batch, max_steps))
    return g, x, steps
