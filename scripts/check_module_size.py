"""Lint: every Python module of the repository has at most ``LIMIT`` lines (``make lint``).

Walks the project's source folders (links are not followed, so ``lavabridge/exporters`` and
``lavabridge/processes``, which link to the top-level folders, are counted once) and prints each
module over the limit; the exit code is 1 when there is one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LIMIT = 400
ROOTS = ("lavabridge", "exporters", "processes", "tests", "benchmarks", "examples", "scripts")


def modules(root: Path) -> list[Path]:
    """The ``.py`` files under ``root``'s source folders (no links, no caches)."""
    out = []
    for name in ROOTS:
        for folder, dirs, files in os.walk(root / name, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            out += [Path(folder) / f for f in files if f.endswith(".py")]
    return sorted(out)


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    too_long = []
    for path in modules(root):
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > LIMIT:
            too_long.append(f"{path.relative_to(root)}: {n} lines (limit {LIMIT})")
    for line in too_long:
        print(line)
    print(f"module size: {len(too_long)} module(s) over {LIMIT} lines", file=sys.stderr)
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main())
