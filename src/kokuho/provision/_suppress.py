"""最小集計単位の原則: hide every count from 1 to 9, then hide more until no hidden count can be
worked back from the totals (一次秘匿 and 二次秘匿).

The rule (匿名レセプト情報等の提供に関するガイドライン, https://wic-net.com/material/document/9855/38;
incentives-grants-premiums.md §6): no published cell may count fewer than 10 patients; a count
of 0 may be shown. Row totals, column totals and the grand total are cells like any other.

Hiding the small cells alone is not enough: a row with one hidden cell and a shown total gives
it away by subtraction, and so can subtler combinations (two hidden cells in a row whose total
leaves room for 1 + 1 only). So after the primary suppression, as long as :func:`pinned` finds
a hidden cell the shown figures determine, one more cell of its row or column is hidden (the
choice is :func:`_partner`'s) and the test is repeated: a fixed point, reached because every
round hides one more cell, and safe because the test is exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from kokuho.provision._network import Cell, pinned

#: 最小集計単位: the smallest patient count a published cell may show (0 excepted).
MINIMUM_CELL = 10


class NotAdditiveError(ValueError):
    """A person falls into two cells of one table: its totals would not be sums of its cells,
    and secondary suppression, which reasons from sums, would not protect it."""


@dataclass(frozen=True, slots=True)
class CountTable:
    """Patient counts by row and column, each person in exactly one cell (集計表)."""

    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.row_labels) or any(
            len(row) != len(self.column_labels) for row in self.counts
        ):
            raise ValueError("counts must have one row per row label, one value per column")
        if any(count < 0 for row in self.counts for count in row):
            raise ValueError("counts must not be negative")

    def values(self) -> dict[Cell, int]:
        """Every cell with the totals: (i, -1) row totals, (-1, j) column totals, (-1, -1)."""
        out: dict[Cell, int] = {}
        for i, row in enumerate(self.counts):
            for j, count in enumerate(row):
                out[(i, j)] = count
            out[(i, -1)] = sum(row)
        for j in range(len(self.column_labels)):
            out[(-1, j)] = sum(row[j] for row in self.counts)
        out[(-1, -1)] = sum(map(sum, self.counts))
        return out


def count_persons(
    records: Iterable[tuple[Hashable, str, str]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
) -> CountTable:
    """集計: distinct persons per (row, column) from ``(person, row, column)`` records, e.g.
    (pseudonymous id, age band, sex). A person met in two cells is refused (NotAdditiveError);
    a row or column label not in the lists is refused too, so no one drops out of the totals."""
    cell_of: dict[Hashable, tuple[str, str]] = {}
    persons: dict[tuple[str, str], set[Hashable]] = defaultdict(set)
    rows, columns = set(row_labels), set(column_labels)
    for person, row, column in records:
        if row not in rows or column not in columns:
            raise ValueError(f"cell ({row!r}, {column!r}) is not one of the table's labels")
        seen = cell_of.setdefault(person, (row, column))
        if seen != (row, column):
            raise NotAdditiveError(
                f"one person falls into ({seen[0]}, {seen[1]}) and ({row}, {column}): "
                "classify each person into one cell"
            )
        persons[(row, column)].add(person)
    counts = tuple(tuple(len(persons[(r, c)]) for c in column_labels) for r in row_labels)
    return CountTable(tuple(row_labels), tuple(column_labels), counts)


@dataclass(frozen=True, slots=True)
class SafeTable:
    """A table fit to publish: hidden cells are None; ``primary`` were under the minimum,
    ``secondary`` were hidden so that the primary ones cannot be worked back."""

    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    values: dict[Cell, int | None]
    primary: frozenset[Cell]
    secondary: frozenset[Cell]

    def rows(self, *, mark: str = "‐", total_label: str = "合計") -> list[list[str]]:
        """The table as text rows, header first, the totals last; hidden cells as ``mark``."""

        def text(cell: Cell) -> str:
            value = self.values[cell]
            return mark if value is None else str(value)

        columns = [*range(len(self.column_labels)), -1]
        out = [["", *self.column_labels, total_label]]
        for i, label in [*enumerate(self.row_labels), (-1, total_label)]:
            out.append([label, *(text((i, j)) for j in columns)])
        return out


def _line(cell: Cell, other: Cell) -> bool:
    return cell[0] == other[0] or cell[1] == other[1]


def _lone_lines(cell: Cell, hidden: set[Cell]) -> list[Callable[[Cell], bool]]:
    """The row and/or column in which ``cell`` is the only hidden cell, as membership tests."""
    lines: list[Callable[[Cell], bool]] = [
        lambda c: c[0] == cell[0],
        lambda c: c[1] == cell[1],
    ]
    return [on for on in lines if not any(on(h) for h in hidden if h != cell)]


def _partner(cell: Cell, values: dict[Cell, int], hidden: set[Cell]) -> Cell:
    """The cell to hide next for an exposed ``cell``: a shown non-zero cell of a row or column
    where ``cell`` is the only hidden one (of both when neither is alone: the bounds gave it
    away). One whose other row or column already holds a hidden cell comes first, as it closes
    a cycle; then the smallest count; an interior cell before a total; reading order."""
    shown = [c for c, v in values.items() if c not in hidden and v > 0]
    lone = _lone_lines(cell, hidden)
    near = [c for c in shown if any(pick(c) for pick in lone)] if lone else []
    near = near or [c for c in shown if _line(c, cell)]
    pool = near or shown
    if not pool:  # cannot happen: with every non-zero cell hidden, every one can move
        raise AssertionError(f"no cell left to hide for {cell}")

    def closes(c: Cell) -> bool:
        return any(_line(c, h) and h != cell and not _line(h, cell) for h in hidden)

    return min(pool, key=lambda c: (not closes(c), values[c], c[0] < 0 or c[1] < 0, c))


def suppress(table: CountTable, *, minimum: int = MINIMUM_CELL) -> SafeTable:
    """秘匿: hide the counts 1 … ``minimum`` - 1, then the secondary cells (module docstring)."""
    if minimum < 1:
        raise ValueError("the minimum cell count must be at least 1")
    values = table.values()
    primary = {cell for cell, count in values.items() if 0 < count < minimum}
    hidden = set(primary)
    while True:
        exposed = pinned({c: values[c] for c in hidden}, dict.fromkeys(hidden, 1))
        if not exposed:
            break
        # A cell alone in its row or column first: subtraction gives it away, and hiding a
        # partner there is what protects it.
        first = next((c for c in exposed if _lone_lines(c, hidden)), exposed[0])
        hidden.add(_partner(first, values, hidden))
    return SafeTable(
        table.row_labels,
        table.column_labels,
        {cell: None if cell in hidden else count for cell, count in values.items()},
        frozenset(primary),
        frozenset(hidden - primary),
    )
