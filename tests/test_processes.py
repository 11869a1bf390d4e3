"""Every custom Lava process in ``lavabridge.processes`` is found and compiled by Lava.

Lava discovers ProcessModels by importing the modules beside a Process's file; this must work with
the ``package-dir`` mapping (processes/ installs as lavabridge.processes) in editable and wheel installs.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from lava.magma.compiler.compiler_graphs import ProcGroupDiGraphs
from lava.magma.core.process.process import AbstractProcess
from lava.proc.lif.process import LIF

import lavabridge.processes as procs
from lavabridge.processes.flexlif.process import FlexLIF
from lavabridge.processes.memsource.process import MemSource
from lavabridge.processes.recorder.process import SpikeRecorder
from lavabridge.processes.statetap.process import StateTap


def _process_classes() -> list[type[AbstractProcess]]:
    found = []
    for info in pkgutil.iter_modules(procs.__path__, procs.__name__ + "."):
        module = importlib.import_module(info.name + ".process")
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, AbstractProcess) and cls.__module__ == module.__name__
        ]
    return found


def test_every_process_folder_is_covered() -> None:
    assert set(_process_classes()) == {FlexLIF, MemSource, SpikeRecorder, StateTap}


@pytest.mark.lava
def test_models_are_discovered_for_every_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f.i32"
    np.memmap(path, np.int32, "w+", shape=(4, 3)).flush()
    lif = LIF(shape=(3,))
    instances = {
        MemSource: MemSource(shape=(3,), path=str(path), capacity=4),
        SpikeRecorder: SpikeRecorder(shape=(3,), path=str(path), capacity=4),
        StateTap: StateTap(var=lif.v, period=2),
        FlexLIF: FlexLIF(shape=(3,), reset="subtract-next", compare=">="),
    }
    assert set(instances) == set(_process_classes())
    for proc in instances.values():
        models = ProcGroupDiGraphs._find_proc_models(proc)
        assert models, f"Lava found no ProcessModel for {type(proc).__name__}"
        assert any("fixed_pt" in m.tags for m in models)
    flex = ProcGroupDiGraphs._find_proc_models(instances[FlexLIF])
    assert {"fixed_pt", "floating_pt"} <= {t for m in flex for t in m.tags}
