"""One problem of a data file a user gives (file, YAML line, dotted field, reason) and the error
that carries them: the shape every rule-file reader reports in, so every room says it alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kokuho.store._shown import shown_text

_SHOWN = 5


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One problem of a file: the file, the line (0 when unknown), the dotted path of the field,
    and the reason."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        # File name and reason come from outside (a sender's name, a value of the file): shown
        # with what a terminal would act on escaped.
        file = shown_text(self.file)
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {shown_text(self.field)}: {shown_text(self.reason)}"


class FileProblemsError(ValueError):
    """A file that cannot be used; ``problems`` name file, line and field (the first five are
    in the message)."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:_SHOWN])
        extra = len(self.problems) - _SHOWN
        more = f" (and {extra} more)" if extra > 0 else ""
        super().__init__(shown + more)
