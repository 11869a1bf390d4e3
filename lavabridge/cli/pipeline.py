"""The pipeline commands of the ``lavabridge`` CLI: ``demo``, ``train``, ``quantize``, ``export``.

A run directory carries every stage's artifacts::

    lavabridge train --dataset digits --out runs/x      # pipeline.json, model.pt, model.lbir
    lavabridge quantize runs/x                          # model.lbq, quant_report.json
    lavabridge export runs/x                            # model.net (lava-dl netx), where expressible
    lavabridge export runs/x --to nir --dt 1e-3         # model.nir (NIR; --quantized: its values)
    lavabridge import m.nir --from nir --dt 1e-4 --example x.npy --out runs/m   # a NIR graph
    lavabridge verify runs/x                            # verify/report.{json,md}, plots (lavabridge.cli.verify)
    lavabridge demo                                     # all four on digits into runs/demo

``demo`` writes the VerifyReport of its verify stage as ``runs/demo/report.json`` (the schema of
``lavabridge verify``), plus ``report.md``, the plots and ``stages.json`` (stage timings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lavabridge.cli.common import EXIT_MISMATCH, EXIT_OK, add_nir_options, positive_int
from lavabridge.errors import InputError


def add_pipeline_commands(sub: Any) -> None:
    """Register the pipeline subcommands on an argparse subparsers object."""

    def training_options(p: argparse.ArgumentParser, out_default: str) -> None:
        p.add_argument("--dataset", default="digits", choices=("digits", "mnist", "fashion-mnist"))
        p.add_argument("--data-dir", metavar="DIR", help="directory with idx files (MNIST/Fashion)")
        p.add_argument("--hidden", type=positive_int, nargs="+", default=[256], metavar="N")
        p.add_argument(
            "--arch", choices=("dense", "conv"), default="dense",
            help="dense: hidden dense layers; conv: 3x3 conv + 2x2 average pool per --channels "
            "entry, then the --hidden dense layers",
        )  # fmt: skip
        p.add_argument("--channels", type=positive_int, nargs="+", default=[8, 16], metavar="C",
                       help="conv arch: output channels of each conv stage")  # fmt: skip
        p.add_argument("--steps", type=positive_int, default=24, metavar="T", help="time steps")
        p.add_argument("--epochs", type=positive_int, default=40)
        p.add_argument("--lr", type=float, default=2e-3)
        p.add_argument("--voltage-decay", type=float, default=0.1)
        p.add_argument("--current-decay", type=float, default=1.0)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--qat", action="store_true", help="quantization-aware training")
        p.add_argument(
            "--netx-compatible", action="store_true",
            help="quantize with weight_exp=0 so `lavabridge export` can write a lava-dl netx file",
        )  # fmt: skip
        p.add_argument(
            "--encoding", choices=("rate", "current"), default="rate",
            help="rate: seeded Bernoulli spikes; current: bias-driven input layer (direct current)",
        )  # fmt: skip
        p.add_argument("--input-gain", type=float, default=1.0, help="gain of current encoding")
        p.add_argument("--max-test", type=positive_int, metavar="N", help="evaluate N test samples")
        p.add_argument("--max-train", type=positive_int, metavar="N",
                       help="train on the first N training samples")  # fmt: skip
        p.add_argument("--device", default="auto", help="auto, cpu or cuda")
        p.add_argument("--out", default=out_default, metavar="DIR", help="run directory")
        p.add_argument(
            "--resume", action="store_true",
            help="continue an interrupted training from DIR/checkpoint.pt (same settings)",
        )  # fmt: skip

    demo = sub.add_parser(
        "demo", help="train on digits, quantize, deploy on Lava, compare (main job)"
    )
    training_options(demo, "runs/demo")
    demo.add_argument("--no-lava", action="store_true", help="skip the Lava run")
    demo.set_defaults(func=_cmd_demo)

    train = sub.add_parser("train", help="train an SNN; writes model.pt, model.lbir, pipeline.json")
    training_options(train, "runs/train")
    train.set_defaults(func=_cmd_train)

    imp = sub.add_parser(
        "import", help="import an snnTorch / SpikingJelly model or a NIR file into a run directory"
    )
    imp.add_argument("src", metavar="SRC",
                     help="a torch.save'd model file, package.module:function returning it, "
                     "or a .nir file (--from nir)")  # fmt: skip
    imp.add_argument("--from", dest="framework", required=True,
                     choices=("snntorch", "spikingjelly", "nir"))  # fmt: skip
    add_nir_options(imp, "--from nir")
    imp.add_argument("--example", required=True, metavar="X.npy",
                     help="time-major binary spikes [T, B, *input_shape] (discovers the structure; "
                     "the default calibration and verification input)")  # fmt: skip
    imp.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    imp.add_argument("--name", help="the graph's name (default: the model's class name)")
    imp.set_defaults(func=_cmd_import)

    for name, func, text in (
        ("quantize", _cmd_quantize, "quantize a run: model.lbq, quant_report.json"),
        (
            "export",
            _cmd_export,
            "write the quantized run as a lava-dl netx file (model.net) or "
            "the model as NIR (--to nir: model.nir)",
        ),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("run_dir", metavar="RUN_DIR",
                       help="a directory written by `lavabridge train` or `lavabridge import`")  # fmt: skip
        if name == "quantize":
            p.add_argument("--calibration", metavar="X.npy",
                           help="an import run's calibration spikes [T, B, ...] (default: "
                           "its example)")  # fmt: skip
        if name == "export":
            p.add_argument("--to", choices=("netx", "nir"), default="netx")
            p.add_argument("--quantized", action="store_true",
                           help="--to nir: the quantized model's dequantized values "
                           "(model.quantized.nir) instead of the float model")  # fmt: skip
            add_nir_options(p, "--to nir", reset=False, dt_help="(default: a NIR import's own)")
        p.set_defaults(func=func)


def _config(args: argparse.Namespace) -> Any:
    from lavabridge.pipeline import PipelineConfig

    return PipelineConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        hidden=tuple(args.hidden),
        arch=args.arch,
        channels=tuple(args.channels),
        num_steps=args.steps,
        epochs=args.epochs,
        lr=args.lr,
        voltage_decay=args.voltage_decay,
        current_decay=args.current_decay,
        seed=args.seed,
        qat=args.qat,
        netx_compatible=args.netx_compatible,
        encoding=args.encoding,
        input_gain=args.input_gain,
        max_test=args.max_test,
        max_train=args.max_train,
        device=args.device,
        out_dir=Path(args.out),
        lava=not getattr(args, "no_lava", False),
    )


def print_result(result: Any) -> None:
    """A summary table of a pipeline run (its VerifyReport and stage timings) on stdout."""
    from rich.console import Console
    from rich.table import Table

    report = result.report
    gl = report.golden_lava
    table = Table(title=f"{report.model.name}: {report.samples} test samples, T={report.num_steps}")
    for col, justify in (("oracle", "left"), ("accuracy", "right"), ("samples", "right"),
                         ("spikes", "left")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    agree = ", ".join(f"{a.agreement:.4f}" for a in report.float_quant)
    notes = {
        "float": f"agreement with golden {agree}" if agree else "",
        "golden": "-",
        "lava": "identical to golden" if gl.identical else "DIFFERENT from golden",
    }
    for acc in report.accuracy:
        table.add_row(acc.oracle, f"{acc.accuracy:.4f}", str(acc.samples), notes[acc.oracle])
    console = Console()
    console.print(table)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    oracles = ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items() if k != "total")
    console.print(f"stages: {stages}; verify: {oracles}")
    console.print(f"verdict: {report.summary()}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from lavabridge.pipeline import run_pipeline

    cfg = _config(args)
    result = run_pipeline(cfg, resume=args.resume)
    print_result(result)
    print(f"report: {Path(cfg.out_dir) / 'report.json'}")
    return EXIT_MISMATCH if result.report.status == "mismatch" else EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from lavabridge.pipeline import stage_train

    info = stage_train(_config(args), resume=args.resume)
    print(f"trained {info['epochs']} epochs in {info['seconds']:.1f}s on {info['device']}: "
          f"loss {info['final_loss']:.4f}, train accuracy {info['train_accuracy']:.4f}; wrote {args.out}")  # fmt: skip
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from lavabridge.pipeline.imported import stage_import

    if args.framework == "nir":
        from lavabridge.pipeline.nirrun import stage_import_nir

        if args.dt is None:
            raise InputError("--from nir needs --dt (seconds per step; NIR files store none)")
        doc = stage_import_nir(args.src, args.example, args.out, dt=args.dt, reset=args.reset,
                               discretisation=args.discretisation, name=args.name)  # fmt: skip
        print(f"NIR semantics: dt {doc['dt']:g} s, {doc['discretisation']} discretisation, "
              f"reset {doc['reset']} (same step), v starts at v_reset")  # fmt: skip
    else:
        if any(getattr(args, k) is not None for k in ("dt", "reset", "discretisation")):
            raise InputError("--dt, --reset, --discretisation: only for --from nir")
        doc = stage_import(args.src, args.framework, args.example, args.out, name=args.name)
    check = doc["source_check"]
    print(f"imported {doc['name']!r} from {doc['framework']}: {len(doc['layers'])} layers "
          f"({', '.join(doc['layers'])}), latencies {doc['latencies']} steps")  # fmt: skip
    verdict = "identical" if check["identical"] else "DIFFERENT"
    print(f"{doc['framework']} vs float reference on the example (shifted by the latencies): "
          f"{verdict} spikes")  # fmt: skip
    print(f"wrote {args.out} (import.json, model.lbir, input.npy, source.npz); next: "
          f"lavabridge quantize {args.out}")  # fmt: skip
    return EXIT_OK if check["identical"] else EXIT_MISMATCH


def _cmd_quantize(args: argparse.Namespace) -> int:
    from lavabridge.pipeline import stage_quantize

    _, report = stage_quantize(args.run_dir, args.calibration)
    for layer in report.layers:
        agree = "" if layer.spike_agreement is None else f", agreement {layer.spike_agreement:.4f}"
        cpu = "; CPU simulator only (FlexLIF)" if layer.cpu_simulator_only else ""
        print(
            f"{layer.name}: weight_exp {layer.weight_exp}, scale {layer.scale:.4g}, "
            f"max weight error {layer.max_weight_error:.3g}, headroom u {layer.u_headroom_bits:.1f} "
            f"/ v {layer.v_headroom_bits:.1f} bits{agree}{cpu}"
            + "".join(f"; {a}" for a in layer.approximations)
        )
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from lavabridge.pipeline import stage_export

    if args.to == "nir":
        from lavabridge.pipeline.nirrun import stage_export_nir

        path = stage_export_nir(args.run_dir, dt=args.dt, discretisation=args.discretisation,
                                quantized=args.quantized)  # fmt: skip
        print(path, file=sys.stdout)
        return EXIT_OK
    if args.quantized or args.dt is not None or args.discretisation is not None:
        raise InputError("--quantized, --dt, --discretisation: only for --to nir")
    result = stage_export(args.run_dir)
    print(result["netx"], file=sys.stdout)
    return EXIT_OK
