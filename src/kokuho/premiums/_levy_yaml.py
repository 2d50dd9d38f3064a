"""Reading the levy YAML files (rule file, inputs) node by node, so every problem names the
file, the line and the dotted field, and numbers are read from their text (Decimal, never
float). Keys form a closed set: an unknown key is an error, not ignored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

from kokuho.store import DataFileError, FileProblem, YamlNode, data_text


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


#: The largest whole number a levy file may hold: 10**15 - 1 yen is a thousand times Japan's
#: yearly medical spending (about 4.5 × 10**13 yen), and the inputs' ``adjustment`` goes as low
#: as -(10**15).
MAX_INTEGER: Final = 10**15 - 1


#: The lowest 標準的な収納率 a levy file may give: a typo guard, as β ≤ 5 and the index ≤ 10 are
#: (現年分 収納率 of municipal 国保 are near 0.9; 1e-30 was taken and divided the 保険料収納必要額
#: into a 均等割 of 10**34 yen).
LOWEST_COLLECTION_RATE: Final = Decimal("0.5")


def parse_document(text: str, file: str) -> Node:
    """The root node of the YAML ``text`` of ``file`` (which must be a mapping)."""
    return Node.compose(text, file)


class Node(YamlNode):
    """A node of a levy file: its problems raise ``LevyFileError``; numbers are Decimal."""

    @classmethod
    def fail(cls, problem: FileProblem) -> LevyFileError:
        return LevyFileError(problem.file, problem.line, problem.field, problem.reason)

    def decimal(
        self, *, low: Decimal, high: Decimal | None = None, open_low: bool = False
    ) -> Decimal:
        """A number read from its text, within [low, high] (or (low, high] with ``open_low``)."""
        raw = str(self._scalar().value).strip().replace("_", "")
        try:
            # Decimal reads every Unicode digit (٣, 𝟑): only ASCII and full-width ones are yen.
            if any(not c.isascii() and not "０" <= c <= "９" for c in raw):
                raise InvalidOperation
            value = Decimal(raw)
        except InvalidOperation:
            raise self.error(f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise self.error(f"{raw!r} is not a number")
        shown = f"{value:.6E}" if len(str(value)) > 40 else str(value)  # 1e999999 or longer
        if value < low or (open_low and value == low):
            raise self.error(f"{shown} must be {'>' if open_low else '≥'} {low}")
        if high is not None and value > high:
            raise self.error(f"{shown} must be ≤ {high}")
        return value

    def integer(self, *, low: int = 0, high: int = MAX_INTEGER) -> int:
        """A whole number from ``low`` to ``high`` (yen, persons): ``1_234`` and ``1234`` are
        read, ``12.5`` is refused. The default ``high`` keeps a typo such as ``1e999999`` from
        becoming an int of a million digits (slow to compute with, and past what Python will
        print)."""
        value = self.decimal(low=Decimal(low), high=Decimal(high))
        if value != value.to_integral_value():
            raise self.error(f"{value} is not a whole number")
        return int(value)
