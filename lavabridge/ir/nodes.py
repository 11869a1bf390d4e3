"""Float IR nodes: frozen, typed descriptions of a network's parts, in discrete time.

A node *describes* its parameters; it never runs. Each node class has a ``kind`` (its name in
files and dispatch tables) and a ``role``: ``"input"``, ``"synapse"`` (a :class:`Synapse`:
spikes to currents, one step of latency) or ``"neuron"`` (a :class:`Neuron` population); the graph
connects nodes by role, so a new synapse or neuron kind needs no change to it.

Every node is a frozen dataclass whose fields are checked and normalised in ``__post_init__`` by
one shared routine (:func:`lavabridge.ir.fields.validate`) reading a per-field rule from the
field's metadata: the rules are declared once, next to the field, and ``dataclasses.replace`` /
:meth:`Node.with_` re-validate. Arrays are stored as read-only copies; a node cannot be changed
after construction, only replaced.

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
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from lavabridge.ir.fields import Array, Choice, Int, Real, rule, same, validate
from lavabridge.semantics import Compare, InputKind, Reset

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.int64]

_N = TypeVar("_N", bound="Node")

ROLES = ("input", "synapse", "neuron")
MAX_DELAY = 1 << 16  # IR delays: far beyond Loihi's 62, small enough for a delay line


def _rebuild(cls: type[_N], values: dict[str, Any]) -> _N:
    return cls(**values)


# ----------------------------------------------------------------------------- nodes
@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """Base of every IR node (not instantiable). Frozen; compare with ``==`` (same type, dtypes
    and values). Unhashable, as its arrays are."""

    kind: ClassVar[str] = "Node"
    role: ClassVar[str] = ""  # "input" | "synapse" | "neuron": what the graph may connect it to

    def __post_init__(self) -> None:
        if "kind" not in type(self).__dict__ or type(self).role not in ROLES:
            raise TypeError(f"{type(self).__name__} is abstract: use Input, Dense, CubaLIF, ...")
        validate(self)
        self.check()

    def check(self) -> None:
        """Checks across fields, after each field's own rule (none by default)."""

    def with_(self: _N, **changes: Any) -> _N:
        """A copy with ``changes`` applied, validated again (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def params(self) -> dict[str, Any]:
        """Field name -> value, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(same(getattr(self, k), getattr(other, k)) for k in self.params())

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

    size: int = field(metadata=rule(Int(1)))
    mode: InputKind = field(default=InputKind.SPIKES, metadata=rule(Choice(InputKind)))
    gain: float = field(default=1.0, metadata=rule(Real(0.0, math.inf, lo_open=True)))

    kind: ClassVar[str] = "Input"
    role: ClassVar[str] = "input"


@dataclass(frozen=True, eq=False, repr=False)
class Synapse(Node):
    """Base of the synapse role: carries spikes of ``n_in`` sources to currents of ``n_out``
    neurons (not instantiable). Every synapse kind defines :attr:`n_in` and :attr:`n_out`."""

    role: ClassVar[str] = "synapse"

    @property
    def n_in(self) -> int:
        """Number of source channels."""
        raise NotImplementedError

    @property
    def n_out(self) -> int:
        """Number of target neurons."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False, repr=False)
class Neuron(Node):
    """Base of the neuron role: a population of ``size`` neurons (not instantiable)."""

    size: int = field(metadata=rule(Int(1)))

    role: ClassVar[str] = "neuron"


@dataclass(frozen=True, eq=False, repr=False)
class Dense(Synapse):
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
        Extra steps ``0 <= D <= 65536`` on top of the hop's one step (a scalar broadcasts);
        ``None`` is 0. (Loihi holds at most 62; the bound keeps a delay line allocatable.)
    """

    weight: FloatArray = field(metadata=rule(Array("float", 2)))
    bias: FloatArray | None = field(
        default=None,
        metadata=rule(Array("float", 1, shape=lambda n: (n.weight.shape[0],), optional=True)),
    )
    delay: IntArray | None = field(
        default=None,
        metadata=rule(
            Array("int", 2, shape=lambda n: n.weight.shape, optional=True, lo=0, hi=MAX_DELAY)
        ),
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
class CubaLIF(Neuron):
    """A current-based leaky integrate-and-fire population, in discrete time.

    In the order Lava's LIF applies them at each step ``t``::

        u[t] = (1 - current_decay) * u[t-1] + I[t]
        w[t] = (1 - voltage_decay) * v[t-1] + u[t] + bias      (bias: only for t >= bias_start)
        s[t] = w[t] > threshold            (w[t] >= threshold when compare='>=')
        v[t] = 0               where s[t]  (reset='zero': u is kept)
        v[t] = w[t] - threshold where s[t] (reset='subtract')

    and the other resets of :class:`~lavabridge.semantics.Reset` (``none``, and snnTorch's
    ``zero-next``, ``subtract-next``, ``subtract-guarded``), where ``I[t]`` is the sum of the
    incoming synapse outputs (each ``W s_in[t-1]`` plus its bias, the bias also only from
    ``bias_start``). ``current_decay=1`` makes ``u[t] = I[t]`` (no synaptic memory); see
    :func:`LIF` and :func:`IF`.

    ``bias_start`` aligns a layer imported from a framework that propagates within a step: the
    layer's first input arrives after its synaptic hops (its latency), and its biases start
    with it, so it computes the source layer's steps shifted by exactly that latency.

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
    reset : Reset or 'zero' | 'subtract' | 'none' | 'zero-next' | 'subtract-next' | 'subtract-guarded'
    compare : Compare or '>' | '>='
    bias_start : int >= 0
        The first step at which the biases act (0: from the start).
    """

    current_decay: float = field(metadata=rule(Real(0.0, 1.0)))
    voltage_decay: float = field(metadata=rule(Real(0.0, 1.0)))
    threshold: float = field(metadata=rule(Real(0.0, math.inf, lo_open=True)))
    bias: FloatArray = field(
        default=0.0,  # type: ignore[arg-type]  # broadcast to (size,)
        metadata=rule(Array("float", 1, shape=lambda n: (n.size,))),
    )
    reset: Reset = field(default=Reset.ZERO, metadata=rule(Choice(Reset)))
    compare: Compare = field(default=Compare.GT, metadata=rule(Choice(Compare)))
    bias_start: int = field(default=0, metadata=rule(Int(0)))

    kind: ClassVar[str] = "CubaLIF"


def LIF(  # noqa: N802 - named after the neuron model, like the classes
    size: int,
    voltage_decay: float,
    threshold: float,
    bias: npt.ArrayLike = 0.0,
    reset: Reset | str = Reset.ZERO,
    compare: Compare | str = Compare.GT,
    bias_start: int = 0,
) -> CubaLIF:
    """A leaky integrate-and-fire population: :class:`CubaLIF` with ``current_decay=1``
    (``u[t] = I[t]``, so ``v[t] = (1 - voltage_decay) v[t-1] + I[t] + bias``)."""
    return CubaLIF(size, 1.0, voltage_decay, threshold, bias, reset, compare, bias_start)  # type: ignore[arg-type]


def IF(  # noqa: N802 - named after the neuron model, like the classes
    size: int,
    threshold: float,
    bias: npt.ArrayLike = 0.0,
    reset: Reset | str = Reset.ZERO,
    compare: Compare | str = Compare.GT,
    bias_start: int = 0,
) -> CubaLIF:
    """An integrate-and-fire population: :class:`CubaLIF` with ``current_decay=1`` and
    ``voltage_decay=0`` (``v[t] = v[t-1] + I[t] + bias``)."""
    return CubaLIF(size, 1.0, 0.0, threshold, bias, reset, compare, bias_start)  # type: ignore[arg-type]
