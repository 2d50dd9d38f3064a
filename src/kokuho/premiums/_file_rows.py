"""What the payments file and the reminders file load alike (docs/formats.md §9, §9a): rows
checked one by one (a row of the wrong width, a key repeated in the file), then checked
against the database and inserted in one transaction that takes the write lock first, or
the whole file refused."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from kokuho.registry import FileRejected, RowError, read_csv_rows
from kokuho.store import write_transaction

T = TypeVar("T")
Parsed = list[tuple[int, T]]
"""(line, checked row) of a file."""


def checked_rows(
    path: Path,
    columns: tuple[frozenset[str], frozenset[str]],
    parse: Callable[[int, dict[str, str], list[RowError]], T | None],
    key: Callable[[T], Hashable],
    repeat: Callable[[int], tuple[str, str]],
) -> tuple[Parsed[T], list[RowError]]:
    """The rows of ``path`` (``columns``: required and allowed) that ``parse`` accepts, and
    the problems: a row of the wrong width, what ``parse`` found, and a ``key`` that repeats
    an earlier line (``repeat(line)``: the column and the reason)."""
    required, allowed = columns
    name = str(path)
    parsed: Parsed[T] = []
    errors: list[RowError] = []
    seen: dict[Hashable, int] = {}
    for line, row in read_csv_rows(path, required=required, allowed=allowed):
        if "__width__" in row:
            errors.append(RowError(name, line, "", row["__width__"]))
            continue
        found = parse(line, row, errors)
        if found is None:
            continue
        if key(found) in seen:
            errors.append(RowError(name, line, *repeat(seen[key(found)])))
            continue
        seen[key(found)] = line
        parsed.append((line, found))
    return parsed, errors


def insert_new(
    engine: sa.Engine,
    table: sa.Table,
    path: Path,
    found: tuple[Parsed[T], list[RowError]],
    check: Callable[[sa.Connection, str, Parsed[T], list[RowError]], Parsed[T]],
    values: Callable[[T], Mapping[str, object]],
) -> Parsed[T]:
    """Inserts the rows of ``found`` that ``check`` finds new into ``table`` (each with its
    ``source``, file and line) in one transaction, or raises FileRejected with every problem
    and writes nothing. The lock comes before the check: a run of the same file at the same
    time has then committed, and its rows are found loaded (not inserted twice)."""
    parsed, errors = found
    with write_transaction(engine, table.name) as connection:
        new = check(connection, str(path), parsed, errors)
        if errors:
            raise FileRejected(errors)
        if new:
            connection.execute(
                sa.insert(table),
                [{**values(item), "source": f"{path.name}:{line}"[-300:]} for line, item in new],
            )
    return new
