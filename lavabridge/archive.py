"""One-file model archives: an ``.npz`` with a JSON ``meta`` entry, written atomically.

Shared by the float IR files (``.lbir``, :mod:`lavabridge.ir.serialize`) and the QGraph files
(``.lbq``, :mod:`lavabridge.quant.serialize`). ``meta`` carries ``format`` and ``version``; every
array is its own entry. A failed write never leaves a half-written file under the final name, and
every way a file can be wrong on reading becomes one :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lavabridge.atomic import atomic_path
from lavabridge.errors import LavaBridgeError, ModelFileError, UnsupportedError
from lavabridge.npyfiles import read_npz

T = TypeVar("T")

# what malformed content raises inside the builders (wrong types, missing keys, bad values)
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError,
               OverflowError, RecursionError, zipfile.BadZipFile, zlib.error)  # fmt: skip
MAX_META_BYTES = 1 << 24  # the JSON meta of a model is kilobytes


def write_archive(
    path: str | os.PathLike[str],
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    what: str,
) -> Path:
    """Write ``arrays`` plus ``meta`` (JSON) to ``path`` through a temporary file and a rename."""
    out = Path(path)
    entries = dict(arrays)
    blob = json.dumps(meta, allow_nan=False).encode("utf-8")
    entries["meta"] = np.frombuffer(blob, dtype=np.uint8)
    try:
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **entries)
    except OSError as exc:
        raise ModelFileError(f"{out}: cannot write {what} file ({exc.strerror or exc})") from exc
    return out


def _read_meta(npz: Any, path: Path, format_name: str, version: int, what: str) -> dict[str, Any]:
    if "meta" not in npz.files:
        raise ModelFileError(f"{path}: not a lavabridge {what} file (no 'meta' entry)")
    raw = npz["meta"]
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_META_BYTES:
        raise ModelFileError(f"{path}: 'meta' must be UTF-8 JSON bytes (got {raw.dtype} "
                             f"{raw.shape})")  # fmt: skip
    meta = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelFileError(f"{path}: not a lavabridge {what} file (format {found!r})")
    got = meta.get("version")
    if not isinstance(got, int) or not 1 <= got <= version:
        raise ModelFileError(
            f"{path}: {what} format version {got!r} is not supported "
            f"(this lavabridge reads versions 1..{version})"
        )
    return meta


def read_archive(
    path: str | os.PathLike[str],
    format_name: str,
    version: int,
    what: str,
    build: Callable[[Any, dict[str, Any]], T],
) -> T:
    """Open ``path``, check its ``meta``, and return ``build(npz, meta)``.

    Raises
    ------
    ModelFileError
        Missing or unreadable file, a bare ``.npy``, a foreign or newer archive, a damaged or
        incomplete archive, or values ``build``'s validation refuses (``LavaBridgeError``).
    UnsupportedError
        The file holds a node kind this version of lavabridge does not know.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: no such {what} file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(6)
        if head == b"\x93NUMPY":
            raise ModelFileError(f"{p}: not a lavabridge {what} file (a bare .npy array)")
        npz = read_npz(p, what=f"{what} file")  # every header checked before allocating
        return build(npz, _read_meta(npz, p, format_name, version, what))
    except (ModelFileError, UnsupportedError):  # a kind this version does not know stays typed
        raise
    except LavaBridgeError as exc:  # ValidationError from the model's own checks
        raise ModelFileError(f"{p}: invalid {what}: {exc}") from exc
    except READ_ERRORS as exc:
        detail = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{p}: damaged or incomplete {what} file ({detail})") from exc
