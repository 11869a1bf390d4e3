"""Small IR builders shared by the IR tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from lavabridge.ir import CubaLIF, Dense, Graph, Input


def lif(n: int, **kw: Any) -> CubaLIF:
    args: dict[str, Any] = {"current_decay": 0.25, "voltage_decay": 0.125, "threshold": 1.0}
    args.update(kw)
    return CubaLIF(n, **args)


def dense(n_out: int, n_in: int, **kw: Any) -> Dense:
    return Dense(np.arange(n_out * n_in, dtype=np.float64).reshape(n_out, n_in) / 7, **kw)


def chain_graph(recurrent: bool = True) -> Graph:
    """input(3) -> d0 -> l0(4) (+ r0) -> d1 -> l1(2)."""
    return Graph(
        {
            "in": Input(3),
            "d0": dense(4, 3),
            "l0": lif(4),
            **({"r0": dense(4, 4)} if recurrent else {}),
            "d1": dense(2, 4),
            "l1": lif(2),
        },
        (
            ("in", "d0"),
            ("d0", "l0"),
            *((("l0", "r0"), ("r0", "l0")) if recurrent else ()),
            ("l0", "d1"),
            ("d1", "l1"),
        ),
        name="chain",
    )
