"""netx conv networks: lava-dl's shipped conv ground truths, our conv files through lava-dl's own
loader on Lava, ``reset_interval`` and ``num_layers``.

Real lava-dl netx files and real Lava processes; nothing mocked.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from lavabridge import ir
from lavabridge.backends.golden import emulate
from lavabridge.backends.golden.arith import floor_shift
from lavabridge.backends.lava import LavaSession, run_lava
from lavabridge.backends.netx_lava import run_netx
from lavabridge.data.lava_dl import lava_dl_netx_dir
from lavabridge.errors import InputError, ModelFileError, UnsupportedError
from lavabridge.exporters.netx import write_netx
from lavabridge.formats.netx import to_lavabridge_order
from lavabridge.importers.netx import read_netx
from lavabridge.quant import QCubaLIFReset, graphs_equal
from lavabridge.quant.ptq import quantize
from lavabridge.quant.report import QuantPolicy

NETX = lava_dl_netx_dir()
TINY = NETX / "tiny.net"
PILOT = NETX / "gts" / "pilotnet_lif"


def _gt(path: Path, lava_shape: tuple[int, ...]) -> np.ndarray:
    """A ground-truth array (..., T) in Lava's (W, H, C) order -> (T, n) in lavabridge's order."""
    arr = np.load(path)
    steps = arr.shape[-1]
    return to_lavabridge_order(np.moveaxis(arr, -1, 0).reshape(steps, *lava_shape), lava_shape)


def _tiny_input() -> np.ndarray:
    bias = np.load(NETX / "gts" / "tinynet" / "input_bias.npy")  # (W, H, C)
    return to_lavabridge_order(bias.astype(np.int64), bias.shape)[None]


def _tiny_spikes_match(rec_spikes: list[np.ndarray]) -> None:
    """tinynet's slayer ground truth (columns 1..15; column 0 is slayer's step without Lava's
    latency, which lava-dl's own test drops too): layer ``i``'s GT column ``t`` is step
    ``t + i - 1`` of the deployed network."""
    for i, name in enumerate(("input", "layer1", "output")):
        gt = np.load(NETX / "gts" / "tinynet" / f"{name}.npy")[0]  # (C, H, W, T), torch order
        g = np.moveaxis(gt, -1, 0).reshape(gt.shape[-1], -1)
        for t in range(1, 16):
            np.testing.assert_array_equal(rec_spikes[i][0, t + i - 1], g[t], err_msg=f"{name} {t}")


def test_tinynet_ground_truth_on_golden() -> None:
    q = read_netx(TINY, reset_interval=17)
    assert [type(ly.neuron) for ly in q.layers] == [QCubaLIFReset] * 3
    assert [ly.neuron.reset_offset for ly in q.layers] == [1, 2, 3]  # type: ignore[attr-defined]
    assert q.shapes == ((3, 16, 16), (24, 6, 6), (36, 1, 1))
    rec = emulate(q, _tiny_input(), num_steps=20)
    _tiny_spikes_match(rec.spikes)


@pytest.mark.lava
def test_tinynet_on_lava_export_and_netx_loader() -> None:
    """The same ground truth through lavabridge's Lava export and lava-dl's loader, and golden =
    both on spikes, u and v."""
    q = read_netx(TINY, reset_interval=17)
    x = _tiny_input()
    golden = emulate(q, x, num_steps=20, probe_uv=True)
    ours = run_lava(q, x, num_steps=20, probe_uv=True)
    netx = run_netx(TINY, x, num_steps=20, probe_uv=True, reset_interval=17)
    assert golden.first_mismatch(ours) is None
    assert golden.first_mismatch(netx) is None
    _tiny_spikes_match(ours.spikes)


def _pilot() -> tuple[object, np.ndarray]:
    q = read_netx(PILOT / "network.net", reset_interval=17)
    image = np.load(PILOT / "image.npy")  # the input layer's bias_mant, (W, H, C)
    return q, to_lavabridge_order(image.astype(np.int64), image.shape)[None]


NAMES = ("input", "conv-0", "conv-1", "conv-2", "conv-3", "conv-4", "fc-0", "fc-1", "fc-2")


def _pilot_matches(q: object, rec: object) -> None:
    """pilotnet_lif's per-layer ground truth (netx with reset_interval=17, 24 steps): spikes and u
    of the input layer, the five convs and fc-0..fc-2 at every step; v everywhere except at the
    (neuron, step) entries that spike, where the file stores 128 while Lava's LIF resets v to 0."""
    for i, name in enumerate(NAMES):
        shape = q.shapes[i]  # type: ignore[attr-defined]
        lava = tuple(shape[::-1]) if len(shape) == 3 else shape
        np.testing.assert_array_equal(rec.spikes[i][0], _gt(PILOT / f"{name}.npy", lava))  # type: ignore[attr-defined]
        if name == "input":
            continue
        np.testing.assert_array_equal(rec.u[i][0], _gt(PILOT / f"{name}-u.npy", lava))  # type: ignore[attr-defined]
        gv, s = _gt(PILOT / f"{name}-v.npy", lava), rec.spikes[i][0].astype(bool)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(rec.v[i][0][~s], gv[~s])  # type: ignore[attr-defined]
        assert np.all(gv[s] == 128) and np.all(rec.v[i][0][s] == 0)  # type: ignore[attr-defined]


def test_pilotnet_lif_ground_truth_on_golden() -> None:
    q, x = _pilot()
    rec = emulate(q, x, num_steps=24, probe_uv=True)
    _pilot_matches(q, rec)
    # fc-3 (the readout integrator) is not self-consistent in the file: its u is not what the
    # file's own fc-2 spikes give through fc-3's weights, while ours is
    fc2 = _gt(PILOT / "fc-2.npy", (10,))
    dense = q.layers[9].synapse  # type: ignore[attr-defined]
    expected = np.zeros(24, np.int64)
    expected[1:] = floor_shift(fc2[:-1].astype(np.int64) @ dense.effective_weights()[0],
                               dense.weight_exp) << 6  # fmt: skip
    np.testing.assert_array_equal(rec.u[9][0, :, 0], expected)
    assert not np.array_equal(np.load(PILOT / "fc-3-u.npy")[0, :24], expected)


@pytest.mark.lava
@pytest.mark.slow
def test_pilotnet_lif_on_lava_export_and_netx_loader() -> None:
    q, x = _pilot()
    golden = emulate(q, x, num_steps=24, probe_uv=True)  # type: ignore[arg-type]
    ours = run_lava(q, x, num_steps=24, probe_uv=True)  # type: ignore[arg-type]
    assert golden.first_mismatch(ours) is None
    netx = run_netx(PILOT / "network.net", x, num_steps=24, probe_uv=True, reset_interval=17)
    assert golden.first_mismatch(netx) is None
    _pilot_matches(q, ours)


def _conv_model(seed: int) -> tuple[ir.Graph, np.ndarray]:
    rng = np.random.default_rng(seed)
    conv = ir.Conv2d(rng.normal(0, 0.5, (4, 2, 3, 3)), (2, 9, 8), (2, 1), (1, 0))
    pool = ir.SumPool2d(2, conv.out_shape)
    dense = ir.Dense(rng.normal(0, 0.3, (5, pool.n_out)))
    g = ir.Graph.sequential(
        conv.n_in,
        (conv, ir.LIF(conv.n_out, 0.1, 1.0, bias=0.05)),
        (pool, ir.IF(pool.n_out, 1.5)),
        (dense, ir.LIF(5, 0.2, 1.0)),
        name="netxconv",
    )
    return g, (rng.random((4, 12, conv.n_in)) < 0.3).astype(np.uint8)


def _conv_file(path: Path, seed: int) -> tuple[object, np.ndarray]:
    """``_conv_model(seed)`` quantized for netx and written to ``path``: (QGraph, input)."""
    g, x = _conv_model(seed)
    q, _ = quantize(g, x, policy=QuantPolicy.netx())
    write_netx(q, path)
    return q, x


def test_conv_netx_round_trip(tmp_path: Path) -> None:
    g, x = _conv_model(0)
    q, _ = quantize(g, x, policy=QuantPolicy.netx())
    path = tmp_path / "c.net"
    write_netx(q, path)
    with h5py.File(path) as f:
        kinds = [f["layer"][str(i)]["type"][0] for i in range(len(f["layer"]))]
    assert kinds == [b"input", b"conv", b"conv", b"flatten", b"dense"]
    back = read_netx(path)
    assert graphs_equal(back, type(q)(q.n_in, q.layers, q.input_kind, back.name, q.target))
    with pytest.raises(UnsupportedError, match="reset_interval"):
        write_netx(read_netx(path, reset_interval=4), tmp_path / "r.net")


@pytest.mark.lava
def test_conv_netx_on_lava_with_reset_interval(tmp_path: Path) -> None:
    """Our conv file through lava-dl's loader = golden = our Lava export, with and without netx's
    periodic resets (T = 12, reset_interval 4 and 6: several resets per sample, 4 samples)."""
    path = tmp_path / "c.net"
    q, x = _conv_file(path, 1)
    for interval in (None, 4, 6):
        graph = read_netx(path, reset_interval=interval)
        golden = emulate(graph, x, probe_uv=True)
        netx = run_netx(path, x, probe_uv=True, reset_interval=interval)
        assert golden.first_mismatch(netx) is None, interval
        if interval == 4:
            assert golden.first_mismatch(emulate(q, x, probe_uv=True)) is not None  # resets act
            assert golden.first_mismatch(run_lava(graph, x, probe_uv=True)) is None


def test_reset_phase_is_checked() -> None:
    q = read_netx(TINY, reset_interval=17)
    x = np.repeat(_tiny_input(), 2, axis=0)
    with pytest.raises(InputError, match="multiple of its reset_interval 17"):
        emulate(q, x, num_steps=20)
    with pytest.raises(InputError, match="multiple of reset_interval"):
        run_netx(TINY, x, num_steps=20, reset_interval=17)
    with LavaSession(q, 20) as session:
        session.run(_tiny_input())
        with pytest.raises(InputError, match="first sample"):
            session.run(_tiny_input())


def _with_pool(tmp_path: Path) -> Path:
    path = tmp_path / "tail.net"
    _conv_file(path, 2)
    with h5py.File(path, "a") as f:
        f["layer"].create_group("5").create_dataset("type", data=np.array([b"pool"], "S10"))
    return path


def test_num_layers_loads_a_supported_prefix(tmp_path: Path) -> None:
    path = _with_pool(tmp_path)
    with pytest.raises(UnsupportedError, match=r"layer 5 \('pool'\)"):
        read_netx(path)
    head = read_netx(path, num_layers=5)
    assert [type(ly.synapse).__name__ for ly in head.layers] == ["QConv", "QConv", "QDense"]
    assert len(read_netx(path, num_layers=2).layers) == 1  # input + first conv


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda g: g.__delitem__("neuron"), "'neuron' group"),
        (lambda g: g.__delitem__("stride"), "without 'stride'"),
        (lambda g: (g.__delitem__("shape"), g.create_dataset("shape", data=[4, 5, 8])), "!= the"),
        (lambda g: (g.__delitem__("groups"), g.create_dataset("groups", data=3)), "groups"),
        (lambda g: (g.__delitem__("bias"), g.create_dataset("bias", data=[1, 2])), "per channel"),
        (lambda g: (g.__delitem__("weight"), g.create_dataset("weight", data=np.ones((4, 2)))),
         "weight"),
    ],
)  # fmt: skip
def test_malformed_conv_layers_are_refused(tmp_path: Path, edit: object, match: str) -> None:
    path = tmp_path / "bad.net"
    _conv_file(path, 3)
    with h5py.File(path, "a") as f:
        grp = f["layer"]["1"]
        if "bias" not in grp:
            grp.create_dataset("bias", data=np.zeros(4))
        edit(grp)  # type: ignore[operator]
    with pytest.raises((ModelFileError, UnsupportedError), match=match):
        read_netx(path)


def test_dense_after_conv_needs_flatten(tmp_path: Path) -> None:
    path = tmp_path / "noflat.net"
    _conv_file(path, 4)
    with h5py.File(path, "a") as f:
        layers = f["layer"]
        del layers["3"]
        layers.move("4", "3")
    with pytest.raises(UnsupportedError, match="without a 'flatten'"):
        read_netx(path)


def test_cli_refuses_the_unsupported_layer_and_loads_the_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lavabridge.cli import main

    path = _with_pool(tmp_path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("lavabridge: error:")]
    assert len(errors) == 1 and "layer 5 ('pool')" in errors[0] and "Traceback" not in err
    assert main(["info", str(path), "--num-layers", "5"]) == 0
    out = capsys.readouterr().out
    assert "conv 3x3 stride 2,1 pad 1,0" in out and "(4x5x6)" in out
    x = (np.random.default_rng(0).random((2, 6, 144)) < 0.3).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    for backend in ("golden", "netx"):
        out_file = tmp_path / f"{backend}.npz"
        args = ["run", str(path), "--num-layers", "5", "--input", str(tmp_path / "x.npy"),
                "--backend", backend, "--out", str(out_file)]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
    with np.load(tmp_path / "golden.npz") as a, np.load(tmp_path / "netx.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files if k.startswith("spikes"))
