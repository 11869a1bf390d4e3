"""Quantization stage: the Loihi target table and the quantized graph (QGraph)."""

from lavabridge.quant.qgraph import (
    InputKind,
    QCubaLIF,
    QDense,
    QGraph,
    QLayer,
    ResetMode,
    graphs_equal,
    infer_sign_mode,
)
from lavabridge.quant.target import LOIHI2, LoihiTarget, SignMode

__all__ = [
    "LOIHI2",
    "InputKind",
    "LoihiTarget",
    "QCubaLIF",
    "QDense",
    "QGraph",
    "QLayer",
    "ResetMode",
    "SignMode",
    "graphs_equal",
    "infer_sign_mode",
]
