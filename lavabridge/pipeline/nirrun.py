"""Run directories of NIR graphs: ``lavabridge import MODEL.nir --from nir --dt DT`` and
``lavabridge export RUN_DIR --to nir``.

An import writes the run directory of :mod:`lavabridge.pipeline.imported` (``import.json`` with
``dt``, ``reset`` and ``discretisation``, ``model.lbir``, ``input.npy``, ``source.npz``);
its *source* spikes are the NIR graph's own run, node by node in NIR's units
(:func:`lavabridge.importers.nirsim.run_nir`, independent of the IR translation), so the import
check compares the folded IR against the graph as NIR defines it. The quantize / export /
verify stages then take the directory as for any import.

:func:`stage_export_nir` writes ``model.nir`` (the float model) or, with ``quantized=True``,
``model.quantized.nir`` (the QGraph's dequantized values) with
:func:`lavabridge.exporters.nir.write_nir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.errors import InputError, ModelFileError
from lavabridge.exporters.nir import write_nir
from lavabridge.formats.nir import check_dt, choose_discretisation, load
from lavabridge.formats.npy import load_npy
from lavabridge.importers.nir import read_nir
from lavabridge.importers.nirsim import run_nir
from lavabridge.importers.source import framework_input
from lavabridge.pipeline.imported import is_import_run, load_import, write_import_run
from lavabridge.quant.serialize import load_qgraph


def import_nir(
    src: Any,
    x: npt.ArrayLike,
    out: str | Path,
    *,
    dt: float,
    reset: str | None = None,
    discretisation: str | None = None,
    name: str | None = None,
    labels: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Import the NIR graph ``src`` (graph or ``.nir`` path; arguments of
    :func:`~lavabridge.importers.nir.read_nir`) with the time-major example ``x``
    ``[T, B, *input_shape]`` into the run directory ``out``; returns ``import.json``'s document."""
    step = check_dt(dt)
    source = load(src)
    graph = read_nir(source, step, reset, discretisation=discretisation, name=name)
    disc = choose_discretisation(discretisation, source.metadata)
    chain = graph.layer_chain()
    resets = {ly.name: ly.neuron.reset.value for ly in chain}  # type: ignore[attr-defined]
    x = framework_input(x, "example input")
    outs = run_nir(source, x, step, reset=resets, discretisation=disc.value)
    T, B = x.shape[:2]
    spikes = [(outs[ly.name].reshape(T, B, -1).transpose(1, 0, 2) != 0).astype(np.uint8)
              for ly in chain]  # fmt: skip
    uniform = set(resets.values())
    doc = {
        "framework": "nir",
        "source": str(src) if isinstance(src, (str, Path)) else "<NIRGraph>",
        "dt": step,
        "discretisation": disc.value,
        "reset": uniform.pop() if len(uniform) == 1 else resets,
    }
    return write_import_run(graph, spikes, x, out, doc, labels)


def stage_import_nir(
    src: str | Path,
    example: str | Path,
    out: str | Path,
    *,
    dt: float,
    reset: str | None = None,
    discretisation: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """:func:`import_nir` with the example read from a ``.npy`` file (the CLI's ``import``)."""
    x = framework_input(load_npy(example), f"--example {example}")
    return import_nir(src, x, out, dt=dt, reset=reset, discretisation=discretisation, name=name)


def stage_export_nir(
    run_dir: str | Path,
    *,
    dt: float | None = None,
    discretisation: str | None = None,
    quantized: bool = False,
) -> Path:
    """Write a run's model as NIR: ``model.nir`` from ``model.lbir``, or ``model.quantized.nir``
    from ``model.lbq`` (dequantized). ``dt`` / ``discretisation`` default to a NIR import's
    own; any other run needs ``dt``."""
    run = Path(run_dir)
    doc = load_import(run) if is_import_run(run) else {}
    nir_run = doc.get("framework") == "nir"
    if dt is None and not nir_run:
        raise InputError(f"{run}: --dt is required (the model states no time step; NIR does)")
    step = check_dt(dt if dt is not None else doc["dt"])
    disc = discretisation or (str(doc.get("discretisation", "euler")) if nir_run else "euler")
    src = run / ("model.lbq" if quantized else "model.lbir")
    if not src.is_file():
        hint = f"run `lavabridge quantize {run}`" if quantized else "not a lavabridge run directory"
        raise ModelFileError(f"{src}: missing ({hint})")
    model = load_qgraph(src) if quantized else ir.load(src)
    path = run / ("model.quantized.nir" if quantized else "model.nir")
    write_nir(model, path, step, discretisation=disc)
    return path
