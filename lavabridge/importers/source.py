"""The source framework's own run of an imported model: every layer's spikes, for comparison.

An importer (:mod:`lavabridge.importers.snntorch`, :mod:`lavabridge.importers.spikingjelly`)
names each layer of its graph after the neuron module's path. :func:`source_spikes` runs the
model as its framework does (state reset before and after; one call per step for snnTorch's
``init_hidden`` modules and SpikingJelly's single-step mode, one call on the whole input
otherwise) and records those modules' outputs with forward hooks. Layer ``i`` of the float
reference at step ``t + graph.latencies()[i]`` equals the source's layer ``i`` at step ``t``
(:func:`lavabridge.verify.compare.source_vs_float` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from lavabridge import ir
from lavabridge.errors import InputError, UnsupportedError

FRAMEWORKS = ("snntorch", "spikingjelly")


def framework_input(x: npt.ArrayLike, what: str) -> np.ndarray:
    """Time-major spikes ``[T, B, ...]`` checked binary (a copy, float64)."""
    arr = np.asarray(x)
    if arr.ndim < 3 or arr.size == 0:
        raise InputError(f"{what}: spikes must be time-major [T, B, *input_shape], got {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"{what}: must hold binary spikes (0/1): encode analog data first")
    return arr.astype(np.float64)


def ir_input(x: np.ndarray, pad: int = 0) -> npt.NDArray[np.uint8]:
    """``[T, B, ...]`` -> the IR's ``[B, T + pad, n]`` (C-major flatten, as torch's), followed
    by ``pad`` empty steps."""
    T, B = x.shape[:2]
    out = np.zeros((B, T + pad, int(np.prod(x.shape[2:]))), np.uint8)
    out[:, :T] = x.reshape(T, B, -1).transpose(1, 0, 2)
    return out


def importer(framework: str) -> Callable[..., ir.Graph]:
    """``from_snntorch`` or ``from_spikingjelly`` by the framework's name.

    Raises
    ------
    InputError
        Another name.
    """
    if framework == "snntorch":
        from lavabridge.importers.snntorch import from_snntorch

        return from_snntorch
    if framework == "spikingjelly":
        from lavabridge.importers.spikingjelly import from_spikingjelly

        return from_spikingjelly
    raise InputError(f"framework {framework!r}: expected {' or '.join(FRAMEWORKS)}")


def _framework(framework: str) -> tuple[Callable[[nn.Module], bool], Callable[[nn.Module], None]]:
    """``(is_neuron, reset_state)`` of a framework."""
    if framework == "snntorch":
        from lavabridge.importers import snntorch as st

        return st._is_neuron, st.reset_state
    if framework == "spikingjelly":
        from lavabridge.importers import spikingjelly as sj

        return sj._is_neuron, sj.reset_state
    raise UnsupportedError(
        f"framework {framework!r}: no importer",
        node=framework,
        stage="source run",
        supported=FRAMEWORKS,
    )


def _per_step(framework: str, neurons: list[nn.Module]) -> bool:
    if framework == "snntorch":
        return bool(neurons) and all(bool(getattr(m, "init_hidden", False)) for m in neurons)
    return bool(neurons) and all(getattr(m, "step_mode", "s") == "s" for m in neurons)


def source_spikes(
    framework: str, module: nn.Module, example_input: Any, graph: ir.Graph
) -> list[npt.NDArray[np.uint8]]:
    """Each layer of ``graph``'s spikes ``[B, T, n]`` as ``framework`` computes them on the
    time-major spikes ``example_input`` ``[T, B, *input_shape]``, in float64.

    Raises
    ------
    InputError
        A layer of ``graph`` names no module of ``module``, or a module's outputs do not cover
        the T steps.
    """
    is_neuron, reset = _framework(framework)
    x = torch.as_tensor(example_input).detach().to(torch.float64)
    if x.ndim < 3 or x[0, 0].numel() != graph.input_size:
        raise InputError(
            f"source run: the input must be [T, B, *input_shape] with {graph.input_size} values "
            f"per sample and step, got shape {tuple(x.shape)}"
        )
    T = int(x.shape[0])
    names = [layer.name for layer in graph.layer_chain()]
    modules = dict(module.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise InputError(f"source run: layer(s) {missing} name no module of the model")
    outputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def hook(path: str) -> Callable[..., None]:
        def record(mod: nn.Module, args: Any, out: Any) -> None:
            y = out[0] if isinstance(out, (tuple, list)) else out
            outputs[path].append(y.detach().clone())

        return record

    def to_double(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        # surrogate spike functions return float32 whatever their input: keep float64 flowing
        return tuple(
            a.double() if torch.is_tensor(a) and a.is_floating_point() else a for a in args
        )

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    handles += [m.register_forward_pre_hook(to_double) for m in module.modules()]
    original = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
    per_step = _per_step(framework, [m for m in module.modules() if is_neuron(m)])
    try:
        module.double()
        with torch.no_grad():
            reset(module)
            if per_step:
                for t in range(T):
                    module(x[t])
            else:
                module(x)
    finally:
        reset(module)
        for h in handles:
            h.remove()
        if original is not None:
            module.to(original)
    return [_stack(outputs[n], T, n) for n in names]


def _stack(calls: list[torch.Tensor], T: int, name: str) -> npt.NDArray[np.uint8]:
    if len(calls) == 1 and T > 1:  # one multi-step call: [T, B, ...]
        seq = calls[0]
    elif len(calls) == T:
        seq = torch.stack(calls)
    else:
        raise InputError(f"source run: module {name!r} was called {len(calls)} times for {T} steps")
    flat = seq.reshape(T, seq.shape[1], -1) if seq.ndim > 2 else seq.reshape(T, 1, -1)
    return (flat.transpose(0, 1).numpy() != 0).astype(np.uint8)
