"""ProcessModel of Faulty (CPU, fixed point)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from lava_faults.process import Faulty


@implements(proc=Faulty, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyFaultyModel(PyLoihiProcessModel):
    """Fails at ``at_step``: raises ValueError, exits with code 3, or sleeps an hour."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self._at = int(proc_params["at_step"])
        self._mode = str(proc_params["mode"])

    def run_spk(self) -> None:
        self.a_in.recv()
        if self.time_step != self._at:
            return
        if self._mode == "raise":
            raise ValueError(f"faulty model: boom at step {self.time_step}")
        if self._mode == "exit":
            os._exit(3)
        time.sleep(3600)
