"""The curated mutants of ``make mutate`` (``scripts/mutate.py``).

Each mutant is one semantic change a plausible bug would make (a rounding mode, a boundary, an
offset, a dropped check), given as exact ``(old, new)`` text edits of one source file, and the
smallest test subset that should catch it. A mutant whose ``old`` text is no longer found exactly
once is reported as stale (the catalogue must follow the code it mutates).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One semantic change and the tests that must catch it."""

    name: str
    area: str
    path: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]
    what: str


GOLDEN = ("tests/test_golden.py",)
LAVA = ("tests/test_lava_diff.py", "-m", "lava and not slow")
QUANT = ("tests/test_quant.py",)
NETX = ("tests/test_netx.py",)
VERIFY = ("tests/test_verify.py",)
HEALTH = ("tests/test_verify.py", "-k", "health")
INPUT = ("tests/test_golden.py", "-k", "refused or bias_input")
ARITH = "lavabridge/backends/golden/arith.py"
CONV = ("tests/test_conv.py", "-m", "not slow")
CONV_LAVA = ("tests/test_conv.py::test_conv_output_wraps_at_24_bits_on_lava",
             "tests/test_conv.py::test_quantized_conv_net_tracks_float_and_round_trips",
             "tests/test_conv.py::test_conv_export_matches_golden_on_lava")  # fmt: skip
NETX_CONV = ("tests/test_netx_conv.py", "-m", "not slow")
FAST = "lavabridge/backends/golden/fast.py"
FLEX = ("tests/test_flexlif.py",)
FLEX_LAVA = ("tests/test_flexlif.py", "-k", "every_kind or bias_starts")
NIR_READ = "lavabridge/importers/nir.py"
NIR_T = (
    "tests/test_nir.py",
    "tests/test_nir_reader.py",
    "tests/test_nir_interop.py",
    "-m",
    "not slow",
)

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ golden emulator
    Mutant("trunc-shift-floors", "golden", ARITH,
           (("return (x + ((x >> 63) & ((1 << shift) - 1))) >> shift", "return x >> shift"),),
           GOLDEN, "decays round toward -inf instead of toward zero"),
    Mutant("floor-shift-truncates", "golden", ARITH,
           (("return x << exp if exp > 0 else x >> -exp",
             "return x << exp if exp > 0 else -((-x) >> -exp)"),),
           GOLDEN, "oracle: a negative weight_exp rounds toward zero instead of floor"),
    Mutant("oracle-compare-ge", "golden", ARITH,
           (("v_new, s = apply_reset(p.reset, p.compare, v_pre, v, p.vth_scaled)",
             "v_new, s = apply_reset(p.reset, Compare.GE, v_pre, v, p.vth_scaled)"),),
           GOLDEN, "oracle: spikes on v == vth << 6 ('>=' instead of Loihi's '>')"),
    Mutant("oracle-v-sat-asymmetric", "golden", ARITH,
           (("np.clip(v_star, -p.v_sat, p.v_sat)", "np.clip(v_star, -p.v_sat - 1, p.v_sat)"),),
           GOLDEN, "oracle: v saturates at -2^23 instead of -(2^23 - 1)"),
    Mutant("fast-compare-ge", "golden", FAST,
           (("(np.greater_equal if p.compare == Compare.GE else np.greater)(v, vth, out=s)",
             "np.greater_equal(v, vth, out=s)"),),
           GOLDEN, "fast engine: '>=' threshold compare"),
    Mutant("fast-decay-floors", "golden", FAST,
           (("np.trunc(x, out=x)", "np.floor(x, out=x)"),),
           GOLDEN, "fast engine: decays round toward -inf"),
    Mutant("fast-negative-wrap-boundary", "golden", FAST,
           (("if lo <= -big_m:", "if lo < -big_m:"), ("where=u <= -big_m", "where=u < -big_m")),
           GOLDEN, "fast engine: u = -2^23 is not wrapped to +2^23"),
    Mutant("fast-negative-exp-truncates", "golden", "lavabridge/backends/golden/ops.py",
           (("np.floor(g, out=g)", "np.trunc(g, out=g)"),),
           GOLDEN, "fast engine: a negative weight_exp rounds toward zero instead of floor"),
    Mutant("du-offset-dropped", "golden", "lavabridge/target.py",
           (("ds_offset: int = 1", "ds_offset: int = 0"),),
           GOLDEN, "current decay uses du instead of du + 1"),
    Mutant("delay-ring-late", "golden", "lavabridge/delays.py",
           (("self.buf[(self.head + delay) % self.buf.shape[0]]",
             "self.buf[(self.head + delay + 1) % self.buf.shape[0]]"),),
           GOLDEN, "step-major delays arrive one step late"),
    # ------------------------------------------------------------------ Lava export
    Mutant("lava-du-off-by-one", "Lava export", "lavabridge/exporters/lava.py",
           (("du=int(neuron.du),", "du=min(int(neuron.du) + 1, 4095),"),),
           LAVA, "the exported LIF gets du + 1"),
    Mutant("lava-weight-exp-dropped", "Lava export", "lavabridge/exporters/lava.py",
           (('"weight_exp": int(dense.weight_exp),', '"weight_exp": 0,'),),
           LAVA, "the exported Dense ignores weight_exp"),
    Mutant("lava-delays-shortened", "Lava export", "lavabridge/exporters/lava.py",
           (("delays=dense.delays.astype(int)", "delays=np.maximum(dense.delays.astype(int) - 1, 0)"),),
           LAVA, "the exported DelayDense gets every delay one step short"),
    # ------------------------------------------------------------------ quantization
    Mutant("vth-floored", "quantization", "lavabridge/quant/ptq.py",
           (("vth = round(threshold * scale / (1 << target.vth_shift))",
             "vth = int(threshold * scale / (1 << target.vth_shift))"),),
           QUANT, "vth mantissa floored instead of rounded"),
    Mutant("weights-truncated", "quantization", "lavabridge/quant/lower.py",
           (("step * np.rint(w * sigma / step)", "step * np.trunc(w * sigma / step)"),),
           QUANT, "weight mantissas truncated instead of rounded"),
    Mutant("bias-truncated", "quantization", "lavabridge/quant/ptq.py",
           (("mant = np.clip(np.rint(q / 2.0**exp)", "mant = np.clip(np.trunc(q / 2.0**exp)"),),
           QUANT, "bias mantissas truncated instead of rounded"),
    Mutant("lsb-not-truncated", "quantization", "lavabridge/quant/qnodes.py",
           (("return (w >> n) << n", "return w"),),
           GOLDEN, "effective weights keep the LSBs Lava drops"),
    # ------------------------------------------------------------------ netx
    Mutant("netx-export-idecay", "netx", "lavabridge/exporters/netx.py",
           (("np.int64(neuron.du + LOIHI2.ds_offset)", "np.int64(neuron.du)"),),
           NETX, "netx files store iDecay = du (netx expects du + 1)"),
    Mutant("netx-import-idecay", "netx", "lavabridge/formats/netx.py",
           (('params["iDecay"] - 1,', 'params["iDecay"],'),),
           NETX, "netx files read with du = iDecay"),
    Mutant("netx-delays-per-input", "netx", "lavabridge/formats/netx.py",
           (("d = np.repeat(d.reshape(-1, 1), shape[1], axis=1)",
             "d = np.repeat(d.reshape(1, -1), shape[0], axis=0)"),),
           NETX, "axonal (per-output) delay vectors applied per input"),
    Mutant("netx-delays-unclipped", "netx", "lavabridge/formats/netx.py",
           (("d = np.clip(d, 0, NETX_MAX_DELAY)", "d = np.clip(d, 0, 10**6)"),),
           NETX, "delays above 62 kept instead of clipped as netx does"),
    # ------------------------------------------------------------------ verify
    Mutant("first-step-off-by-one", "verify", "lavabridge/verify/compare.py",
           (("first_step=int(steps[0]) if steps.size else None",
             "first_step=int(steps[0]) + 1 if steps.size else None"),),
           VERIFY, "the report's per-layer first differing step is one late"),
    Mutant("v-differences-ignored", "verify", "lavabridge/verify/compare.py",
           (("            any_diff = any_diff | dv\n", ""),),
           VERIFY, "samples and steps that differ only in v are not reported"),
    # ------------------------------------------------------------------ health
    Mutant("negative-wraps-uncounted", "health", "lavabridge/verify/health.py",
           (('"wraps": (tr.u_star > max_uv) | (tr.u_star <= -max_uv),',
             '"wraps": tr.u_star > max_uv,'),),
           HEALTH, "downward u wraps are not counted"),
    Mutant("ties-off-by-one", "health", "lavabridge/verify/health.py",
           (('"ties": tr.v_pre == ops.lif.vth_scaled,', '"ties": tr.v_pre == ops.lif.vth_scaled + 1,'),),
           HEALTH, "threshold ties counted one above the threshold"),
    # ------------------------------------------------------------------ conv
    Mutant("conv-padding-one-sided", "conv", "lavabridge/conv.py",
           (("img = np.pad(img, ((0, 0), (0, 0), (ph, ph), (pw, pw)))",
             "img = np.pad(img, ((0, 0), (0, 0), (ph, ph), (0, 2 * pw)))"),),
           CONV, "padding added on one side of W only"),
    Mutant("conv-dilation-ignored", "conv", "lavabridge/conv.py",
           (("return view[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]",
             "return view[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, :: 1, ::dw]"),),
           CONV, "dilation along H ignored"),
    Mutant("conv-no-wrap", "conv", "lavabridge/backends/golden/spatial.py",
           (("        self.buf = wrap(acc, self.ops.bits)", "        self.buf = acc"),),
           CONV, "oracle: Lava's 24-bit wrap of the conv output dropped"),
    Mutant("conv-kernel-unflipped", "Lava export", "lavabridge/conv.py",
           (("return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))",
             "return np.ascontiguousarray(weight.transpose(0, 3, 2, 1))"),),
           CONV_LAVA, "torch kernel exported without the flip Lava's true convolution needs"),
    Mutant("conv-stride-not-reversed", "Lava export", "lavabridge/exporters/lava.py",
           (("        stride=conv.stride[::-1],", "        stride=conv.stride,"),),
           CONV_LAVA, "stride passed as (H, W) to Lava's (W, H) Conv"),
    Mutant("avgpool-divisor-dropped", "conv", "lavabridge/ir/spatial.py",
           (("value = 1.0 / (kh * kw) if self.divisor else 1.0", "value = 1.0"),),
           CONV, "average pool computed as a sum pool"),
    Mutant("conv-weight-exp-free", "quantization", "lavabridge/quant/lower.py",
           (("    free_exp=False,\n)", "    free_exp=True,\n)"),),
           CONV_LAVA, "conv layers get a weight_exp Lava's Conv ignores"),
    Mutant("reset-offset-off-by-one", "netx", "lavabridge/importers/netx.py",
           (("reset_offset=(offset + 1 + i) % interval)", "reset_offset=(offset + i) % interval)"),),
           NETX_CONV, "netx's staggered LIFReset offsets one step early"),
    Mutant("reset-one-step-late", "golden", FAST,
           (("        if resets[t]:  # Lava's LIFReset: u, v := 0 before the step",
             "        if t > 0 and resets[t - 1]:"),),
           NETX_CONV, "fast engine: the periodic reset of u, v one step late"),
    # ------------------------------------------------------------------ neuron kinds
    Mutant("guarded-recheck-dropped", "semantics", "lavabridge/semantics.py",
           (("        s = fires(w - th * fires(v_prev, th, compare).astype(w.dtype), th, compare)",
             "        s = fires(w, th, compare)"),),
           FLEX, "snnTorch's reset_delay=False subtract tested as a plain same-step subtract"),
    Mutant("zero-next-keeps-the-step", "semantics", "lavabridge/semantics.py",
           (("        v = np.where(fires(v_prev, th, compare), np.zeros_like(w), w)",
             "        v = w"),),
           FLEX, "snnTorch's delayed zero reset of Synaptic never zeroes the next step"),
    Mutant("flexlif-ge-as-gt", "Lava export", "processes/flexlif/models.py",
           (("    return np.greater_equal(x, th) if ge else np.greater(x, th)",
             "    return np.greater(x, th)"),),
           FLEX_LAVA, "FlexLIF compares with '>' where '>=' was asked"),
    Mutant("bias-start-ignored", "golden", FAST,
           (("        _voltage_step(p, v, u, b if bias_on[t] else None, check_v, sb[t], keep)",
             "        _voltage_step(p, v, u, b, check_v, sb[t], keep)"),),
           FLEX_LAVA, "fast engine: a layer's bias acts before its bias_start"),
    Mutant("bias-on-in-the-first-sample", "Lava export", "lavabridge/exporters/lava.py",
           (("            init_bias = np.zeros_like(gated)", "            init_bias = gated"),),
           FLEX_LAVA, "Lava: a late-starting bias is on from the first step of the first sample"),
    # ------------------------------------------------------------------ NIR
    Mutant("nir-lif-gain-drops-r", "NIR", NIR_READ,
           (("        return _Neuron(1.0, b, b * r, leak, theta, reset)",
             "        return _Neuron(1.0, b, b * np.ones(n), leak, theta, reset)"),),
           NIR_T, "read_nir: a LIF's input gain ignores r"),
    Mutant("nir-cubalif-gain-drops-w-in", "NIR", NIR_READ,
           (("    return _Neuron(a, b, (a * w_in) * (b * r), leak, theta, reset)",
             "    return _Neuron(a, b, a * (b * r), leak, theta, reset)"),),
           NIR_T, "read_nir: a CubaLIF's input gain ignores w_in"),
    Mutant("nir-threshold-ignores-v-reset", "NIR", NIR_READ,
           (('        th = th - _arr(flat, name, "v_reset", n)', "        th = th"),),
           NIR_T, "read_nir: the threshold is v_threshold, not v_threshold - v_reset"),
    Mutant("nir-leak-ignores-v-reset", "NIR", NIR_READ,
           (('    leak = _arr(flat, name, "v_leak", n) - _arr(flat, name, "v_reset", n)',
             '    leak = _arr(flat, name, "v_leak", n)'),),
           NIR_T, "read_nir: the bias is b v_leak, not b (v_leak - v_reset)"),
    Mutant("nir-bias-from-step-0", "NIR", NIR_READ,
           (("    start = int(starts.get(seg.neuron, latency)) if isinstance(starts, dict) else latency",
             "    start = 0"),),
           NIR_T, "read_nir: biases act before the layer's first input (latency ignored)"),
    Mutant("nir-exp-as-euler", "NIR", "lavabridge/formats/nir.py",
           (("        return np.asarray(-np.expm1(-dt / t), np.float64)",
             "        return np.asarray(dt / t, np.float64)"),),
           NIR_T, "discretisation 'exp' computed as Euler"),
    Mutant("nir-writer-r-unsolved", "NIR", "exporters/nir.py",
           (("        one = lambda k: float(solve(lambda x: k * x, 1.0, 1.0 / k)[()])  # noqa: E731",
             "        one = lambda k: 1.0 / k  # noqa: E731"),),
           NIR_T, "write_nir: r = 1 / b, which read_nir turns into a gain 1 +- 1 ulp (15 % of b)"),
    Mutant("nirsim-cycle-delay-on-back-edge", "NIR", "lavabridge/importers/nirsimgraph.py",
           (("    delayed = {_at_state(edges, back, i) if edges[i][1] in state else i for i in back}",
             "    delayed = back"),),
           ("tests/test_nirsim.py", "tests/test_nir_interop.py"),
           "NIR's own run: a recurrent map's bias missing at step 0 (delay after the map)"),
    # ------------------------------------------------------------------ input checks
    Mutant("negative-spikes-accepted", "input checks", "lavabridge/backends/inputs.py",
           (("if arr.size and (arr.min() < 0 or arr.max() > 1):", "if arr.size and arr.max() > 1:"),),
           INPUT, "negative spike values pass the binary check"),
    Mutant("fractional-input-accepted", "input checks", "lavabridge/backends/inputs.py",
           (("if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.trunc(arr)):",
             "if not np.all(np.isfinite(arr)):"),),
           INPUT, "non-integral float inputs are truncated silently"),
    Mutant("bias-input-below-range", "input checks", "lavabridge/backends/inputs.py",
           (("if arr.size and (arr.min() < lo or arr.max() > hi):", "if arr.size and arr.max() > hi:"),),
           INPUT, "bias-input mantissas below -4095 pass"),
)  # fmt: skip
