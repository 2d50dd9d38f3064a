"""The 告示 exclusions from the 特定健診 対象者 (data/exclusions.yaml): their categories and
the per-person file, read and checked (split from kokuho.checkups._rates, which re-exports
these names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import yaml

from kokuho.ids import FiscalYear
from kokuho.store import data_text


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
    raw = yaml.safe_load(text)
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
    name an insurer, a 番号 and a start date, and end after it starts.
    """
    known = {r.code for r in (reasons if reasons is not None else exclusion_reasons())}
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
    else:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=EXCLUSION_COLUMNS,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    missing = set(EXCLUSION_COLUMNS) - set(table.column_names)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    table = table.select(list(EXCLUSION_COLUMNS)).cast(pa.schema(EXCLUSION_COLUMNS))
    problems: list[str] = []
    for line, row in enumerate(table.to_pylist(), start=2):
        if row["reason"] not in known:
            problems.append(f"line {line}: unknown reason {row['reason']!r}")
        if not row["insurer"] or not row["number"] or row["started_on"] is None:
            problems.append(f"line {line}: insurer, number and started_on are required")
        elif row["ended_on"] is not None and row["ended_on"] <= row["started_on"]:
            problems.append(f"line {line}: ended_on must be after started_on")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:10]))
    # 記号 may be empty (後期高齢者医療 has none); empty is "", not unknown.
    symbol = pc.fill_null(table["symbol"], "")
    return ibis.memtable(table.set_column(1, "symbol", symbol))


def _active_exclusions(
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
