"""Run a lava-dl netx ``.net`` file with lava-dl's own loader (``netx.hdf5.Network``) on Lava.

The third way to execute a network, next to the golden emulator and lavabridge's own Lava export:
nothing of lavabridge sits between the file and Lava except the streaming I/O processes
(:mod:`lavabridge.backends.streaming`), so it checks lavabridge's reading of the file
(:func:`lavabridge.importers.netx.read_netx`) against lava-dl's.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.backends.inputs import BatchInput, check_input
from lavabridge.backends.lava import QUICK_STOP_S, STOP_S
from lavabridge.backends.runtime import WatchedRuntime
from lavabridge.backends.streaming import StreamingGraph, StreamLayer, attach_streaming, workdir
from lavabridge.errors import InputError, ModelFileError, UnsupportedError
from lavabridge.exporters.lava import state_vars
from lavabridge.formats.netx import existing, quiet_import, to_lavabridge_order, to_netx_order
from lavabridge.recording import Recording
from lavabridge.semantics import InputKind
from lavabridge.signals import Interrupted, deferred, handle_signals
from lavabridge.target import LOIHI2

_SYNAPSES = ("synapse", "synapse_rec")  # the Dense processes of a netx block


def _stream_layer(block: Any) -> StreamLayer:
    neuron = block.neuron
    observed = tuple((name, getattr(neuron, name)) for name in ("u", "v"))
    state = [getattr(neuron, name) for name in state_vars(neuron)]
    for syn in _SYNAPSES:
        if hasattr(block, syn):
            proc = getattr(block, syn)
            state += [getattr(proc, name) for name in state_vars(proc)]
    shape = tuple(int(s) for s in neuron.s_out.shape)
    return StreamLayer(neuron.s_out, shape, observed, tuple(state))


def _load(
    p: Path, num_layers: int | None, skip_layers: int, reset: tuple[int, int] | None = None
) -> Any:
    hdf5 = quiet_import("lava.lib.dl.netx.hdf5")
    kinds = quiet_import("lava.lib.dl.netx.blocks.process")
    try:
        with np.errstate(divide="ignore"):  # optimize_weight_bits on single-signed weights
            periodic = (
                {} if reset is None else {"reset_interval": reset[0], "reset_offset": reset[1]}
            )
            net = hdf5.Network(
                net_config=str(p), num_layers=num_layers, skip_layers=skip_layers, **periodic
            )
    except Exception as exc:
        raise ModelFileError(f"{p}: lava-dl netx could not load it: {exc}") from exc
    for i, b in enumerate(net.layers):
        if type(b) not in (
            kinds.Input,
            kinds.Dense,
            kinds.RecurrentDense,
            kinds.Conv,
        ) or not hasattr(b.neuron, "v"):
            raise UnsupportedError(
                f"{p.name}: netx block {i} is {type(b).__name__} of {type(b.neuron).__name__}; "
                "run_netx runs Input / Dense / RecurrentDense / Conv blocks of LIF neurons",
                node=f"{p.name}: netx block {i}",
                stage="netx on Lava",
                supported=("Input", "Dense", "RecurrentDense", "Conv"),
            )
    return net, isinstance(net.layers[0], kinds.Input)


def _fill(sg: StreamingGraph, net: Any, batch: BatchInput, shapes: list[tuple[int, ...]]) -> None:
    """Write the batch into the shared files (and the first sample's bias into the network)."""
    B, T = batch.batch, batch.num_steps
    if batch.kind == InputKind.BIAS:
        rows = np.memmap(sg.files["bias"], np.int32, "r+", shape=(B + 1, *shapes[0]))
        rows[:B] = to_netx_order(batch.data, shapes[0])
        rows.flush()
        net.layers[0].neuron.bias_mant.init = to_netx_order(batch.data[0], shapes[0]).astype(
            np.int32
        )
    else:
        shape = sg.shapes["input"]
        rows = np.memmap(sg.files["input"], np.int32, "r+", shape=(B * T, *shape))
        rows[:] = to_netx_order(batch.data.reshape(B * T, -1), shape)
        rows.flush()


def _read(sg: StreamingGraph, what: str, shapes: list[tuple[int, ...]], B: int, T: int) -> Any:
    dtype = np.uint8 if what == "spikes" else np.int64
    return tuple(
        to_lavabridge_order(np.fromfile(sg.files[f"{what}_{i}"], np.int32).reshape(B * T, *s), s)
        .reshape(B, T, -1)
        .astype(dtype)
        for i, s in enumerate(shapes)
    )


def run_netx(
    path: str | Path,
    x: npt.ArrayLike,
    num_steps: int | None = None,
    probe_uv: bool = False,
    *,
    num_layers: int | None = None,
    skip_layers: int = 0,
    reset_interval: int | None = None,
    reset_offset: int = 0,
    stall_timeout: float | None = 120.0,
) -> Recording:
    """Load ``path`` with lava-dl's ``netx.hdf5.Network`` and run a batch on ``fixed_pt``.

    Spikes ``[B, T, n_in]`` stream into ``net.inp`` from a MemSource; for an input-layer network
    ``x`` is bias mantissas ``[B, n_in]`` (lavabridge's order), loaded into
    ``net.layers[0].neuron.bias_mant`` per sample. Every layer's ``neuron.s_out`` (and ``u``, ``v``
    with ``probe_uv``) is recorded; at each sample's end ``u``, ``v`` and every synapse's state are
    zeroed, so samples start from rest as in :func:`lavabridge.backends.golden.emulate`.
    The Recording (``backend="netx"``) has one entry per netx block, as ``read_netx``'s layers.
    ``skip_layers=1`` builds the network without its input layer (spikes into the first dense);
    ``reset_interval`` / ``reset_offset`` are netx's (``T`` must be a multiple of the interval).
    The runtime is watched and always stopped as a :class:`~lavabridge.backends.lava.LavaSession`'s
    (:mod:`lavabridge.backends.runtime`).
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    p = existing(path)
    t0 = time.perf_counter()
    reset = None if reset_interval is None else (reset_interval, reset_offset)
    net, bias_input = _load(p, num_layers, skip_layers, reset)
    shapes = [tuple(int(s) for s in b.neuron.s_out.shape) for b in net.layers]
    kind = InputKind.BIAS if bias_input else InputKind.SPIKES
    in_shape = shapes[0] if bias_input else tuple(int(s) for s in net.inp.shape)
    n_in = int(np.prod(in_shape))
    batch = check_input(kind, n_in, x, num_steps, LOIHI2.bias_mant_range, p.name)
    B, T = batch.batch, batch.num_steps
    if reset_interval is not None and (reset_interval < 1 or (T % reset_interval and B > 1)):
        raise InputError(f"{p.name}: with several samples, T={T} steps per sample must be a "
                         f"multiple of reset_interval={reset_interval}")  # fmt: skip
    folder = workdir("netx")
    rt: WatchedRuntime | None = None
    failed = False
    try:
        sg = attach_streaming(
            net,
            [_stream_layer(b) for b in net.layers],
            anchor=net,
            inp=None if bias_input else net.inp,
            bias_var=net.layers[0].neuron.bias_mant if bias_input else None,
            in_shape=in_shape,
            num_steps=T,
            capacity=B,
            workdir=folder,
            probe_uv=probe_uv,
        )
        _fill(sg, net, batch, shapes)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        t1 = time.perf_counter()
        rt = WatchedRuntime(net, f"netx network {p.name} on Lava", sg.heartbeat, stall_timeout)
        rt.compile(cfg)
        t2 = time.perf_counter()
        rt.run(RunSteps(num_steps=B * T), cfg)
        t3 = time.perf_counter()
        out = {
            w: _read(sg, w, shapes, B, T)
            for w in (("spikes", "u", "v") if probe_uv else ("spikes",))
        }
        timings = {"build": t1 - t0, "compile": t2 - t1, "run": t3 - t2}
    except BaseException as exc:
        failed = True
        if isinstance(exc, Interrupted) and not exc.during:
            exc.during = f"the netx network {p.name} on Lava; its runtime was stopped"
        raise
    finally:
        with handle_signals(), deferred():  # the cleanup itself is not interrupted
            try:
                if rt is not None:
                    rt.stop(QUICK_STOP_S if failed else STOP_S)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return Recording(out["spikes"], out.get("u"), out.get("v"), "netx", timings)
