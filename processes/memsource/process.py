"""MemSource: sends one row of a shared memory-mapped file per time step."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess


class MemSource(AbstractProcess):
    """Streams ``data[(t - 1) % capacity]`` out of ``s_out`` at time step ``t``.

    Like Lava's ``io.source.RingBuffer`` (column ``k`` is sent at step ``k + 1``), but the data lives
    in a file the host rewrites between ``run`` calls, so one compiled runtime streams any number of
    batches without recompiling or element-wise ``Var.set``.

    Parameters
    ----------
    shape : tuple of int
        Shape of one row (the port shape).
    path : str
        A raw int32 file of ``capacity * prod(shape)`` values (C order).
    capacity : int
        Number of rows (time steps) in the file.
    """

    def __init__(self, *, shape: tuple[int, ...], path: str, capacity: int) -> None:
        super().__init__(shape=shape, path=path, capacity=capacity)
        self.s_out = OutPort(shape=shape)
