"""The table of IR node kinds: kind name -> node class (what ``.lbir`` files store)."""

from __future__ import annotations

from lavabridge.ir.nodes import CubaLIF, Dense, Input, Node
from lavabridge.ir.spatial import AvgPool2d, Conv2d, SumPool2d

NODE_TYPES: dict[str, type[Node]] = {
    cls.kind: cls for cls in (Input, Dense, Conv2d, SumPool2d, AvgPool2d, CubaLIF)
}
"""Node class by its ``kind`` name (what files store)."""
