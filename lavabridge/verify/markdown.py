"""The Markdown rendering of a :class:`~lavabridge.verify.report.VerifyReport`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lavabridge.verify.compare import NeuronState

if TYPE_CHECKING:
    from lavabridge.verify.report import VerifyReport


def _size(size: int, shape: tuple[int, ...]) -> str:
    """``512`` or, for an image layer, ``512 (8x8x8)``."""
    return f"{size} ({'x'.join(map(str, shape))})" if len(shape) == 3 else str(size)


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    al = align or "l" + "r" * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in al]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _opt(x: object, fmt: str = "{}") -> str:
    return "-" if x is None else fmt.format(x)


def _state(s: NeuronState) -> tuple[str, str, str]:
    return str(s.spike), _opt(s.u), _opt(s.v)


def _header(r: VerifyReport) -> list[str]:
    m = r.model
    verdict = {
        "identical": "PASSED — golden emulator and Lava are bit-identical",
        "mismatch": "FAILED — golden emulator and Lava differ",
        "lava-not-run": "NOT CHECKED — Lava was not run",
    }[r.status]
    sizes = "-".join(
        str(n) for n in (m.n_in, *(_size(layer.size, layer.shape) for layer in m.layers))
    )
    lines = [
        f"# lavabridge verify: {m.name}",
        "",
        f"**{verdict}**",
        "",
        f"* model: `{m.source}` ({sizes}, {m.input_kind} input); float reference: "
        + (f"`{m.float_source}`" if m.float_source else "none"),
        f"* input: {r.samples} samples x {r.num_steps} time steps",
    ]
    gl = r.golden_lava
    if gl.ran:
        lines.append(
            f"* Lava `fixed_pt` (CPU simulator): {gl.samples} samples; spikes compared on all, "
            f"u and v on {gl.states_samples}"
        )
        if gl.lava_graph_differs:
            lines.append("* **note: Lava ran a different QGraph than golden (fault injection)**")
    custom = [f"`{layer.name}` ({layer.semantics})" for layer in m.layers
              if layer.cpu_simulator_only]  # fmt: skip
    if custom:
        lines.append("* **CPU simulator only:** " + "; ".join(custom) + " run on lavabridge's "
                     "FlexLIF process (Loihi 2 would need custom neuron microcode)")  # fmt: skip
    approx = [f"`{layer.name}`: {a}" for layer in m.layers for a in layer.approximations]
    if approx:
        lines.append("* **approximated semantics (allowed at quantization; the float model "
                     "differs from the deployment here):** " + "; ".join(approx))  # fmt: skip
    lines.append("")
    return lines


def _golden_lava(r: VerifyReport) -> list[str]:
    gl = r.golden_lava
    lines = ["## Golden emulator vs Lava (must be identical)", ""]
    if not gl.ran:
        return [*lines, "Lava was not run (`lava=False` / `--no-lava`).", ""]
    rows = [
        (
            f"{e.layer} `{e.name}`",
            e.spikes_differing,
            _opt(e.u_differing),
            _opt(e.v_differing),
            e.samples_differing,
            _opt(e.first_step),
        )
        for e in gl.layers
    ]
    lines += _table(
        ("layer", "spikes differing", "u differing", "v differing", "samples", "first step t"),
        rows,
    )
    lines += [
        "",
        f"Spikes compared on all {gl.samples} samples; u and v on {gl.states_samples} "
        + (
            "(all)."
            if gl.states_samples == gl.samples
            else "(the plotted sample and those whose spikes differ; without `--spikes-only` all are compared)."
        ),
    ]
    d = gl.first_divergence
    if d is None:
        return [*lines, "", "No difference: every compared value is identical.", ""]
    lines += [
        "",
        "### First divergence",
        "",
        f"Layer {d.layer} `{d.layer_name}`, sample {d.sample}, step t={d.step} "
        f"(Lava time step {d.step + 1}), neuron {d.neuron}: **{', '.join(d.quantities)}** "
        f"differ (other entries of this layer differing at this step: {d.others_at_step}).",
        "",
    ]
    before = "rest" if d.step == 0 else f"t={d.step - 1}"
    rows2 = [
        (f"golden, {before}", *_state(d.golden_before)),
        (f"Lava, {before}", *_state(d.lava_before)),
        (f"golden, t={d.step}", *_state(d.golden)),
        (f"Lava, t={d.step}", *_state(d.lava)),
        (
            f"Lava - golden, t={d.step}",
            d.lava.spike - d.golden.spike,
            _opt(None if d.lava.u is None or d.golden.u is None else d.lava.u - d.golden.u),
            _opt(None if d.lava.v is None or d.golden.v is None else d.lava.v - d.golden.v),
        ),
    ]
    lines += _table(("", "spike", "u", "v"), rows2)
    return [*lines, ""]


def _float_quant(r: VerifyReport) -> list[str]:
    lines = ["## Float reference vs quantized (measured, not hidden)", ""]
    if r.accuracy:
        lines += _table(
            ("oracle", "accuracy", "samples"),
            [(a.oracle, f"{a.accuracy:.4f}", a.samples) for a in r.accuracy],
        )
        lines.append("")
    if not r.float_quant:
        return [*lines, "No float model given: float vs quantized not measured.", ""]
    rows = []
    for a in r.float_quant:
        rel = _opt(None if a.count_rel_error is None else 100 * a.count_rel_error, "{:+.2f} %")
        rows.append(
            (
                f"{a.layer} `{a.name}`",
                f"{a.agreement:.4f}",
                f"{a.spikes_float} / {a.spikes_quant}",
                f"{a.rate_float:.4f} / {a.rate_quant:.4f}",
                rel,
                f"{a.rate_mae:.4f}",
                f"{a.van_rossum:.3f}",
                f"{r.samples - a.samples_never_differing} / {r.samples}",
                _opt(a.median_first_step, "{:.1f}"),
            )
        )
    lines += _table(
        (
            "layer",
            "spike agreement",
            "spikes float / quant",
            "rate float / quant",
            "count error",
            "rate MAE",
            f"van Rossum (τ={r.tau:g})",
            "samples differing",
            "median first diff t",
        ),
        rows,
    )
    lines += [
        "",
        "Spike agreement: fraction of (sample, step, neuron) entries with the same spike bit. "
        "Rates in spikes per neuron per step; rate MAE: mean |count difference| / T per neuron. "
        "van Rossum: mean distance per spike train (one lone extra spike ≈ 0.7).",
        "",
    ]
    return lines


_EXPLAIN: dict[str, tuple[str, str | None]] = {
    "u_wraps": (
        "u left the 24-bit range and wrapped around (sign flip): scale the layer's weights "
        "down (lower weight_exp) or quantize with more headroom bits",
        "first_u_wrap",
    ),
    "v_saturations": (
        "v was clipped at ±(2^23-1): v grows beyond the integer range",
        "first_v_saturation",
    ),
    "threshold_ties": (
        "v equalled vth·64 exactly: Loihi's `>` does not fire there, a `>=` model "
        "(SpikingJelly) would",
        "first_threshold_tie",
    ),
    "int32_wraps": ("an int32 intermediate of Lava's LIF model overflowed", None),
    "weights_clipped": (
        "float weights beyond the 8-bit mantissa at the layer's scale were clipped",
        None,
    ),
    "biases_clipped": ("float biases beyond the 13-bit mantissa << 7 were clipped", None),
}


def _health(r: VerifyReport) -> list[str]:
    lines = ["## Fixed-point health (golden run)", ""]
    rows = [
        (
            f"{h.layer} `{h.name}`",
            h.u_wraps,
            h.v_saturations,
            h.threshold_ties,
            h.int32_wraps,
            f"{h.u_headroom_bits:.1f} / {h.v_headroom_bits:.1f}",
            f"{h.weights_at_rail} / {h.weights_total}",
            h.weights_lsb_truncated,
            _opt(h.weights_clipped),
            f"{h.biases_at_rail} / {_opt(h.biases_clipped)}",
        )
        for h in r.health
    ]
    lines += _table(
        (
            "layer",
            "u wraps",
            "v saturations",
            "threshold ties",
            "int32 wraps",
            "headroom bits u / v",
            "weights at rail",
            "LSB-truncated",
            "weights clipped",
            "biases at rail / clipped",
        ),
        rows,
    )
    lines.append("")
    for h in r.health:
        for key, (text, first_key) in _EXPLAIN.items():
            count = getattr(h, key)
            if not count:
                continue
            first = getattr(h, first_key) if first_key else None
            where = (
                ""
                if first is None
                else f" (first: sample {first.sample}, t={first.step}, neuron {first.neuron})"
            )
            lines.append(
                f"* layer {h.layer} `{h.name}`: {count} {key.replace('_', ' ')}{where} — {text}."
            )
        if not h.consistent:
            lines.append(
                f"* layer {h.layer}: the health re-computation did not reproduce the golden "
                "recording; these counts are unreliable (please report this)."
            )
    if all(not any(getattr(h, k) for k in _EXPLAIN) for h in r.health):
        lines.append("No wrap, saturation, threshold tie, int32 overflow or clipping.")
    lines += [
        "",
        "Counts are (sample, step, neuron) entries. Weights at rail: at the largest magnitude "
        "the 8-bit mantissa holds (every clipped weight lands there). LSB-truncated: raw weights whose low bits Lava's Dense "
        "drops.",
        "",
    ]
    return lines


def _source(r: VerifyReport) -> list[str]:
    src = r.source
    if src is None:
        return []
    verdict = "identical" if src.identical else "**DIFFERENT**"
    lines = [f"## {src.framework} vs the float reference (shifted by each layer's latency)", "",
             f"The framework's own run and the float reference: {verdict} spikes.", ""]  # fmt: skip
    rows = [(ly.name, ly.latency, ly.steps, ly.spikes_differing, _opt(ly.first_step))
            for ly in src.layers]  # fmt: skip
    head = ("layer", "latency (steps)", "steps compared", "spikes differing", "first step")
    return [*lines, *_table(head, rows, "lrrrr"), ""]


def render(r: VerifyReport, plots: dict[str, str]) -> str:
    """The whole report as Markdown."""
    lines = _header(r) + _source(r) + _golden_lava(r) + _float_quant(r) + _health(r)
    if plots:
        lines += ["## Plots", ""]
        for caption, path in plots.items():
            lines += [f"**{caption}**", "", f"![{caption}]({path})", ""]
    t = ", ".join(f"{k} {v:.2f} s" for k, v in r.timings.items())
    v = ", ".join(f"{k} {val}" for k, val in r.versions.items())
    lines += ["## Run", "", f"* timings: {t}", f"* versions: {v}", ""]
    return "\n".join(lines)
