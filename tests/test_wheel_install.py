"""The package-dir mapping holds in a wheel install too: Lava finds lavabridge's process models.

Builds a wheel of this checkout, unpacks it into a temporary site directory, and runs a small
golden-vs-Lava comparison in a subprocess that imports lavabridge from there (not the editable
checkout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import numpy as np
import lavabridge, lavabridge.processes, lavabridge.exporters
from lavabridge import QGraph, QLayer, QCubaLIF, QDense, emulate
from lavabridge.backends.lava import run_lava
g = QGraph(3, (QLayer("a", QCubaLIF(4, 100, 100, 10), QDense(np.arange(12).reshape(4, 3) * 9)),))
x = (np.random.default_rng(0).random((2, 10, 3)) < 0.5).astype(np.int8)
assert emulate(g, x, probe_uv=True).first_mismatch(run_lava(g, x, probe_uv=True)) is None
print(lavabridge.__file__, lavabridge.processes.__file__, lavabridge.exporters.__file__)
"""


@pytest.mark.lava
@pytest.mark.slow
def test_wheel_install_finds_process_models(tmp_path: Path) -> None:
    src = tmp_path / "src"  # setuptools builds in the source tree: build a copy, keep ours clean
    skip = shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", ".*cache"
    )
    shutil.copytree(ROOT, src, ignore=skip)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(src)],
        check=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("lavabridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lavabridge/processes/statetap/models.py" in names
    assert not any(n.startswith(("processes/", "exporters/")) for n in names)  # no top-level names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(p.startswith(str(site)) for p in out.stdout.split()), out.stdout
