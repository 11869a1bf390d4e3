"""The nodes of a QGraph: synapses and neuron populations in Lava's integer units.

Every node is a frozen dataclass with a ``kind`` (its name in ``.lbq`` files and in every stage's
dispatch table) and a ``role``: a :class:`QSynapse` (spikes to currents, e.g. :class:`QDense`) or a
:class:`QNeuron` population (e.g. :class:`QCubaLIF`). Fields marked ``array`` in their metadata are
int64 arrays (read-only); the others are scalars or enums. The integers are those handed to Lava's
``Dense`` / ``DelayDense`` / ``LIF`` processes (see :mod:`lavabridge.target` for the arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lavabridge.errors import ValidationError
from lavabridge.semantics import Compare, Reset
from lavabridge.target import LOIHI2, LoihiTarget, SignMode

IntArray = npt.NDArray[np.int64]

ARRAY: dict[str, Any] = {"array": True}  # field metadata: a required int64 array
OPTIONAL_ARRAY: dict[str, Any] = {"array": True, "optional": True}


def frozen_int_array(value: Any, shape: tuple[int, ...] | None, where: str, param: str) -> IntArray:
    """``value`` as a read-only int64 array (a scalar broadcasts to ``shape``), or refused."""
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


def check_int(value: Any, lo: int, hi: int, where: str, param: str) -> int:
    """``value`` as an int in ``[lo, hi]`` (bools refused), else :class:`ValidationError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValidationError(where, param, f"must be an int in [{lo}, {hi}] (got {value!r})")
    if not lo <= int(value) <= hi:
        raise ValidationError(where, param, f"{int(value)} is outside the legal range [{lo}, {hi}]")
    return int(value)


def check_range(arr: IntArray, lo: int, hi: int, where: str, param: str) -> None:
    """Raise :class:`ValidationError` naming how many values lie outside ``[lo, hi]``."""
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
class QNode:
    """Base of every QGraph node (not instantiable): ``kind`` names it, ``role`` places it."""

    kind: ClassVar[str] = "QNode"
    role: ClassVar[str] = ""

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        """Raise :class:`ValidationError` if a value is outside what the target computes exactly."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class QSynapse(QNode):
    """Base of the synapse role: ``shape = (n_out, n_in)``; spikes in, currents out."""

    role: ClassVar[str] = "synapse"

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)``."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class QNeuron(QNode):
    """Base of the neuron role: a population of ``size`` neurons with a per-neuron bias."""

    size: int

    role: ClassVar[str] = "neuron"


@dataclass(frozen=True, eq=False)
class QDense(QSynapse):
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

    weights: IntArray = field(metadata=ARRAY)
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: SignMode | None = None
    delays: IntArray | None = field(default=None, metadata=OPTIONAL_ARRAY)

    kind: ClassVar[str] = "Dense"

    def __post_init__(self) -> None:
        w = frozen_int_array(self.weights, None, "QDense", "weights")
        if w.ndim != 2:
            raise ValidationError("QDense", "weights", f"must be 2-D (n_out, n_in), got {w.shape}")
        object.__setattr__(self, "weights", w)
        sm = infer_sign_mode(w) if self.sign_mode is None else SignMode(self.sign_mode)
        object.__setattr__(self, "sign_mode", sm)
        if self.delays is not None:
            object.__setattr__(
                self, "delays", frozen_int_array(self.delays, w.shape, "QDense", "delays")
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
        check_range(self.weights, lo, hi, where, f"weights ({self.mode.name.lower()} sign mode)")
        check_int(self.weight_exp, *target.weight_exp_range, where, "weight_exp")
        check_int(self.num_weight_bits, *target.num_weight_bits_range, where, "num_weight_bits")
        if target.truncate_bits(self.mode, self.num_weight_bits) < 0:
            raise ValidationError(
                where,
                "num_weight_bits",
                f"{self.num_weight_bits} is only legal with mixed sign mode "
                f"(max {target.weight_bits} for {self.mode.name.lower()})",
            )
        if self.delays is not None:
            check_range(self.delays, 0, target.max_delay, where, "delays")

    def effective_weights(self, target: LoihiTarget = LOIHI2) -> IntArray:
        """The weights Lava's Dense multiplies with: clipped by sign mode, then LSB-truncated."""
        lo, hi = target.weight_clip_range(self.mode)
        w = np.clip(self.weights, lo, hi)
        n = target.truncate_bits(self.mode, self.num_weight_bits)
        if self.mode == SignMode.INHIBITORY:
            return -(((-w) >> n) << n)
        return (w >> n) << n


@dataclass(frozen=True, eq=False)
class QCubaLIF(QNeuron):
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
    reset : Reset
        What a spike does to v (the table of :class:`~lavabridge.semantics.Reset`, with the
        threshold ``vth << 6``). Lava's LIF computes ``ZERO`` (v := 0, u kept); the others run
        on lavabridge's ``FlexLIF`` process (CPU simulator only, see :attr:`custom`).
    compare : Compare
        ``GT`` (spike when ``v > vth << 6``), as Lava's LIF does; ``GE``: ``v >= vth << 6``.
    bias_start : int
        The first step (0-based, within a sample) at which ``bias_mant << bias_exp`` is added;
        0 before it (an imported layer's biases start with its first input).
    """

    du: int
    dv: int
    vth: int
    bias_mant: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), metadata=ARRAY)
    bias_exp: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), metadata=ARRAY)
    reset: Reset = Reset.ZERO
    compare: Compare = Compare.GT
    bias_start: int = 0

    kind: ClassVar[str] = "CubaLIF"

    def __post_init__(self) -> None:
        n = check_int(self.size, 1, 1 << 24, "QCubaLIF", "size")
        bm = self.bias_mant if np.size(self.bias_mant) else 0
        be = self.bias_exp if np.size(self.bias_exp) else 0
        object.__setattr__(self, "bias_mant", frozen_int_array(bm, (n,), "QCubaLIF", "bias_mant"))
        object.__setattr__(self, "bias_exp", frozen_int_array(be, (n,), "QCubaLIF", "bias_exp"))
        for name, enum_type in (("reset", Reset), ("compare", Compare)):
            try:
                object.__setattr__(self, name, enum_type(getattr(self, name)))
            except ValueError:
                allowed = " | ".join(repr(m.value) for m in enum_type)
                raise ValidationError(
                    "QCubaLIF", name, f"{getattr(self, name)!r} is not one of {allowed}"
                ) from None
        check_int(self.bias_start, 0, 1 << 24, "QCubaLIF", "bias_start")

    @property
    def custom(self) -> bool:
        """Whether Lava's built-in LIF cannot compute this population (reset other than
        ``ZERO`` or compare ``GE``): it runs on lavabridge's ``FlexLIF``, CPU simulator only
        (Loihi 2 would need custom neuron microcode)."""
        return self.reset != Reset.ZERO or self.compare != Compare.GT

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        """Raise :class:`ValidationError` if a value is outside what Lava computes exactly."""
        check_int(self.du, *target.du_range, where, "du")
        check_int(self.dv, *target.dv_range, where, "dv")
        check_int(self.vth, *target.vth_range, where, "vth")
        check_range(self.bias_mant, *target.bias_mant_range, where, "bias_mant")
        check_range(self.bias_exp, *target.bias_exp_range, where, "bias_exp")

    def effective_bias(self) -> IntArray:
        """``bias_mant << bias_exp`` in v units."""
        return self.bias_mant << self.bias_exp


@dataclass(frozen=True, eq=False)
class QCubaLIFReset(QCubaLIF):
    """A :class:`QCubaLIF` that Lava's ``LIFReset`` zeroes periodically (netx's ``reset_interval``).

    At Lava time step ``k`` (1-based, counted from the start of the run), when
    ``k % reset_interval == reset_offset % reset_interval``, u and v are set to 0 *before* the
    step integrates its input. netx staggers the offsets: layer ``i`` of a network loaded with
    ``Network(reset_interval=R, reset_offset=o)`` gets ``o + 1 + i`` (its first input arrives one
    step after the previous layer's). Runs must have ``num_steps`` a multiple of
    ``reset_interval``, so every sample sees the same phase (sample ``g`` starts at Lava step
    ``g * T + 1``); within a sample, IR step ``t`` resets where ``(t + 1) % R == offset % R``.
    """

    reset_interval: int = 1
    reset_offset: int = 0

    kind: ClassVar[str] = "CubaLIFReset"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.reset_interval, 1, 1 << 24, "QCubaLIFReset", "reset_interval")
        check_int(self.reset_offset, 0, 1 << 24, "QCubaLIFReset", "reset_offset")


def periodic_resets(interval: int, offset: int, num_steps: int) -> npt.NDArray[np.bool_]:
    """``(num_steps,)``: the IR steps of a sample at which a :class:`QCubaLIFReset` zeroes u and v
    before the update: ``(t + 1) % interval == offset % interval`` (none when ``interval <= 0``)."""
    if interval <= 0:
        return np.zeros(num_steps, np.bool_)
    return (np.arange(num_steps) + 1) % interval == offset % interval
