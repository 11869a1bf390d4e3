"""Golden emulator: QGraphs run in integers, bit-exact with Lava's ``fixed_pt`` models."""

from lavabridge.backends.golden.emulator import emulate

__all__ = ["emulate"]
