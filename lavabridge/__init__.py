"""lavabridge: deploy spiking neural networks to Intel Loihi through Lava, and prove it bit-exact.

The flow: a network becomes a :class:`~lavabridge.quant.QGraph` (integers in Lava's units), which
runs in the golden emulator (:func:`lavabridge.golden.emulate`), exports to real Lava processes
(:mod:`lavabridge.exporters.lava`) and to lava-dl netx HDF5 (:mod:`lavabridge.exporters.netx`).
Every backend returns a :class:`~lavabridge.recording.Recording` with the same indexing.
"""

from lavabridge.errors import (
    InputError,
    LavaBridgeError,
    LavaRuntimeError,
    ModelFileError,
    UnsupportedError,
    ValidationError,
)
from lavabridge.golden import emulate
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer, SignMode
from lavabridge.recording import Recording

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "InputKind",
    "LavaBridgeError",
    "LavaRuntimeError",
    "ModelFileError",
    "QCubaLIF",
    "QDense",
    "QGraph",
    "QLayer",
    "Recording",
    "SignMode",
    "UnsupportedError",
    "ValidationError",
    "emulate",
]
