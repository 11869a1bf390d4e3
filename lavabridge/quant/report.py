"""What the user asks of quantization (:class:`QuantPolicy`) and what it cost (:class:`QuantReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lavabridge.quant.encoding import InputEncoding


@dataclass(frozen=True)
class QuantPolicy:
    """What the user asks of quantization.

    Parameters
    ----------
    headroom_bits : float
        Keep calibrated peaks of |u| and |v| at least this many bits below 2^23.
    allow_approximations : bool
        ``False`` (the default): a neuron semantic Lava's LIF cannot compute (a reset other than
        zero, ``>=``) is deployed exactly on lavabridge's ``FlexLIF`` process (CPU simulator
        only). ``True``: deploy it approximately on Lava's LIF and record the
        :class:`~lavabridge.semantics.Approximation` in the layer (and so in ``.lbq`` files,
        ``lavabridge info`` and every VerifyReport).
    custom_neurons : bool
        ``False`` (a Loihi 2 target): refuse, with :class:`~lavabridge.errors.UnsupportedError`
        naming the layer, what would need ``FlexLIF`` (unless ``allow_approximations``).
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
    allow_approximations: bool = False
    custom_neurons: bool = True
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
    ``approximations`` lists, as text, what the layer does not reproduce exactly (semantics the
    policy allowed to approximate, folded synapse biases, an all-zero weight matrix).
    ``neuron`` names the deployed neuron semantics (reset, compare, bias start);
    ``cpu_simulator_only``: it runs on lavabridge's ``FlexLIF`` (Loihi 2 would need custom
    neuron microcode). ``spike_agreement``: the fraction of (sample, step, neuron) where the float
    model's and the deployed model's spikes agree on the calibration input, where a stage
    measured it (``lavabridge quantize`` of an import run).
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
    neuron: str = "reset='zero', compare='>'"
    cpu_simulator_only: bool = False
    spike_agreement: float | None = None


@dataclass(frozen=True)
class QuantReport:
    """Per-layer reports of one quantization run."""

    layers: tuple[LayerQuantReport, ...]
    policy: QuantPolicy
    input_encoding: InputEncoding | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``quant_report.json`` holds)."""
        return asdict(self)
