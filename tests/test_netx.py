"""lava-dl netx HDF5: writer, reader and runner, checked against real lava-dl / Lava.

Equality claims are checked three ways: golden runs of ``read_netx(write_netx(g))`` against
``g``; ``run_netx`` (lava-dl's own ``netx.hdf5.Network`` on ``fixed_pt``) against the golden
emulator; and the shipped lava-dl networks and ground truth (``mnist.net``, ``ntidigits``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.backends.netx_lava import run_netx
from lavabridge.errors import InputError, ModelFileError, UnsupportedError, ValidationError
from lavabridge.exporters.netx import netx_limits, write_netx
from lavabridge.formats.netx import quiet_import
from lavabridge.importers.netx import images_to_bias, netx_input_transform, read_netx
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer, SignMode, graphs_equal

from netx_helpers import (
    IF_NEURON,
    graph_of,
    input_of,
    write_raw,
)


# ----------------------------------------------------------------------------- golden-only
def test_limits_are_listed() -> None:
    text = " ".join(netx_limits())
    for topic in ("weight_exp", "bias_exp", "dense_rec", "delays", "-256"):
        assert topic in text


@pytest.mark.parametrize("seed", range(24))
def test_roundtrip_reads_back_the_same_network(seed: int, tmp_path: Path) -> None:
    kind = InputKind.BIAS if seed % 4 == 3 else InputKind.SPIKES
    graph = graph_of(seed, kind)
    path = tmp_path / "g.net"
    write_netx(graph, path)
    back = read_netx(path)
    assert back.name == graph.name and [x.name for x in back.layers] == [
        x.name for x in graph.layers
    ]
    assert back.input_kind == graph.input_kind and back.sizes == graph.sizes
    x, steps = input_of(graph, seed)
    want = emulate(graph, x, num_steps=steps, probe_uv=True)
    assert want.u is not None and any(np.any(u) for u in want.u), "case never moves"
    mismatch = want.first_mismatch(emulate(back, x, num_steps=steps, probe_uv=True))
    assert mismatch is None, str(mismatch)


def _edge_weights(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    pools = [
        np.array([-256, -255, -128, -1, 0, 1, 127, 128, 254, 255]),
        np.array([0, -1]),
        np.array([0, -1, -2]),
        np.array([0, 255, 254, 1]),
        np.array([-255, -1, -3]),
        np.arange(-8, 9),
    ]
    w = rng.choice(pools[int(rng.integers(len(pools)))], size=shape)
    return w if np.any(w) else w + 1


def test_writer_accepts_exactly_what_netx_computes_exactly(tmp_path: Path) -> None:
    """For integer weights R: write_netx accepts <=> what netx builds from R gives R @ s for
    every binary s (brute force over all inputs; netx's build read back by read_netx)."""
    rng = np.random.default_rng(0)
    accepted = refused = 0
    for case in range(150):
        n_in = int(rng.integers(1, 7))
        w = _edge_weights(rng, (int(rng.integers(1, 4)), n_in))
        dense = QDense(w, num_weight_bits=9 if w.min() < 0 < w.max() else 8)
        try:
            dense.validate("case")
        except ValueError:
            continue  # e.g. -256 in a non-positive matrix: no exact QDense holds it
        graph = QGraph(n_in, (QLayer("a", QCubaLIF(w.shape[0], 4095, 4096, (1 << 18) - 1), dense),))
        x = ((np.arange(1 << n_in)[:, None] >> np.arange(n_in)) & 1)[:, None, :]
        x = np.concatenate([x, np.zeros_like(x)], axis=1)  # every binary input, then one step
        raw = write_raw(tmp_path / f"raw{case}.net", [{
            "type": "dense", "shape": [w.shape[0]], "weight": w.astype(np.float32),
            "neuron": IF_NEURON}])  # fmt: skip
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # netx's clipping notice; tested below
                built = read_netx(raw)
            got, want = emulate(built, x, probe_uv=True), emulate(graph, x, probe_uv=True)
            exact = got.identical(want)  # u = a_in << 6: the Dense output at every step
        except UnsupportedError:
            exact = False
        try:
            write_netx(graph, tmp_path / f"w{case}.net")
            ok = True
        except UnsupportedError:
            ok = False
        assert ok == exact, f"case {case}: weights {w.tolist()} accepted={ok} exact={exact}"
        accepted, refused = accepted + ok, refused + (not ok)
    assert accepted > 20 and refused > 20, (accepted, refused)  # both sides were exercised


def test_ntidigits_delays_match_lava_dl_ground_truth(netx_data: Path) -> None:
    """Axonal delays (clipped to 62) as netx builds them: the golden run of the read graph equals
    the output lava-dl ships for its ntidigits network (recorded one step later)."""
    root = netx_data / "gts" / "ntidigits"
    graph = read_netx(root / "ntidigits.net", num_layers=5)  # layer 5 ('average') is unsupported
    assert graph.layers[0].synapse is not None and graph.layers[0].synapse.max_delay == 62
    steps = 400
    x = np.load(root / "input.npy")[:, :steps].T[None].astype(np.int64)
    gt = np.load(root / "output.npy")[:, 1 : steps + 1]
    out = emulate(graph, x).spikes[-1][0].T
    assert gt.sum() > 100
    assert np.array_equal(out[:, :steps], gt)


def test_delays_beyond_62_are_clipped_as_netx_builds_them(tmp_path: Path) -> None:
    """netx clamps a layer's delays to [0, 62] when any exceeds 62 (and says so): the read graph
    has the delay matrix lava-dl's own ``hdf5.Network`` gives its DelayDense."""
    path = write_raw(tmp_path / "d.net", [{
        "type": "dense", "shape": [3], "weight": np.array([[10, 20], [30, -40], [50, 60]]),
        "delay": np.array([[70, 3], [-1, 100], [0, 62]]), "neuron": IF_NEURON}])  # fmt: skip
    with pytest.warns(UserWarning, match="netx clips delays above 62"):
        graph = read_netx(path)
    syn = graph.layers[0].synapse
    assert syn is not None and syn.delays is not None
    with pytest.warns(UserWarning, match="Clamping the delays"):  # netx's own notice
        netx = quiet_import("lava.lib.dl.netx.hdf5").Network(net_config=str(path))
    assert syn.delays.tolist() == netx.layers[0].synapse.delays.init.tolist()
    assert syn.delays.tolist() == [[62, 3], [0, 62], [0, 62]]


def test_images_to_bias_follows_pilotnet_dataset() -> None:
    t = {"weight": 76, "bias": 10}
    img = np.array([[0.0, 0.1, 0.5, 1.0]])
    # PilotNetDataset: (2 * w * image - w + b).astype(np.int32): truncation toward zero
    assert images_to_bias(img, t, signed=True).tolist() == [[-66, -50, 10, 86]]
    assert images_to_bias(img, t).tolist() == [[10, 17, 48, 86]]
    assert images_to_bias(np.zeros((2, 3, 4, 5)), t).shape == (2, 60)


def test_input_transform_as_netx_reads_it(netx_data: Path, tmp_path: Path) -> None:
    assert netx_input_transform(netx_data / "mnist.net") == {"weight": 76, "bias": 64}
    assert netx_input_transform(netx_data / "tiny.net") == {"weight": 36, "bias": 34}
    assert netx_input_transform(netx_data / "gts" / "ntidigits" / "ntidigits.net") is None
    graph = graph_of(3, InputKind.BIAS)
    write_netx(graph, tmp_path / "b.net", input_transform={"weight": 70, "bias": -3})
    assert netx_input_transform(tmp_path / "b.net") == {"weight": 70, "bias": -3}


# ----------------------------------------------------------------------------- refusals
def test_reader_refuses_unsupported_layers(netx_data: Path, tmp_path: Path) -> None:
    pooled = write_raw(tmp_path / "p.net", [{"type": "input", "shape": [1, 4, 4]},
                                            {"type": "pool", "shape": [1, 2, 2]}])  # fmt: skip
    with pytest.raises(UnsupportedError, match=r"layer 1 \('pool'\).*supported: .*conv"):
        read_netx(pooled)
    with pytest.raises(UnsupportedError, match=r"layer 5 \('average'\)"):
        read_netx(netx_data / "gts" / "ntidigits" / "ntidigits.net")
    with pytest.raises(UnsupportedError, match=r"layer 0 \('input'\).*'SDNN'"):
        read_netx(netx_data / "gts" / "pilotnet_sdnn" / "network.net")
    dense = {"type": "dense", "shape": [3], "weight": np.ones((3, 4)), "neuron": IF_NEURON}
    path = write_raw(tmp_path / "f.net", [dense, {"type": "flatten", "shape": [3]}, dense])
    with pytest.raises(UnsupportedError, match=r"layer 1 \('flatten'\).*3-D"):
        read_netx(path)
    graded = {**dense, "neuron": {**IF_NEURON, "messageBits": 16}}
    with pytest.raises(UnsupportedError, match=r"layer 0 \('dense'\).*messageBits"):
        read_netx(write_raw(tmp_path / "g.net", [graded]))
    odd_bias = {**dense, "bias": np.array([40001, 0, 1])}  # int16-wraps to -25535: no exact form
    with pytest.raises(UnsupportedError, match=r"layer 0 \('dense'\): bias \[-25535\]"):
        read_netx(write_raw(tmp_path / "b.net", [odd_bias]))
    with pytest.raises(UnsupportedError, match=r"layer 0 \('dense'\).*all weights are 0"):
        read_netx(write_raw(tmp_path / "z.net", [{**dense, "weight": np.zeros((3, 4))}]))


def _one_layer(neuron: QCubaLIF, dense: QDense, recurrent: QDense | None = None) -> QGraph:
    return QGraph(dense.shape[1], (QLayer("fc", neuron, dense, recurrent),))


def test_writer_refusals_name_layer_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "x.net"
    w = np.arange(-6, 6).reshape(3, 4)
    lif = QCubaLIF(3, 0, 0, 10)
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc'.*multiple of 2\^6.*bias_exp = 6"):
        write_netx(_one_layer(QCubaLIF(3, 0, 0, 10, bias_mant=[1, 0, 0], bias_exp=3), QDense(w)),
                   path)  # fmt: skip
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc'.*13-bit"):
        write_netx(_one_layer(QCubaLIF(3, 0, 0, 10, bias_mant=4095, bias_exp=7), QDense(w)), path)
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc' synapse.*not an integer matrix"):
        write_netx(_one_layer(lif, QDense(w, weight_exp=-1, num_weight_bits=9)), path)
    mixed255 = np.array([[255, -3, 1, 0]] * 3)
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc' synapse.*cannot reproduce"):
        write_netx(_one_layer(lif, QDense(mixed255, num_weight_bits=9)), path)
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc'.*all weights are 0"):
        write_netx(_one_layer(lif, QDense(np.zeros((3, 4), np.int64))), path)
    d = np.zeros((3, 3), np.int64)
    syn, rec = QDense(w[:, :3] * 40, delays=d + 1), QDense(w[:, :3] * 40, delays=d)
    with pytest.raises(UnsupportedError, match=r"layer 0 'fc' recurrent.*delays"):
        write_netx(_one_layer(lif, syn, rec), path)
    bias_in = QGraph(3, (QLayer("in", QCubaLIF(3, 0, 0, 10, bias_exp=5)),), InputKind.BIAS)
    with pytest.raises(UnsupportedError, match=r"layer 0 'in'.*bias_exp must be 6"):
        write_netx(bias_in, path)
    rec_in = QGraph(3, (QLayer("in", QCubaLIF(3, 0, 0, 10, bias_exp=6), None, QDense(w[:, :3])),),
                    InputKind.BIAS)  # fmt: skip
    with pytest.raises(UnsupportedError, match=r"layer 0 'in'.*recurrent"):
        write_netx(rec_in, path)
    with pytest.raises(ValidationError, match="input_transform"):
        write_netx(_one_layer(lif, QDense(w)), path, input_transform={"weight": 1, "bias": 0})
    assert not path.exists()  # nothing is written when a layer is refused


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.net"
    for call in (read_netx, netx_input_transform, lambda p: run_netx(p, np.zeros((1, 2, 2)))):
        with pytest.raises(ModelFileError, match=r"nope\.net"):
            call(missing)
    corrupt = tmp_path / "corrupt.net"
    corrupt.write_bytes(b"\x89HDF\r\n" + bytes(range(256)) * 4)
    with pytest.raises(ModelFileError, match=r"corrupt\.net"):
        read_netx(corrupt)
    empty = tmp_path / "empty.net"
    h5py.File(empty, "w").close()
    with pytest.raises(ModelFileError, match=r"empty.net.*'/layer'"):
        read_netx(empty)
    no_w = write_raw(tmp_path / "now.net", [{"type": "dense", "shape": [3], "neuron": IF_NEURON}])
    with pytest.raises(ModelFileError, match=r"now.net: layer 0 \('dense'\).*'weight'"):
        read_netx(no_w)
    bad = {"type": "dense", "shape": [3], "weight": np.ones((3, 4)),
           "neuron": {**IF_NEURON, "vThMant": 1.5}}  # fmt: skip
    with pytest.raises(ModelFileError, match="vThMant must be one integer"):
        read_netx(write_raw(tmp_path / "float.net", [bad]))


def test_mnist_round_trips_unchanged(netx_data: Path, tmp_path: Path) -> None:
    """A graph already in netx's form (read from mnist.net) is written back to the same integers."""
    graph = read_netx(netx_data / "mnist.net")
    transform = netx_input_transform(netx_data / "mnist.net")
    write_netx(graph, tmp_path / "m.net", input_transform=transform)
    assert graphs_equal(read_netx(tmp_path / "m.net"), graph)
    assert netx_input_transform(tmp_path / "m.net") == transform


def test_run_netx_checks_input(netx_data: Path) -> None:
    with pytest.raises(InputError, match="784"):
        run_netx(netx_data / "mnist.net", np.zeros((2, 100)), num_steps=4)
    with pytest.raises(InputError, match="num_steps"):
        run_netx(netx_data / "mnist.net", np.zeros((2, 784)))
    with pytest.raises(UnsupportedError, match=r"network.net: netx block 0 is Input of Delta"):
        run_netx(netx_data / "gts" / "pilotnet_sdnn" / "network.net", np.zeros((1, 39600)),
                 num_steps=2)  # fmt: skip


def test_sign_modes_are_all_exercised() -> None:
    modes = set()
    for seed in range(24):
        for layer in graph_of(seed).layers:
            for q in (layer.synapse, layer.recurrent):
                if q is not None:
                    modes.add(q.mode)
    assert modes == {SignMode.MIXED, SignMode.EXCITATORY, SignMode.INHIBITORY}
