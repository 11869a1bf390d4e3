"""Quantization stage: the quantized graph (QGraph), its nodes, and post-training quantization."""

from lavabridge.quant.encoding import InputEncoding
from lavabridge.quant.qgraph import QGraph, QLayer, graphs_equal
from lavabridge.quant.qnodes import (
    QCubaLIF,
    QCubaLIFReset,
    QDense,
    QNeuron,
    QNode,
    QSynapse,
    infer_sign_mode,
)
from lavabridge.quant.qspatial import QConv
from lavabridge.semantics import Approximation, Compare, InputKind, Reset
from lavabridge.target import LOIHI2, LoihiTarget, SignMode

__all__ = [
    "LOIHI2",
    "Approximation",
    "Compare",
    "InputEncoding",
    "InputKind",
    "LoihiTarget",
    "QConv",
    "QCubaLIF",
    "QCubaLIFReset",
    "QDense",
    "QGraph",
    "QLayer",
    "QNeuron",
    "QNode",
    "QSynapse",
    "Reset",
    "SignMode",
    "graphs_equal",
    "infer_sign_mode",
]
