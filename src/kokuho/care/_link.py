"""Joins care records to the register's persons (docs/care.md §4).

The 介護保険 被保険者番号 is not the 医療 insured number, so a care record names a person only
through the five basic items (基本5情報) of its 要介護認定, compared as the register compares
them (``kokuho.registry.match_key`` to find candidates, ``differing_items`` to decide): a
certification is linked when exactly one person agrees on all five, never on fewer. A claim is
linked through the certification of its 保険者番号 and 被保険者番号. What cannot be linked is
reported with why, including the one item that differs when a person agrees on the other four
(a カナ written otherwise, a moved address): those go to review, as the register does.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from kokuho.care._certs import Certification
from kokuho.registry import differing_items, match_key, tables
from kokuho.store import chunks

NO_PERSON: Final = "no_person"  # nobody agrees on four of the five items either
ONE_ITEM_DIFFERS: Final = "one_item_differs"  # one person agrees on four: review
AMBIGUOUS: Final = "ambiguous"  # several persons agree on all five
NO_CERTIFICATION: Final = "no_certification"  # a claim whose number no certification has
UNLINKED_CERTIFICATION: Final = "unlinked_certification"


@dataclass(frozen=True, slots=True)
class Unlinked:
    """A care record kokuho could not join to a person, and why."""

    insurer_number: str
    insured_number: str
    reason: str
    items: tuple[str, ...] = ()  # the differing item(s) for ONE_ITEM_DIFFERS
    candidate: int | None = None  # the person who agrees on the other four


@dataclass(frozen=True, slots=True)
class CareLinkReport:
    """Who each 介護 number is, and what could not be linked."""

    persons: dict[tuple[str, str], int]  # (保険者番号, 被保険者番号) → person_id
    unlinked: tuple[Unlinked, ...]
    claims_linked: int = 0
    claims_unlinked: dict[str, int] = field(default_factory=dict)  # reason → claims
    several_numbers: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    @property
    def certifications_linked(self) -> int:
        return len(self.persons)

    def as_dict(self) -> dict[str, Any]:
        reasons = Counter(u.reason for u in self.unlinked)
        return {
            "numbers_linked": len(self.persons),
            "numbers_unlinked": dict(sorted(reasons.items())),
            "claims_linked": self.claims_linked,
            "claims_unlinked": dict(sorted(self.claims_unlinked.items())),
            "persons_with_several_numbers": len(self.several_numbers),
            "unlinked": [
                {"insurer_number": u.insurer_number, "insured_number": u.insured_number,
                 "reason": u.reason, "items": list(u.items)}
                for u in self.unlinked
            ],
        }  # fmt: skip


def _items(record: Any) -> dict[str, Any]:
    return {
        "name_kanji": record.name_kanji,
        "name_kana": record.name_kana,
        "birth_date": record.birth_date,
        "sex": int(record.sex),
        "address": record.address,
    }


def _persons(connection: sa.Connection, column: sa.Column[Any], keys: Iterable[Any]) -> list[Any]:
    """The persons whose ``column`` is one of ``keys``; a record absorbed into another (a
    merge on a verified My Number keeps its row) is not a person of its own any more."""
    persons = tables.persons
    absorbed = sa.select(tables.person_merges.c.absorbed_person_id)
    found: list[Any] = []
    wanted = sorted(set(keys))
    for part in chunks(wanted, 500):
        query = sa.select(persons).where(column.in_(part), persons.c.person_id.not_in(absorbed))
        found += connection.execute(query).all()
    return found


def link_certifications(
    engine: sa.Engine, certifications: Sequence[Certification]
) -> tuple[dict[tuple[str, str], int], list[Unlinked]]:
    """(保険者番号, 被保険者番号) → person_id for the numbers whose certifications name one
    person of the register, and the others with why. A number's latest certification (by
    有効期間 開始) speaks for it."""
    latest: dict[tuple[str, str], Certification] = {}
    for cert in sorted(certifications, key=lambda c: c.valid_from):
        latest[(cert.insurer_number, cert.insured_number)] = cert
    keys = {
        number: match_key(c.name_kanji, c.name_kana, c.birth_date, c.sex, c.address)
        for number, c in latest.items()
    }
    persons = tables.persons
    with engine.connect() as connection:
        by_key: dict[str, list[Any]] = defaultdict(list)
        for row in _persons(connection, persons.c.match_key, keys.values()):
            by_key[row.match_key].append(row)
        missing = [n for n in latest if not by_key.get(keys[n])]
        by_birth: dict[dt.date, list[Any]] = defaultdict(list)
        births = (latest[n].birth_date for n in missing)
        for row in _persons(connection, persons.c.birth_date, births):
            by_birth[row.birth_date].append(row)
    linked: dict[tuple[str, str], int] = {}
    unlinked: list[Unlinked] = []
    for number, cert in sorted(latest.items()):
        wanted = _items(cert)
        same = [p for p in by_key.get(keys[number], []) if not differing_items(wanted, _items(p))]
        if len(same) == 1:
            linked[number] = same[0].person_id
            continue
        if len(same) > 1:
            unlinked.append(Unlinked(*number, AMBIGUOUS))
            continue
        near = [
            (p.person_id, tuple(items))
            for p in by_birth.get(cert.birth_date, [])
            if len(items := differing_items(wanted, _items(p))) == 1
        ]
        if len(near) == 1:
            unlinked.append(Unlinked(*number, ONE_ITEM_DIFFERS, near[0][1], near[0][0]))
        else:
            unlinked.append(Unlinked(*number, NO_PERSON))
    return linked, unlinked


def link_to_register(
    engine: sa.Engine,
    certifications: Sequence[Certification],
    claim_numbers: Iterable[tuple[str, str]] = (),
) -> CareLinkReport:
    """Links the certifications to the register and counts the claims (one (保険者番号,
    被保険者番号) per claim in ``claim_numbers``) that follow them."""
    linked, unlinked = link_certifications(engine, certifications)
    certified = {(c.insurer_number, c.insured_number) for c in certifications}
    claims_linked = 0
    claims_unlinked: Counter[str] = Counter()
    for number in claim_numbers:
        if number in linked:
            claims_linked += 1
        elif number in certified:
            claims_unlinked[UNLINKED_CERTIFICATION] += 1
        else:
            claims_unlinked[NO_CERTIFICATION] += 1
    numbers: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for number, person in linked.items():
        numbers[person].append(number)
    several = {p: tuple(sorted(n)) for p, n in numbers.items() if len(n) > 1}
    return CareLinkReport(
        persons=linked,
        unlinked=tuple(unlinked),
        claims_linked=claims_linked,
        claims_unlinked=dict(claims_unlinked),
        several_numbers=several,
    )
