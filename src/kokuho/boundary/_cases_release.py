"""Releasing a reservation a killed run left behind (予約の解除), before its lease ends.

A run killed between reserving a case (or a 報告徴収 request) and recording its step holds it
for :data:`~kokuho.boundary._cases_reserve.LEASE`. A clerk who knows that run is dead (the
terminal closed, the process gone) releases it here instead of waiting. Releasing a run that is
in fact still alive is safe: the reservation is a fence, so that run stops at its next write
with ``LeaseLost`` and writes nothing more, as after a takeover. The release is audited, with
whose reservation it was and the reason given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.boundary._cases import read_cases
from kokuho.boundary._cases_model import CaseAudit, CaseError, UnknownCase, check_text
from kokuho.boundary._cases_record import CASES_LOCK, check_actor
from kokuho.boundary._cases_reserve import LEASE
from kokuho.boundary._cases_tables import boundary_cases, boundary_reports
from kokuho.boundary._reports import REPORTS_LOCK, read_reports
from kokuho.store import stored_utc, write_transaction


@dataclass(frozen=True, slots=True)
class Released:
    """The reservation released: the row as messages name it (``case 12``), the step or
    answer it was held for, who held it and since when (UTC)."""

    name: str
    step: str
    held_by: str
    since: dt.datetime

    @property
    def lease_ends(self) -> dt.datetime:
        """When the reservation would have ended by itself."""
        return self.since + LEASE


def release_case(
    engine: sa.Engine, case_id: int, *, actor: str, reason: str, audit: CaseAudit
) -> Released:
    """Releases the reservation of double-payment case ``case_id``; CaseError when it holds
    none (nothing changed), UnknownCase when there is no such case."""
    _check(actor, reason)
    found = read_cases(engine, None, [case_id])
    if not found:
        raise UnknownCase(f"no double-payment case {case_id}")
    return _release(engine, boundary_cases, "case_id", case_id, CASES_LOCK, f"case {case_id}",
                    found[0].person_id, actor, reason, audit)  # fmt: skip


def release_request(
    engine: sa.Engine, report_id: int, *, actor: str, reason: str, audit: CaseAudit
) -> Released:
    """Releases the reservation of 報告徴収 request ``report_id`` (an answer under way);
    CaseError when it holds none or there is no such request."""
    _check(actor, reason)
    found = read_reports(engine, None, report_id)
    if not found:
        raise CaseError(f"no 報告徴収 request {report_id}")
    return _release(engine, boundary_reports, "report_id", report_id, REPORTS_LOCK,
                    f"request {report_id}", found[0].person_id, actor, reason, audit)  # fmt: skip


def _check(actor: str, reason: str) -> None:
    check_actor(actor)
    check_text("reason", reason)
    if not reason.strip():
        raise CaseError("releasing a reservation needs a reason (e.g. the run was killed)")


def _release(
    engine: sa.Engine,
    table: sa.Table,
    key: str,
    row_id: int,
    lock: str,
    name: str,
    person_id: int,
    actor: str,
    reason: str,
    audit: CaseAudit,
) -> Released:
    column = table.c[key]
    busy = (table.c.busy_step, table.c.busy_by, table.c.busy_since, table.c.busy_token)
    with engine.connect() as connection:
        held = connection.execute(sa.select(*busy).where(column == row_id)).one()
    if held.busy_token is None:
        raise CaseError(f"{name} is not reserved by any run: nothing to release")
    released = Released(name, held.busy_step, held.busy_by, stored_utc(held.busy_since))
    # The record is of the request, with the reservation seen, and comes first as every
    # audited step's does (the audit log may live in this database: it cannot be written
    # under its write lock). A reservation that changed meanwhile is then left as it is.
    audit("boundary_release", actor, [person_id], {
        key: row_id, "step": released.step, "held_by": released.held_by,
        "since": released.since.isoformat(), "reason": reason.strip(),
    })  # fmt: skip
    with write_transaction(engine, lock) as connection:
        # Only the reservation read above: one taken meanwhile (the dead run's lease ended and
        # another run took the row) is someone else's, alive.
        cleared = connection.execute(
            sa.update(table)
            .where(column == row_id, table.c.busy_token == held.busy_token)
            .values(busy_step=None, busy_by=None, busy_since=None, busy_token=None)
        ).rowcount
    if cleared != 1:
        raise CaseError(f"{name} changed meanwhile (released or taken over): nothing released")
    return released
