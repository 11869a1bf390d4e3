"""Run a lava-dl netx ``.net`` file with lava-dl's own loader (``netx.hdf5.Network``) on Lava.

The third way to execute a network, next to the golden emulator and lavabridge's own Lava export:
nothing of lavabridge sits between the file and Lava except the streaming I/O processes, so it
checks lavabridge's reading of the file (:func:`lavabridge.importers.netx.read_netx`) against
lava-dl's.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import LavaRuntimeError, ModelFileError, UnsupportedError
from lavabridge.importers.netx import _existing, _quiet_import
from lavabridge.inputs import prepare_input
from lavabridge.quant.qgraph import InputKind, QCubaLIF, QDense, QGraph, QLayer
from lavabridge.recording import Recording


def _memfile(path: Path, rows: int, shape: tuple[int, ...], data: Any = None) -> Path:
    arr = np.zeros((rows, *shape), np.int32) if data is None else np.asarray(data, np.int32)
    np.ascontiguousarray(arr).tofile(path)
    return path


def _to_ours(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """netx's (..., W, H, C) neuron order -> lavabridge's flat C, H, W order (1-D: identity)."""
    lead = arr.shape[: arr.ndim - len(shape)]
    if len(shape) == 3:
        arr = np.swapaxes(arr, -1, -3)
    return arr.reshape(*lead, -1)


def _to_netx(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """lavabridge's flat order -> netx's (..., W, H, C) neuron array."""
    lead = arr.shape[:-1]
    if len(shape) == 3:
        return np.swapaxes(arr.reshape(*lead, *shape[::-1]), -1, -3)
    return arr.reshape(*lead, *shape)


def _attach_io(
    net: Any, shapes: list[tuple[int, ...]], batch: Any, workdir: Path, probe_uv: bool
) -> dict[str, Path]:
    """MemSource / bias loader, SpikeRecorders, and StateTaps (record u, v; zero state per sample)."""
    from lavabridge.processes.memsource.process import MemSource
    from lavabridge.processes.recorder.process import SpikeRecorder
    from lavabridge.processes.statetap.process import StateTap

    B, T = batch.batch, batch.num_steps
    rows, blocks, files = B * T, list(net.layers), {}
    if batch.kind == InputKind.BIAS:  # the tap loads row g at the end of sample g - 1
        rows_b = np.concatenate([batch.data, np.zeros_like(batch.data[:1])])
        files["bias"] = _memfile(workdir / "bias", B + 1, shapes[0], _to_netx(rows_b, shapes[0]))
        blocks[0].neuron.bias_mant.init = _to_netx(batch.data[0], shapes[0]).astype(np.int32)
        StateTap(var=blocks[0].neuron.bias_mant, period=T, load_path=str(files["bias"]),
                 load_rows=B + 1)  # fmt: skip
    else:
        n_in = batch.data.shape[2]
        files["input"] = _memfile(workdir / "input", rows, (n_in,), batch.data.reshape(rows, n_in))
        MemSource(shape=(n_in,), path=str(files["input"]), capacity=rows).s_out.connect(net.inp)
    for i, (block, shape) in enumerate(zip(blocks, shapes, strict=True)):
        files[f"spikes_{i}"] = _memfile(workdir / f"spikes_{i}", rows, shape)
        rec = SpikeRecorder(shape=shape, path=str(files[f"spikes_{i}"]), capacity=rows)
        block.neuron.s_out.connect(rec.a_in)
        for var in ("u", "v"):
            kw: dict[str, Any] = {}
            if probe_uv:
                files[f"{var}_{i}"] = _memfile(workdir / f"{var}_{i}", rows, shape)
                kw = {"record_path": str(files[f"{var}_{i}"]), "record_capacity": rows}
            StateTap(var=getattr(block.neuron, var), period=T, **kw)
        for syn in ("synapse", "synapse_rec"):
            if hasattr(block, syn):
                StateTap(var=getattr(block, syn).a_buff, period=T)
    return files


def run_netx(
    path: str | Path,
    x: npt.ArrayLike,
    num_steps: int | None = None,
    probe_uv: bool = False,
    *,
    num_layers: int | None = None,
    skip_layers: int = 0,
) -> Recording:
    """Load ``path`` with lava-dl's ``netx.hdf5.Network`` and run a batch on ``fixed_pt``.

    Spikes ``[B, T, n_in]`` stream into ``net.inp`` from a :class:`MemSource`; for an input-layer
    network ``x`` is bias mantissas ``[B, n_in]`` (lavabridge's order), loaded into
    ``net.layers[0].neuron.bias_mant`` per sample. Every layer's ``neuron.s_out`` (and ``u``, ``v``
    with ``probe_uv``) is recorded; at each sample's end ``u``, ``v`` and every synapse's
    ``a_buff`` are zeroed, so samples start from rest as in :func:`lavabridge.golden.emulate`.
    The Recording (``backend="netx"``) has one entry per netx block, as ``read_netx``'s layers.
    ``skip_layers=1`` builds the network without its input layer (spikes into the first dense).
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    p = _existing(path)
    hdf5 = _quiet_import("lava.lib.dl.netx.hdf5")
    kinds = _quiet_import("lava.lib.dl.netx.blocks.process")
    t0 = time.perf_counter()
    try:
        with np.errstate(divide="ignore"):  # optimize_weight_bits on single-signed weights
            net = hdf5.Network(net_config=str(p), num_layers=num_layers, skip_layers=skip_layers)
    except Exception as exc:
        raise ModelFileError(f"{p}: lava-dl netx could not load it: {exc}") from exc
    for i, b in enumerate(net.layers):
        if type(b) not in (kinds.Input, kinds.Dense, kinds.RecurrentDense) or not hasattr(
            b.neuron, "v"
        ):
            raise UnsupportedError(
                f"{p.name}: netx block {i} is {type(b).__name__} of {type(b.neuron).__name__}; "
                "run_netx runs Input / Dense / RecurrentDense blocks of LIF neurons"
            )
    shapes = [tuple(int(s) for s in b.neuron.s_out.shape) for b in net.layers]
    bias_input = isinstance(net.layers[0], kinds.Input)
    n_in = int(np.prod(shapes[0] if bias_input else net.inp.shape))
    layer0 = QLayer("in", QCubaLIF(n_in, 0, 0, 0))  # a stand-in, only for prepare_input's checks
    if not bias_input:
        layer0 = QLayer("l0", QCubaLIF(1, 0, 0, 0), QDense(np.zeros((1, n_in), np.int64)))
    kind = InputKind.BIAS if bias_input else InputKind.SPIKES
    batch = prepare_input(QGraph(n_in, (layer0,), kind, p.name), x, num_steps)
    B, T = batch.batch, batch.num_steps
    workdir = Path(tempfile.mkdtemp(prefix="lavabridge-netx-"))
    try:
        files = _attach_io(net, shapes, batch, workdir, probe_uv)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        t1 = time.perf_counter()
        try:
            net.create_runtime(run_cfg=cfg)
        except Exception as exc:
            raise LavaRuntimeError(f"Lava could not compile netx network {p}: {exc}") from exc
        t2 = time.perf_counter()
        net.run(condition=RunSteps(num_steps=B * T), run_cfg=cfg)
        t3 = time.perf_counter()
        out: dict[str, tuple[np.ndarray, ...]] = {}
        for what in ("spikes", "u", "v") if probe_uv else ("spikes",):
            out[what] = tuple(
                _to_ours(np.fromfile(files[f"{what}_{i}"], np.int32).reshape(B * T, *s), s)
                .reshape(B, T, -1)
                .astype(np.uint8 if what == "spikes" else np.int64)
                for i, s in enumerate(shapes)
            )
        timings = {"build": t1 - t0, "compile": t2 - t1, "run": t3 - t2}
    finally:
        try:
            if getattr(net, "runtime", None) is not None:
                net.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return Recording(out["spikes"], out.get("u"), out.get("v"), "netx", timings)
