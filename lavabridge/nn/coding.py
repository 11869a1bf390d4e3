"""The torch side of coding: numpy ``[B, T, N]`` spikes to time-major tensors.

The encoders and decoders themselves are torch-free and live in :mod:`lavabridge.coding`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch


def to_time_major(spikes: npt.ArrayLike, device: torch.device | str | None = None) -> torch.Tensor:
    """``[B, T, N]`` numpy spikes -> ``[T, B, N]`` float32 tensor."""
    return torch.as_tensor(np.asarray(spikes), dtype=torch.float32, device=device).transpose(0, 1)
