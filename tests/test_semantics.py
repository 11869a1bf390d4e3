"""Semantics are data end to end: one enum each, approximations carried, the target honoured.

* ``Reset``, ``Compare`` and ``InputKind`` are the same enums in the IR, the QGraph and ``.lbq``;
* a semantic Lava's LIF cannot compute is deployed exactly (FlexLIF) by default, refused for a
  Loihi 2 target, and approximated only when asked; an approximation is stored in the QGraph, its
  ``.lbq`` file, shown by ``lavabridge info`` and in the VerifyReport;
* version-1 ``.lbq`` files (lavabridge 0.1) still read;
* ``quantize`` takes every constant from the target it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.cli import main
from lavabridge.errors import UnsupportedError
from lavabridge.exporters.lava import build_network
from lavabridge.exporters.netx import write_netx
from lavabridge.nn import rate_encode
from lavabridge.quant import QCubaLIF, QDense, QGraph, QLayer, graphs_equal
from lavabridge.quant.ptq import quantize
from lavabridge.quant.report import QuantPolicy
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.semantics import Approximation, Compare, InputKind, Reset
from lavabridge.target import LOIHI2, LoihiTarget
from lavabridge.verify import verify


def _float_graph(reset: str = "subtract", compare: str = ">=") -> ir.Graph:
    rng = np.random.default_rng(8)
    return ir.Graph.sequential(
        6,
        (ir.Dense(rng.normal(0, 0.5, (8, 6))), ir.CubaLIF(8, 1.0, 0.1, 1.0, reset=reset,
                                                           compare=compare)),
        (ir.Dense(rng.normal(0, 0.5, (3, 8))), ir.CubaLIF(3, 1.0, 0.05, 1.0)),
        name="approx",
    )  # fmt: skip


def _spikes(n: int = 6, batch: int = 16, steps: int = 16, seed: int = 1) -> np.ndarray:
    return rate_encode(np.random.default_rng(seed).random((batch, n)) * 0.7, steps, seed)


def test_one_enum_each_across_ir_and_qgraph() -> None:
    assert ir.Reset is Reset and ir.Compare is Compare and ir.InputKind is InputKind
    g = ir.Graph.sequential(2, (ir.Dense(np.ones((2, 2))), ir.CubaLIF(2, 1.0, 0.0, 1.0)))
    assert isinstance(g.nodes["input"].mode, InputKind)  # type: ignore[attr-defined]
    q = QCubaLIF(2, 0, 0, 1, reset="subtract", compare=">=")
    assert (q.reset, q.compare) == (Reset.SUBTRACT, Compare.GE)


def test_custom_kinds_are_exact_by_default_and_refused_for_a_loihi2_target() -> None:
    q, report = quantize(_float_graph(), _spikes())  # exact: FlexLIF, CPU simulator only
    assert q.approximations == () and report.layers[0].cpu_simulator_only
    assert (q.layers[0].neuron.reset, q.layers[0].neuron.compare) == ("subtract", ">=")
    loihi2 = QuantPolicy(custom_neurons=False)
    with pytest.raises(UnsupportedError) as info:
        quantize(_float_graph(), _spikes(), policy=loihi2)
    msg = str(info.value)
    assert msg.startswith("layer0: reset='subtract', compare='>='")
    assert "QuantPolicy(allow_approximations=True)" in msg and "CPU simulator only" in msg
    with pytest.raises(UnsupportedError, match=r"layer0: compare='>='"):
        quantize(_float_graph(reset="zero"), _spikes(), policy=loihi2)
    q, _ = quantize(_float_graph("zero", ">"), _spikes(), policy=loihi2)  # nothing to allow
    assert q.approximations == ()


def test_allowed_approximations_travel_with_the_model(tmp_path: Path) -> None:
    q, _ = quantize(_float_graph(), _spikes(), policy=QuantPolicy(allow_approximations=True))
    assert [(name, a.param) for name, a in q.approximations] == [
        ("layer0", "reset"),
        ("layer0", "compare"),
    ]
    path = save_qgraph(q, tmp_path / "approx.lbq")
    again = load_qgraph(path)
    assert graphs_equal(q, again) and again.layers[0].approximations == q.layers[0].approximations
    with np.load(path) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert meta["layers"][0]["approximations"][0] == {
        "param": "reset",
        "source": "subtract",
        "deployed": "zero",
        "effect": q.layers[0].approximations[0].effect,
    }
    assert meta["layers"][0]["neuron"]["compare"] == ">"  # what is deployed
    report = verify(again, _spikes(batch=2), lava=False)
    assert report.model.layers[0].approximations == tuple(
        str(a) for a in q.layers[0].approximations
    )
    assert report.model.layers[1].approximations == ()
    doc = json.loads(report.to_json())
    assert "reset 'subtract' deployed as 'zero'" in doc["model"]["layers"][0]["approximations"][0]


def test_info_shows_approximations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    q, _ = quantize(_float_graph(), _spikes(), policy=QuantPolicy(allow_approximations=True))
    path = save_qgraph(q, tmp_path / "approx.lbq")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "approximated semantics" in out
    assert "layer0: reset 'subtract' deployed as 'zero'" in out
    assert "layer0: compare '>=' deployed as '>'" in out


def test_stages_compute_or_refuse_semantics_never_drop_them(tmp_path: Path) -> None:
    """A QCubaLIF asking for subtract reset is data: the golden emulator and the Lava export
    compute it (FlexLIF), netx (which cannot hold it) refuses; none runs it as a zero reset."""
    g = QGraph(2, (QLayer("a", QCubaLIF(2, 0, 0, 5, reset="subtract"), QDense(np.ones((2, 2)))),))
    x = np.ones((1, 4, 2), np.int8)
    zero = QGraph(2, (QLayer("a", QCubaLIF(2, 0, 0, 5), QDense(np.ones((2, 2)))),))
    assert (
        emulate(g, x, probe_uv=True).v[0].tolist() != emulate(zero, x, probe_uv=True).v[0].tolist()
    )
    assert type(build_network(g).neurons[0]).__name__ == "FlexLIF"
    assert type(build_network(zero).neurons[0]).__name__ == "LIF"
    with pytest.raises(UnsupportedError, match="netx's CUBA neurons") as info:
        write_netx(g, tmp_path / "a.net")
    assert info.value.stage == "netx writer"
    again = load_qgraph(save_qgraph(g, tmp_path / "a.lbq"))
    assert again.layers[0].neuron.reset == Reset.SUBTRACT  # type: ignore[attr-defined]


def test_version_1_lbq_files_still_read(tmp_path: Path) -> None:
    """A ``.lbq`` laid out as lavabridge 0.1 wrote it (version 1: no kinds, no compare, no
    approximations, no input encoding) reads as the same graph."""
    from frozen_cases import q_chain

    graph = q_chain()
    path = save_qgraph(graph, tmp_path / "v2.lbq")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    meta["version"] = 1
    meta.pop("input_encoding")
    for layer in meta["layers"]:
        layer.pop("approximations")
        for role in ("neuron", "synapse", "recurrent"):
            if layer[role] is not None:
                layer[role].pop("kind")
        layer["neuron"].pop("compare")
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    v1 = tmp_path / "v1.lbq"
    with open(v1, "wb") as f:
        np.savez_compressed(f, **arrays)
    assert graphs_equal(load_qgraph(v1), graph)


def test_quantize_takes_every_constant_from_its_target() -> None:
    narrow = LoihiTarget(weight_exp_range=(-2, 1), bias_exp_range=(0, 3))
    rng = np.random.default_rng(9)
    g = ir.Graph.sequential(
        6,
        (ir.Dense(rng.normal(0, 0.5, (8, 6))),
         ir.CubaLIF(8, 0.5, 0.1, 1.0, bias=rng.normal(0, 0.05, 8))),
    )  # fmt: skip
    wide_q, _ = quantize(g, _spikes())
    q, report = quantize(g, _spikes(), target=narrow)
    assert q.target == narrow and wide_q.target == LOIHI2
    assert wide_q.layers[0].synapse.weight_exp > 1  # type: ignore[union-attr]
    assert report.layers[0].weight_exp == q.layers[0].synapse.weight_exp == 1  # type: ignore[union-attr]
    assert int(q.layers[0].neuron.bias_exp.max()) <= 3  # type: ignore[attr-defined]
    golden = emulate(q, _spikes(batch=2))
    assert golden.batch == 2


def test_approximation_is_plain_data() -> None:
    a = Approximation("reset", "subtract", "zero", "v := 0")
    assert str(a) == "reset 'subtract' deployed as 'zero' (v := 0)"
    assert Approximation(**a.to_dict()) == a
