"""The five-item check of My Number linkage (docs/formats.md §4): a request links only when
the resident holding the number and the member agree on 漢字氏名, カナ氏名, 生年月日, 性別 and
住所 after normalisation; anything else goes to review with what differs. The reading of the
files and the runs over them are in ``_linkage``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry._merge import merge_persons
from kokuho.registry._normalize import differing_items
from kokuho.registry._tables import (
    coverages,
    mynumber_requests,
    person_mynumbers,
    persons,
    residents,
)
from kokuho.store import chunks, key_table

#: Reason codes a finding may carry instead of an item difference.
NO_RESIDENT: Final = "no_resident"
NO_MEMBER: Final = "no_member"
NUMBER_LINKED_TO_OTHER_PERSON: Final = "number_linked_to_other_person"
PERSON_HAS_OTHER_NUMBER: Final = "person_has_other_number"
AUTOMATIC: Final = "kokuho: 5 items match"

_r = mynumber_requests.c


@dataclass(frozen=True, slots=True)
class Difference:
    """One basic item that differs, with the member's value as the insurer reported it.

    The resident register's value is never kept or shown: when the number belongs to someone
    else it is another person's data, and J-LIS itself answers only match or mismatch
    (本人確認判定フラグ). ``resident`` stays None.
    """

    item: str
    register: str | int
    resident: None = None


def differences(member: Mapping[Any, Any], resident: Mapping[Any, Any]) -> list[Difference]:
    """The basic items on which a member and a resident differ after normalisation."""
    found: list[Difference] = []
    for item in differing_items(member, resident):
        ours = member[item]
        found.append(Difference(item, ours.isoformat() if isinstance(ours, dt.date) else ours))
    return found


#: Values per look-up of the register.
CHUNK = 500


def members_of(
    connection: sa.Connection, tuples: Iterable[InsuredId]
) -> dict[InsuredId, list[int]]:
    """Insured number → the persons its coverages name (one, unless the register is wrong)."""
    c = coverages.c
    found: dict[InsuredId, list[int]] = {}
    keys = [(t.insurer, t.symbol, t.number, t.branch) for t in set(tuples)]
    columns = {"insurer_number": sa.String(8), "symbol": sa.String(20),
               "number": sa.String(20), "branch": sa.String(2)}  # fmt: skip
    with key_table(connection, dict(columns), keys) as wanted:
        rows = connection.execute(
            sa.select(c.person_id, c.insurer_number, c.symbol, c.number, c.branch)
            .distinct()
            .join(wanted, sa.and_(*(c[name] == wanted.c[name] for name in columns)))
        ).all()
    for row in rows:
        insured = InsuredId(row.insurer_number, row.symbol, row.number, row.branch)
        found.setdefault(insured, []).append(row.person_id)
    return found


@dataclass(slots=True)
class LinkRequest:
    """A request as this run sees it; ``request_id`` is None until it is inserted."""

    insured: InsuredId
    digest: str
    status: str
    request_id: int | None = None
    source: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    decided_by: str = AUTOMATIC


class FiveItemChecks:
    """The part of the register a batch of five-item checks needs, read in a few chunked
    queries and kept current as the batch links, so that later rows see earlier links."""

    def __init__(
        self,
        connection: sa.Connection,
        members: dict[InsuredId, list[int]],
        requests: list[LinkRequest],
    ) -> None:
        self.connection = connection
        self.members = members
        people = sorted({p for r in requests for p in members.get(r.insured, [])})
        digests = sorted({r.digest for r in requests})
        self.persons = self._load(persons, persons.c.person_id, people, "person_id")
        self.residents = self._load(residents, residents.c.mynumber_hmac, digests, "mynumber_hmac")
        links = person_mynumbers.c
        self.holder: dict[str, int] = {}
        self.number: dict[int, str] = {}
        self.resident_of: dict[int, str] = {}
        for column, values in ((links.mynumber_hmac, digests), (links.person_id, people)):
            for chunk in chunks(values, CHUNK):
                query = sa.select(links.person_id, links.mynumber_hmac, links.resident_id).where(
                    column.in_(chunk)
                )
                for row in connection.execute(query):
                    self.holder[row.mynumber_hmac] = row.person_id
                    self.number[row.person_id] = row.mynumber_hmac
                    self.resident_of[row.person_id] = row.resident_id
        self.new_links: list[tuple[LinkRequest, int, str]] = []
        #: (request, absorbed person, surviving link holder)
        self.merges: list[tuple[LinkRequest, int, int]] = []

    def _load(
        self, table: sa.Table, column: sa.Column[Any], values: list[Any], key: str
    ) -> dict[Any, Mapping[str, Any]]:
        found: dict[Any, Mapping[str, Any]] = {}
        for chunk in chunks(values, CHUNK):
            for row in self.connection.execute(sa.select(table).where(column.in_(chunk))):
                found[row._mapping[key]] = dict(row._mapping)
        return found

    def check(self, request: LinkRequest) -> bool:
        """The five-item check of one request; True when it is (now) a usable link."""
        people = sorted(set(self.members.get(request.insured, [])))
        person_id = people[0] if len(people) == 1 else None
        digest = request.digest
        findings: list[dict[str, Any]] = []
        resident = self.residents.get(digest)
        if person_id is None:
            findings.append({"reason": NO_MEMBER})
        elif resident is None:
            findings.append({"reason": NO_RESIDENT})
        if person_id is not None:
            if self.holder.get(digest, person_id) != person_id:
                findings.append({"reason": NUMBER_LINKED_TO_OTHER_PERSON})
            if self.number.get(person_id, digest) != digest:
                findings.append({"reason": PERSON_HAS_OTHER_NUMBER})
            if resident is not None:
                findings += [
                    {"item": d.item, "register": d.register, "resident": d.resident}
                    for d in differences(self.persons[person_id], resident)
                ]
        if person_id is not None and self._one_human(findings, person_id, resident):
            assert resident is not None
            findings = []
            holder = self.holder[digest]
            self._merge(request, person_id, holder)
            person_id = holder
        request.findings = findings
        request.status = "review" if findings else "linked"
        request.changed = True
        if findings or person_id is None or resident is None:  # the last two imply findings
            return False
        if self.number.get(person_id) != digest:
            self.holder[digest] = person_id
            self.number[person_id] = digest
            self.new_links.append((request, person_id, resident["resident_id"]))
            self.resident_of[person_id] = resident["resident_id"]
        return True

    def _one_human(
        self, findings: list[dict[str, Any]], person_id: int, resident: Mapping[str, Any] | None
    ) -> bool:
        """Whether this member and the person already linked to the number are one human:
        the member's five items match the resident now (no other finding), and the holder's
        link was verified against the same resident. Never on less than that."""
        if resident is None or findings != [{"reason": NUMBER_LINKED_TO_OTHER_PERSON}]:
            return False
        holder = self.holder[resident["mynumber_hmac"]]
        return holder != person_id and self.resident_of.get(holder) == resident["resident_id"]

    def _merge(self, request: LinkRequest, absorbed: int, holder: int) -> None:
        """Later rows of the batch see one person: the holder, with the verified items."""
        self.merges.append((request, absorbed, holder))
        request.decided_by = f"kokuho: 5 items match; person {absorbed} merged into {holder}"
        for people in self.members.values():
            if absorbed in people:
                people[:] = sorted({holder if p == absorbed else p for p in people})
        self.persons[holder] = {**self.persons[absorbed], "person_id": holder}

    def write(self, requests: list[LinkRequest], now: dt.datetime) -> None:
        """Stores what the checks decided: new requests, changed ones, and the new links."""
        fresh = [r for r in requests if r.request_id is None]
        changed = [r for r in requests if r.changed and r.request_id is not None]
        if fresh:
            inserted = self.connection.execute(
                mynumber_requests.insert().returning(_r.request_id, sort_by_parameter_order=True),
                [
                    _values(r, now)
                    | {
                        "insurer_number": r.insured.insurer,
                        "symbol": r.insured.symbol,
                        "number": r.insured.number,
                        "branch": r.insured.branch,
                        "mynumber_hmac": r.digest,
                        "source": r.source,
                        "submitted_at": now,
                    }
                    for r in fresh
                ],
            ).scalars()
            for request, request_id in zip(fresh, inserted, strict=True):
                request.request_id = request_id
        if changed:
            names = ("status", "findings", "decided_at", "decided_by")
            self.connection.execute(
                mynumber_requests.update()
                .where(_r.request_id == sa.bindparam("b_id"))
                .values({name: sa.bindparam(f"b_{name}") for name in names}),
                [
                    {"b_id": r.request_id} | {f"b_{k}": v for k, v in _values(r, now).items()}
                    for r in changed
                ],
            )
        if self.new_links:
            self.connection.execute(
                person_mynumbers.insert(),
                [
                    {
                        "person_id": person_id,
                        "mynumber_hmac": request.digest,
                        "resident_id": resident_id,
                        "verified_at": now,
                        "request_id": request.request_id,
                    }
                    for request, person_id, resident_id in self.new_links
                ],
            )
        for request, absorbed, holder in self.merges:
            assert request.request_id is not None
            merge_persons(self.connection, absorbed, holder, request_id=request.request_id, now=now)


def _values(request: LinkRequest, now: dt.datetime) -> dict[str, Any]:
    linked = request.status == "linked"
    return {
        "status": request.status,
        "findings": json.dumps(request.findings, ensure_ascii=False),
        "decided_at": now if linked else None,
        "decided_by": request.decided_by[:100] if linked else None,
    }
