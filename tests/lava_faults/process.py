"""Faulty: a sink that raises, exits or hangs at a chosen time step (for reliability tests)."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess


class Faulty(AbstractProcess):
    """Receives ``a_in``; at ``at_step`` it ``"raise"``\\ s, ``"exit"``\\ s or ``"hang"``\\ s."""

    def __init__(
        self, *, shape: tuple[int, ...], at_step: int, mode: str, name: str | None = None
    ) -> None:
        super().__init__(shape=shape, at_step=at_step, mode=mode, name=name)
        self.a_in = InPort(shape=shape)
