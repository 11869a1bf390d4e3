"""Shared pytest configuration: hypothesis profiles, and the ``netx_data`` fixture.

``ci`` (selected when ``CI`` is set): derandomized, so CI runs are reproducible.
``dev`` (default): random examples, a different slice of the space on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

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
