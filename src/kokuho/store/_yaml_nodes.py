"""Rule files read node by node, so that every problem names the file, the line and the dotted
field (``FileProblem``). Keys form a closed set where the reader says so: a misspelt key must not
silently drop a rule. Subclasses add the value readers their files need and may say which
error a problem raises (``fail``)."""

from __future__ import annotations

from typing import Final, Self

import yaml

from kokuho.store._problems import FileProblem, FileProblemsError
from kokuho.store._yaml_loader import compose_yaml

_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"


class YamlNode:
    """One YAML node and where it is (file, line, dotted path)."""

    def __init__(self, node: yaml.Node, file: str, path: str) -> None:
        self.node, self.file, self.path = node, file, path

    @classmethod
    def fail(cls, problem: FileProblem) -> Exception:
        """The error ``problem`` raises (``FileProblemsError`` unless a subclass says other)."""
        return FileProblemsError([problem])

    @classmethod
    def compose(cls, text: str, file: str) -> Self:
        """The root node of the YAML ``text`` of ``file``, which must be a mapping."""
        try:
            root = compose_yaml(text, file)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            reason = str(getattr(error, "problem", None) or error).splitlines()[0]
            where = mark.line + 1 if mark else 0
            raise cls.fail(FileProblem(file, where, "(yaml)", reason)) from None
        if root is None:
            raise cls.fail(FileProblem(file, 1, "(top)", "the file is empty"))
        node = cls(root, file, "")
        node.mapping()
        return node

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, reason: str) -> Exception:
        return self.fail(FileProblem(self.file, self.line, self.path or "(top)", reason))

    def _child(self, node: yaml.Node, key: str | int) -> Self:
        if isinstance(key, int):
            return type(self)(node, self.file, f"{self.path}[{key}]")
        return type(self)(node, self.file, f"{self.path}.{key}" if self.path else key)

    def mapping(self, allowed: frozenset[str] | None = None) -> dict[str, Self]:
        """The children of a mapping; a duplicate or (with ``allowed``) unknown key is refused."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error("expected a mapping")
        out: dict[str, Self] = {}
        for key, value in self.node.value:
            name = str(key.value)
            child = self._child(value, name)
            line = key.start_mark.line + 1
            if name in out:
                raise self.fail(FileProblem(self.file, line, child.path, "listed twice"))
            if allowed is not None and name not in allowed:
                known = ", ".join(sorted(allowed))
                reason = f"unknown key (known: {known})"
                raise self.fail(FileProblem(self.file, line, child.path, reason))
            out[name] = child
        return out

    def sequence(self) -> list[Self]:
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
