"""The insured of a fiscal year from the register: the denominators of 一人当たり医療費 and of
the counts per 10,000 insured.

A person counts in a month when a coverage of theirs is in force on the month's last day
(月末現在, as the 事業月報・年報 count 被保険者数): 資格取得日 ≤ 月末 < 資格喪失日. The
average insured of the year is the sum of the twelve month-end counts (April … March) divided
by 12, i.e. person-months / 12. (The 事業年報's 年度平均 takes the ends of March … February;
kokuho takes the months of the claims it divides, April … March.) A person with two
coverages of one insurer in force on the same day counts once.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from typing import Final

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.claims._sources import BANDS, fiscal_months, month_end, month_start
from kokuho.ids import FiscalYear, age_on
from kokuho.registry import tables

#: Columns of :func:`insured_months`.
INSURED_COLUMNS: Final[dict[str, pa.DataType]] = {
    "insurer": pa.string(),
    "service_month": pa.date32(),
    "band": pa.string(),
    "persons": pa.int64(),
}
CHUNK_ROWS: Final = 50_000
#: The insurers a prefecture's 国保 figures pool: the 市町村国保 (the prefecture and its
#: municipalities are the 保険者 of 都道府県単位化), not the 後期高齢者医療広域連合 or the
#: employee schemes whose claims may share the lake.
PREFECTURE_KINDS: Final = ("kokuho_municipal",)


def band_of(birth: dt.date, day: dt.date) -> str:
    """The 5-year band (``"0-4"`` … ``"100+"``) of the age on ``day``."""
    age = age_on(birth, day) if birth <= day else 0
    return BANDS[min(age // 5, len(BANDS) - 1)]


def insured_months(
    engine: sa.Engine,
    fiscal_year: int,
    *,
    age_day: dt.date,
    kinds: Collection[str] | None = None,
) -> pa.Table:
    """Month-end insured persons of ``fiscal_year`` by insurer, month and age band (the age
    on ``age_day``): columns ``insurer, service_month, band, persons``.

    ``kinds`` keeps the insurers of those kinds (``kokuho.registry.INSURER_KINDS``) only.
    """
    fy = FiscalYear(fiscal_year)
    months = [month_start(m) for m in fiscal_months(fy)]
    ends = [month_end(m) for m in months]
    c, p, i = tables.coverages.c, tables.persons.c, tables.insurers.c
    query = (
        sa.select(c.insurer_number, c.person_id, p.birth_date, c.acquired_on, c.lost_on)
        .select_from(
            tables.coverages.join(tables.persons, p.person_id == c.person_id).join(
                tables.insurers, i.insurer_number == c.insurer_number
            )
        )
        .where(c.acquired_on <= ends[-1], sa.or_(c.lost_on.is_(None), c.lost_on > ends[0]))
        .order_by(c.insurer_number, c.person_id)
    )
    if kinds is not None:
        query = query.where(i.kind.in_(sorted(kinds)))
    counts: dict[tuple[str, int, str], int] = defaultdict(int)
    held: tuple[str, int] | None = None
    band = ""
    covered: set[int] = set()

    def flush() -> None:
        if held is not None:
            for index in covered:
                counts[(held[0], index, band)] += 1

    with engine.connect() as connection:
        result = connection.execution_options(yield_per=CHUNK_ROWS).execute(query)
        for insurer, person, birth, acquired, lost in result:
            if (insurer, person) != held:
                flush()
                held, band, covered = (insurer, person), band_of(birth, age_day), set()
            # Month i counts when acquired ≤ ends[i] < lost.
            first = bisect.bisect_left(ends, acquired)
            stop = len(ends) if lost is None else bisect.bisect_left(ends, lost)
            covered.update(range(first, stop))
        flush()
    keys = sorted(counts)
    return pa.table(
        {
            "insurer": pa.array([k[0] for k in keys], pa.string()),
            "service_month": pa.array([months[k[1]] for k in keys], pa.date32()),
            "band": pa.array([k[2] for k in keys], pa.string()),
            "persons": pa.array([counts[k] for k in keys], pa.int64()),
        }
    )


def prefecture_pool(
    engine: sa.Engine, insurers: Collection[str], kinds: Collection[str] | None = PREFECTURE_KINDS
) -> set[str]:
    """The ``insurers`` the prefecture's figures pool: those the register lists as one of
    ``kinds``; all of them when ``kinds`` is None or the register knows none of them."""
    chosen = set(insurers)
    if kinds is None or not chosen:
        return chosen
    i = tables.insurers.c
    with engine.connect() as connection:
        known = set(
            connection.scalars(
                sa.select(i.insurer_number).where(
                    i.insurer_number.in_(sorted(chosen)), i.kind.in_(sorted(kinds))
                )
            )
        )
    return known or chosen
