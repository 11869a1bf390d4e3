"""Custom Lava processes of lavabridge (installed as ``lavabridge.processes``).

Each process lives in its own folder (``process.py`` + ``models.py``) because Lava imports every
module beside a Process's file to find its ProcessModels. These are I/O and control processes for
the CPU simulator (streaming input, bulk recording, state reset between samples); the network itself
is built from Lava's own Dense, DelayDense and LIF processes.
"""
