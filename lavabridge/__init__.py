"""lavabridge: deploy spiking neural networks to Intel Loihi through Lava, and prove it bit-exact.

The flow: a network becomes a :class:`~lavabridge.quant.QGraph` (integers in Lava's units), which
runs in the golden emulator (:func:`lavabridge.backends.golden.emulate`), exports to real Lava
processes (:mod:`lavabridge.exporters.lava`, run by :class:`lavabridge.backends.lava.LavaSession`)
and to lava-dl netx HDF5 (:mod:`lavabridge.exporters.netx`). Every backend returns a
:class:`~lavabridge.recording.Recording` with the same indexing. ``docs/architecture.md`` maps the
modules onto this data flow.
"""

from lavabridge.backends.golden import emulate
from lavabridge.errors import (
    InputError,
    LavaBridgeError,
    LavaRuntimeError,
    ModelFileError,
    UnsupportedError,
    ValidationError,
)
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer
from lavabridge.recording import Recording
from lavabridge.semantics import Compare, InputKind, Reset
from lavabridge.signals import Interrupted
from lavabridge.target import LOIHI2, SignMode

__version__ = "0.1.0"

__all__ = [
    "LOIHI2",
    "Compare",
    "InputError",
    "InputKind",
    "Interrupted",
    "LavaBridgeError",
    "LavaRuntimeError",
    "ModelFileError",
    "QCubaLIF",
    "QDense",
    "QGraph",
    "QLayer",
    "Recording",
    "Reset",
    "SignMode",
    "UnsupportedError",
    "ValidationError",
    "emulate",
]
