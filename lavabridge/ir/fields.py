"""The field rules of IR nodes: each dataclass field declares how it is checked and normalised.

A rule (``Spec``) sits in the field's metadata (:func:`rule`); :func:`validate` applies every rule
of a node in declaration order, so the checks are written once, next to the field, and
``dataclasses.replace`` re-validates. Arrays are stored as read-only private copies.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lavabridge.errors import ValidationError

ShapeRule = Callable[[Any], tuple[int, ...]]


class Spec:
    """Rule for one field: ``convert`` returns the normalised value or raises ValidationError."""

    def convert(self, value: Any, node: Any, where: str, param: str) -> Any:
        raise NotImplementedError

    @property
    def is_array(self) -> bool:
        return False


@dataclass(frozen=True)
class Int(Spec):
    lo: int

    def convert(self, value: Any, node: Any, where: str, param: str) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise ValidationError(where, param, f"must be an int >= {self.lo} (got {value!r})")
        if int(value) < self.lo:
            raise ValidationError(
                where, param, f"{int(value)} is outside the allowed range >= {self.lo}"
            )
        return int(value)


@dataclass(frozen=True)
class Real(Spec):
    """A finite real scalar in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``); stored as float."""

    lo: float
    hi: float
    lo_open: bool = False

    def _range(self) -> str:
        upper = "inf)" if self.hi == math.inf else f"{self.hi:g}]"
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {upper}"

    def convert(self, value: Any, node: Any, where: str, param: str) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValidationError(
                where, param, f"must be a real number in {self._range()} (got {value!r})"
            )
        x = float(value)
        below = x <= self.lo if self.lo_open else x < self.lo
        if not np.isfinite(x) or below or x > self.hi:
            raise ValidationError(
                where, param, f"{x!r} is outside the allowed range {self._range()}"
            )
        return x


@dataclass(frozen=True)
class Choice(Spec):
    enum_type: type[enum.Enum]

    def convert(self, value: Any, node: Any, where: str, param: str) -> enum.Enum:
        try:
            return self.enum_type(value)
        except ValueError:
            allowed = " | ".join(repr(m.value) for m in self.enum_type)
            raise ValidationError(where, param, f"{value!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class Ints(Spec):
    """A tuple of ``n`` ints in ``[lo, hi]``; one int broadcasts to all ``n`` (as torch's
    ``stride=2`` means ``(2, 2)``). ``None`` is kept when ``optional``."""

    n: int
    lo: int
    hi: int
    optional: bool = False

    def convert(self, value: Any, node: Any, where: str, param: str) -> tuple[int, ...] | None:
        if value is None and self.optional:
            return None
        items = [value] * self.n if isinstance(value, numbers.Integral) else value
        want = f"an int or {self.n} ints in [{self.lo}, {self.hi}]"
        try:
            items = list(items)
        except TypeError:
            raise ValidationError(where, param, f"must be {want} (got {value!r})") from None
        if len(items) != self.n or any(
            isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) for v in items
        ):
            raise ValidationError(where, param, f"must be {want} (got {value!r})")
        out = tuple(int(v) for v in items)
        if any(not self.lo <= v <= self.hi for v in out):
            raise ValidationError(where, param, f"{out} is outside the allowed range: {want}")
        return out


def read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view of a private copy: ``setflags(write=True)`` on it raises."""
    owner = np.array(arr, copy=True)
    owner.setflags(write=False)
    view = owner.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True)
class Array(Spec):
    """An array of fixed rank whose shape may depend on fields declared before it.

    ``kind="float"`` keeps a floating dtype as given (float16/32/64 round-trip bit-exactly) and
    turns integers/booleans into float64; ``kind="int"`` stores int64 and accepts integral floats.
    A scalar broadcasts when ``shape`` is known. ``None`` is kept when ``optional``.
    """

    kind: str  # "float" | "int"
    ndim: int
    shape: ShapeRule | None = None
    optional: bool = False
    lo: float | None = None
    hi: float | None = None

    @property
    def is_array(self) -> bool:
        return True

    def _typed(self, arr: np.ndarray, where: str, param: str) -> np.ndarray:
        """``arr`` in the stored dtype (int64, or its float dtype / float64), checked finite."""
        if arr.dtype.kind not in "biuf":
            raise ValidationError(where, param, f"must hold real numbers (got dtype {arr.dtype})")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValidationError(where, param, "must be finite (found NaN or inf)")
        if self.kind == "int":
            if arr.dtype.kind == "f" and not np.array_equal(arr, np.trunc(arr)):
                raise ValidationError(where, param, "must hold integers (got non-integral floats)")
            if arr.size and arr.dtype.kind in "uf" and np.abs(arr).max() >= 2.0**63:
                raise ValidationError(where, param, f"max {np.abs(arr).max()} does not fit int64")
            return arr.astype(np.int64)
        return arr if arr.dtype.kind == "f" else arr.astype(np.float64)

    def convert(self, value: Any, node: Any, where: str, param: str) -> np.ndarray | None:
        if value is None:
            if self.optional:
                return None
            raise ValidationError(where, param, "is required (got None)")
        arr = self._typed(np.asarray(value), where, param)
        want = self.shape(node) if self.shape is not None else None
        if want is not None and arr.ndim == 0:
            arr = np.full(want, arr, dtype=arr.dtype)
        if arr.ndim != self.ndim:
            raise ValidationError(where, param, f"must be {self.ndim}-D, got shape {arr.shape}")
        if want is not None and arr.shape != want:
            raise ValidationError(where, param, f"shape {arr.shape} != expected {want}")
        if 0 in arr.shape:
            raise ValidationError(where, param, f"must not be empty, got shape {arr.shape}")
        if self.lo is not None and arr.size and arr.min() < self.lo:
            raise ValidationError(
                where, param, f"min {arr.min()} is outside the allowed range >= {self.lo:g}"
            )
        if self.hi is not None and arr.size and arr.max() > self.hi:
            raise ValidationError(
                where, param, f"max {arr.max()} is outside the allowed range <= {self.hi:g}"
            )
        return read_only(arr)


def rule(spec: Spec) -> dict[str, Spec]:
    """Field metadata carrying the field's validation rule (read by :func:`field_spec`)."""
    return {"spec": spec}


def field_spec(f: dataclasses.Field[Any]) -> Spec:
    """The rule a node field was declared with."""
    spec = f.metadata["spec"]
    if not isinstance(spec, Spec):
        raise TypeError(f"field {f.name} has no validation rule")
    return spec


def validate(node: Any) -> None:
    """Normalise and check every field of ``node`` in declaration order (the one shared helper)."""
    where = type(node).__name__
    for f in dataclasses.fields(node):
        value = field_spec(f).convert(getattr(node, f.name), node, where, f.name)
        object.__setattr__(node, f.name, value)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    return bool(a == b)
