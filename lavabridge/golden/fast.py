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

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lavabridge.golden.arith import LifParams, lif_step
from lavabridge.quant.qgraph import QDense, QGraph
from lavabridge.quant.target import LoihiTarget

_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53
_FAST_A_IN = 1 << 18  # |a_in| below this: the float64 LIF is exact (module docstring)
TORCH_MIN_MACS = 1 << 20  # smaller GEMMs stay in numpy (call overhead)


def _use_torch(a: np.ndarray, w: np.ndarray) -> bool:
    if w.dtype.kind != "f" or a.shape[0] * a.shape[1] * w.shape[1] < TORCH_MIN_MACS:
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.get_float32_matmul_precision() == "highest")


def gemm(a: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ w`` for float32/float64 operands, on torch's CPU BLAS for large shapes.

    torch (MKL) is used when importable, the product has at least 2^20 multiply-adds, and
    ``torch.get_float32_matmul_precision() == "highest"`` (no TF32/bf16 shortcuts, which would
    break exactness); numpy's BLAS otherwise. Integer operands always use numpy. ``out``: a
    C-contiguous array of the result's shape and dtype to write into.
    """
    if not _use_torch(a, w):
        return np.matmul(a, w, out=out) if out is not None else np.asarray(a @ w)
    import torch

    with torch.no_grad():
        ta, tw = torch.from_numpy(a), torch.from_numpy(w)
        if out is None:
            return torch.mm(ta, tw).numpy()
        torch.mm(ta, tw, out=torch.from_numpy(out))
        return out


Split = list[tuple[int, npt.NDArray[np.int64]]]


def split_by_delay(dense: QDense, target: LoihiTarget) -> Split:
    """``[(d, W_d)]``: the effective weights of each distinct delay (``[(0, W)]`` without delays)."""
    w = dense.effective_weights(target)
    if dense.delays is None or w.size == 0:
        return [(0, w)]
    return [(int(d), np.where(dense.delays == d, w, 0)) for d in np.unique(dense.delays)]


def _row_bound(w: npt.NDArray[np.int64]) -> int:
    return int(np.abs(w).sum(axis=1).max()) if w.size else 0


def conn_bound(split: Split, weight_exp: int) -> int:
    """Bound on ``|a_in|`` from one Dense: ``sum_d ceil(max_o sum_i |W_d[o, i]| * 2^e)``."""
    total = 0
    for _, w_d in split:
        rs = _row_bound(w_d)
        total += rs << weight_exp if weight_exp >= 0 else -((-rs) >> -weight_exp)
    return total


@dataclass(frozen=True)
class Conn:
    """A Dense prepared for exact float GEMMs, with outputs in units of ``a_in * 2^shift``.

    Attributes
    ----------
    buckets : tuple of (delay, W_d.T * 2^scale_exp) in float32/float64 (int64 if no float is exact)
    floor_exp : int
        ``weight_exp`` when it is negative (floor the GEMM result), else 0.
    post : int
        ``2^shift`` applied after the floor (1 when the scale is folded into the weights).
    max_delay : int
    """

    buckets: tuple[tuple[int, np.ndarray], ...]
    floor_exp: int
    post: int
    max_delay: int

    @classmethod
    def build(cls, split: Split, weight_exp: int, shift: int) -> Conn:
        """Prepare the buckets of ``split`` (from :func:`split_by_delay`)."""
        e = int(weight_exp)
        rowsum = max(_row_bound(w_d) for _, w_d in split)
        if rowsum < _F32_EXACT:
            dtype: type = np.float32
        elif rowsum < _F64_EXACT:
            dtype = np.float64
        else:
            dtype = np.int64
        scale_exp = e + shift if e >= 0 else e
        buckets = []
        for d, w_d in split:
            if dtype is np.int64:
                wt = np.ascontiguousarray(w_d.T, dtype=np.int64)
            else:  # a transposed view: BLAS reads it as is
                wt = w_d.astype(dtype).T
                wt *= dtype(2.0**scale_exp)
            buckets.append((d, wt))
        floor_exp = e if (e < 0 or dtype is np.int64) else 0
        post = 1 << shift if (e < 0 or dtype is np.int64) else 1
        return cls(tuple(buckets), floor_exp, post, max(d for d, _ in split))

    def apply(
        self, wt: np.ndarray, s: np.ndarray, out_dtype: type, out: np.ndarray | None = None
    ) -> np.ndarray:
        """One bucket on spikes ``s`` (M, n_in) -> (M, n_out) in ``a_in * 2^shift`` units.

        ``out`` (used when its dtype is the weights' and ``out_dtype``'s) avoids an allocation.
        """
        if wt.dtype == np.int64:
            acc = s.astype(np.int64) @ wt
            acc = acc << self.floor_exp if self.floor_exp >= 0 else acc >> -self.floor_exp
            return (acc * self.post).astype(out_dtype, copy=False)
        usable = out is not None and out.dtype == wt.dtype and np.dtype(out_dtype) == out.dtype
        g = gemm(s.astype(wt.dtype, copy=False), wt, out if usable else None)
        if self.floor_exp < 0:
            np.floor(g, out=g)
        if out_dtype is np.int64:
            return (g.astype(np.int64) * self.post) if self.post != 1 else g.astype(np.int64)
        if self.post != 1:
            g *= self.post
        return g


@dataclass(frozen=True)
class LayerPlan:
    """One layer prepared for the fast engine."""

    ff: Conn | None
    rec: Conn | None
    lif: LifParams
    fast: bool  # float64 LIF (A < 2^18); else the int64 oracle step
    rec_bound: int  # bound on |a_in| from the recurrent connection


def plan_layers(graph: QGraph) -> tuple[LayerPlan, ...]:
    """Prepare every layer of ``graph`` (see the module docstring)."""
    target = graph.target
    plans = []
    for layer in graph.layers:
        syn, rec = layer.synapse, layer.recurrent
        s_split = split_by_delay(syn, target) if syn is not None else None
        r_split = split_by_delay(rec, target) if rec is not None else None
        ff_bound = conn_bound(s_split, syn.weight_exp) if syn is not None and s_split else 0
        rec_bound = conn_bound(r_split, rec.weight_exp) if rec is not None and r_split else 0
        fast = ff_bound + rec_bound < _FAST_A_IN
        shift = target.act_shift if fast else 0
        ff = Conn.build(s_split, syn.weight_exp, shift) if syn is not None and s_split else None
        rc = Conn.build(r_split, rec.weight_exp, shift) if rec is not None and r_split else None
        plans.append(LayerPlan(ff, rc, LifParams.build(layer.neuron, target), fast, rec_bound))
    return tuple(plans)


def feed_forward(
    conn: Conn, s_prev: np.ndarray, out_dtype: type, out: np.ndarray | None = None
) -> np.ndarray:
    """``H`` (T, B, n) with ``a_in(t) * 2^shift = H[t - 1]`` from spikes ``s_prev`` (T, B, n_in).

    ``s_prev`` is best given in the weights' float dtype (no copy); ``out`` is an optional
    (T, B, n) buffer for a connection without delays.
    """
    T, B, n_in = s_prev.shape
    flat = s_prev.reshape(T * B, n_in)
    h: np.ndarray | None = None
    single = len(conn.buckets) == 1 and conn.buckets[0][0] == 0
    for d, wt in conn.buckets:
        o = out.reshape(T * B, -1) if single and out is not None else None
        g = conn.apply(wt, flat, out_dtype, o).reshape(T, B, -1)
        if d == 0 and h is None:
            h = g
            continue
        if h is None:
            h = np.zeros_like(g)
        if d < T:
            h[d:] += g[: T - d]
    assert h is not None  # at least one bucket
    return h


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
    drive = float(plan.rec_bound << 6)
    if h is not None and h.size:
        drive += max(float(h.max()), -float(h.min()))
    unity = float(1 << p.decay_shift)
    u_bound = drive * _geometric(p.keep_u / unity, T) * (1 + 1e-9)
    b_max = 0.0 if b is None else float(np.abs(b).max())
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


def _rec_ring(plan: LayerPlan, B: int, n: int, dtype: type) -> np.ndarray | None:
    if plan.rec is None:
        return None
    return np.zeros((plan.rec.max_delay + 1, B, n), dtype)


def _rec_receive(plan: LayerPlan, ring: np.ndarray, s: np.ndarray, t: int) -> None:
    """Accumulate the recurrent input of spikes ``s`` (emitted at step t) for steps t+1+d."""
    assert plan.rec is not None
    L = ring.shape[0]
    sf = s.view(np.uint8).astype(np.float32)
    for d, wt in plan.rec.buckets:
        ring[(t + 1 + d) % L] += plan.rec.apply(wt, sf, ring.dtype.type)


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
    k_u, k_v = p.keep_u / unity, p.keep_v / unity
    big_m, sat, vth = float(p.max_uv), float(p.v_sat), float(p.vth_scaled)
    check_u, check_v = _needs_checks(plan, h, b, T)
    u = np.zeros((B, n))
    v = np.zeros((B, n))
    if b is not None:  # a full array adds faster than a broadcast row
        b = np.ascontiguousarray(np.broadcast_to(b, (B, n)))
    keep = np.empty((B, n), np.bool_)
    sb = spikes.view(np.bool_)
    ring = _rec_ring(plan, B, n, np.float64)
    for t in range(T):
        if p.keep_u == 0:
            u.fill(0.0)
        elif p.keep_u != unity:
            np.multiply(u, k_u, out=u)
            np.trunc(u, out=u)
        if h is not None and t > 0:
            u += h[t - 1]
        if ring is not None:
            slot = ring[t % ring.shape[0]]
            u += slot
            slot.fill(0.0)
        if check_u:
            lo = u.min()
            if u.max() > big_m:
                np.subtract(u, 2 * big_m, out=u, where=u > big_m)
            if lo <= -big_m:
                np.add(u, 2 * big_m, out=u, where=u <= -big_m)
        if p.keep_v == 0:  # no voltage memory: v = u + bias, nothing to reset
            np.copyto(v, u)
        else:
            if p.keep_v != unity:
                np.multiply(v, k_v, out=v)
                np.trunc(v, out=v)
            v += u
        if b is not None:
            v += b
        if check_v and (v.max() > sat or v.min() < -sat):
            np.clip(v, -sat, sat, out=v)
        np.greater(v, vth, out=sb[t])
        np.less_equal(v, vth, out=keep)
        np.multiply(v, keep, out=v)  # the reset (a masked store is several times slower)
        if us is not None and vs is not None:
            us[:, t] = u
            vs[:, t] = v
        if ring is not None:
            _rec_receive(plan, ring, sb[t], t)


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
    for t in range(T):
        a_in = h[t - 1] if h is not None and t > 0 else zeros
        if ring is not None:
            slot = ring[t % ring.shape[0]]
            a_in = a_in + slot
            slot.fill(0)
        u, v, s = lif_step(u, v, a_in, plan.lif, bias)
        spikes[t] = s
        if us is not None and vs is not None:
            us[:, t] = u
            vs[:, t] = v
        if ring is not None:
            _rec_receive(plan, ring, s, t)


__all__ = [
    "Conn",
    "LayerPlan",
    "conn_bound",
    "feed_forward",
    "gemm",
    "plan_layers",
    "run_layer",
    "split_by_delay",
]
