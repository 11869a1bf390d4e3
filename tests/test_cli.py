"""The ``lavabridge`` command line: run/info/convert/demo, in-process and as the installed script.

Error cases must end with exit code 2 and exactly one ``lavabridge: error: ...`` line on stderr.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from lavabridge.backends.golden import emulate
from lavabridge.cli import main
from lavabridge.data import mnist_net_path
from lavabridge.quant import InputKind, QCubaLIF, QDense, QGraph, QLayer, graphs_equal
from lavabridge.quant.serialize import load_qgraph, save_qgraph
from lavabridge.recording import Recording

SCRIPT = Path(sys.executable).parent / "lavabridge"


def _small_graph(kind: InputKind = InputKind.SPIKES) -> QGraph:
    """Two layers with a delayed synapse and a recurrent connection; fires a fair amount."""
    rng = np.random.default_rng(3)
    n_in, h, o = 6, 9, 4
    if kind == InputKind.BIAS:
        first = QLayer("inp", QCubaLIF(n_in, du=4095, dv=300, vth=40, bias_exp=6))
    else:
        first = QLayer(
            "inp",
            QCubaLIF(n_in, du=500, dv=300, vth=40),
            QDense(rng.integers(0, 200, (n_in, n_in)), delays=rng.integers(0, 4, (n_in, n_in))),
        )
    hidden = QLayer(
        "hid",
        QCubaLIF(h, du=1000, dv=800, vth=30, bias_mant=rng.integers(-20, 40, h), bias_exp=6),
        QDense(rng.integers(-128, 128, (h, n_in)), weight_exp=1),
        QDense(rng.integers(-60, 60, (h, h))),
    )
    out = QLayer(
        "out", QCubaLIF(o, du=2000, dv=2000, vth=25), QDense(rng.integers(-128, 128, (o, h)))
    )
    return QGraph(n_in, (first, hidden, out), input_kind=kind, name="small")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_qgraph(_small_graph(), tmp_path / "small.lbq")


@pytest.fixture
def spikes(tmp_path: Path) -> Path:
    x = (np.random.default_rng(0).random((3, 14, 6)) < 0.5).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_golden_writes_the_recording(
    model: Path, spikes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec_path = tmp_path / "rec.npz"
    code, out, _ = _run(["run", str(model), "--input", str(spikes), "--out", str(rec_path)], capsys)
    assert code == 0
    with np.load(rec_path) as f:
        assert {"spikes_0", "spikes_1", "spikes_2"} <= set(f.files)
        assert not any(k.startswith(("u_", "v_")) for k in f.files)
        assert f["spikes_1"].shape == (3, 14, 9)
    expected = emulate(_small_graph(), np.load(spikes))
    assert Recording.from_npz(rec_path).identical(expected)
    assert "golden: 3 sample(s) x 14 steps" in out and "'hid'" in out


def test_run_probe_uv_and_bias_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = _small_graph(InputKind.BIAS)
    model = save_qgraph(g, tmp_path / "bias.lbq")
    x = np.random.default_rng(1).integers(0, 120, size=(2, 6))
    np.save(tmp_path / "b.npy", x)
    rec_path = tmp_path / "rec.npz"
    argv = ["run", str(model), "--input", str(tmp_path / "b.npy"), "--out", str(rec_path)]
    code, _, _ = _run([*argv, "--steps", "10", "--probe-uv"], capsys)
    assert code == 0
    with np.load(rec_path) as f:
        assert {f"{k}_{i}" for k in ("spikes", "u", "v") for i in range(3)} <= set(f.files)
    rec = Recording.from_npz(rec_path)
    assert rec.has_uv and rec.identical(emulate(g, x, num_steps=10, probe_uv=True))


@pytest.mark.lava
def test_golden_and_lava_recordings_identical_via_installed_script(
    model: Path, spikes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden, lava = tmp_path / "golden.npz", tmp_path / "lava.npz"
    code, _, _ = _run(["run", str(model), "--input", str(spikes), "--out", str(golden),
                       "--probe-uv"], capsys)  # fmt: skip
    assert code == 0
    proc = subprocess.run(
        [str(SCRIPT), "run", str(model), "--input", str(spikes), "--backend", "lava",
         "--out", str(lava), "--probe-uv", "--chunk", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "lava: 3 sample(s) x 14 steps" in proc.stdout
    g, v = Recording.from_npz(golden), Recording.from_npz(lava)
    assert g.has_uv and v.has_uv and v.backend == "lava"
    assert g.first_mismatch(v) is None
    assert sum(g.spike_counts()) > 0


# ----------------------------------------------------------------------------- errors
def _bad_inputs(tmp: Path) -> dict[str, Path]:
    files = {
        "wide": np.zeros((2, 5, 7), np.int8),
        "graded": np.full((1, 5, 6), 2, np.int16),
        "floats": np.full((1, 5, 6), 0.5),
        "rank4": np.zeros((1, 1, 5, 6), np.int8),
    }
    paths = {}
    for name, arr in files.items():
        np.save(tmp / f"{name}.npy", arr)
        paths[name] = tmp / f"{name}.npy"
    np.savez(tmp / "arch.npz", a=np.zeros(3))
    paths["npz"] = tmp / "arch.npz"
    (tmp / "junk.net").write_bytes(b"not a model at all")
    paths["junk"] = tmp / "junk.net"
    return paths


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (["run", "{tmp}/missing.lbq", "--input", "{x}", "--out", "{tmp}/r.npz"], "no such model"),
        (["run", "{junk}", "--input", "{x}", "--out", "{tmp}/r.npz"], "unknown model format"),
        (["run", "{model}", "--input", "{tmp}/nope.npy", "--out", "{tmp}/r.npz"], "no such file"),
        (["run", "{model}", "--input", "{wide}", "--out", "{tmp}/r.npz"], "[B, T, 6]"),
        (["run", "{model}", "--input", "{rank4}", "--out", "{tmp}/r.npz"], "[B, T, 6]"),
        (["run", "{model}", "--input", "{graded}", "--out", "{tmp}/r.npz"], "binary"),
        (["run", "{model}", "--input", "{floats}", "--out", "{tmp}/r.npz"], "integers"),
        (["run", "{model}", "--input", "{npz}", "--out", "{tmp}/r.npz"], ".npz archive"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/r.npz", "--steps", "9"], "T=14"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/no/r.npz"], "does not exist"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/r.npz", "--backend", "netx"],
         "needs a netx .net"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/r.npz", "--backend", "gpu"],
         "invalid choice"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/r.npz", "--steps", "0"],
         "positive integer"),
        (["run", "{model}", "--out", "{tmp}/r.npz"], "--input"),
        (["run", "{model}", "--input", "{x}", "--out", "{tmp}/r.npz", "--bogus"], "unrecognized"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
        (["info", "{tmp}/missing.net"], "no such model"),
        (["convert", "{model}", "{tmp}/out.txt"], "extension"),
    ],
)  # fmt: skip
def test_errors_exit_2_with_one_line(
    case: list[str],
    expected: str,
    model: Path,
    spikes: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = {"tmp": str(tmp_path), "model": str(model), "x": str(spikes)}
    names.update({k: str(v) for k, v in _bad_inputs(tmp_path).items()})
    code, _, err = _run([arg.format(**names) for arg in case], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lavabridge: error: ") and expected in lines[0]
    assert not (tmp_path / "r.npz").exists()


def test_bias_model_without_steps_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = save_qgraph(_small_graph(InputKind.BIAS), tmp_path / "bias.lbq")
    np.save(tmp_path / "b.npy", np.zeros((2, 6), np.int64))
    argv = ["run", str(model), "--input", str(tmp_path / "b.npy"), "--out", str(tmp_path / "r.npz")]
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and "--steps" in err


def test_unsupported_netx_layer_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer/0")
        layer.create_dataset("type", data=np.array([b"pool"]))
        layer.create_dataset("shape", data=np.array([4, 4, 1]))
    code, _, err = _run(["info", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("lavabridge: error: ")
    assert "pool" in err


# ----------------------------------------------------------------------------- info, convert
def test_info_lists_the_layers(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["info", str(model)], capsys)
    assert code == 0
    assert "lavabridge QGraph" in out and "6-6-9-4" in out and "binary spikes" in out
    table = out.splitlines()[2:]
    assert table[0].split()[:6] == ["#", "name", "size", "du", "dv", "vth"]
    assert table[1].split()[:6] == ["0", "inp", "6", "500", "300", "40"]
    assert "delay<=3" in table[1] and "exp +1" in table[2] and "mixed" in table[2]
    assert len(table) == 6 and table[5] == "semantics: exact (no approximation)"
    assert table[4] == "runs on: Lava's CPU simulator and Loihi 2 (Lava's own processes only)"


def test_info_on_lava_dl_mnist_keeps_stdout_clean() -> None:
    proc = subprocess.run(
        [str(SCRIPT), "info", str(mnist_net_path())], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Prophesee" not in proc.stdout
    assert "lava-dl netx HDF5" in proc.stdout and "784-784-512-512-10" in proc.stdout
    assert "bias mantissas [B, 784]" in proc.stdout


def test_convert_round_trips(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy.lbq"
    code, _, _ = _run(["convert", str(model), str(out)], capsys)
    assert code == 0 and graphs_equal(load_qgraph(out), load_qgraph(model))
    from lavabridge.importers.netx import netx_input_transform, read_netx

    mnist, again = tmp_path / "mnist.lbq", tmp_path / "mnist.net"
    assert _run(["convert", str(mnist_net_path()), str(mnist)], capsys)[0] == 0
    assert graphs_equal(load_qgraph(mnist), read_netx(mnist_net_path()))
    assert _run(["convert", str(mnist_net_path()), str(again)], capsys)[0] == 0
    assert graphs_equal(read_netx(again), read_netx(mnist_net_path()))
    assert netx_input_transform(again) == netx_input_transform(mnist_net_path())


def test_convert_to_netx_keeps_behaviour(
    model: Path, spikes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """netx re-encodes weights (its own weight_exp / bits), so compare what the graphs compute."""
    from lavabridge.importers.netx import read_netx

    net = tmp_path / "small.net"
    code, out, _ = _run(["convert", str(model), str(net)], capsys)
    assert code == 0 and f"wrote {net}" in out
    x = np.load(spikes)
    before = emulate(load_qgraph(model), x, probe_uv=True)
    assert before.identical(emulate(read_netx(net), x, probe_uv=True))


# ----------------------------------------------------------------------------- netx example
def _netx_example() -> Any:
    """``examples/netx_mnist.py`` as a module (the interim netx demo, now an example)."""
    path = Path(__file__).resolve().parents[1] / "examples" / "netx_mnist.py"
    spec = importlib.util.spec_from_file_location("netx_mnist_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.lava
def test_netx_example_writes_the_verify_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "netx-demo"
    code = _netx_example().main(["--samples", "2", "--steps", "8", "--out", str(out_dir)])
    report = json.loads((out_dir / "report.json").read_text())
    assert code == 0 and report["schema"] == "lavabridge.verify-report"
    assert report["status"] == "identical" and report["golden_lava"]["first_divergence"] is None
    assert [layer["size"] for layer in report["model"]["layers"]] == [784, 512, 512, 10]
    assert all(e["spikes_differing"] == e["u_differing"] == e["v_differing"] == 0
               for e in report["golden_lava"]["layers"])  # fmt: skip
    assert report["readout"] == "v" and {a["oracle"] for a in report["accuracy"]} == {
        "golden",
        "lava",
    }
    assert report["health"][0]["consistent"] is True
    assert "IDENTICAL" in capsys.readouterr().out
    # the same verification from the saved inputs, by the command line
    argv = ["verify", str(mnist_net_path()), "--input", str(out_dir / "x.npy"), "--labels",
            str(out_dir / "labels.npy"), "--steps", "8", "--out", str(tmp_path / "cli"),
            "--no-plots"]  # fmt: skip
    code, _, _ = _run(argv, capsys)
    again = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert code == 0 and again["golden_lava"] == report["golden_lava"]


@pytest.mark.lava
def test_netx_example_reports_a_mismatch_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A golden recording with one flipped spike (Lava untouched) must fail the verification."""
    import lavabridge.verify.run

    real = lavabridge.verify.run.emulate

    def off_by_one_spike(*args: Any, **kwargs: Any) -> Recording:
        rec = real(*args, **kwargs)
        rec.spikes[1][0, 3, 5] ^= 1
        return rec

    monkeypatch.setattr(lavabridge.verify.run, "emulate", off_by_one_spike)
    code = _netx_example().main(["--samples", "1", "--steps", "6", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    div = report["golden_lava"]["first_divergence"]
    assert code == 1 and report["status"] == "mismatch"
    assert (div["layer"], div["sample"], div["step"], div["neuron"]) == (1, 0, 3, 5)
    assert div["quantities"] == ["spikes"]
    assert [e["first_step"] for e in report["golden_lava"]["layers"]] == [None, 3, None, None]
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.lava
def test_netx_backend_matches_golden_on_mnist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lava-dl's own loader on Lava and lavabridge's golden emulator agree on lava-dl's net."""
    from lavabridge.data import digit_images
    from lavabridge.importers.netx import images_to_bias, netx_input_transform

    net = mnist_net_path()
    images, _ = digit_images(2)
    np.save(tmp_path / "b.npy", images_to_bias(images, netx_input_transform(net), signed=True))
    recs = {}
    for backend in ("golden", "netx"):
        out = tmp_path / f"{backend}.npz"
        argv = ["run", str(net), "--input", str(tmp_path / "b.npy"), "--steps", "8",
                "--backend", backend, "--out", str(out)]  # fmt: skip
        code, stdout, _ = _run(argv, capsys)
        assert code == 0 and "Prophesee" not in stdout
        recs[backend] = Recording.from_npz(out)
    assert recs["netx"].backend == "netx" and recs["golden"].num_layers == 4
    assert recs["golden"].first_mismatch(recs["netx"]) is None
    assert recs["golden"].spike_counts()[1] > 0
