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

A neuron semantic Lava's LIF cannot compute (a reset other than zero, ``>=``) is kept exactly
(the layer then runs on lavabridge's ``FlexLIF``, CPU simulator only), except ``>=`` with zero
reset on the 64-grid (:func:`on_grid`), which is ``>`` with ``vth - 1`` on Lava's LIF; or, when
the policy asks for it, deployed approximately on Lava's LIF and returned as an
:class:`~lavabridge.semantics.Approximation` the layer records.
"""

from __future__ import annotations

import dataclasses
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
    graded_input: bool = False  # a bias input writes per-sample mantissas into bias_mant


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


LIF_RESET_EFFECT = "after a spike v is set to 0 in the same step instead"
LIF_COMPARE_EFFECT = "differs only where v equals the threshold exactly"


def lif_semantics(
    reset: Reset, compare: Compare, policy: QuantPolicy, where: str
) -> tuple[Reset, Compare, tuple[Approximation, ...]]:
    """The reset and compare a layer is deployed with, and what that does not reproduce.

    Exact by default: a semantic Lava's LIF (zero reset, ``>``) cannot compute is kept, and the
    layer runs on lavabridge's ``FlexLIF`` process (CPU simulator only). With
    ``policy.allow_approximations`` it is deployed on Lava's LIF instead, and the
    :class:`~lavabridge.semantics.Approximation` is returned (and recorded).

    Raises
    ------
    UnsupportedError
        ``policy.custom_neurons`` false (a Loihi 2 target) and the semantic needs ``FlexLIF``,
        without ``allow_approximations``; the message names the layer and both options.
    """
    approx = []
    if reset != Reset.ZERO:
        approx.append(Approximation("reset", reset.value, Reset.ZERO.value, LIF_RESET_EFFECT))
    if compare != Compare.GT:
        approx.append(Approximation("compare", compare.value, Compare.GT.value, LIF_COMPARE_EFFECT))
    if not approx:
        return reset, compare, ()
    if policy.allow_approximations:
        return Reset.ZERO, Compare.GT, tuple(approx)
    if not policy.custom_neurons:
        wanted = ", ".join(f"{a.param}={a.source!r}" for a in approx)
        raise UnsupportedError(
            f"{where}: {wanted} cannot be expressed by Lava's built-in LIF (zero reset, '>'), and "
            "QuantPolicy(custom_neurons=False) refuses lavabridge's FlexLIF process (CPU simulator "
            "only); allow it, or quantize with QuantPolicy(allow_approximations=True) to deploy "
            + "; ".join(str(a) for a in approx)
            + " (the approximation is recorded in the model and shown in its reports)",
            node=where,
            stage="quantizer",
            supported=("reset='zero'", "compare='>'"),
        )
    return reset, compare, ()


def on_grid(neuron: QCubaLIF, target: LoihiTarget) -> bool:
    """Whether ``>=`` with zero reset is ``>`` with ``vth - 1`` on Lava's LIF: every value of v
    is then a multiple of 64 (``du = 4095``: u is ``a_in << 6``; ``dv = 0``: no truncating
    decay; biases multiples of 64; the 24-bit wrap and int32 wraps keep multiples of 64), so
    ``v >= 64 vth`` is ``v > 64 (vth - 1)``. (A v held at the negative saturation bound, which
    the health check reports, would leave the grid.)"""
    unity = target.decay_unity
    return (
        neuron.reset == Reset.ZERO
        and neuron.compare == Compare.GE
        and neuron.vth >= 1
        and neuron.du + target.ds_offset == unity
        and neuron.dv + target.dm_offset == 0
        and not np.any(neuron.effective_bias() % (1 << target.vth_shift))
    )


def describe_neuron(neuron: QNeuron) -> str:
    """The deployed semantics of a population in words, e.g. ``reset='subtract-next',
    compare='>', bias from step 2 (FlexLIF, CPU simulator only)``."""
    reset = getattr(neuron, "reset", Reset.ZERO)
    compare = getattr(neuron, "compare", Compare.GT)
    text = f"reset={Reset(reset).value!r}, compare={Compare(compare).value!r}"
    start = int(getattr(neuron, "bias_start", 0))
    if start:
        text += f", bias from step {start}"
    if getattr(neuron, "custom", False):
        text += " (FlexLIF, CPU simulator only)"
    return text


def _lower_cuba(
    n: CubaLIF, ints: NeuronInts, policy: QuantPolicy, target: LoihiTarget, where: str
) -> tuple[QCubaLIF, tuple[Approximation, ...]]:
    reset, compare, approx = lif_semantics(n.reset, n.compare, policy, where)
    q = QCubaLIF(
        n.size,
        target.decay_to_du(n.current_decay),
        target.decay_to_dv(n.voltage_decay),
        ints.vth,
        ints.bias_mant,
        ints.bias_exp,
        reset,
        compare,
        n.bias_start,
    )
    if on_grid(q, target) and not ints.graded_input:
        q = dataclasses.replace(q, vth=q.vth - 1, compare=Compare.GT)
    return q, approx


CUBA = NeuronRule(
    threshold=lambda n: float(n.threshold),
    bias=lambda n: np.asarray(n.bias, np.float64) * np.ones(n.size),
    folds_synapse_bias=lambda n: n.current_decay == 1.0,
    lower=_lower_cuba,
)

SYNAPSES: Table[SynapseRule] = Table("quantizer", {Dense: DENSE, Spatial: SPATIAL})
NEURONS: Table[NeuronRule] = Table("quantizer", {CubaLIF: CUBA})
