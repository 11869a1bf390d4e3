"""The golden emulator against traces derived by hand from the spec (lava-fixed-point.md).

Each LIF trace runs on every engine (:data:`ENGINES`): the int64 oracle step and the fast engine in
both its forms, so a rule broken in one engine only is caught by the hand-derived numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.golden.arith import LifParams, lif_step, trunc_shift
from lavabridge.backends.golden.fast import run_layer
from lavabridge.backends.golden.ops import LayerPlan
from lavabridge.errors import InputError, ValidationError
from lavabridge.quant import LOIHI2, InputKind, QCubaLIF, QDense, QGraph, QLayer, SignMode


def chain(*layers: QLayer, n_in: int = 1, kind: InputKind = InputKind.SPIKES) -> QGraph:
    return QGraph(n_in, layers, input_kind=kind)


def test_latency_trace_two_hops() -> None:
    """Spec §1.2: one input spike in column 2; w=100, du=dv=4095, vth=50 in both layers."""
    lif = QCubaLIF(1, du=4095, dv=4095, vth=50)
    g = chain(QLayer("a", lif, QDense([[100]])), QLayer("b", lif, QDense([[100]])))
    x = np.zeros((1, 8, 1), np.int8)
    x[0, 2, 0] = 1
    rec = emulate(g, x, probe_uv=True)
    assert rec.u is not None and rec.v is not None
    np.testing.assert_array_equal(rec.u[0][0, :, 0], [0, 0, 0, 6400, 0, 0, 0, 0])
    np.testing.assert_array_equal(rec.v[0][0, :, 0], [0] * 8)  # 6400 > 3200: spike, v reset
    np.testing.assert_array_equal(rec.spikes[0][0, :, 0], [0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(rec.spikes[1][0, :, 0], [0, 0, 0, 0, 1, 0, 0, 0])


def _lif(du: int, dv: int, vth: int, bias: int = 0, bias_exp: int = 0) -> LifParams:
    return LifParams.build(QCubaLIF(1, du, dv, vth, bias_mant=[bias], bias_exp=[bias_exp]))


# the three LIF engines: the int64 oracle step, the fast engine's float64 LIF, and the fast engine's
# int64 fallback (layers whose drive is too large for exact float64)
ENGINES = ("oracle", "fast", "fast-int64")


def _trace(
    p: LifParams, a_in: list[int], engine: str = "oracle"
) -> tuple[list[int], list[int], list[bool]]:
    """u, v and spikes of one neuron driven by ``a_in[t]`` at step ``t`` (from rest)."""
    if engine != "oracle":
        return _engine_trace(p, a_in, engine == "fast")
    u = v = np.zeros((1, 1), np.int64)
    us, vs, ss = [], [], []
    for a in a_in:
        u, v, s = lif_step(u, v, np.array([[a]], np.int64), p)
        us.append(int(u[0, 0]))
        vs.append(int(v[0, 0]))
        ss.append(bool(s[0, 0]))
    return us, vs, ss


def _engine_trace(
    p: LifParams, a_in: list[int], fast: bool
) -> tuple[list[int], list[int], list[bool]]:
    """The same trace through the fast engine's :func:`run_layer`. Its input arrives one step after
    a spike (``a_in(t) = H[t - 1]``), so a driven trace gets one silent step in front (rest stays
    rest without a bias)."""
    lead = int(any(a_in))
    assert not (lead and np.any(p.bias)), "a driven trace from rest needs bias 0"
    drive = np.array([0] * lead + a_in, np.int64)[1:] << (p.act_shift if fast else 0)
    T = len(a_in) + lead
    h = drive.reshape(-1, 1, 1).astype(np.float64 if fast else np.int64)
    spikes = np.zeros((T, 1, 1), np.uint8)
    us, vs = np.zeros((1, T, 1)), np.zeros((1, T, 1))
    run_layer(LayerPlan(None, None, p, fast, 0), h, None, spikes, us, vs)
    return (us[0, lead:, 0].astype(int).tolist(), vs[0, lead:, 0].astype(int).tolist(),
            spikes[lead:, 0, 0].astype(bool).tolist())  # fmt: skip


@pytest.mark.parametrize("engine", ["oracle", "fast-int64"])  # |a_in| >= 2^18: no float64 path
def test_u_wraps_once_at_24_bits(engine: str) -> None:
    """Spec §2.2: du=-1, dv=4096, a_in = [1e5, 1e5, 1e5, -3e5] -> u = [6400000, -3977216, 2422784, 0]."""
    us, _, _ = _trace(_lif(-1, 4096, (1 << 18) - 1), [100000, 100000, 100000, -300000], engine)
    assert us == [6400000, -3977216, 2422784, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_u_wrap_boundaries(engine: str) -> None:
    """u* = 2^23 stays (wrap only above it); u* = -2^23 wraps to +2^23 (``u <= -2^23``)."""
    p = _lif(4095, 4096, (1 << 18) - 1)  # no memory: u = a_in << 6, v = u (then saturated)
    assert _trace(p, [1 << 17], engine)[:2] == ([1 << 23], [LOIHI2.v_sat])
    assert _trace(p, [-(1 << 17)], engine)[:2] == ([1 << 23], [LOIHI2.v_sat])
    assert _trace(p, [-(1 << 17) + 1], engine)[:2] == ([-(1 << 23) + 64], [-(1 << 23) + 64])


@pytest.mark.parametrize("engine", ENGINES)
def test_v_saturates(engine: str) -> None:
    # dv=0 (no leak), huge threshold: v climbs by 4095<<7 per step and stops at 2^23-1
    p = _lif(4095, 0, (1 << 18) - 1, bias=4095, bias_exp=7)
    _, vs, ss = _trace(p, [0] * 20, engine)
    assert vs[0] == 4095 << 7
    assert vs[-1] == LOIHI2.v_sat
    assert not any(ss)
    # and downwards, symmetrically: -(2^23 - 1), not -2^23
    _, vs, _ = _trace(_lif(4095, 0, (1 << 18) - 1, bias=-4095, bias_exp=7), [0] * 20, engine)
    assert vs[0] == -4095 << 7 and vs[-1] == -LOIHI2.v_sat


@pytest.mark.parametrize("engine", ENGINES)
def test_decay_rounds_toward_zero_with_du_plus_one(engine: str) -> None:
    # u = -1000 after step 1 (a_in << 6 = -64000 -> use a_in=-1000/64 not integral; drive via a_in=-16)
    us, _, _ = _trace(_lif(0, 0, (1 << 18) - 1), [-16, 0, 0], engine)
    # u1 = -1024; u2 = trunc0(-1024 * 4095 / 4096) = trunc0(-1023.75) = -1023 (floor would give -1024)
    assert us[:2] == [-1024, -1023]
    assert us[2] == -1022  # trunc0(-1023 * 4095 / 4096) = trunc0(-1022.75)


def test_trunc_shift_matches_sign_abs_definition() -> None:
    x = np.arange(-20000, 20000, 7, dtype=np.int64) * 13
    np.testing.assert_array_equal(trunc_shift(x, 12), np.sign(x) * (np.abs(x) >> 12))


@pytest.mark.parametrize("engine", ENGINES)
def test_threshold_compare_is_strict(engine: str) -> None:
    # bias 50<<6 == vth<<6 at every step with dv=4096 (v = u + bias): equality never spikes
    p = _lif(4095, 4096, 50, bias=50, bias_exp=6)
    _, vs, ss = _trace(p, [0, 0, 0], engine)
    assert vs == [3200, 3200, 3200] and not any(ss)
    _, vs, ss = _trace(_lif(4095, 4096, 49, bias=50, bias_exp=6), [0, 0], engine)
    assert all(ss) and vs == [0, 0]  # spike, then the reset


def test_mixed_sign_weights_drop_the_lsb() -> None:
    d = QDense([[3, -3, 255, -256]])
    assert d.mode == SignMode.MIXED
    np.testing.assert_array_equal(d.effective_weights(), [[2, -4, 254, -256]])
    np.testing.assert_array_equal(
        QDense([[3, -3, 255, -256]], num_weight_bits=9).effective_weights(), [[3, -3, 255, -256]]
    )


@pytest.mark.parametrize("exact_int", [False, True])
def test_weight_exp_floor_shift(exact_int: bool) -> None:
    # one spike through w = -3, 3, -5 (weight_exp=-1, -1, -2): floor(-3/2) = -2, floor(3/2) = 1,
    # floor(-5/4) = -2 (rounding toward zero would give -1, 1, -1) -> u = a_in << 6
    lif = QCubaLIF(1, du=4095, dv=4096, vth=100)
    for w, e, a in ((-3, -1, -2), (3, -1, 1), (-5, -2, -2)):
        g = chain(QLayer("a", lif, QDense([[w]], weight_exp=e)))
        rec = emulate(g, np.array([[[1], [0]]]), probe_uv=True, exact_int=exact_int)
        assert rec.u is not None
        assert rec.u[0][0, 1, 0] == a << 6, (w, e)


def test_float_and_int_paths_agree() -> None:
    rng = np.random.default_rng(3)
    lif = QCubaLIF(64, du=200, dv=100, vth=300, bias_mant=rng.integers(-50, 50, 64))
    g = chain(
        QLayer("a", lif, QDense(rng.integers(-256, 256, (64, 100)), weight_exp=2)),
        QLayer("b", lif, QDense(rng.integers(-256, 256, (64, 64)), delays=rng.integers(0, 5, (64, 64))),
               QDense(rng.integers(-256, 256, (64, 64)))),
        n_in=100,
    )  # fmt: skip
    x = (rng.random((4, 30, 100)) < 0.2).astype(np.uint8)
    fast = emulate(g, x, probe_uv=True)
    ref = emulate(g, x, probe_uv=True, exact_int=True)
    assert fast.first_mismatch(ref) is None
    assert sum(fast.spike_counts()) > 0


def test_samples_are_independent() -> None:
    rng = np.random.default_rng(5)
    lif = QCubaLIF(8, du=10, dv=10, vth=20, bias_mant=rng.integers(-20, 20, 8))
    g = chain(QLayer("a", lif, QDense(rng.integers(-256, 256, (8, 5)))), n_in=5)
    x = (rng.random((3, 12, 5)) < 0.5).astype(np.uint8)
    batch = emulate(g, x, probe_uv=True)
    for b in range(3):
        one = emulate(g, x[b], probe_uv=True)
        assert one.spikes[0].tolist() == batch.spikes[0][b : b + 1].tolist()


@pytest.mark.parametrize(
    ("x", "msg"),
    [
        (np.zeros((2, 3)), r"\[B, T, 4\]"),
        (np.full((1, 2, 4), 2), "binary"),
        (np.full((1, 2, 4), -1), "binary"),
        (np.full((1, 2, 4), 0.5), "integers"),
        (np.zeros((0, 2, 4)), "empty"),
    ],
)
def test_bad_spike_input_is_refused(x: np.ndarray, msg: str) -> None:
    g = chain(QLayer("a", QCubaLIF(2, 0, 0, 1), QDense(np.ones((2, 4), int))), n_in=4)
    with pytest.raises(InputError, match=msg):
        emulate(g, x)


def test_bias_input_needs_steps_and_range() -> None:
    g = chain(
        QLayer("in", QCubaLIF(3, 4095, 100, 80, bias_exp=[6, 6, 6])), n_in=3, kind=InputKind.BIAS
    )
    with pytest.raises(InputError, match="num_steps"):
        emulate(g, np.ones((2, 3), int))
    with pytest.raises(InputError, match="13-bit"):
        emulate(g, np.full((2, 3), 5000), num_steps=4)
    with pytest.raises(InputError, match="13-bit"):
        emulate(g, np.full((2, 3), -5000), num_steps=4)
    rec = emulate(g, np.array([[0, 50, 100]]), num_steps=6)
    assert rec.spikes[0].shape == (1, 6, 3)
    assert rec.spikes[0][0, :, 0].sum() == 0 and rec.spikes[0][0, :, 2].sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"du": 4096}, "du"),
        ({"du": -2}, "du"),
        ({"dv": 4097}, "dv"),
        ({"vth": -1}, "vth"),
        ({"vth": 1 << 18}, "vth"),
        ({"bias_mant": [5000]}, "bias_mant"),
        ({"bias_exp": [8]}, "bias_exp"),
    ],
)
def test_neuron_ranges_are_enforced_with_names(kwargs: dict, param: str) -> None:
    base = {"size": 1, "du": 0, "dv": 0, "vth": 10}
    with pytest.raises(ValidationError, match=f"layer 0 'bad': {param}"):
        QGraph(1, (QLayer("bad", QCubaLIF(**{**base, **kwargs}), QDense([[1]])),))


@pytest.mark.parametrize(
    ("dense", "param"),
    [
        (lambda: QDense([[300]]), "weights"),
        (lambda: QDense([[-256]], sign_mode=SignMode.INHIBITORY), "weights"),
        (lambda: QDense([[1]], weight_exp=8), "weight_exp"),
        (lambda: QDense([[1]], num_weight_bits=9), "num_weight_bits"),
        (lambda: QDense([[1]], delays=[[63]]), "delays"),
        (lambda: QDense([[1, 1]]), "weights"),  # shape (1, 2) vs n_in 1
    ],
)
def test_dense_ranges_are_enforced_with_names(dense, param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=f"'bad' synapse: {param}"):
        QGraph(1, (QLayer("bad", QCubaLIF(1, 0, 0, 10), dense()),))
