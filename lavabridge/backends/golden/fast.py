"""The fast engine of the golden emulator: layer-major, float GEMM, float64 LIF — still bit-exact.

Layer-major order
-----------------
In a chain, layer ``l`` at step ``t`` needs only layer ``l-1``'s spikes of steps ``< t`` (every
Dense hop adds one step). So each layer runs all ``T`` steps of a chunk of samples before the next
layer starts, and its feed-forward Dense becomes **one** GEMM ``(T*B, n_in) x (n_in, n_out)``
instead of ``T`` small ones::

    G_d = S_{l-1} @ (W_d * 2^(e + 6))          one GEMM per distinct delay d  (e >= 0)
    G_d = floor(S_{l-1} @ (W_d * 2^e)) * 2^6   (e < 0: Lava floors after the shift)
    H[j] = sum_d G_d[j - d]                     so that  64 * a_in(t) = H[t - 1]

Only a recurrent Dense is stepped (one small GEMM per step, through a ring of ``1 + max_delay``
slots, exactly like Lava's ``a_buff``).

Why the floats are exact
------------------------
*GEMM*: spikes are 0/1 and weights integers times a power of two, so every partial sum is
``2^k`` times an integer bounded by ``max_o sum_i |W[o, i]|``. While that bound is below 2^24
(2^53) float32 (float64) represents every partial sum exactly, whatever order BLAS adds in; the
power-of-two scale only moves the exponent.

*LIF*: let ``A`` bound ``|a_in|`` (sum over the layer's connections and delay buckets of
``ceil(max_o sum_i |W_d[o, i]| * 2^e)``). If ``A < 2^18`` then, by induction from ``u = v = 0``,
``|trunc(u k_u) + 64 a_in| < 2^23 + 2^24``: every int32 wrap of the oracle (:func:`lif_step`) is
the identity, the single 24-bit wrap brings u back into ``(-2^23, 2^23]``, and
``|trunc(v k_v) + u + bias| < 2^25``. The oracle's update then equals::

    u <- trunc(u * (keep_u / 4096)) + 64 a_in;   u > 2^23 -> u - 2^24;  u <= -2^23 -> u + 2^24
    v <- trunc(v * (keep_v / 4096)) + u + bias;  clip to +-(2^23 - 1)
    s <- v > vth << 6;  v <- v * (v <= vth << 6)

computed in float64: every value is an integer below 2^36 and ``keep / 4096`` is dyadic, so the
products, truncations and sums are exact. A layer with ``A >= 2^18`` runs the oracle's int64
:func:`lif_step` at each step instead (still layer-major, still one GEMM per delay).
The wrap and the clip are skipped when a geometric bound over the ``T`` steps proves they cannot
trigger; otherwise a max/min reduction decides per step.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lavabridge.backends.golden.arith import LifParams, lif_step
from lavabridge.backends.golden.ops import Connection, LayerPlan
from lavabridge.delays import DelayRing, delay_sum
from lavabridge.semantics import Compare, Reset, apply_reset, fires

SUBTRACTS = frozenset({Reset.SUBTRACT, Reset.SUBTRACT_NEXT, Reset.SUBTRACT_GUARDED})
READS_PREVIOUS = frozenset({Reset.ZERO_NEXT, Reset.SUBTRACT_NEXT, Reset.SUBTRACT_GUARDED})


def feed_forward(
    conn: Connection, s_prev: np.ndarray, out_dtype: type, out: np.ndarray | None = None
) -> np.ndarray:
    """``H`` (T, B, n) with ``a_in(t) * 2^shift = H[t - 1]`` from spikes ``s_prev`` (T, B, n_in).

    ``s_prev`` is best given in the weights' float dtype (no copy); ``out`` is an optional
    (T, B, n) buffer for a connection without delays.
    """
    T, B, n_in = s_prev.shape
    flat = s_prev.reshape(T * B, n_in)
    single = len(conn.buckets) == 1 and conn.buckets[0][0] == 0
    o = out.reshape(T * B, -1) if single and out is not None else None
    return delay_sum(
        (d, conn.apply(wt, flat, out_dtype, o if single else None).reshape(T, B, -1))
        for d, wt in conn.buckets
    )


def _geometric(ratio: float, steps: int) -> float:
    """``sum_{j < steps} ratio^j``."""
    return float(steps) if ratio >= 1.0 else (1.0 - ratio**steps) / (1.0 - ratio)


def _needs_checks(
    plan: LayerPlan, h: np.ndarray | None, b: np.ndarray | None, T: int
) -> tuple[bool, bool]:
    """Whether the u wrap / v clip can trigger for this chunk (bounds from its actual drive).

    Without a wrap ``|u_t| <= D sum_j k_u^j`` where ``D`` bounds the per-step drive
    ``64 |a_in|`` (the feed-forward part read off ``h``, the recurrent part from the weights);
    likewise ``|v_t| <= (U + max|bias|) sum_j k_v^j``. Floats are rounded towards checking.
    """
    p = plan.lif
    drive = float(plan.rec_bound << p.act_shift)
    if h is not None and h.size:
        drive += max(float(h.max()), -float(h.min()))
    unity = float(1 << p.decay_shift)
    u_bound = drive * _geometric(p.keep_u / unity, T) * (1 + 1e-9)
    b_max = 0.0 if b is None else float(np.abs(b).max())
    if p.reset in SUBTRACTS:  # a subtraction of the threshold joins the step's drive
        b_max += float(p.vth_scaled)
    v_bound = (min(u_bound, p.max_uv) + b_max) * _geometric(p.keep_v / unity, T) * (1 + 1e-9)
    return u_bound >= p.max_uv - 1, v_bound >= p.v_sat - 1


def run_layer(
    plan: LayerPlan,
    h: np.ndarray | None,
    bias: npt.NDArray[np.int64] | None,
    spikes: npt.NDArray[np.uint8],
    us: np.ndarray | None = None,
    vs: np.ndarray | None = None,
) -> None:
    """Step one layer through all T steps; writes spikes (T, B, n) and, if given, u, v (B, T, n).

    ``h`` is the feed-forward drive from :func:`feed_forward` (``None`` without a synapse);
    ``bias`` overrides the neurons' bias (bias-driven input layer, one row per sample).
    """
    if not plan.fast:
        _run_exact(plan, h, bias, spikes, us, vs)
        return
    b_src = plan.lif.bias if bias is None else bias
    b = b_src.astype(np.float64) if np.any(b_src) else None
    _run_fast(plan, h, b, spikes, us, vs)


def _rec_ring(plan: LayerPlan, B: int, n: int, dtype: type) -> DelayRing | None:
    if plan.rec is None:
        return None
    return DelayRing(plan.rec.max_delay, (B, n), dtype)


def _rec_receive(rec: Connection, ring: DelayRing, s: np.ndarray) -> None:
    """Accumulate the recurrent input of this step's spikes ``s`` for the steps ``+ 1 + d``."""
    sf = s.view(np.uint8).astype(np.float32)
    for d, wt in rec.buckets:
        ring.receive(d, rec.apply(wt, sf, ring.buf.dtype.type))


def _decay(x: np.ndarray, keep: int, unity: int) -> None:
    """``x <- trunc(x * keep / unity)`` in place (exact in float64: see the module docstring)."""
    if keep == 0:
        x.fill(0.0)
    elif keep != unity:
        np.multiply(x, keep / unity, out=x)
        np.trunc(x, out=x)


def _wrap_u(u: np.ndarray, big_m: float) -> None:
    """The 24-bit wrap of u, in place: ``u > 2^23 -> u - 2^24``, ``u <= -2^23 -> u + 2^24``."""
    lo = u.min()
    if u.max() > big_m:
        np.subtract(u, 2 * big_m, out=u, where=u > big_m)
    if lo <= -big_m:
        np.add(u, 2 * big_m, out=u, where=u <= -big_m)


def _update_v(v: np.ndarray, u: np.ndarray, b: np.ndarray | None, keep: int, unity: int) -> None:
    """``v <- trunc(v * keep / unity) + u (+ bias)`` in place (``keep = 0``: no voltage memory)."""
    if keep == 0:
        np.copyto(v, u)
    else:
        _decay(v, keep, unity)
        v += u
    if b is not None:
        v += b


def _spike_and_reset(
    p: LifParams, v: np.ndarray, v_prev: np.ndarray | None, s: np.ndarray, keep: np.ndarray
) -> None:
    """Spikes into ``s`` and the reset of ``v`` in place (``v_prev``: the stored v of the
    previous step, for the kinds that read it; ``subtract-next``'s term is already in v)."""
    vth = float(p.vth_scaled)
    if p.reset == Reset.ZERO:
        (np.greater_equal if p.compare == Compare.GE else np.greater)(v, vth, out=s)
        np.logical_not(s, out=keep)
        np.multiply(v, keep, out=v)  # the reset (a masked store is several times slower)
        return
    prev = v if v_prev is None else v_prev
    v_new, fired = apply_reset(p.reset, p.compare, v, prev, vth)
    np.copyto(v, v_new)
    np.copyto(s, fired)


def _voltage_step(
    p: LifParams,
    v: np.ndarray,
    u: np.ndarray,
    b: np.ndarray | None,
    check_v: bool,
    s: np.ndarray,
    keep: np.ndarray,
) -> None:
    """v's update, saturation (when it can trigger), spikes and reset of one step, in place."""
    sat, vth = float(p.v_sat), float(p.vth_scaled)
    v_prev = v.copy() if p.reset in READS_PREVIOUS else None
    _update_v(v, u, b, p.keep_v, 1 << p.decay_shift)
    if p.reset == Reset.SUBTRACT_NEXT and v_prev is not None:
        v -= vth * fires(v_prev, vth, p.compare)
    if check_v and (v.max() > sat or v.min() < -sat):
        np.clip(v, -sat, sat, out=v)
    _spike_and_reset(p, v, v_prev, s, keep)


def _run_fast(
    plan: LayerPlan,
    h: np.ndarray | None,
    b: np.ndarray | None,
    spikes: npt.NDArray[np.uint8],
    us: np.ndarray | None,
    vs: np.ndarray | None,
) -> None:
    T, B, n = spikes.shape
    p = plan.lif
    unity = 1 << p.decay_shift
    big_m = float(p.max_uv)
    check_u, check_v = _needs_checks(plan, h, b, T)
    u = np.zeros((B, n))
    v = np.zeros((B, n))
    if b is not None:  # a full array adds faster than a broadcast row
        b = np.ascontiguousarray(np.broadcast_to(b, (B, n)))
    keep = np.empty((B, n), np.bool_)
    sb = spikes.view(np.bool_)
    ring = _rec_ring(plan, B, n, np.float64)
    resets = p.reset_steps(T)
    bias_on = p.bias_on(T)
    for t in range(T):
        if resets[t]:  # Lava's LIFReset: u, v := 0 before the step
            u.fill(0.0)
            v.fill(0.0)
        _decay(u, p.keep_u, unity)
        if h is not None and t > 0:
            u += h[t - 1]
        if ring is not None:
            u += ring.arriving()
            ring.advance()
        if check_u:
            _wrap_u(u, big_m)
        _voltage_step(p, v, u, b if bias_on[t] else None, check_v, sb[t], keep)
        if us is not None and vs is not None:
            us[:, t] = u
            vs[:, t] = v
        if ring is not None and plan.rec is not None:
            _rec_receive(plan.rec, ring, sb[t])


def _run_exact(
    plan: LayerPlan,
    h: np.ndarray | None,
    bias: npt.NDArray[np.int64] | None,
    spikes: npt.NDArray[np.uint8],
    us: np.ndarray | None,
    vs: np.ndarray | None,
) -> None:
    T, B, n = spikes.shape
    u = np.zeros((B, n), np.int64)
    v = np.zeros((B, n), np.int64)
    zeros = np.zeros((B, n), np.int64)
    ring = _rec_ring(plan, B, n, np.int64)
    resets = plan.lif.reset_steps(T)
    bias_on = plan.lif.bias_on(T)
    for t in range(T):
        if resets[t]:
            u, v = np.zeros_like(u), np.zeros_like(v)
        a_in = h[t - 1] if h is not None and t > 0 else zeros
        if ring is not None:
            a_in = a_in + ring.arriving()
            ring.advance()
        u, v, s = lif_step(u, v, a_in, plan.lif, bias if bias_on[t] else zeros)
        spikes[t] = s
        if us is not None and vs is not None:
            us[:, t] = u
            vs[:, t] = v
        if ring is not None and plan.rec is not None:
            _rec_receive(plan.rec, ring, s)


__all__ = ["feed_forward", "run_layer"]
