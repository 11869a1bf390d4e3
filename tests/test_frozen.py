"""Frozen behaviour (issue 8): the artifacts and recordings of main de2cdde, reproduced bit for bit.

Written once before the restructuring (see :mod:`frozen_helpers`); every later change of the code
must reproduce them. Covered: ``.lbq`` / ``.lbir`` file contents, golden Recordings (fast engine
and int64 oracle; spikes, u, v), float reference Recordings, the initial value of every Var of the
Lava process graph plus its wiring and the streaming I/O around it, netx HDF5 datasets written by
``write_netx``, QGraphs read from netx files (lava-dl's ``mnist.net`` included), quantization
(QGraph + QuantReport), ``trace`` / QAT of seeded torch models, and VerifyReport JSON documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.streaming import build_streaming_graph
from lavabridge.data import digit_images, mnist_net_path
from lavabridge.exporters.lava import build_network
from lavabridge.exporters.netx import write_netx
from lavabridge.importers.netx import images_to_bias, netx_input_transform, read_netx
from lavabridge.ir import interpret
from lavabridge.nn import CubaLIF, SpikingLayer, SpikingNet, rate_encode, trace
from lavabridge.nn.qat import disable_qat, enable_qat
from lavabridge.quant import QGraph
from lavabridge.quant.ptq import quantize
from lavabridge.quant.report import QuantPolicy
from lavabridge.quant.serialize import save_qgraph
from lavabridge.recording import Recording
from lavabridge.verify import verify

from frozen_cases import (
    Q_GRAPHS,
    f_bias_input,
    f_chain,
    f_quantizable,
    f_spikes,
    f_values,
    q_input,
    q_netx_chain,
    q_netx_rec,
)
from frozen_helpers import assert_frozen, flatten


# ----------------------------------------------------------------------------- extractors
def _archive(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(flattened JSON meta, arrays) of a ``.lbq`` / ``.lbir`` archive."""
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes().decode())
        arrays = {k: npz[k] for k in npz.files if k != "meta"}
    meta.pop("version", None)  # a later format version may extend the layout
    return flatten(meta), arrays


def _check_archive(name: str, path: Path) -> None:
    meta, arrays = _archive(path)
    assert_frozen(f"{name}.meta", meta, extensible=True)
    assert_frozen(f"{name}.arrays", arrays)


def _recording(rec: Recording) -> dict[str, Any]:
    out: dict[str, Any] = {f"spikes/{i}": s for i, s in enumerate(rec.spikes)}
    if rec.u is not None and rec.v is not None:
        out.update({f"u/{i}": u for i, u in enumerate(rec.u)})
        out.update({f"v/{i}": v for i, v in enumerate(rec.v)})
    return out


def _end(port: Any) -> str:
    """``process.port``; an unnamed process (Lava's global ``Process_<n>``) by its class."""
    proc = port.process
    name = type(proc).__name__ if proc.name.startswith("Process_") else proc.name
    return f"{name}.{port.name}"


def _port_links(proc: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for port in proc.out_ports:
        out[f"out/{port.name}"] = sorted(_end(c) for c in port.out_connections)
    for port in proc.in_ports:
        out[f"in/{port.name}"] = sorted(_end(c) for c in port.in_connections)
    return out


def _lava_process(proc: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"class": f"{type(proc).__module__}.{type(proc).__name__}"}
    for var in proc.vars:
        out[f"var/{var.name}"] = np.asarray(var.init)
        out[f"shape/{var.name}"] = list(var.shape)
    out.update(_port_links(proc))
    return out


def _lava_network(graph: QGraph) -> dict[str, Any]:
    net = build_network(graph)
    procs = [p for p in (*net.neurons, *net.connections()) if p is not None]
    out = {p.name: _lava_process(p) for p in procs}
    out["input_port"] = "none" if net.inp is None else f"{net.inp.process.name}.{net.inp.name}"
    return flatten(out)


def _streaming(graph: QGraph, tmp: Path, probe_uv: bool) -> dict[str, Any]:
    first_bias = np.zeros(graph.n_in, np.int64) + 5 if graph.input_kind.value == "bias" else None
    sg = build_streaming_graph(graph, 7, 3, tmp, probe_uv=probe_uv, first_bias=first_bias)
    out: dict[str, Any] = {"capacity": sg.capacity, "files": sorted(sg.files)}
    if sg.source is not None:
        out["source"] = {"shape": list(sg.source.s_out.shape), **_port_links(sg.source),
                         "capacity": sg.source.proc_params["capacity"]}  # fmt: skip
    out["recorders"] = [
        {"shape": list(r.a_in.shape), **_port_links(r), "capacity": r.proc_params["capacity"]}
        for r in sg.recorders
    ]
    taps = []
    for tap in sg.taps:
        var = tap.ref.out_connections[0].var
        pp = tap.proc_params
        taps.append(
            {
                "var": f"{var.process.name}.{var.name}",
                "period": pp["period"],
                "records": pp["record_path"] is not None,
                "record_capacity": pp["record_capacity"],
                "loads": pp["load_path"] is not None,
                "load_rows": pp["load_rows"],
            }
        )
    out["taps"] = sorted(taps, key=lambda t: t["var"])
    out["network"] = {p.name: _lava_process(p) for p in sg.network.neurons}
    return flatten(out)


def _netx_file(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        for k, v in obj.attrs.items():
            out[f"attrs/{name}/{k}"] = v if isinstance(v, str) else np.asarray(v)
        if isinstance(obj, h5py.Dataset):
            out[f"data/{name}"] = np.asarray(obj[()])

    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            out[f"attrs/{k}"] = v if isinstance(v, str) else np.asarray(v)
        f.visititems(visit)
    return out


def _quant_report(report: Any) -> dict[str, Any]:
    flat = flatten(report.to_dict())
    return {k: v for k, v in flat.items() if "/approximations" not in k and "notes" not in k}


# ----------------------------------------------------------------------------- QGraph artifacts
@pytest.mark.parametrize("name", sorted(Q_GRAPHS))
def test_lbq_file_contents(name: str, tmp_path: Path) -> None:
    _check_archive(f"lbq.{name}", save_qgraph(Q_GRAPHS[name](), tmp_path / "g.lbq"))


@pytest.mark.parametrize("name", sorted(Q_GRAPHS))
def test_golden_recordings(name: str) -> None:
    graph = Q_GRAPHS[name]()
    x, T = q_input(graph)
    fast = emulate(graph, x, num_steps=T, probe_uv=True)
    assert_frozen(f"golden.{name}", _recording(fast))
    assert_frozen(f"golden.{name}", _recording(emulate(graph, x, num_steps=T, probe_uv=True,
                                                        exact_int=True)))  # fmt: skip
    spikes_only = emulate(graph, x, num_steps=T, chunk=1, threads=2)
    assert spikes_only.u is None
    for a, b in zip(spikes_only.spikes, fast.spikes, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(Q_GRAPHS))
def test_lava_process_graph(name: str, tmp_path: Path) -> None:
    graph = Q_GRAPHS[name]()
    assert_frozen(f"lava.network.{name}", _lava_network(graph))
    assert_frozen(f"lava.streaming.{name}", _streaming(graph, tmp_path, probe_uv=False))
    assert_frozen(f"lava.streaming_uv.{name}", _streaming(graph, tmp_path, probe_uv=True))


def test_netx_files_written(tmp_path: Path) -> None:
    write_netx(q_netx_chain(), tmp_path / "a.net")
    assert_frozen("netx.write.netx_chain", _netx_file(tmp_path / "a.net"))
    write_netx(q_netx_rec(), tmp_path / "b.net", input_transform={"weight": 70, "bias": -3})
    assert_frozen("netx.write.netx_rec", _netx_file(tmp_path / "b.net"))
    qgraph, _ = quantize(f_quantizable(), f_spikes(16, seed=1, batch=32), policy=QuantPolicy.netx())
    write_netx(qgraph, tmp_path / "c.net")
    assert_frozen("netx.write.quantized", _netx_file(tmp_path / "c.net"))
    for stem in ("a", "b", "c"):
        graph = read_netx(tmp_path / f"{stem}.net")
        _check_archive(f"netx.read.{stem}", save_qgraph(graph, tmp_path / f"{stem}.lbq"))


def test_netx_reader_on_lava_dl_mnist(tmp_path: Path) -> None:
    path = mnist_net_path()
    graph = read_netx(path)
    _check_archive("netx.read.mnist", save_qgraph(graph, tmp_path / "m.lbq"))
    transform = netx_input_transform(path)
    assert transform is not None
    assert_frozen("netx.transform.mnist", flatten(transform))
    images, _ = digit_images(2)
    x = images_to_bias(images, transform, signed=True)
    assert_frozen("netx.bias.mnist", {"x": x})
    assert_frozen("golden.mnist", _recording(emulate(graph, x, num_steps=6, probe_uv=True)))
    skipped = read_netx(path, skip_layers=1)
    _check_archive("netx.read.mnist_skip", save_qgraph(skipped, tmp_path / "s.lbq"))


# ----------------------------------------------------------------------------- float IR
FLOAT_GRAPHS = {
    "chain": lambda: f_chain(),
    "chain_sub_ge": lambda: f_chain("subtract", ">="),
    "bias_input": f_bias_input,
    "quantizable": f_quantizable,
}


@pytest.mark.parametrize("name", sorted(FLOAT_GRAPHS))
def test_lbir_file_contents(name: str, tmp_path: Path) -> None:
    _check_archive(f"lbir.{name}", ir.save(FLOAT_GRAPHS[name](), tmp_path / "g.lbir"))


@pytest.mark.parametrize("name", sorted(FLOAT_GRAPHS))
def test_float_reference_recordings(name: str) -> None:
    graph = FLOAT_GRAPHS[name]()
    if name == "bias_input":
        rec = interpret(graph, f_values(graph.input_size), num_steps=12, probe_uv=True)
    else:
        rec = interpret(graph, f_spikes(graph.input_size), probe_uv=True)
    assert_frozen(f"float.{name}", _recording(rec))


QUANT_CASES = ("default", "approximated", "bias_input", "netx")


def _quantized(case: str) -> tuple[QGraph, Any]:
    if case == "default":
        return quantize(f_quantizable(), f_spikes(16, seed=1, batch=32))
    if case == "netx":
        return quantize(f_quantizable(), f_spikes(16, seed=1, batch=32), policy=QuantPolicy.netx())
    if case == "approximated":
        policy = QuantPolicy(allow_approximations=True)
        return quantize(f_chain("subtract", ">="), f_spikes(8, seed=2, batch=16), policy=policy)
    return quantize(f_bias_input(), f_values(6, seed=3, batch=32), num_steps=12)


@pytest.mark.parametrize("case", QUANT_CASES)
def test_quantization(case: str, tmp_path: Path) -> None:
    qgraph, report = _quantized(case)
    _check_archive(f"quant.{case}", save_qgraph(qgraph, tmp_path / "q.lbq"))
    assert_frozen(f"quant.report.{case}", _quant_report(report), extensible=True)
    assert len(report.layers) == len(qgraph.layers)
    if case == "approximated":
        assert all(layer.approximations for layer in report.layers)


def _torch_net(bias_input: bool) -> SpikingNet:
    torch.manual_seed(1234)
    layers = []
    if bias_input:
        layers.append(SpikingLayer(CubaLIF(6, voltage_decay=0.2), None, input_gain=0.75))
    layers += [
        SpikingLayer(CubaLIF(10, current_decay=0.5, voltage_decay=0.1), nn.Linear(6, 10, bias=False)),
        SpikingLayer(CubaLIF(3, voltage_decay=0.05, threshold=0.8), nn.Linear(10, 3, bias=False),
                     nn.Linear(3, 3, bias=False)),
    ]  # fmt: skip
    with torch.no_grad():
        for p in layers[-1].neuron.parameters():
            p.add_(0.125)
    return SpikingNet(*layers)


@pytest.mark.parametrize("bias_input", [False, True])
def test_trace_and_qat(bias_input: bool, tmp_path: Path) -> None:
    net = _torch_net(bias_input)
    tag = "bias" if bias_input else "spikes"
    _check_archive(f"trace.{tag}", ir.save(trace(net, name="t"), tmp_path / "t.lbir"))
    enable_qat(net)
    disable_qat(net, keep_quantized=True)
    _check_archive(f"qat.{tag}", ir.save(trace(net, name="t"), tmp_path / "q.lbir"))


def test_rate_encoding() -> None:
    assert_frozen("rate_encode", {"x": rate_encode(f_values(5, seed=4, batch=3), 9, seed=77)})


# ----------------------------------------------------------------------------- verification
def _verify_doc(report: Any) -> dict[str, Any]:
    doc = report.to_dict()
    for key in ("timings", "versions", "schema_version"):
        doc.pop(key)
    return flatten(doc)


@pytest.mark.lava
def test_verify_reports() -> None:
    qgraph, _ = _quantized("default")
    x = f_spikes(16, seed=5, batch=4, steps=12)
    labels = np.array([0, 1, 2, 5])
    report = verify(qgraph, x, labels=labels, float_model=f_quantizable())
    assert report.passed
    assert_frozen("verify.passed", _verify_doc(report), extensible=True)
    faulty = Q_GRAPHS["chain"]()
    h0 = faulty.layers[0]
    n0 = h0.neuron
    broken = n0.__class__(n0.size, n0.du, n0.dv, n0.vth - 30, n0.bias_mant, n0.bias_exp)
    lava_graph = QGraph(
        faulty.n_in,
        (h0.__class__("h0", broken, h0.synapse, h0.recurrent), *faulty.layers[1:]),
        name=faulty.name,
    )
    xq, _ = q_input(faulty, steps=16)
    report = verify(faulty, xq, lava_graph=lava_graph, probe_uv=False, diagnose_samples=2)
    assert not report.passed
    assert_frozen("verify.mismatch", _verify_doc(report), extensible=True)
    bias_graph = Q_GRAPHS["bias_input"]()
    xb, T = q_input(bias_graph)
    report = verify(bias_graph, xb, num_steps=T, lava=False)
    assert_frozen("verify.no_lava", _verify_doc(report), extensible=True)
