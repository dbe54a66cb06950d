"""The graph half of a Tensor: its label and creation number, and read-only views of the
fields of the Node that made it.
"""

from __future__ import annotations

from autograd_lite.backward import FREED, Node
from autograd_lite.values import Values


def _node_field(name: str, doc: str) -> property:
    """A read-only Tensor property that reads field `name` of the tensor's Node."""
    def get(self):
        node = self._node
        return None if node is None else getattr(node, name)
    return property(get, doc=doc)


class Graphed(Values):
    """What a Tensor tells of its place in the graph (fields kept by its Node, if any)."""

    __slots__ = ()  # (declared by Values)

    @property
    def label(self) -> str | None:
        node = self._node
        return self._label if node is None else node.label

    @label.setter
    def label(self, value) -> None:
        node = self._node
        if node is None:
            self._label = value
            return
        node.label = value
        if value and node.output is None and node.input_data is not FREED:
            node.output = self._data  # a named value stays readable through the graph

    @property
    def seq(self) -> int:
        node = self._node
        return self._seq if node is None else node.seq

    @property
    def node(self) -> Node | None:
        """The Node that made this tensor (None for a leaf)."""
        return self._node

    creator = _node_field("creator", "The Op that made this tensor (None for a leaf).")
    attrs = _node_field("attrs", "The op's attributes (axis=..., shape=...), or None.")
    saved = _node_field("saved", "What a fused forward kept for its backward, or None.")

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (None for a leaf)."""
        node = self._node
        return None if node is None else node.creator.name
