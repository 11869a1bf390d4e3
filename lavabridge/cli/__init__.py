"""The ``lavabridge`` command line.

``lavabridge run MODEL --input X.npy --backend {golden,lava,netx,float} --out REC.npz``
    Run a model (netx ``.net`` or QGraph ``.lbq``; a float IR ``.lbir`` with ``float``) on a
    batch and write a Recording
    (``spikes_<i>`` ``[B, T, N_i]`` per neuron layer, and ``u_<i>``, ``v_<i>`` with ``--probe-uv``).
``lavabridge info MODEL``
    Print the layers of a model (and any approximated semantics).
``lavabridge convert MODEL OUT``
    Rewrite a model as ``.lbq`` or netx ``.net`` (chosen by OUT's extension).
``lavabridge demo | train | quantize | export``
    The main job and its stages (see :mod:`lavabridge.cli.pipeline`).
``lavabridge import SRC --from snntorch|spikingjelly --example X.npy --out RUN_DIR``
    An snnTorch / SpikingJelly model as a run directory the stages take
    (see :mod:`lavabridge.pipeline.imported`).
``lavabridge verify MODEL --input X.npy --out DIR`` / ``lavabridge verify RUN_DIR``
    Float vs golden vs Lava with diagnostics, report.json/report.md and plots
    (see :mod:`lavabridge.cli.verify`).

Every expected failure (missing file, wrong shape, unsupported layer, bad option) ends with exit
code 2 and one line ``lavabridge: error: ...`` on stderr; results go to stdout and files, progress
bars to stderr. SIGINT, SIGTERM and SIGHUP stop any command (its Lava runtime included) with exit
code 130, 143 or 129 and one line saying what was interrupted; outputs are written atomically, so
an interrupted command leaves no partial file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lavabridge.cli.common import PROG, Parser, UsageError, error
from lavabridge.cli.models import add_model_commands
from lavabridge.cli.pipeline import add_pipeline_commands
from lavabridge.cli.verify import add_verify_command
from lavabridge.errors import LavaBridgeError
from lavabridge.signals import Interrupted, handle_signals

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_model_commands(sub)
    add_pipeline_commands(sub)
    add_verify_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 golden/Lava mismatch, 2 error)."""
    try:
        args = build_parser().parse_args(argv)
        with handle_signals():
            code: int = args.func(args)
    except UsageError as exc:
        return error(exc)
    except LavaBridgeError as exc:
        return error(exc)
    except OSError as exc:  # writing an output failed (a full or read-only disk, permissions)
        return error(f"{exc.filename or 'output'}: {exc.strerror or exc}")
    except Interrupted as exc:
        during = f" during {exc.during}" if exc.during else ""
        print(f"{PROG}: {args.command} interrupted by {exc.signame}{during}; no partial output "
              "was written", file=sys.stderr)  # fmt: skip
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return code
