"""The one set-based query households are built from: every stay in a household of the
municipality over a period, each joined with the person's 国保 and 後期 coverages over that
period and (for a fiscal year) the person's income. Sorted by household, streamed in chunks:
1 M households are one pass, never one query per household.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple

import sqlalchemy as sa

from kokuho.premiums._tables import premium_incomes
from kokuho.registry import tables

KOKI_KIND = "koki"  # 後期高齢者医療広域連合 (法別 39)
MUNICIPAL_KIND = "kokuho_municipal"
_YIELD = 10_000


class UnknownMunicipality(ValueError):
    """No municipal 国保 insurer is registered for the municipality code."""


def municipal_insurer(connection: sa.Connection, municipality: str) -> str:
    """The 保険者番号 of the municipality's 国保 (from the insurers table)."""
    i = tables.insurers.c
    number = connection.scalar(
        sa.select(i.insurer_number).where(
            i.kind == MUNICIPAL_KIND, i.municipality_code == municipality
        )
    )
    if number is None:
        raise UnknownMunicipality(
            f"municipality {municipality!r} has no municipal 国保 insurer in the register"
        )
    return str(number)


_LINKS_JOIN = "LEFT JOIN person_mynumbers pm ON"
_SQLITE_LINKS = (
    "WITH pm_links AS MATERIALIZED (SELECT resident_id, person_id FROM person_mynumbers)\n"
)


def links_materialized(sql: str, dialect: str) -> str:
    """``sql`` (which joins ``person_mynumbers pm`` on the resident) with, on SQLite, the
    links read first into a materialised table that SQLite then indexes on its own.

    Why: ``person_mynumbers`` has no index on ``resident_id``, and SQLite, joining the table
    directly, scans it once per stay: 45 s for one municipality of the 20,000-person demo
    (8,400 stays × 20,000 links), 51 times in its 本算定. Materialised, it is searched through
    an automatic index: 0.07 s. PostgreSQL hashes the join and is left as it is."""
    if dialect != "sqlite":
        return sql
    if sql.count(_LINKS_JOIN) != 1:
        raise ValueError("the query does not join person_mynumbers pm once")
    return _SQLITE_LINKS + sql.replace(_LINKS_JOIN, "LEFT JOIN pm_links pm ON")


class Row(NamedTuple):
    """One stay joined with one coverage (or none) and the income (or none), as the query
    returns it (a tuple: a million households are millions of rows)."""

    household_id: str
    resident_id: str
    relationship: str
    stay_from: dt.date
    stay_to: dt.date | None
    birth_date: dt.date
    person_id: int | None
    koki: bool | None
    """None: no coverage on this row; else whether it is a 後期 coverage."""
    acquired: dt.date | None
    lost: dt.date | None
    from_kokuho: bool | None
    """A 後期 coverage that began the day a 国保 coverage of this insurer was lost."""
    salary: int | None
    """None: no income record; then the next five are None too."""
    pension: int | None
    other: int | None
    declared: bool | None
    wage_earner: bool | None
    fixed_asset_tax: int | None


def person_of_resident() -> sa.Select[tuple[str, int | None]]:
    """Residents with the register's person: the verified My Number link first, else the one
    person with the same five normalised items (the lowest id if merges left two)."""
    r, pm, p = tables.residents.c, tables.person_mynumbers.c, tables.persons.c
    by_key = (
        sa.select(p.match_key, sa.func.min(p.person_id).label("person_id"))
        .group_by(p.match_key)
        .subquery("by_key")
    )
    person = sa.func.coalesce(pm.person_id, by_key.c.person_id).label("person_id")
    query = (
        sa.select(r.resident_id, person)
        .outerjoin(tables.person_mynumbers, pm.resident_id == r.resident_id)
        .outerjoin(by_key, by_key.c.match_key == r.match_key)
    )
    return query


def stays(municipality: str, start: dt.date, end: dt.date) -> sa.Subquery:
    """Stays in the municipality's households overlapping [start, end), with the person."""
    h, r = tables.resident_households.c, tables.residents.c
    link = person_of_resident().subquery("link")
    return (
        sa.select(
            h.household_id,
            h.resident_id,
            h.relationship,
            h.valid_from,
            h.valid_to,
            r.birth_date,
            link.c.person_id,
        )
        .join(tables.residents, r.resident_id == h.resident_id)
        .join(link, link.c.resident_id == h.resident_id)
        .where(
            h.municipality_code == municipality,
            h.valid_from < end,
            sa.or_(h.valid_to.is_(None), h.valid_to > start),
        )
        .subquery("stays")
    )


def coverages(insurer: str, start: dt.date, end: dt.date) -> sa.Subquery:
    """The insurer's 国保 coverages and every 後期 coverage overlapping [start, end)."""
    c = tables.coverages.c
    earlier = tables.coverages.alias("earlier")
    koki = sa.select(tables.insurers.c.insurer_number).where(tables.insurers.c.kind == KOKI_KIND)
    after_kokuho = (
        sa.select(earlier.c.coverage_id)
        .where(
            earlier.c.person_id == c.person_id,
            earlier.c.insurer_number == insurer,
            earlier.c.lost_on == c.acquired_on,
        )
        .exists()
    )
    return (
        sa.select(
            c.person_id,
            (c.insurer_number != insurer).label("koki"),
            c.acquired_on,
            c.lost_on,
            sa.case((c.insurer_number == insurer, sa.false()), else_=after_kokuho).label(
                "from_kokuho"
            ),
        )
        .where(
            sa.or_(c.insurer_number == insurer, c.insurer_number.in_(koki)),
            c.acquired_on < end,
            sa.or_(c.lost_on.is_(None), c.lost_on > start),
        )
        .subquery("cov")
    )


def rows(
    connection: sa.Connection,
    municipality: str,
    start: dt.date,
    end: dt.date,
    fiscal_year: int | None,
) -> Iterator[Row]:
    """Every stay × coverage row of the municipality's households over [start, end), sorted
    by household; with the incomes of ``fiscal_year`` when it is given."""
    insurer = municipal_insurer(connection, municipality)
    s = stays(municipality, start, end)
    cov = coverages(insurer, start, end)
    i = premium_incomes.c
    income_columns = [i.salary, i.pension, i.other, i.declared, i.wage_earner, i.fixed_asset_tax]
    query = sa.select(
        s.c.household_id,
        s.c.resident_id,
        s.c.relationship,
        s.c.valid_from,
        s.c.valid_to,
        s.c.birth_date,
        s.c.person_id,
        cov.c.koki,
        cov.c.acquired_on,
        cov.c.lost_on,
        cov.c.from_kokuho,
        *income_columns,
    ).select_from(s.outerjoin(cov, cov.c.person_id == s.c.person_id))
    query = query.outerjoin(
        premium_incomes,
        sa.and_(i.resident_id == s.c.resident_id, i.fiscal_year == (fiscal_year or 0)),
    ).order_by(s.c.household_id, s.c.resident_id, s.c.valid_from, cov.c.acquired_on)
    result = connection.execution_options(stream_results=True, yield_per=_YIELD).execute(query)
    make = Row._make
    for raw in result:
        yield make(raw)
