"""Frozen behaviour: what the code produced before the restructuring of issue 8, kept bit for bit.

A snapshot is a flat mapping ``key -> value`` (numpy arrays, or JSON scalars: str, int, float,
bool, None) stored in ``tests/frozen/<name>.npz``. :func:`assert_frozen` compares what the code
produces now with it:

* arrays: same dtype, same shape, same bytes (so ``-0.0``, NaN payloads and int widths count);
  arrays above ``DIGEST_BYTES`` are stored as their SHA-256 digest (plus dtype and shape);
* scalars: equal, and of the same JSON type;
* key sets: equal. With ``extensible=True`` (only for documents that a later format is allowed
  to *extend*: file metadata, the VerifyReport JSON) new keys may appear, but every stored key
  must be reproduced unchanged.

The snapshots were written once, at main de2cdde, before any code was moved
(``LAVABRIDGE_WRITE_FROZEN=1 pytest tests/test_frozen.py``); a missing snapshot fails.

:data:`INTENDED_CHANGES` lists, value by value, what an issue asked to change on purpose (old value
-> new value); nothing else may differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

FROZEN_DIR = Path(__file__).resolve().parent / "frozen"
DIGEST_BYTES = 1 << 16
_SCALARS = (str, int, float, bool, type(None))
_WRITE = os.environ.get("LAVABRIDGE_WRITE_FROZEN") == "1"

_DEFAULT_POLICY = {"policy/allow_approximations": (True, False)}
INTENDED_CHANGES: dict[str, dict[str, tuple[Any, Any]]] = {
    # issue 8: "allow_approximations=False by default" (reports record the default policy)
    f"quant.report.{case}": _DEFAULT_POLICY
    for case in ("default", "bias_input", "netx")
}


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts / lists / tuples / arrays / scalars -> ``{"a/b/0": value}``."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        if not obj:
            out[prefix or "/"] = "{}"
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}/{k}" if prefix else str(k)))
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out[prefix] = "[]"
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}/{i}"))
    elif isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, np.generic):
        out[prefix] = obj.item()
    elif isinstance(obj, _SCALARS):
        out[prefix] = obj
    else:
        raise TypeError(f"{prefix}: cannot freeze a {type(obj).__name__}")
    return out


def _digest(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    return f"sha256:{a.dtype.str}:{list(a.shape)}:{hashlib.sha256(a.tobytes()).hexdigest()}"


def _encode(values: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "O":
                raise TypeError(f"{k}: object arrays cannot be frozen")
            if v.nbytes > DIGEST_BYTES:
                scalars[k] = {"digest": _digest(v)}
            else:
                arrays[k] = v
        else:
            scalars[k] = {"value": v, "type": type(v).__name__}
    return arrays, scalars


def _write(path: Path, values: Mapping[str, Any]) -> None:
    arrays, scalars = _encode(values)
    names = {f"a{i}": k for i, k in enumerate(arrays)}
    blob = json.dumps({"scalars": scalars, "arrays": names}, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(
            f,
            __index__=np.frombuffer(blob, np.uint8),
            **{n: arrays[k] for n, k in names.items()},
        )


def _read(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as npz:
        index = json.loads(npz["__index__"].tobytes().decode())
        out: dict[str, Any] = {k: npz[n] for n, k in index["arrays"].items()}
    out.update(index["scalars"])
    return out


def _describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype} {v.shape} {np.array2string(v.reshape(-1)[:8], threshold=8)}..."
    return repr(v)


def _same(stored: Any, now: Any) -> bool:
    if isinstance(stored, np.ndarray):
        return (
            isinstance(now, np.ndarray)
            and stored.dtype == now.dtype
            and stored.shape == now.shape
            and np.ascontiguousarray(stored).tobytes() == np.ascontiguousarray(now).tobytes()
        )
    if "digest" in stored:
        return isinstance(now, np.ndarray) and _digest(now) == stored["digest"]
    return (
        not isinstance(now, np.ndarray)
        and type(now).__name__ == stored["type"]
        and now == stored["value"]
    )


def assert_frozen(name: str, produced: Mapping[str, Any], *, extensible: bool = False) -> None:
    """Compare ``produced`` (flat, see :func:`flatten`) with ``tests/frozen/<name>.npz``."""
    path = FROZEN_DIR / f"{name}.npz"
    if _WRITE:
        _write(path, produced)
        return
    assert path.is_file(), f"frozen snapshot {path} is missing"
    stored = _read(path)
    missing = sorted(set(stored) - set(produced))
    extra = sorted(set(produced) - set(stored))
    problems = [f"missing now: {k}" for k in missing[:10]]
    if extra and not extensible:
        problems += [f"new key: {k}" for k in extra[:10]]
    intended = INTENDED_CHANGES.get(name, {})
    for k in sorted(set(stored) & set(produced)):
        if k in intended:
            old, new = intended[k]
            assert stored[k].get("value") == old, f"{name}: {k} was not {old!r} at de2cdde"
            assert produced[k] == new, f"{name}: {k} should now be {new!r}, got {produced[k]!r}"
            continue
        if not _same(stored[k], produced[k]):
            problems.append(f"{k}: was {_describe(stored[k])}, now {_describe(produced[k])}")
            if len(problems) > 20:
                break
    assert not problems, f"{name}: behaviour changed:\n  " + "\n  ".join(problems)
