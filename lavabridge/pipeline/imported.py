"""Run directories of imported models (snnTorch, SpikingJelly; NIR graphs: :mod:`.nirrun`).

``lavabridge import SRC --from snntorch --example X.npy --out RUN_DIR`` (:func:`stage_import`)
writes, together (:class:`~lavabridge.atomic.StageFiles`)::

    import.json      what was imported: framework, source, the example's shape, each layer's
                     latency, and the source-vs-float check on the example
    model.lbir       the float IR (lavabridge.importers.<framework>)
    input.npy        the example as the IR takes it: binary spikes [B, T + L, n_in] (uint8),
                     followed by L = max(latencies) empty steps (the deployment's latency)
    source.npz       the framework's own spikes on it: spikes_<i> [B, T, n_i] per layer

after which the dataset pipeline's stages take the directory: ``lavabridge quantize RUN_DIR
[--calibration X.npy]`` (:func:`quantize_import`: ``model.lbq``, ``quant_report.json`` with
each layer's float-vs-golden spike agreement on the calibration input), ``lavabridge export
RUN_DIR`` and ``lavabridge verify RUN_DIR`` (:func:`verify_import`: the VerifyReport on
``input.npy`` with the framework's spikes compared too).

``SRC`` is a file written by ``torch.save(model)`` or ``package.module:function`` returning the
model; example and calibration inputs are time-major spikes ``[T, B, *input_shape]``, as the
framework takes them.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.atomic import StageFiles
from lavabridge.backends.golden import emulate
from lavabridge.errors import InputError, ModelFileError
from lavabridge.formats.npy import load_npy
from lavabridge.importers.source import framework_input, importer, ir_input
from lavabridge.quant.ptq import quantize
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.report import QuantReport
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.verify import VerifyReport, verify
from lavabridge.verify.compare import float_vs_quant, source_vs_float

IMPORT_FILE = "import.json"
FORMAT = "lavabridge.import"


def _module(name: str) -> Any:
    """``package.module``, or a ``path/to/file.py``."""
    if name.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(name).stem, name)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(name)


def load_source(src: str) -> Any:
    """The model named by ``src``: a ``torch.save``d module file, or ``package.module:function``
    / ``path/to/file.py:function`` (called with no arguments; snnTorch models whose surrogate is
    a closure, the default, cannot be pickled whole: use this form).

    Raises
    ------
    InputError
        Neither a readable file nor an importable ``module:function``, or not a torch module.
    """
    import torch
    from torch import nn

    path = Path(src)
    if path.is_file():
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # torch.load raises anything unpickling can
            raise InputError(f"{src}: cannot load a torch.save'd model ({exc})") from exc
    elif ":" in src:
        mod_name, _, func = src.rpartition(":")
        try:
            model = getattr(_module(mod_name), func)()
        except (ImportError, AttributeError, TypeError, OSError) as exc:
            raise InputError(f"{src}: cannot call {func}() of module {mod_name} ({exc})") from exc
    else:
        raise InputError(f"{src}: no such file, and not of the form package.module:function")
    if not isinstance(model, nn.Module):
        raise InputError(f"{src}: gives a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def stage_import(
    src: str, framework: str, example: str | Path, out: str | Path, *, name: str | None = None
) -> dict[str, Any]:
    """Import ``src`` from ``framework``; write the run directory (see the module docstring).

    Returns the ``import.json`` document. Raises what the importer raises (``UnsupportedError``
    naming the module) and :class:`InputError` for bad sources or inputs.
    """
    model = load_source(src)
    x = framework_input(load_npy(example), f"--example {example}")
    return import_model(model, framework, x, out, name=name, source=str(src))


def import_model(
    model: Any,
    framework: str,
    x: npt.ArrayLike,
    out: str | Path,
    *,
    name: str | None = None,
    labels: npt.ArrayLike | None = None,
    source: str = "<module>",
) -> dict[str, Any]:
    """Import ``model`` (a torch module of ``framework``) with the time-major spikes ``x``
    ``[T, B, ...]`` as its example, into the run directory ``out`` (``labels``: optional class
    labels of the example's samples, for the accuracies of ``verify``).

    ``input.npy`` is the example followed by ``max(latencies)`` empty steps, so the float
    reference, golden and Lava cover every step of the source's output layer.
    """
    import torch

    from lavabridge.importers.source import source_spikes

    x = framework_input(x, "example input")
    graph = importer(framework)(model, torch.as_tensor(x), name=name)
    spikes = source_spikes(framework, model, x, graph)
    return write_import_run(graph, spikes, x, out, {"framework": framework, "source": source},
                            labels)  # fmt: skip


def write_import_run(
    graph: ir.Graph,
    spikes: list[npt.NDArray[np.uint8]],
    x: np.ndarray,
    out: str | Path,
    doc: dict[str, Any],
    labels: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Write the run directory of an imported ``graph`` (module docstring): ``spikes`` are the
    source's own spikes ``[B, T, n_i]`` per layer on the time-major example ``x``; ``doc``
    (``framework``, ``source``, and what else the import states) heads ``import.json``."""
    latencies = graph.latencies()
    xi = ir_input(x, pad=max(latencies))
    names = [layer.name for layer in graph.layer_chain()]
    framework = str(doc["framework"])
    check = source_vs_float(framework, ir.interpret(graph, xi), spikes, names, latencies)
    doc = {
        "format": FORMAT,
        **doc,
        "name": graph.name,
        "example_shape": list(x.shape),
        "num_steps": int(x.shape[0]),
        "padding_steps": max(latencies),
        "layers": names,
        "latencies": list(latencies),
        "source_check": dataclasses.asdict(check),
    }
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    with StageFiles(run) as files:
        ir.save(graph, files.path("model.lbir"))
        np.save(files.path("input.npy"), xi)
        np.savez(files.path("source.npz"), **{f"spikes_{i}": s for i, s in enumerate(spikes)})
        if labels is not None:
            np.save(files.path("labels.npy"), np.asarray(labels, np.int64))
        files.path(IMPORT_FILE).write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def is_import_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was written by :func:`stage_import`."""
    return (Path(run_dir) / IMPORT_FILE).is_file()


def load_import(run_dir: str | Path) -> dict[str, Any]:
    """``import.json`` of a run directory, checked."""
    path = Path(run_dir) / IMPORT_FILE
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot read ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a {FORMAT} document")
    return doc


def quantize_import(
    run_dir: str | Path, calibration: str | Path | None = None
) -> tuple[QGraph, QuantReport]:
    """Quantize an import run's ``model.lbir`` on ``calibration`` (time-major spikes; default
    the example); write ``model.lbq`` and ``quant_report.json`` (with the float-vs-golden spike
    agreement of every layer on the calibration input)."""
    run = Path(run_dir)
    load_import(run)
    graph = ir.load(run / "model.lbir")
    if calibration is None:
        xi = np.load(run / "input.npy")
    else:
        xi = ir_input(framework_input(load_npy(calibration), f"--calibration {calibration}"))
    qgraph, report = quantize(graph, xi)
    names = tuple(layer.name for layer in qgraph.layers)
    agree = float_vs_quant(ir.interpret(graph, xi), emulate(qgraph, xi), names, 4.0)
    layers = tuple(
        dataclasses.replace(lr, spike_agreement=a.agreement)
        for lr, a in zip(report.layers, agree, strict=True)
    )
    report = dataclasses.replace(report, layers=layers)
    with StageFiles(run) as files:
        save_qgraph(qgraph, files.path("model.lbq"))
        text = json.dumps(report.to_dict(), indent=2) + "\n"
        files.path("quant_report.json").write_text(text)
    return qgraph, report


def verify_import(
    run_dir: str | Path,
    *,
    lava: bool = True,
    probe_uv: bool = True,
    progress: bool = True,
    lava_samples: int | None = None,
) -> VerifyReport:
    """The VerifyReport of an import run on its example: float reference (``model.lbir``) vs
    golden vs Lava (on the first ``lava_samples``; all by default), and the framework's own
    spikes (``source.npz``) vs the float reference; with accuracies when the run has labels."""
    run = Path(run_dir)
    doc = load_import(run)
    if not (run / "model.lbq").is_file():
        raise ModelFileError(f"{run / 'model.lbq'}: missing (run `lavabridge quantize {run}`)")
    xi = np.load(run / "input.npy")
    with np.load(run / "source.npz") as npz:
        spikes = [npz[f"spikes_{i}"] for i in range(len(doc["layers"]))]
    labels = np.load(run / "labels.npy") if (run / "labels.npy").is_file() else None
    return verify(
        load_qgraph(run / "model.lbq"),
        xi,
        labels=labels,
        float_model=run / "model.lbir",
        lava=lava,
        lava_samples=lava_samples,
        probe_uv=probe_uv,
        progress=progress,
        source_run=(str(doc["framework"]), spikes),
    )
