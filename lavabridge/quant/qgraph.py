"""The quantized graph (``QGraph``): a network in Lava's integer units, ready to emulate or export.

A QGraph is a chain of layers. Each layer is a CUBA-LIF population fed by a Dense connection from
the previous layer (or from the input), optionally with a recurrent Dense from the population to
itself. All values are the integers handed to Lava's ``Dense`` / ``DelayDense`` / ``LIF`` processes
(see :mod:`lavabridge.quant.target` for the arithmetic).

Timing (Lava's ``LoihiProtocol``): every Dense hop adds one time step, a DelayDense with delay ``d``
adds ``1 + d``. Input column ``t`` (0-based) is presented at Lava time step ``t + 1``.

Two input kinds:

``InputKind.SPIKES``
    the input is a binary spike train ``[B, T, n_in]`` feeding layer 0's Dense (nonzero = spike, as
    Lava's binary Dense does; lavabridge refuses non-binary values instead of collapsing them).
``InputKind.BIAS``
    layer 0 has no synapse: its neurons are driven through ``bias_mant`` by a graded, per-sample
    value ``[B, n_in]`` held for all T steps (how lava-dl's netx ``input`` layers take images).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import ValidationError
from lavabridge.quant.target import LOIHI2, LoihiTarget, SignMode

IntArray = npt.NDArray[np.int64]


class InputKind(str, enum.Enum):
    """How the graph's input enters layer 0."""

    SPIKES = "spikes"
    BIAS = "bias"


class ResetMode(str, enum.Enum):
    """What a spike does to v. Lava's built-in LIF only has ``ZERO`` (hard reset)."""

    ZERO = "zero"


def _frozen_int_array(
    value: Any, shape: tuple[int, ...] | None, where: str, param: str
) -> IntArray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.trunc(arr)):
            raise ValidationError(where, param, "must hold integers (got non-integral floats)")
    elif arr.dtype.kind not in "iub":
        raise ValidationError(where, param, f"must hold integers (got dtype {arr.dtype})")
    arr = arr.astype(np.int64)
    if shape is not None:
        if arr.ndim == 0:
            arr = np.full(shape, int(arr), dtype=np.int64)
        if arr.shape != shape:
            raise ValidationError(where, param, f"shape {arr.shape} != expected {shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _check_int(value: Any, lo: int, hi: int, where: str, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValidationError(where, param, f"must be an int in [{lo}, {hi}] (got {value!r})")
    if not lo <= int(value) <= hi:
        raise ValidationError(where, param, f"{int(value)} is outside the legal range [{lo}, {hi}]")
    return int(value)


def _check_range(arr: IntArray, lo: int, hi: int, where: str, param: str) -> None:
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr[(arr < lo) | (arr > hi)]
        raise ValidationError(
            where,
            param,
            f"{bad.size} value(s) outside [{lo}, {hi}] (min {arr.min()}, max {arr.max()})",
        )


def infer_sign_mode(weights: npt.ArrayLike) -> SignMode:
    """Sign mode as Lava infers it (``lava.utils.weightutils.determine_sign_mode``)."""
    w = np.asarray(weights)
    if w.size == 0 or w.min() >= 0:
        return SignMode.EXCITATORY
    if w.max() <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


@dataclass(frozen=True, eq=False)
class QDense:
    """A Dense (or DelayDense) connection in Lava's integer units.

    Parameters
    ----------
    weights : array (n_out, n_in) of int
        Raw weights as passed to Lava. Must lie in the sign mode's 8-bit range (Lava would clip
        silently beyond it; lavabridge refuses).
    weight_exp : int
        Shift of the summed input: ``a = (W_eff @ s) << weight_exp`` (``>>`` with floor when < 0).
    num_weight_bits : int
        Lava drops ``8 - num_weight_bits + is_mixed`` LSBs of each weight (floor):
        ``W_eff = (W >> n) << n``.
    sign_mode : SignMode or None
        ``None`` infers it from the weights the way Lava does.
    delays : array (n_out, n_in) of int, optional
        Synaptic delays in ``[0, 62]``; a spike arrives ``1 + delay`` steps after it was sent.
    """

    weights: IntArray
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: SignMode | None = None
    delays: IntArray | None = None

    def __post_init__(self) -> None:
        w = _frozen_int_array(self.weights, None, "QDense", "weights")
        if w.ndim != 2:
            raise ValidationError("QDense", "weights", f"must be 2-D (n_out, n_in), got {w.shape}")
        object.__setattr__(self, "weights", w)
        sm = infer_sign_mode(w) if self.sign_mode is None else SignMode(self.sign_mode)
        object.__setattr__(self, "sign_mode", sm)
        if self.delays is not None:
            object.__setattr__(
                self, "delays", _frozen_int_array(self.delays, w.shape, "QDense", "delays")
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)``."""
        return (int(self.weights.shape[0]), int(self.weights.shape[1]))

    @property
    def mode(self) -> SignMode:
        """The sign mode (never ``None`` after construction)."""
        assert self.sign_mode is not None  # set in __post_init__
        return self.sign_mode

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay (0 without delays)."""
        return 0 if self.delays is None or self.delays.size == 0 else int(self.delays.max())

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        """Raise :class:`ValidationError` if a value is outside what Lava computes exactly."""
        lo, hi = target.weight_clip_range(self.mode)
        _check_range(self.weights, lo, hi, where, f"weights ({self.mode.name.lower()} sign mode)")
        _check_int(self.weight_exp, *target.weight_exp_range, where, "weight_exp")
        _check_int(self.num_weight_bits, *target.num_weight_bits_range, where, "num_weight_bits")
        if target.truncate_bits(self.mode, self.num_weight_bits) < 0:
            raise ValidationError(
                where,
                "num_weight_bits",
                f"{self.num_weight_bits} is only legal with mixed sign mode "
                f"(max {target.weight_bits} for {self.mode.name.lower()})",
            )
        if self.delays is not None:
            _check_range(self.delays, 0, target.max_delay, where, "delays")

    def effective_weights(self, target: LoihiTarget = LOIHI2) -> IntArray:
        """The weights Lava's Dense multiplies with: clipped by sign mode, then LSB-truncated."""
        lo, hi = target.weight_clip_range(self.mode)
        w = np.clip(self.weights, lo, hi)
        n = target.truncate_bits(self.mode, self.num_weight_bits)
        if self.mode == SignMode.INHIBITORY:
            return -(((-w) >> n) << n)
        return (w >> n) << n


@dataclass(frozen=True, eq=False)
class QCubaLIF:
    """A CUBA-LIF population in Lava's integer units (one ``lava.proc.lif.process.LIF``).

    Parameters
    ----------
    size : int
        Number of neurons.
    du, dv : int
        Current and voltage decays (12 bit): current retention ``(4095 - du) / 4096``,
        voltage retention ``(4096 - dv) / 4096``.
    vth : int
        Threshold mantissa: spike when ``v > vth << 6``.
    bias_mant, bias_exp : array (size,) of int
        Bias added to v every step: ``bias_mant << bias_exp``.
    reset : ResetMode
        Only ``ZERO`` (v := 0 on a spike, u kept), as Lava's LIF does.
    """

    size: int
    du: int
    dv: int
    vth: int
    bias_mant: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    bias_exp: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    reset: ResetMode = ResetMode.ZERO

    def __post_init__(self) -> None:
        n = _check_int(self.size, 1, 1 << 24, "QCubaLIF", "size")
        bm = self.bias_mant if np.size(self.bias_mant) else 0
        be = self.bias_exp if np.size(self.bias_exp) else 0
        object.__setattr__(self, "bias_mant", _frozen_int_array(bm, (n,), "QCubaLIF", "bias_mant"))
        object.__setattr__(self, "bias_exp", _frozen_int_array(be, (n,), "QCubaLIF", "bias_exp"))
        object.__setattr__(self, "reset", ResetMode(self.reset))

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        """Raise :class:`ValidationError` if a value is outside what Lava computes exactly."""
        _check_int(self.du, *target.du_range, where, "du")
        _check_int(self.dv, *target.dv_range, where, "dv")
        _check_int(self.vth, *target.vth_range, where, "vth")
        _check_range(self.bias_mant, *target.bias_mant_range, where, "bias_mant")
        _check_range(self.bias_exp, *target.bias_exp_range, where, "bias_exp")

    def effective_bias(self) -> IntArray:
        """``bias_mant << bias_exp`` in v units."""
        return self.bias_mant << self.bias_exp


@dataclass(frozen=True, eq=False)
class QLayer:
    """One layer: ``synapse`` into ``neuron``, plus an optional recurrent Dense ``neuron -> neuron``.

    ``synapse`` is ``None`` only for layer 0 of a :attr:`InputKind.BIAS` graph.
    """

    name: str
    neuron: QCubaLIF
    synapse: QDense | None = None
    recurrent: QDense | None = None

    @property
    def size(self) -> int:
        """Number of neurons."""
        return self.neuron.size


@dataclass(frozen=True, eq=False)
class QGraph:
    """A quantized layer chain in Lava's integer units. Validated on construction.

    Parameters
    ----------
    n_in : int
        Input width.
    layers : tuple of QLayer
        Execution order; layer ``i`` feeds layer ``i + 1``.
    input_kind : InputKind
        ``SPIKES`` (binary spikes into layer 0's Dense) or ``BIAS`` (graded per-sample values
        written to layer 0's ``bias_mant``; layer 0 then has no synapse and ``n_in`` neurons).
    name : str
        A label for reports.
    target : LoihiTarget
        The constants and ranges the graph is checked against.
    """

    n_in: int
    layers: tuple[QLayer, ...]
    input_kind: InputKind = InputKind.SPIKES
    name: str = "qgraph"
    target: LoihiTarget = LOIHI2

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_kind", InputKind(self.input_kind))
        self.validate()

    def validate(self) -> None:
        """Check structure and every parameter range; raise :class:`ValidationError` naming it."""
        _check_int(self.n_in, 1, 1 << 24, f"graph '{self.name}'", "n_in")
        if not self.layers:
            raise ValidationError(f"graph '{self.name}'", "layers", "needs at least one layer")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValidationError(f"graph '{self.name}'", "layers", f"duplicate names in {names}")
        prev = self.n_in
        for i, layer in enumerate(self.layers):
            where = f"layer {i} '{layer.name}'"
            layer.neuron.validate(where, self.target)
            if layer.synapse is None:
                if not (i == 0 and self.input_kind == InputKind.BIAS):
                    raise ValidationError(
                        where, "synapse", "missing (only layer 0 of a bias-input graph has none)"
                    )
                if layer.size != self.n_in:
                    raise ValidationError(
                        where, "size", f"{layer.size} != n_in {self.n_in} (bias-driven input layer)"
                    )
                if np.any(layer.neuron.bias_mant):
                    raise ValidationError(
                        where, "bias_mant", "must be 0: the bias input supplies it per sample"
                    )
            else:
                if i == 0 and self.input_kind == InputKind.BIAS:
                    raise ValidationError(
                        where, "synapse", "layer 0 of a bias-input graph takes no synapse"
                    )
                layer.synapse.validate(f"{where} synapse", self.target)
                if layer.synapse.shape != (layer.size, prev):
                    raise ValidationError(
                        f"{where} synapse",
                        "weights",
                        f"shape {layer.synapse.shape} != (n_out={layer.size}, n_in={prev})",
                    )
            if layer.recurrent is not None:
                layer.recurrent.validate(f"{where} recurrent", self.target)
                if layer.recurrent.shape != (layer.size, layer.size):
                    raise ValidationError(
                        f"{where} recurrent",
                        "weights",
                        f"shape {layer.recurrent.shape} != ({layer.size}, {layer.size})",
                    )
            prev = layer.size

    @property
    def sizes(self) -> tuple[int, ...]:
        """Neuron count of each layer."""
        return tuple(layer.size for layer in self.layers)

    def connections(self) -> Iterator[tuple[int, str, QDense]]:
        """Yield ``(layer_index, "synapse" | "recurrent", QDense)`` for every connection."""
        for i, layer in enumerate(self.layers):
            if layer.synapse is not None:
                yield i, "synapse", layer.synapse
            if layer.recurrent is not None:
                yield i, "recurrent", layer.recurrent


def _value_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is not None and b is not None and np.array_equal(a, b)
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_value_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_value_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def graphs_equal(a: QGraph, b: QGraph) -> bool:
    """True when two QGraphs hold the same structure and the same integers (names included)."""
    return _value_equal(a, b)
