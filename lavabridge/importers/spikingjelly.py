"""SpikingJelly 0.0.0.0.14 (``activation_based``) -> the float IR, spike for spike: :func:`from_spikingjelly`.

SpikingJelly propagates within a time step; each neuron charges, fires, then resets in the same
step (``H[t]`` the charged voltage, ``x[t]`` its input)::

    IFNode                      H[t] = v[t-1] + x[t]
    LIFNode, decay_input=True   H[t] = v[t-1] + (x[t] - (v[t-1] - v_reset)) / tau
    LIFNode, decay_input=False  H[t] = v[t-1] - (v[t-1] - v_reset) / tau + x[t]
    ParametricLIFNode           as LIFNode with 1 / tau = sigmoid(w)
    S[t] = H[t] >= v_threshold
    v[t] = v_reset where S[t] (hard reset)   or   H[t] - v_threshold where S[t] (v_reset=None)

(``v_reset`` is 0 in the charge for ``v_reset=None``). With ``v~ = v - v_reset`` (initially 0,
the state SpikingJelly starts from and ``functional.reset_net`` restores) this is the IR's
CubaLIF with ``current_decay = 1``, compare ``>=`` and

==================  ==============  =====================  ===============================
neuron              voltage_decay   input gain             threshold, reset
==================  ==============  =====================  ===============================
IFNode              0               1                      hard: v_th - v_reset, ``zero``
LIFNode             1 / tau         1 / tau (decay_input)  v_reset=None: v_th, ``subtract``
ParametricLIFNode   sigmoid(w)      sigmoid(w) (idem)
==================  ==============  =====================  ===============================

(the input gain multiplies the incoming weights and biases). Linear maps between neurons
(``layer.Linear / Conv2d / AvgPool2d / BatchNorm / Flatten``, their ``torch.nn`` twins, inside
``layer.SeqToANNContainer`` or not) compose as :mod:`lavabridge.importers.torchlayers` says.
Layer ``i`` of the graph computes the model's layer ``i`` shifted by its latency ``i + 1``
steps (``Graph.latencies()``; its biases start there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from lavabridge import ir
from lavabridge.importers.torchlayers import Call, NeuronSpec, build, refuse, spikes, trace
from lavabridge.semantics import Compare, Reset

STAGE = "SpikingJelly importer"
SUPPORTED = ("IFNode", "LIFNode", "ParametricLIFNode")


def _sj() -> Any:
    """``spikingjelly.activation_based`` (imported when used: it loads lava-dl and torchvision)."""
    from spikingjelly import activation_based  # type: ignore[import-untyped]
    from spikingjelly.activation_based import functional, layer, neuron  # type: ignore[import-untyped]

    del functional, layer, neuron  # loaded as attributes of activation_based
    return activation_based


def _is_neuron(m: nn.Module) -> bool:
    return isinstance(m, _sj().neuron.BaseNode)


def reset_state(model: nn.Module) -> None:
    """Restore every neuron's initial state (``functional.reset_net``)."""
    _sj().functional.reset_net(model)


def _check_binary(c: Call) -> None:
    sf = c.module.surrogate_function
    probe = torch.tensor([-1.0, -1e-9, 0.0, 1e-9, 1.0], dtype=torch.float64)
    with torch.no_grad():
        out = torch.as_tensor(sf(probe)).double()
    spk = c.y.to(torch.float64)
    if (
        not getattr(sf, "spiking", True)
        or not torch.equal(out, (probe >= 0).double())
        or not bool(((spk == 0) | (spk == 1)).all())
    ):
        raise refuse(c.where, "its surrogate function does not emit spikes (spiking=False gives "
                     "graded values): use spiking=True", STAGE)  # fmt: skip


def _decay(c: Call) -> tuple[float, float]:
    """``(voltage_decay, input gain)`` of an IF / LIF / PLIF node."""
    sj, m = _sj(), c.module
    if type(m) is sj.neuron.IFNode:
        return 0.0, 1.0
    if type(m) is sj.neuron.ParametricLIFNode:
        k = float(torch.sigmoid(m.w.detach().cpu().to(torch.float64)))
    else:
        k = 1.0 / float(m.tau)
    if not 0.0 < k <= 1.0 or not math.isfinite(k):
        raise refuse(c.where, f"1/tau = {k}: must be in (0, 1]", STAGE)
    return k, (k if m.decay_input else 1.0)


def _neuron(c: Call, n: int) -> NeuronSpec:
    sj, m = _sj(), c.module
    if type(m) not in (sj.neuron.IFNode, sj.neuron.LIFNode, sj.neuron.ParametricLIFNode):
        raise refuse(c.where, f"unsupported neuron (supported: {', '.join(SUPPORTED)}; others "
                     "have no Loihi equivalent)", STAGE, SUPPORTED)  # fmt: skip
    _check_binary(c)
    v_th = torch.as_tensor(m.v_threshold).double()
    if v_th.numel() != 1:
        raise refuse(c.where, "v_threshold must be one float per layer", STAGE)
    hard = m.v_reset is not None
    th = float(v_th) - (float(m.v_reset) if hard else 0.0)
    if not th > 0:
        raise refuse(c.where, f"v_threshold - v_reset = {th} <= 0: the neuron would fire at rest",
                     STAGE)  # fmt: skip
    decay, gain = _decay(c)
    reset = Reset.ZERO if hard else Reset.SUBTRACT
    return NeuronSpec(1.0, decay, np.full(n, th), reset, Compare.GE, gain)


def _containers(model: nn.Module) -> None:
    sj = _sj()
    refused = (sj.layer.MultiStepContainer, sj.layer.ElementWiseRecurrentContainer,
               sj.layer.LinearRecurrentContainer)  # fmt: skip
    for path, m in model.named_modules():
        if isinstance(m, refused):
            raise refuse(f"{path} ({type(m).__name__})", "not supported: for multi-step use "
                         "step_mode='m' (functional.set_step_mode) or SeqToANNContainer; "
                         "recurrent containers have no IR equivalent", STAGE)  # fmt: skip


def from_spikingjelly(
    module: nn.Module, example_input: Any, *, name: str | None = None
) -> ir.Graph:
    """A SpikingJelly ``activation_based`` model as a float IR graph, spike for spike (equations
    in the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        Usually an ``nn.Sequential`` of ``layer`` modules and IF / LIF / ParametricLIF nodes.
        Every neuron in single-step mode (``'s'``): one call is one time step; otherwise
        (``functional.set_step_mode(net, 'm')``, ``SeqToANNContainer``) one call takes the
        whole ``[T, ...]`` input. BatchNorm must be in eval mode (``module.eval()``).
    example_input : tensor [T, B, *input_shape] or [T, *input_shape]
        Binary spikes, time-major; one run on them discovers the structure (forward hooks).
    name : str, optional
        The graph's name (default: the module's class name).

    Returns
    -------
    lavabridge.ir.Graph
        A chain; layer names are the neurons' module paths, synapse names the maps' paths.
        ``interpret(graph, x)`` at step ``t + graph.latencies()[i]`` equals the model's layer
        ``i`` at step ``t``, for input ``x`` ``[B, T, n_in]`` (the model's, flattened C-major).

    Raises
    ------
    InputError
        ``example_input`` is not binary spikes.
    UnsupportedError
        A module or setting without an exact IR equivalent (names the module path): other
        neuron types, ``surrogate(spiking=False)``, MaxPool, a BatchNorm not after a Linear /
        Conv2d, unknown modules, recurrent or multi-step containers.
    """
    x = spikes(example_input, STAGE)
    _containers(module)
    sj = _sj()
    modes = {getattr(m, "step_mode", "s") for m in module.modules() if _is_neuron(m)}
    seq = next(
        (p for p, m in module.named_modules() if isinstance(m, sj.layer.SeqToANNContainer)), None
    )
    if len(modes) > 1 or (modes == {"s"} and seq is not None):
        where = f"{seq} (SeqToANNContainer)" if len(modes) == 1 else "<model>"
        raise refuse(where, f"neurons in step modes {sorted(modes)}: use one step mode, 'm' with "
                     "a SeqToANNContainer (functional.set_step_mode)", STAGE)  # fmt: skip
    per_step = modes == {"s"}
    calls = trace(
        module, x, per_step=per_step, is_neuron=_is_neuron, reset=reset_state, stage=STAGE
    )
    return build(calls, is_neuron=_is_neuron, neuron_of=_neuron, name=name or type(module).__name__,
                 stage=STAGE, dropout=(sj.layer.Dropout,))  # fmt: skip
