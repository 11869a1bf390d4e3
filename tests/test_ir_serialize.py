"""The float IR files: save/load round trips are exact; bad files raise ModelFileError naming them."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lavabridge.errors import ModelFileError
from lavabridge.ir import (
    Compare,
    CubaLIF,
    Dense,
    Graph,
    Reset,
    load,
    save,
)
from lavabridge.ir.serialize import FORMAT_VERSION

from ir_helpers import chain_graph, lif


# ----------------------------------------------------------------------------- save / load
def _assert_bit_identical(a: Graph, b: Graph) -> None:
    assert a == b
    assert list(a.nodes) == list(b.nodes) and a.edges == b.edges
    for key, node in a.nodes.items():
        other = b.nodes[key]
        assert type(other) is type(node)
        for f in dataclasses.fields(node):
            x, y = getattr(node, f.name), getattr(other, f.name)
            if isinstance(x, np.ndarray):
                assert isinstance(y, np.ndarray) and not y.flags.writeable
                assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes()), f.name
            else:
                assert type(x) is type(y) and x == y, f.name


@st.composite
def float_arrays(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    dtype, max_exp = draw(st.sampled_from([(np.float64, 300), (np.float32, 30), (np.float16, 3)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-max_exp, max_exp))
    arr = (rng.standard_normal(shape) * scale).astype(dtype)
    specials = np.array([0.0, -0.0, np.finfo(dtype).tiny / 4, np.finfo(dtype).max], dtype)
    mask = rng.random(shape) < 0.1
    arr[mask] = rng.choice(specials, size=int(mask.sum()))
    return arr


@st.composite
def dense_nodes(draw: st.DrawFn, n_out: int, n_in: int) -> Dense:
    bias = draw(float_arrays((n_out,))) if draw(st.booleans()) else None
    delay = None
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        delay = rng.integers(0, draw(st.integers(0, 100)) + 1, size=(n_out, n_in))
    return Dense(draw(float_arrays((n_out, n_in))), bias=bias, delay=delay)


@st.composite
def neurons(draw: st.DrawFn, size: int) -> CubaLIF:
    unit = st.floats(0.0, 1.0, allow_nan=False)
    return CubaLIF(
        size,
        draw(unit),
        draw(unit),
        draw(st.floats(0.0, 1e300, exclude_min=True, allow_subnormal=True)),
        bias=draw(float_arrays((size,))),
        reset=draw(st.sampled_from(list(Reset))),
        compare=draw(st.sampled_from(list(Compare))),
    )


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """Random chain graphs: widths 1..64, 1..3 layers, recurrent or not."""
    n_in = draw(st.integers(1, 64))
    layers = []
    prev = n_in
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 64))
        rec = draw(dense_nodes(size, size)) if draw(st.booleans()) else None
        layers.append((draw(dense_nodes(size, prev)), draw(neurons(size)), rec))
        prev = size
    return Graph.sequential(n_in, *layers, name=draw(st.text(min_size=1, max_size=8)))


@given(graphs())
def test_save_load_round_trip_is_exact(g: Graph) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = save(g, Path(tmp) / "model.lbir")
        assert path.name == "model.lbir" and path.is_file()
        h = load(path)
    _assert_bit_identical(g, h)
    assert len(h.layer_chain()) == len(g.layer_chain())


def test_save_keeps_any_extension(tmp_path: Path) -> None:
    g = chain_graph()
    for name in ("model.bin", "model", "model.npz"):
        path = save(g, tmp_path / name)
        assert path == tmp_path / name and path.is_file()
        _assert_bit_identical(g, load(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.bin", "model.npz"]


def test_round_trip_keeps_graphs_that_are_not_chains(tmp_path: Path) -> None:
    g = chain_graph(recurrent=False)
    h = Graph({**g.nodes, "lonely": lif(3, bias=-0.0)}, g.edges, name="odd")
    _assert_bit_identical(h, load(save(h, tmp_path / "odd.lbir")))


def _rewrite(path: Path, edit: Any) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())
    edit(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_load_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such IR file"):
        load(tmp_path / "missing.lbir")
    junk = tmp_path / "junk.lbir"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError, match=r"junk.lbir: damaged or incomplete"):
        load(junk)
    bare = tmp_path / "bare.npy"
    np.save(bare, np.zeros(3))
    with pytest.raises(ModelFileError, match=r"bare \.npy"):
        load(bare)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'meta' entry"):
        load(other)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda m, a: m.update(format="something.else"), "not a lavabridge IR file"),
        (lambda m, a: m.update(version=FORMAT_VERSION + 1), "version 2 is not supported"),
        (lambda m, a: m["nodes"][2]["params"].update(threshold=-1.0), "node 'l0'"),
        (lambda m, a: m["nodes"][2]["params"].pop("reset"), "has fields"),
        (lambda m, a: a.pop("1.weight"), "missing entry"),
        (lambda m, a: m["edges"].append(["in", "l0"]), "invalid IR"),
        (lambda m, a: m.pop("edges"), "missing entry 'edges'"),
    ],
)
def test_load_refuses_edited_files(tmp_path: Path, edit: Any, fragment: str) -> None:
    path = save(chain_graph(), tmp_path / "m.lbir")
    _rewrite(path, edit)
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_file_is_one_npz_with_versioned_meta(tmp_path: Path) -> None:
    path = save(chain_graph(), tmp_path / "m.lbir")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert "meta.npy" in names and "1.weight.npy" in names
    with np.load(path) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert (meta["format"], meta["version"]) == ("lavabridge.ir", FORMAT_VERSION)


def test_save_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot write"):
        save(chain_graph(), tmp_path / "no" / "such" / "dir" / "m.lbir")
    with pytest.raises(TypeError, match=r"ir\.Graph"):
        save("graph", tmp_path / "m.lbir")  # type: ignore[arg-type]
