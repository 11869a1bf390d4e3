"""Shared by the framework importer tests: run a model *in its own package* and compare with the IR.

``record`` runs a snnTorch / SpikingJelly model on spikes ``x [T, B, ...]`` (per step, or one call
over the sequence) and keeps every neuron module's spikes ``[B, T, n]`` through forward hooks, in
first-call order. ``assert_exact`` runs ``ir.interpret`` on the same spikes and requires every
spike of every layer at every step, shifted by the layer's latency: IR step ``t + latency_i`` =
source step ``t`` for ``t < T - latency_i``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from lavabridge import ir


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread: these tensors are tiny, and on a loaded machine torch's thread pool
    costs ten times the work."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def spike_input(seed: int, shape: tuple[int, ...], p: float = 0.4) -> torch.Tensor:
    """Random binary spikes of ``shape`` (float64), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random(shape) < p).astype(np.float64))


def linear(n_in: int, n_out: int, rng: np.random.Generator, bias: bool) -> nn.Linear:
    """A Linear with random weights that make a layer of threshold ~1 fire now and then."""
    lin = nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(rng.uniform(-0.6, 1.2, (n_out, n_in)) * 2 / n_in**0.5))
        if bias:
            lin.bias.copy_(torch.from_numpy(rng.uniform(-0.3, 0.3, n_out)))
    return lin


def batchnorm(bn: nn.modules.batchnorm._BatchNorm) -> nn.modules.batchnorm._BatchNorm:
    """``bn`` with random running statistics and affine parameters (as after training)."""
    with torch.no_grad():
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    return bn


def record(
    model: nn.Module,
    x: torch.Tensor,
    *,
    per_step: bool,
    is_neuron: Callable[[nn.Module], bool],
    reset: Callable[[nn.Module], Any],
) -> list[np.ndarray]:
    """Each neuron module's spikes ``[B, T, n]`` (bool), neurons in first-call order."""
    T, B = x.shape[0], x.shape[1]
    out: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for path, m in model.named_modules():
        if is_neuron(m):

            def hook(mod: nn.Module, args: Any, res: Any, path: str = path) -> None:
                spk = res[0] if isinstance(res, tuple) else res
                out.setdefault(path, []).append(spk.detach().reshape(-1).clone())

            hooks.append(m.register_forward_hook(hook))
    reset(model)
    with torch.no_grad():
        if per_step:
            for t in range(T):
                model(x[t])
        else:
            model(x)
    reset(model)
    for h in hooks:
        h.remove()
    # one call per step ([B, ...] each) or one call over the sequence ([T, B, ...]): time-major
    return [(torch.cat(v).reshape(T, B, -1) != 0).permute(1, 0, 2).numpy() for v in out.values()]


def ir_input(x: torch.Tensor) -> np.ndarray:
    """Time-major spikes ``[T, B, ...]`` as the IR's ``[B, T, n]`` (C-major flattened)."""
    return x.transpose(0, 1).reshape(x.shape[1], x.shape[0], -1).numpy()


def assert_exact(graph: ir.Graph, x: torch.Tensor, source: list[np.ndarray]) -> None:
    """``ir.interpret(graph)`` reproduces ``source`` (per layer ``[B, T, n]``) shifted by the
    layers' latencies, every spike."""
    rec = ir.interpret(graph, ir_input(x))
    lat = graph.latencies()
    assert len(source) == len(lat), (len(source), lat)
    T = x.shape[0]
    for i, (src, got) in enumerate(zip(source, rec.spikes, strict=True)):
        want = src[:, : T - lat[i]]
        have = got[:, lat[i] :].astype(bool)
        assert want.shape == have.shape, (i, want.shape, have.shape)
        bad = np.argwhere(want != have)
        assert not bad.size, f"layer {i}: {len(bad)} spikes differ, first (b, t, n) {bad[0]}"
