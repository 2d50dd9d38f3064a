"""Reading the register: one member's record and cross-insurer overlaps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry._merge import PersonMerge, person_merges_of
from kokuho.registry._tables import (
    coverage_terms,
    coverages,
    insurers,
    person_mynumbers,
    persons,
)

_OPEN_END = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Terms:
    """給付の条件 from ``effective_from`` until the next terms or the end of the coverage."""

    effective_from: dt.date
    copay_percent: int
    elderly_copay_percent: int | None
    limit_category: str | None
    specific_disease: str | None


@dataclass(frozen=True)
class Coverage:
    """One period of 資格: from 資格取得日 up to the day before 資格喪失日."""

    coverage_id: int
    insured: InsuredId
    insurer_name: str
    insurer_kind: str
    acquired_on: dt.date
    lost_on: dt.date | None
    loss_reason: str | None
    relationship: int
    card_class: str
    terms: list[Terms] = field(default_factory=list)
    #: 資格決定日/確認日 when the feed gave one (docs/formats.md §2).
    decided_on: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.acquired_on <= day and (self.lost_on is None or day < self.lost_on)


@dataclass(frozen=True)
class PersonRecord:
    person_id: int
    name_kanji: str
    name_kana: str
    birth_date: dt.date
    sex: int
    address: str
    mynumber_linked: bool
    coverages: list[Coverage]
    #: The person records merged into this one (same verified My Number), oldest first.
    merges: list[PersonMerge] = field(default_factory=list)


def _coverages(connection: sa.Connection, where: sa.ColumnElement[bool]) -> list[Coverage]:
    c = coverages.c
    rows = connection.execute(
        sa.select(coverages, insurers.c.name, insurers.c.kind)
        .join(insurers, insurers.c.insurer_number == c.insurer_number)
        .where(where)
        .order_by(c.acquired_on, c.coverage_id)
    ).all()
    ids = [row.coverage_id for row in rows]
    terms: dict[int, list[Terms]] = {}
    if ids:
        for t in connection.execute(
            sa.select(coverage_terms)
            .where(coverage_terms.c.coverage_id.in_(ids))
            .order_by(coverage_terms.c.effective_from)
        ):
            terms.setdefault(t.coverage_id, []).append(
                Terms(
                    t.effective_from,
                    t.copay_percent,
                    t.elderly_copay_percent,
                    t.limit_category,
                    t.specific_disease,
                )
            )
    return [
        Coverage(
            row.coverage_id,
            InsuredId(row.insurer_number, row.symbol, row.number, row.branch),
            row.name,
            row.kind,
            row.acquired_on,
            row.lost_on,
            row.loss_reason,
            row.relationship,
            row.card_class,
            terms.get(row.coverage_id, []),
            row.decided_on,
        )
        for row in rows
    ]


def show(engine: sa.Engine, insured: InsuredId) -> PersonRecord | None:
    """The person an insured number names, with every coverage of theirs (all insurers)."""
    c = coverages.c
    with engine.connect() as connection:
        person_id = connection.scalar(
            sa.select(c.person_id).where(
                c.insurer_number == insured.insurer,
                c.symbol == insured.symbol,
                c.number == insured.number,
                c.branch == insured.branch,
            )
        )
        if person_id is None:
            return None
        person = connection.execute(
            sa.select(persons).where(persons.c.person_id == person_id)
        ).one()
        linked = connection.scalar(
            sa.select(sa.func.count()).where(person_mynumbers.c.person_id == person_id)
        )
        return PersonRecord(
            person.person_id,
            person.name_kanji,
            person.name_kana,
            person.birth_date,
            person.sex,
            person.address,
            bool(linked),
            _coverages(connection, c.person_id == person_id),
            person_merges_of(connection, person_id),
        )


@dataclass(frozen=True)
class Overlap:
    """Two insurers covering one person on the same days (資格の重複): the input to the
    premium double-payment rules (国保法 §110-2) and to 資格過誤 checks of claims."""

    person_id: int
    first: Coverage
    second: Coverage
    overlap_from: dt.date
    overlap_until: dt.date | None  # the last overlapping day; None while both are open

    @property
    def days(self) -> int | None:
        if self.overlap_until is None:
            return None
        return (self.overlap_until - self.overlap_from).days + 1


def find_overlaps(
    engine: sa.Engine, *, insurer: str | None = None, on: dt.date | None = None
) -> list[Overlap]:
    """Every pair of coverages of one person by two different insurers sharing a day.

    ``insurer`` keeps pairs where one side is that insurer; ``on`` keeps pairs that overlap
    on that day.
    """
    a = coverages.alias("a")
    b = coverages.alias("b")
    a_end = sa.func.coalesce(a.c.lost_on, _OPEN_END)
    b_end = sa.func.coalesce(b.c.lost_on, _OPEN_END)
    conditions = [
        a.c.person_id == b.c.person_id,
        a.c.coverage_id < b.c.coverage_id,
        a.c.insurer_number != b.c.insurer_number,
        a.c.acquired_on < b_end,
        b.c.acquired_on < a_end,
    ]
    if insurer is not None:
        conditions.append(sa.or_(a.c.insurer_number == insurer, b.c.insurer_number == insurer))
    if on is not None:
        conditions += [a.c.acquired_on <= on, b.c.acquired_on <= on, a_end > on, b_end > on]
    with engine.connect() as connection:
        pairs = connection.execute(
            sa.select(a.c.person_id, a.c.coverage_id.label("a"), b.c.coverage_id.label("b"))
            .where(*conditions)
            .order_by(a.c.person_id, a.c.coverage_id, b.c.coverage_id)
        ).all()
        ids = {pair.a for pair in pairs} | {pair.b for pair in pairs}
        by_id = {
            coverage.coverage_id: coverage
            for coverage in (
                _coverages(connection, coverages.c.coverage_id.in_(ids)) if ids else []
            )
        }
    result = []
    for pair in pairs:
        first, second = by_id[pair.a], by_id[pair.b]
        ends = [d for d in (first.lost_on, second.lost_on) if d is not None]
        result.append(
            Overlap(
                pair.person_id,
                first,
                second,
                max(first.acquired_on, second.acquired_on),
                min(ends) - dt.timedelta(days=1) if ends else None,
            )
        )
    return result
