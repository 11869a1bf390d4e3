"""Reading the arrays users pass on the command line (``numpy.save`` files), hostile ones too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy.typing as npt

from lavabridge.errors import InputError, ModelFileError
from lavabridge.npyfiles import read_npy


def load_npy(path: str | os.PathLike[str], option: str = "--input") -> npt.NDArray[Any]:
    """Read one array saved with ``numpy.save``; :class:`InputError` names ``option`` and the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{option} {p}: no such file")
    try:
        with open(p, "rb") as f:
            zipped = f.read(2) == b"PK"
    except OSError as exc:
        raise InputError(f"{option} {p}: cannot read ({exc.strerror or exc})") from exc
    if zipped:
        raise InputError(f"{option} {p}: is an .npz archive; save a single array with numpy.save")
    try:  # the header is checked against the file before anything is allocated
        return read_npy(p, f"{option} {p}")
    except ModelFileError as exc:
        raise InputError(str(exc)) from exc
