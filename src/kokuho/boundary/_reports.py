"""報告徴収 (国民健康保険法第113条): members whose 国保 is still open while the register shows
them covered by employee insurance, as 被保険者 (本人) or as a 被扶養者 (家族) — people who
joined it without telling the municipality. Per candidate a request for a report (to whom,
when), its answer and result; a confirmed answer opens a double-payment case whose ① loss
is recorded at once, so the retroactive loss flows into the case workflow and the premiums.
Requests and answers are append-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.boundary._cases import insert_case, kokuho_insurers
from kokuho.boundary._cases_loss import loss_within
from kokuho.boundary._cases_model import (
    EMPLOYEE_KINDS,
    CaseAudit,
    CaseError,
    UnknownCase,
    check_text,
)
from kokuho.boundary._cases_reserve import Reservation, Target, fence, finish, reserved
from kokuho.boundary._cases_tables import (
    boundary_cases,
    boundary_report_answers,
    boundary_reports,
)
from kokuho.registry import Coverage, find_overlaps
from kokuho.store import write_transaction

#: The write lock under which a request is reserved, asked for and answered.
REPORTS_LOCK = "boundary_reports"


@dataclass(frozen=True, slots=True)
class ReportCandidate:
    """A 国保 member the register also shows under an employee insurer on the day asked."""

    person_id: int
    kokuho_coverage_id: int
    other_coverage_id: int
    other_insurer: str
    other_insurer_name: str
    as_dependant: bool
    """被扶養者 (家族) rather than 被保険者 (本人) of the employee insurer."""
    other_acquired_on: dt.date
    report_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "kokuho_coverage_id": self.kokuho_coverage_id,
            "other_coverage_id": self.other_coverage_id,
            "other_insurer": self.other_insurer,
            "other_insurer_name": self.other_insurer_name,
            "as": "被扶養者" if self.as_dependant else "被保険者",
            "other_acquired_on": self.other_acquired_on.isoformat(),
            "report_id": self.report_id,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    answered_on: dt.date
    answer: str
    result: str
    acquired_on: dt.date | None
    case_id: int | None


@dataclass(frozen=True, slots=True)
class Report:
    """One request for a report and its answers (the latest is in force)."""

    report_id: int
    municipality: str
    person_id: int
    kokuho_coverage_id: int
    other_coverage_id: int
    addressee: str
    requested_on: dt.date
    recorded_by: str
    answers: tuple[Answer, ...]

    def as_json(self) -> dict[str, Any]:
        last = self.answers[-1] if self.answers else None
        return {
            "report_id": self.report_id,
            "person_id": self.person_id,
            "kokuho_coverage_id": self.kokuho_coverage_id,
            "other_coverage_id": self.other_coverage_id,
            "addressee": self.addressee,
            "requested_on": self.requested_on.isoformat(),
            "answered_on": last.answered_on.isoformat() if last else None,
            "answer": last.answer if last else None,
            "result": last.result if last else "pending",
            "case_id": last.case_id if last else None,
        }


def _pairs(
    engine: sa.Engine, municipality: str, on: dt.date
) -> list[tuple[int, Coverage, Coverage]]:
    with engine.connect() as connection:
        kokuho = set(kokuho_insurers(connection, municipality))
    found = []
    for insurer in sorted(kokuho):
        for overlap in find_overlaps(engine, insurer=insurer, on=on):
            for ours, theirs in ((overlap.first, overlap.second),
                                 (overlap.second, overlap.first)):  # fmt: skip
                if ours.insured.insurer in kokuho and theirs.insurer_kind in EMPLOYEE_KINDS:
                    found.append((overlap.person_id, ours, theirs))
    return found


def report_candidates(
    engine: sa.Engine, municipality: str, on: dt.date, *, actor: str, audit: CaseAudit
) -> list[ReportCandidate]:
    """The municipality's 報告徴収 list on ``on`` (audited: it names persons)."""
    requested = {
        (r.kokuho_coverage_id, r.other_coverage_id): r.report_id
        for r in read_reports(engine, municipality)
    }
    found = [
        ReportCandidate(
            person_id,
            ours.coverage_id,
            theirs.coverage_id,
            theirs.insured.insurer,
            theirs.insurer_name,
            theirs.relationship == 2,
            theirs.acquired_on,
            requested.get((ours.coverage_id, theirs.coverage_id)),
        )  # fmt: skip
        for person_id, ours, theirs in _pairs(engine, municipality, on)
    ]
    audit("boundary_reports", actor, [c.person_id for c in found], {"municipality": municipality})
    return found


def read_reports(
    engine: sa.Engine, municipality: str | None, report_id: int | None = None
) -> list[Report]:
    query = sa.select(boundary_reports).order_by(boundary_reports.c.report_id)
    if municipality is not None:
        query = query.where(boundary_reports.c.municipality == municipality)
    if report_id is not None:
        query = query.where(boundary_reports.c.report_id == report_id)
    a = boundary_report_answers.c
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        answers: dict[int, list[Answer]] = {}
        ids = [row.report_id for row in rows]
        if ids:
            for row in connection.execute(
                sa.select(boundary_report_answers).where(a.report_id.in_(ids)).order_by(a.answer_id)
            ):
                answers.setdefault(row.report_id, []).append(
                    Answer(row.answered_on, row.answer, row.result, row.acquired_on, row.case_id)
                )
    return [
        Report(
            row.report_id,
            row.municipality,
            row.person_id,
            row.kokuho_coverage_id,
            row.other_coverage_id,
            row.addressee,
            row.requested_on,
            row.recorded_by,
            tuple(answers.get(row.report_id, [])),
        )  # fmt: skip
        for row in rows
    ]


def list_reports(
    engine: sa.Engine, municipality: str, *, actor: str, audit: CaseAudit
) -> list[Report]:
    """Every request of the municipality with its answers (audited)."""
    found = read_reports(engine, municipality)
    audit("boundary_reports", actor, [r.person_id for r in found], {"municipality": municipality})
    return found


def request_report(
    engine: sa.Engine,
    municipality: str,
    kokuho_coverage_id: int,
    other_coverage_id: int,
    addressee: str,
    requested_on: dt.date,
    *,
    actor: str,
    audit: CaseAudit,
) -> Report:
    """Records a request for a report (to the employer, the insurer, the person) about one
    candidate of the list on ``requested_on``."""
    if not addressee.strip() or len(addressee) > 200:
        raise CaseError("the addressee of a 報告徴収 must be named (1–200 characters)")
    if not actor.strip():
        raise CaseError("the person recording a request must be named")
    check_text("addressee", addressee)
    check_text("recorded_by", actor)
    pair = next(
        (p for p in _pairs(engine, municipality, requested_on)
         if (p[1].coverage_id, p[2].coverage_id) == (kokuho_coverage_id, other_coverage_id)),
        None,
    )  # fmt: skip
    if pair is None:
        raise UnknownCase(
            f"{municipality}: coverage {kokuho_coverage_id} is not a 国保 coverage overlapping "
            f"employee coverage {other_coverage_id} on {requested_on}"
        )
    if any((r.kokuho_coverage_id, r.other_coverage_id) == (kokuho_coverage_id, other_coverage_id)
           for r in read_reports(engine, municipality)):  # fmt: skip
        raise CaseError(f"a report on coverage {kokuho_coverage_id} is already requested")
    # Asked again under the write lock: a request made at the same time broke the unique key
    # of the two coverages (internal error).
    with write_transaction(engine, REPORTS_LOCK) as connection:
        r = boundary_reports.c
        if connection.scalar(
            sa.select(r.report_id).where(
                r.kokuho_coverage_id == kokuho_coverage_id,
                r.other_coverage_id == other_coverage_id,
            )
        ):
            raise CaseError(f"a report on coverage {kokuho_coverage_id} is already requested")
        report_id = connection.execute(
            sa.insert(boundary_reports).returning(boundary_reports.c.report_id),
            {
                "municipality": municipality,
                "person_id": pair[0],
                "kokuho_coverage_id": kokuho_coverage_id,
                "other_coverage_id": other_coverage_id,
                "addressee": addressee.strip(),
                "requested_on": requested_on,
                "recorded_by": actor,
            },  # fmt: skip
        ).scalar_one()
    audit("boundary_report_request", actor, [pair[0]], {"report_id": report_id})
    return read_reports(engine, None, report_id)[0]


def answer_report(
    engine: sa.Engine,
    report_id: int,
    answered_on: dt.date,
    answer: str,
    *,
    confirmed: bool,
    feed_dir: Path,
    acquired_on: dt.date | None = None,
    actor: str,
    audit: CaseAudit,
) -> Report:
    """Records the answer. ``confirmed``: the employee coverage stands from ``acquired_on``
    (default: the register's 資格取得日); a double-payment case is opened (判明 on the
    answer's day) and its ① loss recorded. A request is answered once; a correction of the
    result is a case step (close), not an edit."""
    check_text("answer", answer)
    check_text("recorded_by", actor)
    found = read_reports(engine, None, report_id)
    if not found:
        raise UnknownCase(f"no 報告徴収 request {report_id}")
    report = found[0]
    if report.answers:
        raise CaseError(f"request {report_id} is already answered")
    if not answer.strip() or len(answer) > 500:
        raise CaseError(f"request {report_id}: the answer must be given (1–500 characters)")
    if answered_on < report.requested_on:
        raise CaseError(f"request {report_id}: answered before it was requested")
    pair = None
    if confirmed:
        pair = next(
            (p for p in _pairs(engine, report.municipality, report.requested_on)
             if p[1].coverage_id == report.kokuho_coverage_id
             and p[2].coverage_id == report.other_coverage_id),
            None,
        )  # fmt: skip
        if pair is None:
            raise CaseError(f"request {report_id}: the register no longer shows the overlap")
        if (acquired_on or pair[2].acquired_on) > answered_on:
            raise CaseError(
                f"request {report_id}: 資格取得日 {acquired_on or pair[2].acquired_on} is after "
                "the answer"
            )
    result = "confirmed" if confirmed else "denied"
    # Reserved before anything is done: a confirmed and a denied answer at the same moment
    # (or the same one twice) left the confirmed run's case and loss beside the denied answer.
    target = Target(
        boundary_reports, "report_id", report_id, REPORTS_LOCK,
        f"request {report_id} is already answered by a run under way ({{step}})", "answer",
        f"request {report_id}", _answered_by(report_id),
    )  # fmt: skip
    with reserved(engine, target, result, actor, _answered(report_id)) as reservation:
        audit("boundary_report_answer", actor, [report.person_id], {"report_id": report_id})
        case_id = None
        if pair is not None:
            case_id = _open_with_loss(engine, report, pair, answered_on, acquired_on, feed_dir,
                                      reservation, actor=actor, audit=audit)  # fmt: skip
        with write_transaction(engine, REPORTS_LOCK) as connection:
            finish(connection, reservation)
            connection.execute(
                sa.insert(boundary_report_answers),
                {
                    "report_id": report_id,
                    "answered_on": answered_on,
                    "answer": answer.strip(),
                    "result": result,
                    "acquired_on": acquired_on,
                    "case_id": case_id,
                    "recorded_at": dt.datetime.now(dt.UTC),
                    "recorded_by": actor,
                },  # fmt: skip
            )
    return read_reports(engine, None, report_id)[0]


def _answer_of(connection: sa.Connection, report_id: int) -> tuple[str, str] | None:
    """The request's recorded answer (its result and who recorded it), if any."""
    a = boundary_report_answers.c
    found = connection.execute(
        sa.select(a.result, a.recorded_by).where(a.report_id == report_id)
    ).first()
    return None if found is None else (found.result, found.recorded_by)


def _answered(report_id: int) -> Callable[[sa.Connection], str | None]:
    """Under the write lock: the answer recorded since the request was read, if any."""

    def check(connection: sa.Connection) -> str | None:
        found = _answer_of(connection, report_id)
        if found is None:
            return None
        return f"request {report_id} is already answered ({found[0]}, by {found[1]})"

    return check


def _answered_by(report_id: int) -> Callable[[sa.Connection], str | None]:
    """Who took the request over, once they have finished: the answer they recorded."""

    def who(connection: sa.Connection) -> str | None:
        found = _answer_of(connection, report_id)
        return None if found is None else f"{found[1]}, who recorded its answer ({found[0]})"

    return who


def _open_with_loss(
    engine: sa.Engine,
    report: Report,
    pair: tuple[int, Coverage, Coverage],
    answered_on: dt.date,
    acquired_on: dt.date | None,
    feed_dir: Path,
    reservation: Reservation,
    *,
    actor: str,
    audit: CaseAudit,
) -> int:
    """A confirmed answer's case (one the register's own overlap opened already is joined)
    with its ① loss recorded; the case's id. Every write checks that ``reservation`` (the
    request's) is still this run's."""
    _, ours, theirs = pair
    with engine.connect() as connection:
        case_id = connection.scalar(
            sa.select(boundary_cases.c.case_id).where(
                boundary_cases.c.kokuho_coverage_id == ours.coverage_id,
                boundary_cases.c.employee_coverage_id == theirs.coverage_id,
            )
        )
    if case_id is None:
        case_id, _ = insert_case(
            engine, report.municipality, report.person_id, ours, theirs, None, "report",
            answered_on, actor, answered_on, acquired_on or theirs.acquired_on,
            fence=fence(reservation),
        )  # fmt: skip
    loss_within(engine, case_id, answered_on, feed_dir, reservation, actor=actor, audit=audit)
    return int(case_id)
