"""snnTorch -> float IR (``from_snntorch``): the IR reproduces every spike the real package computes.

Hypothesis builds random snnTorch models (every neuron class, reset mechanism and reset_delay,
scalar / per-neuron thresholds, beta > 1, biases, graded spikes, linear / one-to-one / conv
recurrence, Sequential and tutorial-loop models, conv / BN / pool / flatten stacks), runs them in
snnTorch in float64 and requires every spike of every layer, shifted by the layer's latency.
snnTorch's surrogates emit float32 spikes, which a float64 ``nn.Linear`` rejects: the models use
the same step in the spikes' dtype (``STEP``); every other line of the neurons is snnTorch's.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import snntorch as snn
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from import_helpers import assert_exact, batchnorm, linear, one_thread, record, spike_input
from torch import nn

from lavabridge import ir
from lavabridge.errors import InputError, UnsupportedError
from lavabridge.importers.snntorch import from_snntorch, reset_state
from lavabridge.semantics import Reset

KINDS = ("Leaky", "Synaptic", "RLeaky", "RSynaptic")


def STEP(z: torch.Tensor) -> torch.Tensor:  # noqa: N802 - a spike function, like snnTorch's
    return (z > 0).to(z.dtype)


def is_neuron(m: nn.Module) -> bool:
    return isinstance(m, snn.SpikingNeuron)


class Loop(nn.Module):
    """Tutorial style: the forward loops over time and passes every neuron its state."""

    def __init__(self, pairs: list[tuple[nn.Module, nn.Module]]) -> None:
        super().__init__()
        self.fc = nn.ModuleList(p[0] for p in pairs)
        self.lif = nn.ModuleList(p[1] for p in pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inits = {"Leaky": "init_leaky", "Synaptic": "init_synaptic",
                 "RLeaky": "init_rleaky", "RSynaptic": "init_rsynaptic"}  # fmt: skip
        state = []
        for lif in self.lif:
            s = getattr(lif, inits[type(lif).__name__])()
            state.append(s if isinstance(s, tuple) else (s,))
        out = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, (fc, lif) in enumerate(zip(self.fc, self.lif, strict=True)):
                res = lif(fc(h), *state[i])
                h, state[i] = res[0], (res if hasattr(lif, "recurrent") else res[1:])
            out.append(h)
        return torch.stack(out)


def neuron(kind: str, n: int, shape: tuple[int, ...], rng: np.random.Generator, d: dict[str, Any],
           sequential: bool) -> nn.Module:  # fmt: skip
    """One snnTorch neuron of ``kind`` for ``n`` neurons of ``shape``, as drawn in ``d``."""
    beta = float(rng.uniform(0.0, 1.25))  # > 1: snnTorch clamps (a learned beta can get there)
    kw: dict[str, Any] = dict(spike_grad=STEP, init_hidden=sequential, reset_mechanism=d["reset"],
                              reset_delay=d["delay"], learn_beta=d["learn"])  # fmt: skip
    kw["beta"] = torch.full(shape, beta) if d["beta_tensor"] else beta
    th = rng.uniform(0.3, 1.5, shape) if d["per_neuron"] else rng.uniform(0.3, 1.5)
    kw["threshold"] = torch.as_tensor(th)
    if kind in ("Synaptic", "RSynaptic"):
        kw["alpha"] = float(rng.uniform(0.0, 1.1))
    if kind in ("RLeaky", "RSynaptic"):
        if d["rec"] == "linear":
            kw.update(linear_features=n)
        elif d["rec"] == "conv":
            kw.update(conv2d_channels=d["channels"], kernel_size=d["rec_k"])
        else:
            v = rng.uniform(-0.6, 0.6, n if d["rec"] == "vector" else ())
            kw.update(all_to_all=False, V=torch.as_tensor(v))
        if kind == "RSynaptic":
            kw["reset_delay"] = True  # RSynaptic(reset_delay=False) raises: test_rsynaptic_no_delay
    m = getattr(snn, kind)(**kw)
    if hasattr(m, "recurrent") and isinstance(m.recurrent, (nn.Linear, nn.Conv2d)):
        with torch.no_grad():
            m.recurrent.weight.uniform_(-0.5, 0.5)
            m.recurrent.bias.uniform_(-0.2, 0.2)
    if d["graded"]:
        m.graded_spikes_factor = torch.as_tensor(float(rng.uniform(0.4, 2.0)))
    return m


@st.composite
def neuron_draw(draw: st.DrawFn, conv: bool = False) -> dict[str, Any]:
    rec = st.sampled_from(["conv", "scalar"] if conv else ["linear", "scalar", "vector"])
    return dict(kind=draw(st.sampled_from(KINDS)), reset=draw(st.sampled_from(["zero", "subtract", "none"])),
                delay=draw(st.booleans()), per_neuron=draw(st.booleans()), beta_tensor=draw(st.booleans()),
                learn=draw(st.booleans()), graded=draw(st.booleans()), rec=draw(rec),
                rec_k=draw(st.sampled_from([1, 3])))  # fmt: skip


@st.composite
def dense_models(draw: st.DrawFn) -> tuple[nn.Module, torch.Tensor, bool]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    widths = [draw(st.integers(1, 12)) for _ in range(draw(st.integers(1, 3)) + 1)]
    sequential = draw(st.booleans())
    pairs = []
    for n_in, n in pairwise(widths):
        d = draw(neuron_draw())
        lin = linear(n_in, n, rng, draw(st.booleans()))
        pairs.append((lin, neuron(d["kind"], n, (n,), rng, d, sequential)))
    model = nn.Sequential(*[m for p in pairs for m in p]) if sequential else Loop(pairs)
    x = spike_input(seed, (draw(st.integers(4, 16)), draw(st.integers(1, 3)), widths[0]))
    return model.double(), x, sequential


def check(model: nn.Module, x: torch.Tensor, per_step: bool = True) -> ir.Graph:
    with one_thread():
        graph = from_snntorch(model, x)
        source = record(model, x, per_step=per_step, is_neuron=is_neuron, reset=reset_state)
        assert_exact(graph, x, source)
    return graph


@settings(max_examples=200, deadline=None, derandomize=True)
@given(dense_models())
def test_dense_models_spike_exact(case: tuple[nn.Module, torch.Tensor, bool]) -> None:
    model, x, sequential = case
    check(model, x, per_step=sequential)


@st.composite
def conv_models(draw: st.DrawFn) -> tuple[nn.Module, torch.Tensor]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(3, 7)), draw(st.integers(3, 7))
    c1, k, s, p = (draw(st.integers(a, b)) for a, b in ((1, 3), (1, 3), (1, 2), (0, 1)))
    conv = nn.Conv2d(c, c1, k, s, p, bias=draw(st.booleans()))
    with torch.no_grad():
        conv.weight.uniform_(-0.4, 1.0)
    mods: list[nn.Module] = [conv]
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if draw(st.booleans()):
        mods.append(batchnorm(nn.BatchNorm2d(c1)))
    if min(ho, wo) >= 2 and draw(st.booleans()):
        mods.append(nn.AvgPool2d(2))  # conv -> pool: one strided conv
        ho, wo = ho // 2, wo // 2
    d = draw(neuron_draw(conv=True))
    shape = (c1, ho, wo) if d["per_neuron"] else (c1, 1, 1)  # per neuron, or per channel
    d["channels"] = c1
    mods.append(neuron(d["kind"], c1 * ho * wo, shape, rng, d, True))
    tail = draw(st.sampled_from(["linear", "pool-linear", "pool", "conv"]))
    if tail.startswith("pool") and min(ho, wo) >= 2:
        pad = draw(st.integers(0, 1))
        mods.append(nn.AvgPool2d(2, padding=pad))
        ho, wo = (ho + 2 * pad) // 2, (wo + 2 * pad) // 2
    if tail == "conv":
        mods.append(nn.Conv2d(c1, 2, 1))
        c1 = 2
    flat = tail not in ("pool", "conv") or is_neuron(mods[-1])
    if flat:  # Flatten -> Linear (after a pool: one Dense W P)
        mods += [nn.Flatten(), linear(c1 * ho * wo, n := draw(st.integers(1, 8)), rng, True)]
        ho, wo, c1 = 1, 1, n
    d2 = draw(neuron_draw())
    d2["rec"] = "conv" if d2["rec"] != "scalar" and not flat else d2["rec"]
    d2["channels"] = c1
    shape2 = (c1,) if flat else (c1, ho, wo)
    mods.append(neuron(d2["kind"], c1 * ho * wo, shape2 if d2["per_neuron"] else (), rng, d2, True))
    model = nn.Sequential(*mods).double().eval()
    return model, spike_input(seed, (draw(st.integers(4, 10)), 2, c, h, w))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(conv_models())
def test_conv_models_spike_exact(case: tuple[nn.Module, torch.Tensor]) -> None:
    check(*case)


def leaky(**kw: Any) -> snn.Leaky:
    return snn.Leaky(**{"beta": 0.5, "spike_grad": STEP, "init_hidden": True, **kw})


def weights(lin: nn.Linear, w: list[list[float]]) -> nn.Linear:
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w))
    return lin


def test_subtract_no_delay_quirk() -> None:
    """interop.md 1.1: beta=0.5, theta=1, currents 2.6, 0.5, 0 -> spikes 1, 0, 0 (mem 1.6 then
    1.3 > theta, yet no spike: the test subtracts theta once more)."""
    lif = leaky(reset_mechanism="subtract", reset_delay=False)
    model = nn.Sequential(weights(nn.Linear(2, 1, bias=False), [[2.6, 0.5]]), lif).double()
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 0.0]], [[0.0, 0.0]]], dtype=torch.float64)
    graph = check(model, x)
    assert graph.layer_chain()[0].neuron.reset == Reset.SUBTRACT_GUARDED
    src = record(model, x, per_step=True, is_neuron=is_neuron, reset=reset_state)[0]
    assert src[0, :3, 0].tolist() == [1, 0, 0]
    plain = graph.with_(nodes={**graph.nodes, "1": graph.nodes["1"].with_(reset=Reset.SUBTRACT)})
    assert ir.interpret(plain, x.transpose(0, 1).numpy()).spikes[0][0, 1:4, 0].tolist() == [1, 1, 0]


def test_per_neuron_threshold() -> None:
    lin = nn.Linear(4, 3)
    model = nn.Sequential(lin, leaky(threshold=torch.tensor([0.5, 1.0, 2.0]))).double()
    graph = check(model, spike_input(1, (30, 2, 4), 0.6))
    layer = graph.layer_chain()[0]
    assert layer.neuron.threshold == 2.0
    w = lin.weight.detach().numpy() * np.array([4.0, 2.0, 1.0])[:, None]
    np.testing.assert_allclose(layer.synapse.weight, w, rtol=1e-15)
    np.testing.assert_allclose(
        layer.synapse.bias, lin.bias.detach().numpy() * [4, 2, 1], rtol=1e-15
    )


def test_graded_spikes_factor() -> None:
    l1, l2 = nn.Linear(3, 4), nn.Linear(4, 2)
    model = nn.Sequential(l1, leaky(graded_spikes_factor=2.5), l2, leaky()).double()
    graph = check(model, spike_input(2, (30, 2, 3), 0.6))
    np.testing.assert_allclose(
        graph.layer_chain()[1].synapse.weight, 2.5 * l2.weight.detach().numpy()
    )


@pytest.mark.parametrize(("beta", "decay"), [(1.5, 0.0), (-0.25, 1.0), (0.75, 0.25)])
def test_learned_beta_clamped(beta: float, decay: float) -> None:
    model = nn.Sequential(nn.Linear(3, 3), leaky(beta=beta, learn_beta=True)).double()
    assert float(model[1].beta) == beta  # stored raw; the forward clamps it to [0, 1]
    graph = check(model, spike_input(3, (30, 2, 3), 0.6))
    assert graph.layer_chain()[0].neuron.voltage_decay == decay


class Tutorial(nn.Module):
    """snnTorch tutorial 5's network: explicit mem, a loop over the input's time steps."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(6, 5), snn.Leaky(beta=0.9, spike_grad=STEP)
        self.fc2, self.lif2 = nn.Linear(5, 3), snn.Synaptic(alpha=0.8, beta=0.7, spike_grad=STEP)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.init_leaky()
        syn2, mem2 = self.lif2.init_synaptic()
        spk_rec = []
        for step in range(x.size(0)):
            spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spk_rec.append(spk2)
        return torch.stack(spk_rec)


def test_tutorial_loop_model() -> None:
    model = Tutorial().double()
    with torch.no_grad():
        model.fc1.weight.mul_(3.0)
        model.fc2.weight.mul_(3.0)
    graph = check(model, spike_input(4, (25, 3, 6), 0.5), per_step=False)
    assert [ly.name for ly in graph.layer_chain()] == ["lif1", "lif2"]
    assert [ly.synapse_name for ly in graph.layer_chain()] == ["fc1", "fc2"]
    assert graph.layer_chain()[1].neuron.current_decay == pytest.approx(0.2)


class Wrapped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(8, 6), leaky(beta=0.8), nn.Dropout(0.3),
                                 nn.Linear(6, 2), leaky(beta=0.9, output=True))  # fmt: skip

    def forward(self, x: torch.Tensor) -> Any:
        return self.net(x)


def test_sequential_init_hidden_model() -> None:
    model = Wrapped().double().eval()
    graph = check(model, spike_input(5, (20, 2, 2, 4), 0.5))
    assert [ly.name for ly in graph.layer_chain()] == ["net.2", "net.5"]
    assert graph.latencies() == (1, 2)
    assert [ly.neuron.bias_start for ly in graph.layer_chain()] == [1, 2]


class RSynLoop(nn.Module):
    """RSynaptic(reset_delay=False) runs only with full-shape states passed in; its immediate
    reset then updates a local variable: the dynamics are reset_delay=True's."""

    def __init__(self, mech: str) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.lif = snn.RSynaptic(0.6, 0.8, linear_features=3, reset_mechanism=mech,
                                 reset_delay=False, spike_grad=STEP)  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = [torch.zeros(x.shape[1], 3, dtype=x.dtype) for _ in range(3)]
        out = []
        for t in range(x.shape[0]):
            state = list(self.lif(self.fc(x[t]), *state))
            out.append(state[0])
        return torch.stack(out)


@pytest.mark.parametrize(
    ("mech", "reset"), [("zero", Reset.ZERO_NEXT), ("subtract", Reset.SUBTRACT_NEXT)]
)
def test_rsynaptic_no_delay(mech: str, reset: Reset) -> None:
    model = RSynLoop(mech).double()
    with torch.no_grad():
        model.fc.weight.mul_(3.0)
    graph = check(model, spike_input(6, (30, 2, 4), 0.5), per_step=False)
    assert graph.layer_chain()[0].neuron.reset == reset


def test_linear_maps_compose() -> None:
    """Leaky -> AvgPool2d -> Flatten -> Linear is one Dense W P; Conv2d -> AvgPool2d one strided
    Conv2d; Conv2d -> BatchNorm one Conv2d; AvgPool2d before a neuron the IR's AvgPool2d."""
    conv, lin = nn.Conv2d(1, 2, 3, padding=1), nn.Linear(2 * 2 * 2, 3)  # 16x16 -> 8, 4, 2
    model = nn.Sequential(conv, nn.BatchNorm2d(2), nn.AvgPool2d(2), leaky(), nn.AvgPool2d(2),
                          leaky(threshold=0.2), nn.AvgPool2d(2), nn.Flatten(), lin, leaky())  # fmt: skip
    model[1].running_mean.fill_(0.1)
    with torch.no_grad():
        conv.weight.mul_(4.0)
    model = model.double().eval()
    graph = check(model, spike_input(7, (20, 2, 1, 16, 16), 0.6))
    s0, s1, s2 = (ly.synapse for ly in graph.layer_chain())
    assert isinstance(s0, ir.Conv2d) and s0.stride == (2, 2) and s0.weight.shape == (2, 1, 4, 4)
    assert isinstance(s1, ir.AvgPool2d) and isinstance(s2, ir.Dense)
    assert [ly.synapse_name for ly in graph.layer_chain()] == ["0+1+2", "4", "6+8"]
    a = np.kron(np.eye(2), np.ones((1, 2))) / 2  # one axis: 4 -> 2
    pool = np.kron(np.eye(2), np.kron(a, a))  # 2 channels of 4x4 -> 2x2, C-major
    np.testing.assert_allclose(s2.weight, lin.weight.detach().numpy() @ pool, atol=1e-15)


def test_float32_model_default_surrogate() -> None:
    """The model as trained (float32, atan surrogate): its float32 spikes, graded included."""
    model = nn.Sequential(nn.Linear(5, 6), snn.Leaky(0.8, init_hidden=True, graded_spikes_factor=1.3),
                          nn.Linear(6, 3), snn.Synaptic(0.5, 0.9, init_hidden=True))  # fmt: skip
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    check(model, spike_input(8, (30, 4, 5), 0.5).float())


def _loop_bntt() -> nn.Module:
    class BNTT(Tutorial):
        def __init__(self) -> None:
            super().__init__()
            self.bn = snn.BatchNormTT1d(5, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mem = self.lif1.init_leaky()
            for step in range(x.size(0)):
                _, mem = self.lif1(self.bn[step](self.fc1(x[step])), mem)
            return mem

    return BNTT().eval()


class Doubler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(16, 3), leaky()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(2 * self.fc(x))


REFUSED = {
    "1 (MaxPool2d)": lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), leaky()),
    "inhibition": lambda: nn.Sequential(nn.Linear(16, 3), leaky(inhibition=True)),
    "state_quant": lambda: nn.Sequential(nn.Linear(16, 3), leaky(state_quant=lambda m: m)),
    "bn (BatchNormTT)": _loop_bntt,
    "1 (ReLU): unknown module": lambda: nn.Sequential(nn.Linear(16, 3), nn.ReLU(), leaky()),
    "0 (Leaky): a neuron needs a linear map": lambda: nn.Sequential(leaky(), nn.Linear(16, 3), leaky()),
    "spike_grad": lambda: nn.Sequential(nn.Linear(16, 3), leaky(spike_grad=torch.sigmoid)),
    "per-neuron beta": lambda: nn.Sequential(nn.Linear(16, 2), leaky(beta=torch.tensor([0.5, 0.7]))),
    "2 (Linear): a linear map after the last neuron": lambda: nn.Sequential(nn.Linear(16, 3), leaky(), nn.Linear(3, 1)),
    "0 (AvgPool2d): ceil_mode": lambda: nn.Sequential(nn.AvgPool2d(3, ceil_mode=True), nn.Flatten(), nn.Linear(4, 2), leaky()),
    "dropout in training mode": lambda: nn.Sequential(nn.Linear(16, 3), nn.Dropout(0.5), leaky()).train(),
    "1 (Alpha): unsupported neuron": lambda: nn.Sequential(nn.Linear(16, 3), snn.Alpha(0.9, 0.8, init_hidden=True)),
    "lif (Leaky): does not receive the output of fc (Linear)": Doubler,
    "threshold": lambda: nn.Sequential(nn.Linear(16, 3), leaky(threshold=-1.0)),
    "BatchNorm must directly follow": lambda: nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 1, 1), leaky()).eval(),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:Inhibition")
@pytest.mark.parametrize("message", list(REFUSED))
def test_refused(message: str) -> None:
    x = spike_input(9, (4, 2, 1, 4, 4), 0.7)
    with pytest.raises(UnsupportedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_snntorch(
            REFUSED[message](), x if "Pool" in message or "BatchNorm" in message else x.flatten(2)
        )


def test_input_must_be_spikes() -> None:
    with pytest.raises(InputError, match="spikes"):
        from_snntorch(nn.Sequential(nn.Linear(2, 2), leaky()), torch.full((3, 1, 2), 0.5))
