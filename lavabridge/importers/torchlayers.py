"""What the snnTorch and SpikingJelly importers share: tracing a torch model, its linear maps.

**Tracing** (:func:`trace`). The model runs on the example spikes with forward hooks on its
*units*: the framework's neurons (their children, e.g. a recurrent ``nn.Linear`` or a surrogate,
belong to them) and every other module without children. A *step model* is called once per time
step (``model(x[t])``); a *sequence model* once on the whole ``[T, ...]`` input (a forward that
loops over time, or SpikingJelly's multi-step mode), its calls cut into time steps where the first
unit recurs (consecutive calls of one module, as ``MultiStepContainer`` makes, count as one). Each
step must call the same units in the same order, each once, and each unit must receive exactly
what the previous one returned (the first: ``x[t]``, or ``x`` for one call over the sequence);
reshapes and flattening are free. The result is one step's calls, in order.

**Linear maps** (:func:`synapse`). Between two neurons (or the input and the first neuron) any
sequence of ``nn.Linear``, ``nn.Conv2d``, ``nn.AvgPool2d``, ``nn.BatchNorm1d/2d`` (eval mode,
after a Linear / Conv2d) and identities (``Flatten``, ``Unflatten``, ``Identity``, dropout in eval
mode) becomes *one* IR synapse, exactly::

    Linear                 -> Dense(W, b)          Conv2d -> Conv2d       AvgPool2d -> AvgPool2d
    Linear|Conv2d, BN      -> W' = a W, b' = a b + c  (per output channel;
                              a = gamma / sqrt(running_var + eps), c = beta - running_mean a)
    Conv2d, AvgPool2d(k,s) -> Conv2d, stride s_c s, w'[o, c, m s_c + p d] += w[o, c, p] / (kH kW)
    anything else f        -> Dense(W = f_lin(I), b = f(0)), f evaluated in float64

(a dense matrix of at most :data:`MAX_DENSE` entries; beyond, the maps are refused, named).

**Layers** (:func:`layer`). A framework describes each neuron by a :class:`NeuronSpec`; with
``theta_ref = max_i theta_i`` every input of neuron ``i`` (its synapse row, bias, recurrent row) is
scaled by ``gain_i theta_ref / theta_i`` (exact: u and v of neuron ``i`` scale by that factor), and
every input column from a neuron ``j`` by the value ``g_j`` its spikes carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
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
LINEAR_HELP = "Linear, Conv2d, AvgPool2d, BatchNorm1d/2d (eval), Flatten, Identity, Dropout (eval)"


@dataclass(frozen=True)
class Call:
    """One call of a unit: its path, module, first input and (first) output, and, over merged
    consecutive calls, all inputs and outputs flattened (what the data-flow check compares)."""

    path: str
    module: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    xf: torch.Tensor
    yf: torch.Tensor

    @property
    def where(self) -> str:
        """``path (Type)``: how errors name the module."""
        return f"{self.path or '<model>'} ({type(self.module).__name__})"


def refuse(where: str, problem: str, stage: str, supported: Sequence[str] = ()) -> UnsupportedError:
    """The importer's error for a module it cannot map exactly (``where`` names the module)."""
    return UnsupportedError(f"{where}: {problem}", node=where, stage=stage, supported=supported)


def spikes(example_input: Any, stage: str) -> torch.Tensor:
    """The example input as a tensor ``[T, ...]``, refused unless it is binary spikes."""
    x = torch.as_tensor(example_input).detach()
    if x.ndim < 2 or x.shape[0] < 1:
        raise InputError(f"{stage}: example_input must be spikes [T, B, ...] or [T, ...], got {tuple(x.shape)}")
    if not bool(((x == 0) | (x == 1)).all()):
        raise InputError(
            f"{stage}: example_input must be binary spikes (0/1): encode analog data as spikes "
            "first (e.g. rate coding); lavabridge's input is a spike train"
        )
    return x


# ----------------------------------------------------------------------------- tracing
def _units(model: nn.Module, is_neuron: Callable[[nn.Module], bool]) -> dict[int, str]:
    units: dict[int, str] = {}
    inside: list[str] = []
    for path, m in model.named_modules():
        if any(path.startswith(p + ".") for p in inside):
            continue
        if is_neuron(m):
            inside.append(path)
            units[id(m)] = path
        elif not any(True for _ in m.children()):
            units[id(m)] = path
    return units


def _record(model: nn.Module, units: dict[int, str], run: Callable[[], Any]) -> list[Call]:
    calls: list[Call] = []

    def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        inp = args[0] if args else next(v for v in kwargs.values() if torch.is_tensor(v))
        y = out[0] if isinstance(out, (tuple, list)) else out
        x, y = inp.detach().clone(), y.detach().clone()
        calls.append(Call(units[id(mod)], mod, x, y, x.reshape(-1), y.reshape(-1)))

    mods = [m for m in model.modules() if id(m) in units]
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in mods]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return calls


def _merge(calls: list[Call]) -> list[Call]:
    """Consecutive calls of one module on separate inputs (a per-step loop over it) as one."""
    out: list[Call] = []
    for c in calls:
        last = out[-1] if out else None
        if last is not None and last.module is c.module and not _same(c.xf, last.yf):
            cat = (torch.cat([last.xf, c.xf]), torch.cat([last.yf, c.yf]))
            out[-1] = dataclasses.replace(last, xf=cat[0], yf=cat[1])
        else:
            out.append(c)
    return out


def _periods(calls: list[Call]) -> list[list[Call]]:
    starts = [i for i, c in enumerate(calls) if c.module is calls[0].module] + [len(calls)]
    return [calls[a:b] for a, b in zip(starts, starts[1:])]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.numel() == b.numel() and torch.equal(a.reshape(-1), b.reshape(-1).to(a.dtype))


def trace(
    model: nn.Module,
    x: torch.Tensor,
    *,
    per_step: bool,
    is_neuron: Callable[[nn.Module], bool],
    reset: Callable[[nn.Module], None],
    stage: str,
) -> list[Call]:
    """One time step's unit calls of ``model`` on spikes ``x [T, ...]``, in order (see the module
    docstring); ``reset`` clears the model's state before and after the run."""
    units = _units(model, is_neuron)
    ref = next((p for p in [*model.parameters(), *model.buffers()] if p.is_floating_point()), None)
    x = x.to(ref.dtype if ref is not None else torch.float32)
    if ref is not None:
        x = x.to(ref.device)
    with torch.no_grad():
        reset(model)
        try:
            if per_step:
                steps = [_record(model, units, lambda t=t: model(x[t])) for t in range(x.shape[0])]
            else:
                steps = _periods(_merge(_record(model, units, lambda: model(x))))
        finally:
            reset(model)
    if not steps or not steps[0]:
        raise InputError(f"{stage}: the model called no module on example_input")
    firsts = [x[t] for t in range(x.shape[0])] if per_step or len(steps) > 1 else [x]
    _check_flow(steps, firsts, stage)
    return steps[0]


def _check_flow(steps: list[list[Call]], firsts: list[torch.Tensor], stage: str) -> None:
    order = [c.module for c in steps[0]]
    for k, step in enumerate(steps):
        seen: set[int] = set()
        for c in step:
            if id(c.module) in seen:
                raise refuse(c.where, "called twice in one time step (a shared module, or a "
                             "forward that loops over time inside a step model)", stage)  # fmt: skip
            seen.add(id(c.module))
        if [c.module for c in step] != order or k >= len(firsts):
            raise refuse(step[0].where, f"time step {k} calls other modules than step 0 "
                         "(per-step modules such as BatchNormTT are not supported)", stage)  # fmt: skip
        for i, c in enumerate(step):
            prev = step[i - 1].yf if i else firsts[k]
            if not _same(c.xf, prev):
                src = f"the output of {step[i - 1].where}" if i else f"the model input x[{k}]"
                raise refuse(c.where, f"does not receive {src} unchanged: only module calls and "
                             "reshapes are supported between modules", stage)  # fmt: skip


# ----------------------------------------------------------------------------- linear maps
@dataclass(frozen=True)
class Op:
    """A linear map of one module (or a fold of two): kind ``linear`` (weight (out, in)),
    ``conv`` (kernel), ``pool`` (no weight) or ``bn`` (weight = scale a, bias = shift c per
    channel), on flat per-sample vectors of shape ``in_shape`` -> ``out_shape``."""

    path: str
    where: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: F64 | None = None
    bias: F64 | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: Any = (0, 0)  # a pair, or torch's 'same' / 'valid'
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    def apply(self, x: F64, with_bias: bool = True) -> F64:
        """The map on rows ``x`` (m, n_in) -> (m, n_out), in float64 by torch's functions."""
        t = torch.from_numpy(np.ascontiguousarray(x, np.float64)).reshape(-1, *self.in_shape)
        w = None if self.weight is None else torch.from_numpy(self.weight)
        b = torch.from_numpy(self.bias) if with_bias and self.bias is not None else None
        if self.kind == "linear":
            out = F.linear(t, w, b)
        elif self.kind == "conv":
            out = F.conv2d(t, w, b, self.stride, self.padding, self.dilation, self.groups)
        elif self.kind == "pool":
            out = F.avg_pool2d(t, self.kernel, self.stride, self.padding)
        else:
            shape = (-1,) + (1,) * (len(self.in_shape) - 1)
            out = t * w.reshape(shape) + (0.0 if b is None else b.reshape(shape))  # type: ignore[union-attr]
        return out.reshape(x.shape[0], -1).numpy()


def _np(t: torch.Tensor | None) -> F64 | None:
    return None if t is None else t.detach().cpu().to(torch.float64).numpy().copy()


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def op_of(c: Call, stage: str, dropout: tuple[type, ...] = ()) -> Op | None:
    """The :class:`Op` of a non-neuron unit, ``None`` for an identity; refuses the rest."""
    m, base = c.module, dict(path=c.path, where=c.where)
    if isinstance(m, nn.Linear):
        return Op(**base, kind="linear", in_shape=(m.in_features,), out_shape=(m.out_features,),
                  weight=_np(m.weight), bias=_np(m.bias))  # fmt: skip
    shapes = dict(in_shape=tuple(c.x.shape[-3:]), out_shape=tuple(c.y.shape[-3:]))
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros":
            raise refuse(c.where, f"padding_mode={m.padding_mode!r}: only zero padding", stage)
        pad = m.padding if isinstance(m.padding, str) else _pair(m.padding)
        return Op(**base, kind="conv", **shapes, weight=_np(m.weight), bias=_np(m.bias),
                  kernel=_pair(m.kernel_size), stride=_pair(m.stride), padding=pad,
                  dilation=_pair(m.dilation), groups=m.groups)  # fmt: skip
    if isinstance(m, nn.AvgPool2d):
        pad = _pair(m.padding)
        if m.ceil_mode or m.divisor_override or (not m.count_include_pad and any(pad)):
            raise refuse(c.where, "ceil_mode, divisor_override and count_include_pad=False with "
                         "padding change the divisor per window: use the defaults", stage)  # fmt: skip
        stride = _pair(m.kernel_size if m.stride is None else m.stride)
        return Op(**base, kind="pool", **shapes, kernel=_pair(m.kernel_size), stride=stride,
                  padding=pad)  # fmt: skip
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _bn(c, m, stage)
    if isinstance(m, IDENTITY):
        return None
    if isinstance(m, DROPOUT + dropout):
        if m.training and float(getattr(m, "p", 0.0)) > 0:
            raise refuse(c.where, "dropout in training mode is random: call model.eval()", stage)
        return None
    if isinstance(m, MAXPOOL):
        raise refuse(c.where, "max pooling is not linear and Loihi has no max: use AvgPool2d, "
                     "or pool after the neuron (AvgPool2d of spikes)", stage, [LINEAR_HELP])  # fmt: skip
    raise refuse(c.where, f"unknown module (supported between neurons: {LINEAR_HELP})", stage,
                 [LINEAR_HELP])  # fmt: skip


def _bn(c: Call, m: nn.modules.batchnorm._BatchNorm, stage: str) -> Op:
    if m.training or not m.track_running_stats or m.running_var is None:
        raise refuse(c.where, "BatchNorm must be in eval mode with running statistics "
                     "(call model.eval()): in training mode it normalises by the batch", stage)  # fmt: skip
    a = 1.0 / np.sqrt(_np(m.running_var) + m.eps)  # type: ignore[operator]
    if m.weight is not None:
        a = a * _np(m.weight)
    shift = -_np(m.running_mean) * a  # type: ignore[operator]
    if m.bias is not None:
        shift = shift + _np(m.bias)
    nd = 3 if isinstance(m, nn.BatchNorm2d) else (1 if c.x.shape[-1] == m.num_features else 2)
    shape = tuple(c.x.shape[-nd:])
    return Op(c.path, c.where, "bn", shape, shape, a, shift)


def _fold_bn(ops: list[Op], stage: str) -> list[Op]:
    out: list[Op] = []
    for op in ops:
        if op.kind != "bn":
            out.append(op)
            continue
        prev = out[-1] if out else None
        if prev is None or prev.kind not in ("linear", "conv"):
            raise refuse(op.where, "a BatchNorm must directly follow a Linear or Conv2d (it is "
                         "folded into that map's weights and bias)", stage)  # fmt: skip
        a, c = op.weight, op.bias
        if prev.out_shape != op.in_shape or a is None or c is None:
            out.append(op)  # not per output channel of prev: the dense evaluation folds it
            continue
        w = prev.weight * a.reshape((-1,) + (1,) * (prev.weight.ndim - 1))  # type: ignore[union-attr]
        b = c + (0.0 if prev.bias is None else a * prev.bias)
        out[-1] = dataclasses.replace(prev, where=f"{prev.where} + {op.where}", weight=w, bias=b)
    return out


def _conv_pool(conv: Op, pool: Op) -> ir.Conv2d | None:
    """``conv`` then ``pool`` as one strided convolution (None where that is not exact)."""
    if isinstance(conv.padding, str) or any(pool.padding) or conv.weight is None:
        return None
    (kh, kw), (sh, sw), (dh, dw) = pool.kernel, conv.stride, conv.dilation
    co, cg, kh_c, kw_c = conv.weight.shape
    w = np.zeros((co, cg, (kh - 1) * sh + (kh_c - 1) * dh + 1, (kw - 1) * sw + (kw_c - 1) * dw + 1))
    for m in range(kh):
        for n in range(kw):
            w[:, :, m * sh : m * sh + (kh_c - 1) * dh + 1 : dh,
              n * sw : n * sw + (kw_c - 1) * dw + 1 : dw] += conv.weight / (kh * kw)  # fmt: skip
    stride = (sh * pool.stride[0], sw * pool.stride[1])
    out = ir.Conv2d(w, conv.in_shape, stride, conv.padding, (1, 1), conv.groups, conv.bias)  # type: ignore[arg-type]
    return out if out.out_shape == pool.out_shape else None


def _structured(op: Op) -> ir.Synapse | None:
    if op.kind == "linear":
        return ir.Dense(op.weight, op.bias)  # type: ignore[arg-type]
    if op.kind == "pool":
        return ir.AvgPool2d(op.kernel, op.in_shape, op.stride, op.padding)  # type: ignore[arg-type]
    if op.kind != "conv":
        return None
    pad = op.padding
    if pad == "valid":
        pad = (0, 0)
    elif pad == "same":
        span = [d * (k - 1) for d, k in zip(op.dilation, op.kernel)]
        if any(s % 2 for s in span):
            return None  # torch pads an even 'same' span asymmetrically: dense
        pad = (span[0] // 2, span[1] // 2)
    return ir.Conv2d(op.weight, op.in_shape, op.stride, pad, op.dilation, op.groups, op.bias)  # type: ignore[arg-type]


def check_size(n_out: int, n_in: int, where: str, stage: str) -> None:
    if n_out * n_in > MAX_DENSE:
        raise refuse(where, f"needs a dense {n_out}x{n_in} matrix (more than {MAX_DENSE} "
                     "entries) to be one synapse: put a neuron between the maps, or use maps "
                     "that compose into one Linear / Conv2d / AvgPool2d", stage)  # fmt: skip


def synapse(ops: list[Op], stage: str) -> ir.Synapse:
    """One IR synapse computing the composition of ``ops`` (see the module docstring)."""
    ops = _fold_bn(ops, stage)
    for a, b in zip(ops, ops[1:]):
        if a.n_out != b.n_in:
            raise refuse(b.where, f"reads {b.n_in} values, {a.where} gives {a.n_out}", stage)
    syn = _structured(ops[0]) if len(ops) == 1 else None
    if len(ops) == 2 and (ops[0].kind, ops[1].kind) == ("conv", "pool"):
        syn = _conv_pool(ops[0], ops[1])
    if syn is not None:
        return syn
    check_size(ops[-1].n_out, ops[0].n_in, " -> ".join(o.where for o in ops), stage)
    lin, const = np.eye(ops[0].n_in), np.zeros((1, ops[0].n_in))
    for op in ops:
        lin, const = op.apply(lin, with_bias=False), op.apply(const)
    return ir.Dense(lin.T.copy(), const[0] if np.any(const) else None)


def dense_of(syn: ir.Synapse, where: str, stage: str) -> ir.Dense:
    """``syn`` as a Dense (its matrix; conv biases repeated over positions)."""
    if isinstance(syn, ir.Dense):
        return syn
    assert isinstance(syn, ir.Spatial)
    check_size(syn.n_out, syn.n_in, where, stage)
    w = conv2d(syn.geometry, np.eye(syn.n_in), syn.kernel()).T.copy()
    bias = getattr(syn, "bias", None)
    hw = syn.out_shape[1] * syn.out_shape[2]
    return ir.Dense(w, None if bias is None else np.repeat(np.asarray(bias, np.float64), hw))


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
            k = syn.kernel() * r[:, None, None, None]
            c_g, o_g = geo.in_shape[0] // geo.groups, geo.out_channels // geo.groups
            idx = (np.arange(geo.out_channels)[:, None] // o_g) * c_g + np.arange(c_g)[None, :]
            bias = getattr(syn, "bias", None)
            return ir.Conv2d(k * c[idx][:, :, None, None], geo.in_shape, geo.stride, geo.padding,
                             geo.dilation, geo.groups, None if bias is None else bias * r)  # fmt: skip
    d = dense_of(syn, where, stage)
    w = np.asarray(d.weight, np.float64) * rows[:, None] * cols[None, :]
    return ir.Dense(w, None if d.bias is None else np.asarray(d.bias, np.float64) * rows)


# ----------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class NeuronSpec:
    """A framework neuron in IR terms: decays, per-neuron ``threshold`` (> 0), reset, compare;
    ``gain``: the factor on every input of each neuron (SpikingJelly's ``1/tau`` with
    ``decay_input``); ``value``: what each neuron's spike carries downstream (snnTorch's
    ``graded_spikes_factor``); ``recurrent`` ``(n, n)`` and ``recurrent_bias``: a synapse from
    the layer's own spikes of the previous step (``value`` is folded in by :func:`layer`)."""

    current_decay: float
    voltage_decay: float
    threshold: F64
    reset: Reset
    compare: Compare
    gain: F64 | float = 1.0
    value: F64 | float = 1.0
    recurrent: F64 | None = None
    recurrent_bias: F64 | None = None


def layer(
    name: str, synapse_name: str, spec: NeuronSpec, syn: ir.Synapse, cols: F64, bias_start: int, stage: str
) -> ir.ChainLayer:
    """The chain layer of neuron ``name`` fed by ``syn`` (inputs scaled by the previous layer's
    spike values ``cols``); its biases start at ``bias_start``."""
    n = syn.n_out
    th = np.broadcast_to(np.asarray(spec.threshold, np.float64), (n,))
    ref = float(th.max())
    rows = np.broadcast_to(np.asarray(spec.gain, np.float64), (n,)) * (ref / th)
    syn = scaled(syn, rows, cols, f"{synapse_name} -> {name}", stage)
    rec = None
    if spec.recurrent is not None:
        value = np.broadcast_to(np.asarray(spec.value, np.float64), (n,))
        rb = spec.recurrent_bias
        rec = ir.Dense(rows[:, None] * spec.recurrent * value[None, :], None if rb is None else rows * rb)
    neuron = ir.CubaLIF(n, spec.current_decay, spec.voltage_decay, ref, np.zeros(n), spec.reset,
                        spec.compare, bias_start)  # fmt: skip
    return ir.ChainLayer(name, neuron, syn, rec, synapse_name, f"{name}.recurrent" if rec else None)


def per_neuron(value: Any, c: Call, n: int, what: str, stage: str) -> F64:
    """A neuron parameter as it broadcasts against the neuron's input, per neuron ``(n,)``."""
    v = torch.as_tensor(value).detach().cpu().to(torch.float64)
    try:
        full = torch.broadcast_to(v, c.x.shape).reshape(-1, n)
    except RuntimeError as exc:
        raise refuse(c.where, f"{what} of shape {tuple(v.shape)} does not fit its input", stage) from exc
    if not bool((full == full[:1]).all()):
        raise refuse(c.where, f"{what} varies across the batch", stage)
    return full[0].numpy().copy()


def build(
    calls: list[Call],
    *,
    is_neuron: Callable[[nn.Module], bool],
    neuron_of: Callable[[Call, int], NeuronSpec],
    name: str,
    stage: str,
    dropout: tuple[type, ...] = (),
) -> ir.Graph:
    """The IR chain of one step's ``calls``: each neuron with the maps before it as its synapse;
    layer ``i``'s biases start at its latency ``i + 1`` (spike input)."""
    layers: list[ir.ChainLayer] = []
    ops: list[Op] = []
    cols, batch = np.ones(0), 0
    for c in calls:
        if not is_neuron(c.module):
            op = op_of(c, stage, dropout)
            if op is not None and not batch:
                batch = c.x.numel() // op.n_in
            ops += [op] if op is not None else []
            continue
        if not ops:
            raise refuse(c.where, "a neuron needs a linear map (Linear, Conv2d, AvgPool2d) "
                         "before it: the IR's synapses carry spikes to currents", stage)  # fmt: skip
        syn = synapse(ops, stage)
        n = syn.n_out
        if c.x.numel() != batch * n:
            raise refuse(c.where, f"receives {c.x.numel() // max(batch, 1)} values per sample, the "
                         f"maps before it give {n}", stage)  # fmt: skip
        spec = neuron_of(c, n)
        cols = np.ones(syn.n_in) if not layers else cols
        syn_name = "+".join(o.path for o in ops)
        layers.append(layer(c.path, syn_name, spec, syn, cols, len(layers) + 1, stage))
        cols, ops = np.broadcast_to(np.asarray(spec.value, np.float64), (n,)).copy(), []
    if ops:
        raise refuse(ops[0].where, "a linear map after the last neuron: the deployed network "
                     "ends with a spiking layer (read its spikes; apply a readout on the host)", stage)  # fmt: skip
    if not layers:
        raise refuse(name, "no neuron was called on example_input", stage)
    return ir.Graph.sequential(layers[0].synapse.n_in, *layers, name=name)  # type: ignore[union-attr]
