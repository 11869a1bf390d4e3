"""Hypothesis strategies for random QGraphs over the full legal parameter ranges.

Scalars (decays, thresholds, exponents, sign modes, widths) are drawn by hypothesis, which favours
range boundaries; the weight and bias arrays come from a numpy generator seeded by hypothesis, with
a drawn distribution (full range, edge values only, sparse), so shrinking stays fast.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from lavabridge.quant import LOIHI2, InputKind, QCubaLIF, QDense, QGraph, QLayer, SignMode
from lavabridge.semantics import Compare, Reset

T = LOIHI2


def _weights(
    rng: np.random.Generator, shape: tuple[int, int], mode: SignMode, dist: str
) -> np.ndarray:
    lo, hi = T.weight_clip_range(mode)
    if dist == "edges":
        w = rng.choice(np.array([lo, lo + 1, 0, hi - 1, hi]), size=shape)
    elif dist == "sparse":
        w = rng.integers(lo, hi + 1, size=shape) * (rng.random(shape) < 0.2)
    else:
        w = rng.integers(lo, hi + 1, size=shape)
    return np.clip(w, lo, hi)


@st.composite
def qdense(draw: st.DrawFn, n_out: int, n_in: int, allow_delays: bool = True) -> QDense:
    mode = draw(st.sampled_from([SignMode.MIXED, SignMode.EXCITATORY, SignMode.INHIBITORY]))
    nwb_max = 9 if mode == SignMode.MIXED else 8
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dist = draw(st.sampled_from(["full", "edges", "sparse"]))
    delays = None
    if allow_delays and draw(st.booleans()):
        dmax = draw(st.sampled_from([1, 3, 8, T.max_delay]))
        delays = rng.integers(0, dmax + 1, size=(n_out, n_in))
    return QDense(
        weights=_weights(rng, (n_out, n_in), mode, dist),
        weight_exp=draw(st.integers(*T.weight_exp_range)),
        num_weight_bits=draw(st.integers(1, nwb_max)),
        sign_mode=mode,
        delays=delays,
    )


@st.composite
def qneuron(draw: st.DrawFn, size: int) -> QCubaLIF:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias_kind = draw(st.sampled_from(["none", "small", "full"]))
    if bias_kind == "none":
        bm = np.zeros(size, np.int64)
    elif bias_kind == "small":
        bm = rng.integers(-64, 65, size=size)
    else:
        bm = rng.integers(T.bias_mant_range[0], T.bias_mant_range[1] + 1, size=size)
    return QCubaLIF(
        size=size,
        du=draw(st.integers(*T.du_range)),
        dv=draw(st.integers(*T.dv_range)),
        vth=draw(st.one_of(st.integers(0, 1000), st.integers(*T.vth_range))),
        bias_mant=bm,
        bias_exp=rng.integers(T.bias_exp_range[0], T.bias_exp_range[1] + 1, size=size),
        reset=draw(st.sampled_from([Reset.ZERO, *Reset])),  # Lava's LIF, or FlexLIF's kinds
        compare=draw(st.sampled_from([Compare.GT, Compare.GT, Compare.GE])),
        bias_start=draw(st.sampled_from([0, 0, 1, 2, 5])),
    )


@st.composite
def qgraphs(
    draw: st.DrawFn,
    max_layers: int = 3,
    max_width: int = 64,
    input_kind: InputKind | None = None,
) -> QGraph:
    """Random valid QGraphs: 1..max_layers layers, widths 1..max_width, recurrent or not."""
    kind = input_kind or draw(st.sampled_from([InputKind.SPIKES, InputKind.SPIKES, InputKind.BIAS]))
    n_layers = draw(st.integers(1, max_layers))
    n_in = draw(st.integers(1, max_width))
    layers = []
    prev = n_in
    for i in range(n_layers):
        bias_input = kind == InputKind.BIAS and i == 0
        size = n_in if bias_input else draw(st.integers(1, max_width))
        neuron = draw(qneuron(size))
        if bias_input:
            neuron = QCubaLIF(
                size, neuron.du, neuron.dv, neuron.vth, bias_exp=neuron.bias_exp,
                reset=neuron.reset, compare=neuron.compare,
            )  # fmt: skip
        synapse = None if bias_input else draw(qdense(size, prev))
        recurrent = draw(qdense(size, size)) if draw(st.booleans()) else None
        layers.append(QLayer(f"l{i}", neuron, synapse, recurrent))
        prev = size
    return QGraph(n_in, tuple(layers), input_kind=kind, name="hyp")


@st.composite
def graph_and_input(
    draw: st.DrawFn,
    max_layers: int = 3,
    max_width: int = 64,
    max_batch: int = 3,
    max_steps: int = 24,
) -> tuple[QGraph, np.ndarray, int]:
    """A random graph with a matching input batch and T."""
    g = draw(qgraphs(max_layers, max_width))
    x, steps = draw(input_for(g, max_batch, max_steps))
    return g, x, steps


@st.composite
def input_for(draw: st.DrawFn, g: QGraph, max_batch: int, max_steps: int) -> tuple[np.ndarray, int]:
    """An input batch for ``g`` (spikes at a drawn rate, or bias mantissas over the full range)
    and its number of steps."""
    B = draw(st.integers(1, max_batch))
    steps = draw(st.integers(1, max_steps))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if g.input_kind == InputKind.SPIKES:
        rate = draw(st.sampled_from([0.05, 0.3, 0.9]))
        return (rng.random((B, steps, g.n_in)) < rate).astype(np.int8), steps
    lo, hi = T.bias_mant_range
    return rng.integers(lo, hi + 1, size=(B, g.n_in)), steps
