"""Float IR nodes: frozen, typed descriptions of a network's parts, in discrete time.

A node *describes* its parameters; it never runs. Every node is a frozen dataclass whose fields are
checked and normalised in ``__post_init__`` by one shared routine (:func:`_validate`) reading a
per-field rule (``_Spec``) from the field's metadata. So the rules are declared once, next to the
field, and ``dataclasses.replace`` / :meth:`Node.with_` re-validate. Arrays are stored as read-only
copies; a node cannot be changed after construction, only replaced.

Time is discrete. ``t = 0, 1, 2, ...`` counts steps; every state starts at 0 before step 0
(``u[-1] = v[-1] = 0`` and no spikes at ``t = -1``). The :class:`Input` node emits input column
``t`` at step ``t``. The deployed semantics of one hop ``s_in -> Dense -> CubaLIF -> s`` are::

    I[t] = sum_j W[i, j] s_in[j, t - 1 - D[i, j]]  (+ b[i] of the Dense)   one step per Dense hop
    u[t] = (1 - current_decay) u[t-1] + I[t]
    v[t] = (1 - voltage_decay) v[t-1] + u[t] + bias
    s[t] = v[t] > threshold          (or >= when compare='>=')
    v[t] = 0                         where s[t]  (reset='zero')
    v[t] = v[t] - threshold          where s[t]  (reset='subtract')

(spikes before step 0 count as 0). This is the order Lava's LIF applies on Loihi: current first,
then voltage, then compare, then reset. IR step ``t`` is Lava time step ``t + 1``, the index ``t``
of a :class:`~lavabridge.recording.Recording`: layer 0 answers input column ``t`` at ``t + 1``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from lavabridge.errors import ValidationError

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.int64]

_N = TypeVar("_N", bound="Node")


class Reset(str, enum.Enum):
    """What a spike does to ``v``: set it to 0, or subtract the threshold."""

    ZERO = "zero"
    SUBTRACT = "subtract"


class InputMode(str, enum.Enum):
    """How the input enters: binary spikes into a Dense, or a graded bias into the first neurons."""

    SPIKES = "spikes"
    BIAS = "bias"


class Compare(str, enum.Enum):
    """How ``v`` is compared with the threshold: ``>`` (Loihi, snnTorch) or ``>=`` (SpikingJelly)."""

    GT = ">"
    GE = ">="


# ----------------------------------------------------------------------------- field rules
ShapeRule = Callable[[Any], tuple[int, ...]]


class _Spec:
    """Rule for one field: ``convert`` returns the normalised value or raises ValidationError."""

    def convert(self, value: Any, node: Any, where: str, param: str) -> Any:
        raise NotImplementedError

    @property
    def is_array(self) -> bool:
        return False


@dataclass(frozen=True)
class _Int(_Spec):
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
class _Real(_Spec):
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
class _Choice(_Spec):
    enum_type: type[enum.Enum]

    def convert(self, value: Any, node: Any, where: str, param: str) -> enum.Enum:
        try:
            return self.enum_type(value)
        except ValueError:
            allowed = " | ".join(repr(m.value) for m in self.enum_type)
            raise ValidationError(where, param, f"{value!r} is not one of {allowed}") from None


def _read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view of a private copy: ``setflags(write=True)`` on it raises."""
    owner = np.array(arr, copy=True)
    owner.setflags(write=False)
    view = owner.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True)
class _Array(_Spec):
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

    @property
    def is_array(self) -> bool:
        return True

    def convert(self, value: Any, node: Any, where: str, param: str) -> np.ndarray | None:
        if value is None:
            if self.optional:
                return None
            raise ValidationError(where, param, "is required (got None)")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise ValidationError(where, param, f"must hold real numbers (got dtype {arr.dtype})")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValidationError(where, param, "must be finite (found NaN or inf)")
        if self.kind == "int":
            if arr.dtype.kind == "f" and not np.array_equal(arr, np.trunc(arr)):
                raise ValidationError(where, param, "must hold integers (got non-integral floats)")
            if arr.size and arr.dtype.kind in "uf" and np.abs(arr).max() >= 2.0**63:
                raise ValidationError(where, param, f"max {np.abs(arr).max()} does not fit int64")
            arr = arr.astype(np.int64)
        elif arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
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
        return _read_only(arr)


def _rule(spec: _Spec) -> dict[str, _Spec]:
    """Field metadata carrying the field's validation rule (read by :func:`field_spec`)."""
    return {"spec": spec}


def field_spec(f: dataclasses.Field[Any]) -> _Spec:
    """The rule a node field was declared with."""
    spec = f.metadata["spec"]
    if not isinstance(spec, _Spec):
        raise TypeError(f"field {f.name} has no validation rule")
    return spec


def _validate(node: Node) -> None:
    """Normalise and check every field of ``node`` in declaration order (the one shared helper)."""
    where = type(node).__name__
    for f in dataclasses.fields(node):
        value = field_spec(f).convert(getattr(node, f.name), node, where, f.name)
        object.__setattr__(node, f.name, value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    return bool(a == b)


def _rebuild(cls: type[_N], values: dict[str, Any]) -> _N:
    return cls(**values)


# ----------------------------------------------------------------------------- nodes
@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """Base of every IR node (not instantiable). Frozen; compare with ``==`` (same type, dtypes
    and values). Unhashable, as its arrays are."""

    kind: ClassVar[str] = "Node"

    def __post_init__(self) -> None:
        if type(self) is Node:
            raise TypeError("Node is abstract: use Input, Dense or CubaLIF")
        _validate(self)

    def with_(self: _N, **changes: Any) -> _N:
        """A copy with ``changes`` applied, validated again (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def params(self) -> dict[str, Any]:
        """Field name -> value, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, k), getattr(other, k)) for k in self.params())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild through the constructor, so an unpickled node is validated and read-only again
        return (_rebuild, (type(self), self.params()))

    def __repr__(self) -> str:
        def show(v: Any) -> str:
            if isinstance(v, np.ndarray):
                return f"<{v.dtype} {v.shape}>"
            return repr(v.value) if isinstance(v, enum.Enum) else repr(v)

        body = ", ".join(f"{k}={show(v)}" for k, v in self.params().items())
        return f"{type(self).__name__}({body})"


@dataclass(frozen=True, eq=False, repr=False)
class Input(Node):
    """The graph's input.

    ``mode="spikes"``: ``size`` spike channels feeding a Dense; column ``t`` is emitted at step ``t``.
    ``mode="bias"``: a graded, per-sample value ``x`` of width ``size`` driving the first CubaLIF
    directly (no Dense, no latency): ``gain * x`` is added to its v at every step, on top of its
    own bias (direct current input; lava-dl's netx ``input`` layers take images this way).
    """

    size: int = field(metadata=_rule(_Int(1)))
    mode: InputMode = field(default=InputMode.SPIKES, metadata=_rule(_Choice(InputMode)))
    gain: float = field(default=1.0, metadata=_rule(_Real(0.0, math.inf, lo_open=True)))

    kind: ClassVar[str] = "Input"


@dataclass(frozen=True, eq=False, repr=False)
class Dense(Node):
    """A dense connection carrying spikes to currents, one step of latency per hop (as Lava's Dense).

    .. math::

        I_i[t] = \\sum_j W_{ij}\\, s_j[t - 1 - D_{ij}] + b_i

    Parameters
    ----------
    weight : float array (n_out, n_in)
        Float dtype kept as given; integer input becomes float64.
    bias : float array (n_out,), optional
        Added to the current every step (a scalar broadcasts).
    delay : int array (n_out, n_in), optional
        Extra steps ``D >= 0`` on top of the hop's one step (a scalar broadcasts); ``None`` is 0.
    """

    weight: FloatArray = field(metadata=_rule(_Array("float", 2)))
    bias: FloatArray | None = field(
        default=None,
        metadata=_rule(_Array("float", 1, shape=lambda n: (n.weight.shape[0],), optional=True)),
    )
    delay: IntArray | None = field(
        default=None,
        metadata=_rule(_Array("int", 2, shape=lambda n: n.weight.shape, optional=True, lo=0)),
    )

    kind: ClassVar[str] = "Dense"

    @property
    def n_in(self) -> int:
        """Number of source channels (columns of ``weight``)."""
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        """Number of target neurons (rows of ``weight``)."""
        return int(self.weight.shape[0])

    @property
    def max_delay(self) -> int:
        """Largest extra delay (0 without delays)."""
        return 0 if self.delay is None or self.delay.size == 0 else int(self.delay.max())


@dataclass(frozen=True, eq=False, repr=False)
class CubaLIF(Node):
    """A current-based leaky integrate-and-fire population, in discrete time.

    In the order Lava's LIF applies them at each step ``t``::

        u[t] = (1 - current_decay) * u[t-1] + I[t]
        v[t] = (1 - voltage_decay) * v[t-1] + u[t] + bias
        s[t] = v[t] > threshold            (v[t] >= threshold when compare='>=')
        v[t] = 0               where s[t]  (reset='zero': u is kept)
        v[t] = v[t] - threshold where s[t] (reset='subtract')

    where ``I[t]`` is the sum of the incoming :class:`Dense` outputs (each ``W s_in[t-1]`` plus
    its bias). ``current_decay=1`` makes ``u[t] = I[t]`` (no synaptic memory); see :func:`LIF` and
    :func:`IF`.

    Parameters
    ----------
    size : int
        Number of neurons (>= 1).
    current_decay, voltage_decay : float in [0, 1]
        Fraction of u (of v) lost per step.
    threshold : float > 0
        Firing threshold, one per layer.
    bias : float array (size,)
        Added to v every step (a scalar broadcasts; default 0). Float dtype kept as given.
    reset : Reset or 'zero' | 'subtract'
    compare : Compare or '>' | '>='
    """

    size: int = field(metadata=_rule(_Int(1)))
    current_decay: float = field(metadata=_rule(_Real(0.0, 1.0)))
    voltage_decay: float = field(metadata=_rule(_Real(0.0, 1.0)))
    threshold: float = field(metadata=_rule(_Real(0.0, math.inf, lo_open=True)))
    bias: FloatArray = field(
        default=0.0,  # type: ignore[arg-type]  # broadcast to (size,)
        metadata=_rule(_Array("float", 1, shape=lambda n: (n.size,))),
    )
    reset: Reset = field(default=Reset.ZERO, metadata=_rule(_Choice(Reset)))
    compare: Compare = field(default=Compare.GT, metadata=_rule(_Choice(Compare)))

    kind: ClassVar[str] = "CubaLIF"


def LIF(  # noqa: N802 - named after the neuron model, like the classes
    size: int,
    voltage_decay: float,
    threshold: float,
    bias: npt.ArrayLike = 0.0,
    reset: Reset | str = Reset.ZERO,
    compare: Compare | str = Compare.GT,
) -> CubaLIF:
    """A leaky integrate-and-fire population: :class:`CubaLIF` with ``current_decay=1``
    (``u[t] = I[t]``, so ``v[t] = (1 - voltage_decay) v[t-1] + I[t] + bias``)."""
    return CubaLIF(size, 1.0, voltage_decay, threshold, bias, reset, compare)  # type: ignore[arg-type]


def IF(  # noqa: N802 - named after the neuron model, like the classes
    size: int,
    threshold: float,
    bias: npt.ArrayLike = 0.0,
    reset: Reset | str = Reset.ZERO,
    compare: Compare | str = Compare.GT,
) -> CubaLIF:
    """An integrate-and-fire population: :class:`CubaLIF` with ``current_decay=1`` and
    ``voltage_decay=0`` (``v[t] = v[t-1] + I[t] + bias``)."""
    return CubaLIF(size, 1.0, 0.0, threshold, bias, reset, compare)  # type: ignore[arg-type]


NODE_TYPES: dict[str, type[Node]] = {cls.kind: cls for cls in (Input, Dense, CubaLIF)}
"""Node class by its ``kind`` name (what files store)."""
