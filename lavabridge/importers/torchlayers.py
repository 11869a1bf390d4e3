"""What the snnTorch and SpikingJelly importers share: tracing a torch model, its linear maps.

**Tracing** (:func:`trace`): one run on the example spikes with forward hooks on the *units* (the
framework's neurons, children included, and every other module without children). A *step model*
is called per time step (``model(x[t])``), a *sequence model* once on ``[T, ...]`` (its calls cut
into steps where the first unit recurs). Every step must call the same units in the same order,
each once, and each unit must receive what the previous one returned (the first: ``x[t]``, or
``x``); reshapes are free.

**Linear maps** (:func:`synapse`): the Linear / Conv2d / AvgPool2d / BatchNorm (eval) / identity
modules between two neurons become *one* IR synapse, exactly::

    Linear -> Dense(W, b)      Conv2d -> Conv2d      AvgPool2d -> AvgPool2d
    Linear|Conv2d, BN      -> W' = a W, b' = a b + c per output channel,
                              a = gamma / sqrt(running_var + eps), c = beta - running_mean a
    Conv2d, AvgPool2d(k)   -> Conv2d, stride s_c s_p, w'[o, c, m s_c + p d] += w[o, c, p] / k^2
    any other sequence f   -> Dense(W = f_lin(I), b = f(0)), f evaluated in float64

(a dense matrix holds at most :data:`MAX_DENSE` entries; beyond, the maps are refused, named).

**Layers** (:func:`build`): with ``theta_ref = max theta_i``, every input of neuron ``i`` (its
synapse row, bias, recurrent row) scales by ``gain_i theta_ref / theta_i`` (its u and v alike:
exact), every input column from neuron ``j`` by the value ``g_j`` its spikes carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from lavabridge import ir
from lavabridge.conv import conv2d
from lavabridge.errors import InputError, UnsupportedError
from lavabridge.semantics import Compare, Reset

F64 = npt.NDArray[np.float64]
MAX_DENSE = 1 << 22  # entries of a dense matrix built for maps without a structured IR node
IDENTITY = (nn.Flatten, nn.Unflatten, nn.Identity)
DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)
MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
MAPS = "Linear, Conv2d, AvgPool2d, BatchNorm1d/2d (eval), Flatten, Identity, Dropout (eval)"


@dataclass(frozen=True)
class Call:
    """One call of a unit: its module path, the module, its first input and (first) output."""

    path: str
    module: nn.Module
    x: torch.Tensor
    y: torch.Tensor

    @property
    def where(self) -> str:  # how errors name the module
        return f"{self.path or '<model>'} ({type(self.module).__name__})"


def refuse(where: str, problem: str, stage: str, supported: Sequence[str] = ()) -> UnsupportedError:
    """The importer's error for what it cannot map exactly (``where`` names the module)."""
    return UnsupportedError(f"{where}: {problem}", node=where, stage=stage, supported=supported)


def spikes(example_input: Any, stage: str) -> torch.Tensor:
    """The example input as a tensor ``[T, ...]``; refused unless it is binary spikes."""
    x = torch.as_tensor(example_input).detach()
    if x.ndim < 2 or not bool(((x == 0) | (x == 1)).all()):
        raise InputError(f"{stage}: example_input must be binary spikes (0/1) [T, B, ...] or "
                         "[T, ...]: encode analog data as spikes first (e.g. rate coding)")  # fmt: skip
    return x


# ----------------------------------------------------------------------------- tracing
def _units(model: nn.Module, is_neuron: Callable[[nn.Module], bool]) -> dict[int, str]:
    units: dict[int, str] = {}
    for path, m in model.named_modules():
        inside = any(path.startswith(p + ".") for p in units.values() if p and p != path)
        if not inside and (is_neuron(m) or next(m.children(), None) is None):
            units[id(m)] = path
    return units


def _record(model: nn.Module, units: dict[int, str], run: Callable[[], Any]) -> list[Call]:
    calls: list[Call] = []

    def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        inp = args[0] if args else next(v for v in kwargs.values() if torch.is_tensor(v))
        y = out[0] if isinstance(out, (tuple, list)) else out
        calls.append(Call(units[id(mod)], mod, inp.detach().clone(), y.detach().clone()))

    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in model.modules() if id(m) in units]  # fmt: skip
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return calls


def trace(model: nn.Module, x: torch.Tensor, *, per_step: bool, is_neuron: Callable[[nn.Module], bool],
          reset: Callable[[nn.Module], None], stage: str) -> list[Call]:  # fmt: skip
    """One time step's unit calls of ``model`` on spikes ``x [T, ...]``, in order (see the module
    docstring); ``reset`` clears the model's state before and after the run."""
    units = _units(model, is_neuron)
    ref = next((p for p in [*model.parameters(), *model.buffers()] if p.is_floating_point()), None)
    x = x.to(torch.float32) if ref is None else x.to(ref.device, ref.dtype)
    with torch.no_grad():
        reset(model)
        try:
            if per_step:
                steps = [_record(model, units, partial(model, x[t])) for t in range(x.shape[0])]
            else:
                calls = _record(model, units, lambda: model(x))
                starts = [i for i, c in enumerate(calls) if c.module is calls[0].module]
                steps = [calls[a:b] for a, b in pairwise([*starts, len(calls)])]
        finally:
            reset(model)
    if not steps or not steps[0]:
        raise InputError(f"{stage}: the model called no module on example_input")
    _check_flow(steps, list(x) if per_step or len(steps) > 1 else [x], stage)
    return steps[0]


def _check_flow(steps: list[list[Call]], firsts: list[torch.Tensor], stage: str) -> None:
    order = [c.module for c in steps[0]]
    for k, step in enumerate(steps):
        mods = [c.module for c in step]
        twice = next((c for i, c in enumerate(step) if c.module in mods[:i]), None)
        if twice is not None:
            raise refuse(twice.where, "called twice in one time step (a shared module, or a time "
                         "loop inside a per-step call)", stage)  # fmt: skip
        if mods != order or k >= len(firsts):
            raise refuse(step[0].where, f"time step {k} calls other modules than step 0 "
                         "(per-step modules such as BatchNormTT are not supported)", stage)  # fmt: skip
        for i, c in enumerate(step):
            ref = step[i - 1].y if i else firsts[k]
            if ref.numel() != c.x.numel() or not torch.equal(
                c.x.reshape(-1), ref.reshape(-1).to(c.x.dtype)
            ):
                src = f"the output of {step[i - 1].where}" if i else f"the model input x[{k}]"
                raise refuse(c.where, f"does not receive {src} unchanged: only module calls and "
                             "reshapes are supported between modules", stage)  # fmt: skip


# ----------------------------------------------------------------------------- linear maps
@dataclass(frozen=True)
class Map:
    """A module's linear map: an IR synapse ``node`` (Dense, Conv2d, AvgPool2d), or (``node``
    None) a BatchNorm's per-channel ``y = a x + c`` on per-sample arrays of ``shape``."""

    path: str
    where: str
    node: ir.Synapse | None
    a: F64 = dataclasses.field(default_factory=lambda: np.ones(1))
    c: F64 = dataclasses.field(default_factory=lambda: np.zeros(1))
    shape: tuple[int, ...] = (1,)

    @property
    def n_in(self) -> int:
        return self.node.n_in if self.node is not None else int(np.prod(self.shape))

    @property
    def n_out(self) -> int:
        return self.node.n_out if self.node is not None else int(np.prod(self.shape))

    def apply(self, x: F64, with_bias: bool = True) -> F64:
        """The map on rows ``x`` (m, n_in) -> (m, n_out), in float64."""
        node = self.node
        if node is None:
            y = x.reshape(len(x), self.shape[0], -1) * self.a[:, None]
            return (y + (self.c[:, None] if with_bias else 0.0)).reshape(len(x), -1)
        if isinstance(node, ir.Dense):
            y = x @ np.asarray(node.weight, np.float64).T
        else:
            y = conv2d(node.geometry, x, node.kernel())  # type: ignore[attr-defined]
        bias = getattr(node, "bias", None)
        if with_bias and bias is not None:
            y = y + np.repeat(np.asarray(bias, np.float64), node.n_out // len(bias))
        return np.asarray(y, np.float64)


def _np(t: torch.Tensor | None) -> F64 | None:
    return None if t is None else t.detach().cpu().to(torch.float64).numpy().copy()


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(c: Call, m: nn.Conv2d, stage: str) -> ir.Synapse:
    k, d = _pair(m.kernel_size), _pair(m.dilation)
    span = [di * (ki - 1) for di, ki in zip(d, k, strict=True)]
    if m.padding_mode != "zeros" or (m.padding == "same" and any(s % 2 for s in span)):
        raise refuse(c.where, "only symmetric zero padding (an even 'same' span pads one side "
                     "more; padding_mode must be 'zeros')", stage)  # fmt: skip
    pad = (0, 0) if m.padding == "valid" else m.padding
    pad = (span[0] // 2, span[1] // 2) if pad == "same" else _pair(pad)
    return ir.Conv2d(_np(m.weight), tuple(c.x.shape[-3:]), _pair(m.stride), pad, d, m.groups,  # type: ignore[arg-type]
                     _np(m.bias))  # fmt: skip


def _pool(c: Call, m: nn.AvgPool2d, stage: str) -> ir.Synapse:
    pad = _pair(m.padding)
    if m.ceil_mode or m.divisor_override or (not m.count_include_pad and any(pad)):
        raise refuse(c.where, "ceil_mode, divisor_override and count_include_pad=False with "
                     "padding change the divisor per window: use the defaults", stage)  # fmt: skip
    stride = _pair(m.kernel_size if m.stride is None else m.stride)
    return ir.AvgPool2d(_pair(m.kernel_size), tuple(c.x.shape[-3:]), stride, pad)  # type: ignore[arg-type]


def _bn(c: Call, m: nn.modules.batchnorm._BatchNorm, stage: str) -> Map:
    if m.training or not m.track_running_stats or m.running_var is None:
        raise refuse(c.where, "BatchNorm must be in eval mode with running statistics "
                     "(call model.eval()): in training mode it normalises by the batch", stage)  # fmt: skip
    a = (1.0 if m.weight is None else _np(m.weight)) / np.sqrt(_np(m.running_var) + m.eps)  # type: ignore[operator]
    shift = (0.0 if m.bias is None else _np(m.bias)) - _np(m.running_mean) * a  # type: ignore[operator]
    nd = 3 if isinstance(m, nn.BatchNorm2d) else (1 if c.x.shape[-1] == m.num_features else 2)
    return Map(c.path, c.where, None, a, shift, tuple(c.x.shape[-nd:]))


def map_of(c: Call, stage: str, dropout: tuple[type, ...] = ()) -> Map | None:
    """The :class:`Map` of a non-neuron unit, ``None`` for an identity; refuses the rest."""
    m = c.module
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _bn(c, m, stage)
    if isinstance(m, nn.Linear):
        return Map(c.path, c.where, ir.Dense(_np(m.weight), _np(m.bias)))  # type: ignore[arg-type]
    if isinstance(m, (nn.Conv2d, nn.AvgPool2d)):
        return Map(c.path, c.where, (_conv if isinstance(m, nn.Conv2d) else _pool)(c, m, stage))  # type: ignore[arg-type]
    if isinstance(m, DROPOUT + dropout) and m.training and float(getattr(m, "p", 0.0)) > 0:
        raise refuse(c.where, "dropout in training mode is random: call model.eval()", stage)
    if isinstance(m, IDENTITY + DROPOUT + dropout):
        return None
    if isinstance(m, MAXPOOL):
        raise refuse(c.where, "max pooling is not linear (Loihi has no max): use AvgPool2d, or "
                     "pool after the neuron", stage, [MAPS])  # fmt: skip
    raise refuse(c.where, f"unknown module (supported between neurons: {MAPS})", stage, [MAPS])


def _fold_bn(maps: list[Map], stage: str) -> list[Map]:
    out: list[Map] = []
    for mp in maps:
        prev = out[-1].node if out else None
        if mp.node is None and not isinstance(prev, (ir.Dense, ir.Conv2d)):
            raise refuse(mp.where, "a BatchNorm must directly follow a Linear or Conv2d (it is "
                         "folded into that map's weights and bias)", stage)  # fmt: skip
        shape = getattr(prev, "out_shape", (getattr(prev, "n_out", 0),))
        if mp.node is not None or prev is None or tuple(shape) != mp.shape:
            out.append(mp)  # a BN not per output channel of prev: the dense evaluation folds it
            continue
        w = np.asarray(cast(ir.Dense, prev).weight)  # a Dense or Conv2d
        w = w * mp.a.reshape((-1,) + (1,) * (w.ndim - 1))
        bias = getattr(prev, "bias", None)
        b = mp.c + (0.0 if bias is None else mp.a * bias)
        out[-1] = Map(out[-1].path, f"{out[-1].where} + {mp.where}", prev.with_(weight=w, bias=b))
    return out


def _conv_pool(conv: ir.Synapse | None, pool: ir.Synapse | None) -> ir.Synapse | None:
    """``conv`` then ``pool`` as one strided convolution (None where that is not exact)."""
    if not isinstance(conv, ir.Conv2d) or type(pool) is not ir.AvgPool2d or any(pool.padding):
        return None
    (kh, kw), (sh, sw), (dh, dw) = pool.kernel_size, conv.stride, conv.dilation
    co, cg, kh_c, kw_c = conv.weight.shape
    w = np.zeros((co, cg, (kh - 1) * sh + (kh_c - 1) * dh + 1, (kw - 1) * sw + (kw_c - 1) * dw + 1))
    for m in range(kh):
        for n in range(kw):
            w[:, :, m * sh : m * sh + (kh_c - 1) * dh + 1 : dh,
              n * sw : n * sw + (kw_c - 1) * dw + 1 : dw] += conv.weight / (kh * kw)  # fmt: skip
    stride = (sh * pool.geometry.stride[0], sw * pool.geometry.stride[1])
    out = ir.Conv2d(w, conv.in_shape, stride, conv.padding, 1, conv.groups, conv.bias)  # type: ignore[arg-type]
    return out if out.out_shape == pool.out_shape else None


def check_size(n_out: int, n_in: int, where: str, stage: str) -> None:
    if n_out * n_in > MAX_DENSE:
        raise refuse(where, f"needs a dense {n_out}x{n_in} matrix (> {MAX_DENSE} entries) to be "
                     "one synapse: put a neuron between the maps, or use maps that compose into "
                     "one Linear / Conv2d / AvgPool2d", stage)  # fmt: skip


def synapse(maps: list[Map], stage: str) -> ir.Synapse:
    """One IR synapse computing the composition of ``maps`` (see the module docstring)."""
    maps = _fold_bn(maps, stage)
    for a, b in pairwise(maps):
        if a.n_out != b.n_in:
            raise refuse(b.where, f"reads {b.n_in} values, {a.where} gives {a.n_out}", stage)
    if len(maps) == 1 and maps[0].node is not None:
        return maps[0].node
    syn = _conv_pool(maps[0].node, maps[1].node) if len(maps) == 2 else None
    return syn or dense_of(maps, " -> ".join(m.where for m in maps), stage)


def dense_of(maps: list[Map], where: str, stage: str) -> ir.Dense:
    """The composition of ``maps`` as a Dense ``W = f_lin(I)``, ``b = f(0)``."""
    check_size(maps[-1].n_out, maps[0].n_in, where, stage)
    lin, const = np.eye(maps[0].n_in), np.zeros((1, maps[0].n_in))
    for mp in maps:
        lin, const = mp.apply(lin, with_bias=False), mp.apply(const)
    return ir.Dense(lin.T.copy(), const[0] if np.any(const) else None)


def _per_channel(v: F64, channels: int) -> F64 | None:
    m = v.reshape(channels, -1)
    return m[:, 0].copy() if np.all(m == m[:, :1]) else None


def scaled(syn: ir.Synapse, rows: F64, cols: F64, where: str, stage: str) -> ir.Synapse:
    """``syn`` with output ``i`` scaled by ``rows[i]`` (weights and bias) and input ``j`` by
    ``cols[j]``; a conv or pool stays one where both are constant per channel."""
    if np.all(rows == 1.0) and np.all(cols == 1.0):
        return syn
    if isinstance(syn, ir.Spatial):
        geo = syn.geometry
        r, c = _per_channel(rows, geo.out_channels), _per_channel(cols, geo.in_shape[0])
        if r is not None and c is not None:
            c_g, o_g = geo.in_shape[0] // geo.groups, geo.out_channels // geo.groups
            idx = (np.arange(geo.out_channels)[:, None] // o_g) * c_g + np.arange(c_g)[None, :]
            k = syn.kernel() * r[:, None, None, None] * c[idx][:, :, None, None]
            bias = getattr(syn, "bias", None)
            return ir.Conv2d(k, geo.in_shape, geo.stride, geo.padding, geo.dilation, geo.groups,
                             None if bias is None else bias * r)  # fmt: skip
    d = dense_of([Map("", "", syn)], where, stage)
    b = None if d.bias is None else d.bias * rows
    return ir.Dense(d.weight * rows[:, None] * cols[None, :], b)


# ----------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class NeuronSpec:
    """A neuron in IR terms, per neuron ``threshold`` (> 0), ``gain`` (factor on every input,
    e.g. SpikingJelly's ``1/tau``), ``value`` (what a spike carries: ``graded_spikes_factor``);
    ``recurrent`` (n, n) and its bias act on the layer's own spikes (``value`` folded in)."""

    current_decay: float
    voltage_decay: float
    threshold: F64
    reset: Reset
    compare: Compare
    gain: F64 | float = 1.0
    value: F64 | float = 1.0
    recurrent: F64 | None = None
    recurrent_bias: F64 | None = None


def _layer(c: Call, maps: list[Map], spec: NeuronSpec, syn: ir.Synapse, cols: F64, start: int,
           stage: str) -> ir.ChainLayer:  # fmt: skip
    n, name, syn_name = syn.n_out, c.path, "+".join(m.path for m in maps)
    th = np.broadcast_to(np.asarray(spec.threshold, np.float64), (n,))
    ref = float(th.max())
    rows = np.broadcast_to(np.asarray(spec.gain, np.float64), (n,)) * (ref / th)
    syn = scaled(syn, rows, cols, f"{syn_name} -> {c.where}", stage)
    rec = None
    if spec.recurrent is not None:
        value, rb = np.broadcast_to(np.asarray(spec.value, np.float64), (n,)), spec.recurrent_bias
        w = rows[:, None] * spec.recurrent * value[None, :]
        rec = ir.Dense(w, None if rb is None else rows * rb)
    neuron = ir.CubaLIF(n, spec.current_decay, spec.voltage_decay, ref, np.zeros(n), spec.reset,
                        spec.compare, start)  # fmt: skip
    return ir.ChainLayer(name, neuron, syn, rec, syn_name, f"{name}.recurrent" if rec else None)


def build(calls: list[Call], *, is_neuron: Callable[[nn.Module], bool], neuron_of: Callable[[Call, int], NeuronSpec],
          name: str, stage: str, dropout: tuple[type, ...] = ()) -> ir.Graph:  # fmt: skip
    """The IR chain of one step's ``calls``: each neuron fed by the maps before it (one
    :func:`synapse`); layer ``i``'s biases start at its latency ``i + 1``."""
    layers: list[ir.ChainLayer] = []
    maps: list[Map] = []
    cols, batch = np.ones(0), 0
    for c in calls:
        if not is_neuron(c.module):
            mp = map_of(c, stage, dropout)
            batch = batch or (c.x.numel() // mp.n_in if mp is not None else 0)
            maps += [mp] if mp is not None else []
            continue
        if not maps:
            raise refuse(c.where, "a neuron needs a linear map (Linear, Conv2d, AvgPool2d) "
                         "before it: the IR's synapses carry spikes to currents", stage)  # fmt: skip
        syn = synapse(maps, stage)
        if c.x.numel() != batch * syn.n_out:
            raise refuse(c.where, f"receives {c.x.numel() // max(batch, 1)} values per sample, the "
                         f"maps before it give {syn.n_out}", stage)  # fmt: skip
        spec = neuron_of(c, syn.n_out)
        cols = cols if layers else np.ones(syn.n_in)
        layers.append(_layer(c, maps, spec, syn, cols, len(layers) + 1, stage))
        cols, maps = np.broadcast_to(np.asarray(spec.value, np.float64), (syn.n_out,)).copy(), []
    if maps:
        raise refuse(maps[0].where, "a linear map after the last neuron: the deployed network ends "
                     "with a spiking layer (read its spikes; apply a readout on the host)", stage)  # fmt: skip
    if not layers:
        raise refuse(name, "no neuron was called on example_input", stage)
    return ir.Graph.sequential(layers[0].synapse.n_in, *layers, name=name)  # type: ignore[union-attr]
