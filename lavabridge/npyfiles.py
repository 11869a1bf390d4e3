"""Reading ``.npy`` and ``.npz`` files that may be hostile: check every header before allocating.

``numpy.load`` trusts a file's header: a header that declares 10^12 elements makes it allocate
them before it finds the data missing, and an object dtype asks it to unpickle. Every reader of
lavabridge (``.lbq``, ``.lbir``, recordings and snapshots, input and label arrays) goes through
:func:`read_npy` / :func:`read_npz`, which refuse, with :class:`~lavabridge.errors.ModelFileError`
naming the file:

* a bad magic string, an unknown format version, a header above numpy's 10,000-byte limit;
* an object (pickled) or structured dtype;
* a declared size that differs from the bytes the file (or zip member) actually holds — checked
  from the header and the zip directory, before anything is allocated;
* an array above :data:`MAX_ARRAY_BYTES`, an archive above :data:`MAX_ARCHIVE_BYTES` in all, or
  more than :data:`MAX_MEMBERS` members;
* zip members other than stored or deflated ones (what ``numpy.savez`` writes), members that claim
  more compressed bytes than the archive holds or more expansion than deflate can give;
* truncated, damaged or foreign zip archives (``BadZipFile``, CRC and zlib errors).
"""

from __future__ import annotations

import os
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from lavabridge.errors import ModelFileError

MAX_ARRAY_BYTES = 1 << 32  # 4 GiB: far above any model lavabridge handles, far below a bomb
MAX_ARCHIVE_BYTES = 1 << 33
MAX_MEMBERS = 100_000
MAX_DEFLATE_RATIO = 1100  # deflate cannot expand by more than ~1032:1


# what numpy's header parser (tokenize, ast.literal_eval, dtype construction) raises on junk
HEADER_ERRORS = (ValueError, EOFError, OSError, SyntaxError, TypeError, OverflowError, KeyError,
                 IndexError, RecursionError, MemoryError, tokenize.TokenError)  # fmt: skip


class Arrays(dict[str, np.ndarray]):
    """The arrays of an ``.npz`` by name (``files`` lists them, as ``numpy.NpzFile`` does)."""

    @property
    def files(self) -> list[str]:
        return list(self)


def _header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """``(shape, dtype, header bytes)`` of the ``.npy`` stream at ``fp`` (at its start)."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ModelFileError(f"{where}: .npy format version {version} is not supported")
    except ModelFileError:
        raise
    except HEADER_ERRORS as exc:
        raise ModelFileError(f"{where}: not a readable .npy array ({exc!r})") from exc
    if dtype.hasobject or dtype.fields is not None:
        raise ModelFileError(
            f"{where}: dtype {dtype} holds Python objects or records; only plain numeric arrays "
            "are read (no pickles)"
        )
    header_bytes = fp.tell() if hasattr(fp, "tell") else 0
    return tuple(int(s) for s in shape), dtype, header_bytes


def _check_size(where: str, shape: tuple[int, ...], dtype: np.dtype[Any], available: int) -> None:
    count = 1
    for s in shape:
        count *= s
    nbytes = count * dtype.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise ModelFileError(
            f"{where}: declares a {shape} {dtype} array ({nbytes} bytes), above the "
            f"{MAX_ARRAY_BYTES}-byte limit of an array lavabridge reads"
        )
    if nbytes != available:
        raise ModelFileError(
            f"{where}: declares a {shape} {dtype} array ({nbytes} bytes) but holds {available} "
            "bytes of data (truncated or forged header)"
        )


def read_npy(path: str | os.PathLike[str], where: str | None = None) -> np.ndarray:
    """One ``.npy`` array, its header checked against the file's size before reading."""
    p = Path(path)
    name = where or str(p)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fp:
            shape, dtype, offset = _header(fp, name)
            _check_size(name, shape, dtype, size - offset)
            fp.seek(0)
            arr = np.lib.format.read_array(fp, allow_pickle=False)
    except ModelFileError:
        raise
    except MemoryError as exc:
        raise ModelFileError(f"{name}: not enough memory to read this array") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{name}: not a readable .npy array ({exc})") from exc
    if not isinstance(arr, np.ndarray):  # pragma: no cover - read_array returns arrays
        raise ModelFileError(f"{name}: not an array")
    return arr


def read_npz(
    path: str | os.PathLike[str], where: str | None = None, what: str = "array archive"
) -> Arrays:
    """Every array of an ``.npz`` archive, each member's header checked before it is read.

    ``what`` names the format in messages (``"QGraph file"``, ``"recording"``, ...).
    """
    p = Path(path)
    name = where or str(p)
    out = Arrays()
    try:
        size = p.stat().st_size
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelFileError(f"{name}: {len(infos)} members: not a {what}")
            total = sum(i.file_size for i in infos)
            if total > MAX_ARCHIVE_BYTES:
                raise ModelFileError(
                    f"{name}: declares {total} bytes uncompressed, above the "
                    f"{MAX_ARCHIVE_BYTES}-byte limit (a zip bomb or a forged directory)"
                )
            for info in infos:
                key = _member_name(info, name, what)
                _check_member(info, size, f"{name}: {info.filename}")
                out[key] = _member(zf, info, f"{name}: {info.filename}")
    except ModelFileError:
        raise
    except MemoryError as exc:
        raise ModelFileError(f"{name}: not enough memory to read this {what}") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError,
            NotImplementedError, RuntimeError) as exc:  # fmt: skip
        raise ModelFileError(f"{name}: damaged or incomplete {what} ({exc})") from exc
    return out


def _check_member(info: zipfile.ZipInfo, archive_bytes: int, where: str) -> None:
    """A member's zip sizes must be possible: its claimed size bounds what is allocated."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(f"{where}: zip compression {info.compress_type} (only stored or "
                             "deflated members, as numpy.savez writes)")  # fmt: skip
    stored = info.compress_type == zipfile.ZIP_STORED
    if (
        info.compress_size > archive_bytes
        or (stored and info.file_size != info.compress_size)
        or info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024
    ):
        raise ModelFileError(
            f"{where}: claims {info.file_size} bytes from {info.compress_size} compressed in a "
            f"{archive_bytes}-byte archive (a forged zip directory or a zip bomb)"
        )


def _member_name(info: zipfile.ZipInfo, where: str, what: str) -> str:
    if not info.filename.endswith(".npy") or info.is_dir():
        raise ModelFileError(f"{where}: not a lavabridge {what} (member {info.filename!r} is "
                             "not a .npy array)")  # fmt: skip
    return info.filename[: -len(".npy")]


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    with zf.open(info) as fp:
        shape, dtype, offset = _header(fp, where)
        _check_size(where, shape, dtype, info.file_size - offset)
    with zf.open(info) as fp:  # read it, now that its size is known to be real
        arr = np.lib.format.read_array(fp, allow_pickle=False)
    if not isinstance(arr, np.ndarray):  # pragma: no cover - read_array returns arrays
        raise ModelFileError(f"{where}: not an array")
    return arr
