"""The model-file commands of the ``lavabridge`` CLI: ``run``, ``info``, ``convert``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.backends.golden import emulate
from lavabridge.backends.inputs import prepare_input
from lavabridge.backends.lava import run_lava
from lavabridge.backends.netx_lava import run_netx
from lavabridge.cli.common import EXIT_OK, add_nir_options, positive_int, stdout_to_stderr
from lavabridge.errors import InputError
from lavabridge.exporters.netx import write_netx
from lavabridge.formats.npy import load_npy
from lavabridge.importers.load import detect_format, load_model
from lavabridge.importers.netx import netx_input_transform
from lavabridge.quant.lower import describe_neuron
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.qnodes import QCubaLIF, QCubaLIFReset, QDense
from lavabridge.quant.qspatial import QConv
from lavabridge.quant.serialize import SUFFIX, save_qgraph
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind


def add_model_commands(sub: Any) -> None:
    """Register ``run``, ``info`` and ``convert`` on an argparse subparsers object."""
    run = sub.add_parser("run", help="run a model on an input batch and write a recording")
    run.add_argument("model", metavar="MODEL",
                     help="netx .net (HDF5), lavabridge .lbq, or a float IR .lbir (--backend float)")  # fmt: skip
    run.add_argument(
        "--input",
        required=True,
        metavar="X.npy",
        help="int spikes [B,T,N_in] or [T,N_in]; for a bias-input model, bias mantissas "
        "[B,N_in] or [N_in] (then --steps is required)",
    )
    run.add_argument("--backend", choices=("golden", "lava", "netx", "float"), default="golden",
                     help="float: the float reference of a .lbir (float64)")  # fmt: skip
    run.add_argument("--out", required=True, metavar="REC.npz", help="recording to write")
    run.add_argument("--probe-uv", action="store_true", help="also record u and v of every layer")
    run.add_argument("--steps", type=positive_int, metavar="T", help="time steps per sample")
    run.add_argument(
        "--chunk", type=positive_int, default=32, metavar="N", help="samples per Lava run call"
    )
    add_netx_options(run)
    run.set_defaults(func=cmd_run)

    info = sub.add_parser("info", help="print a model's layers (a NIR file: with --dt)")
    info.add_argument("model", metavar="MODEL")
    add_netx_options(info)
    add_nir_options(info, "a NIR MODEL")
    info.set_defaults(func=cmd_info)

    convert = sub.add_parser("convert", help=f"rewrite a model as {SUFFIX} or netx .net")
    convert.add_argument("model", metavar="MODEL")
    convert.add_argument("out", metavar="OUT", help=f"ends in {SUFFIX} or .net")
    add_netx_options(convert)
    convert.set_defaults(func=cmd_convert)


def add_netx_options(p: Any) -> None:
    """``--num-layers N`` and ``--reset-interval R`` (netx models; lava-dl's loader options)."""
    p.add_argument("--num-layers", type=positive_int, metavar="N",
                   help="netx: read only the first N layer entries (a supported prefix)")  # fmt: skip
    p.add_argument("--reset-interval", type=positive_int, metavar="R",
                   help="netx: reset every layer's u, v every R steps with netx's staggered "
                   "offsets (Lava's LIFReset), as Network(reset_interval=R)")  # fmt: skip


def open_model(path: str, args: argparse.Namespace | None = None) -> QGraph:
    """``load_model`` (with the netx options of ``args``), lava-dl's notice kept off stdout."""
    options = {
        "num_layers": getattr(args, "num_layers", None),
        "reset_interval": getattr(args, "reset_interval", None),
    }
    with stdout_to_stderr():
        return load_model(path, **options)


def _synapse_text(d: Any) -> str:
    if d is None:
        return "-"
    if isinstance(d, QConv):
        kh, kw = d.weights.shape[2:]
        return (f"conv {kh}x{kw} stride {d.stride[0]},{d.stride[1]} pad {d.padding[0]},"
                f"{d.padding[1]} dil {d.dilation[0]},{d.dilation[1]} groups {d.groups}")  # fmt: skip
    if not isinstance(d, QDense):
        return str(d.kind)
    text = f"exp {d.weight_exp:+d} nwb {d.num_weight_bits} {d.mode.name.lower()}"
    return text + (f" delay<={d.max_delay}" if d.delays is not None else "")


def _bias_text(mant: npt.NDArray[np.int64], exp: npt.NDArray[np.int64]) -> str:
    if not mant.any():
        return "0"
    return f"[{mant.min()}, {mant.max()}] << {sorted(set(exp.tolist()))}"


def _neuron_cells(n: Any) -> tuple[str, str, str, str]:
    if not isinstance(n, QCubaLIF):
        return (str(n.kind), "-", "-", "-")
    return str(n.du), str(n.dv), str(n.vth), _bias_text(n.bias_mant, n.bias_exp)


def layers_table(graph: QGraph) -> list[str]:
    """The aligned table of ``lavabridge info``: one row per layer."""
    head = ("#", "name", "size", "du", "dv", "vth", "bias", "synapse", "recurrent")
    rows = [head]
    for i, layer in enumerate(graph.layers):
        synapse = _synapse_text(layer.synapse)
        if layer.synapse is None and graph.input_kind == InputKind.BIAS and i == 0:
            synapse = "(bias input)"
        shape = graph.shapes[i]
        size = str(layer.size) + (f" ({'x'.join(map(str, shape))})" if len(shape) == 3 else "")
        cells = (str(i), layer.name, size, *_neuron_cells(layer.neuron))
        rows.append((*cells, synapse, _synapse_text(layer.recurrent)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _summary(rec: Recording, graph: QGraph, wall: float) -> list[str]:
    lines = [f"{rec.backend}: {rec.batch} sample(s) x {rec.num_steps} steps in {wall:.2f} s"]
    for i, (layer, count) in enumerate(zip(graph.layers, rec.spike_counts(), strict=True)):
        rate = count / max(1, rec.batch * rec.num_steps * layer.size)
        lines.append(
            f"  layer {i} {layer.name!r:>12} [{layer.size}]: {count} spikes ({rate:.4f} per neuron-step)"
        )
    return lines


def _run_float(args: argparse.Namespace, out: Path) -> int:
    """``lavabridge run MODEL.lbir --backend float``: the float reference (float64)."""
    from lavabridge import ir

    graph = ir.load(args.model)
    x = load_npy(args.input)
    t0 = time.perf_counter()
    try:
        rec = ir.interpret(graph, x, num_steps=args.steps, probe_uv=args.probe_uv)
    except InputError as exc:
        raise InputError(f"--input {args.input}: {exc}") from exc
    wall = time.perf_counter() - t0
    try:
        rec.to_npz(out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc
    print(f"float: {rec.batch} sample(s) x {rec.num_steps} steps in {wall:.2f} s")
    for i, (layer, count) in enumerate(zip(graph.layer_chain(), rec.spike_counts(), strict=True)):
        print(f"  layer {i} {layer.name!r:>12} [{layer.neuron.size}]: {count} spikes")
    print(f"wrote {out} (spikes_<i>{', u_<i>, v_<i>' if rec.has_uv else ''} per layer)")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``lavabridge run``."""
    kind = detect_format(args.model)
    if args.backend == "netx" and kind != "netx":
        raise InputError(
            f"--backend netx runs lava-dl's own loader and needs a netx .net model, "
            f"but {args.model} is a QGraph file; use --backend lava"
        )
    if (kind == "ir") != (args.backend == "float"):
        raise InputError(
            f"{args.model}: a float IR (.lbir) runs with --backend float"
            if kind == "ir"
            else f"--backend float runs a float IR (.lbir), but {args.model} is quantized "
            f"({kind}); use --backend golden or lava"
        )
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    if kind == "ir":
        return _run_float(args, out)
    graph = open_model(args.model, args)
    x = load_npy(args.input)
    try:
        batch = prepare_input(graph, x, args.steps)
    except InputError as exc:
        raise InputError(f"--input {args.input}: {exc}") from exc
    t0 = time.perf_counter()
    if args.backend == "golden":
        rec = emulate(graph, batch.data, num_steps=batch.num_steps, probe_uv=args.probe_uv)
    elif args.backend == "lava":
        rec = run_lava(graph, batch.data, num_steps=batch.num_steps, probe_uv=args.probe_uv,
                       chunk=args.chunk, progress=True)  # fmt: skip
    else:
        with stdout_to_stderr():
            rec = run_netx(args.model, batch.data, num_steps=batch.num_steps,
                           probe_uv=args.probe_uv, num_layers=args.num_layers,
                           reset_interval=args.reset_interval)  # fmt: skip
    wall = time.perf_counter() - t0
    try:
        rec.to_npz(out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc
    print("\n".join(_summary(rec, graph, wall)))
    keys = "spikes_<i>, u_<i>, v_<i>" if rec.has_uv else "spikes_<i>"
    print(f"wrote {out} ({keys} for i in 0..{rec.num_layers - 1})")
    return EXIT_OK


def _input_line(graph: QGraph, model: str, kind: str) -> str:
    shape = graph.input_shape
    image = f" (or [B, T, {', '.join(map(str, shape))}])" if len(shape) == 3 else ""
    if graph.input_kind != InputKind.BIAS:
        return f"input: binary spikes [B, T, {graph.n_in}]{image}"
    image = f" (or [B, {', '.join(map(str, shape))}])" if len(shape) == 3 else ""
    line = f"input: bias mantissas [B, {graph.n_in}]{image} held for T steps (--steps required)"
    if graph.input_encoding is not None:
        enc = graph.input_encoding
        line += (f"; encoding of float input x: round({enc.scale:.6g} * ({enc.gain:g} * x + bias)"
                 f" / 2^{enc.bias_exp})")  # fmt: skip
    if kind == "netx":
        with stdout_to_stderr():
            transform = netx_input_transform(model)
        if transform is not None:
            line += f"; netx image transform: {transform}"
    return line


def cmd_info(args: argparse.Namespace) -> int:
    """``lavabridge info``."""
    kind = detect_format(args.model)
    if kind == "nir":
        from lavabridge.cli.nirinfo import nir_info

        return nir_info(args)
    if any(getattr(args, k) is not None for k in ("dt", "reset", "discretisation")):
        raise InputError(f"{args.model}: --dt, --reset, --discretisation are options of NIR files")
    graph = open_model(args.model, args)
    fmt = "lava-dl netx HDF5" if kind == "netx" else "lavabridge QGraph"
    sizes = "-".join(str(s) for s in (graph.n_in, *graph.sizes))
    print(f"{args.model}: {fmt}, graph {graph.name!r}, {len(graph.layers)} layers, {sizes}")
    print(_input_line(graph, args.model, kind))
    print("\n".join(layers_table(graph)))
    for i, layer in enumerate(graph.layers):
        if isinstance(layer.neuron, QCubaLIFReset):
            n = layer.neuron
            print(f"  layer {i} {layer.name!r}: u, v reset every {n.reset_interval} steps "
                  f"(Lava LIFReset, offset {n.reset_offset})")  # fmt: skip
    for i, layer in enumerate(graph.layers):
        if getattr(layer.neuron, "custom", False) or getattr(layer.neuron, "bias_start", 0):
            print(f"  layer {i} {layer.name!r}: {describe_neuron(layer.neuron)}")
    custom = [ly.name for ly in graph.layers if getattr(ly.neuron, "custom", False)]
    if custom:
        print(f"runs on: Lava's CPU simulator only (FlexLIF in {', '.join(custom)}; Loihi 2 "
              "would need custom neuron microcode)")  # fmt: skip
    else:
        print("runs on: Lava's CPU simulator and Loihi 2 (Lava's own processes only)")
    approx = graph.approximations
    if approx:
        print("approximated semantics (allowed at quantization; the deployment differs here):")
        for name, a in approx:
            print(f"  {name}: {a}")
    else:
        print("semantics: exact (no approximation)")
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    """``lavabridge convert``."""
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (SUFFIX, ".net"):
        raise InputError(f"OUT {out}: extension must be {SUFFIX} (QGraph) or .net (netx HDF5)")
    graph = open_model(args.model, args)
    if suffix == SUFFIX:
        save_qgraph(graph, out)
    else:
        transform = None  # a netx source keeps its image transform; a QGraph has none
        if detect_format(args.model) == "netx":
            transform = netx_input_transform(args.model)
        write_netx(graph, out, input_transform=transform)
    print(f"wrote {out} (graph {graph.name!r}, {len(graph.layers)} layers)")
    return EXIT_OK
