"""The discrete-time semantics that are data: one enum each, shared by the IR and the QGraph.

* :class:`Reset` — what a spike does to ``v``;
* :class:`Compare` — how ``v`` is compared with the threshold;
* :class:`InputKind` — how a network's input enters its first layer;
* :class:`Approximation` — a semantic the deployment does not reproduce exactly, allowed by the
  user (``QuantPolicy(allow_approximations=True)``) and then carried in the model, its files and
  every report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


class Reset(str, enum.Enum):
    """What a spike does to ``v``, and when. With ``w[t]`` the voltage after the step's decay,
    current and bias, ``th`` the threshold, ``>`` the layer's compare and
    ``R[t] = v[t-1] > th`` read on the stored v of the previous step::

        zero              s[t] = w[t] > th;            v[t] = 0 where s[t]   (Loihi's LIF)
        subtract          s[t] = w[t] > th;            v[t] = w[t] - th s[t]
        none              s[t] = w[t] > th;            v[t] = w[t]
        zero-next         v[t] = (1 - R[t]) w[t];      s[t] = v[t] > th
        subtract-next     v[t] = w[t] - th R[t];       s[t] = v[t] > th
        subtract-guarded  s[t] = w[t] - th R[t] > th;  v[t] = w[t] - th s[t]

    The ``-next`` kinds store v before the reset, so there ``R[t]`` is the previous step's
    spike and the reset acts one step late (``subtract-next``: not decayed; ``zero-next``: the
    whole next step, its input included, is zeroed). ``subtract`` is SpikingJelly's
    ``v_reset=None``. ``zero-next`` is snnTorch's ``Synaptic`` / ``RLeaky`` / ``RSynaptic`` zero reset with
    ``reset_delay=True`` (the next step's v is 0, its input lost); ``subtract-next`` is
    snnTorch's default (subtract, ``reset_delay=True``); ``subtract-guarded`` is snnTorch's
    subtract with ``reset_delay=False``, whose test subtracts the threshold once more while the
    previous (reset) v is still above it. snnTorch's ``Leaky`` zero
    reset is ``zero`` for either ``reset_delay`` (the same spikes and u; v differs only at the
    spiking steps, where snnTorch shows it before the reset).
    """

    ZERO = "zero"
    SUBTRACT = "subtract"
    NONE = "none"
    ZERO_NEXT = "zero-next"
    SUBTRACT_NEXT = "subtract-next"
    SUBTRACT_GUARDED = "subtract-guarded"


class Compare(str, enum.Enum):
    """How ``v`` is compared with the threshold: ``>`` (Loihi, snnTorch) or ``>=`` (SpikingJelly)."""

    GT = ">"
    GE = ">="


LOIHI_RESETS = frozenset({Reset.ZERO})
"""The resets Loihi's built-in LIF computes (the others need a custom neuron)."""


def fires(x: npt.NDArray[Any], th: Any, compare: Compare) -> npt.NDArray[np.bool_]:
    """``x > th`` (or ``x >= th``), elementwise."""
    return np.greater_equal(x, th) if compare == Compare.GE else np.greater(x, th)


def reset_bias(
    reset: Reset, compare: Compare, v_prev: npt.NDArray[Any], th: Any
) -> npt.NDArray[Any] | None:
    """The term the reset adds to the step's update before the compare (``subtract-next``:
    ``-th R[t]``, see :class:`Reset`), or ``None`` for the other kinds."""
    if reset != Reset.SUBTRACT_NEXT:
        return None
    return -th * fires(v_prev, th, compare).astype(v_prev.dtype)


def apply_reset(
    reset: Reset, compare: Compare, w: npt.NDArray[Any], v_prev: npt.NDArray[Any], th: Any
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """``(v[t], s[t])`` from the updated voltage ``w[t]`` (for ``subtract-next``, after
    :func:`reset_bias`) and the stored ``v[t-1]``, by the table of :class:`Reset`. Works on any
    numeric dtype (float64 for the float reference, int64 for the golden emulator)."""
    if reset == Reset.ZERO_NEXT:
        v = np.where(fires(v_prev, th, compare), np.zeros_like(w), w)
        return v, fires(v, th, compare)
    if reset == Reset.SUBTRACT_NEXT:
        return w, fires(w, th, compare)
    if reset == Reset.SUBTRACT_GUARDED:
        s = fires(w - th * fires(v_prev, th, compare).astype(w.dtype), th, compare)
        return w - th * s.astype(w.dtype), s
    s = fires(w, th, compare)
    if reset == Reset.ZERO:
        return np.where(s, np.zeros_like(w), w), s
    if reset == Reset.SUBTRACT:
        return w - th * s.astype(w.dtype), s
    return w, s


class InputKind(str, enum.Enum):
    """How the input enters: binary spikes into a synapse, or a graded bias into the first neurons."""

    SPIKES = "spikes"
    BIAS = "bias"


@dataclass(frozen=True)
class Approximation:
    """A source semantic deployed as something else, because the user allowed it.

    Parameters
    ----------
    param : str
        The neuron parameter (``"reset"``, ``"compare"``).
    source : str
        What the source model asks for (``"subtract"``, ``">="``).
    deployed : str
        What the deployed network computes instead (``"zero"``, ``">"``).
    effect : str
        When the two differ, in words.
    """

    param: str
    source: str
    deployed: str
    effect: str

    def __str__(self) -> str:
        return f"{self.param} {self.source!r} deployed as {self.deployed!r} ({self.effect})"

    def to_dict(self) -> dict[str, str]:
        """The four fields (what ``.lbq`` files and reports store)."""
        return {
            "param": self.param,
            "source": self.source,
            "deployed": self.deployed,
            "effect": self.effect,
        }
