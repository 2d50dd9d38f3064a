"""What 介護 data tells the 一体的実施 lists about a person: the 要介護状態区分 on a day, whether
a 要支援・要介護認定 was in force in a period, and whether 介護 services were used in it.

:class:`CareStatus` fills in the ``CareRecords`` interface ``kokuho.checkups`` declares,
structurally: care may not import checkups. Persons are named by the checkups' person key
(``保険者番号:記号:番号:枝番`` of a 医療 insured number): the 介護保険 被保険者番号 is not the
医療 number, so a 介護 number reaches a person key only through its link to the register
(docs/care.md §4) and that person's 医療 coverages. A 介護 number that is not linked says
nothing about anyone.

When no certification and no claim was loaded at all, every answer is None (not connected),
never "no care": a municipality that has not loaded its 介護 data must not see everyone as
uncertified.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from kokuho.care._certs import Certification
from kokuho.care._link import link_certifications
from kokuho.care._model import CARE_LEVELS, CERTIFICATION_LEVELS
from kokuho.registry import tables
from kokuho.store import chunks

Number = tuple[str, str]  # (介護保険 保険者番号, 被保険者番号)


class CareStatus:
    """要介護認定 and 介護 service months by person key.

    ``certifications`` and ``service_months`` (one (保険者番号, 被保険者番号, サービス提供年月)
    per claim; the month as its 1st) are the loaded 介護 records; ``persons`` maps each linked
    介護 number to the person keys of its person's 医療 numbers."""

    def __init__(
        self,
        certifications: Iterable[Certification],
        service_months: Iterable[tuple[str, str, dt.date]],
        persons: Mapping[Number, Collection[str]],
    ) -> None:
        self._certs: dict[str, list[Certification]] = defaultdict(list)
        self._months: dict[str, set[dt.date]] = defaultdict(set)
        self._connected = False
        for cert in certifications:
            self._connected = True
            for key in persons.get((cert.insurer_number, cert.insured_number), ()):
                self._certs[key].append(cert)
        for insurer, insured, month in service_months:
            self._connected = True
            for key in persons.get((insurer, insured), ()):
                self._months[key].add(month.replace(day=1))

    def care_level(self, person_key: str, on: dt.date) -> str | None:
        """The 区分 in force on ``on`` by name (``"要支援1"`` … ``"要介護5"``, ``"非該当"``),
        ``""`` when none, None when no 介護 data is loaded. Of two in force (a change of 区分
        within a period, or two numbers), the one that started last."""
        if not self._connected:
            return None
        current = [c for c in self._certs.get(person_key, ()) if c.valid_from <= on <= c.valid_to]
        if not current:
            return ""
        latest = max(current, key=lambda c: (c.valid_from, c.certified_on))
        return CERTIFICATION_LEVELS[latest.care_level]

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        """Whether a 要支援・要介護認定 (not 非該当) was in force on any day from ``first`` to
        ``last`` (inclusive); None when no 介護 data is loaded."""
        if not self._connected:
            return None
        return any(
            c.care_level in CARE_LEVELS and c.valid_from <= last and c.valid_to >= first
            for c in self._certs.get(person_key, ())
        )

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        """Whether a 介護給付費 claim has a サービス提供年月 from ``first``'s month to ``last``'s
        month; None when no 介護 data is loaded."""
        if not self._connected:
            return None
        start, end = first.replace(day=1), last.replace(day=1)
        return any(start <= month <= end for month in self._months.get(person_key, ()))


def care_status(
    engine: sa.Engine, lake: Any, key_of: Callable[[str, str, str, str | None], str]
) -> CareStatus:
    """The :class:`CareStatus` of the care lake ``lake`` (a ``CareLake``): its certifications
    and claim months, each linked 介護 number keyed by ``key_of`` (保険者番号, 記号, 番号, 枝番)
    of every 医療 coverage its person holds in the register (the caller's key format)."""
    certifications = lake.certifications()
    claims = lake.table("care_claims").select("insurer", "insured", "service_month").distinct()
    months = [
        (row["insurer"], row["insured"], dt.date.fromisoformat(row["service_month"] + "-01"))
        for row in claims.to_pyarrow().to_pylist()
    ]
    linked, _ = link_certifications(engine, certifications)
    c = tables.coverages.c
    keys: dict[int, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        for part in chunks(sorted(set(linked.values())), 500):
            query = sa.select(c.person_id, c.insurer_number, c.symbol, c.number, c.branch)
            for row in connection.execute(query.where(c.person_id.in_(part))):
                keys[row.person_id].add(key_of(row.insurer_number, row.symbol, row.number,
                                               row.branch))  # fmt: skip
    persons = {number: keys.get(person, set()) for number, person in linked.items()}
    return CareStatus(certifications, months, persons)
