"""SpikingJelly -> float IR (``from_spikingjelly``): the IR reproduces every spike the package computes.

Hypothesis builds random ``activation_based`` models (IFNode / LIFNode / ParametricLIFNode,
decay_input, hard reset to 0 or to any float, soft reset, thresholds, biases, BatchNorm after
Linear / Conv2d, avg pooling, flatten, ``layer.*`` or ``torch.nn`` modules or
``SeqToANNContainer``, single-step ``'s'`` and multi-step ``'m'``, train and eval mode), runs
them in SpikingJelly in float64 on random spikes and requires ``ir.interpret`` of the imported
graph to give every spike of every layer at every step, shifted by the layer's latency.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from import_helpers import assert_exact, batchnorm, linear, one_thread, record, spike_input
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

from lavabridge import ir
from lavabridge.errors import InputError, UnsupportedError
from lavabridge.importers.spikingjelly import _is_neuron, from_spikingjelly, reset_state
from lavabridge.semantics import Compare, Reset

KINDS = ("IFNode", "LIFNode", "ParametricLIFNode")


def node(kind: str, rng: np.random.Generator, d: dict[str, Any]) -> nn.Module:
    """One SpikingJelly neuron as drawn in ``d`` (reset, decay_input), parameters from ``rng``."""
    v_reset = {"none": None, "zero": 0.0, "float": float(rng.uniform(-0.5, 0.5))}[d["reset"]]
    v_th = float(rng.uniform(0.3, 1.5)) + (v_reset or 0.0)
    kw: dict[str, Any] = dict(v_threshold=v_th, v_reset=v_reset, detach_reset=d["detach"])
    if kind == "LIFNode":
        kw.update(tau=float(rng.uniform(1.2, 5.0)), decay_input=d["decay_input"])
    elif kind == "ParametricLIFNode":
        kw.update(init_tau=float(rng.uniform(1.2, 5.0)), decay_input=d["decay_input"])
    return getattr(neuron, kind)(**kw)


@st.composite
def node_draw(draw: st.DrawFn) -> dict[str, Any]:
    return dict(kind=draw(st.sampled_from(KINDS)), reset=draw(st.sampled_from(["zero", "float", "none"])),
                decay_input=draw(st.booleans()), detach=draw(st.booleans()))  # fmt: skip


def maps(mods: list[nn.Module], style: str, mode: str) -> list[nn.Module]:
    """``mods`` (torch.nn) as the model holds them: plain or as ``layer.*`` twins; in 'm', the
    plain ones in a ``SeqToANNContainer``."""
    if mode == "m" and style != "layer":
        return [layer.SeqToANNContainer(*mods)]
    if style == "plain":
        return mods
    twins = []
    for m in mods:
        twin = getattr(layer, type(m).__name__)
        new = twin.__new__(twin)
        new.__dict__.update(m.__dict__)
        new.step_mode = mode
        twins.append(new)
    return twins


def finish(
    mods: list[nn.Module], mode: str, train: bool, x: torch.Tensor
) -> tuple[nn.Module, torch.Tensor, bool]:
    model = nn.Sequential(*mods).double()
    functional.set_step_mode(model, mode)
    model.train(train)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model, x, mode == "s"


@st.composite
def dense_models(draw: st.DrawFn) -> tuple[nn.Module, torch.Tensor, bool]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    widths = [draw(st.integers(1, 12)) for _ in range(draw(st.integers(1, 3)) + 1)]
    mode, style = draw(st.sampled_from("sm")), draw(st.sampled_from(["plain", "layer"]))
    mods: list[nn.Module] = []
    for n_in, n in pairwise(widths):
        d = draw(node_draw())
        lin = linear(n_in, n, rng, draw(st.booleans()))
        with torch.no_grad():
            lin.weight.mul_(3.0 if d["decay_input"] and d["kind"] != "IFNode" else 1.0)
        bn = [batchnorm(nn.BatchNorm1d(n))] if draw(st.booleans()) else []
        style_i = (
            "plain" if bn and mode == "m" else style
        )  # layer.BatchNorm1d 'm' wants [T, N, C, L]
        mods += [*maps([lin, *bn], style_i, mode), node(d["kind"], rng, d)]
    x = spike_input(seed, (draw(st.integers(4, 16)), draw(st.integers(1, 3)), widths[0]))
    return finish(mods, mode, draw(st.booleans()), x)


def check(model: nn.Module, x: torch.Tensor, per_step: bool = True) -> ir.Graph:
    with one_thread():
        graph = from_spikingjelly(model, x)
        source = record(model, x, per_step=per_step, is_neuron=_is_neuron, reset=reset_state)
        assert_exact(graph, x, source)
    return graph


@settings(max_examples=200, deadline=None, derandomize=True)
@given(dense_models())
def test_dense_models_spike_exact(case: tuple[nn.Module, torch.Tensor, bool]) -> None:
    check(*case)


@st.composite
def conv_models(draw: st.DrawFn) -> tuple[nn.Module, torch.Tensor, bool]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(3, 7)), draw(st.integers(3, 7))
    c1, k, s, p = (draw(st.integers(a, b)) for a, b in ((1, 3), (1, 3), (1, 2), (0, 1)))
    mode, style = draw(st.sampled_from("sm")), draw(st.sampled_from(["plain", "layer"]))
    conv = nn.Conv2d(c, c1, k, s, p, bias=draw(st.booleans()))
    with torch.no_grad():
        conv.weight.uniform_(-0.4, 1.2)
    first: list[nn.Module] = [conv]
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if draw(st.booleans()):
        first.append(batchnorm(nn.BatchNorm2d(c1)))
    if min(ho, wo) >= 2 and draw(st.booleans()):
        first.append(nn.AvgPool2d(2))  # conv -> pool: one strided conv
        ho, wo = ho // 2, wo // 2
    mods = [*maps(first, style, mode), node((d := draw(node_draw()))["kind"], rng, d)]
    tail = draw(st.sampled_from(["linear", "pool-linear", "pool", "conv"]))
    second: list[nn.Module] = []
    if tail.startswith("pool") and min(ho, wo) >= 2:
        pad = draw(st.integers(0, 1))
        second.append(nn.AvgPool2d(2, padding=pad))
        ho, wo = (ho + 2 * pad) // 2, (wo + 2 * pad) // 2
    if tail == "conv":
        second.append(nn.Conv2d(c1, 2, 1))
    if tail not in ("pool", "conv") or not second:  # Flatten -> Linear (after a pool: W P)
        second += [nn.Flatten(), linear(c1 * ho * wo, draw(st.integers(1, 8)), rng, True)]
    mods += [*maps(second, style, mode), node((d := draw(node_draw()))["kind"], rng, d)]
    x = spike_input(seed, (draw(st.integers(4, 10)), 2, c, h, w))
    return finish(mods, mode, draw(st.booleans()), x)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(conv_models())
def test_conv_models_spike_exact(case: tuple[nn.Module, torch.Tensor, bool]) -> None:
    check(*case)


def seq(*mods: nn.Module, mode: str = "s") -> nn.Module:
    model = nn.Sequential(*mods)
    functional.set_step_mode(model, mode)
    return model


@pytest.mark.parametrize("mode", ["s", "m"])
def test_ge_at_equality(mode: str) -> None:
    """interop.md 2.3: IF, w = 0.5, theta = 1, x = 1 1 0 1 1 1 -> S = 0 1 0 0 1 0 (0.5 + 0.5 = 1
    fires: >=); the IR compares >= on the same float sums."""
    model = seq(layer.Linear(1, 1, bias=False), neuron.IFNode(), mode=mode).double()
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    x = torch.tensor([1.0, 1, 0, 1, 1, 1, 0]).reshape(7, 1, 1).double()
    graph = check(model, x, per_step=mode == "s")
    src = record(model, x, per_step=mode == "s", is_neuron=_is_neuron, reset=reset_state)[0]
    assert src[0, :6, 0].tolist() == [0, 1, 0, 0, 1, 0]
    assert graph.layer_chain()[0].neuron.compare == Compare.GE


def test_soft_reset_fires_every_step() -> None:
    """interop.md 2.1: IF soft reset, x = .6 .6 .6 2.5 0 -> S = 0 1 0 1 1 (v stays >= theta)."""
    model = nn.Sequential(nn.Linear(2, 1, bias=False), neuron.IFNode(v_reset=None)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.6, 2.5]]))
    x = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0]]).reshape(6, 1, 2).double()
    graph = check(model, x)
    assert graph.layer_chain()[0].neuron.reset == Reset.SUBTRACT
    assert record(model, x, per_step=True, is_neuron=_is_neuron, reset=reset_state)[0][
        0, :5, 0
    ].tolist() == [0, 1, 0, 1, 1]


@pytest.mark.parametrize("decay_input", [True, False])
def test_lif_tau_and_v_reset(decay_input: bool) -> None:
    lif = neuron.LIFNode(tau=2.0, decay_input=decay_input, v_threshold=0.5, v_reset=-0.5)
    model = nn.Sequential(nn.Linear(3, 4), lif).double()
    with torch.no_grad():
        model[0].weight.mul_(4.0)
    layer0 = check(model, spike_input(1, (30, 2, 3), 0.6)).layer_chain()[0]
    assert layer0.neuron.voltage_decay == 0.5 and layer0.neuron.threshold == 1.0  # v_th - v_reset
    scale = 0.5 if decay_input else 1.0
    np.testing.assert_array_equal(layer0.synapse.weight, scale * model[0].weight.detach().numpy())


def test_parametric_lif_decay() -> None:
    plif = neuron.ParametricLIFNode(init_tau=3.0)
    model = nn.Sequential(nn.Linear(3, 4), plif).double()
    with torch.no_grad():
        plif.w.fill_(0.3)
        model[0].weight.mul_(4.0)
    layer0 = check(model, spike_input(2, (30, 2, 3), 0.6)).layer_chain()[0]
    assert layer0.neuron.voltage_decay == pytest.approx(1 / (1 + np.exp(-0.3)), rel=1e-15)


def test_batchnorm_folded_into_conv_seq_to_ann_m_mode() -> None:
    conv, bn = nn.Conv2d(1, 3, 3, padding=1), batchnorm(nn.BatchNorm2d(3))
    model = nn.Sequential(layer.SeqToANNContainer(conv, bn), neuron.IFNode(), layer.Flatten(),
                          layer.Linear(3 * 5 * 5, 2), neuron.LIFNode())  # fmt: skip
    model = model.double().eval()
    functional.set_step_mode(model, "m")
    graph = check(model, spike_input(3, (12, 2, 1, 5, 5), 0.5), per_step=False)
    syn = graph.layer_chain()[0].synapse
    assert isinstance(syn, ir.Conv2d) and graph.layer_chain()[0].synapse_name == "0.0+0.1"
    a = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    np.testing.assert_allclose(
        syn.weight, conv.weight.detach().numpy() * a[:, None, None, None], rtol=1e-14
    )
    b = (
        (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps))
        .detach()
        .numpy()
    )
    np.testing.assert_allclose(syn.bias, b + a * conv.bias.detach().numpy(), rtol=1e-14)
    assert [ly.name for ly in graph.layer_chain()] == ["1", "4"]


REFUSED = {
    "1 (IFNode): its surrogate function does not emit spikes": lambda: seq(
        nn.Linear(16, 3), neuron.IFNode(surrogate_function=surrogate.ATan(spiking=False))),
    "1 (MaxPool2d): max pooling": lambda: seq(layer.Conv2d(1, 2, 3), layer.MaxPool2d(2), neuron.IFNode()),
    "1 (QIFNode): unsupported neuron": lambda: seq(nn.Linear(16, 3), neuron.QIFNode()),
    "0 (BatchNorm1d): a BatchNorm must directly follow": lambda: seq(nn.BatchNorm1d(16), nn.Linear(16, 3), neuron.IFNode()).eval(),
    "1 (ReLU): unknown module": lambda: seq(nn.Linear(16, 3), nn.ReLU(), neuron.IFNode()),
    "1 (MultiStepContainer)": lambda: seq(layer.SeqToANNContainer(nn.Linear(16, 3)), layer.MultiStepContainer(neuron.IFNode())),
    "1 (IFNode): v_threshold - v_reset": lambda: seq(nn.Linear(16, 3), neuron.IFNode(v_threshold=0.2, v_reset=0.5)),
    "1 (Dropout): dropout in training mode": lambda: seq(nn.Linear(16, 3), layer.Dropout(0.5), neuron.IFNode()).train(),
    "0 (SeqToANNContainer): neurons in step modes": lambda: seq(layer.SeqToANNContainer(nn.Linear(16, 3)), neuron.IFNode()),
    "1 (BatchNorm1d): BatchNorm must be in eval mode": lambda: seq(nn.Linear(16, 3), nn.BatchNorm1d(3), neuron.IFNode()).train(),
    "2 (Linear): a linear map after the last neuron": lambda: seq(nn.Linear(16, 3), neuron.IFNode(), nn.Linear(3, 1)),
    "0 (Conv2d): only symmetric zero padding": lambda: seq(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), neuron.IFNode()),
    "0 (Conv2d): only symmetric": lambda: seq(nn.Conv2d(1, 1, 2, padding="same"), neuron.IFNode()),
    "0 (AvgPool2d) -> 2 (Linear): needs a dense 1100x4096 matrix": lambda: seq(nn.AvgPool2d(1), nn.Flatten(), nn.Linear(4096, 1100), neuron.IFNode()),
    "1 (IFNode): called twice in one time step": lambda: seq(nn.Linear(16, 3), node := neuron.IFNode(), nn.Linear(3, 3), node),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("message", list(REFUSED))
def test_refused(message: str) -> None:
    side = 64 if "dense" in message else 4
    x = spike_input(4, (4, 2, 1, side, side), 0.7)
    with pytest.raises(UnsupportedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_spikingjelly(
            REFUSED[message](), x if "Pool" in message or "Conv" in message else x.flatten(2)
        )


def test_input_must_be_spikes() -> None:
    with pytest.raises(InputError, match="spikes"):
        from_spikingjelly(seq(nn.Linear(2, 2), neuron.IFNode()), torch.full((3, 1, 2), 0.5))
