"""My Number linkage (個人番号の紐付け, docs/formats.md §4).

A submission pairs a member (保険者番号・記号・番号・枝番) with a 個人番号. It becomes a usable
link only when the resident holding that number and the member agree on all five basic items
(漢字氏名, カナ氏名, 生年月日, 性別, 住所) after normalisation. Anything else waits in the review
queue with what differs. There is deliberately no way to link on fewer items: the 2023
mis-linking (9,240 wrong links) came from look-ups on three. The check itself is in
``_link_checks``; here the submissions file is read and the runs over it are made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

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
from kokuho.registry._link_checks import CHUNK, FiveItemChecks, LinkRequest, members_of
from kokuho.registry._tables import mynumber_requests
from kokuho.store import chunks

COLUMNS: Final = frozenset({"insurer_number", "symbol", "number", "branch", "mynumber"})
_BATCH = 5000

_r = mynumber_requests.c


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
) -> tuple[list[LinkRequest], dict[InsuredId, list[int]]]:
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
    members = members_of(connection, (insured for _, insured, _ in parsed))
    parsed = [row for row in parsed if not _misplaced_number(name, row, members, report)]
    # An insured number the register does not hold is a review row (no_member), not a file
    # error: the insurer's own enrolment may not have reached the change feed yet, and a
    # re-check links it once it has.
    good = [
        LinkRequest(insured, digest, "new", source=f"{path.name}:{line}"[-300:])
        for line, insured, digest in parsed
    ]
    report.errors.sort(key=lambda error: error.line)
    return good, members


def _stored_requests(
    connection: sa.Connection, digests: list[str]
) -> dict[tuple[InsuredId, str], LinkRequest]:
    found: dict[tuple[InsuredId, str], LinkRequest] = {}
    query = sa.select(
        _r.request_id,
        _r.insurer_number,
        _r.symbol,
        _r.number,
        _r.branch,
        _r.mynumber_hmac,
        _r.status,
    )
    for chunk in chunks(sorted(set(digests)), CHUNK):
        for row in connection.execute(query.where(_r.mynumber_hmac.in_(chunk))):
            insured = InsuredId(row.insurer_number, row.symbol, row.number, row.branch)
            found[insured, row.mynumber_hmac] = LinkRequest(
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
            checks = FiveItemChecks(connection, members, list(batch))
            touched: list[LinkRequest] = []
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
            LinkRequest(
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
            checks = FiveItemChecks(
                connection, members_of(connection, (r.insured for r in batch)), list(batch)
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
