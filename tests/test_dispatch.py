"""Every stage is a dispatch table keyed by node kind; a kind it does not know is refused.

For each stage a node kind it has no entry for must raise :class:`UnsupportedError` whose
``node``, ``stage`` and ``supported`` name the node, the stage and the kinds it does support, and
whose message says all three. The IR and the QGraph accept any node of the right role (so a new
kind needs table entries only); the stages refuse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import pytest
from torch import nn

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.dispatch import Table
from lavabridge.errors import UnsupportedError
from lavabridge.exporters.lava import build_network
from lavabridge.exporters.netx import write_netx
from lavabridge.importers.netx import read_netx
from lavabridge.ir import reference as interpret_module
from lavabridge.ir.fields import Int, rule
from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet, trace
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer, QNeuron, QSynapse
from lavabridge.quant.ptq import quantize
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.target import LOIHI2, LoihiTarget
from lavabridge.verify import verify


# ----------------------------------------------------------------------------- unknown kinds
@dataclass(frozen=True, eq=False, repr=False)
class Mystery(ir.Neuron):
    """A neuron kind no stage knows (the IR takes it: it has the neuron role)."""

    kind: ClassVar[str] = "Mystery"


@dataclass(frozen=True, eq=False, repr=False)
class Passthrough(ir.Synapse):
    """A synapse kind no stage knows: ``width`` sources to ``width`` targets."""

    width: int = field(metadata=rule(Int(1)))

    kind: ClassVar[str] = "Passthrough"

    @property
    def n_in(self) -> int:
        return self.width

    @property
    def n_out(self) -> int:
        return self.width


@dataclass(frozen=True, eq=False)
class QMystery(QNeuron):
    """A QGraph neuron kind no stage knows."""

    kind: ClassVar[str] = "Mystery"

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        return None


@dataclass(frozen=True, eq=False)
class QPassthrough(QSynapse):
    """A QGraph synapse kind no stage knows."""

    width: int

    kind: ClassVar[str] = "Passthrough"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.width, self.width)

    def validate(self, where: str, target: LoihiTarget = LOIHI2) -> None:
        return None


def _refused(
    info: pytest.ExceptionInfo[UnsupportedError], stage: str, kind: str, node: str
) -> None:
    err = info.value
    assert err.stage == stage, err.stage
    assert node in (err.node or ""), err.node
    assert err.supported and kind not in err.supported
    msg = str(err)
    assert stage in msg and repr(kind) in msg and node in msg
    assert all(s in msg for s in err.supported), msg


def _f_graph(neuron: ir.Neuron | None = None, synapse: ir.Synapse | None = None) -> ir.Graph:
    syn = synapse or ir.Dense(np.full((4, 4), 0.25))
    return ir.Graph.sequential(4, (syn, neuron or ir.CubaLIF(4, 1.0, 0.1, 1.0)), name="g")


def _q_graph(neuron: QNeuron | None = None, synapse: QSynapse | None = None) -> QGraph:
    lif = neuron or QCubaLIF(4, 100, 100, 10)
    return QGraph(4, (QLayer("l0", lif, synapse or QDense(np.full((4, 4), 9))),), name="q")


def _spikes() -> np.ndarray:
    return (np.random.default_rng(0).random((2, 6, 4)) < 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- IR stages
def test_the_ir_holds_any_node_of_the_right_role() -> None:
    g = _f_graph(Mystery(4), Passthrough(4))
    (layer,) = g.layer_chain()
    assert isinstance(layer.neuron, Mystery) and isinstance(layer.synapse, Passthrough)


def test_float_reference_refuses_unknown_kinds() -> None:
    with pytest.raises(UnsupportedError) as info:
        ir.interpret(_f_graph(Mystery(4)), _spikes())
    _refused(info, "float reference", "Mystery", "node 'layer0' (Mystery)")
    with pytest.raises(UnsupportedError) as info:
        ir.interpret(_f_graph(synapse=Passthrough(4)), _spikes())
    _refused(info, "float reference", "Passthrough", "(Passthrough)")


def test_quantizer_refuses_a_kind_only_the_float_reference_knows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def step(
        neuron: Mystery, u: Any, v: Any, current: Any, extra: Any = None, with_bias: bool = True
    ) -> Any:
        return u + current, v, np.zeros(u.shape, bool)

    known = {ir.CubaLIF: interpret_module.cuba_step, Mystery: step}
    monkeypatch.setattr(interpret_module, "NEURONS", Table("float reference", known))
    with pytest.raises(UnsupportedError) as info:
        quantize(_f_graph(Mystery(4)), _spikes())
    _refused(info, "quantizer", "Mystery", "layer0")


def test_lbir_writer_and_reader_refuse_unknown_kinds(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError) as info:
        ir.save(_f_graph(Mystery(4)), tmp_path / "m.lbir")
    _refused(info, ".lbir writer", "Mystery", "node 'layer0'")
    path = ir.save(_f_graph(), tmp_path / "g.lbir")
    _edit_meta(path, lambda m: m["nodes"][2].update(kind="Mystery"))
    with pytest.raises(UnsupportedError) as info:
        ir.load(path)
    _refused(info, ".lbir reader", "Mystery", "node 'layer0'")


def test_trace_refuses_unknown_torch_modules() -> None:
    layer = SpikingLayer(CubaLIF(4), nn.Linear(3, 4, bias=False))
    layer.synapse = nn.Bilinear(3, 3, 4)  # a module kind trace has no entry for
    with pytest.raises(UnsupportedError) as info:
        trace(SpikingNet(layer))
    _refused(info, "trace", "Bilinear", "module 'layers.0.synapse' (Bilinear)")


# ----------------------------------------------------------------------------- QGraph stages
def test_the_qgraph_holds_any_node_of_the_right_role() -> None:
    g = _q_graph(QMystery(4), QPassthrough(4))
    assert g.sizes == (4,) and g.layers[0].neuron.kind == "Mystery"


@pytest.mark.parametrize("which", ["neuron", "synapse"])
def test_golden_emulator_refuses_unknown_kinds(which: str) -> None:
    g = _q_graph(QMystery(4)) if which == "neuron" else _q_graph(synapse=QPassthrough(4))
    kind = "Mystery" if which == "neuron" else "Passthrough"
    for exact_int in (False, True):
        with pytest.raises(UnsupportedError) as info:
            emulate(g, _spikes(), exact_int=exact_int)
        _refused(info, "golden emulator", kind, f"layer 0 'l0' {which}")
    with pytest.raises(UnsupportedError) as info:  # the fixed-point health uses the same table
        verify(g, _spikes(), lava=False)
    _refused(info, "golden emulator", kind, f"layer 0 'l0' {which}")


@pytest.mark.parametrize("which", ["neuron", "synapse"])
def test_lava_builders_refuse_unknown_kinds(which: str) -> None:
    g = _q_graph(QMystery(4)) if which == "neuron" else _q_graph(synapse=QPassthrough(4))
    with pytest.raises(UnsupportedError) as info:
        build_network(g)
    _refused(info, "Lava export", "Mystery" if which == "neuron" else "Passthrough",
             f"layer 0 'l0' {which}")  # fmt: skip


@pytest.mark.parametrize("which", ["neuron", "synapse"])
def test_netx_writer_refuses_unknown_kinds(which: str, tmp_path: Path) -> None:
    g = _q_graph(QMystery(4)) if which == "neuron" else _q_graph(synapse=QPassthrough(4))
    with pytest.raises(UnsupportedError) as info:
        write_netx(g, tmp_path / "m.net")
    _refused(info, "netx writer", "Mystery" if which == "neuron" else "Passthrough",
             f"layer 0 'l0' {which}")  # fmt: skip
    assert not (tmp_path / "m.net").exists()


def test_netx_reader_refuses_unknown_layer_types(tmp_path: Path) -> None:
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as f:
        g = f.create_group("layer").create_group("0")
        g.create_dataset("type", data=np.array([b"pool"], "S10"))
    with pytest.raises(UnsupportedError) as info:
        read_netx(path)
    _refused(info, "netx reader", "pool", "pool.net: layer 0 ('pool')")


def test_lbq_writer_and_reader_refuse_unknown_kinds(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError) as info:
        save_qgraph(_q_graph(QMystery(4)), tmp_path / "m.lbq")
    _refused(info, ".lbq writer", "Mystery", "0 (QMystery)")
    path = save_qgraph(_q_graph(), tmp_path / "g.lbq")
    _edit_meta(path, lambda m: m["layers"][0]["synapse"].update(kind="Passthrough"))
    with pytest.raises(UnsupportedError) as info:
        load_qgraph(path)
    _refused(info, ".lbq reader", "Passthrough", "layer 0 synapse")


def _edit_meta(path: Path, edit: Any) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    edit(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
