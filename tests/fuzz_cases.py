"""Seed files and hand-made hostile files for the fuzz suite (``tests/test_fuzz.py``).

Every reader of lavabridge gets a valid seed file (mutated byte by byte by the suite) and a list of
crafted cases: forged headers that declare 10^12 elements, pickled objects, NaN / inf, out-of-range
and wrong-type values, wrong shapes, zip bombs, oversized and deeply nested JSON.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.inputs import prepare_input
from lavabridge.exporters.netx import write_netx
from lavabridge.formats.npy import load_npy
from lavabridge.importers.load import load_model
from lavabridge.importers.netx import netx_input_transform, read_netx
from lavabridge.pipeline import PipelineConfig, load_config, save_config
from lavabridge.quant import QConv, QCubaLIF, QDense, QGraph, QLayer
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.recording import Recording
from lavabridge.verify import VerifyReport, verify
from lavabridge.verify.run import _labels

from frozen_cases import f_chain, q_netx_rec
from netx_helpers import write_raw

Reader = Callable[[Path], Any]


def graph() -> QGraph:
    rng = np.random.default_rng(4)
    return QGraph(
        5,
        (
            QLayer("a", QCubaLIF(6, 300, 200, 30, bias_mant=rng.integers(-9, 9, 6)),
                   QDense(rng.integers(-200, 255, (6, 5)), delays=rng.integers(0, 3, (6, 5))),
                   QDense(rng.integers(-50, 50, (6, 6)))),
            QLayer("b", QCubaLIF(3, 300, 200, 30), QDense(rng.integers(-200, 255, (3, 6)))),
        ),
        name="fuzz",
    )  # fmt: skip


def conv_graph() -> QGraph:
    """input -> conv (stride 2, 1; padding 1, 0) -> sum pool -> flatten -> dense (netx-exact)."""
    rng = np.random.default_rng(3)
    conv = QConv(rng.integers(-9, 10, (2, 1, 3, 2)), (1, 6, 5), (2, 1), (1, 0))
    pool = QConv(np.ones((2, 1, 2, 2), np.int64), conv.out_shape, (2, 2), groups=2)
    lif = QCubaLIF(pool.shape[0], du=4095, dv=0, vth=3, bias_mant=np.full(pool.shape[0], 2),
                   bias_exp=np.full(pool.shape[0], 6))  # fmt: skip
    return QGraph(30, (
        QLayer("conv", QCubaLIF(conv.shape[0], du=1023, dv=511, vth=20), conv),
        QLayer("pool", lif, pool),
        QLayer("fc", QCubaLIF(3, du=4095, dv=0, vth=5), QDense(rng.integers(-100, 100, (3, 4)))),
    ), name="conv")  # fmt: skip


def _read_inputs(path: Path) -> Any:
    return prepare_input(graph(), load_npy(path, "--input"), 8)


def _read_labels(path: Path) -> Any:
    return _labels(load_npy(path, "--labels"), 4, 3)


def _read_config(path: Path) -> Any:
    run = path.parent / f"run-{path.name}"
    run.mkdir(exist_ok=True)
    (run / "pipeline.json").write_bytes(path.read_bytes())
    return load_config(run)


READERS: dict[str, tuple[str, Reader]] = {
    # name: (seed kind, reader)
    "lbq": ("lbq", load_qgraph),
    "model-lbq": ("lbq", load_model),
    "lbir": ("lbir", ir.load),
    "net": ("net", read_netx),
    "net-conv": ("netconv", read_netx),
    "lbq-conv": ("lbqconv", load_qgraph),
    "net-transform": ("net", netx_input_transform),
    "model-net": ("net", load_model),
    "inputs": ("npy", _read_inputs),
    "labels": ("labels", _read_labels),
    "pipeline.json": ("config", _read_config),
    "snapshot": ("snapshot", Recording.from_npz),
    "report.json": ("report", VerifyReport.from_json),
}


def make_seeds(tmp: Path) -> dict[str, Path]:
    """One valid file per seed kind."""
    g = graph()
    x = (np.random.default_rng(5).random((4, 8, 5)) < 0.4).astype(np.int8)
    seeds = {
        "lbq": save_qgraph(g, tmp / "seed.lbq"),
        "lbir": ir.save(f_chain(), tmp / "seed.lbir"),
        "net": tmp / "seed.net",
        "npy": tmp / "seed.npy",
        "labels": tmp / "labels.npy",
        "config": save_config(PipelineConfig(out_dir=tmp), tmp),
        "snapshot": tmp / "seed.npz",
        "report": tmp / "report.json",
    }
    write_netx(q_netx_rec(), seeds["net"], input_transform={"weight": 70, "bias": -3})
    seeds["netconv"] = tmp / "conv.net"
    write_netx(conv_graph(), seeds["netconv"])
    seeds["lbqconv"] = save_qgraph(conv_graph(), tmp / "conv.lbq")
    np.save(seeds["npy"], x)
    np.save(seeds["labels"], np.array([0, 2, 1, 2]))
    emulate(g, x, probe_uv=True).to_npz(seeds["snapshot"])
    verify(g, x, labels=np.array([0, 2, 1, 2]), lava=False).to_json(seeds["report"])
    return seeds


# ----------------------------------------------------------------------------- forged files
def npy_header(shape: tuple[int, ...], descr: str = "<i8", version: int = 1) -> bytes:
    """A ``.npy`` header declaring ``shape`` (nothing else follows)."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    size = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header


def _npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def bomb(data: bytes, claim: int = 0xFFFFFFFF) -> bytes:
    """``data`` with the uncompressed-size field of every zip member set to ``claim`` bytes."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = out.find(sig)
        while i >= 0:
            out[i + off : i + off + 4] = struct.pack("<I", claim)
            i = out.find(sig, i + 4)
    return bytes(out)


def _small_claiming_big() -> bytes:
    """A 200-byte deflated member whose header and zip directory agree on 3.2 GB: what numpy
    would allocate before finding the data missing."""
    header = npy_header((400_000_000,))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.npy", header + b"\0" * 64)
    return bomb(buf.getvalue(), len(header) + 3_200_000_000)


def _lzma_member() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as z:
        z.writestr("meta.npy", _npy_bytes(np.zeros(3)))
    data = bytearray(buf.getvalue())
    data[40:48] = b"\xff" * 8  # inside the LZMA stream: lzma.LZMAError unless refused first
    return bytes(data)


def _lbq_with(seed: Path, edit: Callable[[dict[str, Any], dict[str, np.ndarray]], None]) -> bytes:
    with np.load(seed) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    edit(meta, arrays)
    if "meta" not in arrays:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _h5(path: Path, build: Callable[[h5py.File], None]) -> bytes:
    with h5py.File(path, "w") as f:
        build(f)
    return path.read_bytes()


def _net(path: Path, huge: str | None = None, **datasets: Any) -> bytes:
    """A one-layer dense ``.net`` (``netx_helpers.write_raw``); ``huge`` names a dataset that
    declares 10^12 elements and stores none (chunked, never written)."""
    write_raw(path, [{"type": "dense", **datasets}])
    if huge is not None:
        with h5py.File(path, "a") as f:
            f["layer/0"].create_dataset(huge, shape=(10**6, 10**6), dtype="f4", chunks=(1, 1))
    return path.read_bytes()


NEURON = {"type": b"CUBA", "iDecay": 4096, "vDecay": 4096, "vThMant": 100}


def _conv_net(path: Path, huge: str | None = None, input_shape: Any = None, **conv: Any) -> bytes:
    """A shape-only input and one conv layer (``netx_helpers.write_raw``) with ``conv``'s datasets
    replaced; ``huge`` names a dataset declaring 10^12 elements and storing none."""
    layer = {"type": "conv", "shape": np.array([2, 3, 4]), "weight": np.ones((2, 1, 3, 2)),
             "stride": np.array([2, 1]), "padding": np.array([1, 0]), "dilation": np.array([1, 1]),
             "groups": 1, "neuron": NEURON, **conv}  # fmt: skip
    if huge is not None:
        del layer[huge]
    shape = np.array([1, 6, 5] if input_shape is None else input_shape)
    write_raw(path, [{"type": "input", "shape": shape}, layer])
    if huge is not None:
        with h5py.File(path, "a") as f:
            f["layer/1"].create_dataset(huge, shape=(10**6, 10**6), dtype="f4", chunks=(1, 1))
    return path.read_bytes()


def crafted(seeds: dict[str, Path], tmp: Path) -> list[tuple[str, str, bytes]]:
    """``(reader, what, bytes)`` of hand-made hostile files."""
    lbq = seeds["lbq"]
    big = npy_header((10**6, 10**6))
    cases: list[tuple[str, str, bytes]] = [
        ("inputs", "npy declaring 10^12 elements", big + b"\0" * 64),
        ("inputs", "npy with a 2^32-byte header length", b"\x93NUMPY\x02\x00\xff\xff\xff\xff"),
        ("inputs", "pickled object array", _npy_bytes(np.array([{"a": 1}], object), True)),
        ("inputs", "NaN spikes", _npy_bytes(np.full((4, 8, 5), np.nan))),
        ("inputs", "inf spikes", _npy_bytes(np.full((4, 8, 5), np.inf))),
        ("inputs", "spikes of 2", _npy_bytes(np.full((4, 8, 5), 2, np.int8))),
        ("inputs", "negative spikes", _npy_bytes(np.full((4, 8, 5), -1, np.int8))),
        ("inputs", "wrong width", _npy_bytes(np.zeros((4, 8, 6), np.int8))),
        ("inputs", "wrong rank", _npy_bytes(np.zeros((4, 8, 5, 1), np.int8))),
        ("inputs", "complex values", _npy_bytes(np.zeros((4, 8, 5), np.complex64))),
        ("inputs", "records", _npy_bytes(np.zeros(3, [("a", "i4"), ("b", "f4")]))),
        ("inputs", "empty batch", _npy_bytes(np.zeros((0, 8, 5), np.int8))),
        ("inputs", "an npz", _zip({"x.npy": _npy_bytes(np.zeros(3))})),
        ("inputs", "strings", _npy_bytes(np.array(["a", "b"]))),
        ("labels", "float labels", _npy_bytes(np.array([0.5, 1, 2, 0]))),
        ("labels", "labels out of range", _npy_bytes(np.array([0, 1, 2, 3]))),
        ("labels", "labels too few", _npy_bytes(np.array([0, 1]))),
        ("lbq", "member declaring 10^12 elements", _zip({"meta.npy": big})),
        ("lbq", "zip bomb (forged sizes)", bomb(lbq.read_bytes())),
        ("lbq", "200 bytes claiming 3.2 GB", _small_claiming_big()),
        ("lbq", "damaged LZMA member", _lzma_member()),
        ("snapshot", "damaged LZMA member", _lzma_member()),
        ("lbq", "pickle member", _zip({"meta.npy": _npy_bytes(np.array([1], object), True)})),
        ("lbq", "meta is a list", _lbq_with(lbq, lambda m, a: a.update(
            meta=np.frombuffer(b"[1, 2]", np.uint8)))),
        ("lbq", "meta not uint8", _lbq_with(lbq, lambda m, a: a.update(meta=np.zeros(3)))),
        ("lbq", "meta not UTF-8", _lbq_with(lbq, lambda m, a: a.update(
            meta=np.frombuffer(b"\xff\xfe{", np.uint8)))),
        ("lbq", "layers not a list", _lbq_with(lbq, lambda m, a: m.update(layers=7))),
        ("lbq", "layer is a string", _lbq_with(lbq, lambda m, a: m.update(layers=["x"]))),
        ("lbq", "size 10^12", _lbq_with(lbq, lambda m, a: m["layers"][0]["neuron"].update(
            size=10**12))),
        ("lbq", "vth out of range", _lbq_with(lbq, lambda m, a: m["layers"][0]["neuron"].update(
            vth=1 << 30))),
        ("lbq", "float weights", _lbq_with(lbq, lambda m, a: a.update(
            {"0.synapse.weights": a["0.synapse.weights"] + 0.5}))),
        ("lbq", "weights of another shape", _lbq_with(lbq, lambda m, a: a.update(
            {"0.synapse.weights": np.zeros((2, 2), np.int64)}))),
        ("lbq", "delays beyond 62", _lbq_with(lbq, lambda m, a: a.update(
            {"0.synapse.delays": a["0.synapse.delays"] + 100}))),
        ("lbq", "unknown target field", _lbq_with(lbq, lambda m, a: m["target"].update(x=1))),
        ("lbq", "target is a list", _lbq_with(lbq, lambda m, a: m.update(target=[1]))),
        ("lbq", "NaN in encoding", _lbq_with(lbq, lambda m, a: m.update(
            input_encoding={"scale": float("nan"), "bias_exp": 0, "gain": 1, "bias": [0]}))),
        ("lbir", "delay 10^9", _lbq_with(seeds["lbir"], lambda m, a: a.update(
            {"1.delay": np.full(a["1.delay"].shape, 10**9)}))),
        ("lbir", "NaN weights", _lbq_with(seeds["lbir"], lambda m, a: a.update(
            {"1.weight": np.full(a["1.weight"].shape, np.nan)}))),
        ("lbir", "nodes not a list", _lbq_with(seeds["lbir"], lambda m, a: m.update(nodes={}))),
        ("lbir", "threshold a string", _lbq_with(seeds["lbir"], lambda m, a: m["nodes"][2][
            "params"].update(threshold="1"))),
        ("net", "dataset declaring 10^12 elements", _net(tmp / "a.net", "weight", shape=[3],
                                                         neuron=NEURON)),
        ("net", "shape -3", _net(tmp / "b.net", shape=[-3], weight=np.ones((3, 2)), neuron=NEURON)),
        ("net", "shape 10^9", _net(tmp / "c.net", shape=[10**9], weight=np.ones((3, 2)),
                                   neuron=NEURON)),
        ("net", "NaN weights", _net(tmp / "d.net", shape=[3], weight=np.full((3, 2), np.nan),
                                    neuron=NEURON)),
        ("net", "weights 1e30", _net(tmp / "e.net", shape=[3], weight=np.full((3, 2), 1e30),
                                     neuron=NEURON)),
        ("net", "float threshold", _net(tmp / "f.net", shape=[3], weight=np.ones((3, 2)),
                                        neuron={**NEURON, "vThMant": 0.5})),
        ("net", "type is a number", _h5(tmp / "g.net", lambda f: f.create_group("layer")
                                       .create_group("0").create_dataset("type", data=3))),
        ("net", "layer is a dataset", _h5(tmp / "h.net", lambda f: f.create_group("layer")
                                         .create_dataset("0", data=np.zeros(3)))),
        ("net", "'/layer' is a dataset", _h5(tmp / "i.net", lambda f: f.create_dataset(
            "layer", data=np.zeros(3)))),
        ("net", "delay dataset 10^12", _net(tmp / "j.net", "delay", shape=[3],
                                            weight=np.ones((3, 2)), neuron=NEURON)),
        ("net-conv", "conv kernel 10^12", _conv_net(tmp / "k.net", "weight")),
        ("net-conv", "conv stride 0", _conv_net(tmp / "l.net", stride=np.array([0, 1]))),
        ("net-conv", "conv padding -4", _conv_net(tmp / "m.net", padding=np.array([-4, 0]))),
        ("net-conv", "conv groups 0", _conv_net(tmp / "n.net", groups=0)),
        ("net-conv", "conv 3 strides", _conv_net(tmp / "o.net", stride=np.array([1, 1, 1]))),
        ("net-conv", "conv kernel 200x200", _conv_net(tmp / "p.net", weight=np.ones(
            (2, 1, 200, 200)), shape=np.array([2, 1, 1]), padding=np.array([98, 98]))),
        ("net-conv", "conv shape 10^9", _conv_net(tmp / "q.net", shape=np.array([10**9, 1, 1]))),
        ("net-conv", "conv NaN weights", _conv_net(tmp / "r.net", weight=np.full((2, 1, 3, 2),
                                                                                 np.nan))),
        ("net-conv", "input shape 4-D", _conv_net(tmp / "s.net", input_shape=[1, 1, 6, 5])),
        ("lbq-conv", "conv in_shape 10^9", _lbq_with(seeds["lbqconv"], lambda m, a: m["layers"][
            0]["synapse"].update(in_shape=[10**9, 10**9, 10**9]))),
        ("lbq-conv", "conv stride a string", _lbq_with(seeds["lbqconv"], lambda m, a: m[
            "layers"][0]["synapse"].update(stride="2"))),
        ("lbq-conv", "conv weights 5-D", _lbq_with(seeds["lbqconv"], lambda m, a: a.update(
            {"0.synapse.weights": np.zeros((2, 1, 3, 2, 1), np.int64)}))),
        ("lbq-conv", "conv weights 2^40", _lbq_with(seeds["lbqconv"], lambda m, a: a.update(
            {"0.synapse.weights": np.full((2, 1, 3, 2), 1 << 40, np.int64)}))),
        ("pipeline.json", "NaN lr", seeds["config"].read_bytes().replace(b'"lr": 0.002',
                                                                           b'"lr": NaN')),
        ("pipeline.json", "epochs a string", seeds["config"].read_bytes().replace(
            b'"epochs": 40', b'"epochs": "40"')),
        ("pipeline.json", "10^12 steps", seeds["config"].read_bytes().replace(
            b'"num_steps": 24', b'"num_steps": 1000000000000')),
        ("pipeline.json", "negative epochs", seeds["config"].read_bytes().replace(
            b'"epochs": 40', b'"epochs": -4')),
        ("pipeline.json", "hidden of zeros", seeds["config"].read_bytes().replace(
            b'"hidden": [\n    256\n  ]', b'"hidden": [0]')),
        ("pipeline.json", "a list", b"[1, 2, 3]"),
        ("pipeline.json", "deeply nested", b"[" * 100_000 + b"]" * 100_000),
        ("pipeline.json", "2 MB", b'{"x": "' + b"a" * 2_000_000 + b'"}'),
        ("pipeline.json", "not UTF-8", b"\xff\xfe\x00{"),
        ("snapshot", "spikes of 5", _lbq_with(seeds["snapshot"], lambda m, a: a.update(
            spikes_0=np.full((2, 3, 4), 5, np.uint8), meta=np.array("{}")))),
        ("snapshot", "layers of other batches", _zip({
            "spikes_0.npy": _npy_bytes(np.zeros((2, 3, 4), np.uint8)),
            "spikes_1.npy": _npy_bytes(np.zeros((3, 3, 4), np.uint8))})),
        ("snapshot", "u of another shape", _zip({
            "spikes_0.npy": _npy_bytes(np.zeros((2, 3, 4), np.uint8)),
            "u_0.npy": _npy_bytes(np.zeros((2, 3, 5), np.int64)),
            "v_0.npy": _npy_bytes(np.zeros((2, 3, 4), np.int64))})),
        ("snapshot", "no spikes", _zip({"meta.npy": _npy_bytes(np.array("{}"))})),
        ("snapshot", "meta not JSON", _zip({"spikes_0.npy": _npy_bytes(np.zeros((1, 1, 1),
                                            np.uint8)), "meta.npy": _npy_bytes(np.array("{"))})),
        ("report.json", "wrong types", seeds["report"].read_bytes().replace(
            b'"samples": 4', b'"samples": "four"')),
        ("report.json", "a list", b"[]"),
        ("report.json", "missing model", json.dumps({"schema": "lavabridge.verify-report",
                                                      "schema_version": 1}).encode()),
    ]  # fmt: skip
    return cases
