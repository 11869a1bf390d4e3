"""Torch layers whose forward pass *is* the deployed discrete-time semantics, in float.

Time-major tensors ``[T, B, N]``. For layer ``l`` at time index ``t`` (Lava time step ``t + 1``)::

    I[t] = W s_in[t - 1]  (+ W_rec s[t - 1])          one step of latency per Dense hop, as in Lava
    u[t] = alpha_u * u[t - 1] + I[t]                  alpha_u = (4095 - du) / 4096
    v[t] = alpha_v * v[t - 1] + u[t] + bias           alpha_v = (4096 - dv) / 4096
    s[t] = v[t] > threshold                           (>= with compare=">=")
    v[t] = 0 where s[t]                               (reset="zero"; "subtract": v[t] -= threshold)

The decays are the 12-bit values Lava will use (``du = round(4096 * current_decay) - 1``,
``dv = round(4096 * voltage_decay)``, from the target table :mod:`lavabridge.target`), so the float
model and the deployed network share them exactly; what quantization changes is only the integer rounding of weights, threshold and bias and
Lava's round-toward-zero in the decays.
"""

from __future__ import annotations

import torch
from torch import nn

from lavabridge.errors import ValidationError
from lavabridge.nn.spatial import Conv2d, SumPool2d
from lavabridge.nn.surrogate import Surrogate
from lavabridge.semantics import Compare, Reset
from lavabridge.target import LOIHI2, LoihiTarget


class CubaLIF(nn.Module):
    """Current-based leaky integrate-and-fire neurons (Loihi's CUBA-LIF) over ``[T, B, N]``.

    Parameters
    ----------
    size : int
        Number of neurons.
    current_decay, voltage_decay : float
        Fractions in ``[0, 1]`` lost per step (``current_decay=1``: u holds only this step's input;
        ``voltage_decay=0``: no leak, an IF neuron). Rounded to Lava's 12-bit ``du``/``dv``.
    threshold : float
        Spike when ``v > threshold`` (``>=`` with ``compare=">="``).
    bias : bool
        Learn a per-neuron bias added to v every step (Loihi's neuron bias).
    reset : Reset or {"zero", "subtract"}
        ``"zero"`` is Loihi's hard reset; ``"subtract"`` subtracts the threshold in the spiking
        step (SpikingJelly's ``v_reset=None``; deployed on lavabridge's FlexLIF, CPU simulator
        only). The snnTorch kinds (``"subtract-next"``, ...) come from its importer.
    compare : Compare or {">", ">="}
    surrogate : Surrogate
        Backward-pass replacement of the step function.
    target : LoihiTarget
        Whose decay grid the decays are rounded to.
    """

    def __init__(
        self,
        size: int,
        *,
        current_decay: float = 1.0,
        voltage_decay: float = 0.0,
        threshold: float = 1.0,
        bias: bool = True,
        reset: Reset | str = Reset.ZERO,
        compare: Compare | str = Compare.GT,
        surrogate: Surrogate | None = None,
        target: LoihiTarget = LOIHI2,
    ) -> None:
        super().__init__()
        where = f"CubaLIF({size})"
        if size < 1:
            raise ValidationError(where, "size", f"must be >= 1, got {size}")
        for name, val in (("current_decay", current_decay), ("voltage_decay", voltage_decay)):
            if not 0.0 <= val <= 1.0:
                raise ValidationError(where, name, f"must lie in [0, 1], got {val}")
        if not threshold > 0:
            raise ValidationError(where, "threshold", f"must be > 0, got {threshold}")
        if reset not in {Reset.ZERO.value, Reset.SUBTRACT.value}:
            raise ValidationError(where, "reset", f"must be 'zero' or 'subtract', got {reset!r}")
        if compare not in {c.value for c in Compare}:
            raise ValidationError(where, "compare", f"must be '>' or '>=', got {compare!r}")
        self.size = size
        self.target = target
        self.du = target.decay_to_du(current_decay)
        self.dv = target.decay_to_dv(voltage_decay)
        self.reset = Reset(reset)
        self.compare = Compare(compare)
        self.surrogate = surrogate or Surrogate()
        self.register_buffer("threshold", torch.tensor(float(threshold)))
        if bias:
            self.bias = nn.Parameter(torch.zeros(size))
        else:
            self.register_buffer("bias", torch.zeros(size))

    @property
    def alpha_u(self) -> float:
        """Current retention per step: ``(4096 - (du + 1)) / 4096``."""
        return 1.0 - self.target.current_decay(self.du)

    @property
    def alpha_v(self) -> float:
        """Voltage retention per step: ``(4096 - dv) / 4096``."""
        return 1.0 - self.target.voltage_decay(self.dv)

    def extra_repr(self) -> str:
        return (
            f"{self.size}, du={self.du}, dv={self.dv}, threshold={float(self.threshold):.4g}, "
            f"reset={self.reset.value}, compare='{self.compare.value}', "
            f"surrogate={self.surrogate.name}"
        )

    def forward(
        self,
        current: torch.Tensor,
        recurrent: nn.Linear | None = None,
        bias_input: torch.Tensor | None = None,
        *,
        return_state: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Integrate ``current`` ``[T, B, N]``; returns spikes (and u, v when ``return_state``).

        ``recurrent`` adds ``W_rec s[t-1]`` to the current; ``bias_input`` ``[B, N]`` adds a
        per-sample bias to v (a bias-driven input layer).
        """
        T, B = current.shape[0], current.shape[1]
        u = current.new_zeros(B, self.size)
        v = current.new_zeros(B, self.size)
        s = current.new_zeros(B, self.size)
        bias = self.bias if bias_input is None else self.bias + bias_input
        thr = self.threshold
        spikes, us, vs = [], [], []
        for t in range(T):
            i_t = current[t] if recurrent is None else current[t] + recurrent(s)
            u = self.alpha_u * u + i_t
            v = self.alpha_v * v + u + bias
            s = self.surrogate(v - thr, inclusive=self.compare == Compare.GE)
            v = v * (1.0 - s.detach()) if self.reset == Reset.ZERO else v - s.detach() * thr
            spikes.append(s)
            if return_state:
                us.append(u)
                vs.append(v)
        out = torch.stack(spikes)
        if return_state:
            return out, torch.stack(us), torch.stack(vs)
        return out


def delay_one_step(x: torch.Tensor) -> torch.Tensor:
    """``y[t] = x[t - 1]``, ``y[0] = 0`` over the leading time axis: one Dense hop of latency."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]], dim=0)


class SpikingLayer(nn.Module):
    """``Dense -> CubaLIF`` (+ optional recurrent Dense), with Lava's one-step hop latency.

    ``synapse`` is an ``nn.Linear`` or an image synapse of :mod:`lavabridge.nn.spatial`
    (``Conv2d``, ``SumPool2d``, ``AvgPool2d``) on flat C-major tensors.

    ``synapse=None`` makes a bias-driven input layer: its input ``[B, N]`` (graded, e.g. pixel
    intensities times ``input_gain``) is added to v every step, as lava-dl's netx input layers do.
    """

    def __init__(
        self,
        neuron: CubaLIF,
        synapse: nn.Module | None = None,
        recurrent: nn.Linear | None = None,
        input_gain: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(synapse, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)):
            raise ValidationError(
                "SpikingLayer", "synapse", "max pooling has no Loihi synapse (a max of currents "
                "is not a weighted sum): use lavabridge.nn.AvgPool2d or SumPool2d, which pool "
                "the previous layer's spikes exactly (a depthwise Conv on Lava)",
            )  # fmt: skip
        if synapse is not None and not isinstance(synapse, (nn.Linear, Conv2d, SumPool2d)):
            raise ValidationError(
                "SpikingLayer", "synapse", f"{type(synapse).__name__} is not a synapse: use "
                "nn.Linear or lavabridge.nn.Conv2d / SumPool2d / AvgPool2d",
            )  # fmt: skip
        if recurrent is not None and not isinstance(recurrent, nn.Linear):
            raise ValidationError("SpikingLayer", "recurrent", "must be an nn.Linear")
        for name, lin in (("synapse", synapse), ("recurrent", recurrent)):
            if lin is not None and lin.out_features != neuron.size:
                raise ValidationError(
                    "SpikingLayer",
                    name,
                    f"out_features {lin.out_features} != neurons {neuron.size}",
                )
        if recurrent is not None and recurrent.in_features != neuron.size:
            raise ValidationError("SpikingLayer", "recurrent", "must be square (N x N)")
        self.synapse = synapse
        self.neuron = neuron
        self.recurrent = recurrent
        self.input_gain = input_gain

    def forward(
        self, x: torch.Tensor, *, num_steps: int | None = None, return_state: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Spikes in ``[T, B, N_in]`` (or graded ``[B, N]`` for an input layer) -> spikes ``[T, B, N]``."""
        if self.synapse is None:
            if num_steps is None:
                raise ValidationError(
                    "SpikingLayer", "num_steps", "required for a bias-driven input layer"
                )
            current = x.new_zeros(num_steps, x.shape[0], self.neuron.size)
            return self.neuron(
                current, self.recurrent, x * self.input_gain, return_state=return_state
            )
        current = self.synapse(delay_one_step(x))
        return self.neuron(current, self.recurrent, return_state=return_state)


class SpikingNet(nn.Module):
    """A chain of :class:`SpikingLayer` s; ``forward`` returns every layer's spikes ``[T, B, N_i]``."""

    def __init__(self, *layers: SpikingLayer) -> None:
        super().__init__()
        if not layers:
            raise ValidationError("SpikingNet", "layers", "needs at least one layer")
        self.layers = nn.ModuleList(layers)

    @property
    def bias_input(self) -> bool:
        """True when layer 0 is a bias-driven input layer (graded input ``[B, N]``)."""
        first: SpikingLayer = self.layers[0]
        return first.synapse is None

    def forward(
        self, x: torch.Tensor, *, num_steps: int | None = None, return_state: bool = False
    ) -> list[torch.Tensor] | list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Run all layers; ``x`` is spikes ``[T, B, n_in]`` or graded ``[B, n_in]`` (bias input)."""
        outs: list = []
        h = x
        for i, layer in enumerate(self.layers):
            res = layer(h, num_steps=num_steps if i == 0 else None, return_state=return_state)
            outs.append(res)
            h = res[0] if return_state else res
        return outs
