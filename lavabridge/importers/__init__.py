"""Front ends: model files and foreign frameworks -> QGraph or float IR.

``load_model`` opens ``.lbq`` / netx ``.net`` files; ``read_netx`` reads lava-dl netx HDF5.
``snntorch.from_snntorch`` and ``spikingjelly.from_spikingjelly`` turn models of those frameworks
into the float IR with their exact neuron semantics (``torchlayers`` is what they share;
``source.source_spikes`` runs the framework's own model for comparison); ``nir.read_nir`` reads
NIR graphs with an explicit time step, discretisation and reset (``nirsim.run_nir`` runs a NIR
graph node by node, for comparison). Each is imported on use: the framework packages load only
when asked for.
(``lavabridge.nn.trace`` is the front end of lavabridge's own torch layers.)
"""
