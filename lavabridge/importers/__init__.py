"""Front ends: model files and foreign frameworks -> QGraph or float IR.

``load_model`` opens ``.lbq`` / netx ``.net`` files; ``read_netx`` reads lava-dl netx HDF5.
(``lavabridge.nn.trace`` is the front end of lavabridge's own torch layers.)
"""
