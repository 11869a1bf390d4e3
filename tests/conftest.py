"""Shared pytest configuration: hypothesis profiles.

``ci`` (selected when ``CI`` is set): derandomized, so CI runs are reproducible.
``dev`` (default): random examples, a different slice of the space on every run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
