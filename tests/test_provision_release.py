"""最小集計単位 and secondary suppression: hand-worked tables, and a brute-force attacker that
solves the shown totals for every hidden cell (it shares no code with kokuho.provision)."""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

import pytest

from kokuho.provision import (
    CountTable,
    NotAdditiveError,
    PublishedTable,
    check_file,
    check_table,
    count_persons,
    release_rules,
    suppress,
)

Cell = tuple[int, int]


def _solutions_per_cell(
    values: dict[Cell, int | None], rows: int, columns: int, bound: int
) -> dict[Cell, set[int]]:
    """Every value each hidden cell takes over the integer completions (hidden cells 1 …
    ``bound``) in which each row and column adds up to its total and the totals to the grand
    total. Plain backtracking over the hidden cells with a check of every closed line."""
    hidden = sorted(cell for cell, value in values.items() if value is None)
    lines: list[tuple[list[Cell], Cell]] = []
    for i in [*range(rows), -1]:
        lines.append(([(i, j) for j in range(columns)], (i, -1)))
    for j in [*range(columns), -1]:
        lines.append(([(i, j) for i in range(rows)], (-1, j)))
    seen: dict[Cell, set[int]] = {cell: set() for cell in hidden}
    assignment = {cell: value for cell, value in values.items() if value is not None}

    def consistent() -> bool:
        for parts, total in lines:
            known = sum(assignment[c] for c in parts if c in assignment)
            if total in assignment and known > assignment[total]:
                return False
            if all(c in assignment for c in [*parts, total]) and known != assignment[total]:
                return False
        return True

    def forced(cell: Cell) -> int | None:
        """The value a line with every other cell known leaves for ``cell``."""
        for parts, total in lines:
            cells = [*parts, total]
            if cell in cells and all(c in assignment for c in cells if c != cell):
                known = sum(assignment[c] for c in parts if c != cell)
                return known if cell == total else assignment[total] - known
        return None

    def search(k: int) -> None:
        if k == len(hidden):
            for cell in hidden:
                seen[cell].add(assignment[cell])
            return
        only = forced(hidden[k])
        for value in range(1, bound + 1) if only is None else [only]:
            if not 1 <= value <= bound:
                continue
            assignment[hidden[k]] = value
            if consistent():
                search(k + 1)
            del assignment[hidden[k]]

    search(0)
    return seen


def _released(table: CountTable) -> dict[Cell, int | None]:
    return suppress(table).values


# The hand-worked table (patients by row A–C and column x–z):
#
#          x    y    z  | 合計
#     A    5   20   30  |  55
#     B   15   25   40  |  80
#     C   12   18   50  |  80
#    合計  32   63  120  | 215
#
# Primary: A×x = 5 (every other cell and total is 10 or more).
# Round 1: A×x is alone in row A and in column x, so subtraction gives it away. Candidates: row
#   A 20, 30, 55; column x 15, 12, 32. None closes a cycle; the smallest is C×x = 12.
# Round 2: A×x is still alone in row A (C×x is in its column). Candidates: 20, 30, 55; the
#   smallest is A×y = 20.
# Round 3: A×y is alone in column y. Candidates: B×y 25, C×y 18, 合計×y 63. C×y shares row C
#   with the hidden C×x: it closes the cycle A×x → A×y → C×y → C×x, so it is hidden.
# Now every hidden cell sits in a cycle of four: A×x can be anything from 1 to 16 (A×x + C×x
# = 17, A×x + A×y = 25, C×x + C×y = 30), so nothing is given away and no more is hidden.
HAND = CountTable(("A", "B", "C"), ("x", "y", "z"), ((5, 20, 30), (15, 25, 40), (12, 18, 50)))


def test_the_hand_worked_table_is_suppressed_exactly_as_worked() -> None:
    safe = suppress(HAND)
    assert safe.rows() == [
        ["", "x", "y", "z", "合計"],
        ["A", "‐", "‐", "30", "55"],
        ["B", "15", "25", "40", "80"],
        ["C", "‐", "‐", "50", "80"],
        ["合計", "32", "63", "120", "215"],
    ]
    assert safe.primary == {(0, 0)}
    assert safe.secondary == {(2, 0), (0, 1), (2, 1)}


def test_the_attacker_cannot_pin_any_hidden_cell_of_the_hand_table() -> None:
    seen = _solutions_per_cell(_released(HAND), 3, 3, 60)
    # A×x runs over 1 … 16 as worked above; the others follow from it.
    assert seen[(0, 0)] == set(range(1, 17))
    assert all(len(values) > 1 for values in seen.values())


def test_primary_suppression_alone_gives_the_small_cell_away() -> None:
    values = dict(HAND.values())
    values[(0, 0)] = None  # what a table without secondary suppression would show
    assert _solutions_per_cell(values, 3, 3, 60) == {(0, 0): {5}}


def test_a_small_total_is_hidden_and_bounds_are_not_a_way_in() -> None:
    # Row A holds 1 and 1, total 2: all three are primary. Column x's total 31 and a shown
    # B×x = 30 would give A×x = 1 by subtraction; hiding B×x alone still lets 1 + 1 = 2 be read
    # off row B's bounds, which the exact test catches. Whatever is hidden, no cell is pinned.
    table = CountTable(("A", "B"), ("x", "y"), ((1, 1), (30, 40)))
    safe = suppress(table)
    assert {(0, 0), (0, 1), (0, -1)} <= set(safe.primary)
    seen = _solutions_per_cell(safe.values, 2, 2, 80)
    assert all(len(values) > 1 for values in seen.values()), seen


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_leave_nothing_recoverable(seed: int) -> None:
    rng = random.Random(seed)
    rows, columns = rng.choice([(2, 2), (2, 3), (3, 2), (3, 3)])
    counts = tuple(
        tuple(rng.choice([0, 1, 2, 3, 5, 8, 9, 10, 11, 14, 20]) for _ in range(columns))
        for _ in range(rows)
    )
    table = CountTable(tuple("ABC"[:rows]), tuple("xyz"[:columns]), counts)
    safe = suppress(table)
    shown = [v for v in safe.values.values() if v is not None]
    assert not any(0 < v < 10 for v in shown)
    grand = table.values()[(-1, -1)]
    seen = _solutions_per_cell(safe.values, rows, columns, max(grand, 1) * 2)
    assert all(len(values) > 1 for values in seen.values()), (counts, seen)


def _published(table: CountTable, values: dict[Cell, int | None]) -> PublishedTable:
    lines = {i: i + 2 for i in range(len(table.row_labels))} | {-1: len(table.row_labels) + 2}
    return PublishedTable("t.csv", table.row_labels, table.column_labels, values, lines, True, True)


def test_the_checker_agrees_with_the_attacker() -> None:
    rules = release_rules()
    assert check_table(_published(HAND, suppress(HAND).values), rules).ok
    leaky = dict(HAND.values())
    leaky[(0, 0)] = None
    result = check_table(_published(HAND, leaky), rules)
    assert [(f.rule, f.row, f.column, f.line) for f in result.findings] == [
        ("recoverable", "A", "x", 2)
    ]


def test_count_persons_counts_people_once_and_refuses_a_person_in_two_cells() -> None:
    records = [("p1", "A", "x"), ("p1", "A", "x"), ("p2", "A", "y"), ("p3", "B", "y")]
    table = count_persons(records, ["A", "B"], ["x", "y"])
    assert table.counts == ((1, 1), (0, 1))
    with pytest.raises(NotAdditiveError, match="one person falls into"):
        count_persons([*records, ("p1", "B", "y")], ["A", "B"], ["x", "y"])
    with pytest.raises(ValueError, match="not one of the table's labels"):
        count_persons([("p9", "Z", "x")], ["A", "B"], ["x", "y"])


def test_zero_cells_are_shown_and_never_hidden() -> None:
    table = CountTable(("A", "B"), ("x", "y"), ((0, 12), (15, 0)))
    assert suppress(table).rows()[1:3] == [["A", "0", "12", "12"], ["B", "15", "0", "15"]]


def test_every_combination_of_two_small_cells_in_a_2x3_table() -> None:
    # Two primary cells anywhere in a 2×3 table of otherwise large counts: never recoverable.
    for a, b in itertools.combinations(range(6), 2):
        counts = [[30, 40, 50], [35, 45, 55]]
        counts[a // 3][a % 3] = 3
        counts[b // 3][b % 3] = 7
        table = CountTable(("A", "B"), ("x", "y", "z"), tuple(map(tuple, counts)))
        safe = suppress(table)
        seen = _solutions_per_cell(safe.values, 2, 3, 200)
        assert all(len(v) > 1 for v in seen.values()), (a, b)


@pytest.mark.parametrize("seed", range(6))
def test_released_tables_pass_the_release_check_through_csv(seed: int, tmp_path: Path) -> None:
    rng = random.Random(100 + seed)
    rows, columns = rng.randint(2, 8), rng.randint(2, 6)
    counts = tuple(
        tuple(max(0, int(rng.lognormvariate(3.0, 1.0))) for _ in range(columns))
        for _ in range(rows)
    )
    table = CountTable(
        tuple(f"{5 * i}-{5 * i + 4}" for i in range(rows)), tuple(f"市{j}" for j in range(columns)),
        counts,
    )  # fmt: skip
    path = tmp_path / "released.csv"
    with path.open("w", encoding="cp932", newline="") as handle:
        csv.writer(handle).writerows(suppress(table).rows())
    result = check_file(path, release_rules())
    assert result.ok, result.findings
    assert (result.rows, result.columns) == (rows, columns)


def test_a_stricter_minimum_hides_more() -> None:
    # With a minimum of 20 (a small 市区町村 under the unconfirmed extra rule), 15 is primary too.
    table = CountTable(("A", "B"), ("x", "y"), ((15, 30), (40, 50)))
    assert suppress(table).primary == frozenset()
    assert suppress(table, minimum=20).primary == {(0, 0)}
