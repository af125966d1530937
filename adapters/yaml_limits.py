"""A YAML loader with limits: aliases may not expand without bound, refer to themselves or nest too deep.

YAML aliases make a document a graph: nine anchors of nine aliases each (a "billion laughs") are
a few hundred bytes that every walk over the loaded data sees as 9⁹ mappings, and an anchor used
inside itself is a cycle that every walk recurses into until Python gives up. Both are refused
here, on the composed node graph, before any Python object is built; so is nesting deeper than
any configuration needs (PyYAML's composer recurses once per level).
"""

from __future__ import annotations

import yaml

__all__ = ["BoundedLoader", "MAX_NODES", "MAX_DEPTH", "safe_load"]

#: Most nodes of a document with every alias expanded: a project configuration has a few hundred.
MAX_NODES = 100_000
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 100


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing documents whose aliases expand beyond :data:`MAX_NODES` nodes,
    that refer to themselves, or that nest deeper than :data:`MAX_DEPTH` (a ``yaml.YAMLError``)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        """Compose one node, counting how deep it is nested."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        """Compose a document and check its size with every alias expanded."""
        node = super().compose_document()
        _check_expanded(node)
        return node


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expanded(root: yaml.Node | None) -> None:
    # Post-order walk without recursion; each node is sized once (an alias is the same node object),
    # so this costs the document's size, not its expanded size.
    if root is None:
        return
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"aliases expand this to more than {MAX_NODES:,} values (an alias bomb?)",
                    node.start_mark)
            continue
        if key in sizes:
            continue
        if key in on_path:  # met again below itself: an anchor used inside its own value
            raise yaml.composer.ComposerError(None, None, "an alias refers to a value that contains it "
                                              "(a recursive alias)", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def safe_load(text: str):
    """Load one YAML document as ``yaml.safe_load`` does, with the limits of :class:`BoundedLoader`.

    Parameters
    ----------
    text : str
        The document.

    Returns
    -------
    object
        The loaded data.

    Raises
    ------
    yaml.YAMLError
        If the text is not YAML or breaks a limit.
    """
    return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
