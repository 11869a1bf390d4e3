"""The quantizer's dispatch tables: how each IR node kind is read and lowered to a QGraph node.

:data:`SYNAPSES` and :data:`NEURONS` map an IR node class to its rule. A layer shares one scale
``S`` (integer v units per float unit, chosen by :func:`lavabridge.quant.ptq.quantize`); given it,
a rule turns the float node into the integers Lava computes with::

    Dense:   W_int = mantissa(sigma W)  (the sign mode's 8-bit grid), weight_exp = e,
             where S = 2^act_shift 2^e sigma
    Conv, SumPool2d, AvgPool2d (a QConv):  W_int = round(sigma W) within +-255, e = 0 (Lava's
             Conv ignores weight_exp), so S = 2^act_shift sigma; an average pool's 1/(kH kW)
             is folded into that scale, i.e. into the threshold and bias of the neurons it feeds
    CubaLIF: vth = round(S threshold / 2^vth_shift),  bias_mant << bias_exp = round(S bias),
             du, dv = the 12-bit decays the float model already uses

A neuron semantic the deployed LIF cannot compute (subtract reset, ``>=``) is refused, or, when
the policy allows it, deployed approximately and returned as an
:class:`~lavabridge.semantics.Approximation` the layer records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.dispatch import Table
from lavabridge.errors import UnsupportedError
from lavabridge.ir import CubaLIF, Dense, Spatial
from lavabridge.quant.qnodes import QCubaLIF, QDense, QNeuron, QSynapse
from lavabridge.quant.qspatial import QConv
from lavabridge.quant.report import QuantPolicy
from lavabridge.semantics import Approximation, Compare, Reset
from lavabridge.target import LoihiTarget, SignMode

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def weight_mantissa(w: F64, sigma: float, mode: SignMode, target: LoihiTarget) -> I64:
    """``sigma * w`` on the sign mode's grid of effective 8-bit weights (even values when mixed:
    Lava drops the LSB of mixed-sign weights), clipped to its rails."""
    lo, hi, step = target.weight_grid(mode)
    return np.clip(step * np.rint(w * sigma / step), lo, hi).astype(np.int64)


@dataclass(frozen=True)
class SynapseRule:
    """How the quantizer reads and lowers one synapse kind.

    Attributes
    ----------
    weight : node -> float matrix (n_out, n_in)
        What the layer's scale is chosen from.
    bias : node -> float vector (n_out,) or None
        A bias the synapse adds to the current every step (folded into the neuron bias).
    lower : (node, mantissas, weight_exp, sign mode, target) -> QSynapse
    mantissa : (weights, sigma, sign mode, target) -> integer weights
    magnitude : (sign mode, target) -> the largest integer weight magnitude ``sigma`` maps to
    free_exp : whether the layer may choose ``weight_exp`` (Dense), or it is 0 (Conv)
    """

    weight: Callable[[Any], F64]
    bias: Callable[[Any], F64 | None]
    lower: Callable[[Any, I64, int, SignMode, LoihiTarget], QSynapse]
    mantissa: Callable[[F64, float, SignMode, LoihiTarget], I64] = weight_mantissa
    magnitude: Callable[[SignMode, LoihiTarget], int] = LoihiTarget.weight_magnitude_of
    free_exp: bool = True  # False: the process ignores weight_exp, the layer's exponent is 0


def _dense_bias(d: Dense) -> F64 | None:
    if d.bias is None or not np.any(d.bias):
        return None
    return np.asarray(d.bias, np.float64)


def _lower_dense(d: Dense, mant: I64, exp: int, mode: SignMode, target: LoihiTarget) -> QDense:
    return QDense(mant, weight_exp=exp, num_weight_bits=target.weight_bits, sign_mode=mode,
                  delays=d.delay)  # fmt: skip


DENSE = SynapseRule(
    weight=lambda d: np.asarray(d.weight, np.float64),
    bias=_dense_bias,
    lower=_lower_dense,
)


def conv_mantissa(w: F64, sigma: float, mode: SignMode, target: LoihiTarget) -> I64:
    """``round(sigma * w)`` within ``+-conv_weight_magnitude`` (Lava's Conv uses them as given)."""
    m = target.conv_weight_magnitude
    return np.clip(np.rint(w * sigma), -m, m).astype(np.int64)


def _spatial_bias(node: Spatial) -> F64 | None:
    """A conv bias per channel, as the per-neuron bias it adds (repeated over H x W)."""
    bias = getattr(node, "bias", None)
    if bias is None or not np.any(bias):
        return None
    _, h, w = node.out_shape
    return np.repeat(np.asarray(bias, np.float64), h * w)


def _lower_spatial(
    node: Spatial, mant: I64, exp: int, mode: SignMode, target: LoihiTarget
) -> QConv:
    g = node.geometry
    return QConv(mant, g.in_shape, g.stride, g.padding, g.dilation, g.groups)


SPATIAL = SynapseRule(
    weight=lambda n: n.kernel(),
    bias=_spatial_bias,
    lower=_lower_spatial,
    mantissa=conv_mantissa,
    magnitude=lambda mode, target: target.conv_weight_magnitude,
    free_exp=False,
)


@dataclass(frozen=True)
class NeuronInts:
    """The integers a layer's scale gives a neuron population."""

    vth: int
    bias_mant: I64
    bias_exp: I64


@dataclass(frozen=True)
class NeuronRule:
    """How the quantizer reads and lowers one neuron kind.

    Attributes
    ----------
    threshold, bias : node -> float, node -> float vector (size,)
    folds_synapse_bias : node -> bool
        Whether a synapse bias can join the neuron bias exactly (it adds to u otherwise).
    lower : (node, NeuronInts, policy, target, where) -> (QNeuron, approximations)
    """

    threshold: Callable[[Any], float]
    bias: Callable[[Any], F64]
    folds_synapse_bias: Callable[[Any], bool]
    lower: Callable[
        [Any, NeuronInts, QuantPolicy, LoihiTarget, str], tuple[QNeuron, tuple[Approximation, ...]]
    ]


LIF_RESET_EFFECT = "after a spike v is set to 0 instead of reduced by the threshold"
LIF_COMPARE_EFFECT = "differs only where v equals the threshold exactly"


def lif_semantics(
    reset: Reset, compare: Compare, policy: QuantPolicy, where: str
) -> tuple[Approximation, ...]:
    """What Lava's LIF (zero reset, ``>``) does not reproduce; refused unless the policy allows it.

    Raises
    ------
    UnsupportedError
        A subtract reset or ``>=`` with ``policy.allow_approximations`` false; the message names
        the layer and the option that allows the approximation.
    """
    approx = []
    if reset != Reset.ZERO:
        approx.append(Approximation("reset", reset.value, Reset.ZERO.value, LIF_RESET_EFFECT))
    if compare != Compare.GT:
        approx.append(Approximation("compare", compare.value, Compare.GT.value, LIF_COMPARE_EFFECT))
    if approx and not policy.allow_approximations:
        wanted = ", ".join(f"{a.param}={a.source!r}" for a in approx)
        raise UnsupportedError(
            f"{where}: {wanted} cannot be expressed by Lava's LIF (zero reset, '>'); "
            "quantize with QuantPolicy(allow_approximations=True) to deploy "
            + "; ".join(str(a) for a in approx)
            + " (the approximation is recorded in the model and shown in its reports)",
            node=where,
            stage="quantizer",
            supported=("reset='zero'", "compare='>'"),
        )
    return tuple(approx)


def _lower_cuba(
    n: CubaLIF, ints: NeuronInts, policy: QuantPolicy, target: LoihiTarget, where: str
) -> tuple[QCubaLIF, tuple[Approximation, ...]]:
    approx = lif_semantics(n.reset, n.compare, policy, where)
    q = QCubaLIF(
        n.size,
        target.decay_to_du(n.current_decay),
        target.decay_to_dv(n.voltage_decay),
        ints.vth,
        ints.bias_mant,
        ints.bias_exp,
    )
    return q, approx


CUBA = NeuronRule(
    threshold=lambda n: float(n.threshold),
    bias=lambda n: np.asarray(n.bias, np.float64) * np.ones(n.size),
    folds_synapse_bias=lambda n: n.current_decay == 1.0,
    lower=_lower_cuba,
)

SYNAPSES: Table[SynapseRule] = Table("quantizer", {Dense: DENSE, Spatial: SPATIAL})
NEURONS: Table[NeuronRule] = Table("quantizer", {CubaLIF: CUBA})
