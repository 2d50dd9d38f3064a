"""My Number linkage (個人番号の紐付け, docs/formats.md §4).

A submission pairs a member (保険者番号・記号・番号・枝番) with a 個人番号. It becomes a usable
link only when the resident holding that number and the member agree on all five basic items
(漢字氏名, カナ氏名, 生年月日, 性別, 住所) after normalisation. Anything else waits in the review
queue with what differs. There is deliberately no way to link on fewer items: the 2023
mis-linking (9,240 wrong links) came from look-ups on three.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from kokuho.ids import (
    InsuredId,
    InsurerNumber,
    InvalidIdentifier,
    MyNumber,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.registry._csv import read_rows
from kokuho.registry._errors import FileRejected, RowError, scrub
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

COLUMNS: Final = frozenset({"insurer_number", "symbol", "number", "branch", "mynumber"})
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


@dataclass
class LinkReport:
    file: str
    rows: int = 0
    linked: int = 0
    review: int = 0
    already_linked: int = 0
    previously_rejected: int = 0
    #: Person records absorbed into the holder of the same verified My Number.
    merged: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class RecheckReport:
    checked: int = 0
    linked: int = 0
    review: int = 0
    merged: int = 0


def differences(member: Mapping[Any, Any], resident: Mapping[Any, Any]) -> list[Difference]:
    """The basic items on which a member and a resident differ after normalisation."""
    found: list[Difference] = []
    for item in differing_items(member, resident):
        ours = member[item]
        found.append(Difference(item, ours.isoformat() if isinstance(ours, dt.date) else ours))
    return found


_CHUNK = 500
_BATCH = 5000


def _members(connection: sa.Connection, tuples: Iterable[InsuredId]) -> dict[InsuredId, list[int]]:
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
class _Request:
    """A request as this run sees it; ``request_id`` is None until it is inserted."""

    insured: InsuredId
    digest: str
    status: str
    request_id: int | None = None
    source: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    decided_by: str = AUTOMATIC


class _Checks:
    """The part of the register a batch of five-item checks needs, read in a few chunked
    queries and kept current as the batch links, so that later rows see earlier links."""

    def __init__(
        self,
        connection: sa.Connection,
        members: dict[InsuredId, list[int]],
        requests: list[_Request],
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
            for chunk in chunks(values, _CHUNK):
                query = sa.select(links.person_id, links.mynumber_hmac, links.resident_id).where(
                    column.in_(chunk)
                )
                for row in connection.execute(query):
                    self.holder[row.mynumber_hmac] = row.person_id
                    self.number[row.person_id] = row.mynumber_hmac
                    self.resident_of[row.person_id] = row.resident_id
        self.new_links: list[tuple[_Request, int, str]] = []
        #: (request, absorbed person, surviving link holder)
        self.merges: list[tuple[_Request, int, int]] = []

    def _load(
        self, table: sa.Table, column: sa.Column[Any], values: list[Any], key: str
    ) -> dict[Any, Mapping[str, Any]]:
        found: dict[Any, Mapping[str, Any]] = {}
        for chunk in chunks(values, _CHUNK):
            for row in self.connection.execute(sa.select(table).where(column.in_(chunk))):
                found[row._mapping[key]] = dict(row._mapping)
        return found

    def check(self, request: _Request) -> bool:
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

    def _merge(self, request: _Request, absorbed: int, holder: int) -> None:
        """Later rows of the batch see one person: the holder, with the verified items."""
        self.merges.append((request, absorbed, holder))
        request.decided_by = f"kokuho: 5 items match; person {absorbed} merged into {holder}"
        for people in self.members.values():
            if absorbed in people:
                people[:] = sorted({holder if p == absorbed else p for p in people})
        self.persons[holder] = {**self.persons[absorbed], "person_id": holder}

    def write(self, requests: list[_Request], now: dt.datetime) -> None:
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


def _values(request: _Request, now: dt.datetime) -> dict[str, Any]:
    linked = request.status == "linked"
    return {
        "status": request.status,
        "findings": json.dumps(request.findings, ensure_ascii=False),
        "decided_at": now if linked else None,
        "decided_by": request.decided_by[:100] if linked else None,
    }


def _parse(row: dict[str, str]) -> tuple[InsuredId, MyNumber]:
    parsers = (
        ("insurer_number", lambda raw: InsurerNumber.parse(raw).value),
        ("symbol", parse_symbol),
        ("number", parse_number),
        ("branch", parse_branch),
    )
    values: list[str] = []
    for column, parse in parsers:
        try:
            values.append(parse(row[column]))
        except InvalidIdentifier as error:
            raise _RowProblem(column, str(error)) from None
    try:
        mynumber = MyNumber.parse(row["mynumber"])
    except InvalidIdentifier as error:
        raise _RowProblem("mynumber", str(error)) from None
    return InsuredId(*values), mynumber


def _reads_as_mynumber(value: str) -> bool:
    if not (len(value) == 12 and value.isascii() and value.isdigit()):
        return False
    try:
        MyNumber.parse(value)
    except InvalidIdentifier:
        return False
    return True


def _misplaced_number(
    name: str,
    row: tuple[int, InsuredId, str],
    members: dict[InsuredId, list[int]],
    report: LinkReport,
) -> bool:
    """Whether the row's 記号 or 番号 reads as a My Number (12 digits, a valid 検査用数字) and
    names no member: a column out of place. Such a row would go to review as no_member with
    the number in clear in ``mynumber_requests`` and on the review listing; it is a row error
    (masked) instead. A member of the register whose number reads so keeps it."""
    line, insured, _ = row
    if insured in members:
        return False
    for column in ("symbol", "number"):
        if _reads_as_mynumber(getattr(insured, column)):
            reason = (
                f"{getattr(insured, column)} reads as a My Number and names no member "
                "(a column out of place?); the row is not kept"
            )
            report.errors.append(RowError(name, line, column, scrub(reason)))
            return True
    return False


class _RowProblem(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        super().__init__(reason)


def _submissions(
    connection: sa.Connection, path: Path, key: bytes, report: LinkReport
) -> tuple[list[_Request], dict[InsuredId, list[int]]]:
    """The file's good rows as requests, and the members they name; errors go to ``report``."""
    name = str(path)
    parsed: list[tuple[int, InsuredId, str]] = []
    for line, row in read_rows(path, required=COLUMNS, allowed=COLUMNS):
        report.rows += 1
        if "__width__" in row:
            report.errors.append(RowError(name, line, "", row["__width__"]))
            continue
        try:
            insured, mynumber = _parse(row)
        except _RowProblem as problem:
            report.errors.append(RowError(name, line, problem.column, scrub(str(problem))))
            continue
        parsed.append((line, insured, mynumber.keyed_hash(key)))
    members = _members(connection, (insured for _, insured, _ in parsed))
    parsed = [row for row in parsed if not _misplaced_number(name, row, members, report)]
    # An insured number the register does not hold is a review row (no_member), not a file
    # error: the insurer's own enrolment may not have reached the change feed yet, and a
    # re-check links it once it has.
    good = [
        _Request(insured, digest, "new", source=f"{path.name}:{line}"[-300:])
        for line, insured, digest in parsed
    ]
    report.errors.sort(key=lambda error: error.line)
    return good, members


def _stored_requests(
    connection: sa.Connection, digests: list[str]
) -> dict[tuple[InsuredId, str], _Request]:
    found: dict[tuple[InsuredId, str], _Request] = {}
    query = sa.select(
        _r.request_id,
        _r.insurer_number,
        _r.symbol,
        _r.number,
        _r.branch,
        _r.mynumber_hmac,
        _r.status,
    )
    for chunk in chunks(sorted(set(digests)), _CHUNK):
        for row in connection.execute(query.where(_r.mynumber_hmac.in_(chunk))):
            insured = InsuredId(row.insurer_number, row.symbol, row.number, row.branch)
            found[insured, row.mynumber_hmac] = _Request(
                insured, row.mynumber_hmac, row.status, request_id=row.request_id
            )
    return found


def link_submissions(
    engine: sa.Engine, path: Path, key: bytes, *, load_good_rows: bool = False
) -> LinkReport:
    """Checks each submission of ``mynumber_submissions.csv`` and links those whose five items
    match; the rest, an insured number not in the register among them, go to review. One
    transaction: a row error (a bad 個人番号 or insured number) rejects the file unless
    ``load_good_rows``. Resubmitting a pair adds no request: one in
    review is checked again, a linked or rejected one is left as it is."""
    report = LinkReport(file=str(path))
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        submissions, members = _submissions(connection, path, key, report)
        if report.errors and not load_good_rows:
            raise FileRejected(report.errors)
        # Batches bound the memory; rows apply in file order, each seeing the links before it.
        for batch in chunks(submissions, _BATCH):
            known = _stored_requests(connection, [s.digest for s in batch])
            checks = _Checks(connection, members, list(batch))
            touched: list[_Request] = []
            for submission in batch:
                request = known.setdefault((submission.insured, submission.digest), submission)
                if request.status == "linked":
                    report.already_linked += 1
                    continue
                if request.status == "rejected":
                    report.previously_rejected += 1
                    continue
                if checks.check(request):
                    report.linked += 1
                else:
                    report.review += 1
                touched.append(request)
            checks.write(list({id(r): r for r in touched}.values()), now)
            report.merged += len(checks.merges)
    return report


def recheck(engine: sa.Engine, request_id: int | None = None) -> RecheckReport:
    """Runs the five-item check again for one request in review, or all of them, and links
    those that now match (the insurer may have corrected the member through the change feed,
    or the resident register may have been reloaded)."""
    report = RecheckReport()
    now = dt.datetime.now(dt.UTC)
    query = (
        sa.select(
            _r.request_id, _r.insurer_number, _r.symbol, _r.number, _r.branch, _r.mynumber_hmac
        )
        .where(_r.status == "review")
        .order_by(_r.request_id)
    )
    if request_id is not None:
        query = query.where(_r.request_id == request_id)
    with engine.begin() as connection:
        pending = [
            _Request(
                InsuredId(row.insurer_number, row.symbol, row.number, row.branch),
                row.mynumber_hmac,
                "review",
                request_id=row.request_id,
            )
            for row in connection.execute(query)
        ]
        if request_id is not None and not pending:
            raise ValueError(f"request {request_id} is not in review")
        for batch in chunks(pending, _BATCH):
            checks = _Checks(
                connection, _members(connection, (r.insured for r in batch)), list(batch)
            )
            for request in batch:
                report.checked += 1
                if checks.check(request):
                    report.linked += 1
                else:
                    report.review += 1
            checks.write(list(batch), now)
            report.merged += len(checks.merges)
    return report


def reject(engine: sa.Engine, request_id: int, by: str) -> None:
    """Closes a request in review without linking (staff decision, 確認の上で却下)."""
    who = by.strip()
    if not who:
        raise ValueError("say who rejects the request")
    with engine.begin() as connection:
        status = connection.execute(
            sa.select(_r.status).where(_r.request_id == request_id)
        ).scalar_one_or_none()
        if status is None:
            raise ValueError(f"request {request_id} does not exist")
        if status != "review":
            raise ValueError(f"request {request_id} is {status}; only requests in review")
        connection.execute(
            mynumber_requests.update()
            .where(_r.request_id == request_id)
            .values(status="rejected", decided_at=dt.datetime.now(dt.UTC), decided_by=who[:100])
        )
