"""Custom Lava processes of lavabridge (installed as ``lavabridge.processes``).

Each process lives in its own folder (``process.py`` + ``models.py``) because Lava imports every
module beside a Process's file to find its ProcessModels. Most are I/O and control processes for
the CPU simulator (streaming input, bulk recording, state reset between samples); the network itself
is built from Lava's own Dense, DelayDense, Conv and LIF processes, and from ``FlexLIF`` where a
neuron's reset or threshold test is not Lava's LIF's (CPU simulator only: Loihi 2 would need
custom neuron microcode).
"""
