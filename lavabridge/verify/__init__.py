"""Verification suite: float reference vs golden emulator vs Lava, as a typed report.

>>> report = verify("model.lbq", x, labels=y, float_model="model.lbir")   # doctest: +SKIP
>>> report.passed, report.summary()                                       # doctest: +SKIP
>>> write_report(report, "out/")  # report.json, report.md, raster/traces/divergence PNGs  # doctest: +SKIP
>>> print(to_markdown(report))                                            # doctest: +SKIP
>>> report.raise_for_mismatch()                                           # doctest: +SKIP

Golden vs Lava must be identical (spikes, and u/v where compared); float vs quantized is measured
(:mod:`lavabridge.verify.compare`); fixed-point events are counted on the golden run
(:mod:`lavabridge.verify.health`). The JSON layout is documented in
``docs/verify-report-schema.md``.
"""

from lavabridge.verify.compare import Divergence, LayerAgreement, LayerExact, NeuronState
from lavabridge.verify.health import Event, LayerHealth
from lavabridge.verify.report import (
    GoldenLava,
    LayerInfo,
    ModelInfo,
    OracleAccuracy,
    VerificationError,
    VerifyReport,
)
from lavabridge.verify.run import VerifyArtifacts, verify
from lavabridge.verify.write import to_markdown, write_report

__all__ = [
    "Divergence",
    "Event",
    "GoldenLava",
    "LayerAgreement",
    "LayerExact",
    "LayerHealth",
    "LayerInfo",
    "ModelInfo",
    "NeuronState",
    "OracleAccuracy",
    "VerificationError",
    "VerifyArtifacts",
    "VerifyReport",
    "to_markdown",
    "verify",
    "write_report",
]
