"""Dispatch tables: every stage maps a node kind to the small function that handles it.

A stage (the float interpreter, the quantizer, the golden emulator, the Lava builders, the netx
reader and writer, the file serializers) keeps one :class:`Table` per role. Adding a layer or
neuron kind means adding one entry per table; a kind a stage does not know is refused with
:class:`~lavabridge.errors.UnsupportedError` naming the node, the stage and the supported kinds,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from lavabridge.errors import UnsupportedError

V = TypeVar("V")


def kind_name(key: Any) -> str:
    """The name a table shows for a key: a class's ``kind`` (or its name), else ``str(key)``."""
    if isinstance(key, type):
        return str(getattr(key, "kind", key.__name__))
    return str(key)


class Table(Generic[V]):
    """A read-only mapping ``key -> handler`` of one stage.

    Parameters
    ----------
    stage : str
        The stage's name, as errors show it (e.g. ``"golden emulator"``).
    entries : mapping
        Keys are node classes (looked up by the exact type of a node, then along its MRO) or
        names (e.g. netx layer types).
    """

    def __init__(self, stage: str, entries: Mapping[Any, V]) -> None:
        self.stage = stage
        self._entries = dict(entries)

    @property
    def supported(self) -> tuple[str, ...]:
        """The kinds this table handles, sorted."""
        return tuple(sorted(kind_name(k) for k in self._entries))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Any]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def refuse(self, where: str, kind: str) -> UnsupportedError:
        """The error for an unknown ``kind`` at ``where`` (a node, layer or file position)."""
        return UnsupportedError(
            f"{where}: the {self.stage} does not support {kind!r} "
            f"(supported: {', '.join(self.supported)})",
            node=where,
            stage=self.stage,
            supported=self.supported,
        )

    def get(self, key: Any, where: str) -> V:
        """The handler of ``key``; :meth:`refuse` when there is none."""
        try:
            return self._entries[key]
        except (KeyError, TypeError):
            raise self.refuse(where, kind_name(key)) from None

    def of(self, node: object, where: str) -> V:
        """The handler of ``node``'s class (exact type first, then its base classes)."""
        for cls in type(node).__mro__:
            if cls in self._entries:
                return self._entries[cls]
        raise self.refuse(where, kind_name(type(node)))
