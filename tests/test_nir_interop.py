"""NIR against the real packages: snnTorch's ``export_to_nir`` / ``import_from_nir`` and ``nir``.

* snnTorch models exported to NIR, read by ``read_nir`` and run by the float reference,
  reproduce snnTorch's own run spike for spike (shifted by the latency);
* what the export loses (reset mechanism, ``reset_delay``, ``dt``) is supplied by arguments, and
  a wrong choice shows;
* our files are read by ``nir.read`` and by snnTorch's ``import_from_nir``, whose run equals the
  float reference.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from import_helpers import assert_exact, linear, one_thread, record, spike_input
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir
from torch import nn

from lavabridge import ir
from lavabridge.errors import UnsupportedError
from lavabridge.exporters.nir import write_nir
from lavabridge.importers import snntorch as lb_snntorch
from lavabridge.importers.nir import read_nir
from lavabridge.importers.nirsim import run_nir
from lavabridge.importers.source import ir_input as to_ir
from lavabridge.quant.dequantize import dequantize
from lavabridge.quant.ptq import quantize

DT = 1e-4  # what snnTorch's export and import assume


def _spike(u: torch.Tensor) -> torch.Tensor:
    return (u > 0).to(u.dtype)  # keeps float64 flowing (the default surrogate returns float32)


def _leaky(n: int | tuple[int, ...], beta: float, reset: str = "zero", **kw: Any) -> snn.Leaky:
    shape = (n,) if isinstance(n, int) else n
    return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, 1.0), init_hidden=True,
                     reset_mechanism=reset, spike_grad=_spike, **kw)  # fmt: skip


def _snn_run(model: nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    with one_thread():
        return record(model.double(), x, per_step=True, is_neuron=lb_snntorch._is_neuron,
                      reset=snn_utils.reset)  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snntorch_leaky_export_is_exact(seed: int) -> None:
    """Linear(bias)-Leaky(zero)-Linear-Leaky(zero), exported (dt 1e-4): identical spikes."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(linear(10, 7, rng, True), _leaky(7, 0.8), linear(7, 4, rng, True),
                          _leaky(4, 0.6))  # fmt: skip
    graph = read_nir(export_to_nir(model, torch.zeros(10)), DT)
    x = spike_input(seed, (40, 3, 10))
    source = _snn_run(model, x)
    assert sum(s.sum() for s in source) > 20
    assert_exact(graph, x, source)


def test_snntorch_synaptic_and_rleaky_exports_are_exact() -> None:
    """Synaptic(zero, reset_delay=False) -> NIR CubaLIF (a bias into its current included: exact
    in float); RLeaky(zero, reset_delay=False) with a recurrent bias -> the cycle lif <-> w_rec."""
    rng = np.random.default_rng(4)
    syn = snn.Synaptic(alpha=torch.full((6,), 0.7), beta=torch.full((6,), 0.8),
                       threshold=torch.full((6,), 1.0), init_hidden=True, reset_mechanism="zero",
                       reset_delay=False, spike_grad=_spike)  # fmt: skip
    rl = snn.RLeaky(beta=torch.full((5,), 0.75), threshold=torch.full((5,), 1.0), linear_features=5,
                    init_hidden=True, reset_mechanism="zero", reset_delay=False, spike_grad=_spike)  # fmt: skip
    model = nn.Sequential(linear(8, 6, rng, True), syn, linear(6, 5, rng, False), rl)
    with torch.no_grad():
        rl.recurrent.weight.copy_(torch.from_numpy(rng.uniform(-1, 1, (5, 5))))
        rl.recurrent.bias.copy_(torch.from_numpy(rng.uniform(-0.2, 0.4, 5)))
    graph = read_nir(export_to_nir(model, torch.zeros(8)), DT)
    assert graph.layer_chain()[1].recurrent is not None
    assert graph.layer_chain()[0].neuron.current_decay == pytest.approx(0.3, abs=1e-6)  # type: ignore[attr-defined]
    x = spike_input(5, (40, 2, 8))
    source = _snn_run(model, x)
    assert all(s.sum() > 5 for s in source)
    assert_exact(graph, x, source)


def test_snntorch_conv_export_is_exact() -> None:
    """Conv2d-Leaky-Flatten-Linear-Leaky (per-neuron beta of the conv's output shape)."""
    torch.manual_seed(3)
    conv = nn.Conv2d(1, 2, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    model = nn.Sequential(conv, _leaky((2, 6, 6), 0.7), nn.Flatten(), nn.Linear(72, 4),
                          _leaky(4, 0.8))  # fmt: skip
    with torch.no_grad():
        model[3].weight.mul_(6.0)
    graph = read_nir(export_to_nir(model, torch.zeros(1, 1, 6, 6), ignore_dims=[0]), DT)
    assert isinstance(graph.layer_chain()[0].synapse, ir.Conv2d)
    x = spike_input(6, (30, 2, 1, 6, 6))
    source = _snn_run(model, x)
    assert all(s.sum() > 5 for s in source), [s.sum() for s in source]
    assert_exact(graph, x, source)


def test_what_the_export_loses_is_supplied_by_arguments() -> None:
    """snnTorch's export drops the reset mechanism, reset_delay and dt:

    * a subtract-reset Leaky (snnTorch's default reset_delay=True: the subtraction one step late)
      read with ``reset='subtract'`` is NIR's *same-step* subtract, which snnTorch does not
      compute: its spikes differ from snnTorch's, while lavabridge's snnTorch importer is exact;
    * read with the default ``reset='zero'``, it differs too;
    * dt: the export writes tau = 1e-4 / (1 - beta); another dt changes the decays (dt = 1e-3
      makes dt / tau > 1: refused, naming the node)."""
    rng = np.random.default_rng(7)
    model = nn.Sequential(linear(6, 5, rng, True), _leaky(5, 0.9, "subtract"))
    exported = export_to_nir(model, torch.zeros(6))
    x = spike_input(8, (60, 3, 6))
    source = _snn_run(model, x)
    want = source[0]
    for reset in ("subtract", "zero"):
        graph = read_nir(exported, DT, reset)
        got = ir.interpret(graph, to_ir(x.numpy(), pad=1)).spikes[0][:, 1:].astype(bool)
        assert (got != want).any(), reset
    assert_exact(lb_snntorch.from_snntorch(model, x), x, source)
    decay = read_nir(exported, DT).layer_chain()[0].neuron.voltage_decay  # type: ignore[attr-defined]
    assert decay == pytest.approx(0.1, abs=1e-6)
    with pytest.raises(UnsupportedError, match=r"node '1' \(LIF\).*tau"):
        read_nir(exported, 1e-3)


def _lavabridge_graph() -> ir.Graph:
    rng = np.random.default_rng(11)
    return ir.Graph.sequential(
        8,
        (ir.Dense(rng.uniform(-0.5, 1.0, (6, 8))), ir.LIF(6, 0.25, 1.0)),
        (ir.Dense(rng.uniform(-0.5, 1.2, (3, 6))), ir.CubaLIF(3, 0.5, 0.125, 0.8)),
        name="native",
    )


def test_our_file_is_read_by_nir_and_snntorch(tmp_path: Path) -> None:
    """A lavabridge graph (LIF, then CubaLIF; no biases: snnTorch's importer asserts v_leak = 0)
    written with write_nir: ``nir.read`` (type check on) reads it, and snnTorch's
    ``import_from_nir`` model, run step by step, equals the float reference (its latency aside).
    Weights are multiples of 1/64 so snnTorch's float32 sums are exact."""
    graph = _lavabridge_graph()
    graph = graph.with_(nodes={k: (n.with_(weight=np.round(n.weight * 64) / 64) if isinstance(n, ir.Dense) else n)
                               for k, n in graph.nodes.items()})  # fmt: skip
    path = tmp_path / "native.nir"
    write_nir(graph, path, DT)
    back = nir.read(path)
    assert {type(n).__name__ for n in back.nodes.values()} >= {"LIF", "CubaLIF", "Linear"}
    module = import_from_nir(back)
    snn_utils.reset(module)
    hidden: list[np.ndarray] = []

    def keep(m: nn.Module, i: Any, o: Any) -> None:
        hidden.append((o[0] if isinstance(o, tuple) else o).detach().numpy().copy())

    module.layer0.register_forward_hook(keep)
    x = (np.random.default_rng(12).random((40, 2, 8)) < 0.5).astype(np.float64)
    out = []
    with torch.no_grad():
        state = None
        for t in range(40):
            z, state = module(torch.from_numpy(x[t]).float(), state)
            out.append(z.numpy())
    rec = ir.interpret(graph, to_ir(x, pad=2))
    for L, got, want in ((1, rec.spikes[0], np.array(hidden)), (2, rec.spikes[1], np.array(out))):
        assert want.sum() > 5
        assert np.array_equal(got[:, L : L + 40], want.transpose(1, 0, 2) != 0)


def test_quantized_graph_writes_its_dequantized_values(tmp_path: Path) -> None:
    """write_nir(QGraph) writes the dequantized values: read back, they are dequantize(q)."""
    graph = _lavabridge_graph()
    x = (np.random.default_rng(1).random((2, 30, 8)) < 0.4).astype(np.uint8)
    qgraph, _ = quantize(graph, x)
    write_nir(qgraph, tmp_path / "q.nir", 1e-3)
    assert read_nir(tmp_path / "q.nir", 1e-3) == dequantize(qgraph).with_(name=qgraph.name)
    assert run_nir(tmp_path / "q.nir", x.transpose(1, 0, 2).astype(float), 1e-3)[
        "layer1"
    ].shape == (30, 2, 3)


def test_snntorch_import_identical_spikes(tmp_path: Path) -> None:
    """A hand-built NIR Input-Affine-LIF-Affine-LIF-Output graph (v_leak = 0, r = tau/dt as
    snnTorch asserts, dt = 1e-4), written and read back, imported with ``import_from_nir`` and run
    step by step (``forward(x, state) -> (out, state)``): both LIF layers spike identically to
    run_nir(reset="zero") and to lavabridge's float reference of read_nir (shifted by the
    latencies). Weights are multiples of 1/16, so snnTorch's float32 sums are exact."""
    dt, rng = 1e-4, np.random.default_rng(8)

    def lif(n: int, tau: float) -> nir.LIF:
        t = np.full(n, tau)
        return nir.LIF(
            tau=t, r=t / dt, v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n)
        )

    dyadic = lambda *shape: np.round(rng.normal(size=shape) * 24) / 16  # noqa: E731
    nodes = {"input": nir.Input(np.array([8])), "fc1": nir.Affine(dyadic(6, 8), dyadic(6) / 8)}
    nodes |= {
        "lif1": lif(6, 4e-4),
        "fc2": nir.Affine(dyadic(4, 6), np.zeros(4)),
        "lif2": lif(4, 5e-4),
    }
    nodes |= {"output": nir.Output(np.array([4]))}
    names = ["input", "fc1", "lif1", "fc2", "lif2", "output"]
    nir.write(tmp_path / "g.nir", nir.NIRGraph(nodes, list(itertools.pairwise(names))))
    graph = nir.read(tmp_path / "g.nir")
    module = import_from_nir(graph)
    snn_utils.reset(module)
    hidden: list[np.ndarray] = []
    module.lif1.register_forward_hook(lambda m, i, o: hidden.append(o.detach().numpy().copy()))
    x = (rng.random((30, 3, 8)) < 0.4).astype(float)
    state, spikes = None, []
    with torch.no_grad():
        for t in range(30):
            z, state = module(torch.from_numpy(x[t]).float(), state)
            spikes.append(z.numpy())
    out = run_nir(tmp_path / "g.nir", x, dt, reset="zero")
    assert np.sum(spikes) > 10 and np.sum(hidden) > 10
    assert np.array_equal(out["lif1"], np.array(hidden))
    assert np.array_equal(out["lif2"], np.array(spikes))
    rec = ir.interpret(read_nir(tmp_path / "g.nir", dt), to_ir(x, pad=2))  # lavabridge, too
    for lat, got, want in ((1, rec.spikes[0], hidden), (2, rec.spikes[1], spikes)):
        assert np.array_equal(got[:, lat : lat + 30], np.array(want).transpose(1, 0, 2) != 0)
