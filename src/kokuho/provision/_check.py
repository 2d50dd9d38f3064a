"""公表物確認: which cells of a table break the release rules, named by row and column.

Three kinds of break, each with its rule:

- ``minimum_cell``: a shown count from 1 to the minimum - 1 (最小集計単位; 20 instead of 10 for
  a small 市区町村 when the population is given and the unconfirmed extra rule is in force);
- ``minimum_providers``: a shown count that comes from fewer 医療機関 or 保険者 than the rule
  allows (only when a table of provider counts is given);
- ``minimum_patients``: a shown value (点数, 金額, 算定回数: any amount) that comes from fewer
  patients than the minimum (only when a table of patient counts is given);
- ``recoverable``: a hidden cell the shown cells and totals determine (二次秘匿 missing);
- ``subtotals``: a subtotal (小計) row or column beside hidden cells: a reader can subtract
  from it, and the recovery test models one total row and one total column only;
- ``identifier``: a column of row names holding (or named for) a direct identifier or a
  pseudonymous ID (pid, a hash): a table of persons, not of counts (直接識別子・仮名ID);
- ``totals``: the totals cannot be met by any counts in the hidden cells — the table does not
  add up (a table of distinct patients where one person counts in two cells is not additive,
  and the recovery test cannot vouch for it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kokuho.provision._network import Cell, complete, pinned
from kokuho.provision._rules import ReleaseRules
from kokuho.provision._scan import scan_columns
from kokuho.provision._table_csv import PublishedTable, is_subtotal, read_table


@dataclass(frozen=True, slots=True)
class ReleaseFinding:
    """One cell (or the whole table) that may not be published as it is."""

    rule: str
    row: str
    column: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.row} × {self.column}: {self.rule}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ReleaseCheck:
    """The verdict on one table."""

    file: str
    minimum_cell: int
    rows: int
    columns: int
    hidden: int
    findings: tuple[ReleaseFinding, ...]
    sha256: str = ""
    """The SHA-256 of the checked file: the verdict holds for these bytes only."""

    @property
    def ok(self) -> bool:
        return not self.findings


def _finding(table: PublishedTable, cell: Cell, rule: str, reason: str) -> ReleaseFinding:
    row, column = table.name(cell)
    return ReleaseFinding(rule, row, column, table.lines.get(cell[0], 0), reason)


def _absent_totals(table: PublishedTable) -> list[Cell]:
    """The totals a table leaves out: unknown to a reader, so free (at least 0)."""
    rows, columns = len(table.row_names), len(table.column_names)
    absent: list[Cell] = []
    if not table.has_total_column:
        absent += [(i, -1) for i in range(rows)]
    if not table.has_total_row:
        absent += [(-1, j) for j in range(columns)]
    if not (table.has_total_row and table.has_total_column):
        absent.append((-1, -1))
    return absent


def check_table(
    table: PublishedTable,
    rules: ReleaseRules,
    *,
    population: int | None = None,
    providers: PublishedTable | None = None,
    patients: PublishedTable | None = None,
) -> ReleaseCheck:
    """Every break of the rules in ``table`` (module docstring). ``population``: the table is
    of one 市区町村 with this many inhabitants. ``providers``: the same table counting the
    医療機関 or 保険者 behind each cell, matched by row and column name."""
    minimum = rules.minimum_for(population)
    findings: list[ReleaseFinding] = []
    shown = {cell: count for cell, count in table.values.items() if count is not None}
    hidden = [cell for cell, count in table.values.items() if count is None]
    for cell, count in sorted(shown.items(), key=lambda item: _order(item[0])):
        if 0 < count < minimum:
            findings.append(
                _finding(
                    table,
                    cell,
                    "minimum_cell",
                    f"shows {count}: counts from 1 to {minimum - 1} must be hidden (最小集計単位)",
                )  # fmt: skip
            )
        if count == 0 and not rules.zero_may_be_shown:
            findings.append(_finding(table, cell, "minimum_cell", "shows 0, which the rules hide"))
    if providers is not None:
        findings += _provider_findings(table, providers, rules)
    if patients is not None:
        findings += _patient_findings(table, patients, minimum)
    findings += _identifier_findings(table)
    if hidden:
        findings += _subtotal_findings(table)
    absent = _absent_totals(table)
    lower = {**dict.fromkeys(hidden, 1), **dict.fromkeys(absent, 0)}
    completion = complete(shown, [*hidden, *absent], lower)
    if completion is None:
        findings.append(
            ReleaseFinding(
                "totals",
                "(table)",
                "(table)",
                0,
                "the totals do not add up with any counts in the hidden cells, so whether a "
                "hidden cell can be worked back cannot be checked: check the table by hand",
            )  # fmt: skip
        )
    else:
        published = set(hidden)
        for cell in pinned(completion, lower):
            if cell in published:
                findings.append(
                    _finding(
                        table,
                        cell,
                        "recoverable",
                        "this hidden cell can be worked back from the shown cells and totals: "
                        "hide another cell of its row or column (二次秘匿)",
                    )  # fmt: skip
                )
    return ReleaseCheck(
        table.path, minimum, len(table.row_names), len(table.column_names), len(hidden),
        tuple(findings), table.sha256,
    )  # fmt: skip


#: A pseudonymous ID (the extract's pid, an ID5-style hash) as a value, or a column named for
#: one: a row per person is row-level data, which is never published.
#: Digits alone count too: a row name of 16 or more digits is longer than any code a
#: published table names its rows by (a 医療機関コード has 10), so it is taken for an ID.
_PSEUDONYM_VALUE = re.compile(r"^[0-9a-f]{16,}$", re.IGNORECASE)
_PSEUDONYM_NAME = re.compile(r"^pid$|仮名|連結用|person_?id|patient_?id", re.IGNORECASE)


def _identifier_findings(table: PublishedTable) -> list[ReleaseFinding]:
    """Direct identifiers and pseudonymous IDs among the row names, by column; the reason
    names the kinds and never repeats a value."""
    out = []
    for column, values in table.name_columns:
        kinds = {f.kind: f.first_row for f in scan_columns({column: values})}
        name = unicodedata.normalize("NFKC", column).strip()
        if _PSEUDONYM_NAME.search(name):
            kinds.setdefault("pseudonymous_id", None)
        hashed = next((i for i, v in enumerate(values) if _PSEUDONYM_VALUE.match(v.strip())), None)
        if hashed is not None:
            kinds["pseudonymous_id"] = hashed
        if not kinds:
            continue
        rows = [r for r in kinds.values() if r is not None]
        line = table.name_lines[min(rows)] if rows and table.name_lines else table.header_line
        out.append(
            ReleaseFinding(
                "identifier",
                "(table)",
                column,
                line,
                f"the row names hold {', '.join(sorted(kinds))}: a published table shows "
                "counts, never persons (直接識別子・仮名ID)",
            )  # fmt: skip
        )
    return out


def _subtotal_findings(table: PublishedTable) -> list[ReleaseFinding]:
    """Subtotal rows and columns: the recovery test cannot vouch for hidden cells beside them."""
    reason = (
        "a subtotal (小計) beside hidden cells: a reader can subtract from it, and the check "
        "models one total row and one total column only: check the table by hand"
    )
    out = [
        ReleaseFinding("subtotals", name, "(table)", table.lines.get(i, 0), reason)
        for i, name in enumerate(table.row_names)
        if is_subtotal(name)
    ]
    out += [
        ReleaseFinding("subtotals", "(table)", name, 0, reason)
        for name in table.column_names
        if is_subtotal(name)
    ]
    return out


def _order(cell: Cell) -> tuple[int, int, int, int]:
    return (cell[0] < 0, cell[0], cell[1] < 0, cell[1])


def _provider_findings(
    table: PublishedTable, providers: PublishedTable, rules: ReleaseRules
) -> list[ReleaseFinding]:
    least = rules.minimum_providers
    return _behind_findings(
        table, providers, "minimum_providers", "no provider count for this cell",
        lambda behind: f"comes from {behind} 医療機関/保険者; at least {least} needed", least,
    )  # fmt: skip


def _patient_findings(
    table: PublishedTable, patients: PublishedTable, minimum: int
) -> list[ReleaseFinding]:
    """A table of amounts: each shown non-zero value must come from at least ``minimum``
    patients, read from the same table counting patients (matched by row and column name)."""
    return _behind_findings(
        table, patients, "minimum_patients", "no patient count for this cell",
        lambda behind: f"comes from {behind} patient(s); a shown value needs at least "
        f"{minimum} (最小集計単位)",
        minimum,
    )  # fmt: skip


def _behind_findings(
    table: PublishedTable,
    counts: PublishedTable,
    rule: str,
    missing: str,
    too_few: Callable[[int], str],
    minimum: int,
) -> list[ReleaseFinding]:
    """Each shown non-zero cell of ``table`` against the count behind it in ``counts`` (the
    cell of the same row and column name): none, or fewer than ``minimum``, is a finding."""
    by_name = {counts.name(cell): count for cell, count in counts.values.items()}
    out = []
    for cell, value in sorted(table.values.items(), key=lambda item: _order(item[0])):
        if value is None or value == 0:
            continue
        behind = by_name.get(table.name(cell))
        if behind is None:
            out.append(_finding(table, cell, rule, missing))
        elif behind < minimum:
            out.append(_finding(table, cell, rule, too_few(behind)))
    return out


def check_file(
    path: Path,
    rules: ReleaseRules,
    *,
    population: int | None = None,
    providers: Path | None = None,
    patients: Path | None = None,
) -> ReleaseCheck:
    """:func:`check_table` on a CSV file (UTF-8 or cp932). Raises FileProblemsError (file,
    line, field) when a file cannot be read as a table of counts."""
    table = read_table(path, rules.hidden_marks)
    behind = read_table(providers, rules.hidden_marks) if providers is not None else None
    persons = read_table(patients, rules.hidden_marks) if patients is not None else None
    return check_table(table, rules, population=population, providers=behind, patients=persons)
