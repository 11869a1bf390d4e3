"""Losses on spike trains ``[T, B, N]`` (time-major, as the torch layers produce them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rate_mse_loss(
    spikes: torch.Tensor,
    labels: torch.Tensor,
    correct_rate: float = 0.8,
    incorrect_rate: float = 0.1,
) -> torch.Tensor:
    """MSE between output firing rates and target rates (the classic snnTorch recipe).

    ``rate_i = mean_t s_i[t]``; target ``correct_rate`` for the label, ``incorrect_rate`` otherwise.
    """
    rates = spikes.mean(dim=0)
    target = torch.full_like(rates, incorrect_rate)
    target.scatter_(1, labels.view(-1, 1), correct_rate)
    return F.mse_loss(rates, target)


def count_cross_entropy(
    spikes: torch.Tensor, labels: torch.Tensor, scale: float = 1.0
) -> torch.Tensor:
    """Cross-entropy with spike counts as logits: ``CE(scale * sum_t s[t], label)``."""
    return F.cross_entropy(scale * spikes.sum(dim=0), labels)


def membrane_cross_entropy(v: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the final membrane potential of a non-spiking readout layer."""
    return F.cross_entropy(v[-1], labels)
