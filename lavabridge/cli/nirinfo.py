"""``lavabridge info MODEL.nir --dt DT``: a NIR graph's nodes and the IR layers it reads as."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from lavabridge import ir
from lavabridge.cli.common import EXIT_OK
from lavabridge.errors import InputError
from lavabridge.formats.nir import choose_discretisation, load
from lavabridge.importers.nir import nir_summary, read_nir
from lavabridge.semantics import Reset


def _synapse(node: Any) -> str:
    if isinstance(node, ir.Dense):
        extra = " + bias" if node.bias is not None and np.any(node.bias) else ""
        delay = f", delays <= {node.max_delay}" if node.max_delay else ""
        return f"Dense {node.n_out}x{node.n_in}{extra}{delay}"
    if isinstance(node, ir.Spatial):
        g = node.geometry
        return f"{node.kind} {g.in_shape} -> {g.out_shape}"
    return str(node.kind)


def nir_info(args: argparse.Namespace) -> int:
    """Print the NIR file's nodes, the semantics chosen, and each IR layer (``info``)."""
    if args.dt is None:
        raise InputError(
            f"{args.model}: a NIR graph; --dt is required (NIR files store no time step)"
        )
    source = load(args.model)  # read the file once
    summary = nir_summary(source)
    graph = read_nir(source, args.dt, args.reset, discretisation=args.discretisation)
    meta = summary["metadata"]
    kinds: dict[str, int] = {}
    for k in summary["nodes"].values():
        kinds[k] = kinds.get(k, 0) + 1
    print(f"{args.model}: NIR graph, {len(summary['nodes'])} nodes ("
          + ", ".join(f"{v} {k}" for k, v in kinds.items()) + f"), {len(summary['edges'])} edges")  # fmt: skip
    if meta:
        print("file metadata (lavabridge): " + ", ".join(f"{k} {v}" for k, v in meta.items()))
    disc = choose_discretisation(args.discretisation, source.metadata).value
    chain = graph.layer_chain()
    print(f"read with dt {args.dt:g} s, {disc} discretisation, v starting at v_reset; "
          f"IR graph {graph.name!r}: {len(chain)} layers")  # fmt: skip
    if "dt" in meta and float(meta["dt"]) != float(args.dt):
        print(f"note: the file was written for dt {meta['dt']:g} s")
    for i, (ly, lat) in enumerate(zip(chain, graph.latencies(), strict=True)):
        n = ly.neuron
        assert isinstance(n, ir.CubaLIF)  # read_nir makes CubaLIF layers only
        rec = f"; recurrent {_synapse(ly.recurrent)}" if ly.recurrent is not None else ""
        print(f"  layer {i} {ly.name!r}: {n.size} neurons, current_decay {n.current_decay:.6g}, "
              f"voltage_decay {n.voltage_decay:.6g}, threshold {n.threshold:.6g}, reset "
              f"{n.reset.value}, latency {lat}; synapse {ly.synapse_name!r}: "
              f"{_synapse(ly.synapse)}{rec}")  # fmt: skip
    custom = [ly.name for ly in chain if getattr(ly.neuron, "reset", Reset.ZERO) != Reset.ZERO]
    if custom:
        print(
            f"runs on: Lava's CPU simulator only (subtract reset: FlexLIF in {', '.join(custom)})"
        )
    else:
        print("runs on: Lava's CPU simulator and Loihi 2 (Lava's own LIF)")
    print(
        f"next: lavabridge import {args.model} --from nir --dt {args.dt:g} --example X.npy --out RUN_DIR"
    )
    return EXIT_OK
