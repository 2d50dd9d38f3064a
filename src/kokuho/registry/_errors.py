from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row or file problem: where it is and why. ``line`` 0 means the whole file."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class FileRejected(Exception):
    """A file that changed nothing because of the errors it carries."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        first = errors[0] if errors else "no details"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}")
