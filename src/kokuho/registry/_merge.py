"""Merging two person records that are one human (名寄せ on a verified My Number).

The change feed joins a new insured number to an existing person only when all five basic
items agree. A member who enrols with a new insurer before the old insurer reports the loss,
at the new address, is therefore a second person record. When that record's five items are
verified against the resident holding a My Number, and another person record already holds
a verified link to the same number (HMAC equal), the two are one human: the new record is
absorbed into the link holder. Nothing less than the verified number merges two records.

Nothing is deleted: the absorbed ``persons`` row stays, its coverages name the survivor, and
an append-only ``person_merges`` row keeps which record was absorbed into which, when, why,
the coverages moved and the five items both records held before.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kokuho.registry._bind import reading
from kokuho.registry._normalize import ITEMS, fuller_address
from kokuho.registry._tables import coverages, person_merges, persons

#: Why a merge happened, as the record says it.
VERIFIED_MYNUMBER = "verified My Number: both records' five items matched the same resident"

_m = person_merges.c


@dataclass(frozen=True, slots=True)
class PersonMerge:
    """One merge: ``absorbed_person_id``'s coverages were moved to ``into_person_id``."""

    merge_id: int
    absorbed_person_id: int
    into_person_id: int
    merged_at: dt.datetime
    reason: str
    request_id: int
    coverage_ids: list[int]


def _items(row: Any) -> str:
    values = {item: row._mapping[item] for item in ITEMS}
    values["birth_date"] = values["birth_date"].isoformat()
    return json.dumps(values, ensure_ascii=False)


#: The ids of persons merged into another (SQL): never a candidate for a new insured number.
ABSORBED_PERSONS = "SELECT absorbed_person_id FROM person_merges"


def merge_persons(
    connection: sa.Connection, absorbed: int, into: int, *, request_id: int, now: dt.datetime
) -> None:
    """Moves ``absorbed``'s coverages to ``into`` and records the merge. The survivor takes
    the absorbed record's five items: they were verified against the resident register just
    now, the survivor's when its link was made (the old address, in the usual case)."""
    p, c = persons.c, coverages.c
    rows = {
        row.person_id: row
        for row in connection.execute(sa.select(persons).where(p.person_id.in_([absorbed, into])))
    }
    moved = list(
        connection.scalars(
            sa.select(c.coverage_id).where(c.person_id == absorbed).order_by(c.coverage_id)
        )
    )
    connection.execute(coverages.update().where(c.person_id == absorbed).values(person_id=into))
    source = rows[absorbed]
    values = {item: source._mapping[item] for item in (*ITEMS, "match_key")}
    # The same place without the prefecture the survivor writes keeps the prefecture.
    values["address"] = fuller_address(rows[into].address, source.address)
    connection.execute(persons.update().where(p.person_id == into).values(values))
    connection.execute(
        person_merges.insert().values(
            absorbed_person_id=absorbed,
            into_person_id=into,
            merged_at=now,
            reason=VERIFIED_MYNUMBER,
            request_id=request_id,
            coverage_ids=json.dumps(moved),
            absorbed_items=_items(source),
            replaced_items=_items(rows[into]),
        )
    )


def person_merges_of(
    bind: sa.Engine | sa.Connection, person_id: int | None = None
) -> list[PersonMerge]:
    """Every merge, oldest first; with ``person_id``, those it was absorbed in or survived."""
    query = sa.select(person_merges).order_by(_m.merge_id)
    if person_id is not None:
        query = query.where(
            sa.or_(_m.absorbed_person_id == person_id, _m.into_person_id == person_id)
        )
    with reading(bind) as connection:
        rows = connection.execute(query).all()
    return [
        PersonMerge(
            row.merge_id,
            row.absorbed_person_id,
            row.into_person_id,
            row.merged_at,
            row.reason,
            row.request_id,
            json.loads(row.coverage_ids),
        )
        for row in rows
    ]
