"""The maps between two NIR neurons as :class:`~lavabridge.importers.torchlayers.Map` s (for
:func:`lavabridge.importers.nir.read_nir`): ``Affine`` / ``Linear`` -> Dense, ``Scale`` folded
into the Dense before it (else a diagonal Dense), ``Conv2d`` / ``Conv1d`` (height 1) -> Conv2d,
``SumPool2d`` / ``AvgPool2d`` -> pools, ``Flatten`` -> the identity (populations are flat,
C-major), ``Delay`` -> per-source delays in steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge import ir
from lavabridge.formats.nir import Flat
from lavabridge.importers import torchlayers as tl
from lavabridge.importers.nirchain import STAGE, describe, kind, refuse

F64 = npt.NDArray[np.float64]


def shape_of(flat: Flat, name: str) -> tuple[int, ...]:
    """The output shape of a neuron or the Input (its parameters' / input_type's shape)."""
    node = flat.nodes[name]
    if kind(node) == "Input":
        shape = next(iter(node.input_type.values()))
    else:
        shape = np.shape(node.threshold if kind(node) == "Threshold" else node.v_threshold)
    return tuple(int(s) for s in np.atleast_1d(np.asarray(shape, np.int64))) or (1,)


def _pair(v: Any) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v, np.int64))
    return (int(a[0]), int(a[-1]))


def _padding(
    flat: Flat, name: str, pad: Any, kernel: Sequence[int], dil: Sequence[int]
) -> tuple[int, int]:
    if isinstance(pad, (str, bytes)):
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if pad == "valid":
            return (0, 0)
        span = [d * (k - 1) for d, k in zip(dil, kernel, strict=True)]
        if pad != "same" or any(s % 2 for s in span):
            raise refuse(flat, name, f"padding {pad!r}: only 'valid', symmetric ints, and "
                         "'same' with an odd kernel span (an even one pads one side more)")  # fmt: skip
        return (span[0] // 2, span[1] // 2)
    return _pair(pad)


def _chw(
    flat: Flat, name: str, shape: tuple[int, ...], channels: int, hw: Any
) -> tuple[int, int, int]:
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2])
    n = int(np.prod(shape))
    if hw is not None and np.size(hw) == 2 and channels * int(np.prod(hw)) == n:
        return (channels, int(np.asarray(hw).ravel()[0]), int(np.asarray(hw).ravel()[1]))
    raise refuse(flat, name, f"its input has shape {shape}; needs (C, H, W) (set input_shape)")


def _spatial(flat: Flat, name: str, shape: tuple[int, ...]) -> ir.Synapse:
    node, k = flat.nodes[name], kind(flat.nodes[name])
    if k in ("SumPool2d", "AvgPool2d"):
        kern = _pair(node.kernel_size)
        chw = _chw(flat, name, shape, shape[0], None)
        cls = ir.SumPool2d if k == "SumPool2d" else ir.AvgPool2d
        return cls(kern, chw, _pair(node.stride), _padding(flat, name, node.padding, kern, (1, 1)))
    w = np.asarray(node.weight, np.float64)
    bias = None if node.bias is None else np.asarray(node.bias, np.float64)
    bias = bias if bias is not None and np.any(bias) else None
    groups = int(node.groups)
    if k == "Conv1d":
        if len(shape) == 2:
            shape = (shape[0], 1, shape[1])
        w = w[:, :, None, :]
        kern, dil = (1, w.shape[3]), (1, int(np.ravel(node.dilation)[0]))
        stride = (1, int(np.ravel(node.stride)[0]))
        pad = (
            node.padding
            if isinstance(node.padding, (str, bytes))
            else (0, int(np.ravel(node.padding)[0]))
        )
        hw = None if node.input_shape is None else (1, int(np.ravel(node.input_shape)[0]))
    else:
        kern, dil, stride, pad = (
            (w.shape[2], w.shape[3]),
            _pair(node.dilation),
            _pair(node.stride),
            node.padding,
        )
        hw = node.input_shape
    chw = _chw(flat, name, shape, w.shape[1] * groups, hw)
    return ir.Conv2d(w, chw, stride, _padding(flat, name, pad, kern, dil), dil, groups, bias)


def _flatten_shape(node: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    nd = len(shape)
    start, end = int(node.start_dim) % nd, int(node.end_dim) % nd
    return (*shape[:start], int(np.prod(shape[start : end + 1])), *shape[end + 1 :])


def maps_of(
    flat: Flat, seg_maps: Sequence[str], shape: tuple[int, ...], dt: float
) -> tuple[list[tl.Map], F64 | None, tuple[int, ...]]:
    """The :class:`~lavabridge.importers.torchlayers.Map` s of a segment, its per-source delays
    (steps) and the shape it ends with."""
    out: list[tl.Map] = []
    delays: F64 | None = None
    n_src = int(np.prod(shape))
    for name in seg_maps:
        node, k = flat.nodes[name], kind(flat.nodes[name])
        where = describe(name, node)
        if k == "Flatten":
            shape = _flatten_shape(node, shape)
        elif k == "Delay":
            if out:
                raise refuse(flat, name, "a Delay must directly follow a neuron or the Input "
                             "(it becomes the synapse's delays)")  # fmt: skip
            steps = np.broadcast_to(np.asarray(node.delay, np.float64).ravel(), (n_src,)) / dt
            if np.any(steps < 0) or np.any(
                np.abs(steps - np.rint(steps)) > 1e-9 * np.maximum(1, steps)
            ):
                raise refuse(flat, name, f"delay / dt must be a non-negative integer (dt={dt:g})")
            delays = np.rint(steps) + (0.0 if delays is None else delays)
        elif k in ("Affine", "Linear"):
            w = np.asarray(node.weight, np.float64)
            if w.ndim != 2 or w.shape[1] != int(np.prod(shape)):
                raise refuse(
                    flat, name, f"weight {w.shape} does not take {int(np.prod(shape))} inputs"
                )
            b = np.asarray(node.bias, np.float64) if k == "Affine" else None
            out.append(tl.Map(name, where, ir.Dense(w, b)))
            shape = (w.shape[0],)
        elif k == "Scale":
            s = np.broadcast_to(np.asarray(node.scale, np.float64).ravel(), (int(np.prod(shape)),))
            prev = out[-1].node if out else None
            if isinstance(prev, ir.Dense):
                out[-1] = tl.Map(out[-1].path, f"{out[-1].where} + {where}", prev.with_(
                    weight=prev.weight * s[:, None], bias=None if prev.bias is None else prev.bias * s))  # fmt: skip
            else:
                tl.check_size(s.size, s.size, where, STAGE)
                out.append(tl.Map(name, where, ir.Dense(np.diag(s))))
        else:
            syn = _spatial(flat, name, shape)
            out.append(tl.Map(name, where, syn))
            shape = tuple(syn.out_shape)  # type: ignore[attr-defined]
    return out, delays, shape
