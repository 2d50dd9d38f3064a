"""What the claims indicators read, and the small Ibis expressions they share.

Every indicator is written over Ibis tables whose columns are those of ``_schema.py``; the
functions that take a "lake" accept anything with the two methods of :class:`TableSource`
(``ClaimsLake`` has them), so the same code runs over the Parquet lake, over tables built in
memory, or over a Spark session's tables. No backend SQL strings: expressions only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from typing import Final, Protocol

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.ids import FiscalYear

#: The columns that name an insured person on a claim (HO 保険者番号, 記号, 番号; SN 枝番).
PERSON: Final = ("insurer", "symbol", "number", "branch")

#: The 5-year age bands of the 医療費の地域差分析 (0–4 … 95–99, 100+).
BANDS: Final = (*(f"{low}-{low + 4}" for low in range(0, 100, 5)), "100+")


class TableSource(Protocol):
    """Where the lake tables come from: ``ClaimsLake`` or anything shaped like it."""

    def table(self, name: str, months: Collection[str] | None = None) -> ir.Table: ...

    def has_table(self, name: str) -> bool: ...


_MONTH: Final = re.compile(r"[0-9]{4}-[0-9]{2}")


def fiscal_months(fiscal_year: FiscalYear | int) -> list[str]:
    """The twelve 診療年月 of a fiscal year as ``YYYY-MM`` (April … March)."""
    fy = fiscal_year if isinstance(fiscal_year, FiscalYear) else FiscalYear(fiscal_year)
    return [f"{fy.year + (m < 4)}-{m:02d}" for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]


def month_start(month: str) -> dt.date:
    """``"2020-04"`` → 2020-04-01; raises ValueError on anything else.

    Four and two ASCII digits only: int() also read '2020-4', ' 2020-04' and other scripts'
    digits, and such a month, taken, named no partition of the lake (they are ``2020-04``),
    so the report was empty."""
    if _MONTH.fullmatch(month) is not None and 1 <= int(month[5:]) <= 12 and month[:4] > "0000":
        return dt.date(int(month[:4]), int(month[5:]), 1)
    shown = month if len(month) <= 40 else month[:40] + "…"
    raise ValueError(f"not a month (YYYY-MM): {shown!r}")


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month (negative: before)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, 1)


def read(
    source: TableSource,
    name: str,
    *,
    fiscal_year: int | None = None,
    months: Collection[str] | None = None,
) -> ir.Table:
    """A lake table limited to ``months`` and/or the months of ``fiscal_year``.

    Both may be given (their intersection). The partitions are pruned by the source and the
    rows filtered again on ``service_month``, so a source that ignores ``months`` gives the
    same answer.
    """
    wanted: list[str] | None = None
    if fiscal_year is not None:
        wanted = fiscal_months(fiscal_year)
    if months is not None:
        given = sorted(set(months))
        for month in given:
            month_start(month)
        wanted = given if wanted is None else [m for m in wanted if m in given]
    if wanted == []:  # months outside the fiscal year: nothing, but the table's columns
        table = source.table(name)
        return table.filter(ibis.literal(False))
    table = source.table(name, months=wanted)
    if wanted is None or "service_month" not in table.columns:
        return table
    days = [month_start(m) for m in wanted]
    return table.filter(table.service_month.isin(days))


def insurer_number(column: ir.StringValue) -> ir.StringValue:
    """The 保険者番号 as the register keeps it: blanks stripped, and a 国保 number written in
    eight digits with a ``00`` 法別 (no such 法別 exists) shortened to its six digits."""
    value = column.strip()
    return ((value.length() == 8) & value.startswith("00")).ifelse(value.substr(2), value)


def age_on(birth_date: ir.DateValue, day: dt.date) -> ir.IntegerValue:
    """Age in completed years on ``day`` (年齢計算ニ関スル法律: a year is completed at the end
    of the day before the anniversary), as ``kokuho.ids.age_on``; 0 for a birth after
    ``day``."""
    end = day + dt.timedelta(days=1)
    month, date = birth_date.month(), birth_date.day()
    not_yet = (month > end.month) | ((month == end.month) & (date > end.day))
    age = (end.year - birth_date.year()) - not_yet.ifelse(1, 0)
    return (age < 0).ifelse(0, age)


def age_band(age: ir.IntegerValue) -> ir.StringValue:
    """The 5-year band of :data:`BANDS` an age falls in."""
    low = (age // 5) * 5
    label = low.cast("string").concat("-", (low + 4).cast("string"))
    return (age >= 100).ifelse(ibis.literal("100+"), label)


def month_label(column: ir.DateValue) -> ir.StringValue:
    """``YYYY-MM`` of a date column (the partition label of the lake)."""
    return column.strftime("%Y-%m")


def person_columns(table: ir.Table) -> Sequence[ir.Value]:
    """The person columns of a claim table, the 保険者番号 normalised."""
    return [
        insurer_number(table.insurer).name("insurer"),
        table.symbol.strip().name("symbol"),
        table.number.strip().name("number"),
        table.branch.fill_null("").strip().name("branch"),
    ]


def claim_insurers(
    source: TableSource,
    *,
    fiscal_year: int | None = None,
    months: Collection[str] | None = None,
) -> list[str]:
    """The 保険者番号 (normalised) of the claims of ``fiscal_year`` and/or ``months``."""
    claims = read(source, "claims", fiscal_year=fiscal_year, months=months)
    found = claims.select(insurer=insurer_number(claims.insurer)).distinct().to_pyarrow()
    return sorted(found.column(0).to_pylist())
