"""What is wrong with a 介護 file: file, line, field and reason (``kokuho.store.FileProblem``)."""

from __future__ import annotations

from collections.abc import Sequence

from kokuho.store import FileProblem, FileProblemsError


def field_label(number: int, name: str) -> str:
    """How a problem names a field of a record: ``(5) 被保険者番号``."""
    return f"({number}) {name}" if number else name


class CareFileRejected(FileProblemsError):
    """A 介護給付費明細書 file or a 要介護認定 file (or several) was refused whole: nothing was
    written. ``problems`` name file, line and field."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        super().__init__(problems)
