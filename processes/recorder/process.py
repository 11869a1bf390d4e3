"""SpikeRecorder: a sink that writes what it receives into a shared memory-mapped file."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess


class SpikeRecorder(AbstractProcess):
    """Stores ``a_in`` of time step ``t`` at row ``(t - 1) % capacity`` of a file.

    Records what a Lava ``io.sink.RingBuffer`` records, but the host reads the whole history at
    memory speed instead of through ``Var.get`` (which transfers one element per message).

    Parameters
    ----------
    shape : tuple of int
        Port shape.
    path : str
        A raw int32 file of ``capacity * prod(shape)`` values.
    capacity : int
        Number of rows (time steps) kept; older rows are overwritten cyclically.
    heartbeat_path : str, optional
        A raw int64 file whose first value is set to the time step after every step (what the
        host's watchdog reads to tell a slow run from a stalled one).
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        path: str,
        capacity: int,
        heartbeat_path: str | None = None,
    ) -> None:
        super().__init__(shape=shape, path=path, capacity=capacity, heartbeat_path=heartbeat_path)
        self.a_in = InPort(shape=shape)
