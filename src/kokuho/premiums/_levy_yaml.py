"""Reading the levy YAML files (rule file, inputs) node by node, so every problem names the
file, the line and the dotted field, and numbers are read from their text (Decimal, never
float). Keys form a closed set: an unknown key is an error, not ignored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

import yaml

from kokuho.store import DataFileError, data_text

_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"


class LevyFileError(ValueError):
    """A levy rule or input file that cannot be used: ``file:line: field: reason``."""

    def __init__(self, file: str, line: int, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {reason}")


def shipped_text(relative: str) -> str:
    """The text of data file ``relative`` (its local copy when there is one); a copy that
    cannot be read is a LevyFileError like any other problem."""
    try:
        return data_text(relative)
    except DataFileError as error:
        raise LevyFileError(str(error.path), error.line, "(file)", error.reason) from None


def parse_document(text: str, file: str) -> Node:
    """The root node of the YAML ``text`` of ``file`` (which must be a mapping)."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise LevyFileError(file, mark.line + 1 if mark else 0, "(yaml)", str(reason)) from None
    if root is None:
        raise LevyFileError(file, 1, "(top)", "the file is empty")
    node = Node(root, file, "")
    node.mapping()
    return node


class Node:
    """One YAML node and where it is (file, line, dotted path)."""

    def __init__(self, node: yaml.Node, file: str, path: str) -> None:
        self.node, self.file, self.path = node, file, path

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, reason: str) -> LevyFileError:
        return LevyFileError(self.file, self.line, self.path or "(top)", reason)

    def _child(self, node: yaml.Node, key: str | int) -> Node:
        if isinstance(key, int):
            return Node(node, self.file, f"{self.path}[{key}]")
        return Node(node, self.file, f"{self.path}.{key}" if self.path else key)

    def mapping(self, allowed: frozenset[str] | None = None) -> dict[str, Node]:
        """The children of a mapping; a duplicate or (with ``allowed``) unknown key is refused."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("expected a mapping")
        out: dict[str, Node] = {}
        for key, value in self.node.value:
            name = str(key.value)
            child = self._child(value, name)
            if name in out:
                raise LevyFileError(self.file, key.start_mark.line + 1, child.path, "listed twice")
            if allowed is not None and name not in allowed:
                known = ", ".join(sorted(allowed))
                raise LevyFileError(
                    self.file, key.start_mark.line + 1, child.path, f"unknown key (known: {known})"
                )
            out[name] = child
        return out

    def sequence(self) -> list[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error("expected a list")
        return [self._child(item, index) for index, item in enumerate(self.node.value)]

    def _scalar(self) -> yaml.ScalarNode:
        if not isinstance(self.node, yaml.ScalarNode) or self.node.tag == _NULL:
            raise self.error("expected a value")
        return self.node

    def text(self) -> str:
        value = str(self._scalar().value).strip()
        if not value:
            raise self.error("must not be empty")
        return value

    def boolean(self) -> bool:
        scalar = self._scalar()
        if scalar.tag != _BOOL:
            raise self.error("expected true or false")
        return str(scalar.value).lower() in ("true", "yes", "on")

    def decimal(
        self, *, low: Decimal, high: Decimal | None = None, open_low: bool = False
    ) -> Decimal:
        """A number read from its text, within [low, high] (or (low, high] with ``open_low``)."""
        raw = str(self._scalar().value).strip().replace("_", "")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self.error(f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise self.error(f"{raw!r} is not a number")
        if value < low or (open_low and value == low):
            raise self.error(f"{value} must be {'>' if open_low else '≥'} {low}")
        if high is not None and value > high:
            raise self.error(f"{value} must be ≤ {high}")
        return value

    def integer(self, *, low: int = 0) -> int:
        """A whole number ≥ ``low`` (yen, persons): ``1_234`` and ``1234`` are read, ``12.5`` is
        refused."""
        value = self.decimal(low=Decimal(low))
        if value != value.to_integral_value():
            raise self.error(f"{value} is not a whole number")
        return int(value)
