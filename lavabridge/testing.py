"""Regression testing of deployed SNNs in your own CI.

Two guards, to use in ordinary pytest tests:

:func:`assert_bit_exact`
    Runs the golden emulator and Lava ``fixed_pt`` on your inputs and fails (with the first
    divergence: layer, step, neuron, and u/v on both sides) unless they are identical.
:class:`SpikeSnapshot` / :func:`assert_matches_snapshot`
    Compares the model's spikes with a stored ``.npz`` snapshot (a :class:`~lavabridge.Recording`
    file holding ``spikes_<i>`` per layer), so any change of the model, of the quantizer or of a
    dependency that changes a single spike fails the test. ``pytest --update-snapshots``
    (re)writes the snapshots; the ``spike_snapshot`` fixture of :mod:`lavabridge.pytest_plugin`
    names them after the test.

A third guards an import: :func:`assert_matches_source` fails unless lavabridge's float
reference of an snnTorch / SpikingJelly model reproduces the framework's own spikes at every
layer and step, shifted by each layer's latency.

See ``examples/test_bit_exact_example.py`` for a test file to copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy.typing as npt

from lavabridge.backends.golden import emulate
from lavabridge.errors import InputError, ModelFileError
from lavabridge.importers.load import load_model
from lavabridge.quant.qgraph import QGraph
from lavabridge.recording import Recording
from lavabridge.verify.compare import SourceCheck, first_divergence, source_vs_float
from lavabridge.verify.report import VerificationError, VerifyReport
from lavabridge.verify.run import verify

__all__ = [
    "SourceCheck",
    "SpikeSnapshot",
    "VerificationError",
    "assert_bit_exact",
    "assert_matches_snapshot",
    "assert_matches_source",
    "load_snapshot",
    "save_snapshot",
]


def assert_bit_exact(
    model: QGraph | str | Path,
    inputs: npt.ArrayLike,
    *,
    num_steps: int | None = None,
    probe_uv: bool = True,
    chunk: int = 32,
    lava_graph: QGraph | None = None,
) -> VerifyReport:
    """Fail unless golden emulator and Lava produce identical spikes (and u, v) on ``inputs``.

    Parameters
    ----------
    model : QGraph or path
        ``.lbq`` or netx ``.net`` file, or a QGraph.
    inputs : array
        Spikes ``[B, T, n_in]`` (or bias mantissas ``[B, n_in]`` with ``num_steps``).
    probe_uv : bool
        Compare u and v at every step too (default; about twice the Lava time).
    lava_graph : QGraph, optional
        Run this graph on Lava instead (fault-injection tests of this function).

    Returns
    -------
    VerifyReport
        When it passes (for further checks).

    Raises
    ------
    VerificationError
        An ``AssertionError`` naming the first divergence.
    """
    report = verify(
        model, inputs, num_steps=num_steps, probe_uv=probe_uv, chunk=chunk, lava_graph=lava_graph
    )
    report.raise_for_mismatch()
    return report


# ----------------------------------------------------------------------------- snapshots
def save_snapshot(recording: Recording, path: str | Path) -> Path:
    """Write the spikes of ``recording`` (per layer) to ``path`` (``.npz``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Recording(recording.spikes, backend=recording.backend or "golden").to_npz(out)
    return out


def load_snapshot(path: str | Path) -> Recording:
    """Read a snapshot (any lavabridge recording ``.npz``; u/v are ignored)."""
    rec = Recording.from_npz(path)
    return Recording(rec.spikes, backend=rec.backend)


def _spikes_of(
    model_or_recording: QGraph | str | Path | Recording,
    inputs: npt.ArrayLike | None,
    num_steps: int | None,
) -> Recording:
    if isinstance(model_or_recording, Recording):
        return model_or_recording
    if inputs is None:
        raise InputError("inputs are required when a model (not a Recording) is given")
    graph = (
        model_or_recording
        if isinstance(model_or_recording, QGraph)
        else load_model(model_or_recording)
    )
    return emulate(graph, inputs, num_steps=num_steps)


def assert_matches_snapshot(
    model_or_recording: QGraph | str | Path | Recording,
    path: str | Path,
    inputs: npt.ArrayLike | None = None,
    *,
    num_steps: int | None = None,
    update: bool = False,
) -> Recording:
    """Fail unless the golden spikes equal the snapshot at ``path``; ``update`` rewrites it.

    ``model_or_recording`` is a model (run on ``inputs`` by the golden emulator) or a Recording
    from any backend. A missing snapshot fails too (run with ``update=True`` /
    ``pytest --update-snapshots`` once to create it). Returns the recording checked.
    """
    rec = _spikes_of(model_or_recording, inputs, num_steps)
    p = Path(path)
    if update:
        save_snapshot(rec, p)
        return rec
    if not p.is_file():
        raise VerificationError(
            f"no spike snapshot at {p}; run pytest with --update-snapshots once to create it"
        )
    try:
        expected = load_snapshot(p)
    except ModelFileError as exc:
        raise VerificationError(f"snapshot {p} is unreadable: {exc}") from exc
    shape_e = [s.shape for s in expected.spikes]
    shape_g = [s.shape for s in rec.spikes]
    if shape_e != shape_g:
        raise VerificationError(
            f"spikes differ from snapshot {p}: layer shapes [B, T, N] {shape_g} != stored "
            f"{shape_e} (different model or input; --update-snapshots if intended)"
        )
    div = first_divergence(expected, Recording(rec.spikes))
    if div is not None:
        total = sum(int((a != b).sum()) for a, b in zip(expected.spikes, rec.spikes, strict=True))
        raise VerificationError(
            f"spikes differ from snapshot {p}: first in layer {div.layer}, sample {div.sample}, "
            f"t={div.step}, neuron {div.neuron}: snapshot {div.golden.spike}, now "
            f"{div.lava.spike} ({total} entries differ in all; --update-snapshots if intended)"
        )
    return rec


class SpikeSnapshot:
    """Snapshots of one test: ``<directory>/<test_id>[-<name>].npz``.

    Parameters
    ----------
    directory : path
        Where the snapshots live (the plugin uses ``<test file dir>/snapshots/<module>``).
    test_id : str
        The test's name (sanitised into a file name).
    update : bool
        Rewrite instead of compare (``pytest --update-snapshots``).
    """

    def __init__(self, directory: str | Path, test_id: str, *, update: bool = False) -> None:
        self.directory = Path(directory)
        self.test_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id).strip("_") or "snapshot"
        self.update = update

    def path(self, name: str | None = None) -> Path:
        """The snapshot file for ``name`` (one per ``check`` call with a distinct name)."""
        stem = (
            self.test_id if not name else f"{self.test_id}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"
        )
        return self.directory / f"{stem}.npz"

    def check(
        self,
        model_or_recording: QGraph | str | Path | Recording,
        inputs: npt.ArrayLike | None = None,
        *,
        num_steps: int | None = None,
        name: str | None = None,
    ) -> Recording:
        """:func:`assert_matches_snapshot` against :meth:`path` (``name`` tells several apart)."""
        return assert_matches_snapshot(
            model_or_recording, self.path(name), inputs, num_steps=num_steps, update=self.update
        )


def assert_matches_source(
    module: Any, example_input: npt.ArrayLike, framework: str, graph: Any = None
) -> SourceCheck:
    """Fail unless the float reference of ``graph`` (default: ``module`` imported from
    ``framework``, ``"snntorch"`` or ``"spikingjelly"``) reproduces the framework's own spikes
    on the time-major spikes ``example_input`` ``[T, B, ...]``: every layer, every step, shifted
    by the layer's latency (the input is followed by ``max(latencies)`` empty steps).

    Raises
    ------
    VerificationError
        Naming the first layer that differs, its first differing step and the count.
    """
    import torch

    from lavabridge import ir
    from lavabridge.importers.source import framework_input, importer, ir_input, source_spikes

    x = framework_input(example_input, "example_input")
    if graph is None:
        graph = importer(framework)(module, torch.as_tensor(x))
    spikes = source_spikes(framework, module, x, graph)
    lat = graph.latencies()
    xi = ir_input(x, pad=max(lat))
    names = [layer.name for layer in graph.layer_chain()]
    check = source_vs_float(framework, ir.interpret(graph, xi), spikes, names, lat)
    bad = [ly for ly in check.layers if ly.spikes_differing]
    if bad:
        ly = bad[0]
        raise VerificationError(
            f"{framework} vs float reference: layer {ly.name!r} (latency {ly.latency}) differs in "
            f"{ly.spikes_differing} spike(s), first at source step {ly.first_step}"
        )
    return check
