"""StateTap: reads a Var of another process every step and/or rewrites it at sample boundaries."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class StateTap(AbstractProcess):
    """Bulk access to one Var of another process through a RefPort, in the management phase.

    At the end of every time step ``t`` (POST_MGMT, after the owner's SPK update) it can

    1. record the Var into row ``(t - 1) % record_capacity`` of ``record_path``
       (what a Lava ``Monitor`` records, without ``Var.get``'s per-element transfer), and then
    2. when ``t % period == 0`` (the last step of a sample), overwrite the Var with zeros, or with
       row ``(t // period) % load_rows`` of ``load_path`` (the next sample's value).

    Recording happens before the rewrite, so the last step of every sample is recorded intact.
    Lava's own ``io.reset.Reset`` does step 2 with a constant only; a separate Reset and Monitor
    on one Var would race within the same phase.

    Parameters
    ----------
    var : Var
        The Var to tap (e.g. ``lif.u``, ``lif.v``, ``dense.a_buff``, ``lif.bias_mant``).
    period : int
        Steps per sample; 0 disables the rewrite.
    record_path : str, optional
        Raw int32 file of ``record_capacity * var.size`` values.
    record_capacity : int
    load_path : str, optional
        Raw int32 file of ``load_rows * var.size`` values; ``None`` rewrites zeros.
    load_rows : int
    """

    def __init__(
        self,
        *,
        var: Var,
        period: int,
        record_path: str | None = None,
        record_capacity: int = 0,
        load_path: str | None = None,
        load_rows: int = 0,
    ) -> None:
        super().__init__(
            shape=var.shape,
            period=period,
            record_path=record_path,
            record_capacity=record_capacity,
            load_path=load_path,
            load_rows=load_rows,
        )
        self.ref = RefPort(var.shape)
        self.ref.connect_var(var)
