"""snnTorch 1.0 -> the float IR, spike for spike: :func:`from_snntorch`.

snnTorch propagates within a time step and applies, per neuron and step ``t`` (``x[t]`` the
input current, ``R[t] = H(mem[t-1] - theta)`` on the stored membrane, ``H(z) = z > 0``)::

    Leaky     mem[t] = clamp(beta) mem[t-1] + x[t] (+ V(spk[t-1]) for RLeaky) - reset term
    Synaptic  syn[t] = clamp(alpha) syn[t-1] + x[t] (+ V(spk[t-1]) for RSynaptic)
              mem[t] = clamp(beta) mem[t-1] + syn[t] - reset term
    spk[t]  = H(mem[t] - theta) * graded_spikes_factor

which is the IR's CubaLIF with ``u = syn`` (``current_decay = 1 - clamp(alpha, 0, 1)``, 1 for
Leaky), ``v = mem`` (``voltage_decay = 1 - clamp(beta, 0, 1)``), compare ``>`` and the resets of
:class:`~lavabridge.semantics.Reset`:

=========================  ===============  ==========================================
reset_mechanism            reset_delay      IR reset
=========================  ===============  ==========================================
zero (Leaky)               either           zero
zero (Synaptic, RLeaky)    True / False     zero-next / zero
zero (RSynaptic)           either           zero-next (its reset_delay=False block
                                            updates a local variable: no effect)
subtract                   True / False     subtract-next / subtract-guarded
                                            (RSynaptic: subtract-next either way)
none                       either           none
=========================  ===============  ==========================================

A per-neuron threshold scales each neuron's inputs by ``theta_ref / theta_i``; the graded spike
factor scales the next layer's weights (and the recurrent ones); the recurrence ``V`` becomes a
recurrent Dense (``nn.Linear`` with its bias, a ``Conv2d`` as its matrix, a one-to-one ``V`` as a
diagonal). Layer ``i`` of the graph computes the model's layer ``i`` shifted by its latency
``i + 1`` steps (``Graph.latencies()``; its biases start there): IR step ``t + i + 1`` = snnTorch
step ``t``. The last layer's spikes are binary (a graded factor there is the host's scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lavabridge import ir
from lavabridge.importers.torchlayers import (
    F64,
    Call,
    Map,
    NeuronSpec,
    build,
    check_size,
    dense_of,
    refuse,
    spikes,
    trace,
)
from lavabridge.semantics import Compare, Reset

STAGE = "snnTorch importer"
SUPPORTED = ("Leaky", "Synaptic", "RLeaky", "RSynaptic")
_STATE = {"_base_sub": "subtract", "_base_zero": "zero", "_base_int": "none"}


def _snn() -> Any:
    import snntorch  # type: ignore[import-untyped]  # imported when used

    return snntorch


def _is_neuron(m: nn.Module) -> bool:
    return isinstance(m, _snn().SpikingNeuron)


def reset_state(model: nn.Module) -> None:
    """Clear every snnTorch neuron's state (``reset_mem``). ``snntorch.utils.reset`` looks at
    direct children only and leaves ``RSynaptic.spk`` from the last step."""
    for m in model.modules():
        if _is_neuron(m) and hasattr(m, "reset_mem"):
            m.reset_mem()


def per_neuron(value: Any, c: Call, n: int, what: str, stage: str = STAGE) -> F64:
    """A neuron parameter as it broadcasts against the neuron's input, per neuron ``(n,)``."""
    v = torch.as_tensor(value).detach().cpu().to(torch.float64)
    try:
        full = torch.broadcast_to(v, c.x.shape).reshape(-1, n)
    except RuntimeError as exc:
        raise refuse(c.where, f"{what} of shape {tuple(v.shape)} does not fit it", stage) from exc
    if not bool((full == full[:1]).all()):
        raise refuse(c.where, f"{what} varies across the batch", stage)
    return full[0].numpy().copy()


def _one(value: Any, c: Call, n: int, what: str) -> float:
    v = per_neuron(value, c, n, what, STAGE)
    if not np.all(v == v[0]):
        raise refuse(c.where, f"per-neuron {what} {v.min():.6g}..{v.max():.6g}: Lava holds one "
                     f"decay per layer; give the layer one {what} (or split it)", STAGE)  # fmt: skip
    return float(v[0])


def _check_binary(c: Call) -> None:
    m = c.module
    probe = torch.tensor([-1.0, -1e-9, 0.0, 1e-9, 1.0], dtype=torch.float64)
    with torch.no_grad():
        out = [torch.as_tensor(m.spike_grad(probe)).double() for _ in range(2)]
    if not all(torch.equal(o, (probe > 0).double()) for o in out):
        raise refuse(c.where, "its spike_grad's forward is not the step H(mem - threshold) "
                     "(use one of snntorch.surrogate's, whose forward is mem > threshold)", STAGE)  # fmt: skip


def _reset(c: Call) -> Reset:
    m = c.module
    mech = _STATE.get(getattr(m.state_function, "__name__", ""), "")
    if mech != m.reset_mechanism:
        raise refuse(c.where, f"reset_mechanism {m.reset_mechanism!r} was changed after "
                     f"construction (the state function is still {mech or 'unknown'!r})", STAGE)  # fmt: skip
    if mech == "none":
        return Reset.NONE
    delayed = bool(m.reset_delay) or isinstance(m, _snn().RSynaptic)
    if mech == "subtract":
        return Reset.SUBTRACT_NEXT if delayed else Reset.SUBTRACT_GUARDED
    if type(m) is _snn().Leaky:
        return Reset.ZERO
    return Reset.ZERO_NEXT if delayed else Reset.ZERO


def _recurrent(c: Call, n: int) -> tuple[F64, F64 | None]:
    """The recurrence ``V`` as ``(n, n)`` weights and bias on the layer's own spikes."""
    rec = c.module.recurrent
    if isinstance(rec, nn.Linear):
        b = None if rec.bias is None else rec.bias.detach().double().cpu().numpy()
        return rec.weight.detach().double().cpu().numpy().copy(), b
    if isinstance(rec, nn.Conv2d):  # padding k // 2: the neurons' own (C, H, W)
        shape = tuple(c.x.shape[-3:])
        w, b = rec.weight.detach().double().cpu().numpy(), rec.bias
        conv = ir.Conv2d(w, shape, tuple(rec.stride), tuple(rec.padding), tuple(rec.dilation),  # type: ignore[arg-type]
                         rec.groups, None if b is None else b.detach().double().cpu().numpy())  # fmt: skip
        if conv.n_in != n or conv.n_out != n:
            raise refuse(c.where, f"its recurrent Conv2d maps {conv.n_in} to {conv.n_out} of "
                         f"{n} neurons (use an odd kernel_size)", STAGE)  # fmt: skip
        check_size(n, n, c.where, STAGE)
        d = dense_of([Map(f"{c.path}.recurrent", c.where, conv)], c.where, STAGE)
        return np.asarray(d.weight, np.float64), None if d.bias is None else np.asarray(d.bias)
    return np.diag(per_neuron(rec.V, c, n, "V", STAGE)), None


def _neuron(c: Call, n: int) -> NeuronSpec:
    snn, m = _snn(), c.module
    if type(m) not in (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic):
        raise refuse(c.where, f"unsupported neuron (supported: {', '.join(SUPPORTED)})", STAGE,
                     SUPPORTED)  # fmt: skip
    if m.inhibition:
        raise refuse(c.where, "inhibition=True (winner-take-all over the batch's neurons) has "
                     "no Loihi equivalent: train without it", STAGE)  # fmt: skip
    if m.state_quant:
        raise refuse(c.where, "state_quant quantizes the state in snnTorch's own way: train "
                     "without it (lavabridge's quantizer maps to Loihi's fixed point)", STAGE)  # fmt: skip
    _check_binary(c)
    th = per_neuron(m.threshold, c, n, "threshold", STAGE)
    if not np.all(th > 0):
        raise refuse(c.where, f"threshold {th.min():.6g} <= 0: thresholds must be > 0", STAGE)
    # what a spike carries: the factor in the spikes' dtype (snnTorch's surrogates emit float32)
    g = per_neuron(m.graded_spikes_factor.to(c.y.dtype), c, n, "graded_spikes_factor", STAGE)
    if not np.all(g != 0):
        raise refuse(c.where, "graded_spikes_factor 0 silences the layer", STAGE)
    spk = c.y.to(torch.float64).reshape(-1, n)
    if not bool(((spk == 0) | (spk == torch.from_numpy(g))).all()):
        raise refuse(c.where, "its output is not spikes (0 or graded_spikes_factor)", STAGE)
    beta = _one(m.beta.clamp(0, 1), c, n, "beta")
    alpha = _one(m.alpha.clamp(0, 1), c, n, "alpha") if hasattr(m, "alpha") else 0.0
    rec, rec_b = _recurrent(c, n) if hasattr(m, "recurrent") else (None, None)
    return NeuronSpec(1.0 - alpha, 1.0 - beta, th, _reset(c), Compare.GT, 1.0, g, rec, rec_b)


def _bntt(model: nn.Module) -> None:
    for path, m in model.named_modules():
        kids = list(m.children())
        if (
            isinstance(m, nn.ModuleList)
            and len(kids) > 1
            and all(isinstance(k, nn.modules.batchnorm._BatchNorm) for k in kids)
        ):
            raise refuse(f"{path} (BatchNormTT)", "one BatchNorm per time step is a time-varying "
                         "affine map: not expressible (train without BatchNormTT)", STAGE)  # fmt: skip


def from_snntorch(module: nn.Module, example_input: Any, *, name: str | None = None) -> ir.Graph:
    """An snnTorch model as a float IR graph, spike for spike (equations in the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential`` (or any module) whose neurons all have ``init_hidden=True``: one call
        is one time step; or a module whose ``forward`` takes the whole ``[T, ...]`` input and
        loops over time (tutorial style, explicit ``mem``). Between neurons: Linear, Conv2d,
        AvgPool2d, BatchNorm (eval), Flatten, Identity, Dropout (eval).
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
        A module or setting without an exact IR equivalent (names the module path).
    """
    x = spikes(example_input, STAGE)
    _bntt(module)
    neurons = [m for m in module.modules() if _is_neuron(m)]
    per_step = bool(neurons) and all(m.init_hidden for m in neurons)
    calls = trace(
        module, x, per_step=per_step, is_neuron=_is_neuron, reset=reset_state, stage=STAGE
    )
    return build(calls, is_neuron=_is_neuron, neuron_of=_neuron,
                 name=name or type(module).__name__, stage=STAGE)  # fmt: skip
