"""The float IR: frozen, typed nodes and a graph that describe a spiking network (and never run it).

A network is a :class:`Graph` of an :class:`Input`, synapses (:class:`Dense`, and on images
:class:`Conv2d`, :class:`SumPool2d`, :class:`AvgPool2d`) and neuron
populations (:class:`CubaLIF`) in discrete time (one step of latency per synapse hop, Loihi's
update order; the equations are in :mod:`lavabridge.ir.nodes`). :meth:`Graph.layer_chain` gives
the ``Input -> [synapse -> neuron]*`` structure the quantizer turns into a
:class:`~lavabridge.quant.QGraph`; :func:`interpret` runs a graph in float64 (the float
reference); :func:`save` and :func:`load` keep a graph in one ``.lbir`` file, bit for bit.
"""

from lavabridge.ir.chain import ChainLayer
from lavabridge.ir.graph import Graph
from lavabridge.ir.kinds import NODE_TYPES
from lavabridge.ir.nodes import IF, LIF, CubaLIF, Dense, Input, Neuron, Node, Synapse
from lavabridge.ir.reference import interpret
from lavabridge.ir.serialize import load, save
from lavabridge.ir.spatial import AvgPool2d, Conv2d, Spatial, SumPool2d
from lavabridge.semantics import Compare, InputKind, Reset

__all__ = [
    "IF",
    "LIF",
    "NODE_TYPES",
    "AvgPool2d",
    "ChainLayer",
    "Compare",
    "Conv2d",
    "CubaLIF",
    "Dense",
    "Graph",
    "Input",
    "InputKind",
    "Neuron",
    "Node",
    "Reset",
    "Spatial",
    "SumPool2d",
    "Synapse",
    "interpret",
    "load",
    "save",
]
