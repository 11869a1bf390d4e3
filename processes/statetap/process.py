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
    2. when ``t % period`` is one of ``phases`` (by default ``(0,)``: the last step of a sample),
       overwrite the Var with zeros, or with row ``(t // period * len(phases) + j) % load_rows``
       of ``load_path``, ``j`` the index of the phase (with one phase: the next sample's value;
       with phases ``(0, k)`` and two rows: row 0 at every sample boundary, row 1 from step
       ``k + 1`` of each sample on).

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
    phases : tuple of int
        Steps within a period (``0 <= phase < period``) at which the Var is rewritten.
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
        phases: tuple[int, ...] = (0,),
    ) -> None:
        if period > 0 and (not phases or any(not 0 <= p < period for p in phases)):
            raise ValueError(f"StateTap: phases {phases} must lie in [0, {period})")
        super().__init__(
            shape=var.shape,
            period=period,
            record_path=record_path,
            record_capacity=record_capacity,
            load_path=load_path,
            load_rows=load_rows,
            phases=tuple(int(p) for p in phases),
        )
        self.ref = RefPort(var.shape)
        self.ref.connect_var(var)
