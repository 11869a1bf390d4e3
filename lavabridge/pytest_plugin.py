"""pytest plugin of lavabridge: the ``spike_snapshot`` fixture and ``--update-snapshots``.

Enabled automatically through the ``pytest11`` entry point once lavabridge is installed with it;
otherwise add ``-p lavabridge.pytest_plugin`` to pytest's command line (or ``addopts``).

``spike_snapshot`` is a :class:`lavabridge.testing.SpikeSnapshot` whose files live in
``<directory of the test file>/snapshots/<test module>/<test name>[-<name>].npz``::

    def test_spikes_unchanged(spike_snapshot):
        spike_snapshot.check(load_model("model.lbq"), x)   # golden spikes vs the stored snapshot

``pytest --update-snapshots`` writes the snapshots instead of comparing (commit them).
The ini option ``lavabridge_snapshot_dir`` moves them under one directory (relative to rootdir).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lavabridge.testing import SpikeSnapshot


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-snapshots`` and the ``lavabridge_snapshot_dir`` ini option."""
    group = parser.getgroup("lavabridge", "lavabridge spike snapshots")
    group.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="write lavabridge spike snapshots (.npz) instead of comparing against them",
    )
    parser.addini(
        "lavabridge_snapshot_dir",
        "directory (relative to rootdir) for lavabridge spike snapshots; default: a "
        "'snapshots' folder beside each test file",
        default="",
    )


@pytest.fixture
def spike_snapshot(request: pytest.FixtureRequest) -> SpikeSnapshot:
    """A :class:`~lavabridge.testing.SpikeSnapshot` named after the requesting test."""
    test_file = Path(str(request.node.path))
    configured = str(request.config.getini("lavabridge_snapshot_dir"))
    base = (
        Path(str(request.config.rootpath)) / configured
        if configured
        else test_file.parent / "snapshots"
    )
    update = bool(request.config.getoption("--update-snapshots"))
    return SpikeSnapshot(base / test_file.stem, request.node.name, update=update)
