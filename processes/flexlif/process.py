"""FlexLIF: Lava's CUBA LIF with the reset and threshold rules of other frameworks."""

from __future__ import annotations

from typing import Any

from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var
from lava.proc.lif.process import AbstractLIF

RESETS = ("zero", "subtract", "none", "zero-next", "subtract-next", "subtract-guarded")
"""The reset rules, by code (the ``reset`` Var holds the index); see ``lavabridge.semantics``."""
COMPARES = (">", ">=")
"""The threshold tests, by code (the ``compare`` Var holds the index)."""


class FlexLIF(AbstractLIF):
    """A CUBA LIF population whose reset and threshold test are parameters (CPU simulator only).

    The sub-threshold dynamics are Lava's LIF's, bit for bit (``fixed_pt``: 12-bit decays
    rounded toward zero, ``a_in << 6``, the 24-bit wrap of u, the saturation of v)::

        u[t] = u[t-1] (1 - du) + a_in
        w[t] = v[t-1] (1 - dv) + u[t] + bias + r[t]
        th   = vth (fixed_pt: vth << 6)

    then, with ``R[t] = v[t-1] > th`` (``>=`` when ``compare`` is ``">="``)::

        zero              s = w > th;          v = 0 where s       (Lava's LIF)
        subtract          s = w > th;          v = w - th s        (SpikingJelly v_reset=None)
        none              s = w > th;          v = w
        zero-next         v = (1 - R) w;       s = v > th          (snnTorch, reset_delay=True)
        subtract-next     r = -th R;  v = w;   s = v > th          (snnTorch's default)
        subtract-guarded  s = w - th R > th;   v = w - th s        (snnTorch, reset_delay=False)

    ``r`` is 0 except for ``subtract-next``. Loihi 2 would need custom neuron microcode for every
    rule but ``zero`` with ``>``; this process runs on Lava's CPU simulator.

    Parameters
    ----------
    shape, u, v, du, dv, bias_mant, bias_exp, vth, name, log_config
        As Lava's ``LIF``.
    reset : str
        One of :data:`RESETS`.
    compare : str
        One of :data:`COMPARES`.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        u: Any = 0,
        v: Any = 0,
        du: Any = 0,
        dv: Any = 0,
        bias_mant: Any = 0,
        bias_exp: Any = 0,
        vth: Any = 10,
        reset: str = "zero",
        compare: str = ">",
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        if reset not in RESETS:
            raise ValueError(f"FlexLIF: reset {reset!r} is not one of {', '.join(RESETS)}")
        if compare not in COMPARES:
            raise ValueError(f"FlexLIF: compare {compare!r} is not one of '>', '>='")
        super().__init__(
            shape=shape,
            u=u,
            v=v,
            du=du,
            dv=dv,
            bias_mant=bias_mant,
            bias_exp=bias_exp,
            name=name,
            log_config=log_config,
        )
        self.vth = Var(shape=(1,), init=vth)
        self.reset = Var(shape=(1,), init=RESETS.index(reset))
        self.compare = Var(shape=(1,), init=COMPARES.index(compare))
