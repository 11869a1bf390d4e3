"""What every ``lavabridge`` command shares: exit codes, the parser class, stdout hygiene."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn

PROG = "lavabridge"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2
RUN_CONFIG = "pipeline.json"  # what marks a run directory (lavabridge.pipeline.CONFIG_FILE)


class UsageError(Exception):
    """A command-line mistake argparse found (reported as one line, exit code 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing the usage block and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what lava-dl prints on import (a Prophesee warning) to stderr, keeping stdout clean."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def error(message: object) -> int:
    """Print ``lavabridge: error: <message>`` as one line on stderr; return the usage exit code."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return EXIT_USAGE


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def add_nir_options(p: argparse.ArgumentParser, where: str, *, reset: bool = True,
                    dt_help: str = "(required: NIR files store none)") -> None:  # fmt: skip
    """``--dt``, ``--discretisation`` (and ``--reset``): the choices a NIR graph leaves open."""
    p.add_argument("--dt", type=positive_float, metavar="DT",
                   help=f"{where}: seconds per time step {dt_help}")  # fmt: skip
    p.add_argument("--discretisation", choices=("euler", "exp"),
                   help=f"{where}: forward Euler dt/tau (default; a lavabridge file's own) "
                   "or exact exponential 1 - exp(-dt/tau)")  # fmt: skip
    if reset:
        p.add_argument("--reset", choices=("zero", "subtract"),
                       help=f"{where}: same-step reset, v <- v_reset (default; a lavabridge "
                       "file's own) or v <- v - (v_threshold - v_reset)")  # fmt: skip
