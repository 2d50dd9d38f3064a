"""The 告示 exclusions from the 特定健診 対象者 (data/exclusions.yaml): their categories and
the per-person file, read and checked (split from kokuho.checkups._rates, which re-exports
these names).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.ids import FiscalYear
from kokuho.store import FileProblem, FileProblemsError, data_text, load_yaml


@dataclass(frozen=True, slots=True)
class ExclusionReason:
    """One category of people the 告示 removes from the 特定健診 対象者."""

    code: str
    name: str
    enabled: bool
    confirmed: bool
    source: str


#: Columns of a per-person exclusions file (data/exclusions.yaml describes them).
EXCLUSION_COLUMNS: Final[dict[str, pa.DataType]] = {
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "reason": pa.string(),
    "started_on": pa.date32(),
    "ended_on": pa.date32(),
}


def exclusion_reasons(path: Path | None = None) -> tuple[ExclusionReason, ...]:
    """The exclusion categories of ``data/exclusions.yaml`` (or of ``path``)."""
    text = path.read_text("utf-8") if path is not None else data_text("exclusions.yaml")
    raw = load_yaml(text, str(path) if path is not None else "exclusions.yaml")
    reasons = tuple(
        ExclusionReason(
            code=str(item["code"]),
            name=str(item["name"]),
            enabled=bool(item.get("enabled", True)),
            confirmed=bool(item["confirmed"]),
            source=str(item["source"]).strip(),
        )
        for item in raw["reasons"]
    )
    codes = [r.code for r in reasons]
    if len(set(codes)) != len(codes):
        raise ValueError("exclusions: a reason code is listed twice")
    return reasons


def read_exclusions(path: Path, *, reasons: Sequence[ExclusionReason] | None = None) -> ir.Table:
    """Reads a per-person exclusions file (CSV with a header, or Parquet) into an Ibis table.

    Every reason must be a code of ``reasons`` (default: data/exclusions.yaml); a row must
    name an insurer, a 番号 and a start date, and end after it starts. A file that breaks any
    of this raises ``FileProblemsError`` (a ValueError) naming file, line (the CSV line, or the
    Parquet row + 1) and column of every problem; nothing is read from it.
    """
    known = {r.code for r in (reasons if reasons is not None else exclusion_reasons())}
    name = str(path)
    problems: list[FileProblem] = []
    rows = _parquet_rows(path, problems) if path.suffix.lower() == ".parquet" else None
    if rows is None and not problems:
        rows = _csv_rows(path, problems)
    columns: dict[str, list[object]] = {column: [] for column in EXCLUSION_COLUMNS}
    for line, row in rows or []:
        before = len(problems)

        def bad(column: str, reason: str, line: int = line) -> None:
            problems.append(FileProblem(name, line, column, reason))

        for column, value in row.items():
            if isinstance(value, str) and "\x00" in value:
                bad(column, "holds a NUL byte")
        if row["reason"] not in known:
            bad("reason", f"unknown reason {row['reason']!r}")
        if not row["insurer"] or not row["number"]:
            bad("insurer" if not row["insurer"] else "number", "is required")
        started, ended = (_day(row[c], c, bad) for c in ("started_on", "ended_on"))
        if row["started_on"] in (None, ""):
            bad("started_on", "is required")
        elif started is not None and ended is not None and ended <= started:
            bad("ended_on", "ended_on must be after started_on")
        if len(problems) == before:
            values = {**row, "started_on": started, "ended_on": ended}
            for column in EXCLUSION_COLUMNS:
                columns[column].append(values[column] or None)
    if problems:
        raise FileProblemsError(problems)
    table = pa.table(columns, schema=pa.schema(EXCLUSION_COLUMNS))
    # 記号 may be empty (後期高齢者医療 has none); empty is "", not unknown.
    symbol = pc.fill_null(table["symbol"], "")
    return ibis.memtable(table.set_column(1, "symbol", symbol))


_Row = dict[str, object]


def _parquet_rows(path: Path, problems: list[FileProblem]) -> list[tuple[int, _Row]] | None:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        reason = f"not a readable Parquet file ({type(error).__name__})"
        problems.append(FileProblem(str(path), 0, "(file)", reason))
        return None
    missing = sorted(set(EXCLUSION_COLUMNS) - set(table.column_names))
    if missing:
        problems.append(FileProblem(str(path), 0, "(file)", f"missing columns {missing}"))
        return None
    try:
        table = table.select(list(EXCLUSION_COLUMNS)).cast(pa.schema(EXCLUSION_COLUMNS))
    except (pa.ArrowException, ValueError) as error:
        reason = f"columns not of the expected types ({type(error).__name__})"
        problems.append(FileProblem(str(path), 0, "(file)", reason))
        return None
    return list(enumerate(table.to_pylist(), start=2))


def _csv_rows(path: Path, problems: list[FileProblem]) -> list[tuple[int, _Row]]:
    """(line, row) of the CSV file; a file that is not UTF-8, empty, with another header or a
    row of another width adds its problems instead."""
    name = str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problems.append(FileProblem(name, line, "(file)", "not UTF-8"))
        return []
    if not text.strip():
        problems.append(FileProblem(name, 0, "(file)", "the file is empty"))
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader)]
    missing = sorted(set(EXCLUSION_COLUMNS) - set(header))
    if missing:
        problems.append(FileProblem(name, 1, "(header)", f"missing columns {missing}"))
        return []
    rows: list[tuple[int, _Row]] = []
    line = reader.line_num
    for cells in reader:
        line, start = reader.line_num, line + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            reason = f"has {len(cells)} columns, the header {len(header)}"
            problems.append(FileProblem(name, start, "(row)", reason))
            continue
        rows.append((start, {k: v.strip() for k, v in zip(header, cells, strict=True)}))
    return rows


def _day(value: object, column: str, bad: Callable[[str, str], None]) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value)
    if not text:
        return None
    if _DAY.fullmatch(text):
        with contextlib.suppress(ValueError):  # a day the calendar lacks (2021-02-30)
            return dt.date.fromisoformat(text)
    bad(column, f"{text[:40]!r} is not a date (YYYY-MM-DD)")
    return None


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def active_exclusions(
    exclusions: ir.Table, fy: FiscalYear, reasons: Sequence[ExclusionReason] | None
) -> ir.Table:
    listed = reasons if reasons is not None else exclusion_reasons()
    enabled = [r.code for r in listed if r.enabled]
    x = exclusions
    # Any shared day removes the person for the year (entering the state mid-year included).
    return x.filter(
        x.reason.isin(enabled),
        x.started_on <= ibis.literal(fy.last_day),
        x.ended_on.isnull() | (x.ended_on > ibis.literal(fy.first_day)),
    )
