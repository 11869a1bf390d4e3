"""Streaming I/O around a Lava network on the CPU simulator: the one place it is wired.

Many samples stream through one compiled runtime. Around a network (lavabridge's own export, or
what lava-dl's netx builds) :func:`attach_streaming` puts lavabridge's small processes:

* a :class:`~lavabridge.processes.memsource.process.MemSource` sending input spikes from a shared
  file (or, for a bias input, a ``StateTap`` loading each sample's bias into the first layer);
* a :class:`~lavabridge.processes.recorder.process.SpikeRecorder` per layer writing its spikes
  into a shared file;
* a :class:`~lavabridge.processes.statetap.process.StateTap` per state Var that zeroes it at every
  sample boundary (and records u, v every step when probing).

Sample ``g`` occupies time steps ``g*T + 1 .. (g+1)*T``; files hold ``capacity`` samples
(``capacity * T`` rows; the bias file ``capacity + 1`` rows: row ``g`` is loaded at the end of
sample ``g - 1``). All files are raw int32 arrays, memory-mapped by the host.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lavabridge.exporters.lava import LavaNetwork, build_network, lava_shape
from lavabridge.quant.qgraph import QGraph
from lavabridge.semantics import InputKind

WORKDIR_PREFIX = "lavabridge-"


def pid_namespace() -> str:
    """This process's PID namespace (its inode, as digits; ``"0"`` where ``/proc`` lacks it)."""
    try:
        return "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit()) or "0"
    except OSError:
        return "0"


def _owner_dead(folder: Path, namespace: str) -> bool:
    """Whether ``lavabridge-<pid>-<ns>-...`` was made by a process of this PID namespace that no
    longer exists (folders of other namespaces, other users or unknown names are left alone)."""
    parts = folder.name[len(WORKDIR_PREFIX) :].split("-", 2)
    if len(parts) < 3 or not parts[0].isdigit() or parts[1] != namespace:
        return False
    try:
        if folder.stat().st_uid != os.getuid():
            return False
        os.kill(int(parts[0]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # someone else's live process, or the folder just went away
        return False
    return False


def workdir(kind: str = "session") -> Path:
    """A fresh folder for a run's shared files: in ``/dev/shm`` when writable (memory speed).

    Named ``lavabridge-<pid>-<pid namespace>-<kind>-...``; folders left by processes of the same
    namespace that no longer exist (a SIGKILL, the OOM killer) are removed on the way.
    """
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    namespace = pid_namespace()
    for old in base.glob(f"{WORKDIR_PREFIX}*"):
        if old.is_dir() and _owner_dead(old, namespace):
            shutil.rmtree(old, ignore_errors=True)
    prefix = f"{WORKDIR_PREFIX}{os.getpid()}-{namespace}-{kind}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def memfile(path: Path, rows: int, shape: tuple[int, ...]) -> Path:
    """A zero-filled raw int32 file of ``rows`` rows of ``shape``."""
    np.memmap(path, dtype=np.int32, mode="w+", shape=(rows, *shape)).flush()
    return path


@dataclass(frozen=True)
class StreamLayer:
    """What the streaming I/O needs of one layer.

    Attributes
    ----------
    out_port : the neurons' spike OutPort
    shape : the population's shape in Lava's order (netx 3-D layers: (W, H, C))
    observed : ``(name, Var)`` recorded every step when probing (u, v)
    state : every Var that carries state between steps (zeroed at sample boundaries)
    bias : ``(step, Var, values)``: write ``values`` into the bias Var at that step of every
        sample (0 at every sample boundary), or ``None``
    """

    out_port: Any
    shape: tuple[int, ...]
    observed: tuple[tuple[str, Any], ...]
    state: tuple[Any, ...]
    bias: tuple[int, Any, np.ndarray] | None = None


@dataclass
class StreamingGraph:
    """A network plus lavabridge's streaming I/O, and the files they share with the host."""

    network: Any  # LavaNetwork, or lava-dl's netx Network
    source: Any  # MemSource, or None (bias input)
    recorders: list[Any]
    taps: list[Any]
    files: dict[str, Path]
    capacity: int  # samples per file
    shapes: dict[str, tuple[int, ...]]  # row shape of each file
    anchor: Any  # a process of the network to run when there is no source
    heartbeat: Path  # int64: the last time step layer 0's recorder completed

    def entry(self) -> Any:
        """A process to call ``run`` on (any process of the connected graph)."""
        return self.source if self.source is not None else self.anchor


def attach_streaming(
    network: Any,
    layers: Sequence[StreamLayer],
    *,
    anchor: Any,
    inp: Any,
    bias_var: Any,
    in_shape: tuple[int, ...],
    num_steps: int,
    capacity: int,
    workdir: Path,
    probe_uv: bool,
) -> StreamingGraph:
    """Wire the streaming I/O around ``network`` (see the module docstring).

    ``inp`` is the InPort input spikes go to (``None`` for a bias input, then ``bias_var`` is the
    first layer's bias Var); ``in_shape`` is the shape of one input row (spikes, or bias);
    ``anchor`` a process of the network to run the graph from when there is no input source.
    """
    from lavabridge.processes.memsource.process import MemSource  # Lava imports on first use
    from lavabridge.processes.recorder.process import SpikeRecorder
    from lavabridge.processes.statetap.process import StateTap

    T = num_steps
    rows = capacity * T
    files: dict[str, Path] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    source = None
    taps: list[Any] = []

    def new_file(key: str, n_rows: int, shape: tuple[int, ...]) -> str:
        files[key] = memfile(workdir / f"{key}.i32", n_rows, shape)
        shapes[key] = shape
        return str(files[key])

    if inp is not None:
        source = MemSource(shape=in_shape, path=new_file("input", rows, in_shape), capacity=rows)
        source.s_out.connect(inp)
    else:
        path = new_file("bias", capacity + 1, in_shape)  # one spare row: the next sample's bias
        taps.append(StateTap(var=bias_var, period=T, load_path=path, load_rows=capacity + 1))
    recorders = []
    beat = workdir / "heartbeat.i64"
    np.memmap(beat, dtype=np.int64, mode="w+", shape=(1,)).flush()
    for i, layer in enumerate(layers):
        rec = SpikeRecorder(
            shape=layer.shape,
            path=new_file(f"spikes_{i}", rows, layer.shape),
            capacity=rows,
            heartbeat_path=str(beat) if i == 0 else None,
        )
        layer.out_port.connect(rec.a_in)
        recorders.append(rec)
        observed = {id(var) for _, var in layer.observed}
        for name, var in layer.observed:
            record: dict[str, Any] = {}
            if probe_uv:
                path = new_file(f"{name}_{i}", rows, layer.shape)
                record = {"record_path": path, "record_capacity": rows}
            taps.append(StateTap(var=var, period=T, **record))
        taps.extend(StateTap(var=var, period=T) for var in layer.state if id(var) not in observed)
        if layer.bias is not None and layer.bias[0] < T:  # the bias starts late in each sample
            start, var, values = layer.bias
            path = new_file(f"bias_start_{i}", 2, tuple(var.shape))
            schedule = np.memmap(path, dtype=np.int32, mode="r+", shape=(2, *var.shape))
            schedule[1] = values
            schedule.flush()
            taps.append(StateTap(var=var, period=T, load_path=path, load_rows=2, phases=(0, start)))
    return StreamingGraph(network, source, recorders, taps, files, capacity, shapes, anchor, beat)


def _stream_layers(net: LavaNetwork) -> list[StreamLayer]:
    out = []
    for layer in net.layers:
        n = layer.neuron
        observed = tuple((name, n.var(name)) for name in n.observed)
        state = [n.var(name) for name in n.state]
        for b in (layer.synapse, layer.recurrent):
            if b is not None:
                state += [b.var(name) for name in b.state]
        bias = None
        if layer.bias_mant is not None and n.input_var is not None:
            bias = (layer.bias_start, n.var(n.input_var), layer.bias_mant)
        out.append(
            StreamLayer(n.out_port, tuple(n.process.s_out.shape), observed, tuple(state), bias)
        )
    return out


def build_streaming_graph(
    graph: QGraph,
    num_steps: int,
    capacity: int,
    workdir: Path,
    *,
    probe_uv: bool = False,
    first_bias: np.ndarray | None = None,
) -> StreamingGraph:
    """Build ``graph``'s Lava network and the I/O around it; files of ``capacity`` samples live in
    ``workdir``."""
    net = build_network(graph, first_bias)
    bias = graph.input_kind == InputKind.BIAS
    first = net.layers[0].neuron
    return attach_streaming(
        net,
        _stream_layers(net),
        anchor=first.process,
        inp=None if bias else net.inp,
        bias_var=first.var(first.input_var) if bias and first.input_var else None,
        in_shape=lava_shape(graph.input_shape),
        num_steps=num_steps,
        capacity=capacity,
        workdir=workdir,
        probe_uv=probe_uv,
    )
