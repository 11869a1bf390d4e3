"""Opening a model file whatever its name: lavabridge's ``.lbq`` or lava-dl's netx ``.net``
(and telling apart a float IR ``.lbir``, which runs on the float reference only, and a NIR graph,
which is imported with its time step first)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from lavabridge.archive import READ_ERRORS
from lavabridge.errors import InputError, ModelFileError
from lavabridge.importers.netx import read_netx
from lavabridge.ir.serialize import FORMAT_NAME as IR_FORMAT
from lavabridge.quant.qgraph import QGraph
from lavabridge.quant.serialize import SUFFIX, load_qgraph

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK"


def _archive_format(path: Path) -> str | None:
    """The ``format`` named in a lavabridge archive's ``meta`` entry (``None`` if unreadable)."""
    try:
        with zipfile.ZipFile(path) as z, z.open("meta.npy") as f:
            raw = np.lib.format.read_array(f, allow_pickle=False)
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except READ_ERRORS:  # a damaged archive: its reader names the problem
        return None
    return meta.get("format") if isinstance(meta, dict) else None


def _is_nir(path: Path) -> bool:
    """Whether an HDF5 file is a NIR graph (``nir.write``: a ``node`` group and a ``version``)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "node" in f and "version" in f and "layer" not in f
    except (OSError, ValueError):
        return False


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"netx"`` (HDF5 signature), ``"nir"`` (an HDF5 NIR graph), ``"ir"`` (a float IR archive,
    ``.lbir``) or ``"qgraph"`` (another zip archive), read from the file's first bytes and its
    ``meta`` entry.

    Raises
    ------
    ModelFileError
        The file is missing, unreadable, or neither format.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(HDF5_SIGNATURE))
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.strerror or exc})") from exc
    if head == HDF5_SIGNATURE:
        return "nir" if _is_nir(path) else "netx"
    if head.startswith(ZIP_SIGNATURE):
        return "ir" if _archive_format(path) == IR_FORMAT else "qgraph"
    raise ModelFileError(
        f"{path}: unknown model format (expected a lava-dl netx HDF5 .net file "
        f"or a lavabridge QGraph {SUFFIX} file)"
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    num_layers: int | None = None,
    reset_interval: int | None = None,
) -> QGraph:
    """Open a model file as a QGraph, whatever its name: netx HDF5 (``.net``) or ``.lbq``.

    ``num_layers`` and ``reset_interval`` are netx loader options (see
    :func:`~lavabridge.importers.netx.read_netx`); a ``.lbq`` file refuses them.

    Raises
    ------
    ModelFileError
        Missing, unreadable, damaged or unknown file (see :func:`detect_format`).
    UnsupportedError
        A layer or node kind lavabridge cannot express exactly.
    """
    p = Path(path)
    kind = detect_format(p)
    if kind == "ir":
        raise InputError(
            f"{p}: a float IR file (.lbir); quantize it first (`lavabridge quantize RUN_DIR`, or "
            "lavabridge.quant.quantize), or run it with `lavabridge run MODEL --backend float`"
        )
    if kind == "nir":
        raise InputError(
            f"{p}: a NIR graph; import it first: `lavabridge import {p} --from nir --dt DT "
            "--example X.npy --out RUN_DIR` (or lavabridge.importers.nir.read_nir), or see its "
            f"layers with `lavabridge info {p} --dt DT`"
        )
    netx = kind == "netx"
    if not netx and (num_layers is not None or reset_interval is not None):
        raise InputError(
            f"{p}: --num-layers / --reset-interval are options of netx files, not of a "
            f"lavabridge {SUFFIX} file"
        )
    try:
        if netx:
            return read_netx(p, num_layers=num_layers, reset_interval=reset_interval)
        return load_qgraph(p)
    except (OSError, ValueError, KeyError) as exc:  # what h5py/numpy raise on a damaged file
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{p}: cannot read model ({exc})") from exc
