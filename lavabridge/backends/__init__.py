"""Backends that run a QGraph and return a :class:`~lavabridge.recording.Recording`.

* :mod:`.golden` — the golden emulator (integers, bit-exact with Lava's ``fixed_pt`` models);
* :mod:`.lava` — :class:`~lavabridge.backends.lava.LavaSession`: the exported process graph on
  Lava's CPU simulator, streaming many samples through one compiled runtime;
* :mod:`.netx_lava` — a netx ``.net`` file loaded by lava-dl's own loader, on Lava.

They share the input checks (:mod:`.inputs`) and the streaming I/O wiring (:mod:`.streaming`).
"""
