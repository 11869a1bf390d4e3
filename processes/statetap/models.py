"""ProcessModel of StateTap (CPU, fixed and floating point)."""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lavabridge.processes.statetap.process import StateTap


@implements(proc=StateTap, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyStateTapModel(PyLoihiProcessModel):
    """Records the Var every step (optional), rewrites it every ``period`` steps (optional)."""

    ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self._shape = tuple(proc_params["shape"])
        self._period = int(proc_params["period"])
        self._phases = tuple(proc_params["phases"])
        self._record = None
        self._load = None
        if proc_params["record_path"] is not None:
            self._rec_cap = int(proc_params["record_capacity"])
            self._record = np.memmap(
                proc_params["record_path"], np.int32, "r+", shape=(self._rec_cap, *self._shape)
            )
        if proc_params["load_path"] is not None:
            self._load_rows = int(proc_params["load_rows"])
            self._load = np.memmap(
                proc_params["load_path"], np.int32, "r", shape=(self._load_rows, *self._shape)
            )

    def _boundary(self) -> bool:
        return self._period > 0 and self.time_step % self._period in self._phases

    def post_guard(self) -> bool:
        return self._record is not None or self._boundary()

    def run_post_mgmt(self) -> None:
        if self._record is not None:
            self._record[(self.time_step - 1) % self._rec_cap] = self.ref.read()
        if self._boundary():
            if self._load is None:
                value = np.zeros(self._shape, np.int32)
            else:
                j = self._phases.index(self.time_step % self._period)
                row = (self.time_step // self._period) * len(self._phases) + j
                value = np.array(self._load[row % self._load_rows])
            self.ref.write(value)
            self.ref.wait()
