"""QGraph files: exact round trips, content-based format detection, and clear errors on bad files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from lavabridge.backends.golden import emulate
from lavabridge.errors import ModelFileError
from lavabridge.importers.load import detect_format, load_model
from lavabridge.quant import (
    InputKind,
    LoihiTarget,
    QCubaLIF,
    QDense,
    QGraph,
    QLayer,
    SignMode,
    graphs_equal,
)
from lavabridge.quant.serialize import FORMAT_NAME, FORMAT_VERSION, load_qgraph, save_qgraph

from qgraph_strategies import qgraphs


def _graph(input_kind: InputKind = InputKind.SPIKES) -> QGraph:
    """Every feature at once: delays, recurrence, edge values, per-neuron biases, odd names."""
    rng = np.random.default_rng(7)
    n_in = 5
    if input_kind == InputKind.BIAS:
        first = QLayer("in put", QCubaLIF(n_in, du=4095, dv=123, vth=80, bias_exp=6))
    else:
        w0 = rng.integers(-256, 256, size=(n_in, n_in))
        w0[0, :2] = (-256, 255)
        first = QLayer(
            "in put",
            QCubaLIF(n_in, du=-1, dv=4096, vth=(1 << 18) - 1, bias_mant=rng.integers(-4096, 4096, n_in),
                     bias_exp=rng.integers(0, 8, n_in)),
            QDense(w0, weight_exp=-8, num_weight_bits=9, delays=rng.integers(0, 63, (n_in, n_in))),
        )  # fmt: skip
    hidden = QLayer(
        "hidden/1",
        QCubaLIF(7, du=0, dv=0, vth=0, bias_mant=np.full(7, -4096), bias_exp=np.full(7, 7)),
        QDense(rng.integers(0, 256, (7, n_in)), weight_exp=7, num_weight_bits=1),
        QDense(-rng.integers(0, 256, (7, 7)), sign_mode=SignMode.INHIBITORY,
               delays=np.full((7, 7), 62)),
    )  # fmt: skip
    return QGraph(n_in, (first, hidden), input_kind=input_kind, name="every feature")


@pytest.mark.parametrize("kind", [InputKind.SPIKES, InputKind.BIAS])
def test_round_trip_is_exact(tmp_path: Path, kind: InputKind) -> None:
    g = _graph(kind)
    path = save_qgraph(g, tmp_path / "g.lbq")
    h = load_qgraph(path)
    assert graphs_equal(g, h)
    assert h.input_kind == kind
    syn = h.layers[1].synapse
    assert syn is not None and syn.weights.dtype == np.int64 and not syn.weights.flags.writeable
    rec = h.layers[1].recurrent
    assert rec is not None and rec.delays is not None and rec.mode == SignMode.INHIBITORY


def test_round_trip_keeps_the_target(tmp_path: Path) -> None:
    target = LoihiTarget(max_delay=63, weight_exp_range=(-9, 8))
    g0 = _graph()
    g = QGraph(g0.n_in, g0.layers, g0.input_kind, g0.name, target=target)
    h = load_qgraph(save_qgraph(g, tmp_path / "t.lbq"))
    assert h.target == target and graphs_equal(g, h)


@settings(max_examples=40, deadline=None)
@given(g=qgraphs())
def test_round_trip_random_graphs(tmp_path_factory: pytest.TempPathFactory, g: QGraph) -> None:
    path = tmp_path_factory.mktemp("hyp") / "r.lbq"
    assert graphs_equal(g, load_qgraph(save_qgraph(g, path)))


def test_loaded_graph_runs_the_same(tmp_path: Path) -> None:
    g = _graph()
    h = load_qgraph(save_qgraph(g, tmp_path / "g.lbq"))
    x = (np.random.default_rng(1).random((2, 20, g.n_in)) < 0.4).astype(np.int8)
    assert emulate(g, x, probe_uv=True).identical(emulate(h, x, probe_uv=True))


@pytest.mark.parametrize("name", ["model.bin", "model", "model.net.lbq"])
def test_any_name_is_kept_and_detected_by_content(tmp_path: Path, name: str) -> None:
    path = save_qgraph(_graph(), tmp_path / name)
    assert path == tmp_path / name and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left behind
    assert detect_format(path) == "qgraph"
    assert graphs_equal(load_model(path), _graph())


def test_file_holds_format_and_version(tmp_path: Path) -> None:
    path = save_qgraph(_graph(), tmp_path / "g.lbq")
    with np.load(path) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert meta["format"] == FORMAT_NAME and meta["version"] == FORMAT_VERSION
    assert [layer["name"] for layer in meta["layers"]] == ["in put", "hidden/1"]


# ----------------------------------------------------------------------------- bad files
Meta = dict[str, Any]


def _rewrite(path: Path, edit_meta: Callable[[Meta], None] | None = None, drop: str = "") -> None:
    """Rewrite a saved file with one entry dropped and/or its metadata edited."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != drop}
    if edit_meta is not None:
        meta = json.loads(arrays["meta"].tobytes())
        edit_meta(meta)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _set(key_path: list[Any], value: object) -> Callable[[Meta], None]:
    def edit(meta: Meta) -> None:
        node: Any = meta
        for k in key_path[:-1]:
            node = node[k]
        node[key_path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda p: p.unlink(), "no such model file"),
        (lambda p: p.write_bytes(b""), "unknown model format"),
        (lambda p: p.write_bytes(b"hello, not a model"), "unknown model format"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "damaged"),
        (lambda p: _rewrite(p, drop="meta"), "no 'meta' entry"),
        (lambda p: _rewrite(p, drop="1.recurrent.delays"), "missing entry"),
        (lambda p: _rewrite(p, _set(["format"], "something.else")), "not a lavabridge QGraph"),
        (lambda p: _rewrite(p, _set(["version"], FORMAT_VERSION + 1)), "version"),
        (lambda p: _rewrite(p, _set(["layers", 1, "neuron", "du"], 5000)), "layer 1 'hidden/1': du"),
        (lambda p: _rewrite(p, _set(["layers", 0, "synapse", "sign_mode"], "BOGUS")), "damaged"),
    ],
)  # fmt: skip
def test_bad_files_raise_model_file_error_naming_the_file(
    tmp_path: Path, corrupt: Callable[[Path], None], expected: str
) -> None:
    path = save_qgraph(_graph(), tmp_path / "bad.lbq")
    corrupt(path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_foreign_zip_and_npy_are_refused(tmp_path: Path) -> None:
    z = tmp_path / "foreign.lbq"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="not a lavabridge QGraph"):
        load_qgraph(z)
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    with pytest.raises(ModelFileError, match=r"array\.npy"):
        load_qgraph(npy)


def test_save_into_missing_directory_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "g.lbq"
    with pytest.raises(ModelFileError, match=r"nope/g\.lbq"):
        save_qgraph(_graph(), target)


def test_netx_files_are_detected_by_signature(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "looks_like_a.lbq"
    with h5py.File(path, "w") as f:
        f.create_group("layer")
    assert detect_format(path) == "netx"


def test_load_model_reads_lava_dl_mnist_net() -> None:
    from lavabridge.data import mnist_net_path

    g = load_model(mnist_net_path())
    assert g.input_kind == InputKind.BIAS
    assert (g.n_in, *g.sizes) == (784, 784, 512, 512, 10)
