"""Shared pytest configuration: hypothesis profiles, and the ``netx_data`` fixture.

``ci`` (selected when ``CI`` is set): derandomized, so CI runs are reproducible.
``dev`` (default): random examples, a different slice of the space on every run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from lavabridge.data import lava_dl_netx_dir
from lavabridge.errors import ModelFileError

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(
    os.environ.get("LAVABRIDGE_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="session")
def netx_data() -> Path:
    """lava-dl's shipped test networks (site-packages/tests/lava/lib/dl/netx)."""
    try:
        return lava_dl_netx_dir()
    except ModelFileError as exc:
        pytest.fail(str(exc))


FUZZ_COUNTER = pytest.StashKey[list[int]]()  # hostile files read by tests/test_fuzz.py


@pytest.fixture
def fuzz_count(request: pytest.FixtureRequest) -> list[int]:
    """The session's count of fuzz cases (``[n]``; tests add to it, the summary prints it)."""
    return _fuzz_count(request.config)


def _fuzz_count(config: pytest.Config) -> list[int]:
    return config.stash.setdefault(FUZZ_COUNTER, [0])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its fuzz-case count to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_cases"] = _fuzz_count(session.config)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller adds up its workers' fuzz-case counts."""
    _fuzz_count(node.config)[0] += getattr(node, "workeroutput", {}).get("fuzz_cases", 0)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print how many hostile files the fuzz suite fed to lavabridge's readers."""
    if n := _fuzz_count(config)[0]:
        terminalreporter.write_line(
            f"fuzz cases: {n} files, each read to a result or a typed error"
        )
