"""The fixed models and inputs of the frozen-behaviour tests (``tests/test_frozen.py``).

Everything is built from explicit numpy seeds (no hypothesis: a strategy may change, these may
not). Float models use dyadic weights (multiples of 1/64, small), so every float sum is exact
whatever order a BLAS adds in and the float snapshots are the same on every machine.
"""

from __future__ import annotations

import numpy as np

from lavabridge import ir
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer, SignMode


# ----------------------------------------------------------------------------- QGraphs
def q_chain() -> QGraph:
    """Three layers: delays, a recurrent inhibitory Dense, every sign mode, odd weight bits."""
    rng = np.random.default_rng(20261201)
    h0 = QLayer(
        "h0",
        QCubaLIF(12, du=410, dv=205, vth=90, bias_mant=rng.integers(-300, 300, 12),
                 bias_exp=rng.integers(0, 4, 12)),
        QDense(rng.integers(-256, 256, (12, 10)), weight_exp=-2, num_weight_bits=7,
               delays=rng.integers(0, 5, (12, 10))),
        QDense(rng.integers(-255, 1, (12, 12)), weight_exp=1, sign_mode=SignMode.INHIBITORY),
    )  # fmt: skip
    h1 = QLayer(
        "h1",
        QCubaLIF(8, du=-1, dv=4096, vth=300),
        QDense(rng.integers(0, 256, (8, 12)), weight_exp=3, num_weight_bits=5),
    )
    out = QLayer(
        "out",
        QCubaLIF(5, du=4095, dv=0, vth=1000, bias_mant=rng.integers(-4096, 4096, 5),
                 bias_exp=np.full(5, 7)),
        QDense(rng.integers(-256, 256, (5, 8)), num_weight_bits=9),
    )  # fmt: skip
    return QGraph(10, (h0, h1, out), name="chain")


def q_bias_input() -> QGraph:
    """A bias-driven input layer with a recurrent Dense, then two layers."""
    rng = np.random.default_rng(11)
    return QGraph(
        7,
        (
            QLayer("in", QCubaLIF(7, 4095, 123, 80, bias_exp=np.full(7, 6)), None,
                   QDense(rng.integers(-100, 100, (7, 7)))),
            QLayer("mid", QCubaLIF(6, 100, 100, 50), QDense(rng.integers(-256, 256, (6, 7)))),
            QLayer("out", QCubaLIF(3, 2000, 30, 20), QDense(rng.integers(-256, 256, (3, 6)),
                                                          weight_exp=-1)),
        ),
        input_kind=InputKind.BIAS,
        name="bias-input",
    )  # fmt: skip


def q_wrap_saturate() -> QGraph:
    """u wraps at 2^23 in layer a; v saturates both ways in layer b."""
    a = QCubaLIF(4, du=-1, dv=4096, vth=(1 << 18) - 1)
    b = QCubaLIF(
        3, du=4095, dv=0, vth=(1 << 18) - 1, bias_mant=[4095, -4096, 7], bias_exp=[7, 7, 0]
    )
    return QGraph(
        6,
        (
            QLayer("a", a, QDense(np.full((4, 6), 255), weight_exp=7)),
            QLayer("b", b, QDense(np.full((3, 4), -255), weight_exp=7),
                   QDense(np.eye(3, dtype=int) * 200)),
        ),
        name="wrap",
    )  # fmt: skip


def q_netx_chain() -> QGraph:
    """What netx stores exactly: weight_exp 0 / int8-even / nwb 9, biases at bias_exp 6, delays."""
    rng = np.random.default_rng(5)
    l0 = QLayer(
        "l0",
        QCubaLIF(9, du=1000, dv=300, vth=120, bias_mant=rng.integers(-60, 60, 9) * 8,
                 bias_exp=3),
        QDense(2 * rng.integers(-128, 128, (9, 6)), weight_exp=-1,
               delays=rng.integers(0, 6, (9, 6))),
    )  # fmt: skip
    l1 = QLayer(
        "l1",
        QCubaLIF(4, du=-1, dv=4096, vth=40, bias_mant=rng.integers(-30, 30, 4), bias_exp=6),
        QDense(rng.integers(-256, 255, (4, 9)), num_weight_bits=9),
    )
    return QGraph(6, (l0, l1), name="netx-chain")


def q_netx_rec() -> QGraph:
    """dense_rec with delays (shared delay matrix, joint weight_exp 0) and a bias-input layer."""
    rng = np.random.default_rng(7)
    d = rng.integers(0, 4, (10, 10))
    syn = QDense(rng.integers(-256, 255, (10, 10)), 0, 9, None, d)
    rec = QDense(rng.integers(-256, 255, (10, 10)) // 2, 0, 9, None, d)
    out = QDense(2 * rng.integers(-128, 128, (4, 10)), weight_exp=-1)
    neuron = QCubaLIF(10, 3000, 100, 250, bias_mant=rng.integers(-99, 99, 10), bias_exp=6)
    return QGraph(
        10,
        (
            QLayer("input", QCubaLIF(10, 4000, 100, 50, bias_exp=6)),
            QLayer("rec", neuron, QDense(rng.integers(-256, 255, (10, 10)), num_weight_bits=9)),
            QLayer("rec2", neuron, syn, rec),
            QLayer("out", QCubaLIF(4, du=2000, dv=50, vth=30), out),
        ),
        input_kind=InputKind.BIAS,
        name="netx-rec",
    )


Q_GRAPHS = {
    "chain": q_chain,
    "bias_input": q_bias_input,
    "wrap": q_wrap_saturate,
    "netx_chain": q_netx_chain,
    "netx_rec": q_netx_rec,
}


def q_input(
    graph: QGraph, seed: int = 3, batch: int = 3, steps: int = 20
) -> tuple[np.ndarray, int]:
    """A fixed input batch for ``graph`` and its number of steps."""
    rng = np.random.default_rng(seed)
    if graph.input_kind == InputKind.BIAS:
        return rng.integers(-40, 600, (batch, graph.n_in)), steps
    if graph.name == "wrap":
        x = np.ones((2, 30, 6), np.int8)
        x[1, ::3] = 0
        return x, 30
    return (rng.random((batch, steps, graph.n_in)) < 0.4).astype(np.int8), steps


# ----------------------------------------------------------------------------- float IR graphs
def _dyadic(rng: np.random.Generator, shape: tuple[int, ...], span: int = 40) -> np.ndarray:
    return rng.integers(-span, span + 1, shape).astype(np.float64) / 64


def f_chain(reset: str = "zero", compare: str = ">") -> ir.Graph:
    """Input(8) -> Dense(delays, bias) -> CubaLIF(12, recurrent) -> Dense -> CubaLIF(5)."""
    rng = np.random.default_rng(42)
    l0 = ir.CubaLIF(12, 0.25, 0.125, 1.0, bias=_dyadic(rng, (12,), 8), reset=reset,
                    compare=compare)  # fmt: skip
    l1 = ir.CubaLIF(5, 1.0, 0.0625, 0.75, reset=reset, compare=compare)
    return ir.Graph.sequential(
        8,
        ir.ChainLayer(
            "l0", l0, ir.Dense(_dyadic(rng, (12, 8)), delay=rng.integers(0, 4, (12, 8))),
            ir.Dense(_dyadic(rng, (12, 12), 20)),
        ),
        ir.ChainLayer("l1", l1, ir.Dense(_dyadic(rng, (5, 12)), bias=_dyadic(rng, (5,), 4))),
        name=f"f-chain-{reset}-{'ge' if compare == '>=' else 'gt'}",
    )  # fmt: skip


def f_quantizable() -> ir.Graph:
    """A zero-reset, ``>`` chain without Dense biases (what the quantizer takes by default)."""
    rng = np.random.default_rng(43)
    return ir.Graph.sequential(
        16,
        (ir.Dense(_dyadic(rng, (20, 16), 50)),
         ir.CubaLIF(20, 0.5, 0.1, 1.0, bias=_dyadic(rng, (20,), 6))),
        (ir.Dense(_dyadic(rng, (6, 20), 60)), ir.CubaLIF(6, 1.0, 0.05, 0.5),
         ir.Dense(_dyadic(rng, (6, 6), 10))),
        name="f-quant",
    )  # fmt: skip


def f_bias_input() -> ir.Graph:
    """A bias-mode Input (gain 0.5) driving CubaLIF(6), then Dense -> CubaLIF(4)."""
    rng = np.random.default_rng(44)
    return ir.Graph.sequential(
        6,
        ir.ChainLayer("in", ir.CubaLIF(6, 1.0, 0.2, 1.0, bias=_dyadic(rng, (6,), 8)), None),
        (ir.Dense(_dyadic(rng, (4, 6), 50)), ir.CubaLIF(4, 0.75, 0.1, 0.5)),
        name="f-bias",
        input_gain=0.5,
    )


def f_spikes(n_in: int, seed: int = 9, batch: int = 4, steps: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, n_in)) < 0.35).astype(np.uint8)


def f_values(n_in: int, seed: int = 10, batch: int = 4) -> np.ndarray:
    """Graded input in [0, 1], dyadic (multiples of 1/16)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, (batch, n_in)).astype(np.float64) / 16
