"""Quantization-aware training: train on the weights Loihi will use (fake quantization + STE).

:func:`enable_qat` puts a parametrization on every Dense (and Conv2d) of a
:class:`~lavabridge.nn.SpikingNet`::

    sigma = M / max(|W_syn|, |W_rec|)          per layer, as post-training quantization chooses it
    W_q   = mantissa(sigma * W) / sigma        M = 254 (mixed signs: even mantissas), 255 otherwise
                                               (the sign mode's grid, lavabridge.target)
    forward uses W_q; backward passes the gradient straight through (d W_q / d W = 1)

(a layer fed by a conv or pool: ``sigma = 255 / max|W|`` and ``W_q = round(sigma W) / sigma``, the
grid of Lava's Conv, which uses integer weights as given), so the float model trains with exactly
the weight grid :func:`lavabridge.quant.ptq.quantize` will
pick, and quantization afterwards loses nothing on the weights (``max_weight_error`` ~ 0); only the
threshold/bias rounding and Lava's round-toward-zero decays remain.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from lavabridge.nn.layers import SpikingNet
from lavabridge.nn.spatial import Conv2d, SumPool2d
from lavabridge.target import LOIHI2, LoihiTarget, SignMode


def _sign_mode(w: torch.Tensor) -> SignMode:
    if bool((w < 0).any()) and bool((w > 0).any()):
        return SignMode.MIXED
    return SignMode.INHIBITORY if bool((w < 0).any()) else SignMode.EXCITATORY


def _mantissa_grid(
    w: torch.Tensor, sigma: torch.Tensor, mode: SignMode, target: LoihiTarget
) -> torch.Tensor:
    """``sigma w`` on the sign mode's weight grid (even values for mixed signs), back in float."""
    lo, hi, step = target.weight_grid(mode)
    return torch.clamp(step * torch.round(w * sigma / step), lo, hi) / sigma


class FakeQuantWeight(nn.Module):
    """Parametrization ``W -> W + (Q(W) - W).detach()`` with the layer's shared PTQ grid.

    Parameters
    ----------
    partners : list of nn.Linear
        The other Dense modules feeding the same neurons (their raw weights share the scale).
    target : LoihiTarget
        Whose weight grid to train on.
    """

    def __init__(
        self, partners: list[nn.Module], target: LoihiTarget = LOIHI2, conv: bool = False
    ) -> None:
        super().__init__()
        self._partners = partners  # plain list: not registered as submodules
        self._target = target
        self._conv = conv  # the layer's synapse is a Conv2d: integer weights, exp 0

    def _raw(self, lin: nn.Module) -> torch.Tensor:
        if parametrize.is_parametrized(lin, "weight"):
            return lin.parametrizations.weight.original
        return lin.weight

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        mats = [w.detach(), *(self._raw(p).detach() for p in self._partners)]
        peak = torch.stack([m.abs().max() for m in mats]).max()
        if float(peak) == 0.0:
            return w
        if self._conv:  # Lava's Conv: round(sigma w) within +-255, for every partner
            sigma = self._target.conv_weight_magnitude / peak
            m = self._target.conv_weight_magnitude
            q = torch.clamp(torch.round(w.detach() * sigma), -m, m) / sigma
            return w + (q - w).detach()
        limit = min(float(self._target.weight_magnitude(_sign_mode(m))) for m in mats)
        sigma = limit / peak
        q = _mantissa_grid(w.detach(), sigma, _sign_mode(w.detach()), self._target)
        return w + (q - w).detach()


def enable_qat(net: SpikingNet, target: LoihiTarget = LOIHI2) -> SpikingNet:
    """Fake-quantize every Dense of ``net`` in place (idempotent); returns ``net``."""
    for layer in net.layers:
        lins = [
            lin for lin in (layer.synapse, layer.recurrent)
            if lin is not None and isinstance(getattr(lin, "weight", None), torch.Tensor)
        ]  # fmt: skip
        conv = isinstance(layer.synapse, (Conv2d, SumPool2d))
        for lin in lins:
            if parametrize.is_parametrized(lin, "weight"):
                continue
            partners = [p for p in lins if p is not lin]
            parametrize.register_parametrization(
                lin, "weight", FakeQuantWeight(partners, target, conv)
            )
    return net


def disable_qat(net: SpikingNet, *, keep_quantized: bool = True) -> SpikingNet:
    """Remove the parametrizations; ``keep_quantized`` bakes the fake-quantized weights in."""
    for layer in net.layers:
        for lin in (layer.synapse, layer.recurrent):
            if lin is not None and parametrize.is_parametrized(lin, "weight"):
                parametrize.remove_parametrizations(
                    lin, "weight", leave_parametrized=keep_quantized
                )
    return net
