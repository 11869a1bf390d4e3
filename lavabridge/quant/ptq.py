"""Post-training quantization: a float IR graph (e.g. ``trace(model)``) -> QGraph + QuantReport.

Per layer, the float state maps to Lava's integer state by one scale ``S`` (v units per float unit),
with ``A = 2^act_shift`` and ``V = 2^vth_shift`` (both 64 on Loihi 2, :mod:`lavabridge.target`)::

    S = A * 2^weight_exp * sigma             W_int = round(sigma * W)   (8-bit mantissa by sign mode)
    (a_in << act_shift) = S * (W s)          vth = round(S * threshold / V)
    bias_mant << bias_exp = round(S * bias)  du, dv = the 12-bit decays the float model already uses

``sigma`` is as large as the 8-bit mantissa allows (best weight resolution), and ``weight_exp`` is the
largest exponent for which the calibrated peaks of u and v keep ``headroom_bits`` below Lava's 24-bit
limit and the threshold fits its 17-bit mantissa. Binary spikes between layers make every layer's
scale independent. With mixed-sign weights the mantissa is even (Lava drops the LSB of mixed weights
with ``num_weight_bits=8``), i.e. 8 significant bits including the sign.

Each node kind is lowered by its entry in :mod:`lavabridge.quant.lower`; a kind without one is
refused. Anything the target cannot express exactly is refused with :class:`UnsupportedError`, or,
where the policy allows it, recorded in the layer's ``approximations``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import UnsupportedError, ValidationError
from lavabridge.ir import ChainLayer, CubaLIF, Graph
from lavabridge.ir.chain import describe
from lavabridge.quant.calibrate import Calibration, calibrate, input_gain
from lavabridge.quant.encoding import InputEncoding
from lavabridge.quant.lower import NEURONS, SYNAPSES, NeuronInts, SynapseRule, describe_neuron
from lavabridge.quant.qgraph import QGraph, QLayer
from lavabridge.quant.qnodes import QSynapse, infer_sign_mode
from lavabridge.quant.report import LayerQuantReport, QuantPolicy, QuantReport
from lavabridge.semantics import Compare, InputKind, Reset
from lavabridge.target import LOIHI2, LoihiTarget, SignMode

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _headroom(peak: float, scale: float, target: LoihiTarget) -> float:
    if peak <= 0:
        return float(target.uv_bits - 1)
    return math.log2(target.max_uv / (peak * scale))


def quantize_bias(
    bias: F64,
    scale: float,
    target: LoihiTarget,
    fixed_exp: int | None = None,
    where: str = "",
    min_exp: int = 0,
) -> tuple[I64, I64]:
    """Per-neuron smallest exponent ``>= min_exp`` whose mantissa fits 13 bits (or
    ``fixed_exp`` for all)."""
    q = bias * scale
    lo, hi = target.bias_mant_range
    if fixed_exp is not None:
        mant = np.rint(q / 2.0**fixed_exp)
        if mant.size and (mant.min() < lo or mant.max() > hi):
            raise ValidationError(
                where, "bias", f"needs mantissas up to {np.abs(mant).max():.0f} at the fixed "
                f"bias_exp={fixed_exp}, beyond the 13-bit range [{lo}, {hi}]",
            )  # fmt: skip
        return mant.astype(np.int64), np.full(bias.shape, fixed_exp, np.int64)
    exp = np.full(bias.shape, min_exp, np.int64)
    for e in range(min_exp, target.bias_exp_range[1] + 1):
        exp = np.where(np.abs(np.rint(q / 2.0**exp)) > hi, e, exp)
    mant = np.clip(np.rint(q / 2.0**exp), *target.bias_mant_range).astype(np.int64)
    return mant, exp


def _scale_cap(
    threshold: float, cal: Calibration, policy: QuantPolicy, target: LoihiTarget
) -> float:
    """The largest scale S keeping the headroom and the 17-bit threshold mantissa."""
    limit = target.max_uv / 2.0**policy.headroom_bits
    peak = max(cal.u_peak, cal.v_peak, 1e-300)
    return min(limit / peak, target.vth_hw_max * (1 << target.vth_shift) / threshold)


def _choose_exp(sigma: float, cap: float, target: LoihiTarget) -> int:
    """Largest weight_exp with ``2^act_shift * 2^e * sigma <= cap``; the lowest if none fits."""
    best = target.weight_exp_range[0]
    for e in range(target.weight_exp_range[0], target.weight_exp_range[1] + 1):
        if (1 << target.act_shift) * 2.0**e * sigma <= cap:
            best = e
    return best


def _folded_bias(layer: ChainLayer, bias: F64, folds: bool) -> tuple[F64, tuple[str, ...]]:
    """The neuron bias plus every synapse bias (exact only where the neurons allow folding)."""
    notes: tuple[str, ...] = ()
    for node, role in ((layer.synapse, "synapse"), (layer.recurrent, "recurrent")):
        if node is None:
            continue
        extra = SYNAPSES.of(node, describe(layer.name, node)).bias(node)
        if extra is None:
            continue
        if not folds:
            raise UnsupportedError(
                f"{layer.name}: the {role} {node.kind} has a bias, which Loihi cannot express "
                "with a current decay (it would accumulate in u, and Loihi's bias adds to v): "
                "train without it (an imported snnTorch Synaptic / RSynaptic: its Linear or "
                "Conv2d with bias=False), with current_decay=1 (Leaky), or with a neuron bias "
                "(lavabridge's CubaLIF(bias=True) and Dense(bias=False))",
                node=layer.name,
                stage="quantizer",
                supported=("synapse bias with current_decay=1",),
            )
        bias = bias + extra
        notes += (
            f"{layer.name}: {role} {node.kind} bias folded into the neuron bias "
            "(exact for v; u excludes it)",
        )
    return bias, notes


@dataclass(frozen=True)
class _Scale:
    """A layer's scale: ``S = 2^act_shift * 2^exp * sigma``."""

    sigma: float
    exp: int
    modes: tuple[SignMode, ...]

    def value(self, target: LoihiTarget) -> float:
        return (1 << target.act_shift) * 2.0**self.exp * self.sigma


def _layer_scale(
    mats: list[F64], rules: list[SynapseRule], cap: float, policy: QuantPolicy,
    target: LoihiTarget, where: str,
) -> _Scale:  # fmt: skip
    modes = tuple(infer_sign_mode(m) for m in mats)
    peak_w = max((float(np.abs(m).max()) for m in mats), default=0.0)
    act = 1 << target.act_shift
    if peak_w == 0.0:
        return _Scale(cap / act, 0, modes)
    sigma = min(r.magnitude(md, target) for r, md in zip(rules, modes, strict=True)) / peak_w
    if not all(r.free_exp for r in rules):
        if policy.fixed_weight_exp not in (None, 0):
            raise UnsupportedError(
                f"{where}: QuantPolicy(fixed_weight_exp={policy.fixed_weight_exp}) cannot hold "
                "for a conv or pooling layer: Lava's Conv ignores weight_exp, so its layers use 0",
                node=where, stage="quantizer", supported=("fixed_weight_exp=None", "0"),
            )  # fmt: skip
        return _Scale(min(sigma, cap / act), 0, modes)
    if policy.fixed_weight_exp is None:
        return _Scale(sigma, _choose_exp(sigma, cap, target), modes)
    e = policy.fixed_weight_exp
    return _Scale(min(sigma, cap / (act * 2.0**e)), e, modes)  # coarser weights, not no headroom


def _grid_candidate(neuron: Any) -> bool:
    """An IF population with ``>=`` and zero reset (SpikingJelly's ``IFNode``)."""
    return (
        isinstance(neuron, CubaLIF)
        and neuron.compare == Compare.GE
        and neuron.reset == Reset.ZERO
        and neuron.current_decay == 1.0
        and neuron.voltage_decay == 0.0
    )


def _quantize_layer(
    graph: Graph,
    layer: ChainLayer,
    cal: Calibration,
    calibration: npt.ArrayLike,
    policy: QuantPolicy,
    target: LoihiTarget,
) -> tuple[QLayer, LayerQuantReport, InputEncoding | None]:
    lname = layer.name
    rule = NEURONS.of(layer.neuron, describe(lname, layer.neuron))
    synapses = [n for n in (layer.synapse, layer.recurrent) if n is not None]
    srules = [SYNAPSES.of(n, describe(lname, n)) for n in synapses]
    bias, folded = _folded_bias(
        layer, rule.bias(layer.neuron), rule.folds_synapse_bias(layer.neuron)
    )
    threshold = rule.threshold(layer.neuron)
    mats = [r.weight(n) for r, n in zip(srules, synapses, strict=True)]
    cap = _scale_cap(threshold, cal, policy, target)
    in_values = None
    if layer.synapse is None:  # bias input: gain * x + bias must fit the 13-bit mantissa << max
        in_values = input_gain(graph) * np.asarray(calibration, np.float64) + bias
        top = target.bias_mant_range[1] * 2.0 ** target.bias_exp_range[1]
        cap = min(cap, top / max(np.abs(in_values).max(), 1e-300))
    sc = _layer_scale(mats, srules, cap, policy, target, lname)
    notes: tuple[str, ...] = ()
    if mats and not any(np.any(m) for m in mats):
        notes = (f"{lname}: all weights are zero (the layer only sees its bias)",)
    scale = sc.value(target)
    vth = round(threshold * scale / (1 << target.vth_shift))
    if not policy.min_vth <= vth <= target.vth_range[1]:
        raise ValidationError(
            lname, "threshold", f"{threshold} maps to vth mantissa {vth} (scale {scale:.4g}), "
            f"outside [{policy.min_vth}, {target.vth_range[1]}]: rescale the layer's "
            "weights/threshold",
        )  # fmt: skip
    q_mats = [
        r.mantissa(m, sc.sigma, md, target) for r, m, md in zip(srules, mats, sc.modes, strict=True)
    ]
    encoding = None
    if in_values is None:
        # an IF with '>=' and zero reset runs on Lava's own LIF when its biases are multiples
        # of 64 (lower.on_grid): give it bias_exp >= 6 (a bias resolution of 64 / scale)
        grid = _grid_candidate(layer.neuron) and policy.fixed_bias_exp is None
        min_exp = target.vth_shift if grid else 0
        bm, bexp = quantize_bias(bias, scale, target, policy.fixed_bias_exp, lname, min_exp)
        bias_err = float(np.abs((bm << bexp) / scale - bias).max())
    else:
        encoding = InputEncoding.fit(scale, input_gain(graph), bias, in_values, target)
        size = layer.neuron.size
        bm, bexp = np.zeros(size, np.int64), np.full(size, encoding.bias_exp, np.int64)
        bias_err = 0.5 * 2.0**encoding.bias_exp / scale
    ints = NeuronInts(vth, bm, bexp, graded_input=in_values is not None)
    neuron, approx = rule.lower(layer.neuron, ints, policy, target, lname)
    qs: list[QSynapse] = [
        r.lower(n, q, sc.exp, md, target)
        for r, n, q, md in zip(srules, synapses, q_mats, sc.modes, strict=True)
    ]
    syn = qs[0] if layer.synapse is not None else None
    rec = qs[-1] if layer.recurrent is not None else None
    report = LayerQuantReport(
        name=lname,
        scale=scale,
        weight_exp=sc.exp,
        weight_scale=sc.sigma,
        sign_mode="/".join(md.name.lower() for md in sc.modes),
        clipped_fraction=max(
            (float(np.mean(np.abs(m * sc.sigma) > (1 << target.weight_bits))) for m in mats),
            default=0.0,
        ),
        max_weight_error=max(
            (float(np.abs(q / sc.sigma - m).max()) for q, m in zip(q_mats, mats, strict=True)),
            default=0.0,
        ),
        threshold=threshold,
        threshold_quantized=vth * (1 << target.vth_shift) / scale,
        max_bias_error=bias_err,
        u_peak=cal.u_peak,
        v_peak=cal.v_peak,
        u_headroom_bits=_headroom(cal.u_peak, scale, target),
        v_headroom_bits=_headroom(cal.v_peak, scale, target),
        approximations=tuple(f"{lname}: {a}" for a in approx) + notes + folded,
        neuron=describe_neuron(neuron),
        cpu_simulator_only=bool(getattr(neuron, "custom", False)),
    )
    return QLayer(lname, neuron, syn, rec, approx), report, encoding


def quantize(
    graph: Graph,
    calibration: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    policy: QuantPolicy | None = None,
    target: LoihiTarget = LOIHI2,
    name: str | None = None,
) -> tuple[QGraph, QuantReport]:
    """Quantize a float IR graph for the target's ``fixed_pt`` neurons and synapses.

    Parameters
    ----------
    graph : lavabridge.ir.Graph
        A layer chain (``lavabridge.nn.trace(model)`` gives one).
    calibration : array [B, T, n_in], or [B, n_in] for a bias-input graph
        Representative input; the float reference's u/v peaks on it set the headroom (and, for a
        bias input, the input's range sets its exponent).
    num_steps : int, optional
        Steps per sample of a bias-input graph's calibration.
    policy : QuantPolicy
        What to allow (approximations, fixed exponents, headroom).
    target : LoihiTarget
        Every constant and range comes from it.

    Returns
    -------
    (QGraph, QuantReport)

    Raises
    ------
    UnsupportedError
        A node kind without a lowering rule, or a semantic the target cannot express that the
        policy does not allow to approximate (the message names the layer and the option).
    ValidationError
        A threshold or bias that does not fit the target's integers at the chosen scale.
    """
    policy = policy or QuantPolicy()
    cals = calibrate(graph, calibration, num_steps)
    layers: list[QLayer] = []
    reports: list[LayerQuantReport] = []
    encoding: InputEncoding | None = None
    for layer, cal in zip(graph.layer_chain(), cals, strict=True):
        qlayer, report, enc = _quantize_layer(graph, layer, cal, calibration, policy, target)
        layers.append(qlayer)
        reports.append(report)
        encoding = encoding or enc
    kind = InputKind.SPIKES if encoding is None else InputKind.BIAS
    qgraph = QGraph(graph.input_size, tuple(layers), kind, name or graph.name, target, encoding)
    return qgraph, QuantReport(tuple(reports), policy, encoding)
