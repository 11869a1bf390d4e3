"""ProcessModels of FlexLIF (CPU): ``fixed_pt`` (bit-accurate, Lava's LIF arithmetic) and
``floating_pt``."""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat

from lavabridge.processes.flexlif.process import RESETS, FlexLIF

_ZERO, _SUBTRACT, _NONE, _ZERO_NEXT, _SUBTRACT_NEXT, _GUARDED = range(len(RESETS))


def _fires(x: np.ndarray, th: Any, ge: bool) -> np.ndarray:
    return np.greater_equal(x, th) if ge else np.greater(x, th)


def _reset(
    kind: int, ge: bool, w: np.ndarray, v_prev: np.ndarray, th: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``(v, s)`` from the updated ``w`` and the previous stored ``v`` (the table of FlexLIF)."""
    if kind == _ZERO_NEXT:
        v = np.where(_fires(v_prev, th, ge), 0, w).astype(w.dtype)
        return v, _fires(v, th, ge)
    if kind == _SUBTRACT_NEXT:
        return w, _fires(w, th, ge)
    if kind == _GUARDED:
        s = _fires(w - th * _fires(v_prev, th, ge), th, ge)
        return (w - th * s).astype(w.dtype), s
    s = _fires(w, th, ge)
    if kind == _ZERO:
        return np.where(s, 0, w).astype(w.dtype), s
    if kind == _SUBTRACT:
        return (w - th * s).astype(w.dtype), s
    return w, s


@implements(proc=FlexLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyFlexLifModelFixed(AbstractPyLifModelFixed):
    """Lava's fixed-point LIF step (``subthr_dynamics``), then FlexLIF's reset and compare."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    reset: int = LavaPyType(int, np.int32, precision=8)
    compare: int = LavaPyType(int, np.int32, precision=8)
    effective_bias: Any  # set by Lava's scale_bias

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        self.effective_vth = 0

    def scale_threshold(self) -> None:
        """``vth << 6``, as Lava's LIF."""
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        kind, ge, th = int(self.reset), bool(self.compare), self.effective_vth
        v_prev = self.v.copy()
        if kind == _SUBTRACT_NEXT:  # -th R joins the step's sum (inside Lava's saturation)
            r = th * _fires(v_prev, th, ge)
            self.effective_bias = (self.effective_bias - r).astype(np.int32)
        self.subthr_dynamics(activation_in=a_in_data)
        v, s = _reset(kind, ge, self.v.astype(np.int64), v_prev.astype(np.int64), th)
        self.v[:] = v
        self.s_out.send(s)


@implements(proc=FlexLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFlexLifModelFloat(AbstractPyLifModelFloat):
    """Lava's floating-point LIF step, then FlexLIF's reset and compare."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)
    reset: int = LavaPyType(int, int)
    compare: int = LavaPyType(int, int)

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        kind, ge, th = int(self.reset), bool(self.compare), float(self.vth)
        v_prev = self.v.copy()
        self.subthr_dynamics(activation_in=a_in_data)
        if kind == _SUBTRACT_NEXT:
            self.v[:] = self.v - th * _fires(v_prev, th, ge)
        v, s = _reset(kind, ge, self.v.copy(), v_prev, th)
        self.v[:] = v
        self.s_out.send(s)
