"""The safe YAML loader kokuho reads its rule and data files with (``SafeYamlLoader``).

It also refuses a document whose aliases expand past :data:`MAX_EXPANDED_NODES` values (a
"billion laughs": nine lines of anchors and aliases are 10**9 values to every reader that walks
them, and ``kokuho data unconfirmed`` ran for ever on such a local copy), whether it is loaded
or only composed into nodes (``load_yaml``, ``compose_yaml``: the readers' one way in).
Anchors themselves, which the shipped files use for repeated sources, are fine.

PyYAML's safe loader turns an unquoted ``2021-02-30`` or ``0000-01-01`` into a date by calling
``datetime.date``, whose ``ValueError`` is not a ``yaml.YAMLError``: the readers, which report a
``YAMLError`` as the file's problem with its line, let it through as an internal error. This
loader raises a ``ConstructorError`` at the scalar instead, so an impossible date in a rule file
(規則ファイル) is refused naming the file and the line like any other YAML mistake.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["SafeYamlLoader", "compose_yaml", "load_yaml"]

try:  # libyaml's parser when PyYAML was built with it (several times faster)
    from yaml import CSafeLoader as _Base
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Base  # type: ignore[assignment]


#: The values a document may expand to through its aliases (the largest shipped file has a
#: few thousand).
MAX_EXPANDED_NODES = 1_000_000


class SafeYamlLoader(_Base):
    """``yaml.CSafeLoader`` (or ``SafeLoader``) whose impossible dates are YAML errors and whose
    aliases may not expand a document past :data:`MAX_EXPANDED_NODES` values."""

    def get_single_node(self) -> Node | None:
        """The document's root node, refused when its aliases expand it too far: ``yaml.load``
        and ``yaml.compose`` (the node-by-node readers) both come here."""
        node: Node | None = super().get_single_node()
        if node is not None and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise ConstructorError(
                None, None,
                f"its aliases expand it past {MAX_EXPANDED_NODES:,} values",
                node.start_mark,
            )  # fmt: skip
        return node


class _Named(io.StringIO):
    """The text of a file, with the file's name, which PyYAML's marks (and so every YAML
    error's message) then name instead of ``<unicode string>``."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def load_yaml(text: str, name: str) -> Any:
    """The YAML ``text`` of the file ``name`` read with :class:`SafeYamlLoader`: every reader
    of kokuho's YAML goes through here or :func:`compose_yaml` (tests/test_yaml_readers.py)."""
    return yaml.load(_Named(text, name), Loader=SafeYamlLoader)  # noqa: S506 (a safe loader)


def compose_yaml(text: str, name: str) -> Node | None:
    """The root node of the YAML ``text`` of the file ``name`` (None when it is empty), under
    the same limit as :func:`load_yaml`: a node-by-node reader walks every alias too."""
    return yaml.compose(_Named(text, name), Loader=SafeYamlLoader)


def _expanded_size(root: Node) -> int:
    """How many values the document is once every alias is replaced by what it names: each
    node's size once (memoised by identity), without recursion (a deep document is no error
    here). A recursive alias counts once."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            continue
        children = _children(node)
        if children_done:
            sizes[key] = min(1 + sum(sizes.get(id(c), 1) for c in children), 1 << 62)
            continue
        sizes[key] = 1  # seen: an alias back to an ancestor counts once
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _timestamp(loader: SafeYamlLoader, node: yaml.ScalarNode) -> dt.date | dt.datetime:
    try:
        value: dt.date | dt.datetime = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as error:
        reason = f"{node.value!r} is not a date ({error})"
        raise ConstructorError(None, None, reason, node.start_mark) from None
    return value


SafeYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
