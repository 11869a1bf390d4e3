"""``make mutate``: do the tests catch what matters? A curated mutation run.

Copies the working tree (tracked and untracked, not ignored files) to a scratch folder, checks
that its tests pass there unmutated, then applies each mutant of :mod:`mutants` in turn to the
scratch copy (never to the checkout), runs the mutant's test subset with ``pytest -x``, and
restores the file. A mutant is *killed* when its tests fail, *survives* when they pass. Prints a
table, the survivors and the mutation score ``killed / (killed + survived)``; writes
``runs/mutate.json``. Exit code 0 when the score is at least ``--min-score`` (default 95 %).

Not part of CI (it runs every subset once per mutant: about ten minutes on two cores).

Usage::

    python scripts/mutate.py [--only NAME ...] [--list] [--min-score 95] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mutants import MUTANTS, Mutant  # scripts/ is on sys.path when this file runs

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 900  # a mutant that makes its tests hang counts as killed (by timeout)


@dataclass
class Outcome:
    """What one mutant's test subset did."""

    name: str
    area: str
    path: str
    what: str
    result: str  # killed | survived | timeout | stale
    seconds: float
    tests: str
    detail: str


class StaleMutantError(Exception):
    """A mutant's ``old`` text is not found exactly once in its file."""


def scratch_copy(dest: Path) -> None:
    """The working tree (``git ls-files --cached --others --exclude-standard``) under ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, files):
        src, dst = ROOT / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():  # lavabridge/exporters, lavabridge/processes: relative links
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, dst)


def pytest(scratch: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """``pytest -x`` in the scratch copy, importing lavabridge from it (not from the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(scratch), "LAVABRIDGE_HYPOTHESIS_PROFILE": "ci"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )


def apply(scratch: Path, mutant: Mutant) -> str:
    """Mutate the scratch copy's file; returns its original text (to restore)."""
    path = (scratch / mutant.path).resolve()
    original = path.read_text()
    text = original
    for old, new in mutant.edits:
        count = text.count(old)
        if count != 1:
            raise StaleMutantError(f"{mutant.path}: {old!r} found {count} times (expected once)")
        text = text.replace(old, new)
    path.write_text(text)
    return original


def failing_test(output: str) -> str:
    """The first failing test's id in pytest's short summary (or the last line)."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    lines = output.strip().splitlines()
    return lines[-1] if lines else ""


def run_mutant(scratch: Path, mutant: Mutant) -> Outcome:
    start = time.monotonic()
    base = Outcome(mutant.name, mutant.area, mutant.path, mutant.what, "stale", 0.0,
                   " ".join(mutant.tests), "")  # fmt: skip
    try:
        original = apply(scratch, mutant)
    except StaleMutantError as exc:
        base.detail = str(exc)
        return base
    try:
        proc = pytest(scratch, mutant.tests)
        base.result = "survived" if proc.returncode == 0 else "killed"
        base.detail = failing_test(proc.stdout) if proc.returncode else ""
    except subprocess.TimeoutExpired:
        base.result, base.detail = "timeout", f"tests ran over {TIMEOUT_S} s"
    finally:
        (scratch / mutant.path).resolve().write_text(original)
    base.seconds = round(time.monotonic() - start, 1)
    return base


def check_scratch(scratch: Path, selected: list[Mutant]) -> None:
    """The scratch copy imports its own lavabridge and its test subsets pass unmutated."""
    probe = subprocess.run(
        [sys.executable, "-c", "import lavabridge; print(lavabridge.__file__)"],
        cwd=scratch, env={**os.environ, "PYTHONPATH": str(scratch)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    if not probe.stdout.strip().startswith(str(scratch)):
        raise SystemExit(f"mutate: the scratch copy imports lavabridge from {probe.stdout.strip()}")
    for args in sorted({m.tests for m in selected}):
        proc = pytest(scratch, args)
        if proc.returncode != 0:
            raise SystemExit(
                f"mutate: the unmutated tests fail ({' '.join(args)}): {failing_test(proc.stdout)}"
            )


def report(outcomes: list[Outcome], min_score: float) -> tuple[float, str]:
    width = max(len(o.name) for o in outcomes)
    lines = [f"{'mutant':<{width}}  {'area':<13} {'result':<9} {'s':>6}  caught by / detail"]
    for o in outcomes:
        lines.append(f"{o.name:<{width}}  {o.area:<13} {o.result:<9} {o.seconds:>6.1f}  {o.detail}")
    killed = sum(o.result in ("killed", "timeout") for o in outcomes)
    scored = sum(o.result != "stale" for o in outcomes)
    score = 100.0 * killed / scored if scored else 0.0
    survivors = [o for o in outcomes if o.result == "survived"]
    stale = [o for o in outcomes if o.result == "stale"]
    lines.append("")
    lines.append(f"mutation score: {killed}/{scored} killed = {score:.1f} % (need {min_score:g} %)")
    lines.append("survivors: " + (", ".join(o.name for o in survivors) or "none"))
    for o in survivors:
        lines.append(f"  {o.name}: {o.what} ({o.path}; tests: {o.tests})")
    if stale:
        lines.append("stale (not scored): " + ", ".join(f"{o.name} ({o.detail})" for o in stale))
    return score, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--min-score", type=float, default=95.0)
    ap.add_argument("--json", type=Path, default=ROOT / "runs" / "mutate.json")
    args = ap.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:<30} {m.area:<13} {m.path}: {m.what}")
        return 0
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        ap.error(f"unknown mutant(s) {sorted(unknown)}; see --list")
    selected = [m for m in MUTANTS if not args.only or m.name in args.only]
    with tempfile.TemporaryDirectory(prefix="lavabridge-mutate-") as tmp:
        scratch = Path(tmp)
        scratch_copy(scratch)
        print(f"mutate: {len(selected)} mutants on a scratch copy in {scratch}", flush=True)
        check_scratch(scratch, selected)
        outcomes = []
        for i, m in enumerate(selected, 1):
            outcomes.append(run_mutant(scratch, m))
            o = outcomes[-1]
            print(f"[{i}/{len(selected)}] {o.name}: {o.result} ({o.seconds} s)", flush=True)
    score, table = report(outcomes, args.min_score)
    print()
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "score_percent": round(score, 2),
        "min_score_percent": args.min_score,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg()},
        "mutants": [asdict(o) for o in outcomes],
    }  # fmt: skip
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    raise SystemExit(main())
