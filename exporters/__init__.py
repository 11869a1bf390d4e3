"""Exporters (installed as ``lavabridge.exporters``): QGraph -> Lava process graph, netx HDF5."""
