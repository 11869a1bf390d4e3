"""Surrogate gradients for the spike non-linearity ``s = H(x)``, ``x = v - threshold``.

The forward pass is always the exact step function (``x > 0``, or ``x >= 0`` for SpikingJelly-style
``>=`` neurons); only the backward pass is replaced:

==================  =========================================================  ======================
name                d s / d x                                                  as in
==================  =========================================================  ======================
``sigmoid``         ``alpha * sig(alpha x) * (1 - sig(alpha x))``              SpikingJelly default
``atan``            ``alpha / 2 / (1 + (pi/2 * alpha * x)^2)``                 SpikingJelly / snnTorch
``fast_sigmoid``    ``1 / (1 + alpha * |x|)^2``                                SuperSpike, snnTorch
``straight``        ``1`` (the straight-through "spike operator")              snnTorch lesson
==================  =========================================================  ======================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from lavabridge.errors import ValidationError

SurrogateName = Literal["sigmoid", "atan", "fast_sigmoid", "straight"]
DEFAULT_ALPHA: dict[str, float] = {
    "sigmoid": 4.0,
    "atan": 2.0,
    "fast_sigmoid": 25.0,
    "straight": 1.0,
}


def _grad(name: str, x: torch.Tensor, alpha: float) -> torch.Tensor:
    if name == "sigmoid":
        sg = torch.sigmoid(alpha * x)
        return alpha * sg * (1.0 - sg)
    if name == "atan":
        return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * x) ** 2)
    if name == "fast_sigmoid":
        return 1.0 / (1.0 + alpha * x.abs()) ** 2
    return torch.ones_like(x)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, name: str, alpha: float, inclusive: bool
    ) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.name, ctx.alpha = name, alpha
        return (x >= 0).to(x.dtype) if inclusive else (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (x,) = ctx.saved_tensors
        return grad_out * _grad(ctx.name, x, ctx.alpha), None, None, None


@dataclass(frozen=True)
class Surrogate:
    """A spike function with a chosen surrogate gradient.

    Parameters
    ----------
    name : {"sigmoid", "atan", "fast_sigmoid", "straight"}
    alpha : float, optional
        Sharpness (slope for ``fast_sigmoid``); the library default of each family when omitted.
    """

    name: SurrogateName = "sigmoid"
    alpha: float | None = None

    def __post_init__(self) -> None:
        if self.name not in DEFAULT_ALPHA:
            raise ValidationError(
                "Surrogate", "name", f"{self.name!r} not in {sorted(DEFAULT_ALPHA)}"
            )
        if self.alpha is not None and not self.alpha > 0:
            raise ValidationError("Surrogate", "alpha", f"must be > 0, got {self.alpha}")

    def __call__(self, x: torch.Tensor, inclusive: bool = False) -> torch.Tensor:
        """Spikes ``H(x)`` (``x >= 0`` when ``inclusive``) with the surrogate gradient."""
        alpha = DEFAULT_ALPHA[self.name] if self.alpha is None else float(self.alpha)
        out: torch.Tensor = _Spike.apply(x, self.name, alpha, inclusive)
        return out
