"""What is wrong with a レセ電 file or a master file: file, line, field and reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kokuho.store import FileTooLarge, shown_text

#: At most this many problems are kept per rejection; ``total`` still counts them all.
MAX_PROBLEMS: Final = 200


@dataclass(frozen=True, slots=True)
class ClaimProblem:
    """One thing wrong: ``field`` is the 1-based field (項目) number of the record (0 when the
    problem is the whole line or file) and ``name`` its name in the 記録条件仕様."""

    file: str
    line: int  # 1-based; 0 = the file as a whole
    field: int
    name: str
    reason: str

    def __str__(self) -> str:
        # The file name (a clinic's choice) and the reason (it may quote a field's text):
        # shown with what a terminal would act on escaped.
        file, reason = shown_text(self.file), shown_text(self.reason)
        where = f"{file}:{self.line}" if self.line else file
        if self.field:
            return f"{where}: ({self.field}) {self.name}: {reason}"
        if self.name:
            return f"{where}: {self.name}: {reason}"
        return f"{where}: {reason}"


def _summary(problems: Sequence[ClaimProblem], total: int) -> str:
    shown = "; ".join(str(p) for p in problems[:3])
    more = f" (and {total - 3} more)" if total > 3 else ""
    return f"{total} problem(s): {shown}{more}"


class ClaimFileRejected(ValueError):
    """A レセ電 file (or a set of them) was refused whole; ``problems`` lists what was found
    wrong (at most ``MAX_PROBLEMS``), ``total`` how many there were."""

    def __init__(self, problems: Sequence[ClaimProblem], total: int | None = None) -> None:
        self.problems = list(problems[:MAX_PROBLEMS])
        self.total = len(problems) if total is None else max(total, len(self.problems))
        super().__init__(_summary(self.problems, self.total))


class MasterFileRejected(ValueError):
    """A master file (医薬品マスター, 傷病名マスター, the MHLW 後発 list) could not be read;
    ``problems`` say where (the line is the CSV line or the sheet row)."""

    def __init__(self, problems: Sequence[ClaimProblem], total: int | None = None) -> None:
        self.problems = list(problems[:MAX_PROBLEMS])
        self.total = len(problems) if total is None else max(total, len(self.problems))
        super().__init__(_summary(self.problems, self.total))


def too_large(path: Path, large: FileTooLarge) -> ClaimProblem:
    """The problem of a file over ``_lake.MAX_FILE_BYTES``: the file and the cap."""
    return ClaimProblem(str(path), 0, 0, "file", f"{large}, the cap of a レセ電 file")


def in_call_order(problems: list[ClaimProblem], paths: Sequence[Path]) -> list[ClaimProblem]:
    """``problems`` by the position of their file in the call (each file's in their order)."""
    position = {str(Path(p)): n for n, p in reversed(list(enumerate(paths)))}
    return sorted(problems, key=lambda p: position.get(p.file, len(position)))
