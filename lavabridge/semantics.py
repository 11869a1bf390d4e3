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


class Reset(str, enum.Enum):
    """What a spike does to ``v``: set it to 0 (Loihi's LIF), or subtract the threshold."""

    ZERO = "zero"
    SUBTRACT = "subtract"


class Compare(str, enum.Enum):
    """How ``v`` is compared with the threshold: ``>`` (Loihi, snnTorch) or ``>=`` (SpikingJelly)."""

    GT = ">"
    GE = ">="


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
