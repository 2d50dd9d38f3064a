"""The eligibility service's bulk pre-check (一括照会): a list of number checks run in the
background, its results fetched later by the 受付番号.

A mixin of :class:`~kokuho.verify._service.EligibilityService`, which keeps the public API.

The job's row keeps how many checks were asked and, once run, their answers; never the
queries themselves: a 番号 typed by the clinic may be the patient's My Number, which must not
be kept in clear (the audit record of each check masks it; the row kept it whole until
2026-12). A job that stops half-way (the check failed, or its worker process died) is
reported ``failed`` so the clinic submits again, rather than ``processing`` for ever.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kokuho.store import stored_utc
from kokuho.verify._access import Principal
from kokuho.verify._audit import AuditRecord, AuditWriter
from kokuho.verify._json import answer_from_json, answer_to_json
from kokuho.verify._model import EligibilityAnswer, NumberQuery, Purpose
from kokuho.verify._tables import bulk_jobs

log = logging.getLogger(__name__)

MAX_BULK = 10_000
# A job still ``processing`` this long after its submission is reported ``failed``: its worker
# stopped (a restart, kill -9). A 10,000-check job takes under a minute; an hour leaves room
# for a queue of them behind one another in a busy worker.
BULK_STALE_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True)
class BulkStatus:
    reception_number: str
    status: str  # processing | complete | failed
    submitted: int
    answers: list[EligibilityAnswer] | None


def submitted_count(stored: str) -> int:
    """The number of checks a job's ``queries`` column records: a JSON count, or (rows written
    before migration 0014) the list of the queries."""
    value = json.loads(stored)
    return value if isinstance(value, int) else len(value)


class BulkChecks:
    """The bulk-check methods of the eligibility service."""

    engine: sa.Engine
    audit: AuditWriter
    _bulk: ThreadPoolExecutor
    _bulk_here: set[str]
    _bulk_lock: threading.Lock

    if TYPE_CHECKING:  # provided by EligibilityService

        def _institution(self, principal: Principal, purpose: str, action: str) -> str: ...

        def _number_answer(
            self, query: NumberQuery, institution: str
        ) -> tuple[EligibilityAnswer, int | None]: ...

        def _answered(
            self, principal: Principal, institution: str, purpose: str, action: str,
            answer: EligibilityAnswer, person_id: int | None, asked: dict[str, Any],
        ) -> Any: ...  # fmt: skip

    def submit_bulk(self, principal: Principal, queries: list[NumberQuery]) -> str:
        """Accepts a list of checks (e.g. tomorrow's appointments); returns the 受付番号."""
        institution = self._institution(principal, Purpose.PRECHECK, "bulk_submit")
        if not 1 <= len(queries) <= MAX_BULK:
            raise ValueError(f"a bulk check has 1–{MAX_BULK} queries, not {len(queries)}")
        reception = secrets.token_hex(8).upper()
        with self.engine.begin() as connection:
            connection.execute(
                bulk_jobs.insert().values(
                    reception_number=reception, institution_code=institution,
                    submitted_at=dt.datetime.now(dt.UTC), status="processing",
                    queries=json.dumps(len(queries)),
                )
            )  # fmt: skip
        with self._bulk_lock:
            self._bulk_here.add(reception)
        self._bulk.submit(self._run_bulk_job, principal, reception, queries)
        return reception

    def _run_bulk_job(
        self, principal: Principal, reception: str, queries: list[NumberQuery]
    ) -> None:
        try:
            self._run_bulk(principal, reception, queries)
        except Exception:  # the clinic must learn the job stopped: it submits again
            log.exception("bulk check %s failed", reception)
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        bulk_jobs.update()
                        .where(bulk_jobs.c.reception_number == reception)
                        .values(status="failed", completed_at=dt.datetime.now(dt.UTC))
                    )
            except Exception:  # the database is gone too: BULK_STALE_AFTER reports it
                log.exception("bulk check %s: could not record its failure", reception)
        finally:
            with self._bulk_lock:
                self._bulk_here.discard(reception)

    def _run_bulk(self, principal: Principal, reception: str, queries: list[NumberQuery]) -> None:
        institution = self._institution(principal, Purpose.PRECHECK, "check_number")
        results = []
        for query in queries:
            answer, person_id = self._number_answer(query, institution)
            # The 受付番号 in each check's record ties a later fetch of the results (its own
            # record, bulk_status) to the persons it shows.
            asked = {"insurer": query.insurer, "number": query.number, "reception": reception}
            self._answered(principal, institution, Purpose.PRECHECK, "check_number", answer,
                           person_id, asked)  # fmt: skip
            results.append(answer_to_json(answer))
        with self.engine.begin() as connection:
            connection.execute(
                bulk_jobs.update()
                .where(bulk_jobs.c.reception_number == reception)
                .values(status="complete", results=json.dumps(results, ensure_ascii=False),
                        completed_at=dt.datetime.now(dt.UTC))
            )  # fmt: skip

    def bulk_status(self, principal: Principal, reception: str) -> BulkStatus:
        institution = self._institution(principal, Purpose.PRECHECK, "bulk_fetch")
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(bulk_jobs).where(bulk_jobs.c.reception_number == reception)
            ).first()
        if row is None or row.institution_code != institution:
            raise LookupError(f"no bulk check {reception} for this institution")
        answers = [answer_from_json(a) for a in json.loads(row.results)] if row.results else None
        if answers is not None:
            # Each fetch shows the persons' data again: a read of its own (docs/api.md, Audit).
            self.audit.write(
                AuditRecord(
                    actor=principal.credential_id, institution_code=institution,
                    purpose=Purpose.PRECHECK, action="bulk_fetch", outcome="ok",
                    detail={"reception": reception, "results": len(answers)},
                )
            )  # fmt: skip
        status = row.status
        if status == "processing" and self._stale(reception, row.submitted_at):
            status = "failed"
        return BulkStatus(reception, status, submitted_count(row.queries), answers)

    def _stale(self, reception: str, submitted_at: dt.datetime) -> bool:
        with self._bulk_lock:
            if reception in self._bulk_here:  # running or queued in this process
                return False
        return dt.datetime.now(dt.UTC) - stored_utc(submitted_at) > BULK_STALE_AFTER
