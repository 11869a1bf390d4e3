"""ProcessModel of SpikeRecorder (CPU, fixed and floating point)."""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lavabridge.processes.recorder.process import SpikeRecorder


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    """Writes each step's input into row ``(time_step - 1) % capacity`` of the file."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        shape = tuple(proc_params["shape"])
        self._capacity = int(proc_params["capacity"])
        self._data = np.memmap(
            proc_params["path"], dtype=np.int32, mode="r+", shape=(self._capacity, *shape)
        )
        beat = proc_params["heartbeat_path"]
        self._beat = None if beat is None else np.memmap(beat, np.int64, mode="r+", shape=(1,))

    def run_spk(self) -> None:
        self._data[(self.time_step - 1) % self._capacity] = self.a_in.recv()
        if self._beat is not None:
            self._beat[0] = self.time_step
