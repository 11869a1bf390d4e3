"""The ``lavabridge verify`` command: float reference vs golden emulator vs Lava, with a report.

Two ways to name what to verify::

    lavabridge verify RUN_DIR [--out DIR]
        a directory written by ``lavabridge train`` + ``quantize`` (pipeline.json, model.lbir,
        model.lbq): the float reference is model.lbir, the input the pipeline's encoded test split,
        the labels its test labels; DIR defaults to RUN_DIR/verify
    lavabridge verify MODEL --input X.npy [--labels Y.npy] --out DIR
        MODEL is a netx .net or a .lbq file; the float reference is --float-model, else a .lbir
        file with MODEL's stem next to it, else none

Writes DIR/report.json, DIR/report.md, DIR/raster.png, DIR/traces.png, DIR/divergence.png.
Exit code 0 when golden and Lava agree exactly (or with --no-lava), 1 on a mismatch, 2 on bad
input (one line ``lavabridge: error: ...`` on stderr, from :func:`lavabridge.cli.main`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy.typing as npt

from lavabridge.cli.common import EXIT_MISMATCH, EXIT_OK, RUN_CONFIG, positive_int, stdout_to_stderr
from lavabridge.cli.models import add_netx_options, open_model
from lavabridge.errors import InputError
from lavabridge.formats.npy import load_npy


def add_verify_command(sub: Any) -> None:
    """Register ``verify`` on an argparse subparsers object."""
    p = sub.add_parser(
        "verify",
        help="float vs golden vs Lava on one input: report.json/.md and plots "
        "(exit 1 when golden and Lava differ)",
        description=(__doc__ or "").split("\n\n")[0],
    )
    p.add_argument(
        "target",
        metavar="MODEL|RUN_DIR",
        help="a netx .net / lavabridge .lbq model (with --input), or a run directory written by "
        "`lavabridge train` and `lavabridge quantize`",
    )
    p.add_argument("--input", metavar="X.npy", help="spikes [B,T,N_in] (bias input: [B,N_in])")
    p.add_argument("--labels", metavar="Y.npy", help="class labels [B] (adds accuracies)")
    p.add_argument("--out", metavar="DIR", help="report directory (default RUN_DIR/verify)")
    p.add_argument(
        "--float-model", metavar="F.lbir", help="float IR reference (default: MODEL's stem .lbir)"
    )
    p.add_argument("--steps", type=positive_int, metavar="T", help="time steps (bias input)")
    p.add_argument(
        "--spikes-only",
        action="store_true",
        help="compare u and v only on the plotted and mismatching samples (Lava ~2x faster)",
    )
    p.add_argument("--no-lava", action="store_true", help="skip Lava (exit code 0)")
    p.add_argument("--lava-samples", type=positive_int, metavar="N", help="Lava on the first N")
    p.add_argument("--chunk", type=positive_int, default=64, metavar="N", help="samples per run")
    p.add_argument("--sample", type=int, default=0, metavar="I", help="sample to plot")
    p.add_argument("--tau", type=float, default=4.0, help="van Rossum time constant [steps]")
    p.add_argument(
        "--readout", choices=("auto", "spikes", "v"), default="auto",
        help="how --labels accuracy decodes a class (auto: v when the output layer cannot fire)",
    )  # fmt: skip
    p.add_argument("--no-plots", action="store_true", help="write report.json/.md only")
    add_netx_options(p)
    p.set_defaults(func=cmd_verify)


def _model_inputs(
    args: argparse.Namespace, model: Path
) -> tuple[Path | None, npt.NDArray[Any], npt.NDArray[Any] | None, Path]:
    if args.input is None:
        raise InputError(f"--input X.npy is required to verify a model file ({model})")
    if args.out is None:
        raise InputError("--out DIR is required to verify a model file")
    x = load_npy(args.input, "--input")
    y = load_npy(args.labels, "--labels") if args.labels else None
    float_path: Path | None = None
    if args.float_model:
        float_path = Path(args.float_model)
        if not float_path.is_file():
            raise InputError(f"--float-model {float_path}: no such file")
    elif model.with_suffix(".lbir").is_file():
        float_path = model.with_suffix(".lbir")
    return float_path, x, y, Path(args.out)


def _print_summary(report: Any, files: dict[str, Path]) -> None:
    print(f"{report.status.upper()}: {report.summary()}")
    for e in report.golden_lava.layers:
        print(
            f"  layer {e.layer} {e.name!r}: spikes differing {e.spikes_differing}, "
            f"u {e.u_differing}, v {e.v_differing}, samples {e.samples_differing}"
        )
    for a in report.accuracy:
        print(f"  accuracy {a.oracle}: {a.accuracy:.4f} ({a.samples} samples)")
    for a in report.float_quant:
        print(f"  float vs golden {a.name!r}: spike agreement {a.agreement:.4f}")
    if report.source is not None:
        src = report.source
        differing = sum(ly.spikes_differing for ly in src.layers)
        verdict = "identical" if src.identical else f"{differing} spike(s) DIFFER"
        print(f"  {src.framework} vs float reference (shifted by each layer's latency): {verdict}")
    events = [
        f"{h.name}: {h.u_wraps} u wraps, {h.v_saturations} v saturations, "
        f"{h.threshold_ties} threshold ties"
        for h in report.health
        if h.u_wraps or h.v_saturations or h.threshold_ties
    ]
    print("  fixed-point health: " + ("; ".join(events) if events else "no events"))
    print(f"  time: {report.timings.get('total', 0.0):.1f} s")
    for key, path in files.items():
        print(f"wrote {key}: {path}")


def _check_options(args: argparse.Namespace) -> None:
    if args.tau <= 0:
        raise InputError(f"--tau must be > 0, got {args.tau}")
    if args.sample < 0:
        raise InputError(f"--sample must be >= 0, got {args.sample}")


def _verify_run_dir(args: argparse.Namespace, run: Path) -> tuple[Any, Path]:
    for opt in ("input", "labels", "float_model", "steps", "num_layers", "reset_interval"):
        if getattr(args, opt) is not None:
            flag = "--" + opt.replace("_", "-")
            raise InputError(f"{flag}: not used with a run directory (it supplies its own)")
    from lavabridge.pipeline import verify_run

    report = verify_run(run, lava=not args.no_lava, probe_uv=not args.spikes_only, progress=True)
    return report, Path(args.out) if args.out else run / "verify"


def _verify_model(args: argparse.Namespace, model: Path) -> tuple[Any, Path]:
    from lavabridge.verify import verify

    float_path, x, y, out = _model_inputs(args, model)
    options = args.num_layers is not None or args.reset_interval is not None
    report = verify(
        open_model(str(model), args) if options else model,
        x,
        labels=y,
        float_model=float_path,
        num_steps=args.steps,
        lava=not args.no_lava,
        lava_samples=args.lava_samples,
        probe_uv=not args.spikes_only,
        chunk=args.chunk,
        sample=args.sample,
        tau=args.tau,
        readout=args.readout,
        progress=True,
    )
    return report, out


def cmd_verify(args: argparse.Namespace) -> int:
    """Run ``lavabridge verify``; return the exit code."""
    from lavabridge.verify import write_report

    target = Path(args.target)
    _check_options(args)
    if target.is_dir():
        if not (target / RUN_CONFIG).is_file() and not (target / "import.json").is_file():
            raise InputError(
                f"{target}: a directory but not a run directory (no {RUN_CONFIG} or import.json); "
                "pass a .net/.lbq model with --input, or a directory from `lavabridge train` / "
                "`lavabridge import`"
            )
        with stdout_to_stderr():
            report, out = _verify_run_dir(args, target)
    elif target.is_file():
        with stdout_to_stderr():
            report, out = _verify_model(args, target)
    else:
        raise InputError(f"{target}: no such model file or run directory")
    try:
        files = write_report(report, out, plots=not args.no_plots)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from exc
    _print_summary(report, files)
    return EXIT_MISMATCH if report.status == "mismatch" else EXIT_OK
