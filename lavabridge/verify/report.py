"""``VerifyReport``: what :func:`lavabridge.verify.verify` found, as typed data and JSON.

The JSON layout (``to_json``) is documented field by field in ``docs/verify-report-schema.md``;
``VerifyReport.from_json`` reads it back into the same dataclasses (fields added since a report
was written take their defaults). Markdown: :func:`lavabridge.verify.markdown.render`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lavabridge import atomic
from lavabridge.errors import LavaBridgeError, ModelFileError
from lavabridge.verify.compare import Divergence, LayerAgreement, LayerExact, SourceCheck
from lavabridge.verify.health import LayerHealth

SCHEMA_NAME = "lavabridge.verify-report"
MAX_REPORT_BYTES = 1 << 26
SCHEMA_VERSION = 1


class VerificationError(LavaBridgeError, AssertionError):
    """Golden and Lava (or a recording and its snapshot) are not bit-identical.

    An ``AssertionError``, so pytest shows it as a test failure with its message.
    """


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the verified QGraph.

    ``neuron`` / ``synapse`` name the node kinds; ``approximations`` lists the source semantics
    the layer does not reproduce, as the user allowed at quantization (empty when exact);
    ``shape`` is the population's ``(C, H, W)`` for an image layer, else ``(size,)``;
    ``semantics`` the deployed reset / compare / bias start in words, and
    ``cpu_simulator_only`` whether the layer runs on lavabridge's FlexLIF (Loihi 2 would need
    custom neuron microcode).
    """

    name: str
    size: int
    du: int
    dv: int
    vth: int
    recurrent: bool
    neuron: str = "CubaLIF"
    synapse: str | None = None
    approximations: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    semantics: str = ""
    cpu_simulator_only: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """The verified model: where it came from and its shape."""

    name: str
    source: str
    float_source: str | None
    n_in: int
    input_kind: str
    layers: tuple[LayerInfo, ...]


@dataclass(frozen=True)
class GoldenLava:
    """Golden emulator vs Lava: these must be identical.

    ``samples`` ran on Lava; spikes are compared on all of them, u and v on ``states_samples``
    (all by default; with ``probe_uv=False`` the samples whose spikes differ plus the plotted one).
    ``lava_graph_differs`` is true when Lava ran another QGraph than golden (fault injection).
    """

    ran: bool
    identical: bool | None
    samples: int
    states_samples: int
    lava_graph_differs: bool
    layers: tuple[LayerExact, ...]
    first_divergence: Divergence | None


@dataclass(frozen=True)
class OracleAccuracy:
    """Classification accuracy of one oracle (spike count of the output layer)."""

    oracle: str
    accuracy: float
    samples: int


@dataclass(frozen=True)
class VerifyReport:
    """Float reference vs golden emulator vs Lava on the same input.

    Attributes
    ----------
    model : ModelInfo
    samples, num_steps : int
        Batch size and time steps of the verified input.
    golden_lava : GoldenLava
        The exact comparison (decides :attr:`passed`).
    float_quant : tuple of LayerAgreement
        Float reference vs golden per layer (empty without a float model).
    tau : float
        Time constant (steps) of the van Rossum distance.
    accuracy : tuple of OracleAccuracy
        Empty without labels.
    health : tuple of LayerHealth
        Fixed-point events of the golden run.
    timings : dict
        Wall-clock seconds per phase.
    versions : dict
        lavabridge, lava-nc and numpy versions.
    readout : str
        How ``accuracy`` decodes a class: ``"spikes"`` (output spike count) or ``"v"`` (final
        membrane potential of a non-spiking output layer).
    source : SourceCheck or None
        For an imported model: its framework's own spikes vs the float reference.
    """

    model: ModelInfo
    samples: int
    num_steps: int
    golden_lava: GoldenLava
    float_quant: tuple[LayerAgreement, ...]
    tau: float
    accuracy: tuple[OracleAccuracy, ...]
    health: tuple[LayerHealth, ...]
    timings: dict[str, float]
    versions: dict[str, str]
    readout: str = "spikes"
    source: SourceCheck | None = None
    artifacts: Any = field(default=None, compare=False, repr=False)  # recordings for plots

    # ------------------------------------------------------------------ verdict
    @property
    def passed(self) -> bool:
        """True when Lava ran and matched the golden emulator exactly."""
        return self.golden_lava.ran and bool(self.golden_lava.identical)

    @property
    def status(self) -> str:
        """``"identical"``, ``"mismatch"`` or ``"lava-not-run"``."""
        if not self.golden_lava.ran:
            return "lava-not-run"
        return "identical" if self.golden_lava.identical else "mismatch"

    def summary(self) -> str:
        """One line: the verdict and where it came from."""
        gl = self.golden_lava
        if not gl.ran:
            return f"Lava was not run: golden vs Lava not checked ({self.samples} samples)"
        if gl.identical:
            return (
                f"golden == Lava: identical spikes on {gl.samples} samples x {self.num_steps} "
                f"steps (u and v on {gl.states_samples})"
            )
        return str(gl.first_divergence) if gl.first_divergence else "golden != Lava"

    def raise_for_mismatch(self) -> None:
        """Raise :class:`VerificationError` unless golden and Lava were identical."""
        if self.passed:
            return
        if not self.golden_lava.ran:
            raise VerificationError("golden vs Lava was not checked: verify ran with lava=False")
        counts = "; ".join(
            f"layer {e.layer} '{e.name}': {e.spikes_differing} spike(s)"
            + (f", {e.u_differing} u" if e.u_differing else "")
            + (f", {e.v_differing} v" if e.v_differing else "")
            + f" differ in {e.samples_differing} sample(s)"
            for e in self.golden_lava.layers
            if e.first_step is not None
        )
        raise VerificationError(f"{self.summary()}. Differences: {counts}")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (documented in ``docs/verify-report-schema.md``)."""
        body = {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "artifacts"
        }
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "passed": self.passed,
            "status": self.status,
            **body,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text (non-finite floats as ``null``); also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            atomic.write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyReport:
        """Rebuild a report from :meth:`to_dict` output (``artifacts`` are not stored)."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ModelFileError(f"not a {SCHEMA_NAME} document (schema={found!r})")
        if data.get("schema_version") not in range(1, SCHEMA_VERSION + 1):
            raise ModelFileError(
                f"{SCHEMA_NAME}: schema_version {data.get('schema_version')!r} is not "
                f"1..{SCHEMA_VERSION}"
            )
        try:
            return typing.cast(VerifyReport, _build(cls, data))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
                OverflowError) as exc:  # fmt: skip
            raise ModelFileError(f"{SCHEMA_NAME}: malformed document ({exc!r})") from exc

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> VerifyReport:
        """Read a report from JSON text or a ``report.json`` path.

        Raises
        ------
        ModelFileError
            Unreadable, oversized (over 64 MiB) or malformed documents, naming the file.
        """
        text = str(text_or_path)
        where = "<text>"
        try:
            if not text.lstrip().startswith("{"):
                where = text
                path = Path(text_or_path)
                if path.stat().st_size > MAX_REPORT_BYTES:
                    raise ModelFileError(f"{path}: too large for a VerifyReport")
                text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except ModelFileError:
            raise
        except (OSError, ValueError, RecursionError) as exc:
            raise ModelFileError(f"{where}: not a readable VerifyReport ({exc})") from exc
        try:
            return cls.from_dict(data)
        except ModelFileError as exc:
            raise ModelFileError(f"{where}: {exc}") from exc


# ----------------------------------------------------------------------------- (de)serialising
def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value


def _build(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if data is None else _build(args[0], data)
    if origin is tuple:
        (item, *_) = typing.get_args(tp)
        return tuple(_build(item, d) for d in data)
    if origin is dict:
        return dict(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: _build(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name != "artifacts" and f.name in data  # newer fields: their defaults
        }
        return tp(**kwargs)
    if tp is float:
        if data is not None and (isinstance(data, bool) or not isinstance(data, (int, float))):
            raise TypeError(f"expected a number, got {data!r}")
        return float("nan") if data is None else float(data)
    if tp in (int, str, bool) and (
        not isinstance(data, tp) or (tp is int and isinstance(data, bool))
    ):
        raise TypeError(f"expected {tp.__name__}, got {data!r}")
    return data
