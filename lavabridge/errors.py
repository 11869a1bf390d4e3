"""Typed exceptions of lavabridge.

Every error names what is wrong (the layer, parameter or file) and what is allowed, so a user can
act on one line of output. All inherit from :class:`LavaBridgeError`.
"""

from __future__ import annotations

from collections.abc import Sequence


class LavaBridgeError(Exception):
    """Base class of every error lavabridge raises on purpose."""


class ValidationError(LavaBridgeError, ValueError):
    """A model, graph or parameter is outside what lavabridge or the target allows.

    Parameters
    ----------
    where : str
        The node, layer or file the value belongs to (e.g. ``"layer 'fc1' (QCubaLIF)"``).
    param : str
        The parameter's name (e.g. ``"du"``).
    problem : str
        What is wrong and what is allowed.
    """

    def __init__(self, where: str, param: str, problem: str) -> None:
        self.where = where
        self.param = param
        self.problem = problem
        super().__init__(f"{where}: {param}: {problem}")


class UnsupportedError(LavaBridgeError, NotImplementedError):
    """A construct exists in the source but this path cannot express it exactly.

    Raised instead of dropping or approximating a semantic silently.

    Parameters
    ----------
    message : str
        What is refused, and what to do instead.
    node : str, optional
        The node, layer or module it concerns (e.g. ``"node 'fc1' (Dense)"``).
    stage : str, optional
        The stage that refuses (e.g. ``"golden emulator"``, ``"netx writer"``).
    supported : sequence of str
        What that stage supports instead (e.g. the node kinds of its dispatch table).
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        stage: str | None = None,
        supported: Sequence[str] = (),
    ) -> None:
        self.node = node
        self.stage = stage
        self.supported = tuple(supported)
        super().__init__(message)


class InputError(LavaBridgeError, ValueError):
    """The input data (spikes, biases, files) has the wrong shape, dtype or values."""


class ModelFileError(LavaBridgeError, OSError):
    """A model file is missing, unreadable, or not in a format lavabridge knows."""


class LavaRuntimeError(LavaBridgeError, RuntimeError):
    """Lava failed to compile, run or stop a process graph."""
