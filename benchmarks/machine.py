"""What ran the benchmarks: machine, libraries, BLAS and thread settings, git revision."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

_ENV_KEYS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    """The SIMD features that decide BLAS kernels (from /proc/cpuinfo)."""
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (other jobs on a shared machine skew timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _blas() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:
        from threadpoolctl import threadpool_info

        info["numpy_threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "architecture", "version")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["numpy_threadpools"] = "threadpoolctl not installed"
    try:
        import torch

        info["torch_num_threads"] = torch.get_num_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
        info["torch_float32_matmul_precision"] = torch.get_float32_matmul_precision()
    except ImportError:
        info["torch_num_threads"] = None
    return info


def describe_machine() -> dict[str, Any]:
    """Machine description for the JSON report (call from the parent process)."""
    import numpy

    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }
    for mod in ("torch", "scipy"):
        try:
            versions[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            versions[mod] = None
    try:
        from importlib.metadata import version

        versions["lava-nc"] = version("lava-nc")
    except Exception:
        versions["lava-nc"] = None
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": _mem_total_gb(),
        "versions": versions,
        "blas": _blas(),
        "env": {k: os.environ.get(k) for k in _ENV_KEYS},
        "load_average_start": load_average(),
    }


def git_revision(root: Path) -> dict[str, Any]:
    """``{"revision": sha or None, "dirty": bool or None}`` of the repository at ``root``."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        return {"revision": sha, "dirty": bool(status.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"revision": None, "dirty": None}
