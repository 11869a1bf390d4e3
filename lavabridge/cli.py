"""The ``lavabridge`` command line.

``lavabridge run MODEL --input X.npy --backend {golden,lava,netx} --out REC.npz``
    Run a model (netx ``.net`` or QGraph ``.lbq``) on a batch and write a Recording
    (``spikes_<i>`` ``[B, T, N_i]`` per neuron layer, and ``u_<i>``, ``v_<i>`` with ``--probe-uv``).
``lavabridge info MODEL``
    Print the layers of a model.
``lavabridge convert MODEL OUT``
    Rewrite a model as ``.lbq`` or netx ``.net`` (chosen by OUT's extension).
``lavabridge netx-demo``
    lava-dl's trained MNIST network on digits, golden emulator vs Lava, with a report.
``lavabridge demo | train | quantize | export``
    The main job and its stages (see :mod:`lavabridge.cli_pipeline`).
``lavabridge verify MODEL --input X.npy --out DIR`` / ``lavabridge verify RUN_DIR``
    Float vs golden vs Lava with diagnostics, report.json/report.md and plots
    (see :mod:`lavabridge.cli_verify`).

Every expected failure (missing file, wrong shape, unsupported layer, bad option) ends with exit
code 2 and one line ``lavabridge: error: ...`` on stderr; results go to stdout and files, progress
bars to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from lavabridge.cli_pipeline import add_pipeline_commands
from lavabridge.cli_verify import add_verify_command
from lavabridge.errors import InputError, LavaBridgeError, ModelFileError
from lavabridge.inputs import load_npy
from lavabridge.quant.qgraph import InputKind, QDense, QGraph
from lavabridge.quant.serialize import SUFFIX, detect_format, load_model, save_qgraph
from lavabridge.recording import Recording

PROG = "lavabridge"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """A command-line mistake argparse found (reported as one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing the usage block and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what lava-dl prints on import (a Prophesee warning) to stderr, keeping stdout clean."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a model on an input batch and write a recording")
    run.add_argument("model", metavar="MODEL", help="netx .net (HDF5) or lavabridge .lbq file")
    run.add_argument(
        "--input",
        required=True,
        metavar="X.npy",
        help="int spikes [B,T,N_in] or [T,N_in]; for a bias-input model, bias mantissas "
        "[B,N_in] or [N_in] (then --steps is required)",
    )
    run.add_argument("--backend", choices=("golden", "lava", "netx"), default="golden")
    run.add_argument("--out", required=True, metavar="REC.npz", help="recording to write")
    run.add_argument("--probe-uv", action="store_true", help="also record u and v of every layer")
    run.add_argument("--steps", type=_positive_int, metavar="T", help="time steps per sample")
    run.add_argument(
        "--chunk", type=_positive_int, default=32, metavar="N", help="samples per Lava run call"
    )
    run.set_defaults(func=_cmd_run)

    info = sub.add_parser("info", help="print a model's layers")
    info.add_argument("model", metavar="MODEL")
    info.set_defaults(func=_cmd_info)

    convert = sub.add_parser("convert", help=f"rewrite a model as {SUFFIX} or netx .net")
    convert.add_argument("model", metavar="MODEL")
    convert.add_argument("out", metavar="OUT", help=f"ends in {SUFFIX} or .net")
    convert.set_defaults(func=_cmd_convert)

    demo = sub.add_parser(
        "netx-demo", help="lava-dl's trained MNIST netx file on digits: golden vs Lava"
    )
    demo.add_argument("--samples", type=_positive_int, default=20, metavar="N")
    demo.add_argument("--steps", type=_positive_int, default=16, metavar="T")
    demo.add_argument("--out", default="runs/demo", metavar="DIR", help="where report.json goes")
    demo.add_argument("--chunk", type=_positive_int, default=32, metavar="N")
    demo.set_defaults(func=_cmd_netx_demo)
    add_pipeline_commands(sub, _positive_int)
    add_verify_command(sub, _positive_int)
    return parser


# ----------------------------------------------------------------------------- helpers
def _open_model(path: str) -> QGraph:
    try:
        with _stdout_to_stderr():
            return load_model(path)
    except LavaBridgeError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # what h5py/numpy raise on a damaged file
        raise ModelFileError(f"{path}: cannot read model ({exc})") from exc


def _dense_text(d: QDense | None) -> str:
    if d is None:
        return "-"
    text = f"exp {d.weight_exp:+d} nwb {d.num_weight_bits} {d.mode.name.lower()}"
    return text + (f" delay<={d.max_delay}" if d.delays is not None else "")


def _bias_text(mant: npt.NDArray[np.int64], exp: npt.NDArray[np.int64]) -> str:
    if not mant.any():
        return "0"
    return f"[{mant.min()}, {mant.max()}] << {sorted(set(exp.tolist()))}"


def _layers_table(graph: QGraph) -> list[str]:
    head = ("#", "name", "size", "du", "dv", "vth", "bias", "synapse", "recurrent")
    rows = [head]
    for i, layer in enumerate(graph.layers):
        n = layer.neuron
        synapse = _dense_text(layer.synapse)
        if layer.synapse is None and graph.input_kind == InputKind.BIAS and i == 0:
            synapse = "(bias input)"
        rows.append(
            (
                str(i),
                layer.name,
                str(n.size),
                str(n.du),
                str(n.dv),
                str(n.vth),
                _bias_text(n.bias_mant, n.bias_exp),
                synapse,
                _dense_text(layer.recurrent),
            )
        )
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


# ----------------------------------------------------------------------------- commands
def _cmd_run(args: argparse.Namespace) -> int:
    from lavabridge.inputs import prepare_input

    kind = detect_format(args.model)
    if args.backend == "netx" and kind != "netx":
        raise InputError(
            f"--backend netx runs lava-dl's own loader and needs a netx .net model, "
            f"but {args.model} is a QGraph file; use --backend lava"
        )
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    graph = _open_model(args.model)
    x = load_npy(args.input)
    try:
        batch = prepare_input(graph, x, args.steps)
    except InputError as exc:
        raise InputError(f"--input {args.input}: {exc}") from exc

    t0 = time.perf_counter()
    if args.backend == "golden":
        from lavabridge.golden import emulate

        rec = emulate(graph, batch.data, num_steps=batch.num_steps, probe_uv=args.probe_uv)
    elif args.backend == "lava":
        from lavabridge.exporters.lava_session import run_lava

        rec = run_lava(
            graph,
            batch.data,
            num_steps=batch.num_steps,
            probe_uv=args.probe_uv,
            chunk=args.chunk,
            progress=True,
        )
    else:
        from lavabridge.importers.netx_run import run_netx

        with _stdout_to_stderr():
            rec = run_netx(
                args.model, batch.data, num_steps=batch.num_steps, probe_uv=args.probe_uv
            )
    wall = time.perf_counter() - t0
    try:
        rec.to_npz(out)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc
    print("\n".join(_summary(rec, graph, wall)))
    keys = "spikes_<i>, u_<i>, v_<i>" if rec.has_uv else "spikes_<i>"
    print(f"wrote {out} ({keys} for i in 0..{rec.num_layers - 1})")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    kind = detect_format(args.model)
    graph = _open_model(args.model)
    fmt = "lava-dl netx HDF5" if kind == "netx" else "lavabridge QGraph"
    sizes = "-".join(str(s) for s in (graph.n_in, *graph.sizes))
    print(f"{args.model}: {fmt}, graph {graph.name!r}, {len(graph.layers)} layers, {sizes}")
    if graph.input_kind == InputKind.BIAS:
        line = f"input: bias mantissas [B, {graph.n_in}] held for T steps (--steps required)"
        if kind == "netx":
            from lavabridge.importers.netx import netx_input_transform

            with _stdout_to_stderr():
                transform = netx_input_transform(args.model)
            if transform is not None:
                line += f"; netx image transform: {transform}"
        print(line)
    else:
        print(f"input: binary spikes [B, T, {graph.n_in}]")
    print("\n".join(_layers_table(graph)))
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (SUFFIX, ".net"):
        raise InputError(f"OUT {out}: extension must be {SUFFIX} (QGraph) or .net (netx HDF5)")
    graph = _open_model(args.model)
    if suffix == SUFFIX:
        save_qgraph(graph, out)
    else:
        from lavabridge.exporters.netx import write_netx

        transform = None  # a netx source keeps its image transform; a QGraph has none
        if detect_format(args.model) == "netx":
            from lavabridge.importers.netx import netx_input_transform

            transform = netx_input_transform(args.model)
        write_netx(graph, out, input_transform=transform)
    print(f"wrote {out} (graph {graph.name!r}, {len(graph.layers)} layers)")
    return EXIT_OK


def _cmd_netx_demo(args: argparse.Namespace) -> int:
    from lavabridge.netx_demo import run_demo

    report = run_demo(samples=args.samples, steps=args.steps, out_dir=args.out, chunk=args.chunk)
    return EXIT_OK if report.identical else EXIT_MISMATCH


# ----------------------------------------------------------------------------- entry point
def _error(message: object) -> int:
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 demo mismatch, 2 error)."""
    try:
        args = build_parser().parse_args(argv)
        code: int = args.func(args)
    except _UsageError as exc:
        return _error(exc)
    except LavaBridgeError as exc:
        return _error(exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
