"""The float IR: frozen, typed nodes and a graph that describe a spiking network (and never run it).

A network is a :class:`Graph` of :class:`Input`, :class:`Dense` and :class:`CubaLIF` nodes in
discrete time (one step of latency per Dense hop, Loihi's update order; the equations are in
:mod:`lavabridge.ir.nodes`). :meth:`Graph.layer_chain` gives the ``Input -> [Dense -> CubaLIF]*``
structure the quantizer turns into a :class:`~lavabridge.quant.QGraph`; :func:`save` and
:func:`load` keep a graph in one ``.npz`` file, bit for bit.
"""

from lavabridge.ir.graph import ChainLayer, Graph
from lavabridge.ir.nodes import (
    IF,
    LIF,
    NODE_TYPES,
    Compare,
    CubaLIF,
    Dense,
    Input,
    InputMode,
    Node,
    Reset,
)
from lavabridge.ir.serialize import load, save

__all__ = [
    "IF",
    "LIF",
    "NODE_TYPES",
    "ChainLayer",
    "Compare",
    "CubaLIF",
    "Dense",
    "Graph",
    "Input",
    "InputMode",
    "Node",
    "Reset",
    "load",
    "save",
]
