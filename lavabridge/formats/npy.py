"""Reading the arrays users pass on the command line (``numpy.save`` files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lavabridge.errors import InputError


def load_npy(path: str | os.PathLike[str], option: str = "--input") -> npt.NDArray[Any]:
    """Read one array saved with ``numpy.save``; :class:`InputError` names ``option`` and the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{option} {p}: no such file")
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{option} {p}: not a numpy .npy array ({exc})") from exc
    if not isinstance(arr, np.ndarray):  # an .npz archive
        arr.close()
        raise InputError(f"{option} {p}: is an .npz archive; save a single array with numpy.save")
    return arr
