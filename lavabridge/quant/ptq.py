"""Post-training quantization: a float IR graph (e.g. ``trace(model)``) -> QGraph + QuantReport.

Per layer, the float state maps to Lava's integer state by one scale ``S`` (v units per float unit)::

    S = 64 * 2^weight_exp * sigma            W_int = round(sigma * W)   (8-bit mantissa by sign mode)
    (a_in << 6) = S * (W s)                  vth = round(S * threshold / 64)
    bias_mant << bias_exp = round(S * bias)  du, dv = the 12-bit decays the float model already uses

``sigma`` is as large as the 8-bit mantissa allows (best weight resolution), and ``weight_exp`` is the
largest exponent for which the calibrated peaks of u and v keep ``headroom_bits`` below Lava's 24-bit
limit and the threshold fits its 17-bit mantissa. Binary spikes between layers make every layer's
scale independent. With mixed-sign weights the mantissa is even (Lava drops the LSB of mixed weights
with ``num_weight_bits=8``), i.e. 8 significant bits including the sign.

Anything the target cannot express exactly is reported in the layer's ``approximations`` (or refused
with :class:`UnsupportedError` when the policy does not allow approximating it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError, UnsupportedError, ValidationError
from lavabridge.ir import ChainLayer, Graph
from lavabridge.quant.qgraph import InputKind, QCubaLIF, QDense, QGraph, QLayer
from lavabridge.quant.target import LOIHI2, LoihiTarget, SignMode, decay_to_du, decay_to_dv


@dataclass(frozen=True)
class QuantPolicy:
    """What the user asks of quantization.

    Parameters
    ----------
    headroom_bits : float
        Keep calibrated peaks of |u| and |v| at least this many bits below 2^23.
    allow_approximations : bool
        Quantize constructs Lava's LIF cannot express exactly (subtract reset, ``>=``), reporting
        them, instead of raising :class:`UnsupportedError`.
    min_vth : int
        Refuse (``ValidationError``) a layer whose threshold mantissa would fall below this.
    fixed_weight_exp : int, optional
        Use this ``weight_exp`` in every layer (shrinking the weight scale where the headroom needs
        it) instead of the largest that fits.
    fixed_bias_exp : int, optional
        Use this ``bias_exp`` for every neuron instead of the smallest that fits.

    ``QuantPolicy.netx()`` (``weight_exp = 0``, ``bias_exp = 6``) makes models lava-dl's netx can
    store exactly: netx derives the weight exponent from the stored weights and fixes
    ``bias_exp = 6`` (see ``lavabridge.exporters.netx.netx_limits``).
    """

    headroom_bits: float = 1.0
    allow_approximations: bool = True
    min_vth: int = 1
    fixed_weight_exp: int | None = None
    fixed_bias_exp: int | None = None

    @classmethod
    def netx(cls, **kwargs: Any) -> QuantPolicy:
        """The policy whose models lava-dl's netx HDF5 format can hold exactly."""
        return cls(fixed_weight_exp=0, fixed_bias_exp=6, **kwargs)


@dataclass(frozen=True)
class LayerQuantReport:
    """How one layer was quantized and what it cost.

    ``scale`` is S (integer v units per float unit); errors are in float units.
    """

    name: str
    scale: float
    weight_exp: int
    weight_scale: float
    sign_mode: str
    clipped_fraction: float
    max_weight_error: float
    threshold: float
    threshold_quantized: float
    max_bias_error: float
    u_peak: float
    v_peak: float
    u_headroom_bits: float
    v_headroom_bits: float
    approximations: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputEncoding:
    """How float input of a bias-input graph becomes the integer bias mantissas Lava takes.

    ``mantissa = round(scale * (gain * x + bias) / 2^bias_exp)`` per neuron (13-bit, checked).
    """

    scale: float
    bias_exp: int
    gain: float
    bias: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        scale: float,
        gain: float,
        bias: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
        target: LoihiTarget,
    ) -> InputEncoding:
        """The smallest exponent for which the calibration values fit the 13-bit mantissa."""
        peak = float(np.abs(values).max()) * scale
        exp = 0
        while exp < target.bias_exp_range[1] and round(peak / 2**exp) > target.bias_mant_range[1]:
            exp += 1
        return cls(
            scale, exp, gain, tuple(float(b) for b in np.broadcast_to(bias, values.shape[-1:]))
        )

    def encode(self, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Float input ``[B, n_in]`` -> bias mantissas; raises ``InputError`` beyond 13 bits."""
        q = np.rint(
            self.scale
            * (self.gain * np.asarray(x, np.float64) + np.asarray(self.bias))
            / 2.0**self.bias_exp
        )
        lo, hi = LOIHI2.bias_mant_range
        if q.size and (q.min() < lo or q.max() > hi):
            raise InputError(
                f"input: encoded bias mantissas reach [{q.min():.0f}, {q.max():.0f}], beyond the "
                f"13-bit range [{lo}, {hi}]: the input exceeds the calibration range; quantize "
                "again with representative calibration data"
            )
        return q.astype(np.int64)


@dataclass(frozen=True)
class QuantReport:
    """Per-layer reports of one quantization run."""

    layers: tuple[LayerQuantReport, ...]
    policy: QuantPolicy
    input_encoding: InputEncoding | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _headroom(peak: float, scale: float, target: LoihiTarget) -> float:
    if peak <= 0:
        return float(target.uv_bits - 1)
    return math.log2(target.max_uv / (peak * scale))


def _sign_mode(w: npt.NDArray[np.float64]) -> SignMode:
    if w.size == 0 or w.min() >= 0:
        return SignMode.EXCITATORY
    if w.max() <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


def _weight_mantissa(
    w: npt.NDArray[np.float64], sigma: float, mode: SignMode
) -> npt.NDArray[np.int64]:
    if mode == SignMode.MIXED:  # even values: Lava drops the LSB of mixed-sign weights
        return np.clip(2 * np.rint(w * sigma / 2), -256, 254).astype(np.int64)
    lo, hi = LOIHI2.weight_clip_range(mode)
    return np.clip(np.rint(w * sigma), lo, hi).astype(np.int64)


def _bias(
    bias: npt.NDArray[np.float64],
    scale: float,
    target: LoihiTarget,
    fixed_exp: int | None = None,
    where: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron smallest exponent whose mantissa fits 13 bits (or ``fixed_exp`` for all)."""
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
    exp = np.zeros(bias.shape, np.int64)
    for e in range(target.bias_exp_range[1] + 1):
        exp = np.where(np.abs(np.rint(q / 2.0**exp)) > hi, e, exp)
    mant = np.clip(np.rint(q / 2.0**exp), *target.bias_mant_range).astype(np.int64)
    return mant, exp


@dataclass(frozen=True)
class _Calib:
    u_peak: float
    v_peak: float


def calibrate(graph: Graph, x: npt.ArrayLike, num_steps: int | None = None) -> list[_Calib]:
    """Peak |u| and a bound on the peak pre-reset |v| per layer, from the float reference."""
    from lavabridge.reference import interpret

    rec = interpret(graph, x, num_steps=num_steps, probe_uv=True)
    assert rec.u is not None and rec.v is not None  # probe_uv=True records both
    cal = []
    for layer, u, v in zip(graph.layer_chain(), rec.u, rec.v, strict=True):
        u_peak = float(np.abs(u).max()) if u.size else 0.0
        bias_peak = float(np.abs(layer.neuron.bias).max())
        in_peak = (
            float(np.abs(np.asarray(x, np.float64)).max()) * _gain(graph)
            if layer.synapse is None
            else 0.0
        )
        v_peak = max(float(np.abs(v).max()), layer.neuron.threshold) + u_peak + bias_peak + in_peak
        cal.append(_Calib(u_peak, v_peak))
    return cal


def _scale_cap(threshold: float, cal: _Calib, policy: QuantPolicy, target: LoihiTarget) -> float:
    """The largest scale S keeping the headroom and the 17-bit threshold mantissa."""
    limit = target.max_uv / 2.0**policy.headroom_bits
    peak = max(cal.u_peak, cal.v_peak, 1e-300)
    return min(limit / peak, target.vth_hw_max * 64 / threshold)


def _choose_exp(sigma: float, cap: float, target: LoihiTarget) -> int:
    """Largest weight_exp with ``64 * 2^e * sigma <= cap``; the lowest if none fits."""
    best = target.weight_exp_range[0]
    for e in range(target.weight_exp_range[0], target.weight_exp_range[1] + 1):
        if 64 * 2.0**e * sigma <= cap:
            best = e
    return best


def _gain(graph: Graph) -> float:
    """The bias-input gain of ``graph``'s Input node (1 for spike input)."""
    return float(getattr(graph.nodes[graph.input_name], "gain", 1.0))


def _folded_bias(layer: ChainLayer, lname: str) -> tuple[npt.NDArray[np.float64], tuple[str, ...]]:
    bias = np.asarray(layer.neuron.bias, np.float64) * np.ones(layer.neuron.size)
    notes: tuple[str, ...] = ()
    for dense, what in ((layer.synapse, "synapse"), (layer.recurrent, "recurrent")):
        if dense is None or dense.bias is None or not np.any(dense.bias):
            continue
        if layer.neuron.current_decay != 1.0:
            raise UnsupportedError(
                f"{lname}: the {what} Dense has a bias, which Loihi cannot express with "
                f"current_decay={layer.neuron.current_decay} (it would accumulate in u); "
                "use a neuron bias (CubaLIF(bias=True)) and Dense(bias=False)"
            )
        bias = bias + np.asarray(dense.bias, np.float64)
        notes += (
            f"{lname}: {what} Dense bias folded into the neuron bias (exact for v; u excludes it)",
        )
    return bias, notes


def quantize(
    graph: Graph,
    calibration: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    policy: QuantPolicy | None = None,
    target: LoihiTarget = LOIHI2,
    name: str | None = None,
) -> tuple[QGraph, QuantReport]:
    """Quantize a float IR graph for Lava's ``fixed_pt`` LIF + Dense.

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
    target : LoihiTarget

    Returns
    -------
    (QGraph, QuantReport)
    """
    policy = policy or QuantPolicy()
    cal = calibrate(graph, calibration, num_steps)
    layers: list[QLayer] = []
    reports: list[LayerQuantReport] = []
    encoding: InputEncoding | None = None
    for i, layer in enumerate(graph.layer_chain()):
        lname = layer.name
        neuron = layer.neuron
        approx = _semantic_approximations(neuron, lname, policy)
        bias, folded = _folded_bias(layer, lname)
        threshold = float(neuron.threshold)
        denses = [d for d in (layer.synapse, layer.recurrent) if d is not None]
        mats = [np.asarray(d.weight, np.float64) for d in denses]
        peak_w = max((float(np.abs(m).max()) for m in mats), default=0.0)
        modes = [_sign_mode(m) for m in mats]
        cap = _scale_cap(threshold, cal[i], policy, target)
        in_values = None
        if layer.synapse is None:  # bias input: gain * x + bias must fit 13 bits << 7
            in_values = _gain(graph) * np.asarray(calibration, np.float64) + bias
            cap = min(
                cap, target.bias_mant_range[1] * 2.0**7 / max(np.abs(in_values).max(), 1e-300)
            )
        if peak_w == 0.0:
            if mats:
                approx += (f"{lname}: all weights are zero (the layer only sees its bias)",)
            sigma, e = cap / 64, 0
        else:
            sigma = min(254.0 if md == SignMode.MIXED else 255.0 for md in modes) / peak_w
            if policy.fixed_weight_exp is None:
                e = _choose_exp(sigma, cap, target)
            else:
                e = policy.fixed_weight_exp
                sigma = min(sigma, cap / (64 * 2.0**e))  # coarser weights rather than no headroom
        scale = 64 * 2.0**e * sigma
        vth = round(threshold * scale / 64)
        if not policy.min_vth <= vth <= target.vth_range[1]:
            raise ValidationError(
                lname,
                "threshold",
                f"{threshold} maps to vth mantissa {vth} (scale {scale:.4g}), outside "
                f"[{policy.min_vth}, {target.vth_range[1]}]: rescale the layer's weights/threshold",
            )
        q_mats = [_weight_mantissa(m, sigma, md) for m, md in zip(mats, modes, strict=True)]
        errs = [float(np.abs(q / sigma - m).max()) for q, m in zip(q_mats, mats, strict=True)]
        clipped = [float(np.mean(np.abs(m * sigma) > 256)) for m in mats]
        if in_values is None:
            bm, bexp = _bias(bias, scale, target, policy.fixed_bias_exp, lname)
            bias_err = float(np.abs((bm << bexp) / scale - bias).max())
        else:
            encoding = InputEncoding.fit(scale, _gain(graph), bias, in_values, target)
            bm, bexp = np.zeros(neuron.size, np.int64), np.full(neuron.size, encoding.bias_exp)
            bias_err = 0.5 * 2.0**encoding.bias_exp / scale
        qd = [
            QDense(q, weight_exp=e, num_weight_bits=8, sign_mode=md, delays=d.delay)
            for q, md, d in zip(q_mats, modes, denses, strict=True)
        ]
        layers.append(
            QLayer(
                lname,
                QCubaLIF(
                    neuron.size,
                    decay_to_du(neuron.current_decay),
                    decay_to_dv(neuron.voltage_decay),
                    vth,
                    bm,
                    bexp,
                ),
                qd[0] if layer.synapse is not None else None,
                qd[-1] if layer.recurrent is not None else None,
            )
        )
        reports.append(
            LayerQuantReport(
                name=lname,
                scale=scale,
                weight_exp=e,
                weight_scale=sigma,
                sign_mode="/".join(md.name.lower() for md in modes),
                clipped_fraction=max(clipped, default=0.0),
                max_weight_error=max(errs, default=0.0),
                threshold=threshold,
                threshold_quantized=vth * 64 / scale,
                max_bias_error=bias_err,
                u_peak=cal[i].u_peak,
                v_peak=cal[i].v_peak,
                u_headroom_bits=_headroom(cal[i].u_peak, scale, target),
                v_headroom_bits=_headroom(cal[i].v_peak, scale, target),
                approximations=approx + folded,
            )
        )
    kind = InputKind.SPIKES if encoding is None else InputKind.BIAS
    qgraph = QGraph(graph.input_size, tuple(layers), kind, name or graph.name, target)
    return qgraph, QuantReport(tuple(reports), policy, encoding)


def _semantic_approximations(neuron: Any, lname: str, policy: QuantPolicy) -> tuple[str, ...]:
    notes = []
    if neuron.reset == "subtract":
        notes.append(f"{lname}: subtract reset deployed as Lava's hard reset (v := 0)")
    if neuron.compare == ">=":
        notes.append(
            f"{lname}: '>=' deployed as Loihi's '>' (differs only when v equals the threshold)"
        )
    if notes and not policy.allow_approximations:
        raise UnsupportedError(
            "; ".join(notes) + " — set QuantPolicy(allow_approximations=True) to accept"
        )
    return tuple(notes)
